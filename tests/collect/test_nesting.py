"""Parsing is bounded and off the event loop: a page nested 100,000 deep keeps its links,
costs little, and does not stall the crawl of another site."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from aiohttp import web
from selectolax.lexbor import LexborHTMLParser
from tests.collect.harness import onion
from tests.collect.hostile_site import HostileSites, captures, crawl, payload

from spector.collect._links import MAX_NESTING, bound_nesting, login_form, page_links

DEPTH = 100_000
DEEP = (
    "<html><body>"
    + '<div class="n">' * DEPTH
    + "<p>deep text</p><a href='/after'>after</a>"
    + "</div>" * DEPTH
    + "<a href='/tail'>tail</a></body></html>"
)


def _depth(html: str, selector: str) -> int:
    node = LexborHTMLParser(html).css_first(selector)
    depth = 0
    while node is not None:
        node, depth = node.parent, depth + 1
    return depth


@pytest.mark.timeout(60)  # unbounded, lexbor needs minutes for this page (quadratic)
def test_nesting_is_bounded_and_keeps_text_and_links():
    bounded, dropped = bound_nesting(DEEP)
    # html and body and MAX_NESTING - 2 divs keep their tags; the other divs and the <p>
    # lose their start and end tags
    assert dropped == 2 * (DEPTH - (MAX_NESTING - 2) + 1)
    assert "deep text" in bounded
    assert _depth(bounded, "a[href='/after']") <= MAX_NESTING + 3
    base, links, cut = page_links(DEEP)
    assert (base, links, cut) == (None, ["/after", "/tail"], dropped)


def test_shallow_pages_are_left_as_they_are():
    page = "<html><head><title>x</title></head><body>" + "<div><p>a</p></div>" * 500 + "</body>"
    assert bound_nesting(page) == (page, 0)
    # tags inside comments, scripts and styles are text, not nesting
    tricky = (
        "<body><!--" + "<div>" * 1000 + "--><script>if (a<b && c<d) {x('<div>')}</script>"
        "<style>p<q{}</style><a href='/x'>x</a></body>"
    )
    assert bound_nesting(tricky, limit=8) == (tricky, 0)


@pytest.mark.parametrize(
    "page",
    [
        "<div" * 200_000,  # tags never closed by ">"
        "<!--" + "<div>" * 50_000,  # a comment never closed
        "<a href='/x'>" * 100_000,  # links are never dropped
        "</div>" * 100_000 + "<div>" * 100_000,
        "<script>" + "<div>" * 100_000,
    ],
)
@pytest.mark.timeout(60)
def test_hostile_markup_is_scanned_in_linear_time(page):
    bounded, _ = bound_nesting(page, limit=64)
    if page.startswith("<a"):
        assert bounded == page
    LexborHTMLParser(bounded)  # and lexbor is not made to walk 100,000 open elements


def test_login_form_is_read_from_a_deep_page():
    html = (
        "<html><body>" + "<div>" * 50_000 + "<form action='/login'><input type=hidden "
        "name=csrf value=t0k><img id=captcha src='/captcha/1.png'></form>" + "</div>" * 50_000
    )
    form = login_form(html, "form[action='/login']", "img#captcha")
    assert form.found  # the form lost its ancestors' tags, not its own
    assert (form.action, form.hidden, form.captcha_src) == (
        "/login",
        {"csrf": "t0k"},
        "/captcha/1.png",
    )


DEEP_SITE, NORMAL_SITE = onion("deep-site"), onion("normal-site")
CHAIN = 150


def test_a_deep_page_does_not_stall_another_site(tmp_path):
    """Site A serves the 100,000-deep page, site B a chain of pages. While A's page is
    handled (from its last byte sent to A's next request, which needs its links), B's
    requests keep coming: no gap between two of them is more than a third of that
    window. Parsing on the event loop stalls B for the whole window."""
    sent: list[float] = []
    deep = DEEP.encode()

    async def deep_site(request: web.Request) -> web.StreamResponse:
        if request.path != "/":
            return web.Response(text="<html>after</html>", content_type="text/html")
        await asyncio.sleep(0.5)  # B's chain is under way before A's page arrives
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.content_length = len(deep)
        await response.prepare(request)
        await response.write(deep)
        await response.write_eof()
        sent.append(time.monotonic())
        return response

    async def normal_site(request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)  # B's pace: one page every 10 ms or so, plus the fetch
        n = int(request.path.strip("/") or -1) + 1
        link = f'<a href="/{n}">next</a>' if n < CHAIN else ""
        return web.Response(text=f"<html><body>{link}</body></html>", content_type="text/html")

    profiles = [
        {"site": {"name": "deep", "hosts": [DEEP_SITE], "start_urls": [f"http://{DEEP_SITE}/"]}},
        {
            "site": {
                "name": "normal",
                "hosts": [NORMAL_SITE],
                "start_urls": [f"http://{NORMAL_SITE}/"],
                "concurrency": 1,
                "max_depth": CHAIN + 1,
            }
        },
    ]
    with HostileSites({DEEP_SITE: deep_site, NORMAL_SITE: normal_site}) as sites:
        root, summary = crawl(tmp_path, profiles, sites)
        requests = list(sites.requests)
    (deep_done,) = sent
    after = next(t for t, host, path in requests if host == DEEP_SITE and path == "/after")
    window = after - deep_done
    normal = [t for t, host, _ in requests if host == NORMAL_SITE]
    assert len(normal) == CHAIN + 1
    before = [t for t in normal if t <= deep_done]
    during = [t for t in normal if deep_done < t < after]
    later = [t for t in normal if t >= after]
    assert before, "B's chain must have begun before A's page is in"
    assert later, "and go on after A's next request"
    spanning = [before[-1], *during, later[0]]
    widest = max(b - a for a, b in itertools.pairwise(spanning))
    assert len(during) >= 3, (window, len(during))
    assert widest < window / 3, (widest, window)
    # and A's page itself: stored whole, its link found under 100,000 levels, bound reported
    rows = captures(root, DEEP_SITE)
    assert payload(root, rows["/"]) == deep
    assert "/after" in rows
    assert summary["bounds"]["deep"]["max_nesting"]["hits"] == 1
