"""The truth side of ``revenue.*`` (see ``spector.sim._score_revenue``): which markets are
scored as of which day, and per market the sales a crawl could know of, their weights,
the holding listings' sales, the counters' sales, and the feedback a crawl can see (the
market's own feedback rate ``r_m``)."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from spector.sim._range import read_truth
from spector.sim._sites._escrow import EscrowSite, WalletlessSite
from spector.sim._sites._hydra import HydraSite
from spector.sim._world import EPOCH, SCALES

__all__ = ["COUNTER_FAMILIES", "FEEDBACK_FAMILIES", "Truth", "Window", "load", "scored", "windows"]

FEEDBACK_FAMILIES = ("escrow", "walletless", "hydra")
# the families whose listing pages show "N sold since DATE" (sim._sites: ``sold_counter``)
COUNTER_FAMILIES = tuple(
    site.family
    for site in (EscrowSite, WalletlessSite, HydraSite)
    if getattr(site, "sold_counter", False)
)


@dataclass
class Truth:
    day: int
    rate: float
    markets: dict[str, dict[str, Any]]
    accounts: dict[tuple[str, str], str]  # (range market, handle folded) -> account id
    listings: dict[str, dict[str, Any]]
    sales: list[dict[str, Any]]
    feedback: dict[tuple[str, str], dict[str, Any]]  # (range market, feedback id) -> row
    delay_cdf: list[int]  # sorted delays (days from sale to feedback)


@dataclass
class Window:
    """What the truth knows of one scored market as of its day (see the module doc)."""

    day: int
    true_usd: float = 0.0
    sales_usd: float = 0.0
    sales: int = 0
    weighted_sales: float = 0.0
    holding_usd: float = 0.0
    feedback: int = 0
    shill_feedback: int = 0
    counter_usd: float = 0.0  # of true_usd: sales of listings showing a counter that day
    counter_sales: int = 0

    @property
    def rate(self) -> float | None:
        """Feedback seen per sale, over the sales without a counter (``r_m``)."""
        return (
            self.feedback / self.weighted_sales if self.weighted_sales and self.feedback else None
        )


def load(out: Path) -> Truth:
    truth = read_truth(out)
    world = out / "world"

    def read(name: str, columns: list[str]) -> list[dict[str, Any]]:
        return pq.read_table(world / f"{name}.parquet", columns=columns).to_pylist()  # type: ignore[no-any-return]

    day = int(truth["day"])
    rate = float(truth.get("feedback_share") or SCALES[truth["scale"]].feedback_share)
    sales = read("sales", ["sale_id", "listing_id", "market_id", "account_id", "day", "amount_usd"])
    feedback = read("feedback", ["feedback_id", "market_id", "listing_id", "sale_id", "day"])
    sale_day = {s["sale_id"]: s["day"] for s in sales}
    delays = [f["day"] - sale_day[f["sale_id"]] for f in feedback if f["sale_id"] in sale_day]
    longest = max(delays, default=0)
    # only sales old enough for every delay to have been seen: an uncensored sample
    delays = sorted(
        f["day"] - sale_day[f["sale_id"]]
        for f in feedback
        if f["sale_id"] in sale_day and sale_day[f["sale_id"]] <= day - longest
    )
    columns = ["listing_id", "market_id", "account_id", "price_usd", "start_day", "end_day"]
    if "holding_day" in pq.read_schema(world / "listings.parquet").names:
        columns.append("holding_day")  # the day its page starts showing a holding price
    return Truth(
        day=day,
        rate=rate,
        markets={m["market_id"]: m for m in truth["markets"]},
        accounts={
            (a["market_id"], a["handle"].casefold()): a["account_id"]
            for a in read("accounts", ["account_id", "market_id", "handle"])
        },
        listings={x["listing_id"]: x for x in read("listings", columns)},
        sales=sales,
        feedback={(f["market_id"], f["feedback_id"]): f for f in feedback},
        delay_cdf=delays,
    )


def _seen_by(delays: list[int], days: int) -> float:
    """The chance a sale's feedback has been left ``days`` after it."""
    if not delays:
        return 1.0
    return bisect_right(delays, days) / len(delays)


