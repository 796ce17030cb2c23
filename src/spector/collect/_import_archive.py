"""Imported pages into the workspace's WARC archive (``warc/import-NNNNN.warc.gz``).

Each page is one gzip'd WARC/1.1 ``response`` record with a SHA-256 payload digest,
which ``read_stored`` and ``spector extract`` read as they read crawled pages. Where
the page came from is in the record too: ``Spector-Source-File``,
``Spector-Source-SHA256``, ``Spector-Time-Basis`` and, for a record of another WARC,
``Spector-Source-Offset`` and ``Spector-Source-Record-ID``. A saved file has no HTTP
exchange: its record says so (``Spector-Synthesised-HTTP``), and its payload is the
file's bytes unchanged. A revisit of another crawler becomes a ``revisit`` record.

Writes are undone with ``rollback`` (the import of a file that fails leaves no byte of
it), and ``repair`` cuts records that no capture in the store knows (an import killed
between the archive write and the store write) before more are appended.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from spector.collect._warc import (
    REVISIT_PROFILE,
    Archive,
    _Sha256Writer,
    _warc_digest,
    payload_sha256,
)
from spector.store import Store

__all__ = ["ImportArchive", "Page", "Written"]

PREFIX = "import"


@dataclass(frozen=True, slots=True)
class Page:
    """One imported page (or revisit), ready for the archive and the capture index."""

    url: str
    fetched_at: datetime  # naive UTC
    time_basis: str  # warc-date, observed-at, file-mtime
    body: bytes
    status: int
    status_line: str
    headers: tuple[tuple[str, str], ...]
    content_type: str | None
    source_file: Path
    source_sha256: str
    source_offset: int | None = None
    source_record_id: str | None = None
    truncated: str | None = None
    synthesised: bool = False
    record_type: str = "response"  # or revisit
    refers_to_uri: str | None = None  # revisit: the capture it repeats
    refers_to_date: datetime | None = None
    sha256: str | None = None  # revisit: the payload it repeats, when known


@dataclass(frozen=True, slots=True)
class Written:
    warc_file: str  # "warc/<name>", as the capture index holds it
    offset: int
    sha256: str | None


class ImportArchive(Archive):
    """The workspace's archive of imported pages."""

    def __init__(self, folder: Path, max_bytes: int = 1 << 30) -> None:
        super().__init__(folder, PREFIX, max_bytes)

    def files(self) -> list[Path]:
        return sorted(self.folder.glob(f"{PREFIX}-*.warc.gz"))

    def mark(self) -> dict[str, int]:
        """The size of every import file now (what ``rollback`` returns to)."""
        return {p.name: p.stat().st_size for p in self.files()}

    def rollback(self, mark: dict[str, int]) -> None:
        """Cut every file back to its size in ``mark``; remove files made since."""
        self.truncate_to_committed(mark)

    def repair(self, store: Store) -> list[str]:
        """Cut each import file to the end of the last record a capture points at."""
        ends = {}
        for path in self.files():
            row = store.con.execute(
                "SELECT max(warc_offset) FROM captures WHERE warc_file = ?", [f"warc/{path.name}"]
            ).fetchone()
            if row and row[0] is not None:
                ends[path.name] = _record_end(path, int(row[0]))
        return self.truncate_to_committed(ends)

    def write_page(self, page: Page) -> Written:
        """Append ``page`` as a response (or revisit) record."""
        path = self._current()
        sha = payload_sha256(page.body) if page.record_type == "response" else page.sha256
        warc_headers = {
            "WARC-Date": _warc_date(page.fetched_at),
            "Spector-Source-File": str(page.source_file),
            "Spector-Source-SHA256": page.source_sha256,
            "Spector-Time-Basis": page.time_basis,
        }
        if sha is not None:
            warc_headers["WARC-Payload-Digest"] = _warc_digest(sha)
        if page.source_offset is not None:
            warc_headers["Spector-Source-Offset"] = str(page.source_offset)
        if page.source_record_id:
            warc_headers["Spector-Source-Record-ID"] = page.source_record_id
        if page.synthesised:
            warc_headers["Spector-Synthesised-HTTP"] = "status and headers made at import"
        if page.truncated:
            warc_headers["WARC-Truncated"] = page.truncated
        headers = list(page.headers)
        if page.content_type and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", page.content_type))
        headers.append(("Content-Length", str(len(page.body))))
        http = StatusAndHeaders(page.status_line, headers, protocol="HTTP/1.1")
        with path.open("ab") as handle:
            writer = _Sha256Writer(handle, gzip=True, warc_version="1.1")
            if page.record_type == "revisit":
                if page.refers_to_uri:
                    warc_headers["WARC-Refers-To-Target-URI"] = page.refers_to_uri
                if page.refers_to_date is not None:
                    warc_headers["WARC-Refers-To-Date"] = _warc_date(page.refers_to_date)
                warc_headers["WARC-Profile"] = REVISIT_PROFILE
                record = writer.create_warc_record(
                    page.url,
                    "revisit",
                    payload=io.BytesIO(b""),
                    length=0,
                    http_headers=http,
                    warc_headers_dict=warc_headers,
                )
            else:
                record = writer.create_warc_record(
                    page.url,
                    "response",
                    payload=io.BytesIO(page.body),
                    length=len(page.body),
                    http_headers=http,
                    warc_headers_dict=warc_headers,
                )
            handle.seek(0, io.SEEK_END)
            offset = handle.tell()
            writer.write_record(record)
        return Written(f"warc/{path.name}", offset, sha)


def _warc_date(moment: datetime) -> str:
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_end(path: Path, offset: int) -> int:
    with path.open("rb") as handle:
        handle.seek(offset)
        records = ArchiveIterator(handle)
        next(iter(records))
        return offset + int(records.get_record_length())
