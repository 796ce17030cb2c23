"""What the analyst browses in the store: markets with their captures, listings searched,
filtered, sorted and paged by keyset, one listing with its history.

Every function reads only. Lists are keyset-paged: a page is asked for with ``after``
(the key a previous page gave as ``next_key``, or None for the first page) and a
``limit``; the answer's ``next_key`` is None on the last page. A key from elsewhere is a
UsageError naming ``cursor``. Values are JSON-ready except timestamps (``datetime``,
UTC, naive) and amounts (``float``: the store's DECIMAL(24, 8) as the nearest double).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from spector.errors import UsageError
from spector.store._store import Store

__all__ = [
    "LISTING_SORTS",
    "Found",
    "ListingQuery",
    "count_listings",
    "economics_fingerprint",
    "listing_detail",
    "listing_facets",
    "listing_query",
    "market_detail",
    "markets",
    "search_listings",
]

Row = dict[str, Any]
MAX_LIMIT = 500
MAX_TEXT = 200

# sort name -> (SQL expression, kind). The kind picks the sentinel NULLs are compared
# as (they always come last, in both directions) and how a cursor value is cast.
LISTING_SORTS: dict[str, tuple[str, str]] = {
    "title": ("l.title", "str"),
    "price_usd": ("CAST(l.price_usd AS DOUBLE)", "num"),
    "category": ("l.category", "str"),
    "ships_from": ("l.ships_from", "str"),
    "vendor": ("v.handle", "str"),
    "market": ("m.name", "str"),
    "first_seen": ("l.first_seen", "ts"),
    "last_seen": ("l.last_seen", "ts"),
}
_SENTINEL = {"str": "''", "num": "0.0", "ts": "TIMESTAMP '1970-01-01'"}
_CAST = {"str": "CAST(? AS VARCHAR)", "num": "CAST(? AS DOUBLE)", "ts": "CAST(? AS TIMESTAMP)"}

_LISTING_COLUMNS = (
    "l.id, l.market_id, m.name, l.listing_ref, l.vendor_id, v.handle, l.title, l.category, "
    "CAST(l.price AS DOUBLE), l.currency, CAST(l.price_usd AS DOUBLE), "
    "CAST(l.quantity AS DOUBLE), l.unit, l.ships_from, l.ships_to, l.sold_count, l.stock, "
    "l.first_seen, l.last_seen"
)
LISTING_KEYS = (
    "id", "market_id", "market", "listing_ref", "vendor_id", "vendor", "title", "category",
    "price", "currency", "price_usd", "quantity", "unit", "ships_from", "ships_to",
    "sold_count", "stock", "first_seen", "last_seen",
)  # fmt: skip
_FROM = (
    "FROM listings l LEFT JOIN markets m ON m.id = l.market_id "
    "LEFT JOIN vendor_accounts v ON v.id = l.vendor_id"
)


@dataclass(frozen=True)
class Found:
    """One page of a list: its rows and the key to ask the next page with (None: last)."""

    rows: list[Row]
    next_key: list[Any] | None


@dataclass(frozen=True)
class ListingQuery:
    """A listings search; build it with ``listing_query`` (which checks every field).

    ``category`` matches the category and its subcategories ("drugs" matches
    "drugs.stimulants"); ``ships_from`` is an ISO code; ``vendor`` is a vendor account id
    or a part of its handle; ``q`` a part of the title (case-insensitive); prices are
    USD, inclusive; ``seen_from``/``seen_to`` keep listings seen on a day in that range
    (their first..last seen overlaps it). ``sort`` is a ``LISTING_SORTS`` name, "-" in
    front for descending; ties are broken by listing id in the same direction.
    """

    q: str | None = None
    category: str | None = None
    ships_from: str | None = None
    vendor: str | None = None
    market: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    seen_from: date | None = None
    seen_to: date | None = None
    sort: str = "-last_seen"
    filters: Mapping[str, str] = field(default_factory=dict)

    @property
    def sort_name(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


def _text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = value.strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_TEXT:
        raise UsageError(f"{name}: longer than {MAX_TEXT} characters")
    return cleaned


def _number(name: str, value: str | float | None) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"{name}: {value!r} is not a number (USD, e.g. 25 or 99.50)") from None
    if not 0 <= number < 1e15:
        raise UsageError(f"{name}: {value!r} is not a price (expected 0 or more, USD)")
    return number


def _day(name: str, value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{name}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def _category(value: str | None) -> str | None:
    from difflib import get_close_matches

    from spector.model import categories

    if value is None:
        return None
    codes = [c.code for c in categories()]
    if value not in codes:
        close = get_close_matches(value, codes, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"category: unknown product category {value!r}{hint}")
    return value


def _country(value: str | None) -> str | None:
    from spector.model import country

    if value is None:
        return None
    try:
        return country(value).code
    except UsageError:
        raise UsageError(
            f"ships_from: unknown country {value!r} (expected an ISO 3166-1 code, e.g. NL)"
        ) from None


def _sort(value: str | None) -> str:
    if value is None or not value.strip():
        return "-last_seen"
    cleaned = value.strip()
    if cleaned.removeprefix("-") not in LISTING_SORTS:
        names = ", ".join(LISTING_SORTS)
        raise UsageError(f"sort: unknown sort {cleaned!r} (expected one of {names}, '-' first "
                         "for descending)")  # fmt: skip
    return cleaned


def listing_query(
    *,
    q: str | None = None,
    category: str | None = None,
    ships_from: str | None = None,
    vendor: str | None = None,
    market: str | None = None,
    price_min: str | float | None = None,
    price_max: str | float | None = None,
    seen_from: str | date | None = None,
    seen_to: str | date | None = None,
    sort: str | None = None,
) -> ListingQuery:
    """A checked ``ListingQuery`` from form or query values (empty strings are absent).
    A bad value is a UsageError naming the field and what was expected."""
    low, high = _number("price_min", price_min), _number("price_max", price_max)
    if low is not None and high is not None and low > high:
        raise UsageError(f"price_min {low:g} is above price_max {high:g}")
    start, end = _day("seen_from", seen_from), _day("seen_to", seen_to)
    if start is not None and end is not None and start > end:
        raise UsageError(f"seen_from {start} is after seen_to {end}")
    values = {
        "q": _text("q", q),
        "category": _category(_text("category", category)),
        "ships_from": _country(_text("ships_from", ships_from)),
        "vendor": _text("vendor", vendor),
        "market": _text("market", market),
    }
    filters = {k: v for k, v in values.items() if v is not None}
    for name, value in (("price_min", low), ("price_max", high)):
        if value is not None:
            filters[name] = f"{value:g}"
    for name, day in (("seen_from", start), ("seen_to", end)):
        if day is not None:
            filters[name] = day.isoformat()
    return ListingQuery(
        q=values["q"],
        category=values["category"],
        ships_from=values["ships_from"],
        vendor=values["vendor"],
        market=values["market"],
        price_min=low,
        price_max=high,
        seen_from=start,
        seen_to=end,
        sort=_sort(sort),
        filters=filters,
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(query: ListingQuery) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.q is not None:
        clauses.append("l.title ILIKE ? ESCAPE '\\'")
        params.append(_like(query.q))
    if query.category is not None:
        clauses.append("(l.category = ? OR starts_with(l.category, ?))")
        params += [query.category, query.category + "."]
    if query.ships_from is not None:
        clauses.append("l.ships_from = ?")
        params.append(query.ships_from)
    if query.vendor is not None:
        clauses.append("(l.vendor_id = ? OR v.handle ILIKE ? ESCAPE '\\')")
        params += [query.vendor, _like(query.vendor)]
    if query.market is not None:
        clauses.append("(l.market_id = ? OR m.name = ?)")
        params += [query.market, query.market]
    if query.price_min is not None:
        clauses.append("l.price_usd >= ?")
        params.append(query.price_min)
    if query.price_max is not None:
        clauses.append("l.price_usd <= ?")
        params.append(query.price_max)
    if query.seen_from is not None:
        clauses.append("l.last_seen >= ?")
        params.append(datetime.combine(query.seen_from, datetime.min.time()))
    if query.seen_to is not None:
        clauses.append("l.first_seen < ?")
        params.append(datetime.combine(query.seen_to + timedelta(days=1), datetime.min.time()))
    return clauses, params


def _listing_row(values: Sequence[Any]) -> Row:
    row = dict(zip(LISTING_KEYS, values, strict=True))
    row["ships_to"] = list(row["ships_to"] or [])
    return row


def _check_key(after: Sequence[Any], sort: str, kind: str) -> list[Any]:
    bad = UsageError("cursor: not a cursor of this listing search", hint="start again without it")
    if len(after) != 4 or after[0] != sort or not isinstance(after[1], bool):
        raise bad
    if not isinstance(after[3], str):
        raise bad
    value = after[2]
    ok = {"str": isinstance(value, str), "num": isinstance(value, int | float)}.get(kind)
    if kind == "ts":
        try:
            datetime.fromisoformat(str(value))
            ok = isinstance(value, str)
        except ValueError:
            ok = False
    if not ok or isinstance(value, bool):
        raise bad
    return list(after)


def search_listings(
    store: Store, query: ListingQuery, *, after: Sequence[Any] | None = None, limit: int = 50
) -> Found:
    """The listings ``query`` finds, sorted, ``limit`` (1..500) after the key ``after``.
    Each row has ``LISTING_KEYS`` (``market`` is its name, ``vendor`` the handle)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
    expr, kind = LISTING_SORTS[query.sort_name]
    flag, key = f"({expr}) IS NULL", f"coalesce({expr}, {_SENTINEL[kind]})"
    clauses, params = _where(query)
    if after is not None:
        f, k, i = _check_key(after, query.sort, kind)[1:]
        cmp = "<" if query.descending else ">"
        clauses.append(
            f"({flag} > ? OR ({flag} = ? AND ({key} {cmp} {_CAST[kind]} OR "
            f"({key} = {_CAST[kind]} AND l.id {cmp} ?))))"
        )
        params += [f, f, k, k, i]
    direction = " DESC" if query.descending else ""
    sql = (
        f"SELECT {_LISTING_COLUMNS}, {flag}, {key} {_FROM}"
        + (" WHERE " + " AND ".join(clauses) if clauses else "")
        + f" ORDER BY {flag}, {key}{direction}, l.id{direction} LIMIT ?"
    )
    fetched = store.con.execute(sql, [*params, limit + 1]).fetchall()
    rows = [_listing_row(r[: len(LISTING_KEYS)]) for r in fetched[:limit]]
    next_key: list[Any] | None = None
    if len(fetched) > limit:
        last = fetched[limit - 1]
        value = last[-1]
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = float(value)
        next_key = [query.sort, bool(last[-2]), value, str(last[0])]
    return Found(rows, next_key)


