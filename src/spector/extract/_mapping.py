"""Mappings: how the columns of a dump (CSV or JSON lines) become listings.

A mapping is a TOML file (ready ones in ``extract/mappings``; the format is described in
docs/import-mappings.md). It is validated as a schema before any file is read: a key
that does not exist is an error naming it and the closest known key, a string where a
table or list belongs is an error, a regex that does not compile, a category alias that
is not a taxonomy code, a country alias that is not a country or region code, an unknown
currency or encoding are errors naming the key.

Every value a mapping reads is a :class:`Value`: a column (``"price"`` is short for
``{ column = "price" }``), a named group of the file name (``{ file = "date" }``), a
constant (``{ value = "USD" }``) or the row's number in its file (``{ row = true }``);
optionally cut out of its text by a regex (``pattern``) and replaced by a ``fallback``
when it gives nothing.
"""

from __future__ import annotations

import codecs
import difflib
import encodings.aliases
import functools
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from spector.errors import ConfigError, UsageError
from spector.model import categories, country, currency

__all__ = [
    "CsvDialect",
    "FeedbackMap",
    "ListingMap",
    "Mapping",
    "SourceMap",
    "Value",
    "load_mapping",
    "ready_mappings",
]

# Values every file offers without a pattern: its name and its name without the suffix.
FILE_BUILTINS = ("name", "stem")


class _Strict(BaseModel):
    """Unknown keys are errors that name the closest known key; types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = sorted(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
                    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
                    raise ValueError(f"unknown key {key!r} ({hint})")
        return data


class Value(_Strict):
    """Where one value of a row comes from (exactly one of column, file, value, row) and
    how it is cut out of its text."""

    column: str | None = None
    file: str | None = None  # a named group of [source] file_pattern, or "name" / "stem"
    value: str | None = None  # a constant
    row: bool = False  # the row's number in its file (header = row 1; JSON lines: line)
    pattern: str | None = None  # regex: group "value", else its groups joined, else the match
    join: str = " "  # joins the groups of ``pattern``
    format: str | None = None  # strptime format of a date ("%Y%m%d")
    fallback: Annotated[Value | None, BeforeValidator(lambda v: _value(v))] = None

    @model_validator(mode="after")
    def _one_source(self) -> Value:
        given = [
            n
            for n, v in (("column", self.column), ("file", self.file), ("value", self.value))
            if v is not None
        ] + (["row"] if self.row else [])
        if len(given) != 1:
            raise ValueError(
                "a value needs exactly one of column, file, value or row = true"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.pattern is not None:
            _compile(self.pattern, "pattern")
        return self

    @property
    def regex(self) -> re.Pattern[str] | None:
        return _compiled(self.pattern) if self.pattern is not None else None

    def columns(self) -> list[str]:
        """The columns this value (and its fallbacks) read."""
        own = [self.column] if self.column else []
        return own + (self.fallback.columns() if self.fallback else [])

    def file_groups(self) -> list[str]:
        own = [self.file] if self.file else []
        return own + (self.fallback.file_groups() if self.fallback else [])


def _value(raw: Any) -> Any:
    """A column name is short for ``{ column = NAME }``."""
    return {"column": raw} if isinstance(raw, str) else raw


def _values(raw: Any) -> Any:
    """One value or a list of them, as a list."""
    items = raw if isinstance(raw, list) else [raw]
    return [_value(x) for x in items]


OneValue = Annotated[Value, BeforeValidator(_value)]
Values = Annotated[list[Value], BeforeValidator(_values)]


class SourceMap(_Strict):
    """What the file is: whose market, its encoding, when it was observed, what its name says."""

    market: str = Field(min_length=1)
    na: list[str] = Field(default_factory=lambda: ["NA", ""])  # cells that mean "no value"
    encoding: str | None = None  # a Python codec name; detected when not given
    observed_at: Annotated[Value | None, BeforeValidator(_value)] = None  # else: import time
    observed_precision: Literal["day", "exact"] = "exact"
    file_pattern: str | None = None  # regex searched in the file name, named groups
    languages: list[str] = Field(default_factory=lambda: ["en"])  # of dates in words
    locale: str | None = None  # decides "1,234" (see docs/templates.md); else the currency

    _file_regex: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> SourceMap:
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                names = sorted({*encodings.aliases.aliases.values(), "mac_roman", "utf_8"})
                close = difflib.get_close_matches(self.encoding.lower(), names, n=3)
                raise ValueError(
                    f"encoding {self.encoding!r} is not a codec Python knows"
                    + (f" (did you mean {', '.join(close)}?)" if close else "")
                ) from None
        if self.file_pattern is not None:
            self._file_regex = _compile(self.file_pattern, "file_pattern")
        return self

    @property
    def file_regex(self) -> re.Pattern[str] | None:
        return self._file_regex

    def file_groups(self) -> tuple[str, ...]:
        groups = tuple(self._file_regex.groupindex) if self._file_regex else ()
        return tuple(dict.fromkeys((*groups, *FILE_BUILTINS)))


class CsvDialect(_Strict):
    """How the CSV is written. ``line_end = "auto"``: CR, LF and CRLF all end records (the
    one found first is reported); an explicit one ends records alone, and other line
    breaks outside quotes are kept as text."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    escapechar: str | None = Field(default=None, min_length=1, max_length=1)
    doublequote: bool = True
    skip_initial_space: bool = False
    line_end: Literal["auto", "cr", "lf", "crlf"] = "auto"

    @model_validator(mode="after")
    def _check(self) -> CsvDialect:
        if self.delimiter == self.quotechar or self.delimiter in "\r\n":
            raise ValueError(f"delimiter {self.delimiter!r} cannot be the quote or a line break")
        return self


