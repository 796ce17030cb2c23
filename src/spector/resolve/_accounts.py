"""The accounts resolution compares: vendor accounts and forum members, one row each, with
everything that can say two of them are one person.

``Accounts`` is a frozen table of parallel columns (index ``i`` = one account). It is
built from a workspace (``load_accounts``) or from a training range's truth files
(``accounts_from_world``: the same columns, plus ``truth_actor``, so that models can be
trained and benchmarks run without a crawl). ``build_accounts`` makes one from
``AccountRow`` values (tests, generators).

Where values come from in a workspace:

- vendors: ``vendor_accounts`` (handle, profile text, PGP fingerprints, contacts,
  ships-from, joined), their ``listings`` (titles, categories, median USD price per
  category, ships-from when the account shows none), ``feedback`` dates, seized
  ``orders`` (pay-to addresses);
- forum members: ``posts`` grouped by ``author_id`` (a member's texts are their posts).
  A member whose ``author_id`` is a vendor account's id (same handle on the same market)
  is that account: its posts join the vendor's texts;
- selectors: contacts, seized orders' pay-to addresses, and ``selector_sightings`` on the
  account, its listings, its orders, its posts, or on a captured page whose records name
  that one account and no other (a vendor's page, a listing's page; an index page showing
  fifty vendors says nothing about whose address it shows). A sighted selector seen on at
  least ``MARKET_WIDE_MIN`` accounts and ``MARKET_WIDE_SHARE`` of one market's accounts is
  the market's own (its escrow or donation address on every vendor page): it is left out
  and listed in ``market_selectors``;
- ``payto``: the BTC addresses among the selectors; ``clusters``: their wallets in
  ``chain_clusters`` when the workspace holds a clustering ([G]).
- first/last seen: the widest of joined, the account's and listings' observation times,
  feedback and post dates.

Times are naive UTC datetimes (as the store keeps them). Nothing here raises on missing
data: an account with no text, key, listing or date gets "", (), {} and None.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from spector.errors import InputError
from spector.model import VendorAccount
from spector.resolve._normalise import normalise_handle
from spector.store import Workspace

__all__ = [
    "MARKET_WIDE_MIN",
    "MARKET_WIDE_SHARE",
    "AccountRow",
    "Accounts",
    "accounts_from_world",
    "build_accounts",
    "load_accounts",
]

MARKET_WIDE_MIN = 4
MARKET_WIDE_SHARE = 0.25
_EPOCH_DAY = datetime(1970, 1, 1)


@dataclass
class AccountRow:
    """One account while it is being assembled (see ``Accounts`` for the fields).
    ``prices`` are the medians of ``price_lists``, and ``medians`` (already computed, by
    the workspace's SQL) for the categories ``price_lists`` does not hold."""

    account_id: str
    kind: str
    market_id: str
    handle: str
    market: str = ""
    profile_text: str = ""
    titles: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)
    pgp: set[str] = field(default_factory=set)
    selectors: set[str] = field(default_factory=set)
    categories: Counter[str] = field(default_factory=Counter)
    ship_counts: Counter[str] = field(default_factory=Counter)
    ships_from: str | None = None
    price_lists: dict[str, list[float]] = field(default_factory=dict)
    medians: dict[str, float] = field(default_factory=dict)
    times: list[datetime] = field(default_factory=list)
    listings: int = 0
    truth_actor: str | None = None


