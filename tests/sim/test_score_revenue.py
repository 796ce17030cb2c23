"""``revenue.*``: the economics estimate against the sales a crawl could know of.

The truth side is recomputed here from the world files (which sales count, each weighted
by the chance its feedback was shown by the day); estimates made by hand, off by known
factors, give those errors; the rank correlation is scipy's; the shill share is the
truth's feedback without a sale. Then `spector.economics.estimate` on the tiny range
walked and extracted as a crawl does: the issue's floor, every market within 10 %.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr
from tests.sim.score_store import extract_in_process, perfect_store

from spector.sim._score_revenue import revenue_figures, revenue_score, spearman
from spector.sim._world import SCALES
from spector.store import Workspace


@dataclass
class Made:
    """An estimate made by hand: what the scorer reads of one."""

    by_market: list[dict] = field(default_factory=list)
    by_vendor: list[dict] = field(default_factory=list)
    feedback_rate: float = 1.0
    calibration: dict | None = None


def _world(out, name):
    return pq.read_table(out / "world" / f"{name}.parquet").to_pylist()


def _expected(out, truth):
    """Per range market: (weighted true revenue, all sales' revenue, holding listings'
    revenue, the feedback rate r_m, the counter part of the truth), and per account."""
    day = truth["day"]
    sales = _world(out, "sales")
    sale_day = {s["sale_id"]: s["day"] for s in sales}
    feedback = _world(out, "feedback")
    delays = [f["day"] - sale_day[f["sale_id"]] for f in feedback if f["sale_id"]]
    longest = max(delays)
    # the delays of sales old enough that none was cut off by the range's end
    seen = [
        f["day"] - sale_day[f["sale_id"]]
        for f in feedback
        if f["sale_id"] and sale_day[f["sale_id"]] <= day - longest
    ]
    listings = {x["listing_id"]: x for x in _world(out, "listings")}
    live = {x["account_id"] for x in listings.values() if x["start_day"] <= day < x["end_day"]}
    shows = ("escrow", "walletless", "hydra")
    family = {m["market_id"]: m["family"] for m in truth["markets"]}
    shown = {m for m, f in family.items() if f in shows}

    def counter(lid):  # the escrow family's live listings show "N sold since"
        x = listings[lid]
        return family[x["market_id"]] == "escrow" and x["start_day"] <= day < x["end_day"]

    def placeholder(lid):
        return listings[lid]["holding_day"] is not None and listings[lid]["holding_day"] <= day

    weighted, plain, held = defaultdict(float), defaultdict(float), defaultdict(float)
    counted, n_weighted, n_feedback = defaultdict(float), defaultdict(float), defaultdict(int)
    vendor = defaultdict(float)
    for s in sales:
        if s["market_id"] in shown and s["account_id"] in live and s["day"] <= day:
            usd = float(s["amount_usd"])
            if placeholder(s["listing_id"]):  # a placeholder shown by then
                held[s["market_id"]] += usd
                continue
            if counter(s["listing_id"]):
                w = 1.0
                counted[s["market_id"]] += usd
            else:
                w = sum(1 for d in seen if d <= day - s["day"]) / len(seen)
                n_weighted[s["market_id"]] += w
            weighted[s["market_id"]] += usd * w
            plain[s["market_id"]] += usd
            vendor[s["account_id"]] += usd * w
    for f in feedback:
        x = listings[f["listing_id"]]
        lid = f["listing_id"]
        if (
            f["market_id"] in shown
            and x["account_id"] in live
            and f["day"] <= day
            and not (placeholder(lid) or counter(lid))
        ):
            n_feedback[f["market_id"]] += 1
    rate = {m: n_feedback[m] / n_weighted[m] for m in weighted}
    return weighted, plain, held, vendor, rate, counted


def _made(ws_market, weighted, rate, counted, factors, uniform_rate):
    """Estimates at rate 1.0 and at the uniform rate whose counter part is the truth's and
    whose feedback part, at each market's own rate, makes ``factor`` times the truth."""
    lower, uniform = Made(), Made(feedback_rate=uniform_rate)
    for m, f in factors.items():
        fed = (weighted[m] * f - counted[m]) * rate[m]
        lower.by_market.append({"market_id": ws_market[m], "revenue_usd": counted[m] + fed})
        uniform.by_market.append(
            {"market_id": ws_market[m], "revenue_usd": counted[m] + fed / uniform_rate}
        )
    return lower, uniform


