"""Sales from feedback on hand-made stores: the price at the time, duplicates, holding
prices, feedback without a listing."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from spector.economics import estimate, is_holding, read_sales
from spector.economics._sales import PriceObservation, dedupe, looks_placeholder
from spector.errors import UsageError
from tests.economics.helpers import day, feedback, listing, market, vendor


def test_each_feedback_is_one_sale_at_the_price_of_its_time(workspace):
    m = market()
    v = vendor(m, "north")
    x10 = listing(m, v, "1", "10")
    ws = workspace.store
    ws.upsert([m, v, x10], source="crawl", seen_at=day(0))
    ws.upsert([x10], source="crawl", seen_at=day(4))
    x20 = listing(m, v, "1", "20")  # the same listing, repriced
    ws.upsert([x20], source="crawl", seen_at=day(10))
    ws.upsert(
        [feedback(m, v, x10, "a", 2), feedback(m, v, x10, "b", 3), feedback(m, v, x10, "c", 12)],
        source="crawl",
        seen_at=day(13),
    )
    sales = sorted(read_sales(ws).sales, key=lambda s: s.start)
    assert [(s.kind, s.price_usd, s.count) for s in sales] == [
        ("feedback", 10.0, 1),
        ("feedback", 10.0, 1),
        ("feedback", 20.0, 1),
    ]
    est = estimate(workspace)
    assert (est.rate_basis, est.feedback_rate) == ("lower bound", 1.0)
    assert est.totals["sales"] == 3
    assert est.totals["revenue_usd"] == pytest.approx(40.0)
    # a feedback left before the listing was first seen takes the earliest price
    ws.upsert([feedback(m, v, x10, "d", -5)], source="crawl", seen_at=day(13))
    assert estimate(workspace).totals["revenue_usd"] == pytest.approx(50.0)


def test_a_feedback_seen_again_or_stored_twice_counts_once(workspace):
    m = market()
    v = vendor(m, "north")
    x = listing(m, v, "1", "10")
    ws = workspace.store
    ws.upsert([m, v, x, feedback(m, v, x, "a", 1)], source="crawl", seen_at=day(2))
    ws.upsert([feedback(m, v, x, "a", 1)], source="crawl", seen_at=day(9))  # recrawl: same id
    # the vendor's page shows it without its listing: the same id (the market's), merged
    ws.upsert([feedback(m, v, None, "a", 1)], source="crawl", seen_at=day(9))
    # a vendor's page without the market's ids, and another source without them: two ids
    ws.upsert([feedback(m, v, None, None, 0.9, text="fine a")], source="crawl", seen_at=day(9))
    ws.upsert([feedback(m, v, x, None, 1.2, text="fine a")], source="import:dump", seen_at=day(9))
    # two alike feedback of one source are two sales (their nth), not a duplicate
    alike = [
        feedback(m, v, x, None, 3, text="same", nth=1),
        feedback(m, v, x, None, 3, text="same", nth=2),
    ]
    ws.upsert(alike, source="crawl", seen_at=day(9))
    rows = ws.con.execute("SELECT count(*) FROM feedback").fetchone()[0]
    evidence = read_sales(ws)
    assert rows == 5
    assert evidence.excluded["duplicates"] == 2
    assert len(evidence.feedback) == 3
    assert [f.listing_id for f in evidence.feedback] == [x.id] * 3  # the fuller copy kept
    assert estimate(workspace).totals["sales"] == 3


def test_dedupe_keeps_feedback_whose_ids_or_listings_differ():
    from spector.economics._sales import FeedbackRow

    def row(fid, ref, listing, at, source="a"):
        return FeedbackRow(
            fid, "m", "v", listing, ref, 5.0, "ok", "b***r", day(at), day(at), source, day(9)
        )

    rows = [
        row("1", "r1", "L1", 1),
        row("2", "r2", "L1", 1, "b"),  # another market id: another feedback
        row("3", None, "L2", 1, "b"),  # another listing
        row("4", None, "L1", 5, "b"),  # days apart
        row("5", None, "L1", 1.5, "b"),  # this one is row 1 again, from source b
    ]
    kept, dropped = dedupe(rows)
    assert dropped == 1
    assert [f.feedback_id for f in kept] == ["1", "2", "3", "4"]


def _obs(usd, native=None):
    return PriceObservation(day(0), day(0), usd, native)


def test_the_holding_rule():
    assert looks_placeholder("99999999.00000000")
    assert looks_placeholder(9999.99)
    assert not looks_placeholder("1333332.99")
    assert not looks_placeholder("11000")
    peers = [20.0, 25.0, 30.0]
    assert is_holding(_obs(1250.0), 1250.0, peers)  # 50 x the vendor's median
    assert not is_holding(_obs(1200.0), 1200.0, peers)  # 48 x
    assert not is_holding(_obs(400.0), 400.0, [1.0, 1.0])  # under the floor, whatever the ratio
    assert is_holding(_obs(2_000_000.0), 2_000_000.0, [])  # the ceiling
    # a placeholder number counts with one peer (10 x), or none
    assert is_holding(_obs(13_333.0, "999999"), 13_333.0, [20.0])
    assert is_holding(_obs(9999.0), 9999.0, [])
    assert not is_holding(_obs(9999.0), 9999.0, [5000.0])  # a real $9,999 beside $5,000
    # AlphaBay's cash seller: $11,000 beside its own $110 (one peer) is not a placeholder
    assert not is_holding(_obs(11_000.0), 11_000.0, [110.0])


def test_holding_prices_are_excluded_and_counted_or_priced_from_history(workspace):
    m = market()
    v = vendor(m, "north")
    ws = workspace.store
    regular = [listing(m, v, str(i), usd) for i, usd in enumerate(["20", "25", "30"])]
    always = listing(m, v, "held", "99999")
    before = listing(m, v, "later", "22")
    ws.upsert([m, v, *regular, always, before], source="crawl", seen_at=day(0))
    ws.upsert([listing(m, v, "later", "99999")], source="crawl", seen_at=day(10))
    ws.upsert(
        [
            feedback(m, v, always, "h1", 3),
            feedback(m, v, always, "h2", 4),
            feedback(m, v, before, "b1", 5),  # sold at $22, before the placeholder
            feedback(m, v, before, "b2", 11),  # after it: the last ordinary price, $22
            feedback(m, v, regular[0], "r1", 5),
        ],
        source="crawl",
        seen_at=day(12),
    )
    est = estimate(workspace)
    assert est.excluded["holding_prices"] == 2
    assert est.excluded["holding_listings"] == 2  # both show a placeholder now
    assert est.excluded["holding_priced_from_history"] == 1  # b2, at the $22 seen before
    assert est.totals["sales"] == 3
    assert est.totals["revenue_usd"] == pytest.approx(22 + 22 + 20)
    # the two never seen at an ordinary price: imputed at the median of the vendor's other
    # cannabis listings (20, 25, 30 and the 22 seen before the placeholder), left out
    assert est.excluded["holding_prices_usd"] == pytest.approx(2 * 23.5)
    (row,) = est.by_market
    assert row["holding_imputed_usd"] == pytest.approx(47.0)
    imputed = estimate(workspace, impute_holding=True)
    assert imputed.totals["sales"] == 5
    assert imputed.totals["revenue_usd"] == pytest.approx(64 + 47)
    assert imputed.totals["revenue_low"] == pytest.approx(64 + 2 * 20)  # the cheapest peer
    assert imputed.totals["revenue_high"] == pytest.approx(64 + 2 * 30)
    assert imputed.by_market[0]["holding_imputed_usd"] == 0.0  # in revenue_usd now


def test_feedback_without_its_listing_takes_the_vendors_mean_price(workspace):
    m = market()
    v = vendor(m, "north")
    other = vendor(m, "south")
    ws = workspace.store
    xs = [listing(m, v, str(i), usd) for i, usd in enumerate(["10", "20", "60"])]
    ws.upsert([m, v, other, *xs], source="crawl", seen_at=day(0))
    ws.upsert(
        [feedback(m, v, None, "a", 1), feedback(m, other, None, "b", 1)],
        source="crawl",
        seen_at=day(2),
    )
    est = estimate(workspace)
    assert est.excluded["priced_by_vendor_mean"] == 1
    assert est.excluded["no_price"] == 1  # a vendor without listings: no price to take
    assert est.totals["revenue_usd"] == pytest.approx(30.0)  # the mean, not the median 20
    # its interval: the vendor's cheapest to dearest listing
    assert (est.totals["revenue_low"], est.totals["revenue_high"]) == (10.0, 60.0)
    (row,) = est.by_category
    assert row["category"] is None  # its category is not known


def test_an_undated_feedback_is_dated_at_its_first_sighting(workspace):
    m = market()
    v = vendor(m, "north")
    x = listing(m, v, "1", "10")
    f = feedback(m, v, x, "a", 0)
    undated = type(f)(**{**{k: getattr(f, k) for k in f.__slots__}, "left_after": None,
                         "left_before": None})  # fmt: skip
    workspace.store.upsert([m, v, x, undated], source="crawl", seen_at=day(20))
    est = estimate(workspace)
    assert est.excluded["undated"] == 1
    assert [r["week"] for r in est.by_week] == ["2024-W03"]
    assert Decimal(str(est.totals["revenue_usd"])) == Decimal("10.0")
    assert est.by_week[0]["week_start"] == (day(20) - timedelta(days=6)).date().isoformat()


def test_a_counter_takes_only_the_feedback_naming_its_listing(workspace):
    """A vendor whose every listing the crawl saw shows a counter: feedback shown on the
    vendor's page without a listing is of one gone before the crawl, a sale of its own."""
    m = market()
    v = vendor(m, "north")
    x = listing(m, v, "1", "10", sold_count=3, sold_since=day(0))
    named = [feedback(m, v, x, f"n{i}", 2 + i) for i in range(2)]
    gone = [feedback(m, v, None, f"g{i}", 3 + i) for i in range(4)]  # inside x's window
    workspace.store.upsert([m, v, x, *named, *gone], source="crawl", seen_at=day(20))
    est = estimate(workspace, feedback_rate=0.5)
    assert est.excluded["counted_by_counters"] == 2
    assert est.excluded["priced_by_vendor_mean"] == 4
    assert est.totals["counter_sales"] == 3
    assert est.totals["sales"] == pytest.approx(3 + 4 / 0.5)
    cal = est.calibration
    assert (cal.feedback, cal.sold) == (2, 3)  # the vendor page's feedback is not x's


