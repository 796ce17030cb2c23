"""The actors area: actors and vendor accounts, the evidence of every link with the
analyst's confirm / reject, and an actor's link chart.

Pages: /actors (search, sort, pages), /actors/{id} (accounts, links with evidence and
decision buttons, keys, addresses, clusters, exchanges, revenue, timeline, the chart),
/vendors (accounts), /vendors/{id} (an account, its links). A decision form posts to
/actors/links/decide (htmx swaps the link's row with the answer; without JS the browser
is sent back). API: /api/v1/actors[/{id}[/links|/graph]], /api/v1/graph/expand,
/api/v1/vendor-accounts[/{id}[/links]], POST /api/v1/links/confirm|reject.

The queries are spector.resolve's (``_browse``, ``_browse_graph``); this module checks
roles, takes the workspace (decisions: the writer's), caches the economics estimate and
renders. Decisions need the analyst or admin role (403 otherwise).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from spector.cases._access import require_role
from spector.resolve._browse import first
from spector.web._api import Cursor, Limit, Page, decode_cursor, page_of
from spector.web._auth import ApiUser, PageUser, safe_next, state_of
from spector.web._m_actors import (
    AccountDetail,
    AccountRow,
    ActorDetail,
    ActorRow,
    DecisionIn,
    DecisionOut,
    Elements,
    LinkRow,
)
from spector.web._pages import render

if TYPE_CHECKING:
    from spector.cases import Principal
    from spector.store import Workspace
    from spector.web._state import WebState

__all__ = ["api", "pages"]

pages = APIRouter()
api = APIRouter(tags=["actors"])

# The economics estimate (revenue per actor) is kept this long per app, and made only
# for workspaces of at most this many accounts (as `spector actor list` does).
REVENUE_TTL_S = 120.0
REVENUE_AUTO_ACCOUNTS = 20_000
PAGE_LINKS = 100

Kind = Literal["vendor", "member"]
Q = Annotated[str | None, Query(max_length=200, description="Search text.")]
Market = Annotated[str | None, Query(max_length=300, description="A market id or name.")]
Sort = Annotated[str | None, Query(max_length=40, description="A sort key; -key descends.")]


_lock = threading.Lock()
_chain_ready: weakref.WeakSet[WebState] = weakref.WeakSet()
_revenue: weakref.WeakKeyDictionary[WebState, tuple[Any, float, list[dict[str, Any]] | None]] = (
    weakref.WeakKeyDictionary()
)


def _ensure_chain_views(state: WebState) -> None:
    """The chain views over this workspace's files (a copied workspace's point at the
    old folder), made once per app under the writer's lock."""
    if state in _chain_ready:
        return
    from spector.chain._query import ensure_views

    with state.writing() as ws:
        ensure_views(ws)
    with _lock:
        _chain_ready.add(state)


def _by_actor(state: WebState, ws: Workspace) -> list[dict[str, Any]] | None:
    """The estimate's rows per actor, cached per app for ``REVENUE_TTL_S`` and until the
    next resolution run; [] when the workspace is too big to estimate on a page view;
    None when the estimate is not available (actor_package then says why)."""
    row = first(
        ws.store.con.execute(
            "SELECT max(run_at), (SELECT count(*) FROM actor_accounts) FROM resolve_runs"
        )
    )
    run_at, accounts = (row[0], int(row[1])) if row else (None, 0)
    now = time.monotonic()
    with _lock:
        hit = _revenue.get(state)
    if hit is not None and hit[0] == run_at and hit[1] > now:
        return hit[2]
    if accounts > REVENUE_AUTO_ACCOUNTS:
        rows: list[dict[str, Any]] | None = []
    else:
        try:
            from spector.economics import estimate

            rows = list(estimate(ws).by_actor or [])
        except Exception:  # another stage's failure: the package says why
            rows = None
    with _lock:
        _revenue[state] = (run_at, now + REVENUE_TTL_S, rows)
    return rows


def _revenue_map(rows: list[dict[str, Any]] | None) -> dict[str, float]:
    return {
        str(r["actor_id"]): float(r["revenue_usd"])
        for r in rows or []
        if r.get("revenue_usd") is not None
    }


def _may_decide(p: Principal) -> bool:
    return p.has("analyst", "admin")


def _query(base: str, **params: object) -> str:
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return base + ("?" + urlencode(kept) if kept else "")


def _page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    page = page_of(rows, limit, lambda r: r["cursor"])
    return page.items, page.next_cursor


