"""What the web app's actor pages read: lists of actors and accounts (filtered, sorted,
keyset-paginated), one account's record, one actor's package with the exchanges its
wallets paid. The candidate pairs and decisions are ``_browse_links``'s.

Every list function takes ``after`` (the sort key of the last row already shown, as the
row's ``cursor`` gives it; None for the first page) and ``limit``, and returns up to
``limit + 1`` rows in order: one more than asked says there is a next page. Sort names
are the keys of ``ACTOR_SORTS`` / ``ACCOUNT_SORTS``; a leading ``-`` sorts descending.
Unknown sort names and malformed cursors are UsageError; unknown ids NotFound naming
the closest known id.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spector.errors import NotFound, UsageError

if TYPE_CHECKING:
    import duckdb

    from spector.store import Workspace

__all__ = [
    "ACCOUNT_SORTS",
    "ACTOR_SORTS",
    "Sort",
    "account_detail",
    "accounts_page",
    "actor_detail",
    "actor_exchanges",
    "actors_page",
    "closest_actor",
    "first",
    "parse_sort",
    "rows_of",
]

EXCHANGE = "exchange"


@dataclass(frozen=True)
class Sort:
    """A sort order: the SQL of its key (NULLs coalesced so keyset comparison holds),
    the key's kind ("num" or "text") and the direction."""

    name: str
    sql: str
    kind: str
    descending: bool

    @property
    def param(self) -> str:
        """The name as a query parameter (``-name`` when descending)."""
        return ("-" if self.descending else "") + self.name


# name -> (SQL of the key, kind, descending by default)
ACTOR_SORTS: dict[str, tuple[str, str]] = {
    "accounts": ("accounts", "num"),
    "revenue": ("coalesce(revenue_usd, -1.0)", "num"),
    "label": ("coalesce(lower(label), '')", "text"),
    "first_seen": ("coalesce(first_seen, '')", "text"),
    "last_seen": ("coalesce(last_seen, '')", "text"),
    "actor_id": ("actor_id", "text"),
}
ACCOUNT_SORTS: dict[str, tuple[str, str]] = {
    "handle": ("coalesce(lower(handle), '')", "text"),
    "market": ("coalesce(lower(market), '')", "text"),
    "listings": ("listings", "num"),
    "rating": ("coalesce(rating, -1.0)", "num"),
    "last_seen": ("coalesce(last_seen, '')", "text"),
    "account_id": ("account_id", "text"),
}


def parse_sort(value: str | None, sorts: dict[str, tuple[str, str]], default: str) -> Sort:
    """``value`` ("name" or "-name") as a Sort of ``sorts``; ``default`` when empty.
    UsageError naming the known sorts (and the closest) otherwise."""
    text = (value or default).strip() or default
    descending = text.startswith("-")
    name = text[1:] if descending else text
    if name not in sorts:
        close = difflib.get_close_matches(name, list(sorts), n=1)
        raise UsageError(
            f"sort: unknown sort {name!r}",
            expected="one of " + ", ".join(sorted(sorts)) + " (a leading - sorts descending)",
            hint=f"did you mean {close[0]!r}?" if close else None,
        )
    sql, kind = sorts[name]
    return Sort(name, sql, kind, descending)


def _keyset(sort: Sort, tiebreak: str, after: Sequence[Any] | None) -> tuple[str, list[Any]]:
    """The WHERE clause (or "true") for rows after ``after`` = [key, tiebreak]."""
    if after is None:
        return "true", []
    if len(after) != 2 or not isinstance(after[1], str):
        raise UsageError("cursor: not a cursor of this list", hint="start again without it")
    key = after[0]
    if sort.kind == "num" and (isinstance(key, bool) or not isinstance(key, int | float)):
        raise UsageError("cursor: not a cursor of this sort", hint="start again without it")
    if sort.kind == "text" and not isinstance(key, str):
        raise UsageError("cursor: not a cursor of this sort", hint="start again without it")
    op = "<" if sort.descending else ">"
    return f"(({sort.sql}) {op} ? OR (({sort.sql}) = ? AND {tiebreak} > ?))", [key, key, after[1]]


