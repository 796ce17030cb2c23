"""The feedback-to-sales ratio from "N sold" counters, its interval, and the rate the
estimate uses (given, calibrated, or one sale per feedback)."""

from __future__ import annotations

import pytest

from spector.economics import calibrate, estimate, read_sales
from spector.economics._calibrate import wilson
from spector.errors import UsageError
from tests.economics.helpers import day, feedback, listing, market, vendor


def _countered(workspace, counters, *, n_feedback, since=0, market_name="Alpha"):
    """Listings with "N sold since day ``since``" seen on day 20, each with its feedback
    (n_feedback[i] of them inside the window, and one before it that must not count)."""
    m = market(market_name)
    v = vendor(m, f"seller-{market_name}")
    records: list[object] = [m, v]
    for i, (sold, fb) in enumerate(zip(counters, n_feedback, strict=True)):
        x = listing(m, v, f"{market_name}{i}", "10", sold_count=sold, sold_since=day(since))
        records.append(x)
        records += [feedback(m, v, x, f"{market_name}{i}-{k}", since + 1 + k) for k in range(fb)]
        records.append(feedback(m, v, x, f"{market_name}{i}-early", since - 3))
    workspace.store.upsert(records, source="crawl", seen_at=day(20))
    return m


def test_wilson_matches_the_textbook_values():
    low, high = wilson(7, 10)  # Wilson (1927); as statsmodels' proportion_confint(7, 10)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)
    assert wilson(0, 10)[0] == 0.0
    assert wilson(10, 10)[1] == pytest.approx(1.0)
    assert round(wilson(10, 10)[0], 4) == 0.7225


def test_the_ratio_is_feedback_in_the_window_over_sold(workspace):
    _countered(workspace, [10, 20, 5, 0, 15], n_feedback=[6, 14, 3, 1, 9])
    cal = calibrate(read_sales(workspace.store))
    assert cal is not None
    assert (cal.feedback, cal.sold, cal.listings, cal.markets) == (33, 50, 5, 1)
    assert cal.ratio == pytest.approx(33 / 50)
    assert cal.low < cal.ratio < cal.high
    assert cal.method.startswith("bootstrap")
    again = calibrate(read_sales(workspace.store))
    assert (again.low, again.high) == (cal.low, cal.high)  # seeded: the same interval


def test_per_market_and_pooled_with_few_listings_wilson(workspace):
    _countered(workspace, [10], n_feedback=[7], market_name="Alpha")
    _countered(workspace, [10, 10], n_feedback=[2, 3], market_name="Beta")
    cal = calibrate(read_sales(workspace.store))
    by = {m["market"]: m for m in cal.by_market}
    assert by["Alpha"]["ratio"] == pytest.approx(0.7)
    assert (round(by["Alpha"]["low"], 4), round(by["Alpha"]["high"], 4)) == (0.3968, 0.8922)
    assert by["Beta"]["ratio"] == pytest.approx(0.25)
    assert cal.ratio == pytest.approx(12 / 30)
    assert cal.method.startswith("Wilson")  # three listings: too few to resample


def test_counters_without_collected_feedback_are_sales_not_a_calibration(workspace):
    m = market()
    v = vendor(m, "seller")
    xs = [listing(m, v, str(i), "10", sold_count=4, sold_since=day(0)) for i in range(3)]
    workspace.store.upsert([m, v, *xs], source="import:file.csv", seen_at=day(20))
    assert calibrate(read_sales(workspace.store)) is None
    est = estimate(workspace)
    assert (est.rate_basis, est.totals["sales"], est.totals["counter_sales"]) == (
        "lower bound",
        12,
        12,
    )
    assert est.totals["revenue_usd"] == pytest.approx(120.0)


def test_the_estimate_uses_the_given_the_calibrated_or_the_lower_bound_rate(workspace):
    _countered(workspace, [10, 20, 5, 10, 15], n_feedback=[5, 10, 3, 5, 7])
    m = market("Plain")
    v = vendor(m, "plain")
    x = listing(m, v, "p", "100")
    fb = [feedback(m, v, x, f"p{i}", 2 + i) for i in range(6)]
    workspace.store.upsert([m, v, x, *fb], source="crawl", seen_at=day(20))
    cal = calibrate(read_sales(workspace.store))
    assert cal.ratio == pytest.approx(30 / 60)

    def plain(est):
        return next(r for r in est.by_market if r["market"] == "Plain")

    est = estimate(workspace)
    assert est.rate_basis == "calibrated"
    assert plain(est)["sales"] == pytest.approx(6 / 0.5)
    assert plain(est)["sales_low"] == pytest.approx(6 / cal.high)
    assert plain(est)["sales_high"] == pytest.approx(6 / cal.low)
    assert plain(est)["revenue_usd"] == pytest.approx(1200.0)
    given = estimate(workspace, feedback_rate=0.75)
    assert (given.rate_basis, plain(given)["sales"]) == ("given", pytest.approx(8.0))
    # the counters' own market is counted by its counters, whatever the rate; its five
    # feedback from before the counters' window are sales the counters do not hold
    alpha = next(r for r in given.by_market if r["market"] == "Alpha")
    assert (alpha["counter_sales"], alpha["feedback"]) == (60, 5)
    assert alpha["sales"] == pytest.approx(60 + 5 / 0.75)
    for bad in (0, -1, 1.5, float("nan")):
        with pytest.raises(UsageError, match="feedback rate"):
            estimate(workspace, feedback_rate=bad)
