"""Reading a dump file into rows: its encoding, its CSV dialect and line ends, JSON lines.

The whole file is read and decoded before any row is used, so a file in the wrong
encoding is refused as a whole (naming the byte, its offset and line) and nothing of it
is stored. When the mapping gives no encoding it is found: a byte order mark, else valid
UTF-8, else for a file whose records end in CR alone Mac OS Roman or cp1252, as its
letters read, else the best answer of charset-normalizer that decodes the whole file
(``spector.extract._encoding``). The report says which, why, and when it was a close call.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from spector.errors import InputError
from spector.extract._encoding import detect, reads_as
from spector.extract._mapping import CsvDialect

__all__ = ["Decoded", "Row", "csv_rows", "decode_file", "jsonl_rows"]

MAX_FILE = 1 << 31  # 2 GiB: a dump is read whole
csv.field_size_limit(1 << 24)  # a listing's feedback cell can be long; bounded all the same

_BREAK = re.compile(r"\r\n|\r|\n")
_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_LINE_ENDS = {"\r\n": "crlf", "\r": "cr", "\n": "lf"}


@dataclass(frozen=True, slots=True)
class Decoded:
    """A file's text and how it was read."""

    text: str
    encoding: str  # the Python codec used
    basis: str  # why: "mapping", "byte order mark", "valid UTF-8", ...
    sha256: str  # of the file's bytes
    line_end: str  # the first line break: "cr", "lf", "crlf", or "none"
    note: str | None = None  # when the encoding found was a close call: what to check


@dataclass(frozen=True, slots=True)
class Row:
    """One record of a file: its number (the header is row 1; JSON lines: the line), the
    line it starts on, its cells by column, or why it cannot be read."""

    number: int
    line: int
    cells: dict[str, str | None]
    problem: str | None = None


