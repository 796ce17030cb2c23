"""Where records end in a WARC file another crawler wrote, and where they were cut:
the checks ``_import_warc`` makes where warcio would take the end of the file (or a
corrupt gzip member) for the quiet end of a record, and the search for the next record
after a broken one. ``Inflated`` reads a file gzip'd as a whole as the stream it
inflates to, and raises ``StreamCut`` where that stream was cut.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

__all__ = [
    "Inflated",
    "StreamCut",
    "cut_at",
    "end_state",
    "gzip_per_record",
    "member_state",
    "next_record",
    "past_blank_lines",
]


def past_blank_lines(handle: BinaryIO | Inflated, start: int) -> int:
    """Where the record after ``start`` begins in an uncompressed file: past the blank
    lines that end the record before it (warcio's record length leaves them out)."""
    handle.seek(start)
    head = handle.read(64)
    return start + len(head) - len(head.lstrip(b"\r\n"))


class StreamCut(Exception):
    """A file gzip'd as a whole ends before its gzip stream does."""


class Inflated:
    """A file gzip'd as a whole, read as the stream it inflates to. Where the gzip
    stream was cut, what inflated before the cut is read first; reading on is an error
    (``StreamCut``), never the quiet end of the file warcio would take an EOF for."""

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
                raise StreamCut(f"the gzip stream is corrupt: {exc}") from exc
            if self.decomp.eof:  # another gzip member may follow (files joined with cat)
                rest = self.decomp.unused_data
                self.decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self.pending, self.started = rest, False

    def read(self, size: int = -1) -> bytes:
        self._fill(size if size >= 0 else 1 << 62)
        if not self.buffer and self.cut:
            raise StreamCut("the gzip stream ends early")
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


def end_state(path: Path, records: ArchiveIterator, offset: int, length: int, gz: bool) -> str:
    """``ends``, ``cut`` or ``corrupt``: the record warcio has just read (at ``offset``,
    ``length`` bytes as warcio counts them), where warcio takes the end of the file for
    the end of the record. It is cut if its gzip member never ends (a cut anywhere in the
    member, even in its header block or its gzip trailer), or, uncompressed, if the file
    ends before the ``CRLF CRLF`` that closes the last record; a gzip member that stops
    decompressing before the end of the file is corrupt."""
    if gz:
        decomp = records.reader.decompressor
        if decomp is None or decomp.eof:
            return "ends"
        with path.open("rb") as handle:
            handle.seek(offset)
            return member_state(handle)
    if records.next_line is not None or records.known_format != "warc":
        return "ends"  # not the last record (or an ARC file, whose records end with one LF)
    with path.open("rb") as handle:
        handle.seek(offset + length)
        tail = handle.read(4)
    return "cut" if len(tail) < 4 and b"\r\n\r\n".startswith(tail) else "ends"


def member_state(handle: BinaryIO) -> str:
    """``ends``, ``cut`` (the file ends inside it) or ``corrupt``: the gzip member that
    starts at the handle's position."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while chunk := handle.read(1 << 20):
            decomp.decompress(chunk, 1 << 16)
            while decomp.unconsumed_tail and not decomp.eof:
                decomp.decompress(decomp.unconsumed_tail, 1 << 16)
            if decomp.eof:
                return "ends"
    except zlib.error:
        return "corrupt"
    return "cut"


def gzip_per_record(handle: BinaryIO) -> bool:
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


def next_record(handle: BinaryIO | Inflated, start: int, gz: bool) -> int | None:
    """Where the next record after a broken one starts: the next gzip member that holds a
    WARC header, or (uncompressed) the next line starting ``WARC/``."""
    pattern = b"\x1f\x8b\x08" if gz else b"\nWARC/"
    position = start
    while True:
        found = find(handle, pattern, position)
        if found is None:
            return None
        if not gz:
            return found + 1
        handle.seek(found)
        if (gunzip_prefix(handle.read(4096)) or b"").startswith(b"WARC/"):
            return found
        position = found + 1


def find(
    handle: BinaryIO | Inflated, pattern: bytes, start: int, block: int = 1 << 20
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


def gunzip_prefix(data: bytes) -> bytes | None:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 16)
    except zlib.error:
        return None


def cut_at(handle: BinaryIO | Inflated, start: int, gz: bool) -> int | None:
    """Where the record starts that was cut off, if the bytes from ``start`` to the end are
    the beginning of one: a gzip member that never ends (or the first bytes of a gzip
    header, and then nothing), or a WARC header block that never ends or whose
    Content-Length runs past the end of the file. None if they are not."""
    size = handle.seek(0, io.SEEK_END)
    handle.seek(start)
    rest = handle.read(min(size - start, 1 << 20))
    if gz:
        at = rest.find(b"\x1f\x8b\x08")
        if at < 0:
            text = rest.lstrip(b"\0\r\n")
            cut = bool(text) and b"\x1f\x8b\x08".startswith(text)
            return start + len(rest) - len(text) if cut else None
        handle.seek(start + at)
        return start + at if member_state(handle) == "cut" else None  # type: ignore[arg-type]
    text = rest.lstrip(b"\r\n")
    at = start + len(rest) - len(text)
    if not text.startswith(b"WARC/"):
        return at if text and b"WARC/".startswith(text) else None
    header, sep, _ = text.partition(b"\r\n\r\n")
    if not sep:
        return at  # the file ends inside the header block
    body_start = at + len(header) + 4
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return at if body_start + int(value.strip()) > size else None
            except ValueError:
                return None
    return None
