"""Pricing a feedback whose listing was never seen, by the item title its row shows.

A vendor's "All feedback" page lists feedback of listings gone before the crawl (so no
price of theirs was ever seen), and most markets name the item bought on each row
(``Feedback.item``). ``TitlePricer`` prices such a feedback in this order:

1. **By title** (``priced_by_title``): a listing of the same vendor on the same market
   whose title, in any crawl (the listing's current title or any in its statements
   history), equals the item's after folding case and whitespace. Several: the one whose
   sighting [first_seen, last_seen] lies nearest the feedback's date. The feedback is then
   priced as that listing at that time (its price in force then).
2. **By unit price** (``priced_by_unit``): the item's quantity and unit are read from the
   title (``parse_quantity``: "25шт", "3.5g", "10 pcs", "1,5 г") and it is priced at that
   quantity times the mean price per unit of the vendor's listings of the same product:
   its listings of that unit whose titles, the quantity taken out, share the most words
   with the item's (a word-set Jaccard of at least ``MIN_STEM_SIMILARITY``); else its
   listings of the item's category and unit. The category is that of the most similar
   title among the vendor's listings, or among the market's when one there is more
   similar (a vendor's "Medication O" says little of its "Medication B"). With no vendor
   listing of the category and unit, the market's listings of them give the unit price.
   The interval is the cheapest to dearest of those per-unit prices times the quantity.
3. Otherwise the caller prices it at the vendor's mean (``priced_by_vendor_mean``).

A listing's quantity and unit are its own fields when the page shows them, else read
from its title the same way (a market that shows the quantity only in the title).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

__all__ = [
    "MIN_STEM_SIMILARITY",
    "TitlePricer",
    "UnitGuess",
    "normalise_title",
    "parse_quantity",
    "stem_words",
]

MIN_STEM_SIMILARITY = 0.5

# Units as titles write them, to (canonical unit, factor to it).
_UNIT_WORDS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("g", 1.0, ("g", "gr", "grs", "gram", "grams", "gramm", "г", "гр", "грамм")),
    ("g", 1000.0, ("kg", "kilo", "kilos", "кг")),
    ("g", 0.001, ("mg", "мг")),
    ("g", 28.349523125, ("oz", "ounce", "ounces")),
    ("ml", 1.0, ("ml", "мл")),
    ("ml", 1000.0, ("l", "л")),
    ("pcs", 1.0, (
        "pcs", "pc", "piece", "pieces", "x", "tab", "tabs", "tablet", "tablets", "pill",
        "pills", "caps", "capsules", "blotters", "шт", "штук", "таб",
    )),
)  # fmt: skip
_UNITS: dict[str, tuple[str, float]] = {
    word: (unit, factor) for unit, factor, words in _UNIT_WORDS for word in words
}
_QUANTITY = re.compile(
    r"(?<![\w.,])(?P<n>\d+(?:[.,]\d+)?)\s?(?P<u>"
    + "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
    + r")(?!\w)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def normalise_title(text: str | None) -> str:
    """``text`` with case folded and whitespace collapsed ("" for None)."""
    return " ".join((text or "").casefold().split())


def parse_quantity(title: str | None) -> tuple[float, str] | None:
    """The first quantity with a unit in ``title`` as (amount, canonical unit): "25шт" is
    (25, "pcs"), "3.5g" (3.5, "g"), "1,5 г" (1.5, "g"), "1kg" (1000, "g"); None without."""
    match = _QUANTITY.search(title or "")
    if match is None:
        return None
    unit, factor = _UNITS[match["u"].casefold()]
    amount = float(match["n"].replace(",", ".")) * factor
    return (amount, unit) if amount > 0 else None


def canonical_unit(quantity: float | None, unit: str | None) -> tuple[float, str] | None:
    """A listing's own (quantity, unit) in canonical units; None when either is missing."""
    if not quantity or not unit:
        return None
    found = _UNITS.get(unit.casefold().strip())
    if found is None:
        return (quantity, unit.casefold().strip())
    return (quantity * found[1], found[0])


def stem_words(title: str | None) -> frozenset[str]:
    """The words of ``title`` (case folded) without its quantity: what names the product."""
    text = _QUANTITY.sub(" ", normalise_title(title))
    return frozenset(w for w in _WORD.findall(text) if not w.isdigit())


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


class Listed(Protocol):
    """What the pricer reads of a listing (``spector.economics._sales.ListingInfo``)."""

    listing_id: str
    market_id: str
    vendor_id: str | None
    category: str | None
    quantity: float | None
    unit: str | None
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class UnitGuess:
    """A price from the per-unit prices of peers: ``price_usd`` (mean per unit times the
    quantity), its interval, and the category of the peers it was taken from."""

    price_usd: float
    low: float
    high: float
    category: str | None


