"""The seized server's truth: the whole database of the market the range's export is of.

The export (``truth.json`` ``seized_export``; ``seized/<market>/*.csv``) holds every vendor
account, listing and order the market ever had, not a day's view: all of it is in scope.
Identities and values come from the world (handle, join date, PGP key; a listing's title,
category and USD price; a sale's amounts and day); what only the export names (the buyer's
user name, the order's pay-to address and status) comes from its files. The export holds
no feedback and no forum posts.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from spector.sim._score_truth import Expected, KindTruth, moment, noun

__all__ = ["SEIZED_KINDS", "SeizedTruth", "seized_truth"]

SEIZED_KINDS = ("listing", "vendor_account", "feedback", "post", "order")
SHOWN = {
    "vendor_account": ("handle", "joined", "pgp_fingerprints"),
    "listing": ("title", "category", "price", "currency", "price_usd", "vendor"),
    "order": (
        "listing",
        "vendor",
        "buyer",
        "amount",
        "currency",
        "amount_usd",
        "payto_address",
        "created_at",
        "status",
    ),
}


@dataclass
class SeizedTruth:
    market_id: str
    name: str
    family: str
    folder: Path
    kinds: dict[str, KindTruth]
    scope: str


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def seized_truth(out: Path, truth: dict[str, Any]) -> SeizedTruth | None:
    """The seized export's truth, or None when the range has no export."""
    export = truth.get("seized_export")
    if not export:
        return None
    mid = export["market_id"]
    market = next(m for m in truth["markets"] if m["market_id"] == mid)
    family, folder, world = market["family"], out / export["folder"], out / "world"

    def rows(name: str, columns: list[str]) -> list[dict[str, Any]]:
        table = pq.read_table(world / f"{name}.parquet", columns=columns)
        return [r for r in table.to_pylist() if r["market_id"] == mid]

    accounts = rows(
        "accounts", ["account_id", "market_id", "handle", "joined_day", "pgp_fingerprint"]
    )
    handle = {a["account_id"]: a["handle"] for a in accounts}
    vt = KindTruth("vendor_account")
    for a in accounts:
        values = {
            "handle": a["handle"],
            "joined": moment(a["joined_day"]),
            "pgp_fingerprints": [a["pgp_fingerprint"]] if a["pgp_fingerprint"] else [],
        }
        _put(vt, (mid, a["handle"].casefold()), family, values)
    listings = rows(
        "listings",
        ["listing_id", "market_id", "account_id", "ref", "title", "category", "shown_price_usd"],
    )
    ref = {x["listing_id"]: x["ref"] for x in listings}
    lt = KindTruth("listing")
    for x in listings:
        values = {
            "title": x["title"],
            "category": x["category"],
            # the database keeps USD, and a holding listing's placeholder as its price
            "price": x["shown_price_usd"],
            "currency": "USD",
            "price_usd": (x["shown_price_usd"], Decimal(0)),
            "vendor": handle[x["account_id"]],
        }
        _put(lt, (mid, x["ref"]), family, values)
    users = {u["user_id"]: u["username"] for u in _csv(folder / "users.csv")}
    exported = {o["order_id"]: o for o in _csv(folder / "orders.csv")}
    ot = KindTruth("order")
    sales = rows(
        "sales",
        ["sale_id", "market_id", "listing_id", "account_id", "day", "amount_usd", "amount_sat"],
    )
    for s in sales:
        order: dict[str, Any] = {
            "listing": ref[s["listing_id"]],
            "vendor": handle[s["account_id"]],
            "amount": (Decimal(s["amount_sat"]) / 100_000_000).quantize(Decimal("0.00000001")),
            "currency": "BTC",
            "amount_usd": s["amount_usd"],
            "created_at": (moment(s["day"]), moment(s["day"] + 1)),
        }
        row = exported.get(s["sale_id"])
        if row is not None:  # what only the export names
            order["buyer"] = users.get(row.get("buyer_user_id", ""))
            order["payto_address"] = row.get("payto_address") or None
            order["status"] = row.get("status") or None
        _put(ot, (mid, s["sale_id"]), family, order)
    kinds = {
        "listing": lt,
        "vendor_account": vt,
        "feedback": KindTruth("feedback", scope="the seized export holds no feedback"),
        "post": KindTruth("post", scope="the seized export holds no forum posts"),
        "order": ot,
    }
    where = export["folder"]
    for kind in ("listing", "vendor_account", "order"):
        kinds[kind].scope = f"{noun(kind, len(kinds[kind].want))}: all the seized database held"
    scope = (
        f"the seized server of {market['name']} ({where}), its whole database: "
        f"{noun('listing', len(lt.want))}, {noun('vendor_account', len(vt.want))}, "
        f"{len(ot.want):,} orders"
    )
    return SeizedTruth(mid, market["name"], family, folder, kinds, scope)


def _put(kt: KindTruth, key: tuple[str, ...], family: str, values: dict[str, Any]) -> None:
    kt.known[key] = family
    shown = SHOWN[kt.kind]
    kt.want[key] = Expected(family, {f: values[f] for f in shown if f in values})
