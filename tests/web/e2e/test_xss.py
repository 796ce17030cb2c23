"""Everything scraped is hostile: listing titles, vendor handles, profile texts, feedback
and forum posts carrying XSS payloads (script tags, onerror=, javascript: links, SVG, CSS
tricks, a </textarea> breakout, template syntax) are written into a copy of the demo's
store; every page that shows them executes nothing (no dialog, no console error, no CSP
violation, no report posted to /csp-report, no request to another origin), shows the
payload as text and grows no element from it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.e2e.conftest import serving
from tests.web.e2e.harness import LiveServer, Watch, login, shot
from tests.web.harness import copy_demo

PAYLOADS = [
    '<script>alert("script")</script>',
    '<img src=x onerror=alert("img")>',
    "<a href=\"javascript:alert('link')\">click me</a>",
    'javascript:alert("bare")',
    '<svg onload=alert("svg")><animate onbegin=alert("anim") attributeName=x dur=1s /></svg>',
    "<style>body{background:url(http://evil.example/css)}</style>",
    '" style="background:url(http://evil.example/attr)" x="',
    '</textarea><script>alert("textarea")</script>',
    "'\"><iframe src=\"javascript:alert('frame')\"></iframe>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'meta\')">',
    "{{ 7*7 }}{% raw %}<b>jinja</b>",
    '<math><mtext><table><mglyph><style><img src=x onerror=alert("mxss")>',
]
EVIL = "evil.example"


def _poison(ws: Path) -> dict[str, Any]:
    """Payloads into the copy's store; returns the ids of what was poisoned."""
    import duckdb

    con = duckdb.connect(str(ws / "store.duckdb"))
    try:
        accounts = [
            r[0] for r in con.execute("SELECT id FROM vendor_accounts ORDER BY id").fetchall()
        ]
        for i, account in enumerate(accounts):
            p = PAYLOADS[i % len(PAYLOADS)]
            con.execute(
                "UPDATE vendor_accounts SET handle = ?, profile_text = ? WHERE id = ?",
                [f"{p} h{i}", f"profile {PAYLOADS[(i + 1) % len(PAYLOADS)]} {p}", account],
            )
        listings = [r[0] for r in con.execute("SELECT id FROM listings ORDER BY id").fetchall()]
        for i, listing in enumerate(listings):
            p = PAYLOADS[i % len(PAYLOADS)]
            con.execute(
                "UPDATE listings SET title = ?, url = ? WHERE id = ?",
                [f"{p} t{i}", "javascript:alert('url')", listing],
            )
        con.execute("UPDATE feedback SET text = ?", [PAYLOADS[1] + PAYLOADS[7]])
        con.execute("UPDATE posts SET text = ?, author = ?", [PAYLOADS[0], PAYLOADS[4]])
        rows = con.execute("SELECT account_id, facts FROM resolve_accounts").fetchall()
        for account, facts in rows:
            data = json.loads(facts)
            data.setdefault("categories", {})[PAYLOADS[1]] = 1
            con.execute(
                "UPDATE resolve_accounts SET facts = ? WHERE account_id = ?",
                [json.dumps(data), account],
            )
        return {"accounts": accounts, "listings": listings}
    finally:
        con.close()