@dataclass(frozen=True, eq=False)
class Accounts:
    """Accounts as parallel columns; ``len(accounts)`` rows, index ``i`` = one account.

    ``texts`` is everything the account wrote (profile + listing titles, or posts), for
    stylometry; ``titles`` the listing titles alone (newline-joined). ``selectors`` are
    "kind:value" strings; ``pgp`` upper-case hex fingerprints. ``cache`` holds derived
    matrices (TF-IDF profiles...) that feature code computes once per table.
    """

    account_id: list[str]
    kind: list[str]
    market_id: list[str]
    market: list[str]
    handle: list[str]
    handle_norm: list[str]
    profile_text: list[str]
    titles: list[str]
    texts: list[str]
    pgp: list[tuple[str, ...]]
    selectors: list[tuple[str, ...]]
    payto: list[tuple[str, ...]]
    clusters: list[tuple[int, ...]]
    categories: list[dict[str, int]]
    ships_from: list[str | None]
    prices: list[dict[str, float]]
    first_seen: list[datetime | None]
    last_seen: list[datetime | None]
    listings: np.ndarray
    truth_actor: list[str | None]
    has_clusters: bool = False
    market_selectors: tuple[tuple[str, str, int], ...] = ()
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.account_id)

    def index(self, account_id: str) -> int:
        """The row of ``account_id``; KeyError when it is not here."""
        where = self.cache.get("index")
        if where is None:
            where = {a: i for i, a in enumerate(self.account_id)}
            self.cache["index"] = where
        return int(where[account_id])

    def days(self) -> tuple[np.ndarray, np.ndarray]:
        """(first_seen, last_seen) as float days since 1970, NaN when unknown."""
        got = self.cache.get("days")
        if got is None:
            got = (_to_days(self.first_seen), _to_days(self.last_seen))
            self.cache["days"] = got
        return got


def _to_days(values: Sequence[datetime | None]) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is not None:
            out[i] = (_naive(v) - _EPOCH_DAY).total_seconds() / 86400.0
    return out


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def build_accounts(
    rows: Iterable[AccountRow],
    *,
    has_clusters: bool = False,
    cluster_of: dict[str, int] | None = None,
    market_selectors: Sequence[tuple[str, str, int]] = (),
) -> Accounts:
    """An ``Accounts`` table from rows (in their order). ``cluster_of`` maps a BTC address
    to its chain cluster (for ``clusters``)."""
    rows = list(rows)
    cluster_of = cluster_of or {}
    payto = [
        tuple(sorted(s.split(":", 1)[1] for s in r.selectors if s.startswith("btc_address:")))
        for r in rows
    ]
    times = [[_naive(t) for t in r.times if t is not None] for r in rows]
    return Accounts(
        account_id=[r.account_id for r in rows],
        kind=[r.kind for r in rows],
        market_id=[r.market_id for r in rows],
        market=[r.market or r.market_id for r in rows],
        handle=[r.handle for r in rows],
        handle_norm=[normalise_handle(r.handle) for r in rows],
        profile_text=[r.profile_text or "" for r in rows],
        titles=["\n".join(r.titles) for r in rows],
        texts=["\n".join(t for t in (r.profile_text, *r.titles, *r.posts) if t) for r in rows],
        pgp=[tuple(sorted({p.upper().replace(" ", "") for p in r.pgp if p})) for r in rows],
        selectors=[tuple(sorted(r.selectors)) for r in rows],
        payto=payto,
        clusters=[
            tuple(sorted({cluster_of[a] for a in addresses if a in cluster_of}))
            for addresses in payto
        ],
        categories=[dict(r.categories) for r in rows],
        ships_from=[r.ships_from or _most_common(r.ship_counts) for r in rows],
        prices=[
            {
                **r.medians,
                **{c: float(statistics.median(v)) for c, v in r.price_lists.items() if v},
            }
            for r in rows
        ],
        first_seen=[min(t) if t else None for t in times],
        last_seen=[max(t) if t else None for t in times],
        listings=np.array([r.listings for r in rows], dtype=np.int64),
        truth_actor=[r.truth_actor for r in rows],
        has_clusters=has_clusters,
        market_selectors=tuple(market_selectors),
    )