def decode_file(path: Path, encoding: str | None) -> Decoded:
    """The text of ``path`` in ``encoding``, or in the encoding found (see the module
    docstring). An InputError names the file, and for bytes that are not ``encoding`` the
    byte, its offset and line, and what the file seems to be in."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise InputError("file too large to import", where=path, expected="at most 2 GiB")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=path) from exc
    digest = hashlib.sha256(data).hexdigest()
    if encoding is not None:
        codec = codecs.lookup(encoding).name
        if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        basis = "mapping"
        note = None
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            line = len(_BREAK_BYTES.findall(data, 0, exc.start)) + 1
            guess = detect(data)
            raise InputError(
                f"byte 0x{data[exc.start]:02X} at offset {exc.start} (line {line}) is not "
                f"{encoding}",
                where=f"{path}:{line}",
                expected=f"text in {encoding}, as the mapping's [source] encoding says",
                hint=(
                    f"the file reads as {guess.codec} ({guess.basis}): set encoding = "
                    f'"{guess.codec}" or leave it out'
                    if guess
                    else "set [source] encoding to the file's encoding"
                ),
            ) from None
    else:
        found = detect(data)
        if found is None:
            raise InputError(
                "cannot tell which encoding the file is in",
                where=path,
                hint="set [source] encoding in the mapping",
            )
        codec, basis, note = found.codec, found.basis, found.note
        text = data.decode(codec)
    first = _BREAK.search(text)
    return Decoded(
        text=text,
        encoding=codecs.lookup(codec).name,
        basis=basis,
        sha256=digest,
        line_end=_LINE_ENDS[first[0]] if first else "none",
        note=note,
    )


def csv_rows(path: Path, decoded: Decoded, dialect: CsvDialect, needed: list[str]) -> Iterator[Row]:
    """The data rows of a CSV text, after checking that its header has every column in
    ``needed`` (an InputError naming the file, the missing columns and the closest header
    names). Rows with more fields than the header come with a ``problem``; blank lines
    are skipped. CSV that cannot be parsed is an InputError naming the file and line."""
    splitter = None if dialect.line_end == "auto" else _Splitter(decoded.text, dialect)
    reader = csv.reader(
        io.StringIO(decoded.text, newline="") if splitter is None else splitter.records(),
        delimiter=dialect.delimiter,
        quotechar=dialect.quotechar,
        escapechar=dialect.escapechar,
        doublequote=dialect.doublequote,
        skipinitialspace=dialect.skip_initial_space,
    )
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        raise InputError(f"unreadable CSV header: {exc}", where=f"{path}:1") from exc
    _check_header(path, header, needed, decoded, dialect)
    width = len(header)

    def rows() -> Iterator[Row]:
        number, line = 1, reader.line_num
        while True:
            start = line + 1
            try:
                fields = next(reader, None)
            except csv.Error as exc:
                raise InputError(
                    f"unreadable CSV: {exc}", where=f"{path}:{reader.line_num}"
                ) from exc
            line = reader.line_num
            if fields is None:
                return
            if not fields:
                continue  # a blank line
            number += 1
            if splitter is not None:
                fields = [splitter.restore(f) for f in fields]
            problem = None
            if len(fields) > width:
                problem = f"more fields than the header has ({len(fields)} for {width})"
            cells: dict[str, str | None] = dict(zip(header, fields, strict=False))
            yield Row(number=number, line=start, cells=cells, problem=problem)

    return rows()


def _check_header(
    path: Path, header: list[str], needed: list[str], decoded: Decoded, dialect: CsvDialect
) -> None:
    if not any(header):
        raise InputError("the file is empty", where=path, expected="a header row, then rows")
    missing = [c for c in needed if c not in header]
    if missing:
        close = {c: difflib.get_close_matches(c, header, n=1) for c in missing}
        near = "; ".join(f"closest to {c!r}: {v[0]!r}" for c, v in close.items() if v)
        raise InputError(
            f"the header lacks {', '.join(repr(c) for c in missing)}, which the mapping names"
            + (f" ({near})" if near else ""),
            where=f"{path}:1",
            expected=f"a header with these columns; it has: {', '.join(header)}",
            hint=_encoding_hint(header, needed, decoded, dialect),
        )
    twice = sorted({c for c in needed if header.count(c) > 1})
    if twice:
        raise InputError(
            f"the header names {', '.join(repr(c) for c in twice)} more than once",
            where=f"{path}:1",
            expected="each column the mapping reads once",
        )


def _encoding_hint(
    header: list[str], needed: list[str], decoded: Decoded, dialect: CsvDialect
) -> str | None:
    """When names with non-ASCII letters are missing from the header, the file may be read
    in the wrong encoding: the codec in which the header has them, or a word to set one."""
    if all(name.isascii() for name in [*header, *needed]):
        return None
    read = f"the file was read as {decoded.encoding} ({decoded.basis})"
    first = _BREAK.search(decoded.text)
    line = decoded.text[: first.start()] if first else decoded.text
    try:
        raw = line.encode(decoded.encoding)
    except (UnicodeEncodeError, LookupError):
        raw = b""

    def names(text: str) -> list[str]:
        return [h.strip() for h in _split_header(text, dialect)]

    codec = reads_as(raw, needed, names) if raw.strip() else None
    if codec is not None and codecs.lookup(codec).name != decoded.encoding:
        return (
            f"{read}, but its header has these names in {codec}: set [source] encoding = "
            f'"{codec}" in the mapping'
        )
    return (
        f"{read}; if the header's names look garbled, set [source] encoding in the mapping "
        'to the file\'s encoding (e.g. encoding = "cp1252" or "mac_roman")'
    )


def _split_header(text: str, dialect: CsvDialect) -> list[str]:
    reader = csv.reader(
        [text],
        delimiter=dialect.delimiter,
        quotechar=dialect.quotechar,
        escapechar=dialect.escapechar,
        doublequote=dialect.doublequote,
        skipinitialspace=dialect.skip_initial_space,
    )
    try:
        return next(reader, [])
    except csv.Error:
        return []


class _Splitter:
    """Records split only at the mapping's line end outside quotes. The other line
    breaks outside quotes are text: they are swapped for characters the text does not
    use while the csv module reads the records, and swapped back in the cells."""

    def __init__(self, text: str, dialect: CsvDialect) -> None:
        self.text = text
        self.end = {"cr": "\r", "lf": "\n", "crlf": "\r\n"}[dialect.line_end]
        free = (chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)
        self.cr, self.lf = next(free), next(free)
        q = re.escape(dialect.quotechar)
        e = re.escape(dialect.escapechar) if dialect.escapechar else None
        inside = f"(?:[^{q}{e}]|{e}.)*" if e else f"[^{q}]*"
        outside = f"(?:[^{q}{e}\r\n]|{e}.)+" if e else f"[^{q}\r\n]+"
        breaks = r"\r\n|\r|\n" if self.end == "\r\n" else r"\r|\n"
        self.token = re.compile(rf"{q}{inside}(?:{q}|\Z)|{outside}|{breaks}", re.DOTALL)

    def records(self) -> Iterator[str]:
        parts: list[str] = []
        for match in self.token.finditer(self.text):
            piece = match[0]
            if piece == self.end:
                yield "".join(parts)
                parts = []
            elif piece in ("\r", "\n", "\r\n"):
                parts.append(piece.replace("\r", self.cr).replace("\n", self.lf))
            else:
                parts.append(piece)
        if parts:
            yield "".join(parts)

    def restore(self, cell: str) -> str:
        return cell.replace(self.cr, "\r").replace(self.lf, "\n")


def jsonl_rows(decoded: Decoded) -> Iterator[Row]:
    """One row per non-blank line of JSON lines; a line that is not a JSON object comes
    with a ``problem``. Values that are not strings become their JSON text."""
    for number, line in enumerate(decoded.text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(number, number, {}, f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(value, dict):
            yield Row(number, number, {}, "not a JSON object")
            continue
        cells = {
            str(k): v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in value.items()
        }
        yield Row(number, number, cells)
