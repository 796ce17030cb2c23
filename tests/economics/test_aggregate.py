"""Aggregates: every table sums to the same totals, weeks share dated intervals, actors
come from actor_accounts, lifecycles say how a market ended."""

from __future__ import annotations

from datetime import timedelta

import pytest

from spector.economics import estimate
from spector.model import Feedback
from tests.economics.helpers import day, feedback, listing, market, vendor

KEYS = ("sales", "sales_low", "sales_high", "revenue_usd", "revenue_low", "revenue_high")


@pytest.fixture
def mixed(workspace):
    """Two markets (one seized, one exit-scammed), three vendors, two countries, three
    categories, feedback dated to the minute and over a week, one counter listing."""
    a, b = market("Alpha", "seized"), market("Beta", "exit_scam")
    va, vb, vc = vendor(a, "north", "NL"), vendor(a, "east", "DE"), vendor(b, "north", None)
    xa = listing(a, va, "1", "10")
    xb = listing(a, vb, "2", "25", category="drugs.stimulants", ships_from="DE")
    xc = listing(b, vc, "3", "40", category=None)
    xd = listing(b, vc, "4", "5", sold_count=9, sold_since=day(0))
    wide = feedback(a, va, xa, "wide", 0)
    wide = Feedback(**{**{k: getattr(wide, k) for k in wide.__slots__},
                       "left_after": day(4), "left_before": day(11)})  # fmt: skip
    records = [a, b, va, vb, vc, xa, xb, xc, xd, wide]
    records += [feedback(a, va, xa, f"a{i}", i * 3) for i in range(8)]
    records += [feedback(a, vb, xb, f"b{i}", 1 + i * 5) for i in range(4)]
    records += [feedback(b, vc, xc, f"c{i}", 2 + i * 4, rating=4.0) for i in range(5)]
    workspace.store.upsert(records, source="crawl", seen_at=day(30))
    return workspace


def test_every_table_sums_to_the_totals(mixed):
    est = estimate(mixed, feedback_rate=0.8)
    assert est.totals["sales"] == pytest.approx((9 + 4 + 5) / 0.8 + 9)
    tables = {
        "market": est.by_market,
        "vendor": est.by_vendor,
        "category": est.by_category,
        "country": est.by_country,
        "week": est.by_week,
        "category_week": est.by_category_week,
        "market_week": est.by_market_week,
    }
    for name, rows in tables.items():
        for key in ("sales", "revenue_usd"):
            assert sum(r[key] for r in rows) == pytest.approx(est.totals[key]), (name, key)
    for name in ("market", "vendor", "category", "country"):
        for key in KEYS:
            assert sum(r[key] for r in tables[name]) == pytest.approx(est.totals[key]), name
    assert {r["ships_from"] for r in est.by_country} == {"NL", "DE", None}
    assert {r["category"] for r in est.by_category} == {
        "drugs.cannabis", "drugs.stimulants", None
    }  # fmt: skip
    assert [r["handle"] for r in est.by_vendor][:1] == ["north"]
    assert est.by_actor is not None  # the table exists (empty): every vendor unmapped
    assert [r["actor_id"] for r in est.by_actor] == [None]


def test_a_week_interval_is_shared_and_bounds_hold(mixed):
    est = estimate(mixed, feedback_rate=1.0)
    weeks = {r["week"]: r for r in est.by_week}
    # "wide" lies 3 days in W01 (Jan 4 to 8) and 3 days in W02 (Jan 8 to 11)
    wide_only = [r for r in est.by_market_week if r["market_id"] == est.by_market[0]["market_id"]]
    assert wide_only
    for r in est.by_week:
        assert r["sales_low"] - 1e-9 <= r["sales"] <= r["sales_high"] + 1e-9
        assert r["revenue_low"] - 1e-9 <= r["revenue_usd"] <= r["revenue_high"] + 1e-9
    w1, w2 = weeks["2024-W01"], weeks["2024-W02"]
    assert w1["sales_high"] - w1["sales_low"] >= 1 - 1e-9  # the wide one may fall in W01
    assert w2["sales_high"] - w2["sales_low"] >= 1 - 1e-9  # or in W02
    assert [r["week"] for r in est.by_week] == sorted(weeks)


def test_lifecycle_says_how_each_market_ended(mixed):
    est = estimate(mixed)
    life = {r["market"]: r for r in est.lifecycle}
    assert life["Alpha"]["end"] == "takedown"
    assert life["Beta"]["end"] == "exit scam"
    assert life["Alpha"]["first_activity"] < life["Alpha"]["last_activity"]
    assert life["Alpha"]["first_activity"] == (day(0) - timedelta(minutes=1)).isoformat()
    assert life["Alpha"]["weekly_growth"] is not None


def test_growth_of_a_doubling_market_is_one():
    from spector.economics._aggregate import _growth

    start = day(0).date()
    weekly = [(start + timedelta(weeks=i), 100.0 * 2**i) for i in range(5)]
    assert _growth(weekly) == pytest.approx(1.0)
    assert _growth(weekly[:2]) is None


def test_actors_sum_their_accounts(mixed):
    ws = mixed
    accounts = ws.store.con.execute("SELECT id, market_id, handle FROM vendor_accounts").fetchall()
    for vid, mid, handle in accounts:
        actor = "actor-north" if handle == "north" else "actor-east"
        ws.store.con.execute(
            "INSERT INTO actor_accounts (actor_id, account_id, kind, market_id, handle) "
            "VALUES (?, ?, 'vendor', ?, ?)",
            [actor, vid, mid, handle],
        )
    est = estimate(ws, feedback_rate=1.0)
    actors = {r["actor_id"]: r for r in est.by_actor}
    assert set(actors) == {"actor-north", "actor-east"}
    assert actors["actor-north"]["accounts"] == 2  # north on Alpha and north on Beta
    north = [r for r in est.by_vendor if r["handle"] == "north"]
    assert actors["actor-north"]["revenue_usd"] == pytest.approx(
        sum(r["revenue_usd"] for r in north)
    )
    assert sum(r["sales"] for r in est.by_actor) == pytest.approx(est.totals["sales"])