def test_the_rate_source_and_the_report_from_a_workspace(workspace, tmp_path):
    from spector.economics import write_report

    m = market()
    v = vendor(m, "north")
    x = listing(m, v, "1", "10")
    workspace.store.upsert([m, v, x, feedback(m, v, x, "a", 1)], source="crawl", seen_at=day(2))
    est = estimate(workspace, feedback_rate=0.5)
    assert est.feedback_rate_source == est.rate_basis == "given"
    assert estimate(workspace).feedback_rate_source == "lower bound"
    given = write_report(workspace, tmp_path / "a", estimate=est)
    made = write_report(workspace, tmp_path / "b")  # estimated at the default rate
    plain = write_report(est, tmp_path / "c", workspace=workspace.config.name)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["rate_basis"] == "given"
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["rate_basis"] == (
        "lower bound"
    )
    assert sorted(given) == sorted(made) == sorted(plain)
    assert (tmp_path / "a" / "index.html").read_bytes() == (
        tmp_path / "c" / "index.html"
    ).read_bytes()
    with pytest.raises(UsageError, match="two estimates"):
        write_report(est, tmp_path / "d", estimate=estimate(workspace))


def test_a_vendor_holding_every_listing_is_no_peer_of_itself(workspace):
    """Small seed 7's Polar Bazaar: a vendor whose listings all show 999999 made each of
    them look ordinary beside the others (+88 % on the market's revenue)."""
    m = market()
    v = vendor(m, "north")
    other = vendor(m, "south")
    held = [listing(m, v, f"h{i}", "99999") for i in range(3)]
    ordinary = [listing(m, other, f"o{i}", usd) for i, usd in enumerate(["20", "25"])]
    ws = workspace.store
    ws.upsert([m, v, other, *held, *ordinary], source="crawl", seen_at=day(0))
    ws.upsert(
        [feedback(m, v, held[0], "f1", 3), feedback(m, other, ordinary[0], "f2", 3)],
        source="crawl",
        seen_at=day(5),
    )
    est = estimate(workspace)
    assert est.excluded["holding_listings"] == 3
    assert est.excluded["holding_prices"] == 1
    assert est.totals["revenue_usd"] == pytest.approx(20)