def count_listings(store: Store, query: ListingQuery) -> int:
    """How many listings ``query`` finds (all pages)."""
    clauses, params = _where(query)
    sql = f"SELECT count(*) {_FROM}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
    row = store.con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def listing_facets(store: Store) -> dict[str, list[Row]]:
    """What the filter form offers: ``categories`` (category, listings), ``countries``
    (ships_from, listings) and ``markets`` (market_id, market, listings), by name."""
    cats = store.con.execute(
        "SELECT category, count(*) FROM listings WHERE category IS NOT NULL "
        "GROUP BY category ORDER BY category"
    ).fetchall()
    countries = store.con.execute(
        "SELECT ships_from, count(*) FROM listings WHERE ships_from IS NOT NULL "
        "GROUP BY ships_from ORDER BY ships_from"
    ).fetchall()
    mkts = store.con.execute(
        "SELECT m.id, m.name, count(l.id) FROM markets m LEFT JOIN listings l "
        "ON l.market_id = m.id GROUP BY m.id, m.name ORDER BY m.name, m.id"
    ).fetchall()
    return {
        "categories": [{"category": str(c), "listings": int(n)} for c, n in cats],
        "countries": [{"ships_from": str(c), "listings": int(n)} for c, n in countries],
        "markets": [
            {"market_id": str(i), "market": str(m), "listings": int(n)} for i, m, n in mkts
        ],
    }


