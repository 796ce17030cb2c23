"""Hand-made stores for the economics tests: records upserted as a crawl would."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from spector.model import Feedback, Listing, Market, VendorAccount

DAY0 = datetime(2024, 1, 1)  # a Monday: ISO week 2024-W01


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def market(name: str = "Alpha", status: str = "active") -> Market:
    return Market(name=name, status=status, ref=f"name:{name}")


def vendor(m: Market, handle: str, ships_from: str | None = "NL") -> VendorAccount:
    return VendorAccount(market_id=m.id, handle=handle, ships_from=ships_from)


def listing(m: Market, v: VendorAccount, ref: str, usd: str, **kw: object) -> Listing:
    fields: dict[str, object] = {
        "title": ref,
        "category": "drugs.cannabis",
        "price": Decimal(usd),
        "currency": "USD",
        "price_usd": Decimal(usd),
    }
    fields.update(kw)
    return Listing(market_id=m.id, listing_ref=ref, vendor_id=v.id, **fields)  # type: ignore[arg-type]


def feedback(
    m: Market, v: VendorAccount, x: Listing | None, ref: str | None, at: float, **kw: object
) -> Feedback:
    fields: dict[str, object] = {"rating": 5.0, "text": f"fine {ref}", "buyer": "b***r"}
    fields.update(kw)
    return Feedback(
        market_id=m.id,
        vendor_id=v.id,
        listing_id=x.id if x is not None else None,
        feedback_ref=ref,
        left_after=day(at) - timedelta(minutes=1),
        left_before=day(at) + timedelta(minutes=1),
        **fields,  # type: ignore[arg-type]
    )