@dataclass(frozen=True, slots=True)
class _Peer:
    listing_id: str
    vendor_id: str | None
    category: str | None
    unit: str
    per_unit: float
    words: frozenset[str]


class TitlePricer:
    """Listings by (market, vendor) and by normalised title, for the rule of the module
    docstring. ``titles`` maps listing id -> every title it was seen with, its current
    one first; ``sighted`` -> (first_seen, last_seen); ``ordinary`` -> its last ordinary
    price (None: none)."""

    def __init__(
        self,
        listings: Mapping[str, Listed],
        titles: dict[str, list[str]],
        sighted: dict[str, tuple[datetime, datetime]],
        ordinary: dict[str, float | None],
    ) -> None:
        self.listings = listings
        self.sighted = sighted
        self.by_title: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        self.peers: dict[str, list[_Peer]] = defaultdict(list)  # market -> its listings
        for lid, x in listings.items():
            names = titles.get(lid, [])
            if x.vendor_id is not None:
                for name in {normalise_title(t) for t in names if t}:
                    self.by_title[(x.market_id, x.vendor_id, name)].append(lid)
            usd = ordinary.get(lid)
            latest = names[0] if names else None
            qty = canonical_unit(x.quantity, x.unit) or parse_quantity(latest)
            if usd is None or usd <= 0 or qty is None:
                continue
            self.peers[x.market_id].append(
                _Peer(lid, x.vendor_id, x.category, qty[1], usd / qty[0], stem_words(latest))
            )
        for ids in self.by_title.values():
            ids.sort()

    def listing_by_title(
        self, market_id: str, vendor_id: str | None, item: str | None, moment: datetime
    ) -> str | None:
        """The id of the vendor's listing titled ``item`` nearest ``moment`` (rule 1)."""
        if vendor_id is None or not item:
            return None
        found = self.by_title.get((market_id, vendor_id, normalise_title(item)))
        if not found:
            return None

        def distance(lid: str) -> timedelta:
            first, last = self.sighted[lid]
            if first <= moment <= last:
                return timedelta(0)
            return min(abs(first - moment), abs(moment - last))

        return min(found, key=lambda lid: (distance(lid), lid))

    def by_unit(self, market_id: str, vendor_id: str | None, item: str | None) -> UnitGuess | None:
        """The item's price from its quantity and the per-unit prices of its product
        (rule 2); None when the title shows no quantity or nothing of the kind is known."""
        qty = parse_quantity(item)
        if qty is None or vendor_id is None:
            return None
        amount, unit = qty
        words = stem_words(item)
        market = [p for p in self.peers.get(market_id, []) if p.unit == unit]
        mine = [p for p in market if p.vendor_id == vendor_id]
        scored = [(_jaccard(words, p.words), p) for p in mine]
        best = max((s for s, _ in scored), default=0.0)
        if best >= MIN_STEM_SIMILARITY:
            return _guess([p for s, p in scored if s == best], amount, None)
        category = self._category(words, mine, market)
        if category is None:
            return None
        for peers in (mine, market):
            same = [p for p in peers if p.category == category]
            if same:
                return _guess(same, amount, category)
        return None

    @staticmethod
    def _category(words: frozenset[str], mine: list[_Peer], market: list[_Peer]) -> str | None:
        """The category of the most similar title: the vendor's unless one of the market's
        is more similar; ties go to the most listings, then the category's name."""
        for peers, floor in ((mine, _best(words, market)), (market, 0.0)):
            best = _best(words, peers)
            if best <= 0 or best < floor:
                continue
            votes: dict[str, int] = defaultdict(int)
            for p in peers:
                if p.category is not None and _jaccard(words, p.words) == best:
                    votes[p.category] += 1
            if votes:
                return min(votes, key=lambda c: (-votes[c], c))
        return None


def _best(words: frozenset[str], peers: list[_Peer]) -> float:
    return max((_jaccard(words, p.words) for p in peers), default=0.0)


def _guess(peers: list[_Peer], amount: float, category: str | None) -> UnitGuess:
    """The mean per-unit price of ``peers`` times ``amount``; the category given, else the
    peers' most common one."""
    units = [p.per_unit for p in peers]
    if category is None:
        votes: dict[str, int] = defaultdict(int)
        for p in peers:
            if p.category is not None:
                votes[p.category] += 1
        category = min(votes, key=lambda c: (-votes[c], c)) if votes else None
    return UnitGuess(statistics.fmean(units) * amount, min(units) * amount,
                     max(units) * amount, category)  # fmt: skip
