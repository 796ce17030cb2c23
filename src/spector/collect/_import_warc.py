"""Reading WARC files that other crawlers wrote (wget ``--warc-file``, Heritrix,
Browsertrix, pywb...): WARC/1.0 and 1.1, gzip'd per record or not.

``read_warc`` yields one item per record: a ``ForeignRecord`` for an HTTP response,
resource or revisit, a ``Skipped`` for records that hold no page (requests, metadata,
warcinfo, dns:, style sheets, media: media payloads are never read past their first
bytes), and a ``BadRecord`` for a record that cannot be read (broken headers, a digest
that does not match, a payload that does not decode). After a bad record the reader finds
the next record boundary and goes on. Payloads are decoded as warcio decodes them
(chunked transfer encoding, gzip / deflate content encoding). A file that ends inside a
record raises ``WarcTruncated`` (naming the record's offset) after the records before it
were yielded: anywhere in the record, whatever its kind (a wget log record as well as a
page), also in its gzip trailer or in the blank lines that close it, where warcio alone
would take the end of the file for the end of the record. warcio's printed warnings
(a decoding error it goes on after, a block longer than its Content-Length) make the
record bad instead of reaching stderr.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataException
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from spector.collect._import_warc_ends import (
    Inflated,
    StreamCut,
    cut_at,
    end_state,
    gzip_per_record,
    next_record,
    past_blank_lines,
)
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
        head = handle.read(2)
        if head == b"\x1f":  # the first byte of a gzip member, and then nothing
            raise _truncated(path, 0, True)
        gz = head == b"\x1f\x8b"
        handle.seek(0)
        if gz and not gzip_per_record(handle):
            yield from _records(path, Inflated(handle), gz=False, inflated=True)
            return
        yield from _records(path, handle, gz=gz, inflated=False)


def _records(
    path: Path, handle: BinaryIO | Inflated, *, gz: bool, inflated: bool
) -> Iterator[Item]:
    start = 0
    while True:
        handle.seek(start)
        records = ArchiveIterator(handle, check_digests=True)
        last_end = start
        iterator = iter(records)
        try:
            while (record := _next(iterator)) is not None:
                item = _item(record, records)
                with _quiet() as noise:
                    offset = records.get_record_offset()  # reads the record to its end
                length = records.get_record_length()
                if "not followed by newline" in noise.getvalue():  # warcio's warning
                    item = BadRecord(offset, "the block does not end where its Content-Length says")
                if getattr(record.raw_stream, "limit", 0) > 0:
                    raise _truncated(path, offset, gz or inflated)
                state = "ends" if inflated else end_state(path, records, offset, length, gz)
                if state == "cut":
                    raise _truncated(path, offset, gz)
                if state == "corrupt":
                    raise _Bad("a gzip member that does not decompress (corrupt bytes)")
                problems = record.digest_checker.problems
                if record.digest_checker.passed is False and problems:
                    item = BadRecord(offset, "; ".join(problems))
                last_end = offset + length
                yield item
            cut = None if inflated else cut_at(handle, last_end, gz)  # a record begun...
            if cut is not None:
                raise _truncated(path, cut, gz)
            return
        except StreamCut as exc:
            raise _truncated(path, last_end, True) from exc
        except (*_READ_ERRORS, _Bad) as exc:
            why = _why(exc, gz)
        try:
            begun = last_end if gz else past_blank_lines(handle, last_end)
            nxt = next_record(handle, begun + 1, gz)
            cut = cut_at(handle, last_end, gz) if nxt is None else None
        except StreamCut as exc:
            raise _truncated(path, last_end, True) from exc
        if cut is not None:
            raise _truncated(path, cut, gz)
        yield BadRecord(begun, why)
        if nxt is None:
            return
        start = nxt


def _next(iterator: Iterator[Any]) -> Any:
    """The next record warcio parses, or None at the end. warcio meets some broken
    header blocks (a response without ``WARC-Target-URI``, as a cut leaves it) with
    ``AttributeError`` / ``TypeError``: they are a record that cannot be read."""
    try:
        with _quiet():
            return next(iterator)
    except StopIteration:
        return None
    except (AttributeError, TypeError) as exc:
        raise _Bad(
            "a WARC header block that cannot be parsed (a required header is missing)"
        ) from exc


def _truncated(path: Path, offset: int, gz: bool) -> WarcTruncated:
    return WarcTruncated(
        "the file ends inside a record",
        file=path,
        offset=offset,
        expected="a complete WARC record" + (" and gzip stream" if gz else ""),
    )


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
        with _quiet() as noise:
            stream = rec.content_stream()  # type: ignore[attr-defined]
            head = stream.read(4096)
            kind = payload_kind(head, content_type, urlsplit(uri).path)
            if kind != "page" and not (head == b"" and not 200 <= status < 300):
                what = "media (never stored)" if kind == "media" else "not pages"
                return Skipped(offset, what, uri, digest)
            body = head + stream.read(MAX_PAGE_BYTES + 1 - len(head))
    except (zlib.error, ChunkedDataException, ValueError) as exc:
        return BadRecord(offset, f"the payload does not decode: {exc}")
    if noise.getvalue().strip():  # warcio printed a decoding error and cut the body there
        why = _printable(noise.getvalue().strip().splitlines()[0])[:200]
        return BadRecord(offset, f"the payload does not decode: {why}")
    if len(body) > MAX_PAGE_BYTES:
        return BadRecord(offset, f"a page larger than {MAX_PAGE_BYTES >> 20} MiB")
    return ForeignRecord(**common, body=body)


def _quiet() -> contextlib.redirect_stderr[io.StringIO]:
    """Catch what warcio prints: it writes a decompression error that is not in a
    stream's first block to stderr and goes on as if the stream ended there."""
    return contextlib.redirect_stderr(io.StringIO())


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
