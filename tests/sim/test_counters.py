"""The escrow family's "N sold since DATE" counters, served and extracted exactly; holding
prices: flagged in the truth, shown from their day on, their sales made before at the real
price, and expected as shown by the scorer."""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spector.extract._pages import records_of
from spector.extract._templates import template_for
from spector.model import Listing
from spector.sim import generate_world
from spector.sim._generate import armored, pgp_for
from spector.sim._score_truth import SHOWN, crawl_truth
from spector.sim._sites import build_sites
from spector.sim._sites._base import moment, site_now
from spector.sim._world import PLACEHOLDER, placeholder


@pytest.fixture(scope="module")
def small():
    world = generate_world(3, "small")
    return world, build_sites(world, armored(pgp_for(world)))


def _sales_by_listing(world):
    days = defaultdict(list)
    for s in world.sales:
        days[s.listing_id].append(s.day)
    return {k: sorted(v) for k, v in days.items()}


def _listing(family, path, html, day):
    template = template_for(family)
    result = template.apply(path, html)
    assert result is not None, path
    records = records_of(result, template, "m", "Market", site_now(day))
    return next(r for r in records if isinstance(r, Listing))


def test_escrow_listing_pages_count_their_sales_and_the_template_reads_them(small):
    world, sites = small
    sold = _sales_by_listing(world)
    escrow = [m for m in world.markets if m.family == "escrow"]
    assert len(escrow) == 2
    checked = with_sales = 0
    for m in escrow:
        site = sites[m.market_id]
        for day in (world.days // 3, world.days - 1):
            if m.close_day is not None and day >= m.close_day:
                continue
            for x in site.index.live_listings(day):
                html = site.render(f"/listing/{x.ref}", {}, day).body
                count = bisect.bisect_right(sold.get(x.listing_id, []), day)
                since = moment(x.start_day)
                assert f"{count} sold since {since:%b} {since.day}, {since.year}" in html
                listing = _listing("escrow", f"/listing/{x.ref}", html, day)
                assert listing.sold_count == count, x.ref
                assert listing.sold_since == datetime.combine(since.date(), since.time(), UTC)
                checked += 1
                with_sales += count > 0
    assert checked > 200
    assert with_sales > checked / 2


def test_only_the_escrow_family_shows_counters(small):
    world, sites = small
    day = world.days - 1
    item = {"walletless": "/item/", "hydra": "/tovar/"}
    for m in world.markets:
        if m.family not in item:
            continue
        site = sites[m.market_id]
        for x in site.index.live_listings(day)[:30]:
            html = site.render(f"{item[m.family]}{x.ref}", {}, day).body
            assert "sold since" not in html
            assert _listing(m.family, f"{item[m.family]}{x.ref}", html, day).sold_count is None
    assert {f for f, shown in SHOWN["listing"].items() if "sold_count" in shown} == {"escrow"}


def test_about_three_percent_of_selling_listings_hold(small):
    world, _ = small
    families = {m.market_id: m.family for m in world.markets}
    selling = [x for x in world.listings if families[x.market_id] != "bots"]
    holding = [x for x in world.listings if x.holding]
    assert len(holding) == round(0.03 * len([x for x in selling if not _impostor(world, x)]))
    assert all(families[x.market_id] != "bots" for x in holding)
    assert all(x.holding_day is not None for x in holding)
    assert all(x.holding_day is None for x in world.listings if not x.holding)
    assert {families[x.market_id] for x in holding} == {"escrow", "walletless", "hydra"}
    sold = _sales_by_listing(world)
    for x in holding:
        assert x.start_day <= x.holding_day < x.end_day
        assert all(d < x.holding_day for d in sold.get(x.listing_id, []))  # sold before
        for s in world.sales:
            if s.listing_id == x.listing_id:
                assert s.amount_usd == x.price_usd < 1000  # at the real price
    live_at_end = [x for x in holding if x.end_day == world.days]
    assert len(live_at_end) > len(holding) / 2  # a holding listing stays up


def _impostor(world, x):
    return x.account_id in {a.account_id for a in world.accounts if a.impostor_of}


def test_pages_show_the_placeholder_from_the_holding_day_on(small):
    world, sites = small
    shown = 0
    for x in (x for x in world.listings if x.holding):
        m = world.market(x.market_id)
        site = sites[m.market_id]
        item = {"escrow": "/listing/", "walletless": "/item/", "hydra": "/tovar/"}[m.family]
        for day in (x.holding_day - 1, x.holding_day):
            if day < x.start_day or (m.close_day is not None and day >= m.close_day):
                continue
            html = site.render(f"{item}{x.ref}", {}, day).body
            listing = _listing(m.family, f"{item}{x.ref}", html, day)
            price, usd = (x.price, x.price_usd) if day < x.holding_day else placeholder(m.currency)
            assert listing.price == price, (x.ref, day)
            if m.currency == "USD":  # roubles are converted later, by the rates
                assert listing.price_usd == usd, (x.ref, day)
            shown += day >= x.holding_day
    assert shown > 20
    assert placeholder("USD") == (Decimal("999999.00"), Decimal("999999.00"))
    assert placeholder("RUB") == (PLACEHOLDER["RUB"], Decimal("13333.32"))


def test_the_truth_files_and_the_scorer_expect_the_shown_price(tiny_range):
    out, truth = tiny_range
    table = pq.read_table(out / "world" / "listings.parquet")
    assert table.schema.field("holding").type == pa.bool_()
    rows = table.to_pylist()
    holding = [x for x in rows if x["holding"]]
    assert truth["counts"]["holding_listings"] == len(holding) == 2
    day = truth["day"]
    currency = {m["market_id"]: m["currency"] for m in truth["markets"]}
    for x in rows:
        held = x["holding"] and day >= x["holding_day"]
        want = placeholder(currency[x["market_id"]]) if held else (x["price"], x["price_usd"])
        assert (x["shown_price"], x["shown_price_usd"]) == want
        assert x["price_usd"] < 1000
    expected = crawl_truth(out, truth).kinds["listing"].want
    for x in holding:
        values = expected[(x["market_id"], x["ref"])].values
        assert values["price"] == PLACEHOLDER[currency[x["market_id"]]]
        assert values["price_usd"][0] == x["shown_price_usd"] != x["price_usd"]
    escrow = [x for x in rows if currency[x["market_id"]] and _family(truth, x) == "escrow"]
    sales = pq.read_table(out / "world" / "sales.parquet").to_pylist()
    for x in escrow:
        if x["start_day"] <= day < x["end_day"]:
            values = expected[(x["market_id"], x["ref"])].values
            n = sum(1 for s in sales if s["listing_id"] == x["listing_id"] and s["day"] <= day)
            assert values["sold_count"] == n
            assert values["sold_since"] == moment(x["start_day"]).replace(tzinfo=None)


def _family(truth, x):
    return next(m["family"] for m in truth["markets"] if m["market_id"] == x["market_id"])


def test_index_rows_show_the_placeholder_too(small):
    world, sites = small
    x = next(
        x
        for x in world.listings
        if x.holding and world.market(x.market_id).family == "escrow" and x.end_day == world.days
    )
    site = sites[x.market_id]
    day = world.days - 1
    rows = []
    for page in range(1, 20):
        shown = site.render(f"/c/{x.category}", {"page": str(page)} if page > 1 else {}, day)
        if shown.status != 200:
            break
        rows += re.findall(
            rf'href="/listing/{x.ref}">[^<]*</a></td><td class="price">USD ([\d.]+)<', shown.body
        )
    assert rows == ["999999.00"]