@pytest.fixture(scope="module")
def xss_live(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    ws = copy_demo(demo_template, tmp_path_factory.mktemp("e2e-xss") / "ws")
    poisoned = _poison(ws)
    with serving(ws) as server:
        server.poisoned = poisoned  # type: ignore[attr-defined]
        yield server


def _grown(page: Any) -> list[str]:
    """Elements a payload would have grown, were it parsed as HTML."""
    found: list[str] = page.evaluate(
        """() => {
          const bad = [];
          const sel = 'img[src="x"], svg[onload], animate, iframe[src^="javascript"], '
            + 'meta[http-equiv], main style, main script, a[href^="javascript"], math, mglyph';
          for (const el of document.querySelectorAll(sel)) { bad.push(el.outerHTML.slice(0, 80)); }
          for (const el of document.querySelectorAll('*')) {
            for (const a of el.attributes) {
              if (/^on/i.test(a.name)) { bad.push(el.tagName + ' ' + a.name); }
            }
            const ours = el.closest('.vega, .cy, #vg-tooltip-element');  // CSSOM of the libraries
            if (el.hasAttribute('style') && !ours) {
              bad.push(el.tagName + ' style=' + el.getAttribute('style'));
            }
          }
          return bad; }"""
    )
    return found


def _visit(page: Any, watch: Watch, server: LiveServer, path: str, name: str) -> str:
    response = page.goto(server.url + path)
    assert response is not None, path
    assert response.status == 200, f"{path}: {response.status}"
    page.wait_for_load_state("networkidle")
    text = page.locator("main").text_content() or ""
    assert _grown(page) == [], path
    shot(page, f"xss-{name}")
    watch.assert_clean(page)
    return text


def test_listing_vendor_and_actor_pages_execute_nothing(
    page: Any, watch: Watch, xss_live: LiveServer, logins: dict[str, str]
) -> None:
    login(page, xss_live.url, "bka_analyst", logins["bka_analyst"])
    poisoned = xss_live.poisoned  # type: ignore[attr-defined]
    seen = ""
    seen += _visit(page, watch, xss_live, "/", "dashboard")
    seen += _visit(page, watch, xss_live, "/listings", "listings")
    seen += _visit(page, watch, xss_live, "/listings?q=script", "listings-search")
    seen += _visit(page, watch, xss_live, f"/listings/{poisoned['listings'][1]}", "listing")
    seen += _visit(
        page, watch, xss_live, f"/listings/{poisoned['listings'][7]}", "listing-textarea"
    )
    seen += _visit(page, watch, xss_live, "/vendors", "vendors")
    for i in (0, 1, 4, 7):
        seen += _visit(page, watch, xss_live, f"/vendors/{poisoned['accounts'][i]}", f"vendor-{i}")
    seen += _visit(page, watch, xss_live, "/actors", "actors")
    actors = page.request.get(xss_live.url + "/api/v1/actors?limit=50").json()["items"]
    top = max(actors, key=lambda a: (a["accounts"], a["actor_id"]))["actor_id"]
    seen += _visit(page, watch, xss_live, f"/actors/{top}", "actor")
    page.wait_for_selector(".cy[data-node-count]")
    assert (
        page.locator("ul.graph-nodes img, ul.graph-nodes svg, ul.graph-nodes script").count() == 0
    )
    assert page.locator("ul.graph-nodes li").count() == int(
        page.locator(".cy").get_attribute("data-node-count")
    )
    # the payloads are shown, literally, as the text they are
    for payload in (
        '<script>alert("script")</script>',
        '<img src=x onerror=alert("img")>',
        '</textarea><script>alert("textarea")</script>',
        "{{ 7*7 }}{% raw %}<b>jinja</b>",
    ):
        assert payload in seen, payload
    assert "javascript:alert('url')" not in [
        a.get_attribute("href") for a in page.locator("a[href]").all()
    ]
    assert list(xss_live.app.state.web.csp_reports) == []
    watch.assert_clean(page)


def test_search_input_reflects_as_text(
    page: Any, watch: Watch, xss_live: LiveServer, logins: dict[str, str]
) -> None:
    """What the analyst types comes back escaped too (the filter form keeps it)."""
    from urllib.parse import quote

    login(page, xss_live.url, "bka_analyst", logins["bka_analyst"])
    for payload in ('"><script>alert("q")</script>', "</textarea><img src=x onerror=alert(1)>"):
        _visit(page, watch, xss_live, "/listings?q=" + quote(payload), "listings-q")
        values = page.evaluate("() => [...document.querySelectorAll('input')].map((i) => i.value)")
        assert payload in values
    assert list(xss_live.app.state.web.csp_reports) == []
