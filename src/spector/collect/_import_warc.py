"""Reading WARC files that other crawlers wrote (wget ``--warc-file``, Heritrix,
Browsertrix, pywb...): WARC/1.0 and 1.1, gzip'd per record or not.

``read_warc`` yields one item per record: a ``ForeignRecord`` for an HTTP response,
resource or revisit, a ``Skipped`` for records that hold no page (requests, metadata,
warcinfo, dns:, style sheets, media: media payloads are never read past their first
bytes), and a ``BadRecord`` for a record that cannot be read (broken headers, a digest
that does not match, a payload that does not decode). After a bad record the reader finds
the next record boundary and goes on. Payloads are decoded as warcio decodes them
(chunked transfer encoding, gzip / deflate content encoding). A file that ends inside a
record raises ``WarcTruncated`` after the records before it were yielded.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataException
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from spector.collect._sniff import MAX_PAGE_BYTES, payload_kind
from spector.errors import ParseError

__all__ = ["BadRecord", "ForeignRecord", "Skipped", "WarcTruncated", "read_warc"]

_NO_PAGE = {
    "request": "request records",
    "metadata": "metadata records",
    "warcinfo": "warcinfo records",
    "conversion": "conversion records",
    "continuation": "continuation records (segmented records are not joined)",
}
_DROP_HEADERS = frozenset({"transfer-encoding", "content-encoding", "content-length"})
_READ_ERRORS = (
    ArchiveLoadFailed,
    StatusAndHeadersParserException,
    ChunkedDataException,
    zlib.error,
    ValueError,
    EOFError,
    UnicodeError,
)


class WarcTruncated(ParseError):
    """The WARC file ends inside a record (a download cut short)."""


class _Bad(Exception):
    """A record that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class ForeignRecord:
    """An HTTP response (or resource, or revisit) record of another crawler's WARC."""

    offset: int
    record_type: str  # response, resource, revisit
    url: str
    date: datetime  # WARC-Date, naive UTC
    record_id: str | None
    payload_digest: str | None  # as the other crawler wrote it
    status: int
    status_line: str  # "200 OK"
    headers: tuple[tuple[str, str], ...]  # HTTP headers, less the transfer encodings
    content_type: str | None
    body: bytes  # the decoded payload (empty for a revisit)
    truncated: str | None  # WARC-Truncated
    refers_to: str | None = None  # revisit: WARC-Refers-To (the record id)
    refers_to_uri: str | None = None
    refers_to_date: datetime | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    offset: int
    what: str  # why it holds no page, as a plural noun phrase
    url: str | None = None
    payload_digest: str | None = None  # so a revisit of it is known to be no page either


@dataclass(frozen=True, slots=True)
class BadRecord:
    offset: int
    why: str


Item = ForeignRecord | Skipped | BadRecord


def read_warc(path: Path) -> Iterator[Item]:
    """Every record of the WARC file at ``path``, in file order (see the module doc).

    A file gzip'd as a whole (``gzip x.warc``) rather than record by record is read as
    one stream; offsets are then into the decompressed stream."""
    with path.open("rb") as handle:
        gz = handle.read(2) == b"\x1f\x8b"
        handle.seek(0)
        if gz and not _gzip_per_record(handle):
            yield from _records(path, _Inflated(handle), gz=False, inflated=True)
            return
        yield from _records(path, handle, gz=gz, inflated=False)


def _records(
    path: Path, handle: BinaryIO | _Inflated, *, gz: bool, inflated: bool
) -> Iterator[Item]:
    start = 0
    while True:
        handle.seek(start)
        records = ArchiveIterator(handle, check_digests=True)
        last_end = start
        try:
            for record in records:
                item = _item(record, records)
                offset = records.get_record_offset()  # reads the record to its end
                length = records.get_record_length()
                if getattr(record.raw_stream, "limit", 0) > 0:
                    raise _truncated(path, offset, gz or inflated)
                problems = record.digest_checker.problems
                if record.digest_checker.passed is False and problems:
                    item = BadRecord(offset, "; ".join(problems))
                last_end = offset + length
                yield item
            return
        except _StreamCut as exc:
            raise _truncated(path, last_end, True) from exc
        except (*_READ_ERRORS, _Bad) as exc:
            why = _why(exc, gz)
        try:
            nxt = _next_record(handle, last_end + 1, gz)
            cut = nxt is None and _cut_short(handle, last_end, gz)
        except _StreamCut as exc:
            raise _truncated(path, last_end, True) from exc
        if cut:
            raise _truncated(path, last_end, gz)
        yield BadRecord(last_end, why)
        if nxt is None:
            return
        start = nxt


class _StreamCut(Exception):
    """A file gzip'd as a whole ends before its gzip stream does."""


