"""One row of a dump, read with a mapping, becomes a listing, its vendor and its feedback.

A row that cannot be read raises ``RowError`` with the reason (what was found, what was
expected); the importer records it and goes on. Values the row holds but the taxonomy
does not know (a category, a country, a counter it cannot find) are counted in the
report as unresolved, not errors.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from spector.errors import PageError
from spector.extract._cells import CellError, read_count, read_date, read_sold
from spector.extract._dates import resolve_relative
from spector.extract._mapping import Mapping, Value
from spector.extract._tables import Row
from spector.extract._values import choose_price, parse_amounts
from spector.model import (
    Feedback,
    Listing,
    Market,
    Record,
    VendorAccount,
    category,
    resolve_category,
    resolve_country,
)

__all__ = ["RowError", "RowReader", "Tally"]


class RowError(Exception):
    """This row cannot be imported; the message says why."""


class Tally(Protocol):
    """What the reader counts as it goes (the import report)."""

    vendors: set[str]
    listings: set[str]
    feedback: set[str]  # ids
    feedback_seen: int  # sightings
    sold_total: int
    with_sales: int

    def note_unresolved(self, what: str, text: str) -> None:
        """Count ``text``, a value of kind ``what`` the taxonomy does not know."""


_MISSING = object()
MAX_PRICE = Decimal("1e12")
_NEGATIVE = re.compile(r"(?<![\w.,])-\s?\d")


class RowReader:
    """Reads the rows of one file with ``mapping``: ``file_values`` are the named groups
    of the file name, ``now`` the moment of the import (the observation time when the
    mapping names no date)."""

    def __init__(
        self,
        mapping: Mapping,
        market: Market,
        file_values: dict[str, str],
        now: datetime,
        tally: Tally,
    ) -> None:
        self.mapping = mapping
        self.market = market
        self.file_values = file_values
        self.now = now
        self.tally = tally
        self.na = set(mapping.source.na)
        self.languages = tuple(mapping.source.languages)
        self.locale = mapping.source.locale
        self.aliases = {_fold(k): v for k, v in mapping.listing.category_aliases.items()}
        self.countries = {_fold(k): v for k, v in mapping.listing.country_aliases.items()}
        self.repeats: Counter[str] = Counter()

    # -- values ---------------------------------------------------------------------
    def text(self, spec: Value, row: Row, *, cut: bool = True) -> str | None:
        """The text ``spec`` gives for ``row`` (whitespace folded; None for no value)."""
        text: str | None
        if spec.column is not None:
            raw = row.cells.get(spec.column, _MISSING)
            if raw is _MISSING:
                raise RowError(f"column {spec.column!r} is missing in this row (short row)")
            text = " ".join(raw.split()) if isinstance(raw, str) else None
            if text in self.na:
                text = None
        elif spec.file is not None:
            text = self.file_values.get(spec.file)
        elif spec.value is not None:
            text = spec.value
        else:
            text = str(row.number)
        if text and cut and spec.regex is not None:
            match = spec.regex.search(text)
            text = _pick(match, spec.join) if match else None
        if not text and spec.fallback is not None:
            return self.text(spec.fallback, row, cut=cut)
        return text or None

    def observed(self, row: Row) -> datetime:
        spec = self.mapping.source.observed_at
        if spec is None:
            return self.now
        text = self.text(spec, row)
        if text is None:
            raise RowError(f"no date: {_describe(spec)} is empty")
        try:
            return read_date(text, spec.format, self.languages)
        except CellError as exc:
            raise RowError(str(exc)) from None

    # -- records --------------------------------------------------------------------
    def records(self, row: Row) -> tuple[datetime, list[Record]]:
        """The moment ``row`` was observed and its records; RowError when unreadable."""
        if row.problem:
            raise RowError(row.problem)
        lst = self.mapping.listing
        seen = self.observed(row)
        parts = [self.text(spec, row) for spec in lst.ref]
        for spec, part in zip(lst.ref, parts, strict=True):
            if part is None:
                raise RowError(f"no listing id: {_describe(spec)} is empty")
        handle = self.text(lst.vendor, row)
        if handle is None:
            raise RowError(f"no vendor: {_describe(lst.vendor)} is empty")
        title = self.text(lst.title, row)
        if title is None:
            raise RowError(f"no title: {_describe(lst.title)} is empty")
        price, currency, price_usd = self._price(row)
        sold = self._sold(row)
        stock = self._number(lst.stock, row, "stock")
        vendor = VendorAccount(
            market_id=self.market.id,
            handle=handle,
            level=self.text(lst.vendor_level, row) if lst.vendor_level else None,
        )
        ref = lst.ref_join.join(p for p in parts if p)
        if lst.ref_repeats == "numbered":
            self.repeats[ref] += 1  # counted only for rows that are read
            if self.repeats[ref] > 1:
                ref = f"{ref} #{self.repeats[ref]}"
        listing = Listing(
            market_id=self.market.id,
            listing_ref=ref,
            vendor_id=vendor.id,
            title=title,
            category=self._category(row),
            price=price,
            currency=currency,
            price_usd=price_usd,
            ships_from=self._country(self.text(lst.ships_from, row) if lst.ships_from else None),
            ships_to=self._ships_to(row),
            url=self.text(lst.url, row) if lst.url else None,
            sold_count=sold[0] if sold else None,
            sold_since=sold[1] if sold else None,
            stock=stock,
        )
        records: list[Record] = [vendor, listing, *self._feedback(row, seen, vendor, listing)]
        self.tally.vendors.add(handle)
        self.tally.listings.add(listing.id)
        if sold:
            self.tally.sold_total += sold[0]
            self.tally.with_sales += sold[0] > 0
        return seen, records

    def _price(self, row: Row) -> tuple[Decimal | None, str | None, Decimal | None]:
        """(price, currency, price_usd), read as page templates read prices: one price
        per currency when the text shows two; price/currency take the amount in the
        mapping's currency when it is shown, else the first; price_usd the USD one."""
        lst = self.mapping.listing
        text = self.text(lst.price, row) if lst.price else None
        if text is None:
            return None, None, None
        try:
            amounts = parse_amounts(text, locale=self.locale, currency=lst.currency)
        except PageError:
            raise RowError(f"price {text!r} is not a number") from None
        if _NEGATIVE.search(text) or any(a.value > MAX_PRICE for a in amounts):
            raise RowError(f"price {text!r} is out of range (0 to 10^12)")
        return choose_price(amounts, lst.currency)

    def _sold(self, row: Row) -> tuple[int, datetime | None] | None:
        spec = self.mapping.listing.sold
        if spec is None:
            return None
        own = spec.regex is not None and "count" in spec.regex.groupindex
        text = self.text(spec, row, cut=not own)
        if text is None:
            return None
        try:
            found = read_sold(text, spec.regex if own else None, self.languages)
        except CellError as exc:
            raise RowError(f"sold counter {text[:80]!r}: {exc}") from None
        if found is None:
            self.tally.note_unresolved("sold", text)
        return found

    def _number(self, spec: Value | None, row: Row, name: str) -> int | None:
        text = self.text(spec, row) if spec else None
        if text is None:
            return None
        try:
            return read_count(text, name)
        except CellError:
            self.tally.note_unresolved(name, text)
            return None

    def _category(self, row: Row) -> str | None:
        specs = self.mapping.listing.category
        if not specs:
            return None
        path = [self.text(spec, row) or "" for spec in specs]
        found = self._resolve_path(path) if self.aliases else resolve_category(path)
        if found is None:
            self.tally.note_unresolved("category", " > ".join(p for p in path if p))
        return found

    def _resolve_path(self, path: list[str]) -> str | None:
        """The taxonomy code of a market's category path with the mapping's aliases: each
        name is an alias or what the taxonomy makes of it inside the branch so far."""
        best: str | None = None
        for name in path:
            if not name or name in self.na:
                continue
            code = self.aliases.get(_fold(name))
            if code is None:
                code = resolve_category([category(best).label, name] if best else [name])
            if code and (best is None or code == best or code.startswith(best + ".")):
                best = code
        return best

    def _country(self, text: str | None) -> str | None:
        """A country or region code for a market's free text ("USA", "UK only", "Worldwide
        except Australia" -> WW, the exception not kept): the mapping's country_aliases
        first, then the taxonomy's names; None, counted with the text, when unknown."""
        if not text:
            return None
        cleaned = re.sub(r"\(.*?\)|\bonly\b|[!.]+$", "", text, flags=re.I).strip()
        alias = self.countries.get(_fold(text)) or self.countries.get(_fold(cleaned))
        if alias is not None:
            return alias
        if _EXCEPT.match(cleaned):
            cleaned = "Worldwide"
        found = resolve_country(cleaned) if cleaned else None
        if found is None:
            self.tally.note_unresolved("country", text)
            return None
        return found.code

    def _ships_to(self, row: Row) -> tuple[str, ...]:
        spec = self.mapping.listing.ships_to
        text = self.text(spec, row) if spec else None
        if not text:
            return ()
        parts = re.split(r"[,/;&]| and ", text)
        return tuple(c for part in parts if (c := self._country(part.strip() or None)))

    def _feedback(
        self, row: Row, seen: datetime, vendor: VendorAccount, listing: Listing
    ) -> list[Record]:
        fb = self.mapping.feedback
        if fb is None:
            return []
        cell = row.cells.get(fb.column) or ""
        precision = self.mapping.source.observed_precision
        day_end = seen + timedelta(days=1) if precision == "day" else seen
        repeats: Counter[tuple[object, ...]] = Counter()
        out: list[Record] = []
        for rating, text, when, buyer in agora_feedback(cell):
            interval = resolve_relative(when, seen, day_end)
            feedback = Feedback(
                market_id=self.market.id,
                vendor_id=vendor.id,
                listing_id=listing.id,
                rating=float(rating),
                text=text or None,
                buyer=buyer,
                left_after=interval[0] if interval else None,
                left_before=interval[1] if interval else None,
            )
            repeats[feedback.key()] += 1  # identical ones told apart by order, not time
            out.append(dataclasses.replace(feedback, nth=repeats[feedback.key()]))
        self.tally.feedback.update(f.id for f in out)
        self.tally.feedback_seen += len(out)
        return out


def _pick(match: re.Match[str], join: str) -> str | None:
    """A pattern's result: its group "value", else its groups joined, else the match."""
    if "value" in match.re.groupindex:
        found = match["value"]
    elif match.re.groups:
        found = join.join(g for g in match.groups() if g)
    else:
        found = match[0]
    return " ".join(found.split()) if found else None


def _describe(spec: Value) -> str:
    if spec.column is not None:
        where = f"column {spec.column!r}"
    elif spec.file is not None:
        where = f"file name group {spec.file!r}"
    else:
        where = "the mapping's value"
    return where + (" (after its pattern)" if spec.pattern else "")


def _fold(name: str) -> str:
    """Category names compared as a person would: case, underscores, spacing ignored."""
    return " ".join(name.replace("_", " ").casefold().split())


_EXCEPT = re.compile(r"^(worldwide|everywhere|everyplace|world wide)\s+(except|but)\b", re.I)
_RATING = re.compile(r"^(\d(?:\.\d)?)/5$")
_WHEN = re.compile(r"(\d+\s+\w+\s+ago|today|yesterday)$", re.I)


def agora_feedback(cell: str) -> list[tuple[str, str, str, str | None]]:
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
