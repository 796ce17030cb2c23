"""Tags from Spector's own data: what the crawl and the seized servers say an address is.

- ``web_crawl``: a Bitcoin address shown on a page about one vendor account (its profile,
  one of its listings or its feedback: a capture from which extraction stored exactly one
  vendor account) is that vendor's pay-to address. Tag: label ``<handle> on <market>``,
  category ``user``, source the page's URL, ``origin_ref`` the first capture it was seen in
  (the context counts the captures and gives first and last seen). An address shown on
  the pages of two or more vendor accounts of one market is page furniture (or a shared
  wallet) and is not attributed; the report counts those.
- ``seized_data``: the pay-to address of an order in a market's own database (a seized
  server, ``spector import seized``) is that market's deposit address. Tag: label the
  market's name, category ``market``, source and ``origin_ref`` the import's source
  (``seized:<folder>``); the context counts the orders and gives the first and last.

Both kinds are tagged ``is_cluster_definer`` (the attribution is of the owner, so of its
wallet). ``derive_tags`` replaces every tag it made before: re-running it changes nothing
when the data has not changed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spector.chain._tags_import import insert_arrow, tag_arrow
from spector.chain._tags_schema import confidences
from spector.model import make_id
from spector.store import Workspace

__all__ = ["DERIVED_ORIGINS", "DeriveReport", "derive_tags"]

DERIVED_ORIGINS = ("web_crawl", "seized_data")

_VENDOR_PAYTO = """
WITH page_vendor AS (
    SELECT substr(source, 9) AS capture_id, min(entity_id) AS vendor_id
    FROM observations
    WHERE entity_table = 'vendor_accounts' AND source LIKE 'capture:%'
    GROUP BY 1 HAVING count(DISTINCT entity_id) = 1
), seen AS (
    SELECT s.value AS address, p.vendor_id, v.market_id, s.capture_id, c.url, c.fetched_at
    FROM selector_sightings s
    JOIN page_vendor p ON p.capture_id = s.capture_id
    JOIN vendor_accounts v ON v.id = p.vendor_id
    JOIN captures c ON c.id = s.capture_id
    WHERE s.kind = 'btc_address'
), shared AS (
    SELECT address, market_id FROM seen GROUP BY ALL HAVING count(DISTINCT vendor_id) > 1
)
SELECT seen.address, seen.vendor_id, any_value(v.handle), seen.market_id, any_value(m.name),
       arg_min(seen.capture_id, seen.fetched_at), arg_min(seen.url, seen.fetched_at),
       min(seen.fetched_at), max(seen.fetched_at), count(DISTINCT seen.capture_id),
       bool_or(sh.address IS NOT NULL)
FROM seen
JOIN vendor_accounts v ON v.id = seen.vendor_id
LEFT JOIN markets m ON m.id = seen.market_id
LEFT JOIN shared sh ON sh.address = seen.address AND sh.market_id = seen.market_id
GROUP BY seen.address, seen.vendor_id, seen.market_id
ORDER BY seen.address, seen.vendor_id
"""

_MARKET_DEPOSITS = """
SELECT o.payto_address, o.market_id, any_value(m.name), o.source, count(*),
       min(o.created_at), max(o.created_at)
FROM orders o LEFT JOIN markets m ON m.id = o.market_id
WHERE o.payto_address IS NOT NULL
GROUP BY o.payto_address, o.market_id, o.source
ORDER BY o.payto_address, o.market_id, o.source
"""


@dataclass(frozen=True, slots=True)
class DeriveReport:
    web_crawl: int  # vendor pay-to tags
    vendors: int  # vendor accounts tagged
    captures: int  # captures the tags came from (first sightings)
    shared: int  # addresses on pages of several vendor accounts of one market: not tagged
    seized_data: int  # market deposit tags
    markets: int
    imports: int  # seized imports the tags came from
    replaced: int  # derived tags there were before

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else None


def derive_tags(ws: Workspace) -> DeriveReport:
    """Replace the derived tags with those the store's data gives now (see module doc)."""
    con = ws.store.con
    levels = confidences()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows: dict[str, list[object]] = {}

    def add(**values: object) -> None:
        for key, value in values.items():
            rows.setdefault(key, []).append(value)

    vendors, captures, shared = set(), set(), set()
    for (
        address,
        vendor_id,
        handle,
        market_id,
        market,
        capture_id,
        url,
        first,
        last,
        pages,
        is_shared,
    ) in con.execute(_VENDOR_PAYTO).fetchall():
        if is_shared:
            shared.add(address)
            continue
        vendors.add(vendor_id)
        captures.add(capture_id)
        context = {
            "spector": {
                "origin": "web_crawl",
                "capture": capture_id,
                "url": url,
                "captures": pages,
                "first_seen": _iso(first),
                "last_seen": _iso(last),
                "vendor_account": vendor_id,
                "market": market_id,
            }
        }
        add(
            tag_id=make_id("chain_tag", "web_crawl", address, vendor_id),
            address=address,
            label=f"{handle} on {market or market_id}",
            category="user",
            concepts=["user", "dark_web"],
            confidence="web_crawl",
            confidence_level=levels["web_crawl"].level,
            source=url,
            context=context,
            lastmod=last,
            origin="web_crawl",
            origin_ref=capture_id,
            subject_table="vendor_accounts",
            subject_id=vendor_id,
        )
    web_crawl = len(rows.get("tag_id", []))
    markets, imports = set(), set()
    for address, market_id, market, source, orders, first, last in con.execute(
        _MARKET_DEPOSITS
    ).fetchall():
        markets.add(market_id)
        imports.add(source)
        context = {
            "spector": {
                "origin": "seized_data",
                "import": source,
                "orders": orders,
                "first_order": _iso(first),
                "last_order": _iso(last),
                "market": market_id,
            }
        }
        add(
            tag_id=make_id("chain_tag", "seized_data", address, market_id, source),
            address=address,
            label=market or market_id,
            category="market",
            concepts=["market"],
            confidence="seized_data",
            confidence_level=levels["seized_data"].level,
            source=source,
            context=context,
            lastmod=last,
            origin="seized_data",
            origin_ref=source,
            subject_table="markets",
            subject_id=market_id,
        )
    n = len(rows.get("tag_id", []))
    fixed = {
        "tx_hash": None,
        "currency": "BTC",
        "network": "BTC",
        "abuse": None,
        "actor": None,
        "is_cluster_definer": True,
        "tag_type": None,
        "pack": None,
        "pack_title": None,
        "pack_creator": None,
        "line": None,
        "created_at": now,
    }
    columns: dict[str, list[object]] = {key: [value] * n for key, value in fixed.items()}
    columns.update(rows)
    columns["context"] = [json.dumps(c, sort_keys=True) for c in rows.get("context", [])]
    with ws.store.transaction():
        row = con.execute(
            "SELECT count(*) FROM chain_tags WHERE origin IN ('web_crawl', 'seized_data')"
        ).fetchone()
        con.execute("DELETE FROM chain_tags WHERE origin IN ('web_crawl', 'seized_data')")
        if n:
            insert_arrow(con, "chain_tags", tag_arrow(columns))
    return DeriveReport(
        web_crawl,
        len(vendors),
        len(captures),
        len(shared),
        n - web_crawl,
        len(markets),
        len(imports),
        int(row[0]) if row else 0,
    )