@pytest.fixture(scope="module")
def perfect(tiny_range, tmp_path_factory):
    out, truth = tiny_range
    root = tmp_path_factory.mktemp("revenue") / "ws"
    with Workspace.init(root) as ws:
        perfect_store(out, ws, truth)
        ids = dict(ws.store.con.execute("SELECT name, id FROM markets").fetchall())
        vendors = dict(
            ws.store.con.execute(
                "SELECT m.name || '|' || lower(v.handle), v.id FROM vendor_accounts v "
                "JOIN markets m ON m.id = v.market_id"
            ).fetchall()
        )
    names = {m["market_id"]: m["name"] for m in truth["markets"]}
    ws_market = {mid: ids[name] for mid, name in names.items()}
    accounts = {a["account_id"]: a for a in _world(out, "accounts")}
    ws_vendor = {
        aid: vendors[f"{names[a['market_id']]}|{a['handle'].lower()}"]
        for aid, a in accounts.items()
    }
    return out, truth, root, ws_market, ws_vendor


def test_the_true_revenue_is_the_sales_a_crawl_could_know_of(perfect):
    out, truth, root, _ws_market, _ws_vendor = perfect
    weighted, plain, held, _, rate, counted = _expected(out, truth)
    with Workspace.open(root) as ws:
        result = revenue_figures(out, ws, lower=Made(), uniform=Made(), calibrated=None)
    by = {m["market_id"]: m for m in result["by_market"].values()}
    assert set(by) == set(weighted)  # the bot shop and the forum show no feedback
    assert len(by) == 3
    for mid, m in by.items():
        assert m["true_usd"] == pytest.approx(weighted[mid], abs=0.01)
        assert m["sales_usd"] == pytest.approx(plain[mid], abs=0.01)
        assert m["holding_usd"] == pytest.approx(held[mid], abs=0.01)
        assert m["true_counter_usd"] == pytest.approx(counted[mid], abs=0.01)
        assert m["feedback_rate"] == pytest.approx(rate[mid], abs=1e-6)
        assert 0.5 < m["feedback_rate"] < 0.9  # the share that got feedback, near the scale's
        assert 0 < m["true_usd"] < m["sales_usd"]  # the last days' sales count in part
        assert m["estimate_usd"] == 0
        assert m["rel_error"] == -1.0
    assert sum(held.values()) > 0  # the range has holding listings with sales
    assert sum(v > 0 for v in counted.values()) == 1  # one family shows sold counters
    assert result["max_abs_rel_error"] == 1.0
    assert result["uniform"]["feedback_rate"] == SCALES["tiny"].feedback_share
    assert f"day {truth['day']}" in result["scope"]


