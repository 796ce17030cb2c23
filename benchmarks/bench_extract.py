"""[D] Extraction speed: range listing pages per second per core, against BeautifulSoup.

Both sides get the same 2,000 escrow listing pages of the `small` range (rendered in
memory) and extract the same fields: title, price, quantity, ships from/to, vendor,
category path, and every feedback item (id, rating, text, buyer, time). Spector runs its
declarative template (selectolax/lexbor) and turns the fields into records; the peer is
BeautifulSoup with the lxml parser doing the same selections. One process, one core.
Goal: >= 10x the peer and >= 300 pages/s.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

PAGES = 2000


def _pages() -> list[tuple[str, str]]:
    from spector.sim import generate_world
    from spector.sim._generate import armored, pgp_for
    from spector.sim._sites import build_sites

    world = generate_world(7, "small")
    sites = build_sites(world, armored(pgp_for(world)))
    market = next(m for m in world.markets if m.family == "escrow")
    site = sites[market.market_id]
    day = world.days - 1
    listings = site.index.live_listings(day)
    out = []
    while len(out) < PAGES:
        for x in listings:
            out.append((f"/listing/{x.ref}", site.render(f"/listing/{x.ref}", {}, day).body))
    return out[:PAGES]


def _spector(pages: list[tuple[str, str]]) -> int:
    from spector.extract._pages import records_of
    from spector.extract._templates import template_for

    template = template_for("escrow")
    assert template is not None
    now = datetime(2023, 1, 30, tzinfo=UTC)
    n = 0
    for path, html in pages:
        result = template.apply(path, html)
        assert result is not None
        n += len(records_of(result, template, "market-x", "site", now))
    return n


def _soup(pages: list[tuple[str, str]]) -> int:
    from bs4 import BeautifulSoup

    n = 0
    for _, html in pages:
        soup = BeautifulSoup(html, "lxml")
        fields = {
            "title": soup.select_one("article.listing h1").get_text(" ", strip=True),
            "price": soup.select_one("dd.price").get_text(" ", strip=True),
            "quantity": soup.select_one("dd.qty").get_text(" ", strip=True),
            "from": soup.select_one("dd.from").get_text(" ", strip=True),
            "to": soup.select_one("dd.to").get_text(" ", strip=True),
            "vendor": soup.select_one("dd a.vendor").get_text(" ", strip=True),
            "category": soup.select_one("p.crumbs").get_text(" ", strip=True),
        }
        items = [
            {
                "ref": li.get("data-id"),
                "rating": li.select_one("span.rating").get_text(strip=True),
                "text": li.select_one("span.text").get_text(strip=True),
                "buyer": li.select_one("span.buyer").get_text(strip=True),
                "when": li.select_one("time").get("datetime"),
            }
            for li in soup.select("ul.feedback li.fb")
        ]
        n += len(fields) + len(items)
    return n


def _rate(fn, pages) -> float:  # type: ignore[no-untyped-def]
    fn(pages[:50])  # warm up
    start = time.process_time()
    fn(pages)
    return len(pages) / (time.process_time() - start)


def run() -> list[str]:
    pages = _pages()
    ours = _rate(_spector, pages)
    peer = _rate(_soup, pages)
    return [
        f"{len(pages)} escrow listing pages of the small range, "
        f"{sum(len(h) for _, h in pages) / len(pages) / 1024:.1f} KiB each on average",
        f"Spector (template on selectolax/lexbor, fields normalised into records): "
        f"{ours:,.0f} pages/s per core (goal >= 300)",
        f"peer: BeautifulSoup 4 + lxml, the same selections (no normalisation): "
        f"{peer:,.0f} pages/s per core",
        f"ratio: {ours / peer:.1f}x (goal >= 10x)",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
