"""The range's Cyrillic market writes its prices the Russian way ("2 587,00 ₽": a no-break
space between thousands, a decimal comma): every listing page and index row of the range
reads back the truth's price exactly (a decimal comma read as nothing would be 100 times
the price), without a crawl."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spector.extract._pages import records_of
from spector.extract._templates import Template, template_for
from spector.model import Listing
from spector.sim import generate_world
from spector.sim._generate import armored, pgp_for
from spector.sim._sites import build_sites
from spector.sim._sites._hydra import CITY_LIST

NOW = datetime(2023, 1, 30, 23, 59, 59, tzinfo=UTC)


@pytest.fixture(scope="module")
def hydra():
    world = generate_world(7, "small")
    sites = build_sites(world, armored(pgp_for(world)))
    market = next(m for m in world.markets if m.family == "hydra")
    return sites[market.market_id], world.days - 1


def _listings(template: Template, path: str, html: str) -> list[Listing]:
    result = template.apply(path, html)
    assert result is not None, path
    records = records_of(result, template, "m", "North Market", NOW)
    return [r for r in records if isinstance(r, Listing)]


def test_every_hydra_price_reads_back_exactly(hydra):
    site, day = hydra
    template = template_for("hydra")
    live = site.index.live_listings(day)
    assert len(live) > 20
    assert any(x.price >= 1000 for x in live)  # thousands separators are on the pages
    for x in live:
        price, _ = x.shown(day, "RUB")  # a holding listing shows its placeholder
        html = site.render(f"/tovar/{x.ref}", {}, day).body
        assert f"{price:,.2f}".replace(",", "&nbsp;").replace(".", ",") in html
        (listing,) = _listings(template, f"/tovar/{x.ref}", html)
        assert (listing.price, listing.currency) == (price, "RUB"), x.ref


def test_every_hydra_index_row_reads_back_exactly(hydra):
    site, day = hydra
    template = template_for("hydra")
    truth = {x.ref: x.shown(day, "RUB")[0] for x in site.index.live_listings(day)}
    seen = {}
    for number in range(1, len(CITY_LIST) + 1):
        for page in range(1, 50):
            query = {"page": str(page)} if page > 1 else {}
            shown = site.render(f"/city/{number}", query, day)
            if shown.status != 200:
                break
            for listing in _listings(template, f"/city/{number}", shown.body):
                seen[listing.listing_ref] = listing.price
    assert seen == truth
