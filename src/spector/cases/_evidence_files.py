"""Hashing evidence content: a file, a folder (a seized server dump), a WARC record.

All hashing is streamed in 1 MiB blocks: a file of any size is fine.

A folder's hash is that of its manifest: one line ``<sha256 hex>  <relative path>\\n``
per regular file, paths POSIX-style and sorted by code point, exactly what
``(cd DIR && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum)
| sha256sum`` computes, so anyone can check it without Spector. A symbolic link inside
a folder is refused (whether to follow it is a decision the examiner must make).

A WARC record's hash is the SHA-256 of its payload as stored (what WARC-Payload-Digest
is defined over); the record's own WARC-Payload-Digest and WARC-Block-Digest (any
algorithm, base32 or hex) are checked by warcio while the payload is read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from spector.errors import InputError

__all__ = ["Hashed", "WarcRecordHash", "hash_path", "hash_warc_record"]

_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Hashed:
    """SHA-256 (hex) and size in bytes of a file or folder; ``files`` counts the files."""

    sha256: str
    size: int
    files: int


@dataclass(frozen=True, slots=True)
class WarcRecordHash:
    """A WARC record's payload hash and what its own digest headers said about it.

    ``digests_ok`` is True when every digest header present matched, None when the record
    carries none, False (with ``problems``) when one failed.
    """

    sha256: str
    size: int
    record_id: str | None
    record_type: str
    payload_digest: str | None
    digests_ok: bool | None
    problems: tuple[str, ...]


def _file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def hash_path(path: Path) -> Hashed:
    """Hash a regular file, or a folder by its manifest (see the module docstring).

    InputError when ``path`` does not exist, is not readable, is neither file nor folder,
    or a folder is empty or holds a symbolic link.
    """
    try:
        if path.is_symlink() and path.is_dir():
            raise InputError("a symbolic link to a folder", where=path, expected="the folder")
        if path.is_file():
            sha, size = _file(path)
            return Hashed(sha, size, 1)
        if not path.is_dir():
            raise InputError(
                "no such file or folder" if not path.exists() else "not a file or folder",
                where=path,
                expected="the evidence file, or the folder of a seized dump",
            )
        lines: list[str] = []
        total = 0
        for item in sorted(path.rglob("*"), key=lambda q: q.relative_to(path).as_posix()):
            rel = item.relative_to(path).as_posix()
            if item.is_symlink():
                raise InputError(
                    f"the folder holds a symbolic link ({rel})",
                    where=path,
                    expected="regular files only: copy the link's target in, or hash it apart",
                )
            if item.is_file():
                sha, size = _file(item)
                lines.append(f"{sha}  {rel}\n")
                total += size
        if not lines:
            raise InputError("the folder holds no files", where=path, expected="a seized dump")
        manifest = "".join(lines).encode("utf-8")
        return Hashed(hashlib.sha256(manifest).hexdigest(), total, len(lines))
    except PermissionError as exc:
        raise InputError(f"cannot read it ({exc.strerror})", where=exc.filename or path) from exc


def hash_warc_record(warc: Path, offset: int) -> WarcRecordHash:
    """Read the record at ``offset`` of ``warc`` (gzip'd or not), hash its payload.

    InputError when the file is missing or no WARC record starts at ``offset``.
    """
    if not warc.is_file():
        raise InputError("WARC file not found", where=warc, expected="the capture's WARC file")
    try:
        with warc.open("rb") as handle:
            handle.seek(offset)
            records = ArchiveIterator(handle, check_digests=True)
            record = next(iter(records), None)
            if record is None:
                raise InputError(
                    "no WARC record here", where=f"{warc}@{offset}", expected="a WARC record"
                )
            digest = hashlib.sha256()
            size = 0
            stream = record.raw_stream
            while block := stream.read(_BLOCK):
                digest.update(block)
                size += len(block)
            checker = record.digest_checker
            headers = record.rec_headers
            return WarcRecordHash(
                sha256=digest.hexdigest(),
                size=size,
                record_id=headers.get_header("WARC-Record-ID"),
                record_type=str(record.rec_type),
                payload_digest=headers.get_header("WARC-Payload-Digest"),
                digests_ok=checker.passed,
                problems=tuple(checker.problems),
            )
    except ArchiveLoadFailed as exc:
        raise InputError(
            f"not a readable WARC record ({exc})",
            where=f"{warc}@{offset}",
            expected="a WARC record",
        ) from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read the WARC record ({exc})", where=f"{warc}@{offset}") from exc
