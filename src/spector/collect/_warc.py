"""Evidence: every request/response pair in gzip'd WARC files (ISO 28500), SHA-256 digests.

Files rotate at a size limit. An identical payload seen again for the same URL is
written as a ``revisit`` record pointing at the first capture. A crawl resumed after a
crash first truncates each file to the end of its last committed record, so no record
exists in the WARC that the capture index does not know.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

__all__ = ["Archive", "StoredPage", "Written", "read_stored"]

REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


class _Sha256Writer(WARCWriter):  # type: ignore[misc]
    """warcio writes SHA-1 digests unless told otherwise; evidence gets SHA-256."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


@dataclass(frozen=True, slots=True)
class Written:
    warc_file: str  # name inside the workspace's warc/ folder
    offset: int  # where the response (or revisit) record starts
    end: int  # where the pair ends
    revisit: bool  # the payload was the same as ``previous``: a revisit record


def payload_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class Archive:
    def __init__(self, folder: Path, prefix: str, max_bytes: int = 1 << 30) -> None:
        self.folder = folder
        self.prefix = prefix
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True)

    def truncate_to_committed(self, ends: dict[str, int]) -> list[str]:
        """Cut every file of this archive back to its committed end; return what changed."""
        changed = []
        for path in sorted(self.folder.glob(f"{self.prefix}-*.warc.gz")):
            end = ends.get(path.name, 0)
            if path.stat().st_size > end:
                if end == 0:
                    path.unlink()
                else:
                    with path.open("r+b") as handle:
                        handle.truncate(end)
                changed.append(path.name)
        return changed

    def _current(self) -> Path:
        files = sorted(self.folder.glob(f"{self.prefix}-*.warc.gz"))
        if files and files[-1].stat().st_size < self.max_bytes:
            return files[-1]
        return self.folder / f"{self.prefix}-{len(files):05d}.warc.gz"

    def write(
        self,
        *,
        url: str,
        fetched_at: datetime,
        request_line: str,
        request_headers: list[tuple[str, str]],
        status_line: str,
        response_headers: list[tuple[str, str]],
        body: bytes,
        truncated: str | None = None,
        previous: tuple[str, str] | None = None,
    ) -> tuple[Written, str]:
        """Append a request record and its response record; return where the response
        landed and the payload's SHA-256. When ``previous`` (SHA-256 and date of the last
        stored response for the URL) has the same payload, a revisit record is written."""
        path = self._current()
        date = fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sha = payload_sha256(body)
        revisit_of = previous if previous is not None and previous[0] == sha else None
        headers = [(k, v) for k, v in response_headers if k.lower() != "transfer-encoding"]
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        with path.open("ab") as handle:
            writer = _Sha256Writer(handle, gzip=True)
            request = writer.create_warc_record(
                url,
                "request",
                payload=io.BytesIO(b""),
                length=0,
                http_headers=StatusAndHeaders(request_line, request_headers, is_http_request=True),
                warc_headers_dict={"WARC-Date": date},
            )
            warc_headers = {"WARC-Date": date, "WARC-Payload-Digest": _warc_digest(sha)}
            if truncated:
                warc_headers["WARC-Truncated"] = truncated
            if revisit_of is not None:
                warc_headers["WARC-Refers-To-Target-URI"] = url
                warc_headers["WARC-Refers-To-Date"] = revisit_of[1]
                record = writer.create_warc_record(
                    url,
                    "revisit",
                    payload=io.BytesIO(b""),
                    length=0,
                    http_headers=StatusAndHeaders(status_line, headers, protocol="HTTP/1.1"),
                    warc_headers_dict={**warc_headers, "WARC-Profile": REVISIT_PROFILE},
                )
            else:
                record = writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(body),
                    length=len(body),
                    http_headers=StatusAndHeaders(status_line, headers, protocol="HTTP/1.1"),
                    warc_headers_dict=warc_headers,
                )
            request.rec_headers.add_header(
                "WARC-Concurrent-To", record.rec_headers.get_header("WARC-Record-ID")
            )
            handle.seek(0, io.SEEK_END)
            writer.write_record(request)
            offset = handle.tell()
            writer.write_record(record)
            end = handle.tell()
        return Written(path.name, offset, end, revisit_of is not None), sha


def _warc_digest(sha256_hex: str) -> str:
    return "sha256:" + base64.b32encode(bytes.fromhex(sha256_hex)).decode()


@dataclass(frozen=True, slots=True)
class StoredPage:
    """A response as the WARC file holds it: its HTTP Date header and its payload."""

    date: str | None
    body: bytes


def read_stored(path: Path, offset: int) -> StoredPage:
    """The response record at ``offset`` in WARC file ``path`` (as the capture index says)."""
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle)))
        date = record.http_headers.get_header("Date") if record.http_headers else None
        return StoredPage(date, record.content_stream().read())
