"""The dashboard: markets and their crawl status, the newest deconfliction notices of the
user's agency, top actors, revenue by category (a chart and the same as a table).

API: GET /api/v1/dashboard (all of it as JSON) and /api/v1/charts/revenue-by-category
(a Vega-Lite v5 spec with its data inline, drawn by static/charts.js).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from spector.cases._base import Principal
from spector.web._auth import ApiUser, PageUser, state_of
from spector.web._overview import EstimateResult, cached_estimate, top_actors
from spector.web._pages import render
from spector.web._r_listings import MarketItem, market_rows

__all__ = ["api", "dashboard_data", "pages", "revenue_chart"]

pages = APIRouter()
api = APIRouter(tags=["dashboard"])

MARKETS_SHOWN = 50
NOTICES_SHOWN = 5
DASHBOARD_TTL_S = 5.0  # how stale the dashboard's workspace summary may be
VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"
UNKNOWN = "(no category)"


class NoticeItem(BaseModel):
    """A deconfliction notice as ``spector.cases`` shows it: a pointer and a contact."""

    id: int
    kind: str
    selector_id: int
    other_agency: str | None = None
    other_selector_id: int | None = None
    other_notice_id: int | None = None
    remote_instance: str | None = None
    contact: str | None = None
    created_at: str
    acknowledged_at: str | None = None


class TopActor(BaseModel):
    actor_id: str
    label: str
    accounts: int
    markets: list[str]
    handles: list[str]
    revenue_usd: float | None = None
    revenue_low: float | None = None
    revenue_high: float | None = None
    sales: float | None = None


class CategoryRevenue(BaseModel):
    category: str | None = None
    sales: float
    sales_low: float
    sales_high: float
    revenue_usd: float
    revenue_low: float
    revenue_high: float
    feedback: int
    counter_sales: int


class RevenueSummary(BaseModel):
    """The estimate's totals and basis (``error``: why there is no estimate)."""

    revenue_usd: float | None = None
    revenue_low: float | None = None
    revenue_high: float | None = None
    sales: float | None = None
    rate_basis: str | None = None
    feedback_rate: float | None = None
    notes: list[str]
    error: str | None = None


class Dashboard(BaseModel):
    markets: list[MarketItem]
    more_markets: bool
    notices: list[NoticeItem]
    open_notices: int
    top_actors: list[TopActor]
    revenue: RevenueSummary
    revenue_by_category: list[CategoryRevenue]


class VegaLiteSpec(BaseModel):
    """A Vega-Lite v5 specification (https://vega.github.io/schema/vega-lite/v5.json)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: str = Field(alias="$schema")
    data: dict[str, Any]


def _notices(request: Request, p: Principal) -> tuple[list[dict[str, Any]], int]:
    from spector.cases import notices
    from spector.cases._deconflict import notice_view

    with state_of(request).session(readonly=True) as s:
        found = notices(s, p)
        newest = sorted(found, key=lambda n: (n.created_at, n.id), reverse=True)
        views = [notice_view(s, n) for n in newest[:NOTICES_SHOWN]]
    return views, sum(1 for n in found if n.acknowledged_at is None)


def _revenue(result: EstimateResult) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    e = result.estimate
    if e is None:
        return {"notes": [], "error": result.error}, []
    totals = {k: e.totals.get(k) for k in ("revenue_usd", "revenue_low", "revenue_high", "sales")}
    summary = {**totals, "rate_basis": e.rate_basis, "feedback_rate": e.feedback_rate,
               "notes": list(e.notes), "error": None}  # fmt: skip
    return summary, [dict(r) for r in e.by_category]


def dashboard_data(request: Request, p: Principal) -> dict[str, Any]:
    """Everything the dashboard shows, as the ``Dashboard`` model's dict."""
    state = state_of(request)

    def workspace_part() -> tuple[Any, ...]:
        markets, more = market_rows(request, after=None, limit=MARKETS_SHOWN)
        with state.workspace() as ws:
            result = cached_estimate(state, ws)
            actors = top_actors(ws, result)
        return markets, more, actors, *_revenue(result)

    # The same for every user: kept for a few seconds (many analysts open it at once).
    markets, more, actors, summary, categories = state.memo(
        "dashboard", DASHBOARD_TTL_S, workspace_part
    )
    notices, open_count = _notices(request, p)
    return {
        "markets": markets,
        "more_markets": more is not None,
        "notices": notices,
        "open_notices": open_count,
        "top_actors": actors,
        "revenue": summary,
        "revenue_by_category": categories,
    }


def revenue_chart(categories: list[dict[str, Any]]) -> dict[str, Any]:
    """A Vega-Lite v5 bar chart of revenue by category, with each estimate's interval as
    a rule, data inline. No tooltips (vega-tooltip would inject a style element)."""
    values: list[dict[str, Any]] = [
        {
            "category": r["category"] or UNKNOWN,
            "revenue_usd": round(float(r["revenue_usd"]), 2),
            "revenue_low": round(float(r["revenue_low"]), 2),
            "revenue_high": round(float(r["revenue_high"]), 2),
        }
        for r in categories
    ]
    order = [v["category"] for v in sorted(values, key=lambda v: -v["revenue_usd"])]
    y = {"field": "category", "type": "nominal", "sort": order, "title": None}
    return {
        "$schema": VEGA_LITE,
        "description": "Estimated revenue by product category (USD), with its interval",
        "width": "container",
        "height": {"step": 22},
        "data": {"values": values},
        "layer": [
            {
                "mark": {"type": "bar", "color": "#1f5fa8"},
                "encoding": {
                    "y": y,
                    "x": {"field": "revenue_usd", "type": "quantitative",
                          "title": "Estimated revenue (USD)"},
                },
            },
            {
                "mark": {"type": "rule", "color": "#14202e"},
                "encoding": {
                    "y": y,
                    "x": {"field": "revenue_low", "type": "quantitative"},
                    "x2": {"field": "revenue_high"},
                },
            },
        ],
    }  # fmt: skip


@api.get("/dashboard", response_model=Dashboard, summary="What the dashboard shows")
def api_dashboard(request: Request, user: ApiUser) -> Any:
    return dashboard_data(request, user)


@api.get(
    "/charts/revenue-by-category",
    response_model=VegaLiteSpec,
    response_model_by_alias=True,
    summary="Revenue by category as a Vega-Lite v5 spec",
)
def api_revenue_chart(request: Request, user: ApiUser) -> Any:
    state = state_of(request)
    with state.workspace() as ws:
        result = cached_estimate(state, ws)
    return revenue_chart(_revenue(result)[1])


@pages.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request, user: PageUser) -> HTMLResponse:
    return render(request, "dashboard.html", dashboard_data(request, user))
