"""Every family's site: what a crawler can reach is exactly what the truth counts."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from spector.sim import generate_world
from spector.sim._generate import armored, pgp_for
from spector.sim._sites import build_sites, relative_en, relative_ru

SKIP = re.compile(r"^/(logout|calendar|media/|login|captcha/)")


def _reachable(site, day):
    seen, queue, broken = {"/"}, ["/"], []
    while queue:
        url = queue.pop()
        parts = urlsplit(url)
        page = site.render(parts.path, dict(parse_qsl(parts.query)), day)
        if page.status != 200:
            broken.append((url, page.status))
            continue
        for href in re.findall(r'href="([^"]+)"', page.body):
            href = unescape(href)
            if not SKIP.match(href) and href not in seen:
                seen.add(href)
                queue.append(href)
    return seen, broken


@pytest.mark.parametrize(("seed", "scale"), [(7, "tiny"), (11, "tiny"), (3, "small")])
def test_page_count_is_what_a_crawler_reaches(seed, scale):
    world = generate_world(seed, scale)
    sites = build_sites(world, armored(pgp_for(world)))
    checked = 0
    for m in world.markets:
        for day in (world.days // 3, world.days - 1):
            if m.close_day is not None and day >= m.close_day:
                continue
            seen, broken = _reachable(sites[m.market_id], day)
            assert broken == [], (m.family, broken[:3])
            assert len(seen) == sites[m.market_id].page_count(day), m.family
            checked += 1
    assert checked >= 10


def test_families_show_what_investigators_need():
    world = generate_world(7, "tiny")
    sites = build_sites(world, armored(pgp_for(world)))
    day = world.days - 1
    by_family = {m.family: sites[m.market_id] for m in world.markets}
    walletless = by_family["walletless"]
    account = next(a for a in walletless.index.accounts if walletless._vendor(a.handle, day))
    page = walletless.render(f"/store/{account.handle}", {}, day).body
    assert account.btc_payto in page
    assert account.xmr_payto in page
    hydra = by_family["hydra"]
    listing = hydra.index.live_listings(day)[0]
    body = hydra.render(f"/tovar/{listing.ref}", {}, day).body
    assert "₽" in body
    assert listing.extra["district"] in body
    bots = by_family["bots"].render("/bots", {}, day).body
    assert "cookies" in bots
    forum = by_family["forum"]
    thread = next(
        t for t in forum.threads if any(p.media for p in forum.visible_posts(t.thread_id, day))
    )
    assert re.search(
        r'<(img|video) src="/media/', forum.render(f"/thread/{thread.thread_id}", {}, day).body
    )


def test_invented_text_is_escaped():
    world = generate_world(7, "tiny")
    sites = build_sites(world, armored(pgp_for(world)))
    day = world.days - 1
    escrow = next(sites[m.market_id] for m in world.markets if m.family == "escrow")
    account = next(a for a in escrow.index.accounts if escrow._vendor(a.handle, day))
    account.profile_text = "<script>alert(1)</script>"
    body = escrow.render(f"/vendor/{account.handle}", {}, day).body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>" not in body


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (0, "сегодня"),
        (1, "вчера"),
        (2, "2 дня назад"),
        (5, "5 дней назад"),
        (11, "11 дней назад"),
        (21, "3 недели назад"),
        (14, "2 недели назад"),
        (35, "5 недель назад"),
        (61, "2 месяца назад"),
    ],
)
def test_russian_relative_dates(days, text):
    assert relative_ru(days) == text


def test_english_relative_dates():
    assert [relative_en(d) for d in (0, 1, 5, 21, 90)] == [
        "today",
        "yesterday",
        "5 days ago",
        "3 weeks ago",
        "3 months ago",
    ]