def listing_detail(store: Store, listing_id: str) -> Row | None:
    """One listing (``LISTING_KEYS`` plus url, source), or None: with ``history`` (every
    value each field was seen with: prop, value, first_seen, last_seen, sources),
    ``sources`` (each source that saw it: source, first_seen, last_seen) and ``feedback``
    (newest first, at most 200: id, rating, text, buyer, item, left_after, left_before)."""
    found = store.con.execute(
        f"SELECT {_LISTING_COLUMNS}, l.url, l.source {_FROM} WHERE l.id = ?", [listing_id]
    ).fetchone()
    if found is None:
        return None
    row = _listing_row(found[: len(LISTING_KEYS)])
    row["url"], row["source"] = found[-2], found[-1]
    history = store.con.execute(
        "SELECT prop, value, min(first_seen), max(last_seen), count(DISTINCT source) "
        "FROM statements WHERE entity_id = ? AND entity_table = 'listings' "
        "GROUP BY prop, value ORDER BY prop, min(first_seen), value",
        [listing_id],
    ).fetchall()
    row["history"] = [
        {"prop": p, "value": _json_text(v), "first_seen": f, "last_seen": la, "sources": int(n)}
        for p, v, f, la, n in history
    ]
    sources = store.con.execute(
        "SELECT source, first_seen, last_seen FROM observations WHERE entity_id = ? "
        "ORDER BY first_seen, source",
        [listing_id],
    ).fetchall()
    row["sources"] = [{"source": s, "first_seen": f, "last_seen": la} for s, f, la in sources]
    feedback = store.con.execute(
        "SELECT id, rating, text, buyer, item, left_after, left_before FROM feedback "
        "WHERE listing_id = ? ORDER BY left_before DESC NULLS LAST, id LIMIT 200",
        [listing_id],
    ).fetchall()
    keys = ("id", "rating", "text", "buyer", "item", "left_after", "left_before")
    row["feedback"] = [dict(zip(keys, f, strict=True)) for f in feedback]
    row["feedback_count"] = _scalar(
        store, "SELECT count(*) FROM feedback WHERE listing_id = ?", listing_id
    )
    return row


