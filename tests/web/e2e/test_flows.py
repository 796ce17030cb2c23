"""An analyst's morning in real Chromium: sign in, open an actor and see the link chart
drawn (nodes counted in the DOM, expanded by a click), confirm a link, see and acknowledge
a deconfliction notice, open an operation's report. Every page is watched: no dialog, no
console error, no CSP violation, no request to another origin."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.e2e.harness import LiveServer, Watch, login, shot


def _api(page: Any, server: LiveServer, path: str) -> Any:
    response = page.request.get(server.url + path)
    assert response.status == 200, f"{path}: {response.status} {response.text()[:300]}"
    return response.json()


def _top_actor(page: Any, server: LiveServer) -> str:
    """The actor with the most accounts (it has links to show)."""
    actors = _api(page, server, "/api/v1/actors?limit=50")["items"]
    assert actors, "the demo has no actors"
    return str(max(actors, key=lambda a: (a["accounts"], a["actor_id"]))["actor_id"])


def test_login_lands_on_the_dashboard_and_logout_ends_the_session(
    page: Any, watch: Watch, live: LiveServer, logins: dict[str, str]
) -> None:
    page.goto(live.url + "/actors")
    assert "/login" in page.url  # signed out: the page asks for a login first
    page.fill("input[name=username]", "bka_analyst")
    page.fill("input[name=password]", "wrong password")
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_selector(".login .error")
    assert "Wrong username or password" in page.locator(".login .error").text_content()
    assert watch.console_errors == [
        f"Failed to load resource: the server responded with a status of 401 (Unauthorized) "
        f"({live.url}/login)"
    ]  # the refused login's 401, as expected; nothing else
    watch.console_errors.clear()
    login(page, live.url, "bka_analyst", logins["bka_analyst"], next_path="/actors")
    assert page.url == live.url + "/actors"
    assert page.locator("header .who").text_content() == "bka_analyst"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["spector_session"]["httpOnly"] is True
    assert cookies["spector_session"]["sameSite"] == "Strict"
    shot(page, "actors-list")
    page.goto(live.url + "/")
    page.wait_for_load_state("networkidle")
    shot(page, "dashboard")
    watch.assert_clean(page)
    with page.expect_navigation():
        page.click("form.logout button[type=submit]")
    assert "/login" in page.url
    page.goto(live.url + "/actors")
    assert "/login" in page.url


def test_actor_link_chart_is_drawn_and_expands(
    page: Any, watch: Watch, live: LiveServer, logins: dict[str, str]
) -> None:
    login(page, live.url, "bka_analyst", logins["bka_analyst"])
    actor = _top_actor(page, live)
    graph = _api(page, live, f"/api/v1/actors/{actor}/graph")
    page.goto(f"{live.url}/actors/{actor}")
    cy = page.locator(".cy[data-graph-src]")
    page.wait_for_selector(".cy[data-node-count]")
    drawn = int(cy.get_attribute("data-node-count"))
    assert drawn == len(graph["nodes"])
    assert drawn >= 3
    assert int(cy.get_attribute("data-edge-count")) == len(graph["edges"])
    listed = page.locator("ul.graph-nodes li")
    assert listed.count() == drawn
    labels = {n["data"]["label"] for n in graph["nodes"]}
    assert set(page.locator("ul.graph-nodes li > :last-child").all_text_contents()) == labels
    # the canvas really has pixels of nodes (not an empty box)
    painted = page.evaluate(
        """() => { const c = document.querySelector('.cy canvas[data-id="layer2-node"]')
                     || document.querySelectorAll('.cy canvas')[2];
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0;
                   for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; }
                   return n; }"""
    )
    assert painted > 100
    shot(page, "actor-graph")
    # expand an account node by clicking it where it is drawn
    target = next(n["data"]["id"] for n in graph["nodes"] if n["data"]["kind"] == "account")
    expansion = _api(page, live, "/api/v1/graph/expand?node=" + target.replace(":", "%3A"))
    expected = len({n["data"]["id"] for n in graph["nodes"] + expansion["nodes"]})
    cy.scroll_into_view_if_needed()
    box = cy.bounding_box()
    x, y = page.evaluate(
        """(id) => { const el = document.querySelector('.cy[data-graph-src]');
                     const p = window.spectorGraphs.of(el).getElementById(id).renderedPosition();
                     return [p.x, p.y]; }""",
        target,
    )
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_function(
        """(n) => { const el = document.querySelector('.cy[data-graph-src]');
                    return el.getAttribute('data-graph-state') === 'drawn'
                      && Number(el.getAttribute('data-node-count')) === n; }""",
        arg=expected,
    )
    assert listed.count() == expected
    shot(page, "actor-graph-expanded")
    watch.assert_clean(page)


def test_confirm_a_link_swaps_the_row(
    page: Any, watch: Watch, live: LiveServer, logins: dict[str, str]
) -> None:
    login(page, live.url, "bka_analyst", logins["bka_analyst"])
    actor = _top_actor(page, live)
    links = _api(page, live, f"/api/v1/actors/{actor}/links")["items"]
    undecided = [x for x in links if not x.get("decision")]
    assert undecided, "no undecided link to confirm"
    page.goto(f"{live.url}/actors/{actor}")
    row = (
        page.locator("table.links tbody tr.link")
        .filter(has=page.locator(f"input[name=a][value='{undecided[0]['a']}']"))
        .filter(has=page.locator(f"input[name=b][value='{undecided[0]['b']}']"))
    )
    assert row.count() == 1
    row.locator("input[name=why]").fill("same PGP key, checked by hand <b>bold</b>")
    with page.expect_response(lambda r: r.url.endswith("/actors/links/decide")) as answer:
        row.locator("button.confirm").click()
    assert answer.value.status == 200
    assert answer.value.request.headers.get("hx-request") == "true"  # htmx, not a reload
    page.wait_for_selector("table.links .decided")
    assert "confirm" in page.locator("table.links .decided").first.text_content()
    shot(page, "link-confirmed")
    after = _api(page, live, f"/api/v1/actors/{actor}/links")["items"]
    decided = [
        x
        for x in after
        if {x["a"], x["b"]} == {undecided[0]["a"], undecided[0]["b"]} and x.get("decision")
    ]
    assert decided
    assert decided[0]["decision"]["kind"] == "confirm"
    assert decided[0]["decision"]["why"] == "same PGP key, checked by hand <b>bold</b>"
    page.reload()
    assert page.locator("table.links b").count() == 0  # the why is text, not markup
    watch.assert_clean(page)


@pytest.mark.parametrize("user", ["bka_analyst", "politie_analyst"])
def test_deconfliction_notice_is_shown_and_acknowledged(
    page: Any, watch: Watch, live: LiveServer, logins: dict[str, str], user: str
) -> None:
    login(page, live.url, user, logins[user])
    notices = _api(page, live, "/api/v1/notices")["items"]
    assert notices, f"{user} has no deconfliction notice in the demo"
    first = notices[0]
    page.click("header nav a[href='/notices']")
    page.wait_for_url(live.url + "/notices")
    row = page.locator(f"#notice-{first['id']}")
    assert row.count() == 1
    assert (first.get("contact") or "unknown") in row.locator("td.contact").text_content()
    shot(page, f"notices-{user}")
    if first.get("acknowledged_at"):
        watch.assert_clean(page)
        return
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    row = page.locator(f"#notice-{first['id']}")
    assert "acknowledged" in row.text_content()
    again = {n["id"]: n for n in _api(page, live, "/api/v1/notices")["items"]}
    assert again[first["id"]]["acknowledged_at"]
    watch.assert_clean(page)


def test_operation_report_is_embedded(
    page: Any, watch: Watch, live: LiveServer, logins: dict[str, str]
) -> None:
    login(page, live.url, "bka_analyst", logins["bka_analyst"])
    page.click("header nav a[href='/operations']")
    page.wait_for_url(live.url + "/operations")
    page.click("a:has-text('Range Sweep')")
    page.wait_for_url("**/operations/Range%20Sweep", wait_until="domcontentloaded")
    poster = page.locator("img.poster")
    poster.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('img.poster');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=120_000,
    )
    assert page.evaluate("() => document.querySelector('img.poster').naturalWidth") >= 300
    frame_el = page.locator("iframe.report")
    assert frame_el.get_attribute("sandbox") == ""
    frame_el.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe.report');"
        " return f && f.contentDocument === null; }"
    )  # sandboxed without allow-same-origin: the page cannot reach into it
    report = page.frame_locator("iframe.report")
    report.locator("body").wait_for(timeout=120_000)
    assert "Range Sweep" in report.locator("body").text_content()
    pdf = page.request.get(page.url.rstrip("/") + "/report.pdf")
    assert pdf.status == 200
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.body().startswith(b"%PDF")
    shot(page, "operation-report")
    watch.assert_clean(page)
