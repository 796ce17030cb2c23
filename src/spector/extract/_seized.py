"""A seized market's database export (CSV tables) as a first-class source.

Reads the training range's export layout (users, listings, orders, messages); vendors,
listings and orders become records, and each order's pay-to address becomes a BTC
selector sighted on that order: the link from the market's books to the chain. Message
bodies are counted, not stored. Bad rows go to ``extraction_errors`` and the rest goes on.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from spector.errors import InputError, SelectorInvalid
from spector.model import (
    Listing,
    Market,
    Order,
    Record,
    Selector,
    SelectorSighting,
    VendorAccount,
    make_id,
    selector_kind,
)
from spector.store import Store, market_ref

__all__ = ["import_seized"]

TABLES = ("users", "listings", "orders", "messages")


def _read(folder: Path, name: str) -> list[dict[str, str]]:
    path = folder / f"{name}.csv"
    if not path.is_file():
        raise InputError(f"no {name}.csv", where=folder, expected=f"the tables {', '.join(TABLES)}")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def import_seized(store: Store, folder: Path, market_name: str) -> dict[str, Any]:
    # The market named at import: the one already known under that name when there is one
    # (the seized server of a market that was crawled), else a market known by its name.
    market = Market(name=market_name, status="seized", ref=market_ref(store, name=market_name))
    users = {u["user_id"]: u for u in _read(folder, "users")}
    listings = _read(folder, "listings")
    orders = _read(folder, "orders")
    messages = _read(folder, "messages")
    source = f"seized:{folder.name}"
    btc = selector_kind("btc_address")
    records: list[Record] = [market]
    errors: list[tuple[str, str]] = []
    vendors: dict[str, VendorAccount] = {}
    for uid, user in users.items():
        if user.get("role") != "vendor":
            continue
        fingerprint = (user.get("pgp_fingerprint") or "").strip()
        joined = _date(user.get("joined_at"))
        vendors[uid] = VendorAccount(
            market_id=market.id,
            handle=user["username"],
            joined=joined,
            pgp_fingerprints=(fingerprint,) if fingerprint else (),
        )
    records += vendors.values()
    listing_ids: dict[str, str] = {}
    for n, row in enumerate(listings, start=2):
        vendor = vendors.get(row.get("vendor_user_id", ""))
        try:
            price = Decimal(row["price_usd"])
        except (InvalidOperation, KeyError):
            errors.append((f"listings.csv row {n}", f"price {row.get('price_usd')!r}"))
            continue
        listing = Listing(
            market_id=market.id,
            listing_ref=row["listing_id"],
            vendor_id=vendor.id if vendor else None,
            title=row.get("title"),
            category=row.get("category") or None,
            price=price,
            currency="USD",
            price_usd=price,
        )
        listing_ids[row["listing_id"]] = listing.id
        records.append(listing)
    linked = 0
    for n, row in enumerate(orders, start=2):
        vendor = vendors.get(row.get("vendor_user_id", ""))
        buyer = users.get(row.get("buyer_user_id", ""), {}).get("username")
        try:
            amount = Decimal(row["amount_btc"])
            amount_usd = Decimal(row["amount_usd"])
            created = datetime.fromisoformat(row["created_at"]).replace(tzinfo=UTC)
        except (InvalidOperation, KeyError, ValueError) as exc:
            errors.append((f"orders.csv row {n}", f"unreadable amount or date: {exc}"))
            continue
        address = (row.get("payto_address") or "").strip() or None
        if address:
            try:
                address = btc.normalise(address)
            except SelectorInvalid as exc:
                errors.append((f"orders.csv row {n}", exc.reason))
                address = None
        order = Order(
            market_id=market.id,
            order_ref=row["order_id"],
            listing_id=listing_ids.get(row.get("listing_id", "")),
            vendor_id=vendor.id if vendor else None,
            buyer=buyer,
            amount=amount,
            currency="BTC",
            amount_usd=amount_usd,
            payto_address=address,
            created_at=created,
            status=row.get("status"),
        )
        records.append(order)
        if address:
            selector = Selector(kind="btc_address", value=address)
            records += [
                selector,
                SelectorSighting(
                    selector_id=selector.id, kind="btc_address", value=address, entity_id=order.id
                ),
            ]
            linked += 1
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.transaction():
        store.con.execute("DELETE FROM extraction_errors WHERE source = ?", [source])
        if errors:
            store.con.executemany(
                "INSERT INTO extraction_errors VALUES (?, ?, ?, 'seized', ?, ?, ?)",
                [
                    (make_id("extraction_error", source, ref), source, ref, why, now, now)
                    for ref, why in errors
                ],
            )
    store.upsert(records, source=source)
    return {
        "market": market_name,
        "vendors": len(vendors),
        "listings": len(listing_ids),
        "orders": len(orders) - sum(1 for r, _ in errors if r.startswith("orders")),
        "orders_with_payto": linked,
        "messages": len(messages),
        "errors": len(errors),
    }


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None
