"""The chain area: search, blocks, transactions, addresses, clusters (with why merged)
and saved traces (a flow graph with amounts, and the same as a table); pages and API.

Every signed-in user reads; running and saving a trace writes the workspace and needs an
analyst or admin. The queries are ``spector.chain``'s (``_query``, ``_cluster_query``,
``_trace_store``, ``_browse``): the pages and the API call the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from spector.cases._access import require_role
from spector.chain import _browse as browse
from spector.errors import InputError, NotFound, UserError
from spector.store import Workspace
from spector.web import _chain_models as m
from spector.web._api import Cursor, Limit, Page, decode_cursor, encode_cursor
from spector.web._auth import ApiUser, PageUser, state_of
from spector.web._pages import env, render

__all__ = ["api", "pages"]

pages = APIRouter()
api = APIRouter(tags=["chain"])

PAGE = 50  # rows per page on the pages (the API takes ?limit=)
SORT_HELP = "created | name | total; a leading - sorts descending"


def _btc(value: object) -> str:
    if value is None:
        return "–"
    try:
        return f"{int(value) / 1e8:,.8f}"  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(value)


env.filters.setdefault("btc", _btc)


@contextmanager
def _ws(request: Request) -> Iterator[Workspace]:
    with state_of(request).workspace() as ws:
        yield ws


def _url(path: str, **params: object) -> str:
    """``path`` with the non-empty ``params`` as its query string."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


def _page(
    rows: list[dict[str, Any]], limit: int, key: Callable[[dict[str, Any]], list[Any]]
) -> tuple[list[dict[str, Any]], str | None]:
    """The first ``limit`` of ``rows`` (fetched with limit + 1) and the next cursor."""
    items = rows[:limit]
    more = len(rows) > limit and bool(items)
    return items, encode_cursor(key(items[-1])) if more else None


def _int_cursor(cursor: str | None) -> int | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if (
        len(key) != 1
        or not isinstance(key[0], int)
        or isinstance(key[0], bool)
        or (not 0 <= key[0] < 2**63)
    ):
        raise InputError("cursor: not a cursor this list gave", hint="start again without it")
    return key[0]


def _link(kind: str, ref: str) -> str:
    return f"/chain/{kind}/{quote(str(ref), safe='')}"


# -- shared look-ups (pages and API) ---------------------------------------------------


def _movements(ws: Workspace, address: str, cursor: str | None, limit: int) -> tuple[Any, ...]:
    rows = browse.address_movements(ws, address, after=decode_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, lambda r: [r["height"], r["txid"], r["direction"], r["n"]])


def _members(ws: Workspace, cid: int, cursor: str | None, limit: int) -> tuple[Any, ...]:
    rows = browse.cluster_members(ws, cid, after=_int_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, lambda r: [r["address_id"]])


def _clusters(ws: Workspace, cursor: str | None, limit: int) -> tuple[Any, ...]:
    rows = browse.largest_clusters(ws, after=decode_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, lambda r: [r["size"], r["cluster_id"]])


def _block_txs(ws: Workspace, height: int, cursor: str | None, limit: int) -> tuple[Any, ...]:
    rows = browse.block_txs(ws, height, after=_int_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, lambda r: [r["idx"]])


def _traces(
    ws: Workspace, sort: str, q: str | None, kind: str | None, cursor: str | None, limit: int
) -> tuple[Any, ...]:
    rows = browse.trace_rows(ws, sort=sort, q=q, kind=kind, after=decode_cursor(cursor),
                             limit=limit + 1)  # fmt: skip
    return _page(rows, limit, lambda r: [r["sort_key"], r["name"]])


def _edges(ws: Workspace, name: str, cursor: str | None, limit: int) -> tuple[Any, ...]:
    rows = browse.trace_edges(ws, name, after=decode_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, lambda r: [r["time"] or "", r["txid"], r["from"], r["to"], r["rule"]])


def _cluster(ws: Workspace, ref: str) -> dict[str, Any]:
    from spector.chain._cluster_query import cluster_of

    address, _ = browse.find_cluster(ws, ref)
    return cluster_of(ws, address)


def _why(ws: Workspace, a: str, b: str) -> dict[str, Any]:
    from spector.chain._cluster_query import merge_path

    key_a, cid_a = browse.find_cluster(ws, a)
    key_b, cid_b = browse.find_cluster(ws, b)
    if cid_a != cid_b:
        raise InputError(f"{key_a} (cluster {cid_a}) and {key_b} (cluster {cid_b}) are not "
                         "one cluster: nothing merged them")  # fmt: skip
    return {"a": key_a, "b": key_b, "cluster_id": cid_a, "merges": merge_path(ws, key_a, key_b)}