# -- API ---------------------------------------------------------------------------------
@api.get("/actors", response_model=Page[ActorRow], summary="Actors of the last resolution run")
def api_actors(
    request: Request, p: ApiUser, q: Q = None, market: Market = None, kind: Kind | None = None,
    min_accounts: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    sort: Sort = None, cursor: Cursor = None, limit: Limit = 50,
) -> Page[ActorRow]:  # fmt: skip
    """Sorts: accounts, revenue, label, first_seen, last_seen, actor_id (default
    -accounts). revenue_usd is the economics estimate's (null when not estimated)."""
    rows = _actors(request, q, market, kind, min_accounts, sort, cursor, limit)
    items, next_cursor = _page(rows, limit)
    return Page[ActorRow](items=[ActorRow(**r) for r in items], next_cursor=next_cursor)


def _actors(request: Request, q: str | None, market: str | None, kind: str | None,
            min_accounts: int | None, sort: str | None, cursor: str | None,
            limit: int) -> list[dict[str, Any]]:  # fmt: skip
    from spector.resolve._browse import ACTOR_SORTS, actors_page, parse_sort

    order = parse_sort(sort, ACTOR_SORTS, "-accounts")
    after = decode_cursor(cursor)
    state = state_of(request)
    with state.workspace() as ws:
        revenue = _revenue_map(_by_actor(state, ws))
        return actors_page(ws, q=q, market=market, kind=kind, min_accounts=min_accounts,
                           sort=order, after=after, limit=limit, revenue=revenue)  # fmt: skip


def _detail(request: Request, actor_id: str) -> dict[str, Any]:
    from spector.resolve._browse import actor_detail

    state = state_of(request)
    _ensure_chain_views(state)
    with state.workspace() as ws:
        return actor_detail(ws, actor_id, by_actor=_by_actor(state, ws))


@api.get("/actors/{actor_id}", response_model=ActorDetail, summary="An actor's target package")
def api_actor(request: Request, p: ApiUser, actor_id: str) -> ActorDetail:
    """``spector actor show --json`` plus label and exchanges."""
    return ActorDetail(**_detail(request, actor_id))