class _Inflated:
    """A file gzip'd as a whole, read as the stream it inflates to. Where the gzip
    stream was cut, what inflated before the cut is read first; reading on is an error
    (``_StreamCut``), never the quiet end of the file warcio would take an EOF for."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self._restart()

    def _restart(self) -> None:
        self.raw.seek(0)
        self.decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = b""  # compressed bytes not yet inflated
        self.buffer = b""
        self.position = 0  # in the inflated stream, of the buffer's start
        self.ended = False
        self.cut = False
        self.started = False  # the current gzip member has had input

    def _fill(self, size: int) -> None:
        while len(self.buffer) < size and not self.ended:
            data = self.decomp.unconsumed_tail or self.pending or self.raw.read(1 << 16)
            self.pending = b""
            if not data:
                self.ended, self.cut = True, self.started and not self.decomp.eof
                break
            self.started = True
            try:
                self.buffer += self.decomp.decompress(data, 1 << 20)
            except zlib.error as exc:
                raise _StreamCut(f"the gzip stream is corrupt: {exc}") from exc
            if self.decomp.eof:  # another gzip member may follow (files joined with cat)
                rest = self.decomp.unused_data
                self.decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self.pending, self.started = rest, False

    def read(self, size: int = -1) -> bytes:
        self._fill(size if size >= 0 else 1 << 62)
        if not self.buffer and self.cut:
            raise _StreamCut("the gzip stream ends early")
        out = self.buffer if size < 0 else self.buffer[:size]
        self.buffer = self.buffer[len(out) :]
        self.position += len(out)
        return out

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            while not self.ended:
                self.read(1 << 20)
            self.position += len(self.buffer)
            self.buffer = b""
            return self.position
        if offset < self.position:
            self._restart()
        while self.position < offset:
            if not self.read(min(offset - self.position, 1 << 20)):
                break
        return self.position


def _truncated(path: Path, offset: int, gz: bool) -> WarcTruncated:
    return WarcTruncated(
        "the file ends inside a record",
        file=path,
        offset=offset,
        expected="a complete WARC record" + (" and gzip stream" if gz else ""),
    )


def _gzip_per_record(handle: BinaryIO) -> bool:
    """Whether the first gzip member of a .warc.gz holds one record (as it should), not
    the whole file: decompressed only as far as needed to tell."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = b""
    need: int | None = None
    while not decomp.eof:
        data = decomp.unconsumed_tail or handle.read(1 << 16)
        if not data:
            break
        try:
            out += decomp.decompress(data, 1 << 16)
        except zlib.error:
            break
        if need is None and b"\r\n\r\n" in out:
            header = out[: out.index(b"\r\n\r\n")]
            for line in header.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    need = len(header) + 4 + int(value.strip()) + 4
        if need is not None and len(out) > need + 16:
            return False
        if need is None and len(out) > 1 << 20:
            break
    handle.seek(0)
    return True


