"""Sales evidence read from the store: one sale per feedback, and the markets' own counters.

Christin (2013) and Soska & Christin (2015) count one sale per feedback, at the price the
listing had when the feedback was left. ``read_sales`` does that, and where a listing shows
"N sold since DATE" it takes the counter instead (the market's own count of those sales):

- **Price at the time.** A listing's ``price_usd`` history is its statements (every value
  it was ever observed with, with first/last seen). A feedback whose listing is known
  takes the observation in force when it was left (the latest one first seen at or
  before the middle of its date interval; the earliest one when it predates them all).
  With one observation that is the listing's current price.
- **Holding prices** (an absurd placeholder while out of stock, e.g. $99,999 for a $20
  item) are recognised by ``is_holding``: a price per unit at least ``HOLDING_FACTOR``
  (50) times the median of the same vendor's other listings of the category and unit (at
  least ``MIN_VENDOR_PEERS`` of them), or else ``HOLDING_MARKET_FACTOR`` (200) times the
  median of the market's other listings of the category and unit (at least
  ``MIN_MARKET_PEERS``: a market's category mixes $100 and $10,000 goods, as AlphaBay's
  "Jewels & gold" does, so its bar is higher), and at least ``HOLDING_FLOOR_USD``; or a
  placeholder-looking number (``PLACEHOLDER``: 9999, 99999.99, 999999... in the listing's
  own currency or in USD) of at least ``HOLDING_FLOOR_USD`` that is at least
  ``PLACEHOLDER_FACTOR`` times its peers' median (any number of peers, or none); or any
  price of ``HOLDING_CEILING_USD`` or more. (A $10,000 listing beside a $100 one of the
  same vendor, as AlphaBay's cash sellers had, is not a placeholder: it fails all three.) A
  sale at a holding price takes the listing's last ordinary price observed before it (or
  the first one after: ``holding_priced_from_history``). With none ever observed its
  price is unknown: it is **imputed** (``impute_price``) at the median price per unit of
  the vendor's other listings of the same category and unit on that market, times the
  listing's quantity (else the market's median for the category and unit), with the
  lowest and highest of those peers as its interval. Such sales go to
  ``Evidence.held``, not ``Evidence.sales``, and are counted in ``holding_prices`` (the
  issue: holding prices excluded and counted; `estimate` reports their revenue at the
  imputed price, and adds them in with ``impute_holding=True``). With no peer at all they
  are ``no_price``.
- **Feedback without a listing** (shown on the vendor's page, its listing gone, so no
  price was ever seen for it) is priced by the item title its row shows
  (``Feedback.item``; the rule is ``spector.economics._titles``): as the vendor's listing
  of that exact title, at that time (``priced_by_title``), else at the quantity its title
  shows times the vendor's price per unit of that product (``priced_by_unit``). Without
  either it is priced at the **mean** of the vendor's ordinary listing prices on that
  market (``priced_by_vendor_mean``): the expected price of a sale of one of its
  listings, as revenue is a sum (the median of a catalogue of right-skewed prices, 1 g
  beside 25 g, runs low); its interval is the vendor's cheapest to dearest listing. A
  title-matched listing's counter counts the feedback (in its window) only when that
  listing was gone when the feedback was first seen: a listing still shown then would
  have been linked, so it is a namesake, not the feedback's own. Other feedback without
  a listing is never taken as counted by a sold counter (``CounterIndex``).
- **Duplicates.** The store already merges a feedback seen again (its stable id). What a
  stable id cannot merge is one feedback stored under two ids: once with the market's
  feedback id and once without, or once from its listing's page and once from the
  vendor's page without the listing, or by two sources. Two rows are one feedback when
  market, vendor, buyer, rating and text are equal, their listings and feedback ids are
  equal or one is missing, their dates overlap (within a day) and they come from
  different sources or differ in what they show; rows of one source alike in all of it
  are distinct feedback (the ``nth`` of the id), never merged.
- **Dates.** A feedback is dated by its [left_after, left_before] interval (relative dates
  were resolved at extraction); one with neither is dated at its first sighting (an upper
  bound) and counted. A counter's sales are spread over [sold_since, the counter's last
  sighting] (the listing's first sighting when the market shows no date).
- **Counters.** A listing showing "N sold" counts its own sales: a feedback on it left
  inside the counter's window is one of them (``counted_by_counters``), not a sale of
  its own. Only its own listing's counter takes a feedback: one shown without its
  listing may be of a listing gone before the crawl, whose sales no counter it saw holds
  (on a market whose vendor pages never name the listing, such feedback of a countered
  listing is counted twice: ``priced_by_vendor_mean`` says how many there are).

Nothing is written; bad rows are counted in ``Evidence.excluded``, never raised.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from spector.economics._titles import TitlePricer
from spector.store import Store

__all__ = [
    "HOLDING_CEILING_USD",
    "HOLDING_FACTOR",
    "HOLDING_FLOOR_USD",
    "HOLDING_MARKET_FACTOR",
    "MIN_MARKET_PEERS",
    "MIN_VENDOR_PEERS",
    "PLACEHOLDER",
    "CounterIndex",
    "Evidence",
    "FeedbackRow",
    "ListingInfo",
    "Sale",
    "is_holding",
    "looks_placeholder",
    "read_sales",
]

HOLDING_FACTOR = 50.0
HOLDING_MARKET_FACTOR = 200.0
HOLDING_FLOOR_USD = 500.0
HOLDING_CEILING_USD = 1_000_000.0
MIN_VENDOR_PEERS = 2
PLACEHOLDER = re.compile(r"9{4,}(\.9*0*)?|9{4,}\.0*")
PLACEHOLDER_FACTOR = 10.0
MIN_MARKET_PEERS = 5
_SLACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PriceObservation:
    first_seen: datetime
    last_seen: datetime
    usd: float
    native: str | None = None  # the price in the listing's currency, as stored, when known


@dataclass(slots=True)
class ListingInfo:
    listing_id: str
    market_id: str
    vendor_id: str | None
    category: str | None
    ships_from: str | None
    quantity: float | None
    unit: str | None
    first_seen: datetime
    sold_count: int | None
    sold_since: datetime | None
    counter_seen: datetime | None  # when the counter's current value was last seen
    last_seen: datetime | None = None
    prices: list[PriceObservation] = field(default_factory=list)  # by first_seen
    holding: list[bool] = field(default_factory=list)  # per price observation


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    feedback_id: str
    market_id: str
    vendor_id: str | None
    listing_id: str | None
    feedback_ref: str | None
    rating: float | None
    text: str | None
    buyer: str | None
    left_after: datetime | None
    left_before: datetime | None
    source: str
    first_seen: datetime
    item: str | None = None  # the item's title as the row shows it

    @property
    def interval(self) -> tuple[datetime, datetime]:
        start = self.left_after or self.left_before or self.first_seen
        end = self.left_before or self.first_seen
        return (min(start, end), max(start, end))

    @property
    def moment(self) -> datetime:
        start, end = self.interval
        return start + (end - start) / 2


@dataclass(frozen=True, slots=True)
class Sale:
    """Sales evidence: ``count`` sales (1 for a feedback) at ``price_usd`` each, dated
    somewhere in [start, end]. ``kind`` is "feedback" (scaled by the feedback rate later)
    or "counter" (the market's own count, taken as is)."""

    kind: str
    market_id: str
    vendor_id: str | None
    listing_id: str | None
    category: str | None
    ships_from: str | None
    price_usd: float
    count: float
    start: datetime
    end: datetime
    price_low: float | None = None  # an estimated price's interval (None: price_usd)
    price_high: float | None = None
    basis: str = "listing"  # "listing", "title", "unit price", "vendor mean", "imputed"

    @property
    def low(self) -> float:
        return self.price_usd if self.price_low is None else self.price_low

    @property
    def high(self) -> float:
        return self.price_usd if self.price_high is None else self.price_high


@dataclass
class Evidence:
    """What ``read_sales`` found: the sales, the listings and feedback they came from,
    the sales of holding-price listings at an imputed price (``held``: set aside), and
    the counts of what was set aside or estimated (``excluded``)."""

    sales: list[Sale]
    listings: dict[str, ListingInfo]
    feedback: list[FeedbackRow]  # de-duplicated
    vendors: dict[str, tuple[str, str, str | None]]  # id -> (market_id, handle, ships_from)
    markets: dict[str, tuple[str, str | None]]  # id -> (name, status)
    excluded: dict[str, int]
    held: list[Sale] = field(default_factory=list)


def looks_placeholder(value: str | float | None) -> bool:
    """A number of the form a seller types to mean "not for sale": 9999, 99999.99..."""
    if value is None:
        return False
    text = f"{Decimal(str(value)):f}"
    return PLACEHOLDER.fullmatch(text) is not None


def is_holding(
    observation: PriceObservation,
    unit_price: float,
    peers: list[float],
    factor: float = HOLDING_FACTOR,
    min_peers: int = MIN_VENDOR_PEERS,
) -> bool:
    """The rule of the module docstring for one price observation (``unit_price`` per
    unit, against the per-unit prices of its ``peers``; ``factor`` and ``min_peers`` the
    bar for those peers)."""
    usd = observation.usd
    if usd >= HOLDING_CEILING_USD:
        return True
    if usd < HOLDING_FLOOR_USD:
        return False
    median = statistics.median(peers) if peers else None
    if looks_placeholder(observation.native) or looks_placeholder(usd):
        return median is None or median <= 0 or unit_price >= PLACEHOLDER_FACTOR * median
    if median is None or median <= 0 or len(peers) < min_peers:
        return False
    return unit_price >= factor * median


def read_sales(store: Store) -> Evidence:
    """The sales evidence of the store (see the module docstring)."""
    listings = _listings(store)
    _mark_holding(listings)
    vendors = {
        str(r[0]): (str(r[1]), str(r[2]), r[3])
        for r in store.con.execute(
            "SELECT id, market_id, handle, ships_from FROM vendor_accounts"
        ).fetchall()
    }
    markets = {
        str(r[0]): (str(r[1]), r[2])
        for r in store.con.execute("SELECT id, name, status FROM markets").fetchall()
    }
    excluded: dict[str, int] = defaultdict(int)
    rows = _feedback(store)
    excluded["undated"] = sum(1 for f in rows if f.left_after is None and f.left_before is None)
    feedback, excluded["duplicates"] = dedupe(rows)
    excluded["holding_listings"] = sum(1 for x in listings.values() if x.holding and x.holding[-1])
    catalogue = _vendor_prices(listings)
    peers = _Peers(listings)
    titled = TitlePricer(
        listings,
        _titles(store, listings),
        {lid: (x.first_seen, x.last_seen or x.first_seen) for lid, x in listings.items()},
        {lid: _ordinary(x) for lid, x in listings.items()},
    )
    counters = CounterIndex(listings)
    sales: list[Sale] = []
    held: list[Sale] = []

    def priced(
        listing: ListingInfo,
        vendor_id: str | None,
        moment: datetime,
        count: float,
        kind: str,
        start: datetime,
        end: datetime,
    ) -> None:
        price = _price_at(listing, moment)
        if price is not None:
            if listing.holding[_in_force(listing, moment)]:
                excluded["holding_priced_from_history"] += int(count)
            sales.append(_sale(kind, listing, vendor_id, vendors, price, count, start, end))
            return
        guess = peers.impute(listing) if listing.prices else None
        if guess is None:
            excluded["no_price"] += int(count)
            return
        excluded["holding_prices"] += int(count)
        mid, lo, hi = guess
        held.append(
            _sale(kind, listing, vendor_id, vendors, mid, count, start, end, lo, hi, "imputed")
        )  # fmt: skip

    for f in feedback:
        listing = listings.get(f.listing_id) if f.listing_id else None
        if counters.listing_for(f) is not None:
            excluded["counted_by_counters"] += 1
            continue
        start, end = f.interval
        vendor_id = f.vendor_id or (listing.vendor_id if listing else None)
        if listing is not None:
            priced(listing, vendor_id, f.moment, 1, "feedback", start, end)
            continue
        named = titled.listing_by_title(f.market_id, vendor_id, f.item, f.moment)
        if named is not None:
            listing = listings[named]
            if (listing.last_seen or listing.first_seen) < f.first_seen and counters.listing_for(
                dataclasses.replace(f, listing_id=named)
            ):  # its own listing, gone by then, whose counter holds the sale
                excluded["counted_by_counters"] += 1
                continue
            excluded["priced_by_title"] += 1
            priced(listing, vendor_id, f.moment, 1, "feedback", start, end)
            continue
        ships = vendors[vendor_id][2] if vendor_id in vendors else None
        guess = titled.by_unit(f.market_id, vendor_id, f.item)
        if guess is not None:
            excluded["priced_by_unit"] += 1
            sales.append(
                Sale("feedback", f.market_id, vendor_id, None, guess.category, ships,
                     guess.price_usd, 1, start, end, guess.low, guess.high, "unit price")
            )  # fmt: skip
            continue
        prices = catalogue.get((f.market_id, vendor_id)) if vendor_id else None
        if not prices:
            excluded["no_price"] += 1
            continue
        excluded["priced_by_vendor_mean"] += 1
        sales.append(
            Sale("feedback", f.market_id, vendor_id, None, None, ships,
                 statistics.fmean(prices), 1, start, end, min(prices), max(prices), "vendor mean")
        )  # fmt: skip
    for lid in sorted(lid for lid, x in listings.items() if _has_counter(x)):
        listing = listings[lid]
        seen = listing.counter_seen or listing.first_seen
        if listing.sold_count:
            start = min(listing.sold_since or listing.first_seen, seen)
            priced(listing, listing.vendor_id, seen, listing.sold_count, "counter", start, seen)
    keys = (
        "counted_by_counters", "duplicates", "holding_listings", "holding_prices",
        "holding_priced_from_history", "no_price", "priced_by_title", "priced_by_unit",
        "priced_by_vendor_mean", "undated",
    )  # fmt: skip
    for key in keys:
        excluded.setdefault(key, 0)
    return Evidence(
        sales, listings, feedback, vendors, markets, dict(sorted(excluded.items())), held
    )


def _has_counter(x: ListingInfo) -> bool:
    return x.sold_count is not None and x.counter_seen is not None


def _in_window(x: ListingInfo, moment: datetime) -> bool:
    return (x.sold_since or datetime.min) <= moment <= (x.counter_seen or datetime.min)


class CounterIndex:
    """Which listing's "N sold" counter already counts a feedback's sale: its own
    listing's, when the listing shows a counter and the feedback falls in its window.
    A feedback shown without its listing (on a vendor's page) is no counter's: the
    counters the crawl saw are of the listings it saw, and such feedback is most often of
    a listing gone by then, whose sales none of them holds (taking it by its date, as an
    earlier rule did, dropped those sales: a quarter of a counter market's feedback on
    the range)."""

    def __init__(self, listings: dict[str, ListingInfo]) -> None:
        self.listings = listings

    def listing_for(self, f: FeedbackRow) -> ListingInfo | None:
        if not f.listing_id:
            return None
        x = self.listings.get(f.listing_id)
        return x if x is not None and _has_counter(x) and _in_window(x, f.moment) else None


def _sale(
    kind: str,
    listing: ListingInfo,
    vendor_id: str | None,
    vendors: dict[str, tuple[str, str, str | None]],
    price: float,
    count: float,
    start: datetime,
    end: datetime,
    low: float | None = None,
    high: float | None = None,
    basis: str = "listing",
) -> Sale:
    ships = listing.ships_from or (vendors[vendor_id][2] if vendor_id in vendors else None)
    return Sale(
        kind,
        listing.market_id,
        vendor_id,
        listing.listing_id,
        listing.category,
        ships,
        price,
        count,
        start,
        end,
        low,
        high,
        basis,
    )


def _decimal(value: object) -> float | None:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return float(number) if number.is_finite() and number >= 0 else None


def _listings(store: Store) -> dict[str, ListingInfo]:
    con = store.con
    result: dict[str, ListingInfo] = {}
    for row in con.execute(
        "SELECT id, market_id, vendor_id, category, ships_from, quantity, unit, first_seen, "
        "sold_count, sold_since, price_usd, last_seen, price FROM listings"
    ).fetchall():
        lid = str(row[0])
        result[lid] = ListingInfo(
            listing_id=lid,
            market_id=str(row[1]),
            vendor_id=row[2],
            category=row[3],
            ships_from=row[4],
            quantity=float(row[5]) if row[5] is not None and row[5] > 0 else None,
            unit=row[6],
            first_seen=row[7],
            sold_count=int(row[8]) if row[8] is not None and row[8] >= 0 else None,
            sold_since=row[9],
            counter_seen=row[11] if row[8] is not None else None,
            last_seen=row[11],
        )
        if row[10] is not None:  # the current price; statements refine it below
            shown = str(row[12]) if row[12] is not None else None
            result[lid].prices.append(PriceObservation(row[7], row[11], float(row[10]), shown))
    history: dict[str, list[PriceObservation]] = defaultdict(list)
    for entity, value, first, last in con.execute(
        "SELECT entity_id, value, min(first_seen), max(last_seen) FROM statements "
        "WHERE entity_table = 'listings' AND prop = 'price_usd' GROUP BY entity_id, value"
    ).fetchall():
        amount = _decimal(json.loads(value))
        if amount is not None and entity in result:
            history[entity].append(PriceObservation(first, last, amount))
    native: dict[tuple[str, datetime], str] = {}
    for entity, value, first in con.execute(
        "SELECT entity_id, value, min(first_seen) FROM statements "
        "WHERE entity_table = 'listings' AND prop = 'price' GROUP BY entity_id, value"
    ).fetchall():
        native[(entity, first)] = str(json.loads(value))
    for entity, observations in history.items():
        result[entity].prices = sorted(
            (
                PriceObservation(
                    p.first_seen, p.last_seen, p.usd, native.get((entity, p.first_seen))
                )
                for p in observations
            ),
            key=lambda p: (p.first_seen, p.last_seen),
        )
    for entity, seen in con.execute(
        "SELECT s.entity_id, max(s.last_seen) FROM statements s JOIN listings l "
        "ON l.id = s.entity_id WHERE s.entity_table = 'listings' AND s.prop = 'sold_count' "
        "AND s.value = to_json(l.sold_count)::VARCHAR GROUP BY s.entity_id"
    ).fetchall():
        result[entity].counter_seen = seen
    return result


def _unit_price(listing: ListingInfo, usd: float) -> float:
    return usd / listing.quantity if listing.quantity else usd


def _mark_holding(listings: dict[str, ListingInfo]) -> None:
    """Flag each price observation of each listing by ``is_holding`` against its peers'
    current per-unit prices (the listing itself left out). A placeholder-looking price is
    no peer: a vendor holding all its listings at 999999 would otherwise make each of
    them look ordinary beside the others."""
    by_vendor: dict[tuple[object, ...], list[tuple[str, float]]] = defaultdict(list)
    by_market: dict[tuple[object, ...], list[tuple[str, float]]] = defaultdict(list)
    for x in listings.values():
        if not x.prices or x.prices[-1].usd <= 0:
            continue
        last = x.prices[-1]
        if last.usd >= HOLDING_FLOOR_USD and (
            looks_placeholder(last.native) or looks_placeholder(last.usd)
        ):
            continue
        unit = _unit_price(x, x.prices[-1].usd)
        by_vendor[(x.market_id, x.vendor_id, x.category, x.unit)].append((x.listing_id, unit))
        by_market[(x.market_id, x.category, x.unit)].append((x.listing_id, unit))
    for x in listings.values():
        vendor_peers = [
            u for lid, u in by_vendor[(x.market_id, x.vendor_id, x.category, x.unit)]
            if lid != x.listing_id
        ]  # fmt: skip
        market_peers = [
            u for lid, u in by_market[(x.market_id, x.category, x.unit)] if lid != x.listing_id
        ]
        if x.vendor_id is not None and len(vendor_peers) >= MIN_VENDOR_PEERS:
            peers, factor, least = vendor_peers, HOLDING_FACTOR, MIN_VENDOR_PEERS
        elif len(market_peers) >= MIN_MARKET_PEERS:
            peers, factor, least = market_peers, HOLDING_MARKET_FACTOR, MIN_MARKET_PEERS
        else:
            peers, factor, least = vendor_peers or market_peers, HOLDING_FACTOR, 1 << 30
        x.holding = [is_holding(p, _unit_price(x, p.usd), peers, factor, least) for p in x.prices]


def _in_force(listing: ListingInfo, moment: datetime) -> int:
    """The index of the price observation in force at ``moment`` (the latest first seen
    at or before it; the first when it predates them all). ``listing.prices`` not empty."""
    index = 0
    for i, p in enumerate(listing.prices):
        if p.first_seen <= moment:
            index = i
    return index


def _price_at(listing: ListingInfo, moment: datetime) -> float | None:
    """The listing's ordinary price in force at ``moment`` (see the module docstring);
    None when every price it was seen with is a holding price (or it has none)."""
    if not listing.prices:
        return None
    index = _in_force(listing, moment)
    for i in range(index, -1, -1):  # a holding price: the last ordinary one before it
        if not listing.holding[i]:
            return listing.prices[i].usd
    for i in range(index + 1, len(listing.prices)):  # none before: the next one seen
        if not listing.holding[i]:
            return listing.prices[i].usd
    return None


def _ordinary(x: ListingInfo) -> float | None:
    """The listing's last ordinary (not holding) price, None without one."""
    ordinary = [p.usd for p, h in zip(x.prices, x.holding, strict=True) if not h]
    return ordinary[-1] if ordinary else None


def _vendor_prices(listings: dict[str, ListingInfo]) -> dict[tuple[str, str], list[float]]:
    """(market, vendor) -> the last ordinary price of each of its listings."""
    prices: dict[tuple[str, str], list[float]] = defaultdict(list)
    for x in listings.values():
        usd = _ordinary(x) if x.vendor_id is not None else None
        if usd is not None and x.vendor_id is not None:
            prices[(x.market_id, x.vendor_id)].append(usd)
    return prices


class _Peers:
    """Prices per unit of the ordinary listings, by (market, vendor, category, unit) and
    by (market, category, unit), to impute a holding-price listing's price."""

    def __init__(self, listings: dict[str, ListingInfo]) -> None:
        self.vendor: dict[tuple[object, ...], list[tuple[str, float]]] = defaultdict(list)
        self.market: dict[tuple[object, ...], list[tuple[str, float]]] = defaultdict(list)
        for x in listings.values():
            usd = _ordinary(x)
            if usd is None or usd <= 0:
                continue
            unit = _unit_price(x, usd)
            self.vendor[(x.market_id, x.vendor_id, x.category, x.unit)].append((x.listing_id, unit))
            self.market[(x.market_id, x.category, x.unit)].append((x.listing_id, unit))

    def impute(self, x: ListingInfo) -> tuple[float, float, float] | None:
        """(median, lowest, highest) price of ``x`` from its peers' prices per unit times
        its quantity: the vendor's listings of its category and unit on its market, else
        the market's; None with neither."""
        for peers in (
            self.vendor.get((x.market_id, x.vendor_id, x.category, x.unit), [])
            if x.vendor_id is not None else [],
            self.market.get((x.market_id, x.category, x.unit), []),
        ):  # fmt: skip
            units = [u for lid, u in peers if lid != x.listing_id]
            if units:
                q = x.quantity or 1.0
                return statistics.median(units) * q, min(units) * q, max(units) * q
        return None


def _feedback(store: Store) -> list[FeedbackRow]:
    rows = store.con.execute(
        "SELECT id, market_id, vendor_id, listing_id, feedback_ref, rating, text, buyer, "
        "left_after, left_before, source, first_seen, item FROM feedback ORDER BY id"
    ).fetchall()
    return [
        FeedbackRow(
            feedback_id=str(r[0]),
            market_id=str(r[1]),
            vendor_id=r[2],
            listing_id=r[3],
            feedback_ref=r[4],
            rating=r[5],
            text=r[6],
            buyer=r[7],
            left_after=r[8],
            left_before=r[9],
            source=str(r[10]),
            first_seen=r[11],
            item=r[12],
        )
        for r in rows
    ]


def dedupe(rows: list[FeedbackRow]) -> tuple[list[FeedbackRow], int]:
    """``rows`` without the second copies of one feedback stored under two ids (the rule
    of the module docstring), and how many copies were dropped. Rows that show more (a
    listing, a feedback id) are kept over those that show less."""
    groups: dict[tuple[object, ...], list[FeedbackRow]] = defaultdict(list)
    for f in rows:
        groups[(f.market_id, f.vendor_id, f.buyer, f.rating, f.text)].append(f)
    kept: list[FeedbackRow] = []
    dropped = 0
    for group in groups.values():
        if len(group) == 1:
            kept.extend(group)
            continue
        group.sort(
            key=lambda f: (f.listing_id is None, f.feedback_ref is None, f.source, f.feedback_id)
        )
        mine: list[FeedbackRow] = []
        for f in group:
            twin = next((i for i, g in enumerate(mine) if _same(f, g)), None)
            if twin is None:
                mine.append(f)
                continue
            dropped += 1
            if mine[twin].item is None and f.item:  # the copy that names the item
                mine[twin] = dataclasses.replace(mine[twin], item=f.item)
        kept.extend(mine)
    kept.sort(key=lambda f: f.feedback_id)
    return kept, dropped


def _same(a: FeedbackRow, b: FeedbackRow) -> bool:
    if a.listing_id and b.listing_id and a.listing_id != b.listing_id:
        return False
    if a.feedback_ref and b.feedback_ref and a.feedback_ref != b.feedback_ref:
        return False
    shows_differently = (a.listing_id is None) != (b.listing_id is None) or (
        a.feedback_ref is None
    ) != (b.feedback_ref is None)
    if a.source == b.source and not shows_differently:
        return False  # one source, alike: distinct feedback (its nth)
    (a0, a1), (b0, b1) = a.interval, b.interval
    return a0 - _SLACK <= b1 and b0 - _SLACK <= a1


def _titles(store: Store, listings: dict[str, ListingInfo]) -> dict[str, list[str]]:
    """listing id -> every title it was seen with (its current one first)."""
    titles: dict[str, list[str]] = defaultdict(list)
    for lid, title in store.con.execute("SELECT id, title FROM listings").fetchall():
        if title and lid in listings:
            titles[lid].append(str(title))
    for lid, value in store.con.execute(
        "SELECT DISTINCT entity_id, value FROM statements "
        "WHERE entity_table = 'listings' AND prop = 'title' ORDER BY entity_id, value"
    ).fetchall():
        title = json.loads(value)
        if isinstance(title, str) and title and lid in listings and title not in titles[lid]:
            titles[lid].append(title)
    return titles