def _links(request: Request, *, actor_id: str | None = None, account_id: str | None = None,
           linked: bool | None = None, within: bool = False, cursor: str | None = None,
           limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
    from spector.resolve._browse import account_detail
    from spector.resolve._browse_links import links_page

    after = decode_cursor(cursor)
    with state_of(request).workspace() as ws:
        if account_id is not None:
            account_detail(ws, account_id, listings=0)  # NotFound for an unknown account
        return links_page(ws, actor_id=actor_id, account_id=account_id, linked=linked,
                          within=within, after=after, limit=limit)  # fmt: skip


@api.get("/actors/{actor_id}/links", response_model=Page[LinkRow],
         summary="The candidate pairs of an actor's accounts, with their evidence")  # fmt: skip
def api_actor_links(
    request: Request, p: ApiUser, actor_id: str,
    linked: Annotated[bool | None, Query(description="Only drawn (true) or undrawn links")] = None,
    within: Annotated[bool, Query(description="Only pairs inside the actor")] = False,
    cursor: Cursor = None, limit: Limit = 50,
) -> Page[LinkRow]:  # fmt: skip
    rows = _links(request, actor_id=actor_id, linked=linked, within=within, cursor=cursor,
                  limit=limit)  # fmt: skip
    items, next_cursor = _page(rows, limit)
    return Page[LinkRow](items=[LinkRow(**r) for r in items], next_cursor=next_cursor)


@api.get("/actors/{actor_id}/graph", response_model=Elements,
         summary="An actor's link chart (Cytoscape elements)")  # fmt: skip
def api_actor_graph(request: Request, p: ApiUser, actor_id: str) -> Elements:
    from spector.resolve._browse_graph import actor_graph

    state = state_of(request)
    _ensure_chain_views(state)
    with state.workspace() as ws:
        return Elements(**actor_graph(ws, actor_id))


@api.get("/graph/expand", response_model=Elements, summary="A chart node and its neighbours")
def api_expand(
    request: Request, p: ApiUser,
    node: Annotated[str, Query(min_length=3, max_length=400,
                               description="actor:…, account:…, pgp:…, btc:…, cluster:…, "
                                           "exchange:…")],
) -> Elements:  # fmt: skip
    from spector.resolve._browse_graph import expand

    state = state_of(request)
    _ensure_chain_views(state)
    with state.workspace() as ws:
        return Elements(**expand(ws, node))


def _accounts(request: Request, q: str | None, market: str | None, kind: str | None,
              actor: str | None, sort: str | None, cursor: str | None,
              limit: int) -> list[dict[str, Any]]:  # fmt: skip
    from spector.resolve._browse import ACCOUNT_SORTS, accounts_page, parse_sort

    order = parse_sort(sort, ACCOUNT_SORTS, "handle")
    after = decode_cursor(cursor)
    with state_of(request).workspace() as ws:
        return accounts_page(ws, q=q, market=market, kind=kind, actor=actor, sort=order,
                             after=after, limit=limit)  # fmt: skip


@api.get("/vendor-accounts", response_model=Page[AccountRow],
         summary="Vendor accounts (and the forum members resolution knows)")  # fmt: skip
def api_accounts(
    request: Request, p: ApiUser, q: Q = None, market: Market = None, kind: Kind | None = None,
    actor: Annotated[str | None, Query(max_length=300)] = None,
    sort: Sort = None, cursor: Cursor = None, limit: Limit = 50,
) -> Page[AccountRow]:  # fmt: skip
    """Sorts: handle (default), market, listings, rating, last_seen, account_id."""
    rows = _accounts(request, q, market, kind, actor, sort, cursor, limit)
    items, next_cursor = _page(rows, limit)
    return Page[AccountRow](items=[AccountRow(**r) for r in items], next_cursor=next_cursor)


def _account(request: Request, account_id: str) -> dict[str, Any]:
    from spector.resolve._browse import account_detail

    with state_of(request).workspace() as ws:
        return account_detail(ws, account_id)


@api.get("/vendor-accounts/{account_id}", response_model=AccountDetail, summary="An account")
def api_account(request: Request, p: ApiUser, account_id: str) -> AccountDetail:
    return AccountDetail(**_account(request, account_id))


@api.get("/vendor-accounts/{account_id}/links", response_model=Page[LinkRow],
         summary="The candidate pairs of an account, with their evidence")  # fmt: skip
def api_account_links(
    request: Request, p: ApiUser, account_id: str,
    linked: Annotated[bool | None, Query(description="Only drawn (true) or undrawn links")] = None,
    cursor: Cursor = None, limit: Limit = 50,
) -> Page[LinkRow]:  # fmt: skip
    rows = _links(request, account_id=account_id, linked=linked, cursor=cursor, limit=limit)
    items, next_cursor = _page(rows, limit)
    return Page[LinkRow](items=[LinkRow(**r) for r in items], next_cursor=next_cursor)


def _decide(request: Request, p: Principal, kind: str, a: str, b: str, why: str | None,
            apply: bool | None) -> dict[str, Any]:  # fmt: skip
    from spector.resolve._browse_links import decide

    require_role(p, "analyst", "admin", action=f"{kind} links")
    state = state_of(request)
    with state.writing() as ws:
        return decide(ws, kind, a, b, why=why, who=p.username, apply=apply)


@api.post("/links/confirm", response_model=DecisionOut,
          summary="Record that two accounts are one actor (and re-resolve)")  # fmt: skip
def api_confirm(request: Request, p: ApiUser, body: DecisionIn) -> DecisionOut:
    return DecisionOut(**_decide(request, p, "confirm", body.a, body.b, body.why, body.apply))


@api.post("/links/reject", response_model=DecisionOut,
          summary="Record that two accounts are never one actor (and re-resolve)")  # fmt: skip
def api_reject(request: Request, p: ApiUser, body: DecisionIn) -> DecisionOut:
    return DecisionOut(**_decide(request, p, "reject", body.a, body.b, body.why, body.apply))


# -- pages -------------------------------------------------------------------------------
def _sorter(base: str, sort: str, params: dict[str, object]) -> Callable[[str], dict[str, str]]:
    """key -> {href, aria} of a column header: a click sorts by it, again reverses it."""
    current = sort.lstrip("-")
    descending = sort.startswith("-")

    def header(key: str) -> dict[str, str]:
        nxt = ("" if descending else "-") + key if key == current else key
        aria = ("descending" if descending else "ascending") if key == current else ""
        return {"href": _query(base, **params, sort=nxt), "aria": aria}

    return header


@pages.get("/actors", response_class=HTMLResponse, include_in_schema=False)
def actors_list(
    request: Request, user: PageUser, q: Q = None, market: Market = None,
    kind: Kind | None = None, min_accounts: Annotated[int | None, Query(ge=1)] = None,
    sort: Sort = None, cursor: Cursor = None, limit: Limit = 50,
) -> HTMLResponse:  # fmt: skip
    rows = _actors(request, q, market, kind, min_accounts, sort, cursor, limit)
    items, next_cursor = _page(rows, limit)
    params: dict[str, object] = {"q": q, "market": market, "kind": kind,
                                 "min_accounts": min_accounts}  # fmt: skip
    order = sort or "-accounts"
    next_url = _query("/actors", **params, sort=order, cursor=next_cursor) if next_cursor else None
    return render(request, "actors/list.html", {
        "actors": items, "q": q or "", "market": market or "", "kind": kind or "",
        "min_accounts": min_accounts or "", "sort": order, "next_url": next_url,
        "th": _sorter("/actors", order, params),
    })  # fmt: skip


def _chart_rows(graph: dict[str, Any]) -> list[dict[str, str]]:
    label = {n["data"]["id"]: n["data"]["label"] for n in graph["nodes"]}
    kind = {n["data"]["id"]: n["data"]["kind"] for n in graph["nodes"]}
    return [
        {"source": label[e["data"]["source"]], "source_kind": kind[e["data"]["source"]],
         "label": e["data"]["label"], "target": label[e["data"]["target"]],
         "target_kind": kind[e["data"]["target"]]}
        for e in graph["edges"]
    ]  # fmt: skip


@pages.get("/actors/{actor_id}", response_class=HTMLResponse, include_in_schema=False)
def actor_page(request: Request, user: PageUser, actor_id: str,
               lc: Cursor = None) -> HTMLResponse:  # fmt: skip
    from spector.resolve._browse_graph import actor_graph

    detail = _detail(request, actor_id)
    rows = _links(request, actor_id=detail["actor_id"], cursor=lc, limit=PAGE_LINKS)
    links, next_links = _page(rows, PAGE_LINKS)
    with state_of(request).workspace() as ws:
        graph = actor_graph(ws, detail["actor_id"])
    base = "/actors/" + quote(detail["actor_id"], safe="")
    return render(request, "actors/detail.html", {
        "a": detail, "links": links, "may_decide": _may_decide(user), "back": base,
        "next_links": _query(base, lc=next_links) if next_links else None,
        "chart": _chart_rows(graph), "members": {m["account_id"] for m in detail["accounts"]},
    }, headers={"Cache-Control": "no-store"})  # fmt: skip


@pages.get("/vendors", response_class=HTMLResponse, include_in_schema=False)
def vendors_list(
    request: Request, user: PageUser, q: Q = None, market: Market = None,
    kind: Kind | None = None, sort: Sort = None, cursor: Cursor = None, limit: Limit = 50,
) -> HTMLResponse:  # fmt: skip
    rows = _accounts(request, q, market, kind, None, sort, cursor, limit)
    items, next_cursor = _page(rows, limit)
    params: dict[str, object] = {"q": q, "market": market, "kind": kind}
    order = sort or "handle"
    next_url = _query("/vendors", **params, sort=order, cursor=next_cursor) if next_cursor else None
    return render(request, "actors/vendors.html", {
        "accounts": items, "q": q or "", "market": market or "", "kind": kind or "",
        "sort": order, "next_url": next_url, "th": _sorter("/vendors", order, params),
    })  # fmt: skip


@pages.get("/vendors/{account_id}", response_class=HTMLResponse, include_in_schema=False)
def vendor_page(request: Request, user: PageUser, account_id: str,
                lc: Cursor = None) -> HTMLResponse:  # fmt: skip
    account = _account(request, account_id)
    rows = _links(request, account_id=account["account_id"], cursor=lc, limit=PAGE_LINKS)
    links, next_links = _page(rows, PAGE_LINKS)
    base = "/vendors/" + quote(account["account_id"], safe="")
    return render(request, "actors/vendor.html", {
        "v": account, "links": links, "may_decide": _may_decide(user), "back": base,
        "next_links": _query(base, lc=next_links) if next_links else None,
        "members": {account["account_id"]},
    }, headers={"Cache-Control": "no-store"})  # fmt: skip


@pages.post("/actors/links/decide", include_in_schema=False, response_model=None)
def decide_form(
    request: Request, user: PageUser,
    a: Annotated[str, Form(min_length=1, max_length=300)],
    b: Annotated[str, Form(min_length=1, max_length=300)],
    kind: Annotated[Literal["confirm", "reject"], Form()],
    why: Annotated[str | None, Form(max_length=2000)] = None,
    back: Annotated[str | None, Form(max_length=600)] = None,
) -> Response:  # fmt: skip
    """A decision from a link row: htmx gets the row again (with the decision and where
    the accounts are now), a plain form post goes back to the page it came from."""
    from spector.resolve._browse_links import pair_link

    result = _decide(request, user, kind, a, b, why, None)
    if not request.headers.get("hx-request"):
        return RedirectResponse(safe_next(back), status_code=303)
    with state_of(request).workspace() as ws:
        link = pair_link(ws, result["a"], result["b"])
    return render(request, "actors/_link_row.html", {
        "link": link, "result": result, "may_decide": _may_decide(user),
        "back": safe_next(back), "members": set(),
    })  # fmt: skip
