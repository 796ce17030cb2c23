"""static/charts.js and static/graph.js in real Chromium under the app's CSP, on a page of
the test's own that uses the `chart` and `graph` macros (so these checks do not depend on
any area's page): the chart is drawn by vega-embed without eval or injected styles, the
graph by Cytoscape with its node count and node list, a click on a node expands it, and
hostile labels stay text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from tests.web.e2e.conftest import serving
from tests.web.e2e.harness import LiveServer, Watch, shot, wait_until
from tests.web.harness import copy_demo

HOSTILE = '<img src=x onerror="alert(1)">'
SVG_HOSTILE = '<svg onload="alert(2)"></svg>'

PAGE = """{% extends "base.html" %}
{% from "_macros.html" import chart, graph %}
{% block main %}
<h1>Widgets</h1>
{{ chart("/_e2e/spec.json", "Revenue by category") }}
{{ graph("/_e2e/graph.json", "Links", expand="/_e2e/expand?node=") }}
{{ graph("/_e2e/flow.json", "Flow", layout="breadthfirst") }}
{{ chart("/_e2e/missing.json", "A chart whose spec is absent") }}
{% endblock %}
"""

SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "description": "revenue by category",
    "data": {
        "values": [
            {"category": "Drugs", "usd": 1200.5},
            {"category": "Fraud", "usd": 310.0},
            {"category": HOSTILE, "usd": 90.25},
            {"category": SVG_HOSTILE, "usd": 45.0},
        ]
    },
    "mark": {"type": "bar", "tooltip": True},
    "encoding": {
        "x": {"field": "category", "type": "nominal", "sort": "-y"},
        "y": {"field": "usd", "type": "quantitative", "title": "USD"},
    },
    "transform": [{"calculate": "datum.usd * 2", "as": "double"}],
    "usermeta": {"embedOptions": {"actions": True, "defaultStyle": True}},
}

GRAPH = {
    "nodes": [
        {"data": {"id": "actor:1", "label": "Actor one", "kind": "actor"}},
        {"data": {"id": "account:north:vend", "label": HOSTILE, "kind": "account"}},
        {"data": {"id": "pgp:ABCDEF", "label": "ABCDEF", "kind": "pgp"}},
    ],
    "edges": [
        {"data": {"id": "e1", "source": "actor:1", "target": "account:north:vend", "label": "has"}},
        {
            "data": {
                "id": "e2",
                "source": "account:north:vend",
                "target": "pgp:ABCDEF",
                "label": "key",
            }
        },
        {"data": {"id": "dangling", "source": "pgp:ABCDEF", "target": "nowhere", "label": "x"}},
    ],
}

EXPANSIONS = {
    "pgp:ABCDEF": {
        "nodes": [
            {"data": {"id": "pgp:ABCDEF", "label": "ABCDEF", "kind": "pgp"}},
            {"data": {"id": "account:south:vend2", "label": "vend2", "kind": "account"}},
            {"data": {"id": "btc:bc1qxyz", "label": "bc1qxyz", "kind": "btc"}},
        ],
        "edges": [
            {"data": {"id": "e3", "source": "account:south:vend2", "target": "pgp:ABCDEF"}},
            {"data": {"id": "e4", "source": "account:south:vend2", "target": "btc:bc1qxyz"}},
        ],
    }
}

FLOW = {
    "nodes": [{"data": {"id": f"btc:a{i}", "label": f"a{i}", "kind": "btc"}} for i in range(4)],
    "edges": [
        {"data": {"id": "f1", "source": "btc:a0", "target": "btc:a1", "label": "0.5 BTC"}},
        {"data": {"id": "f2", "source": "btc:a0", "target": "btc:a2", "label": "0.25 BTC"}},
        {"data": {"id": "f3", "source": "btc:a2", "target": "btc:a3", "label": "0.2 BTC"}},
    ],
}


def _routes(app: Any) -> None:
    from spector.web._pages import env

    router = APIRouter()
    template = env.from_string(PAGE)
    asked: list[str] = []
    app.state.e2e_expanded = asked

    @router.get("/_e2e/widgets")
    def widgets(request: Request) -> HTMLResponse:
        html = template.render(request=request, user=None, csrf="", nav=(), path="/_e2e/widgets")
        return HTMLResponse(html)

    @router.get("/_e2e/spec.json")
    def spec() -> JSONResponse:
        return JSONResponse(SPEC)

    @router.get("/_e2e/graph.json")
    def graph() -> JSONResponse:
        return JSONResponse(GRAPH)

    @router.get("/_e2e/flow.json")
    def flow() -> JSONResponse:
        return JSONResponse(FLOW)

    @router.get("/_e2e/expand")
    def expand(node: str) -> JSONResponse:
        asked.append(node)
        return JSONResponse(EXPANSIONS.get(node, {"nodes": [], "edges": []}))

    app.include_router(router)


@pytest.fixture(scope="module")
def widgets_live(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    ws = copy_demo(demo_template, tmp_path_factory.mktemp("e2e-widgets") / "ws")
    with serving(ws, _routes) as server:
        yield server


def _open(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/_e2e/widgets")
    page.wait_for_selector(".vega[data-vega-src='/_e2e/spec.json'][data-vega-state=drawn]")
    page.wait_for_selector(".cy[data-graph-src='/_e2e/graph.json'][data-node-count]")
    page.wait_for_selector(".cy[data-graph-src='/_e2e/flow.json'][data-node-count]")
    page.wait_for_selector(".vega[data-vega-src='/_e2e/missing.json'][data-vega-state=error]")


def test_chart_is_drawn_without_eval_or_injected_style(
    page: Any, watch: Watch, widgets_live: LiveServer
) -> None:
    _open(page, widgets_live)
    chart = page.locator(".vega[data-vega-src='/_e2e/spec.json']")
    bars = chart.locator("svg g.mark-rect path")
    assert bars.count() == 4
    labels = chart.locator("svg g.role-axis-label text").all_text_contents()
    assert HOSTILE in labels
    assert SVG_HOSTILE in labels
    assert chart.locator("svg img, svg foreignObject").count() == 0
    assert page.locator("img[src=x]").count() == 0
    # no actions menu although the spec asked for one in usermeta; no <style> injected
    assert chart.locator(".vega-actions, details").count() == 0
    assert page.locator("style").count() == 0
    # the tooltip: hover a bar, the tooltip element shows escaped text (its style is ours)
    bars.nth(2).hover()
    tip = page.locator("#vg-tooltip-element")
    tip.wait_for(state="attached")
    assert page.locator("#vg-tooltip-element img").count() == 0
    shot(page, "widgets")
    # the absent spec: an error as text, the rest of the page unharmed
    missing = page.locator(".vega[data-vega-src='/_e2e/missing.json'] .chart-error")
    assert "HTTP 404" in missing.text_content()
    watch.console_errors[:] = [e for e in watch.console_errors if "/_e2e/missing.json" not in e]
    watch.assert_clean(page)


def test_graph_counts_nodes_lists_them_and_expands_on_click(
    page: Any, watch: Watch, widgets_live: LiveServer
) -> None:
    _open(page, widgets_live)
    cy = page.locator(".cy[data-graph-src='/_e2e/graph.json']")
    assert cy.get_attribute("data-node-count") == "3"
    assert cy.get_attribute("data-edge-count") == "2"  # the dangling edge is dropped
    items = page.locator(".cy[data-graph-src='/_e2e/graph.json'] + ul.graph-nodes li")
    assert items.count() == 3
    texts = items.all_text_contents()
    assert any(HOSTILE in t for t in texts)
    assert page.locator("ul.graph-nodes img").count() == 0
    # click the pgp node where Cytoscape drew it
    cy.scroll_into_view_if_needed()
    box = cy.bounding_box()
    pos = page.evaluate(
        """() => { const el = document.querySelector(".cy[data-graph-src='/_e2e/graph.json']");
                   const cy = window.spectorGraphs.of(el);
                   const p = cy.getElementById('pgp:ABCDEF').renderedPosition();
                   return [p.x, p.y]; }"""
    )
    page.mouse.click(box["x"] + pos[0], box["y"] + pos[1])
    page.wait_for_selector(".cy[data-graph-src='/_e2e/graph.json'][data-node-count='5']")
    assert cy.get_attribute("data-edge-count") == "4"
    assert widgets_live.app.state.e2e_expanded == ["pgp:ABCDEF"]
    assert items.count() == 5
    # keyboard: the list's button for vend2 expands it (nothing new comes back)
    page.locator("ul.graph-nodes button", has_text="vend2").click()
    page.wait_for_function(
        "() => document.querySelector(\".cy[data-graph-src='/_e2e/graph.json']\")"
        ".getAttribute('data-graph-state') === 'drawn'"
    )
    assert widgets_live.app.state.e2e_expanded[-1] == "account:south:vend2"
    assert cy.get_attribute("data-node-count") == "5"
    flow = page.locator(".cy[data-graph-src='/_e2e/flow.json']")
    assert flow.get_attribute("data-node-count") == "4"
    assert flow.get_attribute("data-edge-count") == "3"
    assert page.locator("style").count() == 0
    shot(page, "widgets-expanded")
    watch.console_errors[:] = [e for e in watch.console_errors if "/_e2e/missing.json" not in e]
    watch.assert_clean(page)


def test_csp_blocks_what_the_watch_must_see(
    page: Any, watch: Watch, widgets_live: LiveServer
) -> None:
    """The watch itself: an inline script the CSP refuses is seen as a violation (so a
    clean watch elsewhere means something)."""
    _open(page, widgets_live)
    page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'alert(9)';
                   document.body.appendChild(s); }"""
    )
    page.wait_for_function("() => (window.__cspViolations || []).length > 0")
    problems = watch.problems(page)
    assert "CSP violations" in problems
    assert "dialogs" not in problems
    # the browser also posts the report to /csp-report (the report-uri), a moment later
    reports = wait_until(lambda: list(widgets_live.app.state.web.csp_reports), timeout=15)
    assert any("script-src" in str(r) for r in reports), reports