def _load(ws: Workspace, name: str) -> dict[str, Any]:
    from spector.chain._trace_store import load

    try:
        return load(ws, name)
    except InputError as exc:
        raise NotFound(exc.what, hint=exc.hint) from exc


def _run_trace(request: Request, req: m.TraceRequest) -> dict[str, Any]:
    """Run the trace of ``req``, save it under ``req.name``; its row in the list."""
    from spector.chain._trace import trace
    from spector.chain._trace_store import _check_name, save

    _check_name(req.name)
    state = state_of(request)
    with state.workspace() as ws:  # reading: other requests go on meanwhile
        result = trace(ws, req.source, policy=req.policy, hops=req.hops,
                       to_tags=req.to_tags, direction=req.direction).as_dict()  # fmt: skip
    with state.writing() as ws:
        save(ws, req.name, result, replace=req.replace)
        rows = browse.trace_rows(ws, sort="name", q=req.name, limit=500)
    return next(r for r in rows if r["name"] == req.name)


def _hit(found: dict[str, str]) -> dict[str, str]:
    return {**found, "url": _link(found["kind"], found["ref"])}


# -- pages -----------------------------------------------------------------------------


@pages.get("/chain", response_class=HTMLResponse, include_in_schema=False)
def chain_home(request: Request, user: PageUser, q: str | None = None) -> Response:
    from spector.chain._query import status

    error, code = None, 200
    with _ws(request) as ws:
        if q:
            try:
                return RedirectResponse(_hit(browse.search_target(ws, q))["url"], status_code=303)
            except UserError as exc:
                error, code = exc.what, 404 if isinstance(exc, NotFound) else 400
        info = status(ws)
        clusters, more = _clusters(ws, None, 10)
        traces, _ = _traces(ws, "-created", None, None, None, 5)
    ctx = {"q": q or "", "error": error, "status": info, "clusters": clusters,
           "clusters_more": more, "traces": traces}  # fmt: skip
    return render(request, "chain/index.html", ctx, status=code)


@pages.get("/chain/clusters", response_class=HTMLResponse, include_in_schema=False)
def clusters_page(request: Request, user: PageUser, cursor: Cursor = None) -> Response:
    with _ws(request) as ws:
        rows, nxt = _clusters(ws, cursor, PAGE)
    next_url = _url("/chain/clusters", cursor=nxt) if nxt else None
    return render(request, "chain/clusters.html", {"clusters": rows, "next_url": next_url})


@pages.get("/chain/block/{ref}", response_class=HTMLResponse, include_in_schema=False)
def block_page(request: Request, ref: str, user: PageUser, cursor: Cursor = None) -> Response:
    with _ws(request) as ws:
        head = browse.block_head(ws, ref)
        txs, nxt = _block_txs(ws, head["height"], cursor, PAGE)
    next_url = _url(_link("block", str(head["height"])), cursor=nxt) if nxt else None
    return render(request, "chain/block.html", {"block": head, "txs": txs, "next_url": next_url})


@pages.get("/chain/tx/{txid}", response_class=HTMLResponse, include_in_schema=False)
def tx_page(request: Request, txid: str, user: PageUser) -> Response:
    with _ws(request) as ws:
        info = browse.tx_detail(ws, txid)
    return render(request, "chain/tx.html", {"tx": info})


@pages.get("/chain/address/{address}", response_class=HTMLResponse, include_in_schema=False)
def address_page(request: Request, address: str, user: PageUser, cursor: Cursor = None) -> Response:
    with _ws(request) as ws:
        info = browse.address_detail(ws, address)
        moves, nxt = _movements(ws, info["address"], cursor, PAGE)
    next_url = _url(_link("address", info["address"]), cursor=nxt) if nxt else None
    ctx = {"a": info, "movements": moves, "next_url": next_url}
    return render(request, "chain/address.html", ctx)