def test_the_headline_takes_each_markets_own_feedback_rate(perfect):
    """The feedback part at the market's own rate, the counter part as it is: an
    estimate whose parts make 1.05, 0.92 and 1.0 times the truth has those errors; at
    the uniform rate the same estimate is off by what the rates differ."""
    out, truth, root, ws_market, ws_vendor = perfect
    weighted, _, _, vendor, rate, counted = _expected(out, truth)
    share = SCALES["tiny"].feedback_share
    factors = dict(zip(sorted(weighted), (1.05, 0.92, 1.0), strict=True))
    lower, uniform = _made(ws_market, weighted, rate, counted, factors, share)
    lower.by_vendor = [{"vendor_id": ws_vendor[a], "revenue_usd": usd} for a, usd in vendor.items()]
    uniform.by_vendor = [
        {"vendor_id": ws_vendor[a], "revenue_usd": usd / share} for a, usd in vendor.items()
    ]
    calibrated = Made(
        by_market=[{"market_id": ws_market[m], "revenue_usd": weighted[m] * 1.2} for m in weighted],
        by_vendor=[{"vendor_id": ws_vendor[a], "revenue_usd": -usd} for a, usd in vendor.items()],
        feedback_rate=0.58,
        calibration={"ratio": 0.58, "listings": 3, "markets": 1},
    )
    with Workspace.open(root) as ws:
        result = revenue_figures(out, ws, lower=lower, uniform=uniform, calibrated=calibrated)
    by = {m["market_id"]: m for m in result["by_market"].values()}
    for mid, f in factors.items():
        m = by[mid]
        assert m["rel_error"] == pytest.approx(f - 1, abs=1e-5)
        assert m["counter_usd"] == pytest.approx(counted[mid], abs=0.02)
        fed = (weighted[mid] * f - counted[mid]) * rate[mid]
        assert m["feedback_usd"] == pytest.approx(fed, abs=0.02)
        at_share = (counted[mid] + fed / share) / weighted[mid] - 1
        assert m["uniform_rel_error"] == pytest.approx(at_share, abs=1e-5)
        assert m["calibrated_rel_error"] == pytest.approx(0.2, abs=1e-5)
    assert result["max_abs_rel_error"] == pytest.approx(0.08, abs=1e-5)
    assert result["uniform"]["max_abs_rel_error"] == pytest.approx(
        max(abs(m["uniform_rel_error"]) for m in by.values()), abs=1e-6
    )
    # the rates differ from the scale's: the same estimate has other errors at one rate
    assert result["uniform"]["max_abs_rel_error"] != pytest.approx(0.08, abs=1e-3)
    assert result["spearman"] > 0.9  # the feedback part rescaled per market: near, not 1
    assert result["uniform"]["spearman"] == 1.0
    assert result["calibrated"]["spearman"] == -1.0
    assert result["calibrated"]["max_abs_rel_error"] == pytest.approx(0.2, abs=1e-5)
    assert result["calibrated"]["calibration"]["ratio"] == 0.58


def test_the_oracle_bounds_are_the_true_prices_of_the_feedback_held(perfect):
    """A perfect store holds every feedback: over the market's own rate the oracle is the
    price mix alone, small; over the uniform rate it carries the rates' spread too."""
    out, truth, root, _, _ = perfect
    *_, rate, counted = _expected(out, truth)
    with Workspace.open(root) as ws:
        result = revenue_figures(out, ws, lower=Made(), uniform=Made(), calibrated=None)
    for m in result["by_market"].values():
        if counted[m["market_id"]]:  # it holds the feedback the counters count, too
            assert m["feedback_held"] > m["feedback"] > 0
        else:
            assert m["feedback_held"] == m["feedback"] > 0
        assert m["feedback_rate"] == pytest.approx(rate[m["market_id"]], abs=1e-6)
        assert abs(m["bound_own_rate_rel_error"]) < 0.2
        assert m["bound_own_rate_rel_error"] != m["bound_rel_error"]
    assert result["bound"]["max_abs_rel_error_own_rate"] == pytest.approx(
        max(abs(m["bound_own_rate_rel_error"]) for m in result["by_market"].values())
    )