class ListingMap(_Strict):
    """The columns of a listing and of its vendor."""

    ref: Values  # the listing's key; several values make a composite key
    ref_join: str = " | "
    ref_repeats: Literal["same", "numbered"] = "same"  # numbered: 2nd, 3rd... get "#2", "#3"
    vendor: OneValue
    title: OneValue
    price: Annotated[Value | None, BeforeValidator(_value)] = None  # text around it is fine
    currency: str | None = None  # the currency of a price shown as a bare number
    category: Values = Field(default_factory=list)  # the market's path, most general first
    category_aliases: dict[str, str] = Field(default_factory=dict)  # market's name -> code
    ships_from: Annotated[Value | None, BeforeValidator(_value)] = None
    ships_to: Annotated[Value | None, BeforeValidator(_value)] = None
    country_aliases: dict[str, str] = Field(default_factory=dict)  # market's name -> code
    sold: Annotated[Value | None, BeforeValidator(_value)] = None  # "12 sold since Mar 5, 2017"
    stock: Annotated[Value | None, BeforeValidator(_value)] = None
    url: Annotated[Value | None, BeforeValidator(_value)] = None
    vendor_level: Annotated[Value | None, BeforeValidator(_value)] = None

    @model_validator(mode="after")
    def _check(self) -> ListingMap:
        if not self.ref:
            raise ValueError("ref needs at least one value")
        if self.currency is not None:
            try:
                self.currency = currency(self.currency.upper()).code
            except UsageError:
                raise ValueError(f"currency {self.currency!r} is not in the taxonomy") from None
        codes = [c.code for c in categories()]
        for name, code in self.category_aliases.items():
            if code not in codes:
                close = difflib.get_close_matches(code, codes, n=3)
                raise ValueError(
                    f"category_aliases: {name!r} = {code!r} is not a taxonomy code"
                    + (f" (did you mean {', '.join(close)}?)" if close else "")
                )
        for name, code in self.country_aliases.items():
            try:
                self.country_aliases[name] = country(code).code
            except UsageError:
                raise ValueError(
                    f"country_aliases: {name!r} = {code!r} is not a country code (ISO 3166-1 "
                    "alpha-2 or alpha-3) or a region code of the taxonomy (WW, EU...)"
                ) from None
        return self

    def values(self) -> list[tuple[str, Value]]:
        """Every value the listing reads, with its key ("ref[1]", "price")."""
        named = [(f"ref[{i}]", v) for i, v in enumerate(self.ref)]
        named += [(f"category[{i}]", v) for i, v in enumerate(self.category)]
        for name in _SINGLE:
            value = getattr(self, name)
            if value is not None:
                named.append((name, value))
        return named


