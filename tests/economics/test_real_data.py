"""The real 2017 AlphaBay scrape (../shared/data/markets/dnm-2017-sample) imported with the
shipped dnm-2017 mapping: its "N sold" counters are the sales (12,910 in the MANIFEST);
no feedback was scraped, so nothing calibrates and the report says so."""

from __future__ import annotations

import pytest

from spector.economics import calibrate, estimate, read_sales
from spector.extract._csv import import_files, load_mapping

SAMPLE = "markets/dnm-2017-sample"
FILES = ("Digital_products_-_ebooks_-_20170509.csv", "Jewels_&_gold_-_20170509.csv")


@pytest.fixture
def dnm(shared_data, workspace):
    import_files(
        workspace.store, [shared_data / SAMPLE / f for f in FILES], load_mapping("dnm-2017")
    )
    return workspace


def test_the_counters_are_the_sales(dnm):
    evidence = read_sales(dnm.store)
    assert calibrate(evidence) is None  # counters, but no feedback collected on that market
    est = estimate(dnm)
    assert est.totals["sales"] == 11665 + 1245  # the MANIFEST's sums of 'N sold'
    assert est.totals["counter_sales"] == 12910
    assert est.totals["feedback"] == 0
    assert est.excluded["holding_prices"] == 0
    assert est.excluded["holding_listings"] == 0
    # Σ sold × price over the listings, as the store holds them
    expected = dnm.store.con.execute(
        "SELECT sum(sold_count * price_usd)::DOUBLE FROM listings"
    ).fetchone()[0]
    assert est.totals["revenue_usd"] == pytest.approx(expected)
    assert round(est.totals["revenue_usd"]) == 647_183
    top = est.by_vendor[0]
    assert (top["handle"], top["sales"], round(top["revenue_usd"])) == ("sexyhomer", 984, 189_222)
    # the $10,000-cash listing beside the same seller's $100 one is a real price, kept
    cash = [r for r in est.by_vendor if r["handle"] == "gold_2"]
    assert round(cash[0]["revenue_usd"]) == 99_000
    (life,) = est.lifecycle
    assert life["market"] == "AlphaBay"
    assert life["last_activity"].startswith("2017-05-09")  # the scrape's day
    assert sum(r["sales"] for r in est.by_week) == pytest.approx(12910)