@pages.get("/chain/cluster/{ref}", response_class=HTMLResponse, include_in_schema=False)
def cluster_page(
    request: Request,
    ref: str,
    user: PageUser,
    cursor: Cursor = None,
    a: Annotated[str | None, Query(max_length=200)] = None,
    b: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    why, why_error, code = None, None, 200
    with _ws(request) as ws:
        info = _cluster(ws, ref)
        members, nxt = _members(ws, info["cluster_id"], cursor, PAGE)
        if a and b:
            try:
                why = _why(ws, a, b)
            except UserError as exc:
                why_error, code = exc.what, 404 if isinstance(exc, NotFound) else 400
    base = _link("cluster", str(info["cluster_id"]))
    ctx = {"c": info, "members": members, "base": base, "why": why, "why_error": why_error,
           "a": a or (info["addresses"][0] if info["addresses"] else ""), "b": b or "",
           "next_url": _url(base, cursor=nxt, a=a, b=b) if nxt else None}  # fmt: skip
    return render(request, "chain/cluster.html", ctx, status=code)


@pages.get("/chain/traces", response_class=HTMLResponse, include_in_schema=False)
def traces_page(
    request: Request,
    user: PageUser,
    cursor: Cursor = None,
    sort: Annotated[str, Query(max_length=20)] = "-created",
    q: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    with _ws(request) as ws:
        rows, nxt = _traces(ws, sort, q, kind or None, cursor, PAGE)
    ctx = {"traces": rows, "sort": sort, "q": q or "", "kind": kind or "",
           "sort_base": _url("/chain/traces", q=q, kind=kind) + ("&" if q or kind else "?"),
           "can_write": user.has("analyst", "admin"),
           "next_url": _url("/chain/traces", sort=sort, q=q, kind=kind, cursor=nxt)
           if nxt else None}  # fmt: skip
    return render(request, "chain/traces.html", ctx)


@pages.post("/chain/traces", include_in_schema=False)
async def trace_run_page(request: Request, user: PageUser) -> Response:
    require_role(user, "analyst", "admin", action="run and save traces")
    form = await request.form()

    def field(name: str, default: str = "") -> str:
        value = form.get(name, default)
        return value.strip() if isinstance(value, str) else default

    try:
        req = m.TraceRequest(
            name=field("name"),
            source=[s.strip() for s in field("source").replace("\n", ",").split(",") if s.strip()],
            policy=field("policy", "haircut"),  # type: ignore[arg-type]
            hops=int(field("hops", "5") or 5),
            direction=field("direction", "forward"),  # type: ignore[arg-type]
            replace=field("replace") == "on",
        )
    except ValueError as exc:  # pydantic's ValidationError and int() both are
        first = str(exc).splitlines()
        raise InputError(f"trace form: {first[1] if len(first) > 1 else first[0]}") from exc
    from starlette.concurrency import run_in_threadpool

    row = await run_in_threadpool(_run_trace, request, req)
    return RedirectResponse(_link("traces", row["name"]), status_code=303)


@pages.get("/chain/traces/{name}", response_class=HTMLResponse, include_in_schema=False)
def trace_page(request: Request, name: str, user: PageUser, cursor: Cursor = None) -> Response:
    with _ws(request) as ws:
        result = m.TraceResult.model_validate(_load(ws, name)).model_dump()  # every key set
        edges, nxt = _edges(ws, name, cursor, PAGE * 2)
    base = _link("traces", name)
    ctx = {"name": name, "r": result, "edges": edges, "base": base,
           "graph_src": f"/api/v1{base}/graph",
           "sources": [n for n in result.get("nodes", []) if "source" in (n.get("roles") or [])],
           "next_url": _url(base, cursor=nxt) if nxt else None}  # fmt: skip
    return render(request, "chain/trace.html", ctx)


# -- API -------------------------------------------------------------------------------


@api.get("/chain/status", response_model=m.ChainStatus)
def api_status(request: Request, user: ApiUser) -> Any:
    """Rows per chain table, the network and the contiguous height segments."""
    from spector.chain._query import status

    with _ws(request) as ws:
        return status(ws)


@api.get("/chain/search", response_model=m.SearchHit)
def api_search(
    request: Request, user: ApiUser, q: Annotated[str, Query(min_length=1, max_length=200)]
) -> Any:
    """What ``q`` is (txid, block hash or height, cluster:<id>, address) and its page."""
    with _ws(request) as ws:
        return _hit(browse.search_target(ws, q))


@api.get("/chain/block/{ref}", response_model=m.BlockHead)
def api_block(request: Request, ref: str, user: ApiUser) -> Any:
    """A block's header and totals by height or hash (transactions: ``/txs``)."""
    with _ws(request) as ws:
        return browse.block_head(ws, ref)


@api.get("/chain/block/{ref}/txs", response_model=Page[m.BlockTx])
def api_block_txs(
    request: Request, ref: str, user: ApiUser, limit: Limit = 100, cursor: Cursor = None
) -> Any:
    """The block's transactions in block order."""
    with _ws(request) as ws:
        head = browse.block_head(ws, ref)
        items, nxt = _block_txs(ws, head["height"], cursor, limit)
    return {"items": items, "next_cursor": nxt}


@api.get("/chain/tx/{txid}", response_model=m.Tx)
def api_tx(request: Request, txid: str, user: ApiUser) -> Any:
    """A transaction with its inputs (what they spend) and outputs (what spends them)."""
    with _ws(request) as ws:
        return browse.tx_detail(ws, txid)


@api.get("/chain/address/{address}", response_model=m.Address)
def api_address(request: Request, address: str, user: ApiUser) -> Any:
    """An address's totals, cluster and tags."""
    with _ws(request) as ws:
        return browse.address_detail(ws, address)


@api.get("/chain/address/{address}/movements", response_model=Page[m.Movement])
def api_movements(
    request: Request, address: str, user: ApiUser, limit: Limit = 100, cursor: Cursor = None
) -> Any:
    """What the address received and spent, newest first."""
    with _ws(request) as ws:
        info = browse.address_detail(ws, address)
        items, nxt = _movements(ws, info["address"], cursor, limit)
    return {"items": items, "next_cursor": nxt}


@api.get("/chain/clusters", response_model=Page[m.ClusterRow])
def api_clusters(request: Request, user: ApiUser, limit: Limit = 50, cursor: Cursor = None) -> Any:
    """Clusters by size, largest first, with their best tag."""
    with _ws(request) as ws:
        items, nxt = _clusters(ws, cursor, limit)
    return {"items": items, "next_cursor": nxt}


@api.get("/chain/cluster/{ref}", response_model=m.Cluster)
def api_cluster(request: Request, ref: str, user: ApiUser) -> Any:
    """The cluster of an address, or by id (``123`` or ``cluster:123``)."""
    with _ws(request) as ws:
        return _cluster(ws, ref)


@api.get("/chain/cluster/{ref}/members", response_model=Page[m.Member])
def api_members(
    request: Request, ref: str, user: ApiUser, limit: Limit = 100, cursor: Cursor = None
) -> Any:
    """The cluster's addresses in first-seen order, with their totals."""
    with _ws(request) as ws:
        _, cid = browse.find_cluster(ws, ref)
        items, nxt = _members(ws, cid, cursor, limit)
    return {"items": items, "next_cursor": nxt}


@api.get("/chain/why-merged", response_model=m.WhyMerged)
def api_why_merged(
    request: Request,
    user: ApiUser,
    a: Annotated[str, Query(min_length=1, max_length=200)],
    b: Annotated[str, Query(min_length=1, max_length=200)],
) -> Any:
    """The chain of merges (heuristic, txid, the two addresses) linking ``a`` to ``b``."""
    with _ws(request) as ws:
        return _why(ws, a, b)


@api.get("/chain/traces", response_model=Page[m.TraceRow])
def api_traces(
    request: Request,
    user: ApiUser,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        str, Query(max_length=20, description="created | name | total; -: descending")
    ] = "-created",
    q: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=10)] = None,
) -> Any:
    """Saved traces and path searches (without their graphs)."""
    with _ws(request) as ws:
        items, nxt = _traces(ws, sort, q, kind, cursor, limit)
    return {"items": items, "next_cursor": nxt}