def _most_common(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _add_listing(
    row: AccountRow, title: Any, category: Any, price: Any, ships: Any, *times: Any
) -> None:
    row.listings += 1
    if title:
        row.titles.append(str(title))
    if category:
        row.categories[str(category)] += 1
        if price is not None and float(price) > 0:
            row.price_lists.setdefault(str(category), []).append(float(price))
    if ships:
        row.ship_counts[str(ships)] += 1
    row.times.extend(t for t in times if isinstance(t, datetime))


# -- a workspace ------------------------------------------------------------------------
_SIGHTED = """
WITH page_owner AS (
    SELECT source, min(owner) AS owner FROM (
        SELECT o.source, o.entity_id AS owner FROM observations o
        WHERE o.entity_table = 'vendor_accounts' AND o.source LIKE 'capture:%'
        UNION ALL
        SELECT o.source, l.vendor_id FROM observations o JOIN listings l ON l.id = o.entity_id
        WHERE o.entity_table = 'listings' AND o.source LIKE 'capture:%'
          AND l.vendor_id IS NOT NULL
        UNION ALL
        SELECT o.source, p.author_id FROM observations o JOIN posts p ON p.id = o.entity_id
        WHERE o.entity_table = 'posts' AND o.source LIKE 'capture:%'
          AND p.author_id IS NOT NULL
    ) GROUP BY source HAVING count(DISTINCT owner) = 1
)
SELECT DISTINCT owner, kind, value FROM (
    SELECT v.id AS owner, s.kind, s.value FROM selector_sightings s
        JOIN vendor_accounts v ON v.id = s.entity_id
    UNION ALL
    SELECT l.vendor_id, s.kind, s.value FROM selector_sightings s
        JOIN listings l ON l.id = s.entity_id WHERE l.vendor_id IS NOT NULL
    UNION ALL
    SELECT r.vendor_id, s.kind, s.value FROM selector_sightings s
        JOIN orders r ON r.id = s.entity_id WHERE r.vendor_id IS NOT NULL
    UNION ALL
    SELECT p.author_id, s.kind, s.value FROM selector_sightings s
        JOIN posts p ON p.id = s.entity_id WHERE p.author_id IS NOT NULL
    UNION ALL
    SELECT w.owner, s.kind, s.value FROM selector_sightings s
        JOIN page_owner w ON w.source = 'capture:' || s.capture_id
)
"""


_VENDORS = """
WITH l AS (
    SELECT l.vendor_id, l.id, l.title, l.category, CAST(l.price_usd AS DOUBLE) AS price,
           l.ships_from, l.first_seen, l.last_seen
    FROM listings l SEMI JOIN vendor_accounts v ON v.id = l.vendor_id
), per_vendor AS (
    SELECT vendor_id, count(*) AS n, list(title ORDER BY id) FILTER (WHERE title <> '') AS titles,
           least(min(first_seen), min(last_seen)) AS lo,
           greatest(max(first_seen), max(last_seen)) AS hi
    FROM l GROUP BY vendor_id
), ships AS (
    SELECT vendor_id, ships_from, count(*) AS n FROM l WHERE ships_from <> '' GROUP BY ALL
), top_ships AS (
    SELECT vendor_id, first(ships_from ORDER BY n DESC, ships_from) AS ships
    FROM ships GROUP BY vendor_id
), fb AS (
    SELECT vendor_id, min(coalesce(left_after, left_before)) AS lo,
           max(coalesce(left_before, left_after)) AS hi
    FROM feedback WHERE vendor_id IS NOT NULL GROUP BY vendor_id
)
SELECT v.id, v.market_id, v.handle, v.profile_text, v.pgp_fingerprints, v.contacts,
       coalesce(nullif(v.ships_from, ''), t.ships), coalesce(p.n, 0), p.titles,
       least(v.joined, v.first_seen, v.last_seen, p.lo, f.lo),
       greatest(v.joined, v.first_seen, v.last_seen, p.hi, f.hi)
FROM vendor_accounts v LEFT JOIN per_vendor p ON p.vendor_id = v.id
    LEFT JOIN top_ships t ON t.vendor_id = v.id LEFT JOIN fb f ON f.vendor_id = v.id
ORDER BY v.id
"""
# (vendor, category, listings) and (vendor, category, median price), each vendor's
# categories in the order of their first listing (by id). The median is the middle one
# of the sorted prices, or the mean of the two middle ones: statistics.median's.
_CATEGORIES = """
SELECT l.vendor_id, l.category, count(*) FROM listings l
    SEMI JOIN vendor_accounts v ON v.id = l.vendor_id
WHERE l.category <> '' GROUP BY ALL ORDER BY l.vendor_id, min(l.id)
"""
_MEDIANS = """
SELECT vendor_id, category, (p[(len(p) - 1) // 2 + 1] + p[len(p) // 2 + 1]) / 2.0 FROM (
    SELECT l.vendor_id, l.category, list_sort(list(CAST(l.price_usd AS DOUBLE))) AS p,
           min(l.id) AS first_id
    FROM listings l SEMI JOIN vendor_accounts v ON v.id = l.vendor_id
    WHERE l.category <> '' AND CAST(l.price_usd AS DOUBLE) > 0 GROUP BY ALL
) ORDER BY vendor_id, first_id
"""


def load_accounts(ws: Workspace) -> Accounts:
    """Every vendor account and forum member of the workspace (see the module docstring).
    Listings and feedback are aggregated per vendor in DuckDB (titles in listing order,
    listings per category, median prices, the most common ships-from, the widest times)."""
    con = ws.store.con
    names = dict(con.execute("SELECT id, name FROM markets").fetchall())
    rows: dict[str, AccountRow] = {}
    for aid, market_id, handle, text, keys, contacts, ships, n, titles, lo, hi in con.execute(
        _VENDORS
    ).fetchall():
        rows[aid] = AccountRow(
            account_id=aid,
            kind="vendor",
            market_id=market_id,
            market=names.get(market_id, market_id),
            handle=handle,
            profile_text=text or "",
            pgp=set(keys or ()),
            selectors=set(contacts or ()),
            ships_from=ships or None,
            titles=titles or [],
            times=[t for t in (lo, hi) if t is not None],
            listings=int(n),
        )
    for vendor, category, n in con.execute(_CATEGORIES).fetchall():
        rows[vendor].categories[category] = int(n)
    for vendor, category, median in con.execute(_MEDIANS).fetchall():
        rows[vendor].medians[category] = float(median)
    _load_members(con, rows, names)
    for vendor, address in con.execute(
        "SELECT DISTINCT vendor_id, payto_address FROM orders "
        "WHERE vendor_id IS NOT NULL AND payto_address IS NOT NULL"
    ).fetchall():
        if vendor in rows:
            rows[vendor].selectors.add(f"btc_address:{address}")
    market_wide = _add_sighted(con.execute(_SIGHTED).fetchall(), rows)
    addresses = sorted(
        {
            s.split(":", 1)[1]
            for r in rows.values()
            for s in r.selectors
            if s.startswith("btc_address:")
        }
    )
    has_clusters = bool(con.execute("SELECT count(*) > 0 FROM chain_clusters").fetchone()[0])  # type: ignore[index]
    cluster_of: dict[str, int] = {}
    if has_clusters and addresses:
        con.execute("CREATE OR REPLACE TEMP TABLE _resolve_payto (address VARCHAR)")
        con.executemany("INSERT INTO _resolve_payto VALUES (?)", [[a] for a in addresses])
        cluster_of = dict(
            con.execute(
                "SELECT c.address, c.cluster_id FROM chain_clusters c "
                "JOIN _resolve_payto p USING (address)"
            ).fetchall()
        )
        con.execute("DROP TABLE _resolve_payto")
    return build_accounts(
        rows.values(),
        has_clusters=has_clusters,
        cluster_of=cluster_of,
        market_selectors=market_wide,
    )


def _load_members(con: Any, rows: dict[str, AccountRow], names: dict[str, str]) -> None:
    for market_id, author, author_id, text, after, before, first, last in con.execute(
        "SELECT market_id, author, author_id, text, posted_after, posted_before, first_seen, "
        "last_seen FROM posts WHERE author IS NOT NULL OR author_id IS NOT NULL "
        "ORDER BY market_id, thread_ref, post_ref"
    ).fetchall():
        aid = author_id or VendorAccount(market_id=market_id, handle=author).id
        row = rows.get(aid)
        if row is None:
            row = rows[aid] = AccountRow(
                account_id=aid,
                kind="member",
                market_id=market_id,
                market=names.get(market_id, market_id),
                handle=author or aid,
            )
        if text:
            row.posts.append(text)
        dated = [t for t in (after, before) if t is not None]
        row.times.extend(dated or [t for t in (first, last) if t is not None])


def _add_sighted(
    sighted: Sequence[tuple[str, str, str]], rows: dict[str, AccountRow]
) -> list[tuple[str, str, int]]:
    """Add sighted selectors to their accounts, except the market-wide ones (returned as
    (selector, market_id, accounts))."""
    per_market = Counter(r.market_id for r in rows.values())
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for owner, kind, value in sighted:
        row = rows.get(owner)
        if row is not None:
            holders[(f"{kind}:{value}", row.market_id)].add(owner)
    wide = set()
    report = []
    for (selector, market_id), owners in holders.items():
        n = len(owners)
        if n >= MARKET_WIDE_MIN and n >= MARKET_WIDE_SHARE * per_market[market_id]:
            wide.add((selector, market_id))
            report.append((selector, market_id, n))
    for (selector, market_id), owners in holders.items():
        if (selector, market_id) in wide:
            continue
        for owner in owners:
            row = rows[owner]
            if selector.startswith("pgp_fingerprint:"):
                row.pgp.add(selector.split(":", 1)[1])
            else:
                row.selectors.add(selector)
    return sorted(report)


# -- a range's truth ----------------------------------------------------------------------
def accounts_from_world(range_dir: Path) -> Accounts:
    """The accounts of a training range (``range_dir/world/*.parquet``) as a crawl of all
    of it would give them, with ``truth_actor``: the actor behind each account (a forum
    member: its actor, else its own account id). Raises InputError naming the file when
    the range is incomplete."""
    import pyarrow.parquet as pq

    world = Path(range_dir) / "world"
    tables = {}
    for name in ("markets", "accounts", "listings", "feedback", "forum_members", "forum_posts"):
        path = world / f"{name}.parquet"
        if not path.is_file():
            raise InputError(
                "a training range's truth file is missing",
                where=path,
                expected="the output of `spector sim generate`",
            )
        tables[name] = pq.read_table(path).to_pylist()
    epoch = _range_epoch(Path(range_dir))

    def day(n: Any) -> datetime | None:
        return None if n is None else epoch + timedelta(days=int(n))

    names = {m["market_id"]: m["name"] for m in tables["markets"]}
    rows: dict[str, AccountRow] = {}
    for a in tables["accounts"]:
        selectors = set(a.get("contacts") or ())
        if a.get("btc_payto"):
            selectors.add(f"btc_address:{a['btc_payto']}")
        if a.get("xmr_payto"):
            selectors.add(f"xmr_address:{a['xmr_payto']}")
        rows[a["account_id"]] = AccountRow(
            account_id=a["account_id"],
            kind="vendor",
            market_id=a["market_id"],
            market=names.get(a["market_id"], a["market_id"]),
            handle=a["handle"],
            profile_text=a.get("profile_text") or "",
            pgp={a["pgp_fingerprint"]} if a.get("pgp_fingerprint") else set(),
            selectors=selectors,
            times=[t for t in (day(a.get("joined_day")),) if t],
            truth_actor=a["actor_id"],
        )
    for listing in tables["listings"]:
        row = rows.get(listing["account_id"])
        if row is not None:
            price = None if listing.get("holding") else listing.get("price_usd")
            _add_listing(
                row,
                listing.get("title"),
                listing.get("category"),
                price,
                listing.get("ships_from"),
                day(listing.get("start_day")),
                day(listing.get("end_day")),
            )
    for fb in tables["feedback"]:
        row = rows.get(fb["account_id"])
        if row is not None and fb.get("day") is not None:
            row.times.append(day(fb["day"]))  # type: ignore[arg-type]
    members: dict[str, AccountRow] = {}
    for m in tables["forum_members"]:
        aid = VendorAccount(market_id=m["market_id"], handle=m["name"]).id
        row = rows.get(aid)
        if row is None:
            row = rows[aid] = AccountRow(
                account_id=aid,
                kind="member",
                market_id=m["market_id"],
                market=names.get(m["market_id"], m["market_id"]),
                handle=m["name"],
                truth_actor=m.get("actor_id") or aid,
            )
        if m.get("joined_day") is not None:
            row.times.append(day(m["joined_day"]))  # type: ignore[arg-type]
        members[m["member_id"]] = row
    for post in tables["forum_posts"]:
        row = members.get(post["member_id"])
        if row is not None:
            if post.get("text"):
                row.posts.append(post["text"])
            if post.get("day") is not None:
                row.times.append(day(post["day"]))  # type: ignore[arg-type]
    return build_accounts(rows.values())


def _range_epoch(range_dir: Path) -> datetime:
    truth = range_dir / "truth.json"
    try:
        epoch = json.loads(truth.read_text(encoding="utf-8")).get("epoch")
        return _naive(datetime.fromisoformat(epoch)) if epoch else datetime(2023, 1, 1)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read the range's epoch: {exc}",
            where=truth,
            expected="truth.json of `spector sim generate`",
        ) from exc
