"""The operation file read by ``spector cases import-operation`` (issue [I], "Interfaces").

Format::

    {"name": "SpecTor", "announced": "2023-05-02", "source": "...",           # source optional
     "agencies": [{"name": "...", "country": "US"}, ...],
     "arrests": [{"country": "US", "count": 153}, ...],
     "seizures": [{"kind": "cash_crypto", "amount": 50800000, "currency": "EUR"}
                  | {"kind": "firearms", "count": 117}
                  | {"kind": "drugs", "substance": "cocaine", "kg": 43}
                  | {"kind": "other", "description": "...", "count": 3}, ...],
     "stated_totals": {"arrests": 288, "firearms": 117, "drugs_kg": 850,      # every key optional
                       "cash_crypto": {"amount": 50800000, "currency": "EUR"},
                       "arrests_by_country": {"US": 155}}}

:func:`load_operation_file` reads and validates it: malformed JSON names the line and
column; every other fault names the JSON path of the value (``seizures[2].kg: must be
≥ 0``); an unknown key names the closest known key. Numbers are read as
:class:`~decimal.Decimal` (never float), so sums of kg and money are exact.
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from spector.errors import InputError, ParseError

__all__ = [
    "SEIZURE_KINDS",
    "AgencyEntry",
    "ArrestEntry",
    "CashCryptoSeizure",
    "DrugsSeizure",
    "FirearmsSeizure",
    "OperationFile",
    "OtherSeizure",
    "StatedCash",
    "StatedTotals",
    "agency_country",
    "arrest_country",
    "load_operation_file",
]

SEIZURE_KINDS: tuple[str, ...] = ("cash_crypto", "firearms", "drugs", "other")
_MAX_FILE_BYTES = 8 * 1024 * 1024
_CURRENCY = re.compile(r"^[A-Z]{3,5}$")


@cache
def _iso_codes() -> frozenset[str]:
    from spector.model import countries

    return frozenset(c.code for c in countries() if not c.is_region)


def _country_error(code: str, allowed: frozenset[str], expected: str) -> ValueError:
    from spector.model import resolve_country

    named = resolve_country(code)  # "UK", "Holland", "us": the taxonomy knows the aliases
    if named is not None and named.code in allowed:
        close = [named.code]
    else:
        close = difflib.get_close_matches(code.upper(), sorted(allowed), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown country code {code!r} (expected {expected}){hint}")


def arrest_country(value: object) -> str:
    """An ISO 3166-1 alpha-2 code, exactly as written (upper case); ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("must be a country code (a string such as 'US')")
    if value not in _iso_codes():
        raise _country_error(value, _iso_codes(), "an ISO 3166-1 alpha-2 code such as 'US'")
    return value


def agency_country(value: object) -> str:
    """An ISO 3166-1 alpha-2 code, or "EU" / "INT" for a European or international body."""
    if not isinstance(value, str):
        raise ValueError("must be a country code (a string such as 'US')")
    allowed = _iso_codes() | {"EU", "INT"}
    if value not in allowed:
        raise _country_error(value, allowed, "an ISO 3166-1 alpha-2 code, 'EU' or 'INT'")
    return value


