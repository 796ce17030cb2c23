"""The URL of each saved page, from where and how a mirror tool saved it.

In order: ``--url-prefix`` (the URL of the PATH given, each file's path below it
appended); for an HTTrack project its log (``hts-cache/new.txt``) and the ``Mirrored
from`` comment in the page; a host folder above the file (``<host>/path/file.html``,
as wget writes and as the darknet-market archives of 2011-2015 are laid out); a browser's
``saved from url`` comment. A page none of these gives a URL for is an error naming it.

wget's ``--adjust-extension`` makes ``/listing/1`` and ``/listing/1.html`` look the same
on disk; the links of the mirror's own pages tell them apart (see ``mirror_path_url``):
their ``<a href>`` values, found by a pattern that reads each page once.
"""

from __future__ import annotations

import gzip
import html
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from spector.collect._import_files import Source, httrack_urls
from spector.collect._import_urls import (
    DYNAMIC_SUFFIXES,
    host_folder,
    host_kind,
    httrack_source,
    mirror_path_url,
    page_links,
    saved_from_url,
)
from spector.collect._sniff import MAX_PAGE_BYTES

__all__ = ["UrlPlan", "page_urls"]

# An <a> or <area> tag's href; the tag ends at the next "<" or ">", so a page without a ">"
# costs one pass, not one per "<a".
_HREF = re.compile(
    rb"<(?:a|area)\s[^<>]*?\bhref\s*=\s*(?:\"([^\"<>]*)\"|'([^'<>]*)'|([^\s\"'<>]+))",
    re.IGNORECASE,
)
_HOST_DEPTH = 12  # how far above a file given alone a host folder is looked for


@dataclass
class UrlPlan:
    urls: dict[Path, str]
    how: dict[Path, str]  # url-prefix, httrack, host-folder, saved-from
    bad: list[tuple[str, str]]  # (file, why)


def page_urls(sources: list[Source], url_prefix: str | None) -> UrlPlan:
    """The URL of every page source (WARC sources are left out: their records say)."""
    plan = UrlPlan({}, {}, [])
    projects: dict[Path, dict[str, str]] = {}
    layout: dict[str, list[tuple[Source, str]]] = defaultdict(list)  # base URL -> (source, rel)
    for source in sources:
        if source.kind == "warc":
            continue
        if url_prefix is not None:
            base = url_prefix if url_prefix.endswith("/") else url_prefix + "/"
            below = source.argument if source.argument.is_dir() else source.argument.parent
            layout[base].append((source, source.name.relative_to(below).as_posix()))
            plan.how[source.path] = "url-prefix"
            continue
        if source.project is not None:
            if source.project not in projects:
                projects[source.project] = httrack_urls(source.project)
            saved_as = source.path.relative_to(source.project).as_posix()
            logged = projects[source.project].get(saved_as)
            url = logged or httrack_source(source.head)
            if url:
                plan.urls[source.path], plan.how[source.path] = url, "httrack"
                continue
        elif url := httrack_source(source.head):
            plan.urls[source.path], plan.how[source.path] = url, "httrack"
            continue
        try:
            found = _host_base(source)
        except ValueError as exc:
            plan.bad.append((str(source.path), f"its host folder is not a usable host: {exc}"))
            continue
        if found is not None:
            layout[found[0]].append((source, found[1]))
            plan.how[source.path] = "host-folder"
            continue
        if url := saved_from_url(source.head):
            plan.urls[source.path], plan.how[source.path] = url, "saved-from"
            continue
        plan.bad.append(
            (
                str(source.path),
                "cannot tell the URL of this page (expected it inside a mirror's host folder, "
                "e.g. <host>.onion/path/page.html, or --url-prefix URL)",
            )
        )
    for base, files in layout.items():
        linked = _linked(base, files) if any(_ambiguous(rel) for _, rel in files) else frozenset()
        for source, rel in files:
            plan.urls[source.path] = mirror_path_url(base, rel, linked=linked)
    for path, url in list(plan.urls.items()):
        why = _unusable(url)
        if why is not None:
            del plan.urls[path]
            plan.bad.append((str(path), f"its URL {url[:200]!r} {why}"))
    return plan


def _unusable(url: str) -> str | None:
    """Why ``url`` cannot be a capture's URL, or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return f"does not parse: {exc}"
    if parts.scheme not in ("http", "https") or not host:
        return "is not an http(s) URL with a host"
    try:
        host_kind(host)
    except ValueError as exc:
        return f"has an unusable host: {exc}"
    return None


def _host_base(source: Source) -> tuple[str, str] | None:
    """(``http://host/``, the file's path below the host folder) for the nearest folder
    above the file named like a host; only folders inside a PATH folder count, or, for a
    file given alone, the folders above it."""
    stop = source.argument.parent if source.argument.is_dir() else None
    folder = source.name.parent
    depth = 0
    while folder != folder.parent and folder != stop and depth < _HOST_DEPTH:
        host = host_folder(folder.name, httrack=source.project is not None)
        if host is not None:
            return f"http://{host}/", source.name.relative_to(folder).as_posix()
        folder, depth = folder.parent, depth + 1
    return None


def _ambiguous(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1].lower()
    if not name.endswith((".html", ".htm")) or name in ("index.html", "index.htm"):
        return False
    if "?" in name or "%3f" in name or ("@" in name and "=" in name):
        return False
    return not name.rsplit(".", 1)[0].endswith(DYNAMIC_SUFFIXES)


def _linked(base: str, files: list[tuple[Source, str]]) -> frozenset[str]:
    """Every same-host path (with query) the pages below ``base`` link to."""
    found: set[str] = set()
    for source, rel in files:
        body = _read_page(source)
        if body is None:
            continue
        url = mirror_path_url(base, rel)
        hrefs = [next(g for g in m.groups() if g is not None) for m in _HREF.finditer(body)]
        found |= page_links(url, [html.unescape(h.decode("utf-8", "replace")) for h in hrefs])
    return frozenset(found)


def _read_page(source: Source) -> bytes | None:
    try:
        if source.kind == "page.gz":
            with gzip.open(source.path, "rb") as handle:
                return handle.read(MAX_PAGE_BYTES)
        with source.path.open("rb") as handle:
            return handle.read(MAX_PAGE_BYTES)
    except (OSError, EOFError):
        return None  # the import itself reports it
