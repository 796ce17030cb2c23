"""What ``spector import pages PATH…`` finds: saved pages, mirrors, WARC files.

A PATH is a file (a saved page, a WARC / WARC.gz) or a folder walked for both (a wget or
HTTrack mirror, a folder of WARCs, a dated archive such as ``2014-01-01/<host>/…``).
Given as a file, PATH must be a page or a WARC; inside a folder, files that are not
(style sheets, images, scripts) are counted and left alone, and media is never read
beyond its first bytes. HTTrack's own files (its project index, ``hts-cache/``, logs)
are not pages; wget's ``-K`` backups (``X.orig``) are the pages as served and replace
the link-converted ``X``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from spector.collect._sniff import gunzip_head, payload_kind
from spector.errors import InputError

__all__ = ["Scan", "Source", "find_sources", "httrack_urls", "sniff"]

_HEAD = 65536  # read to tell what a file is
_KEPT = 8192  # kept of a page: the comments mirror tools and browsers put at its top
_HTTRACK_OWN = frozenset(
    {"index.html", "backblue.gif", "fade.gif", "hts-log.txt", "cookies.txt", "hts-in_progress.lock"}
)
_HTTRACK_INDEX = b"<title>Local index - HTTrack Website Copier</title>"
_SKIP_DIRS = frozenset({"hts-cache", ".git", "__MACOSX"})


@dataclass(frozen=True, slots=True)
class Source:
    """One file to import. ``name`` is its path as the mirror meant it (``X`` for wget's
    backup ``X.orig``); ``argument`` the PATH it was found under; ``project`` the HTTrack
    project folder it is in, if any."""

    path: Path
    kind: str  # page, page.gz, warc
    argument: Path
    name: Path
    head: bytes
    project: Path | None = None


@dataclass
class Scan:
    sources: list[Source] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # files left alone, by why
    bad: list[tuple[str, str]] = field(default_factory=list)  # (file, why) with --skip-bad


def sniff(path: Path) -> tuple[str, bytes]:
    """(kind, first bytes) of a file: ``warc``, ``page``, ``page.gz``, ``media``,
    ``other``. Raises InputError when it cannot be read."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=path) from exc
    inner = gunzip_head(head)
    if inner is not None:
        if inner.startswith(b"WARC/"):
            return "warc", head
        if payload_kind(inner[:4096], None, path.name.removesuffix(".gz")) == "page":
            return "page.gz", head
        return "other", head
    if head.startswith(b"WARC/"):
        return "warc", head
    return payload_kind(head, None, path.name), head


def find_sources(paths: list[Path], *, skip_bad: bool = False) -> Scan:
    """Every importable file under ``paths``, in a stable order.

    Raises InputError naming the path when a PATH is missing, a file given as PATH is
    neither a page nor a WARC, a file cannot be read (unless ``skip_bad``: then it is
    listed in ``bad``), or a folder holds nothing importable.
    """
    scan = Scan()
    for argument in paths:
        if not argument.exists():
            raise InputError("no such file or folder", where=argument)
        root = argument.resolve()
        if root.is_file():
            _add_file(scan, root, root, expect=True, skip_bad=skip_bad)
            continue
        if not root.is_dir():
            raise InputError("not a file or a folder", where=argument)
        before = (len(scan.sources), len(scan.bad))
        _walk(scan, root, skip_bad=skip_bad)
        if (len(scan.sources), len(scan.bad)) == before:
            raise InputError(
                "nothing to import in this folder",
                where=argument,
                expected="saved HTML pages (a wget or HTTrack mirror) or WARC / WARC.gz files",
            )
    return scan


def _walk(scan: Scan, root: Path, *, skip_bad: bool) -> None:
    projects: list[Path] = []

    def unreadable(exc: OSError) -> None:
        error = InputError(f"cannot read folder: {exc.strerror or exc}", where=exc.filename)
        if not skip_bad:
            raise error from exc
        scan.bad.append((str(exc.filename), error.what))

    for folder, dirs, files in os.walk(root, onerror=unreadable):
        here = Path(folder)
        if "hts-cache" in dirs:
            projects.append(here)
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        project = next((p for p in reversed(projects) if here.is_relative_to(p)), None)
        names = set(files)
        for name in sorted(files):
            path = here / name
            if project == here and name in _HTTRACK_OWN:
                scan.skipped["HTTrack's own files"] += 1
                continue
            if name + ".orig" in names:
                scan.skipped["link-converted copies of X.orig"] += 1
                continue
            if path.is_symlink() or not path.is_file():
                scan.skipped["links and special files"] += 1
                continue
            _add_file(scan, path, root, project=project, skip_bad=skip_bad)


def _add_file(
    scan: Scan,
    path: Path,
    argument: Path,
    *,
    project: Path | None = None,
    expect: bool = False,
    skip_bad: bool,
) -> None:
    try:
        kind, head = sniff(path)
    except InputError as exc:
        if not skip_bad:
            raise
        scan.bad.append((str(path), exc.what))
        return
    if kind == "page" and not expect and _HTTRACK_INDEX in head:
        scan.skipped["HTTrack's own files"] += 1  # its project index, even without hts-cache
        return
    name = path.with_name(path.name.removesuffix(".orig"))
    if kind == "page.gz":  # wget keeps a gzip'd answer as it came: page.html.gz
        name = name.with_name(name.name.removesuffix(".gz"))
    if kind in ("page", "page.gz", "warc"):
        kept = head[:_KEPT] if kind == "page" else b""  # where comments say a page came from
        scan.sources.append(Source(path, kind, argument, name, kept, project))
    elif expect:
        what = "an image or other media" if kind == "media" else "neither HTML nor a WARC file"
        error = InputError(
            f"not a page or a WARC file: {what}",
            where=path,
            expected="a saved HTML page, or a WARC / WARC.gz file",
        )
        if not skip_bad:
            raise error
        scan.bad.append((str(path), error.what))
    else:
        scan.skipped["media (never stored)" if kind == "media" else "not pages"] += 1


def httrack_urls(project: Path) -> dict[str, str]:
    """URL by saved file (POSIX path below ``project``) from HTTrack's log of what it
    saved (``hts-cache/new.txt``: tab-separated, URL and local file in columns 8 and 9).
    Entries whose file is not in the project any more are left out."""
    log = project / "hts-cache" / "new.txt"
    try:
        lines = log.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in lines[1:]:
        cols = line.split("\t")
        if len(cols) < 9 or not cols[3].strip().isdigit():
            continue
        url, local = cols[7].strip(), cols[8].strip()
        parts = Path(local).parts
        for i in range(1, len(parts)):  # the project may have moved since HTTrack ran
            candidate = Path(*parts[i:])
            if (project / candidate).is_file():
                found.setdefault(candidate.as_posix(), url)
                break
    return found
