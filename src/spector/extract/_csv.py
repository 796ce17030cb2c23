"""Importing listing dumps (CSV) with a column mapping: researchers' and seized data.

A mapping (TOML; ready ones in ``extract/mappings``) names the columns of a file. Each row
becomes a listing, its vendor account and its feedback; the market is the mapping's. Rows
that cannot be read are recorded in ``extraction_errors`` with their row number and the
reason, and the import goes on. Everything observed on one day is stored with that day as
its provenance, so the same listing seen on several days is one listing seen from its
first day to its last.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from spector.errors import ConfigError, InputError
from spector.extract._dates import resolve_relative
from spector.model import (
    Feedback,
    Listing,
    Market,
    Record,
    VendorAccount,
    make_id,
    resolve_category,
    resolve_country,
)
from spector.store import Store

__all__ = ["ImportReport", "import_csv", "import_jsonl", "load_mapping"]

csv.field_size_limit(1 << 24)  # a listing's feedback cell can be long; bounded all the same


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    imported: int = 0
    errors: int = 0
    vendors: set[str] = field(default_factory=set)
    listings: set[str] = field(default_factory=set)
    feedback: int = 0
    unresolved: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "imported": self.imported,
            "errors": self.errors,
            "vendors": len(self.vendors),
            "listings": len(self.listings),
            "feedback": self.feedback,
            "unresolved": dict(self.unresolved),
        }


def load_mapping(name_or_path: str) -> dict[str, Any]:
    """A ready mapping by name (``agora-2014``) or a mapping file's path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read mapping: {exc.strerror}", where=path) from exc
        where: str | Path = path
    else:
        ready = resources.files("spector.extract").joinpath("mappings", f"{name_or_path}.toml")
        if not ready.is_file():
            known = sorted(
                p.name.removesuffix(".toml")
                for p in resources.files("spector.extract").joinpath("mappings").iterdir()
            )
            raise ConfigError(f"no mapping called {name_or_path!r}", expected=", ".join(known))
        text, where = ready.read_text("utf-8"), f"mapping {name_or_path}"
    try:
        mapping = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML: {exc}", where=where) from exc
    for table, keys in (("source", ("market",)), ("listing", ("ref", "vendor", "title"))):
        for key in keys:
            if key not in mapping.get(table, {}):
                raise ConfigError(f"[{table}] lacks {key!r}", where=where)
    return mapping


def import_csv(store: Store, path: Path, mapping: dict[str, Any]) -> ImportReport:
    """Import a CSV file with ``mapping``; see the module docstring."""
    try:
        handle = path.open(encoding="utf-8", newline="", errors="strict")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=path) from exc
    with handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        lst = mapping["listing"]
        missing = [c for c in (lst["ref"], lst["vendor"], lst["title"]) if c not in columns]
        if missing:
            raise InputError(
                f"columns {missing} are missing",
                where=path,
                expected="a header with the columns the mapping names",
            )
        try:
            return _import_rows(
                store, path, mapping, ((n, r, None) for n, r in enumerate(reader, 2))
            )
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"unreadable CSV: {exc}", where=path) from exc


def import_jsonl(store: Store, path: Path, mapping: dict[str, Any]) -> ImportReport:
    """Import a JSON-lines file (one object per line; keys as the mapping's columns)."""
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=path) from exc

    def rows() -> Iterator[tuple[int, dict[str, str | None], str | None]]:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, {}, f"not JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(value, dict):
                yield number, {}, "not a JSON object"
                continue
            yield (
                number,
                {k: v if v is None or isinstance(v, str) else str(v) for k, v in value.items()},
                None,
            )

    with handle:
        return _import_rows(store, path, mapping, rows())


def _import_rows(store: Store, path: Path, mapping: dict[str, Any], rows: Any) -> ImportReport:
    report = ImportReport(file=path.name)
    source = f"import:{path.name}"
    src, lst, fb = mapping["source"], mapping["listing"], mapping.get("feedback", {})
    na = set(src.get("na", ["NA", ""]))
    market = Market(name=src["market"])
    by_day: dict[datetime, list[Record]] = {}
    errors: list[tuple[str, str]] = []
    for number, row, problem in rows:
        report.rows += 1
        try:
            if problem:
                raise _RowError(problem)
            seen, records = _row(row, number, market, src, lst, fb, na, report)
        except _RowError as exc:
            errors.append((f"row {number}", str(exc)))
            continue
        by_day.setdefault(seen, []).extend(records)
        report.imported += 1
    report.errors = len(errors)
    with store.transaction():
        store.con.execute("DELETE FROM extraction_errors WHERE source = ?", [source])
        now = datetime.now(UTC).replace(tzinfo=None)
        if errors:
            store.con.executemany(
                "INSERT INTO extraction_errors VALUES (?, ?, ?, 'mapping', ?, ?, ?)",
                [
                    (make_id("extraction_error", source, ref), source, ref, reason, now, now)
                    for ref, reason in errors
                ],
            )
    for seen in sorted(by_day):
        store.upsert([market, *by_day[seen]], source=source, seen_at=seen)
    return report


class _RowError(Exception):
    pass


def _cell(row: dict[str, str | None], column: str, na: set[str]) -> str | None:
    value = row.get(column)
    if value is None:
        raise _RowError(f"column {column!r} is missing in this row (short row)")
    value = " ".join(value.split())
    return None if value in na else value