def _json_text(value: str) -> str:
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else json.dumps(decoded, ensure_ascii=False)


def _scalar(store: Store, sql: str, *params: Any) -> int:
    row = store.con.execute(sql, list(params)).fetchone()
    return int(row[0] or 0) if row else 0


_MARKET_SQL = """
WITH caps AS (
    SELECT m.id AS market_id, count(c.id) AS captures, max(c.fetched_at) AS last_capture,
           list_sort(list_distinct(list(c.site) FILTER (WHERE c.site IS NOT NULL))) AS sites
    FROM markets m LEFT JOIN captures c
      ON list_contains(m.onions, c.host) OR (c.site IS NOT NULL AND c.site = m.name)
    GROUP BY m.id
), lst AS (
    SELECT market_id, count(*) AS listings FROM listings GROUP BY market_id
), ven AS (
    SELECT market_id, count(*) AS vendors FROM vendor_accounts GROUP BY market_id
)
SELECT m.id, m.name, m.family, m.status, m.ref, m.onions, m.first_seen, m.last_seen,
       coalesce(lst.listings, 0), coalesce(ven.vendors, 0), coalesce(caps.captures, 0),
       caps.last_capture, coalesce(caps.sites, [])
FROM markets m LEFT JOIN caps ON caps.market_id = m.id
LEFT JOIN lst ON lst.market_id = m.id LEFT JOIN ven ON ven.market_id = m.id
"""
MARKET_KEYS = (
    "id", "name", "family", "status", "ref", "onions", "first_seen", "last_seen",
    "listings", "vendors", "captures", "last_capture", "sites",
)  # fmt: skip