def _why(exc: BaseException, gz: bool) -> str:
    """One short printable line (warcio quotes whatever bytes it met)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, ArchiveLoadFailed) and "first line:" in text:
        line = text.partition("first line:")[2].strip()
        if gz and not (line.isascii() and line.isprintable()):
            return "a gzip member that does not decompress (corrupt bytes)"
        return f"not a WARC record header (first line {_printable(line)[:60]!r})"
    return _printable(text)[:200]


def _printable(text: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in text)


def _item(record: object, records: ArchiveIterator) -> Item:
    rec = record  # warcio's ArcWarcRecord (untyped)
    headers = rec.rec_headers  # type: ignore[attr-defined]
    offset = records.offset
    rtype = rec.rec_type  # type: ignore[attr-defined]
    uri = headers.get_header("WARC-Target-URI") or ""
    digest = headers.get_header("WARC-Payload-Digest")
    if rtype in _NO_PAGE:
        return Skipped(offset, _NO_PAGE[rtype])
    if rtype not in ("response", "resource", "revisit"):
        return Skipped(offset, f"{rtype} records")
    if not uri.lower().startswith(("http://", "https://")):
        return Skipped(offset, "records of other schemes (dns:, urn:, metadata:)")
    if headers.get_header("Content-Length") is None:
        raise _Bad("no Content-Length in the WARC headers")
    date = _warc_date(headers.get_header("WARC-Date"))
    http = rec.http_headers  # type: ignore[attr-defined]
    if rtype == "response" and http is None:
        return BadRecord(offset, "a response record without an HTTP response in it")
    status_line = http.statusline if http is not None else "200 OK"
    try:
        status = int(status_line.split(" ", 1)[0])
    except ValueError:
        return BadRecord(offset, f"HTTP status line {status_line!r} has no status code")
    content_type = http.get_header("Content-Type") if http is not None else rec.content_type  # type: ignore[attr-defined]
    http_items = http.headers if http is not None else []
    kept = tuple((k, v) for k, v in http_items if k.lower() not in _DROP_HEADERS)
    common = {
        "offset": offset,
        "record_type": rtype,
        "url": uri,
        "date": date,
        "record_id": headers.get_header("WARC-Record-ID"),
        "payload_digest": digest,
        "status": status,
        "status_line": status_line,
        "headers": kept,
        "content_type": content_type,
        "truncated": headers.get_header("WARC-Truncated"),
    }
    if rtype == "revisit":
        return ForeignRecord(
            **common,
            body=b"",
            refers_to=headers.get_header("WARC-Refers-To"),
            refers_to_uri=_unbracket(headers.get_header("WARC-Refers-To-Target-URI")),
            refers_to_date=_optional_date(headers.get_header("WARC-Refers-To-Date")),
            profile=headers.get_header("WARC-Profile"),
        )
    encoding = (http.get_header("Content-Encoding") or "").strip().lower() if http else ""
    if encoding and encoding != "identity" and encoding not in _decoders():
        return BadRecord(offset, f"content encoding {encoding!r} cannot be decoded")
    try:
        stream = rec.content_stream()  # type: ignore[attr-defined]
        head = stream.read(4096)
        kind = payload_kind(head, content_type, urlsplit(uri).path)
        if kind != "page" and not (head == b"" and not 200 <= status < 300):
            what = "media (never stored)" if kind == "media" else "not pages"
            return Skipped(offset, what, uri, digest)
        body = head + stream.read(MAX_PAGE_BYTES + 1 - len(head))
    except (zlib.error, ChunkedDataException, ValueError) as exc:
        return BadRecord(offset, f"the payload does not decode: {exc}")
    if len(body) > MAX_PAGE_BYTES:
        return BadRecord(offset, f"a page larger than {MAX_PAGE_BYTES >> 20} MiB")
    return ForeignRecord(**common, body=body)


def _decoders() -> frozenset[str]:
    return frozenset(BufferedReader.get_supported_decompressors())


def _unbracket(value: str | None) -> str | None:
    if value and value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    return value


def _warc_date(text: str | None) -> datetime:
    moment = _optional_date(text)
    if moment is None:
        raise _Bad(f"WARC-Date {text!r} is not an ISO 8601 UTC time")
    return moment


def _optional_date(text: str | None) -> datetime | None:
    """A WARC date (``2014-01-01T12:00:00Z``, fractions in WARC/1.1) as naive UTC."""
    if not text:
        return None
    text = text.strip()
    try:
        if len(text) == 14 and text.isdigit():  # an ARC-style timestamp
            moment = datetime.strptime(text, "%Y%m%d%H%M%S")
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _next_record(handle: BinaryIO | _Inflated, start: int, gz: bool) -> int | None:
    """Where the next record after a broken one starts: the next gzip member that holds a
    WARC header, or (uncompressed) the next line starting ``WARC/``."""
    pattern = b"\x1f\x8b\x08" if gz else b"\nWARC/"
    position = start
    while True:
        found = _find(handle, pattern, position)
        if found is None:
            return None
        if not gz:
            return found + 1
        handle.seek(found)
        if (_gunzip_prefix(handle.read(4096)) or b"").startswith(b"WARC/"):
            return found
        position = found + 1


def _find(
    handle: BinaryIO | _Inflated, pattern: bytes, start: int, block: int = 1 << 20
) -> int | None:
    position = start
    while True:
        handle.seek(position)
        data = handle.read(block + len(pattern))
        if len(data) < len(pattern):
            return None
        at = data.find(pattern)
        if at >= 0:
            return position + at
        position += block


def _gunzip_prefix(data: bytes) -> bytes | None:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 16)
    except zlib.error:
        return None


def _cut_short(handle: BinaryIO | _Inflated, start: int, gz: bool) -> bool:
    """Whether the bytes from ``start`` to the end are the beginning of a record that was
    cut off: a gzip member that never ends, or a WARC header whose Content-Length runs
    past the end of the file."""
    size = handle.seek(0, io.SEEK_END)
    handle.seek(start)
    rest = handle.read(min(size - start, 1 << 20))
    if gz:
        at = rest.find(b"\x1f\x8b\x08")
        if at < 0:
            return False
        handle.seek(start + at)
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while chunk := handle.read(1 << 20):
                decomp.decompress(chunk, 1 << 16)
                while decomp.unconsumed_tail:
                    decomp.decompress(decomp.unconsumed_tail, 1 << 16)
                if decomp.eof:
                    return False
        except zlib.error:
            return False
        return not decomp.eof
    text = rest.lstrip(b"\r\n")
    if not text.startswith(b"WARC/"):
        return False
    header, sep, _ = text.partition(b"\r\n\r\n")
    if not sep:
        return True  # the file ends inside the header block
    body_start = start + len(rest) - len(text) + len(header) + 4
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return body_start + int(value.strip()) > size
            except ValueError:
                return False
    return False