def _day_of(at: datetime | None) -> int | None:
    if at is None:
        return None
    return (at - EPOCH.replace(tzinfo=None)).days if at.tzinfo is None else (at - EPOCH).days


def scored(con: Any, t: Truth, ws_market: dict[str, str]) -> tuple[dict[str, int], dict[str, str]]:
    """Range market -> the day it is scored as of; and the markets not scored, with why."""
    seen: dict[str, int] = {}  # the day each matched range market was last observed
    for mid, last in con.execute(
        "SELECT market_id, max(last_seen) FROM feedback "
        "WHERE market_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY market_id",
        [sorted(ws_market)],
    ).fetchall():
        d = _day_of(last)
        if d is not None:
            rmid = ws_market[mid]
            seen[rmid] = max(seen.get(rmid, d), d)
    scored: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for rmid, m in t.markets.items():
        if m["family"] not in FEEDBACK_FAMILIES:
            continue
        close = m["close_day"]
        if rmid not in ws_market.values():
            skipped[m["name"]] = "not in the workspace"
        elif close is None or close > t.day:
            scored[rmid] = t.day
        elif rmid in seen:
            scored[rmid] = min(seen[rmid], close - 1)
        else:
            skipped[m["name"]] = f"{m['fate'].replace('_', ' ')} on day {close}, no feedback held"
    return scored, skipped


def windows(
    t: Truth, scored: dict[str, int]
) -> tuple[dict[str, Window], dict[str, float], dict[tuple[str, str], bool]]:
    """Per scored market its window; the true revenue per account in scope; the truth's
    feedback a crawl can see, as (range market, feedback id)."""
    selling: dict[str, set[str]] = defaultdict(set)  # accounts whose pages show that day
    for x in t.listings.values():
        mid = x["market_id"]
        if mid in scored and x["start_day"] <= scored[mid] < x["end_day"]:
            selling[mid].add(x["account_id"])

    def shows_holding(listing_id: str, mid: str) -> bool:
        shown_from = t.listings[listing_id].get("holding_day")
        return shown_from is not None and shown_from <= scored[mid]

    countering = {m for m in scored if t.markets[m]["family"] in COUNTER_FAMILIES}

    def shows_counter(listing_id: str, mid: str) -> bool:
        x = t.listings[listing_id]
        return mid in countering and x["start_day"] <= scored[mid] < x["end_day"]

    win = {mid: Window(day) for mid, day in scored.items()}
    true_v: dict[str, float] = defaultdict(float)
    for s in t.sales:
        mid = s["market_id"]
        if mid not in scored or s["account_id"] not in selling[mid] or s["day"] > scored[mid]:
            continue
        w, usd = win[mid], float(s["amount_usd"])
        if shows_holding(s["listing_id"], mid):
            w.holding_usd += usd  # its page shows the placeholder: no price to know
            continue
        w.sales_usd += usd
        w.sales += 1
        if shows_counter(s["listing_id"], mid):  # the counter shows it at once
            weight = 1.0
            w.counter_usd += usd
            w.counter_sales += 1
        else:
            weight = _seen_by(t.delay_cdf, scored[mid] - s["day"])
            w.weighted_sales += weight
        w.true_usd += usd * weight
        true_v[s["account_id"]] += usd * weight
    visible: dict[tuple[str, str], bool] = {}  # -> its listing shows a counter
    for (mid, fid), f in t.feedback.items():
        if mid not in scored or f["day"] > scored[mid]:
            continue
        if t.listings[f["listing_id"]]["account_id"] not in selling[mid]:
            continue
        if shows_holding(f["listing_id"], mid):
            continue
        visible[(mid, fid)] = shows_counter(f["listing_id"], mid)
        if not visible[(mid, fid)]:  # one the counter counts takes no rate
            win[mid].feedback += 1
            win[mid].shill_feedback += f["sale_id"] is None
    return win, dict(true_v), visible