def _market_row(values: Sequence[Any]) -> Row:
    row = dict(zip(MARKET_KEYS, values, strict=True))
    row["onions"] = list(row["onions"] or [])
    row["sites"] = [str(s) for s in row["sites"]]
    return row


def markets(store: Store, *, after: Sequence[Any] | None = None, limit: int = 100) -> Found:
    """Markets by name (then id), ``limit`` after the key ``after``: ``MARKET_KEYS`` —
    listings and vendor accounts stored, captures of the market's onions (or its site
    name), the last capture's time and the crawl sites they came from."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
    sql, params = _MARKET_SQL, []
    if after is not None:
        if len(after) != 2 or not all(isinstance(x, str) for x in after):
            raise UsageError("cursor: not a cursor of the market list", hint="start again")
        sql += " WHERE (m.name > ? OR (m.name = ? AND m.id > ?))"
        params = [after[0], after[0], after[1]]
    sql += " ORDER BY m.name, m.id LIMIT ?"
    fetched = store.con.execute(sql, [*params, limit + 1]).fetchall()
    rows = [_market_row(r) for r in fetched[:limit]]
    more = len(fetched) > limit
    return Found(rows, [rows[-1]["name"], rows[-1]["id"]] if more else None)


def market_detail(store: Store, market_id: str) -> Row | None:
    """One market (``MARKET_KEYS``), or None, with ``categories`` (category, listings,
    vendors, median_price_usd; by listings) and ``ships_from`` (ships_from, listings)."""
    found = store.con.execute(_MARKET_SQL + " WHERE m.id = ?", [market_id]).fetchone()
    if found is None:
        return None
    row = _market_row(found)
    cats = store.con.execute(
        "SELECT category, count(*), count(DISTINCT vendor_id), "
        "CAST(median(price_usd) AS DOUBLE) FROM listings WHERE market_id = ? "
        "GROUP BY category ORDER BY count(*) DESC, category NULLS LAST",
        [market_id],
    ).fetchall()
    row["categories"] = [
        {"category": c, "listings": int(n), "vendors": int(v), "median_price_usd": p}
        for c, n, v, p in cats
    ]
    countries = store.con.execute(
        "SELECT ships_from, count(*) FROM listings WHERE market_id = ? "
        "GROUP BY ships_from ORDER BY count(*) DESC, ships_from NULLS LAST",
        [market_id],
    ).fetchall()
    row["ships_from"] = [{"ships_from": c, "listings": int(n)} for c, n in countries]
    return row


def economics_fingerprint(store: Store) -> tuple[Any, ...]:
    """A value that changes whenever what ``spector.economics.estimate`` reads changes
    (listings, feedback, vendor accounts, markets, rates, actors): a cache key."""
    row = store.con.execute(
        "SELECT (SELECT count(*) || '/' || coalesce(max(last_seen)::VARCHAR, '') FROM listings),"
        " (SELECT count(*) || '/' || coalesce(max(last_seen)::VARCHAR, '') FROM feedback),"
        " (SELECT count(*) || '/' || coalesce(max(last_seen)::VARCHAR, '') FROM vendor_accounts),"
        " (SELECT count(*) || '/' || coalesce(max(last_seen)::VARCHAR, '') FROM markets),"
        " (SELECT count(*) || '/' || coalesce(max(last_seen)::VARCHAR, '') FROM orders),"
        " (SELECT count(*) FROM rates),"
        " (SELECT count(*) || '/' || coalesce(max(run_at)::VARCHAR, '') FROM resolve_runs),"
        " (SELECT count(*) FROM resolve_decisions),"
        " (SELECT count(*) FROM actor_accounts)"
    ).fetchone()
    return tuple(row) if row else ()
