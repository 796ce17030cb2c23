"""Reading a dump file into rows: its encoding, its CSV dialect and line ends, JSON lines.

The whole file is read and decoded before any row is used, so a file in the wrong
encoding is refused as a whole (naming the byte, its offset and line) and nothing of it
is stored. When the mapping gives no encoding it is found: a byte order mark, else valid
UTF-8, else Mac OS Roman for a file whose records end in CR alone (classic Mac OS and
Excel for Mac's "CSV (Macintosh)" write that pair), else the best answer of
charset-normalizer that decodes the whole file. The report says which, and why.
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
from spector.extract._mapping import CsvDialect

__all__ = ["Decoded", "Row", "csv_rows", "decode_file", "jsonl_rows"]

MAX_FILE = 1 << 31  # 2 GiB: a dump is read whole
csv.field_size_limit(1 << 24)  # a listing's feedback cell can be long; bounded all the same

# When detection finds several encodings about as likely, the commoner one wins.
_NEAR = 0.05  # charset-normalizer's "chaos" (0..1) within which answers count as close
_COMMON = (
    "utf_8",
    "cp1252",
    "latin_1",
    "mac_roman",
    "cp1251",
    "koi8_r",
    "cp1250",
    "iso8859_2",
    "iso8859_15",
    "gb18030",
    "big5",
    "shift_jis",
    "euc_jp",
    "euc_kr",
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf_32"),
    (codecs.BOM_UTF32_BE, "utf_32"),
    (codecs.BOM_UTF8, "utf_8_sig"),
    (codecs.BOM_UTF16_LE, "utf_16"),
    (codecs.BOM_UTF16_BE, "utf_16"),
)
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
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            line = len(_BREAK_BYTES.findall(data, 0, exc.start)) + 1
            guess = _detect(data)
            raise InputError(
                f"byte 0x{data[exc.start]:02X} at offset {exc.start} (line {line}) is not "
                f"{encoding}",
                where=f"{path}:{line}",
                expected=f"text in {encoding}, as the mapping's [source] encoding says",
                hint=(
                    f"the file reads as {guess[0]} ({guess[1]}): set encoding = "
                    f'"{guess[0]}" or leave it out'
                    if guess
                    else "set [source] encoding to the file's encoding"
                ),
            ) from None
    else:
        found = _detect(data)
        if found is None:
            raise InputError(
                "cannot tell which encoding the file is in",
                where=path,
                hint="set [source] encoding in the mapping",
            )
        codec, basis = found
        text = data.decode(codec)
    first = _BREAK.search(text)
    return Decoded(
        text=text,
        encoding=codecs.lookup(codec).name,
        basis=basis,
        sha256=digest,
        line_end=_LINE_ENDS[first[0]] if first else "none",
    )


def _detect(data: bytes) -> tuple[str, str] | None:
    """(codec, why) for ``data``, or None when nothing decodes it."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, "byte order mark"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf_8", "valid UTF-8"
    first = _BREAK_BYTES.search(data)
    if first is not None and first[0] == b"\r" and b"\n" not in data[: first.start()]:
        # CR alone ends the first record: classic Mac OS text, as Excel for Mac still
        # writes its "CSV (Macintosh)"; Mac OS Roman decodes every byte.
        return "mac_roman", "records end in CR alone (Excel for Mac)"
    import charset_normalizer

    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return None
    # On short or mixed texts the detector's scores for related code pages lie close
    # together (cp1252 and iso8859_14 read French alike but for "°"): among the answers
    # nearly as good as its best, the encoding far more files are written in wins.
    near = [m.encoding for m in matches if m.chaos <= matches[0].chaos + _NEAR]
    ranked = sorted(near, key=lambda e: _COMMON.index(e) if e in _COMMON else len(_COMMON))
    for codec in [*ranked, *(m.encoding for m in matches)]:
        try:
            data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        return codec, "charset-normalizer"
    return None


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
    _check_header(path, header, needed)
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


def _check_header(path: Path, header: list[str], needed: list[str]) -> None:
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
        )
    twice = sorted({c for c in needed if header.count(c) > 1})
    if twice:
        raise InputError(
            f"the header names {', '.join(repr(c) for c in twice)} more than once",
            where=f"{path}:1",
            expected="each column the mapping reads once",
        )


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