def _row(
    row: dict[str, str | None],
    number: int,
    market: Market,
    src: dict[str, Any],
    lst: dict[str, Any],
    fb: dict[str, Any],
    na: set[str],
    report: ImportReport,
) -> tuple[datetime, list[Record]]:
    if None in row:  # csv puts surplus fields under the key None
        raise _RowError("more fields than the header has")
    day_text = _cell(row, src["observed_at"], na) if "observed_at" in src else None
    try:
        seen = (
            datetime.fromisoformat(day_text).replace(tzinfo=UTC) if day_text else datetime.now(UTC)
        )
    except ValueError:
        raise _RowError(f"date {day_text!r} is not ISO 8601") from None
    handle = _cell(row, lst["vendor"], na)
    ref_raw = _cell(row, lst["ref"], na)
    title = _cell(row, lst["title"], na)
    if not handle or not ref_raw or not title:
        raise _RowError("no vendor, listing id or title")
    ref = ref_raw
    if lst.get("ref_pattern"):
        match = re.search(lst["ref_pattern"], ref_raw)
        ref = match[1] if match else ref_raw
    price = None
    if lst.get("price") and (text := _cell(row, lst["price"], na)):
        try:
            price = Decimal(text)
        except InvalidOperation:
            raise _RowError(f"price {text!r} is not a number") from None
        if not price.is_finite() or price < 0 or price > Decimal("1e12"):
            raise _RowError(f"price {text!r} is out of range")
    category = resolve_category([_cell(row, c, na) or "" for c in lst.get("category", [])])
    if category is None and lst.get("category"):
        report.unresolved["category"] += 1
    ships_from = _country(
        _cell(row, lst["ships_from"], na) if lst.get("ships_from") else None, report
    )
    ships_to = (
        tuple(
            c
            for part in re.split(r"[,/;&]| and ", _cell(row, lst["ships_to"], na) or "")
            if (c := _country(part.strip() or None, report))
        )
        if lst.get("ships_to")
        else ()
    )
    vendor = VendorAccount(market_id=market.id, handle=handle)
    listing = Listing(
        market_id=market.id,
        listing_ref=ref,
        vendor_id=vendor.id,
        title=title,
        category=category,
        price=price,
        currency=lst.get("currency"),
        ships_from=ships_from,
        ships_to=ships_to,
    )
    records: list[Record] = [vendor, listing]
    report.vendors.add(handle)
    report.listings.add(ref)
    if fb.get("column") and fb.get("format") == "agora":
        cell = row.get(fb["column"]) or ""
        day_end = seen + timedelta(days=1) if src.get("observed_precision") == "day" else seen
        repeats: Counter[tuple[object, ...]] = Counter()
        for rating, text, when, buyer in _agora_feedback(cell):
            interval = resolve_relative(when, seen, day_end)
            feedback = Feedback(
                market_id=market.id,
                vendor_id=vendor.id,
                listing_id=listing.id,
                rating=float(rating),
                text=text or None,
                buyer=buyer,
                left_after=interval[0] if interval else None,
                left_before=interval[1] if interval else None,
            )
            repeats[feedback.key()] += 1  # identical ones told apart by order, not time
            records.append(dataclasses.replace(feedback, nth=repeats[feedback.key()]))
            report.feedback += 1
    return seen, records


_EXCEPT = re.compile(r"^(worldwide|everywhere|everyplace|world wide)\s+(except|but)\b", re.I)


def _country(text: str | None, report: ImportReport) -> str | None:
    """A country or region code for a market's free text ("USA", "UK only", "Worldwide
    except Australia" -> WW, the exception not kept); None, counted, when unknown."""
    if not text:
        return None
    cleaned = re.sub(r"\(.*?\)|\bonly\b|[!.]+$", "", text, flags=re.I).strip()
    if _EXCEPT.match(cleaned):
        cleaned = "Worldwide"
    found = resolve_country(cleaned) if cleaned else None
    if found is None:
        report.unresolved["country"] += 1
        return None
    return found.code


_RATING = re.compile(r"^(\d(?:\.\d)?)/5$")
_WHEN = re.compile(r"(\d+\s+\w+\s+ago|today|yesterday)$", re.I)


def _agora_feedback(cell: str) -> list[tuple[str, str, str, str | None]]:
    """(rating, text, when, buyer) of each feedback in an Agora listing's feedback block."""
    lines = [" ".join(x.split()) for x in cell.splitlines()]
    lines = [x for x in lines if x and x != "Feedbacks:" and x != "No feedbacks found."]
    out = []
    i = 0
    while i < len(lines):
        rating = _RATING.match(lines[i])
        if not rating:
            i += 1
            continue
        j = i + 1
        text_lines = []
        while j < len(lines) and not _WHEN.search(lines[j]) and not _RATING.match(lines[j]):
            text_lines.append(lines[j])
            j += 1
        when = lines[j] if j < len(lines) and _WHEN.search(lines[j]) else ""
        buyer = (
            lines[j + 1]
            if when and j + 1 < len(lines) and not _RATING.match(lines[j + 1])
            else None
        )
        out.append((rating[1], " ".join(text_lines), when, buyer))
        i = j + (2 if buyer else 1)
    return out