_SINGLE = (
    "vendor",
    "title",
    "price",
    "ships_from",
    "ships_to",
    "sold",
    "stock",
    "url",
    "vendor_level",
)


class FeedbackMap(_Strict):
    column: str
    format: Literal["agora"]  # "5/5 <text> <N days ago> <buyer>" blocks


class Mapping(_Strict):
    """A whole mapping file."""

    source: SourceMap
    csv: CsvDialect = Field(default_factory=CsvDialect)
    listing: ListingMap
    feedback: FeedbackMap | None = None

    @model_validator(mode="after")
    def _check(self) -> Mapping:
        known = self.source.file_groups()
        for where, value in self._values():
            for group in value.file_groups():
                if group not in known:
                    raise ValueError(
                        f"{where}: file = {group!r} is not a named group of [source] "
                        f"file_pattern (known: {', '.join(known)})"
                    )
        return self

    def _values(self) -> list[tuple[str, Value]]:
        named = [(f"[listing] {k}", v) for k, v in self.listing.values()]
        if self.source.observed_at is not None:
            named.append(("[source] observed_at", self.source.observed_at))
        return named

    def columns(self) -> list[str]:
        """Every column the mapping reads, in the order it names them, once."""
        names: list[str] = []
        for _, value in self._values():
            names += value.columns()
        if self.feedback is not None:
            names.append(self.feedback.column)
        return list(dict.fromkeys(names))


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _compile(pattern: str, key: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{key} {pattern!r} does not compile: {exc}") from None


def ready_mappings() -> list[str]:
    """The names of the mappings shipped with Spector."""
    folder = resources.files("spector.extract").joinpath("mappings")
    names = (p.name for p in folder.iterdir())
    return sorted(n.removesuffix(".toml") for n in names if n.endswith(".toml"))


def load_mapping(name_or_path: str | Path) -> Mapping:
    """A ready mapping by name (``agora-2014``) or a mapping file's path, validated.

    A ConfigError names the file, the key and what was expected."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read mapping: {exc.strerror}", where=path) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"not UTF-8 text (byte {exc.start})", where=path, expected="a TOML file"
            ) from exc
        where = str(path)
    else:
        name = str(name_or_path)
        ready = resources.files("spector.extract").joinpath("mappings", f"{name}.toml")
        if not ready.is_file():
            known = ready_mappings()
            close = difflib.get_close_matches(name, known, n=1)
            raise ConfigError(
                f"no mapping called {name!r}",
                expected=", ".join(known) + " or a mapping file's path",
                hint=f"did you mean {close[0]!r}?" if close else None,
            )
        text, where = ready.read_text("utf-8"), f"mapping {name}"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML: {exc}", where=where) from exc
    return parse_mapping(raw, where)


def parse_mapping(raw: dict[str, Any], where: str) -> Mapping:
    """``raw`` (a mapping as TOML data) checked against the schema."""
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors(include_url=False)]
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConfigError("; ".join(problems[:3]) + more, where=where) from None


_TYPES = {
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
_VALUE_FIELDS = {"observed_at", "fallback", "ref", "category", *_SINGLE}


def _problem(error: Any) -> str:
    """One pydantic error as "[table] key: what was wrong"."""
    loc = [str(p) for p in error["loc"] if not str(p).startswith("function-")]
    table, rest = (loc[0], loc[1:]) if loc else ("mapping", [])
    path = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in rest).lstrip(".")
    if error["type"] == "missing":
        return f"[{table}] lacks {path!r}" if path else f"the mapping lacks a [{table}] table"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] in _TYPES:
        expected = _TYPES[error["type"]]
        if error["type"] == "model_type" and any(p in _VALUE_FIELDS for p in loc):
            expected = "a column name or a table (column, file, value or row = true)"
        message = f"expected {expected}, got {type(error['input']).__name__}"
    elif error["type"] == "literal_error":
        message = f"{error['input']!r} is not one of {error['ctx']['expected']}"
    elif error["type"] in ("string_too_short", "string_too_long"):
        message = f"{error['input']!r}: {message.lower()}"
    if not loc:
        return message.replace("unknown key", "unknown table")
    return f"[{table}] {path}: {message}" if path else f"[{table}] {message}"