@api.post("/chain/traces", response_model=m.TraceRow, status_code=201)
def api_trace_run(request: Request, body: m.TraceRequest, user: ApiUser) -> Any:
    """Run a trace and save it (analyst or admin)."""
    require_role(user, "analyst", "admin", action="run and save traces")
    return _run_trace(request, body)


@api.get("/chain/traces/{name}", response_model=m.TraceResult)
def api_trace(request: Request, name: str, user: ApiUser) -> Any:
    """A saved result, as it was saved."""
    with _ws(request) as ws:
        return _load(ws, name)


@api.get(
    "/chain/traces/{name}/edges", response_model=Page[m.TraceEdge], response_model_by_alias=True
)
def api_trace_edges(
    request: Request, name: str, user: ApiUser, limit: Limit = 100, cursor: Cursor = None
) -> Any:
    """The saved result's edges in time order: the flow as a table."""
    with _ws(request) as ws:
        items, nxt = _edges(ws, name, cursor, limit)
    return {"items": items, "next_cursor": nxt}


@api.get("/chain/traces/{name}/graph", response_model=m.Elements)
def api_trace_graph(request: Request, name: str, user: ApiUser) -> Any:
    """The saved result as Cytoscape.js elements (edges labelled with their amounts)."""
    with _ws(request) as ws:
        return browse.trace_elements(_load(ws, name))