def first(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of an executed query, reading the result to its end (DuckDB keeps
    an unfinished result open on the connection and refuses the next statement)."""
    rows = cursor.fetchall()
    return tuple(rows[0]) if rows else None


def rows_of(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _contains(expr: str) -> str:
    return f"contains(lower(coalesce({expr}, '')), ?)"


# -- actors ------------------------------------------------------------------------------
_ACTORS = """
WITH base AS (
  SELECT aa.actor_id, count(*) AS accounts,
         list_sort(list_distinct(list(coalesce(m.name, aa.market_id)))) AS markets,
         list_sort(list_distinct(list(aa.market_id))) AS market_ids,
         list_sort(list_distinct(list(aa.handle))) AS handles,
         list_sort(list(aa.account_id)) AS account_ids,
         list_sort(list_distinct(list(aa.kind))) AS kinds,
         min(json_extract_string(r.facts, '$.first_seen')) AS first_seen,
         max(json_extract_string(r.facts, '$.last_seen')) AS last_seen
  FROM actor_accounts aa LEFT JOIN markets m ON m.id = aa.market_id
  LEFT JOIN resolve_accounts r ON r.account_id = aa.account_id
  GROUP BY aa.actor_id
)
SELECT * FROM (
  SELECT b.*, a.label, rv.revenue_usd FROM base b
  LEFT JOIN actors a ON a.actor_ref = b.actor_id AND a.source = 'spector.resolve'
  LEFT JOIN (SELECT unnest(?::VARCHAR[]) AS actor_id, unnest(?::DOUBLE[]) AS revenue_usd) rv
    ON rv.actor_id = b.actor_id
)
"""


def actors_page(
    ws: Workspace,
    *,
    q: str | None = None,
    market: str | None = None,
    kind: str | None = None,
    min_accounts: int | None = None,
    sort: Sort | None = None,
    after: Sequence[Any] | None = None,
    limit: int = 50,
    revenue: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Actors of the last run: actor_id, label (its most used handle), accounts (count),
    markets (names), market_ids, handles, account_ids, kinds, first_seen, last_seen
    (ISO text or None), revenue_usd (from ``revenue``, actor id -> USD; None without)
    and ``cursor`` (the row's sort key). ``q`` matches (case-insensitive, substring) the
    actor id, label or a handle, or is an account id of it; ``market`` is a market id or
    name; ``kind`` "vendor" or "member"."""
    sort = sort or parse_sort(None, ACTOR_SORTS, "-accounts")
    money = revenue or {}
    where: list[str] = ["true"]
    params: list[Any] = []
    if q and q.strip():
        needle = q.strip().lower()
        where.append(f"({_contains('actor_id')} OR {_contains('label')} OR "
                     "len(list_filter(handles, lambda h: contains(lower(h), ?))) > 0 OR "
                     "list_contains(account_ids, ?))")  # fmt: skip
        params += [needle, needle, needle, q.strip()]
    if market and market.strip():
        where.append("(list_contains(market_ids, ?) OR list_contains(markets, ?))")
        params += [market.strip(), market.strip()]
    if kind:
        where.append("list_contains(kinds, ?)")
        params.append(kind)
    if min_accounts is not None:
        where.append("accounts >= ?")
        params.append(int(min_accounts))
    clause, keyset = _keyset(sort, "actor_id", after)
    order = "DESC" if sort.descending else "ASC"
    sql = (
        _ACTORS
        + f" WHERE {' AND '.join(where)} AND {clause} "
        + f"ORDER BY ({sort.sql}) {order}, actor_id LIMIT ?"
    )
    key_sql = sql.replace("SELECT * FROM (", f"SELECT *, ({sort.sql}) AS _key FROM (", 1)
    revenue_params = [list(money), [float(v) for v in money.values()]]
    rows = rows_of(ws.store.con, key_sql, [*revenue_params, *params, *keyset, int(limit) + 1])
    for row in rows:
        row["cursor"] = [row.pop("_key"), row["actor_id"]]
        row["accounts"] = int(row["accounts"])
        if row["revenue_usd"] is not None:
            row["revenue_usd"] = round(float(row["revenue_usd"]), 2)
    return rows


# -- accounts ----------------------------------------------------------------------------
_ACCOUNTS = """
WITH acc AS (
  SELECT v.id AS account_id, 'vendor' AS kind, v.market_id, v.handle FROM vendor_accounts v
  UNION ALL
  SELECT aa.account_id, aa.kind, aa.market_id, aa.handle FROM actor_accounts aa
  WHERE aa.account_id NOT IN (SELECT id FROM vendor_accounts)
), counted AS (
  SELECT vendor_id, count(*) AS n FROM listings WHERE vendor_id IS NOT NULL GROUP BY 1
)
SELECT * FROM (
  SELECT acc.account_id, acc.kind, acc.market_id, coalesce(m.name, acc.market_id) AS market,
         acc.handle, aa.actor_id, coalesce(c.n, 0) AS listings, v.rating, v.sales_count,
         v.feedback_count, coalesce(v.ships_from, json_extract_string(r.facts, '$.ships_from'))
           AS ships_from,
         coalesce(v.pgp_fingerprints, []) AS pgp,
         coalesce(json_extract_string(r.facts, '$.first_seen'),
                  strftime(v.first_seen, '%Y-%m-%dT%H:%M:%S')) AS first_seen,
         coalesce(json_extract_string(r.facts, '$.last_seen'),
                  strftime(v.last_seen, '%Y-%m-%dT%H:%M:%S')) AS last_seen
  FROM acc LEFT JOIN markets m ON m.id = acc.market_id
  LEFT JOIN vendor_accounts v ON v.id = acc.account_id
  LEFT JOIN actor_accounts aa ON aa.account_id = acc.account_id
  LEFT JOIN resolve_accounts r ON r.account_id = acc.account_id
  LEFT JOIN counted c ON c.vendor_id = acc.account_id
)
"""


def accounts_page(
    ws: Workspace,
    *,
    q: str | None = None,
    market: str | None = None,
    kind: str | None = None,
    actor: str | None = None,
    sort: Sort | None = None,
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Vendor accounts (and the forum members resolution knows): account_id, kind,
    market_id, market, handle, actor_id (None before `spector resolve`), listings,
    rating, sales_count, feedback_count, ships_from, pgp, first_seen, last_seen and
    ``cursor``. ``q`` matches the handle (substring, any case) or is the account id;
    ``market`` a market id or name; ``actor`` an actor id."""
    sort = sort or parse_sort(None, ACCOUNT_SORTS, "handle")
    where: list[str] = ["true"]
    params: list[Any] = []
    if q and q.strip():
        where.append(f"({_contains('handle')} OR account_id = ?)")
        params += [q.strip().lower(), q.strip()]
    if market and market.strip():
        where.append("(market_id = ? OR market = ?)")
        params += [market.strip(), market.strip()]
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if actor and actor.strip():
        where.append("actor_id = ?")
        params.append(actor.strip())
    clause, keyset = _keyset(sort, "account_id", after)
    order = "DESC" if sort.descending else "ASC"
    sql = (
        _ACCOUNTS.replace("SELECT * FROM (", f"SELECT *, ({sort.sql}) AS _key FROM (", 1)
        + f" WHERE {' AND '.join(where)} AND {clause} "
        + f"ORDER BY ({sort.sql}) {order}, account_id LIMIT ?"
    )
    rows = rows_of(ws.store.con, sql, [*params, *keyset, int(limit) + 1])
    for row in rows:
        row["cursor"] = [row.pop("_key"), row["account_id"]]
        row["listings"] = int(row["listings"])
        row["pgp"] = list(row["pgp"] or [])
    return rows


def _closest_account(con: duckdb.DuckDBPyConnection, key: str) -> str:
    known = [str(r[0]) for r in con.execute(
        "SELECT id FROM vendor_accounts UNION SELECT account_id FROM actor_accounts"
    ).fetchall()]  # fmt: skip
    by_handle = first(
        con.execute(
            "SELECT id FROM vendor_accounts WHERE lower(handle) = lower(?) UNION SELECT "
            "account_id FROM actor_accounts WHERE lower(handle) = lower(?) ORDER BY 1 LIMIT 1",
            [key, key],
        )
    )
    if by_handle:
        return f"{key!r} is the handle of account {by_handle[0]}"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.3)
    return f"closest known: {close[0]}" if close else "see /api/v1/vendor-accounts"


def account_detail(ws: Workspace, account_id: str, *, listings: int = 50) -> dict[str, Any]:
    """One account: the ``accounts_page`` keys, plus profile_text, contacts, joined,
    feedback_positive, feedback_negative (vendors; None for members), facts (what the
    last run knew of it: selectors, payto, clusters, categories...; {} before it),
    actor_accounts (the other accounts of its actor), posts (count, members) and
    ``recent_listings`` (up to ``listings``: id, title, category, price_usd,
    ships_from, last_seen; newest first). NotFound for an unknown id."""
    from spector.resolve._store import account_facts

    con = ws.store.con
    key = account_id.strip()
    found = rows_of(con, _ACCOUNTS + " WHERE account_id = ?", [key])
    if not found:
        raise NotFound(f"no vendor account {key!r}", hint=_closest_account(con, key))
    row = found[0]
    row["listings"] = int(row["listings"])
    row["pgp"] = list(row["pgp"] or [])
    extra = first(
        con.execute(
            "SELECT profile_text, contacts, joined, feedback_positive, feedback_negative "
            "FROM vendor_accounts WHERE id = ?",
            [key],
        )
    )
    names = ("profile_text", "contacts", "joined", "feedback_positive", "feedback_negative")
    row |= dict(zip(names, extra or (None,) * len(names), strict=True))
    row["contacts"] = list(row["contacts"] or [])
    if row["joined"] is not None:
        row["joined"] = row["joined"].isoformat(timespec="seconds")
    row["facts"] = account_facts(ws, [key]).get(key, {})
    row["actor_accounts"] = rows_of(
        con,
        "SELECT aa.account_id, aa.kind, coalesce(m.name, aa.market_id) AS market, aa.handle "
        "FROM actor_accounts aa LEFT JOIN markets m ON m.id = aa.market_id "
        "WHERE aa.actor_id = ? AND aa.account_id <> ? ORDER BY aa.account_id",
        [row["actor_id"], key],
    ) if row["actor_id"] else []  # fmt: skip
    posts = first(
        con.execute(
            "SELECT count(*) FROM posts WHERE author_id = ? "
            "OR (author_id IS NULL AND market_id = ? AND author = ?)",
            [key, row["market_id"], row["handle"]],
        )
    )
    row["posts"] = int(posts[0]) if posts else 0
    recent = rows_of(
        con,
        "SELECT id, title, category, price_usd, ships_from, "
        "strftime(last_seen, '%Y-%m-%dT%H:%M:%S') AS last_seen FROM listings "
        "WHERE vendor_id = ? ORDER BY last_seen DESC NULLS LAST, id LIMIT ?",
        [key, int(listings)],
    )
    for listing in recent:
        price = listing["price_usd"]
        listing["price_usd"] = None if price is None else round(float(price), 2)
    row["recent_listings"] = recent
    return row


def closest_actor(con: duckdb.DuckDBPyConnection, key: str) -> str:
    known = [str(r[0]) for r in con.execute(
        "SELECT DISTINCT actor_id FROM actor_accounts ORDER BY 1").fetchall()]  # fmt: skip
    close = difflib.get_close_matches(key.strip(), known, n=1, cutoff=0.3)
    return f"closest known: {close[0]}" if close else "see /actors"


# -- exchanges ---------------------------------------------------------------------------
_PAID = """
WITH src AS (SELECT address, cluster_id FROM chain_clusters WHERE list_contains(?, cluster_id)),
paid AS (
  SELECT i.txid, min(s.cluster_id) AS from_cluster FROM inputs i JOIN src s ON s.address = i.address
  GROUP BY i.txid
),
outs AS (
  SELECT p.from_cluster, o.txid, o.vout, o.value, c.cluster_id AS to_cluster
  FROM outputs o JOIN paid p ON p.txid = o.txid JOIN chain_clusters c ON c.address = o.address
  WHERE c.cluster_id NOT IN (SELECT cluster_id FROM src)
),
svc AS (
  SELECT DISTINCT c.cluster_id, coalesce(t.actor, t.label) AS exchange, t.label
  FROM chain_tags t JOIN chain_clusters c ON c.address = t.address WHERE t.category = ?
),
hit AS (
  SELECT DISTINCT o.from_cluster, o.txid, o.vout, o.value, s.exchange, s.label
  FROM outs o JOIN svc s ON s.cluster_id = o.to_cluster
)
SELECT from_cluster, exchange, min(label) AS label, count(DISTINCT txid) AS txs,
       sum(value) AS value_sat
FROM hit GROUP BY from_cluster, exchange ORDER BY from_cluster, value_sat DESC, exchange
"""

_TAGGED = """
SELECT DISTINCT c.cluster_id, coalesce(t.actor, t.label) AS exchange, t.label
FROM chain_tags t JOIN chain_clusters c ON c.address = t.address
WHERE t.category = ? AND list_contains(?, c.cluster_id) ORDER BY 1, 2
"""


def actor_exchanges(ws: Workspace, clusters: Sequence[int]) -> list[dict[str, Any]]:
    """The exchanges linked to the chain clusters ``clusters`` (an actor's wallets): an
    exchange-tagged cluster among them (``via`` "tagged": the pay-to address is the
    exchange's) or one a transaction spending from them paid directly (``via``
    "paid": txs, value_sat summed over the outputs to the exchange's clusters). Rows:
    cluster_id, exchange (the tag's actor, else its label), label, via, txs, value_sat;
    by cluster, then value. Needs the chain views (``spector.chain._query.ensure_views``)."""
    wanted = sorted({int(c) for c in clusters})
    if not wanted:
        return []
    con = ws.store.con
    out: list[dict[str, Any]] = [
        {"cluster_id": int(c), "exchange": str(e), "label": str(lab), "via": "tagged",
         "txs": 0, "value_sat": 0}
        for c, e, lab in con.execute(_TAGGED, [EXCHANGE, wanted]).fetchall()
    ]  # fmt: skip
    out += [
        {"cluster_id": int(c), "exchange": str(e), "label": str(lab), "via": "paid",
         "txs": int(n), "value_sat": int(v)}
        for c, e, lab, n, v in con.execute(_PAID, [wanted, EXCHANGE]).fetchall()
    ]  # fmt: skip
    out.sort(key=lambda r: (r["cluster_id"], r["via"] != "tagged", -r["value_sat"], r["exchange"]))
    return out


def actor_detail(
    ws: Workspace, actor_id: str, *, by_actor: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``actor_package`` of ``actor_id`` (``by_actor``: the economics estimate's rows, if
    the caller has them) plus label (its most used handle) and exchanges
    (``actor_exchanges`` of its chain clusters). NotFound for an unknown actor (naming
    the closest). Needs the chain views, as ``actor_exchanges`` does."""
    from spector.resolve._package import actor_package

    con = ws.store.con
    key = actor_id.strip()
    held = first(con.execute("SELECT count(*) FROM actor_accounts WHERE actor_id = ?", [key]))
    if not held or not int(held[0]):
        raise NotFound(f"no actor {key!r}", hint=closest_actor(con, key))
    package = actor_package(ws, key, by_actor=by_actor)
    label = first(
        con.execute(
            "SELECT label FROM actors WHERE actor_ref = ? AND source = 'spector.resolve'", [key]
        )
    )
    package["label"] = label[0] if label else None
    package["exchanges"] = actor_exchanges(ws, [c["cluster_id"] for c in package["chain_clusters"]])
    return package
