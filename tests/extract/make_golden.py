"""Writes tests/extract/golden/: one range page per family and page kind, and the records
the extractor makes of it. Run by hand after a deliberate change, check the JSON by eye,
commit both: `python tests/extract/make_golden.py`."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from spector.extract._pages import records_of
from spector.extract._templates import template_for
from spector.sim import generate_world
from spector.sim._generate import armored, pgp_for
from spector.sim._sites import build_sites
from spector.sim._sites._hydra import CITY_LIST

GOLDEN = Path(__file__).parent / "golden"
REFERENCE = datetime(2023, 1, 30, 23, 59, 59, tzinfo=UTC)  # the range's clock on day 29
SITE = "http://goldensite.onion"  # where the golden pages were captured: URL = SITE + path


def page_url(path: str) -> str:
    """The URL a golden page was captured at (an index page's query changes no link)."""
    return SITE + path


def as_json(records) -> list[dict]:
    def plain(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, tuple):
            return list(value)
        return value

    return [
        {
            "type": type(r).__name__,
            "id": r.id,
            **{k: plain(v) for k, v in dataclasses.asdict(r).items()},
        }
        for r in records
    ]


def pages() -> list[tuple[str, str, str, str]]:
    """(family, kind, path, html) for one page of each kind; of an index, the page that
    lists the listing whose page is taken."""
    return market_pages() + forum_pages()


def forum_pages() -> list[tuple[str, str, str, str]]:
    """Both pages of the longest thread of seed 11's forum (seed 7 has no two-page one)."""
    world = generate_world(11, "tiny")
    sites = build_sites(world, armored(pgp_for(world)))
    day = world.days - 1
    forum = sites[next(m.market_id for m in world.markets if m.family == "forum")]
    thread = max(forum.threads, key=lambda t: len(forum.visible_posts(t.thread_id, day)))
    path = f"/thread/{thread.thread_id}"
    return [
        ("forum", "thread", path, forum.render(path, {}, day).body),
        ("forum", "thread-page2", path, forum.render(path, {"page": "2"}, day).body),
    ]


def market_pages() -> list[tuple[str, str, str, str]]:
    world = generate_world(7, "tiny")
    sites = build_sites(world, armored(pgp_for(world)))
    day = world.days - 1
    out = []
    for market in world.markets:
        site = sites[market.market_id]
        live = site.index.live_listings(day)
        if market.family == "forum" or not live:
            continue
        x = max(live, key=lambda x: len(site.index.feedback_for_listing(x.listing_id, day)))
        vendor = site.index.account_by_id[x.account_id]
        prefix = {
            "escrow": ("/listing/", "/vendor/", "/feedback"),
            "walletless": ("/item/", "/store/", "/reviews"),
            "hydra": ("/tovar/", "/shop/", "/otzyvy"),
            "bots": ("/bot/", None, None),
        }
        item, shop, fb = prefix[market.family]
        paths = [("listing", f"{item}{x.ref}")]
        index, query = index_page(site, x, day)
        out.append((market.family, "index", index, site.render(index, query, day).body))
        if shop:
            paths += [
                ("vendor", f"{shop}{vendor.handle}"),
                ("feedback", f"{shop}{vendor.handle}/{fb.strip('/')}"),
            ]
        for kind, path in paths:
            out.append((market.family, kind, path, site.render(path, {}, day).body))
    return out


def index_page(site, x, day: int) -> tuple[str, dict[str, str]]:
    """The path and query of the listing index page that lists ``x`` (its category's, its
    city's, the bot shop's stock list)."""
    if site.family in ("escrow", "walletless"):
        base, param = f"{site.cat_path}{x.category}", site.page_param
    elif site.family == "hydra":
        base, param = f"/city/{CITY_LIST.index(x.extra['city']) + 1}", "page"
    else:
        base, param = "/bots", "page"
    for number in range(1, 1000):
        query = {param: str(number)} if number > 1 else {}
        page = site.render(base, query, day)
        assert page.status == 200, (site.family, base, number)
        if f'/{x.ref}"' in page.body:
            return base, query
    raise AssertionError(f"no index page lists {x.ref}")


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for family, kind, path, html in pages():
        template = template_for(family)
        assert template is not None
        result = template.apply(path, html)
        assert result is not None, (family, kind, path)
        records = records_of(
            result, template, "market-golden", "Golden Site", REFERENCE, url=page_url(path)
        )
        stem = GOLDEN / f"{family}-{kind}"
        stem.with_suffix(".html").write_text(html, encoding="utf-8")
        stem.with_suffix(".json").write_text(
            json.dumps(
                {"path": path, "records": as_json(records)},
                indent=1,
                ensure_ascii=False,
                sort_keys=True,
            )
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
