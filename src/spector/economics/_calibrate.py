"""The feedback-to-sales ratio, from the listings that show "N sold since DATE".

For each such listing on a market whose feedback was collected (a market with no feedback
in the store says nothing about how often buyers leave it: its counters are sales, not a
calibration), the feedback left inside the counter's window ([sold_since, the counter's
last sighting]; from the beginning when no date is shown) and naming that listing (on
its page, or on its vendor's page with a link to it; ``CounterIndex``) is set against
the counter. The ratio is Σ feedback / Σ sold, per market and pooled over every such listing,
with a 95 % interval: a bootstrap over listings (feedback clusters by listing, so listings,
not feedback, are the units resampled; ``BOOTSTRAP`` resamples, a fixed seed, so the same
store gives the same interval), or with fewer than ``MIN_BOOTSTRAP`` listings the Wilson
score interval (a Poisson one on the feedback count when feedback outnumbers sales).
Listings whose counter says 0 sold count in both sums (their feedback is the shill sign
``feedback_on_zero_sold`` of ``_shill`` reports).

A ratio is feedback per sale: 0.7 means seven buyers in ten leave feedback, so sales are
feedback / 0.7.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from spector.economics._sales import CounterIndex, Evidence

__all__ = ["BOOTSTRAP", "MIN_BOOTSTRAP", "Calibration", "calibrate", "wilson"]

BOOTSTRAP = 2000
MIN_BOOTSTRAP = 5
_Z = 1.959963984540054


@dataclass(frozen=True)
class CounterListing:
    listing_id: str
    market_id: str
    sold: int
    feedback: int


@dataclass(frozen=True)
class Calibration:
    """``ratio`` (pooled) with ``low``/``high``; ``by_market`` rows with the same keys and
    ``market_id``; ``listings`` and ``markets`` counted; ``method`` says how the interval
    was drawn; ``rows`` the per-listing counts behind it (for the CSV)."""

    ratio: float
    low: float
    high: float
    listings: int
    markets: int
    sold: int
    feedback: int
    method: str
    by_market: list[dict[str, object]]
    rows: list[CounterListing]

    def as_dict(self) -> dict[str, object]:
        return {
            "ratio": self.ratio,
            "low": self.low,
            "high": self.high,
            "listings": self.listings,
            "markets": self.markets,
            "sold": self.sold,
            "feedback": self.feedback,
            "method": self.method,
            "by_market": self.by_market,
        }


def wilson(successes: float, trials: float) -> tuple[float, float]:
    """The 95 % Wilson score interval of the proportion ``successes`` / ``trials``
    (``0 <= successes <= trials``, ``trials > 0``)."""
    p = successes / trials
    z2 = _Z * _Z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = _Z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _few(feedback: float, sold: float) -> tuple[float, float, str]:
    """Too few listings to resample: Wilson when the ratio is a proportion; with more
    feedback than sales (shill feedback), a Poisson interval on the feedback count."""
    if feedback <= sold:
        return (*wilson(feedback, sold), "Wilson score interval (95 %)")
    half = _Z * math.sqrt(feedback)
    return (
        max(0.0, feedback - half) / sold,
        (feedback + half) / sold,
        "Poisson interval on the feedback count (95 %)",
    )


def _interval(rows: list[CounterListing]) -> tuple[float, float, str]:
    sold = np.array([r.sold for r in rows], dtype=np.float64)
    fb = np.array([r.feedback for r in rows], dtype=np.float64)
    if len(rows) < MIN_BOOTSTRAP:
        return _few(float(fb.sum()), float(sold.sum()))
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(rows), size=(BOOTSTRAP, len(rows)))
    sold_sum = sold[picks].sum(axis=1)
    fb_sum = fb[picks].sum(axis=1)
    ok = sold_sum > 0
    ratios = fb_sum[ok] / sold_sum[ok]
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high), f"bootstrap over listings ({BOOTSTRAP:,} resamples, 95 %)"


def counter_rows(evidence: Evidence) -> list[CounterListing]:
    """Per counter listing on a market with feedback: its counter and the feedback inside
    the counter's window that names the listing (``CounterIndex``)."""
    with_feedback = {f.market_id for f in evidence.feedback}
    index = CounterIndex(evidence.listings)
    in_window: dict[str, int] = defaultdict(int)
    for f in evidence.feedback:
        x = index.listing_for(f)
        if x is not None:
            in_window[x.listing_id] += 1
    return [
        CounterListing(x.listing_id, x.market_id, x.sold_count, in_window[x.listing_id])
        for x in sorted(evidence.listings.values(), key=lambda x: x.listing_id)
        if x.sold_count is not None and x.counter_seen is not None
        and x.market_id in with_feedback
    ]  # fmt: skip


def calibrate(evidence: Evidence) -> Calibration | None:
    """The calibration of the module docstring; None when no listing with a counter is on
    a market whose feedback was collected, or every such counter says 0 sold."""
    rows = counter_rows(evidence)
    sold = sum(r.sold for r in rows)
    if not rows or sold == 0:
        return None
    by_market: dict[str, list[CounterListing]] = defaultdict(list)
    for r in rows:
        by_market[r.market_id].append(r)
    markets: list[dict[str, object]] = []
    for market_id, mine in sorted(by_market.items()):
        m_sold = sum(r.sold for r in mine)
        m_fb = sum(r.feedback for r in mine)
        low, high, method = _interval(mine) if m_sold else (0.0, math.inf, "no sales counted")
        markets.append(
            {
                "market_id": market_id,
                "market": evidence.markets.get(market_id, (market_id, None))[0],
                "ratio": m_fb / m_sold if m_sold else None,
                "low": low,
                "high": high,
                "listings": len(mine),
                "sold": m_sold,
                "feedback": m_fb,
                "method": method,
            }
        )
    feedback = sum(r.feedback for r in rows)
    low, high, method = _interval(rows)
    return Calibration(
        ratio=feedback / sold,
        low=low,
        high=high,
        listings=len(rows),
        markets=len(by_market),
        sold=sold,
        feedback=feedback,
        method=method,
        by_market=markets,
        rows=rows,
    )