def _number(value: object) -> object:
    # A string, a bool or a list is not a number: a typo must not become a figure.
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise ValueError("must be a number")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def _integer(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        raise ValueError("must be a whole number")
    return value


def _iso_date(value: object) -> object:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date (YYYY-MM-DD)") from None


def _currency(value: object) -> object:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise ValueError("must be a currency code of 3-5 capital letters such as 'EUR' or 'BTC'")
    return value


def _text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


Amount = Annotated[Decimal, BeforeValidator(_number), Field(ge=0)]
Count = Annotated[int, BeforeValidator(_integer), Field(ge=0)]
ArrestCount = Annotated[int, BeforeValidator(_integer), Field(ge=1)]
Text = Annotated[str, BeforeValidator(_text), Field(max_length=500)]
Currency = Annotated[str, BeforeValidator(_currency)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
ArrestCountry = Annotated[str, BeforeValidator(arrest_country)]
AgencyCountry = Annotated[str, BeforeValidator(agency_country)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgencyEntry(_Entry):
    name: Annotated[str, BeforeValidator(_text), Field(max_length=200)]
    country: AgencyCountry


class ArrestEntry(_Entry):
    country: ArrestCountry
    count: ArrestCount


class CashCryptoSeizure(_Entry):
    kind: Literal["cash_crypto"]
    amount: Amount
    currency: Currency


class FirearmsSeizure(_Entry):
    kind: Literal["firearms"]
    count: Count


class DrugsSeizure(_Entry):
    kind: Literal["drugs"]
    substance: Text
    kg: Amount


class OtherSeizure(_Entry):
    kind: Literal["other"]
    description: Text
    count: Count | None = None


Seizure = Annotated[
    CashCryptoSeizure | FirearmsSeizure | DrugsSeizure | OtherSeizure,
    Field(discriminator="kind"),
]


class StatedCash(_Entry):
    amount: Amount
    currency: Currency


class StatedTotals(_Entry):
    arrests: Count | None = None
    firearms: Count | None = None
    drugs_kg: Amount | None = None
    cash_crypto: StatedCash | None = None
    arrests_by_country: dict[ArrestCountry, Count] | None = None

    def as_json(self) -> dict[str, Any]:
        """The stated totals as stored in ``operations.stated_totals`` (numbers as strings
        for kg and money, so nothing is lost to float)."""
        out: dict[str, Any] = {}
        if self.arrests is not None:
            out["arrests"] = self.arrests
        if self.firearms is not None:
            out["firearms"] = self.firearms
        if self.drugs_kg is not None:
            out["drugs_kg"] = str(self.drugs_kg)
        if self.cash_crypto is not None:
            out["cash_crypto"] = {
                "amount": str(self.cash_crypto.amount),
                "currency": self.cash_crypto.currency,
            }
        if self.arrests_by_country is not None:
            out["arrests_by_country"] = dict(self.arrests_by_country)
        return out


class OperationFile(_Entry):
    name: Annotated[str, BeforeValidator(_text), Field(max_length=200)]
    announced: IsoDate | None = None
    source: Annotated[str, BeforeValidator(_text), Field(max_length=2000)] | None = None
    description: Annotated[str, BeforeValidator(_text), Field(max_length=4000)] | None = None
    agencies: list[AgencyEntry] = Field(default_factory=list)
    arrests: list[ArrestEntry] = Field(default_factory=list)
    seizures: list[Seizure] = Field(default_factory=list)
    stated_totals: StatedTotals | None = None


_SEIZURE_MODELS: dict[str, type[BaseModel]] = {
    "cash_crypto": CashCryptoSeizure,
    "firearms": FirearmsSeizure,
    "drugs": DrugsSeizure,
    "other": OtherSeizure,
}


def _json_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # A discriminated union puts the tag into the location (seizures.2.drugs.kg) and a
    # dict key's error ends in "[key]": the user wrote neither, so both are dropped.
    parts = list(loc)
    if len(parts) >= 3 and parts[0] == "seizures" and parts[2] in _SEIZURE_MODELS:
        del parts[2]
    return tuple(p for p in parts if p != "[key]")


def _known_keys(loc: tuple[int | str, ...], raw: object) -> list[str]:
    """The keys allowed in the object that holds ``loc`` (the last part is the bad key)."""
    parent = loc[:-1]
    model: type[BaseModel] | None = None
    if parent == ():
        model = OperationFile
    elif parent[:1] == ("agencies",):
        model = AgencyEntry
    elif parent[:1] == ("arrests",):
        model = ArrestEntry
    elif parent == ("stated_totals",):
        model = StatedTotals
    elif parent == ("stated_totals", "cash_crypto"):
        model = StatedCash
    elif parent[:1] == ("seizures",) and len(parent) == 2:
        item: object = None
        if isinstance(raw, dict) and isinstance(raw.get("seizures"), list):
            seizures = raw["seizures"]
            index = parent[1]
            if isinstance(index, int) and index < len(seizures):
                item = seizures[index]
        kind = item.get("kind") if isinstance(item, dict) else None
        model = _SEIZURE_MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            return sorted({k for m in _SEIZURE_MODELS.values() for k in m.model_fields})
    return list(model.model_fields) if model is not None else []


def _message(error: Any, raw: object) -> str:
    loc = _clean_loc(tuple(error["loc"]))
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        known = _known_keys(loc, raw)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"{_json_path(loc)}: unknown key {key!r}; {hint}"
    if kind == "missing":
        return f"{_json_path(loc)}: required key {str(loc[-1])!r} is missing"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", "?"))
        close = difflib.get_close_matches(tag, SEIZURE_KINDS, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        kinds = ", ".join(SEIZURE_KINDS)
        return f"{_json_path((*loc, 'kind'))}: unknown kind {tag!r} (expected one of {kinds}){hint}"
    if kind == "union_tag_not_found":
        return f"{_json_path((*loc, 'kind'))}: required key 'kind' is missing"
    if kind in ("greater_than_equal", "greater_than"):
        sign = "≥" if kind == "greater_than_equal" else ">"
        bound = ctx.get("ge", ctx.get("gt"))
        return f"{_json_path(loc)}: must be {sign} {bound}"
    if kind == "string_too_long":
        return f"{_json_path(loc)}: longer than {ctx.get('max_length')} characters"
    if kind in ("list_type", "model_type", "dict_type", "model_attributes_type"):
        expected = "a list" if kind == "list_type" else "an object"
        return f"{_json_path(loc)}: must be {expected}"
    if kind == "value_error":
        return f"{_json_path(loc)}: {ctx.get('error', error['msg'])}"
    return f"{_json_path(loc)}: {error['msg']}"


def load_operation_file(path: Path) -> OperationFile:
    """Read and validate an operation file; InputError/ParseError naming file and path.

    Every fault is reported (the first in the message, the count of the others after it),
    so one run shows how much of the file is wrong.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the operation file: {exc.strerror}", where=path) from exc
    if len(data) > _MAX_FILE_BYTES:
        raise InputError(
            f"operation file is {len(data)} bytes", where=path, expected="at most 8 MiB"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError("not UTF-8 text", file=path, offset=exc.start) from exc
    try:
        raw = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        where = f"{path}:{exc.lineno}:{exc.colno}"
        raise InputError(f"malformed JSON: {exc.msg}", where=where) from exc
    if not isinstance(raw, dict):
        raise InputError("the operation file must hold one JSON object", where=path)
    try:
        parsed = OperationFile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = _message(errors[0], raw)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(f"{first}{more}", where=path) from exc
    _check_unique(parsed, path)
    return parsed


def _check_unique(parsed: OperationFile, path: Path) -> None:
    """One arrest entry per country, one agency per name (case-insensitive)."""
    seen: dict[str, int] = {}
    for i, arrest in enumerate(parsed.arrests):
        if arrest.country in seen:
            first = seen[arrest.country]
            raise InputError(
                f"arrests[{i}].country: {arrest.country!r} is listed twice (also arrests[{first}])",
                where=path,
                expected="one entry per country with its count",
            )
        seen[arrest.country] = i
    names: dict[str, int] = {}
    for i, agency in enumerate(parsed.agencies):
        key = agency.name.casefold()
        if key in names:
            first = names[key]
            raise InputError(
                f"agencies[{i}].name: {agency.name!r} is listed twice (also agencies[{first}])",
                where=path,
            )
        names[key] = i