def test_the_shill_share_is_the_feedback_without_a_sale(perfect):
    out, truth, root, ws_market, _ = perfect
    weighted, *_ = _expected(out, truth)
    price = {x["listing_id"]: float(x["price_usd"]) for x in _world(out, "listings")}
    shill = every = 0.0
    for f in _world(out, "feedback"):
        if f["market_id"] in weighted:
            every += price[f["listing_id"]]
            shill += price[f["listing_id"]] if f["sale_id"] is None else 0.0
    given = Made(by_market=[{"market_id": ws_market[m], "revenue_usd": 100.0} for m in weighted])
    with Workspace.open(root) as ws:
        result = revenue_figures(out, ws, lower=given, uniform=given, calibrated=None)
    assert result["shill"]["share"] == pytest.approx(shill / every, abs=1e-6)
    for m in result["by_market"].values():
        assert 0 <= m["shill_share"] < 1
        assert m["rel_error_without_shill"] == pytest.approx(
            (100 * (1 - m["shill_share"]) - m["true_usd"]) / m["true_usd"], abs=1e-5
        )


def test_spearman_is_the_rank_correlation():
    x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    y = [2.0, 7.0, 1.0, 8.0, 2.0, 8.0, 1.0, 8.0]
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert spearman(x, x) == pytest.approx(1.0)
    assert spearman([1.0, 2.0], [2.0, 1.0]) is None  # too few to rank
    assert spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None  # one side constant


def test_no_feedback_no_figures(tiny_range, tmp_path):
    out, _ = tiny_range
    with Workspace.init(tmp_path / "ws") as ws:
        result = revenue_score(out, ws)
    assert result["max_abs_rel_error"] is None
    assert result["spearman"] is None
    assert "no feedback" in result["scope"]


@pytest.fixture(scope="module")
def crawled(tiny_range, tmp_path_factory):
    """The tiny range walked and extracted as a crawl does on its last day, estimated."""
    out, _ = tiny_range
    root = tmp_path_factory.mktemp("estimated") / "ws"
    with Workspace.init(root) as ws:
        extract_in_process(out, ws)
        return revenue_score(out, ws)


def test_the_tiny_range_estimate_reaches_the_floor(crawled):
    """The headline at tiny scale. The issue's 10 % floor is asserted at ``small`` scale
    (tests/sim/test_score_small.py, both seeds); a tiny market has 20-40 feedback, and
    the price of a feedback whose listing ended before the crawl is estimated from the
    vendor's unit prices (the range draws each listing's unit price on its own), so at
    this size the estimate's error is sampling as much as pipeline (seed 7: North Market
    -15.6 %, 26 feedback, every one priced by unit). Floored at 20 % here, with the
    oracle's own error (every feedback held at its true price) below 15 %."""
    result = crawled
    assert len(result["by_market"]) == 3
    assert all(m["sales"] > 10 for m in result["by_market"].values())
    assert result["uniform"]["max_abs_rel_error"] is not None
    assert result["bound"]["max_abs_rel_error_own_rate"] <= 0.15, result["bound"]
    assert result["max_abs_rel_error"] <= 0.20, result["by_market"]
    assert result["spearman"] is not None
    assert result["spearman"] >= 0.6, result


def test_the_score_report_says_the_revenue_figures(perfect):
    from spector.sim._score_report import revenue_lines

    out, truth, root, ws_market, _ = perfect
    weighted, _, _, _, rate, counted = _expected(out, truth)
    factors = dict.fromkeys(weighted, 1.05)
    lower, uniform = _made(ws_market, weighted, rate, counted, factors, 0.7)
    with Workspace.open(root) as ws:
        result = revenue_figures(out, ws, lower=lower, uniform=uniform, calibrated=None)
    first, *markets = revenue_lines(result)
    assert first.startswith("revenue: max |error| over markets 0.050 (each at its own feedback ")
    assert len(markets) == 3
    for line, (name, m) in zip(markets, result["by_market"].items(), strict=True):
        assert line.startswith(f"  {name}: estimate ${m['estimate_usd']:,.0f} against ")
        assert f"(+5.0% at rate {m['feedback_rate']:.3f}; uniform " in line
        assert "; calibrated —;" in line
    assert revenue_lines({"by_market": {}, "scope": "why"}) == ["revenue: not scored — why"]
