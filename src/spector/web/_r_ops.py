"""Joint operations: the list, one operation (totals reconciled with the published
figures, arrests, seizures, timeline) and its [I] report (poster PNG, HTML in a
sandboxed frame, PDF), as the signed-in user may see them.

Operations themselves are sharing groups, listed for everyone as ``spector cases
operation list`` lists them; every arrest, seizure and figure comes through the case
store's access filter (``spector.cases``), and reading them is done in a writing session
so that reads of restricted records are audited.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from spector.errors import UsageError
from spector.web._api import Cursor, Limit, Page, decode_cursor, page_of
from spector.web._auth import ApiUser, PageUser, state_of
from spector.web._ops_report import REPORT_CSP, REPORT_KINDS, report_bytes
from spector.web._pages import render

__all__ = ["api", "pages"]

pages = APIRouter()
api = APIRouter(tags=["operations"])

Q = Annotated[str | None, Query(max_length=200, description="Part of the name or description.")]


class OperationItem(BaseModel):
    id: int
    name: str
    announced: str | None
    description: str | None
    agencies: list[str]
    member: bool  # the caller's agency is in the operation's sharing group


class CashCrypto(BaseModel):
    amount: float
    currency: str


class Totals(BaseModel):
    """``operation_totals``: what the caller may see, added up, and the discrepancies."""

    arrests: int
    arrests_by_country: dict[str, int]
    firearms: int
    drugs_kg: float
    drugs_kg_by_substance: dict[str, float]
    cash_crypto: list[CashCrypto]
    discrepancies: list[str]


class TimelineEntry(BaseModel):
    day: str
    kind: str
    label: str


class Agency(BaseModel):
    name: str
    country: str


class OtherSeizure(BaseModel):
    description: str
    count: int | None


class ArrestRow(BaseModel):
    id: int
    operation_id: int
    agency_id: int
    country: str
    count: int
    date: str | None
    target_id: int | None
    note: str | None
    distribution: str
    handling: str
    version: int


class SeizureRow(BaseModel):
    id: int
    operation_id: int
    agency_id: int
    kind: str
    amount: str | None
    currency: str | None
    count: int | None
    substance: str | None
    kg: str | None
    description: str | None
    date: str | None
    target_id: int | None
    distribution: str
    handling: str
    version: int


class ReconRow(BaseModel):
    figure: str
    stated: str
    records: str
    difference: str
    ok: bool


class OperationDetail(BaseModel):
    """``operation_overview`` (dates as ISO text) plus the caller's arrest and seizure
    records and the reconciliation table of the report."""

    name: str
    announced: str | None
    description: str | None
    source: str | None
    agencies: list[Agency]
    member: bool
    totals: Totals
    stated: dict[str, Any]
    other_seizures: list[OtherSeizure]
    seizure_records: dict[str, int]
    arrest_records: int
    timeline: list[TimelineEntry]
    viewer: str
    reconciliation: list[ReconRow]
    arrests: list[ArrestRow]
    seizures: list[SeizureRow]


def _operations(request: Request, p: Any, q: str | None) -> list[dict[str, Any]]:
    from spector.cases import list_operations

    with state_of(request).session(readonly=True) as s:
        rows = list_operations(s)
    needle = (q or "").strip().lower()
    out = []
    for row in rows:
        text = f"{row['name']} {row['description'] or ''}".lower()
        if needle and needle not in text:
            continue
        out.append({**row, "member": row["id"] in p.operations})
    out.sort(key=lambda r: (r["name"].lower(), r["id"]))
    return out


def _after_key(cursor: str | None) -> tuple[str, int] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], int):
        raise UsageError("cursor: not a cursor this API gave", hint="start again without it")
    return key[0], key[1]


def _operation_page(
    request: Request, p: Any, q: str | None, cursor: str | None, limit: int
) -> Page[dict[str, Any]]:
    after = _after_key(cursor)
    rows = [
        r
        for r in _operations(request, p, q)
        if after is None or (r["name"].lower(), r["id"]) > after
    ]
    return page_of(rows[: limit + 1], limit, lambda r: [r["name"].lower(), r["id"]])


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, date) else (None if value is None else str(value))


def _detail(request: Request, p: Any, name: str) -> dict[str, Any]:
    from spector.cases import (
        arrest_dict,
        list_arrests,
        list_operations,
        list_seizures,
        operation_overview,
        seizure_dict,
    )
    from spector.report._model import reconciliation_rows
    from spector.report._operation import report_data

    with state_of(request).session() as s:  # a writing session: H2/H3 reads are audited
        view = operation_overview(s, p, name)
        arrests = [arrest_dict(a) for a in list_arrests(s, p, view["name"])]
        seizures = [seizure_dict(x) for x in list_seizures(s, p, view["name"])]
        op_id = next(o["id"] for o in list_operations(s) if o["name"] == view["name"])
    recon = [
        {
            "figure": r.figure,
            "stated": r.stated,
            "records": r.records,
            "difference": r.difference,
            "ok": r.ok,
        }
        for r in reconciliation_rows(report_data(view))
    ]
    return {
        **view,
        "announced": _iso(view["announced"]),
        "agencies": [{"name": n, "country": c} for n, c in view["agencies"]],
        "other_seizures": [{"description": d, "count": c} for d, c in view["other_seizures"]],
        "timeline": [{**e, "day": _iso(e["day"])} for e in view["timeline"]],
        "member": op_id in p.operations,
        "reconciliation": recon,
        "arrests": arrests,
        "seizures": seizures,
    }


def op_url(name: str) -> str:
    """The page of operation ``name`` (the name as one path segment)."""
    return "/operations/" + quote(name, safe="")


# -- pages --------------------------------------------------------------------------------


@pages.get("/operations", response_class=HTMLResponse, include_in_schema=False)
def operations_page(
    request: Request, user: PageUser, q: Q = None, cursor: Cursor = None, limit: Limit = 50
) -> HTMLResponse:
    page = _operation_page(request, user, q, cursor, limit)
    nxt = None
    if page.next_cursor:
        nxt = f"/operations?cursor={quote(page.next_cursor)}&limit={limit}" + (
            f"&q={quote(q)}" if q else ""
        )
    items = [{**r, "url": op_url(r["name"])} for r in page.items]
    return render(request, "ops/list.html", {"items": items, "q": q or "", "next_url": nxt})


def _report_response(request: Request, user: Any, name: str, kind: str) -> Response:
    data = report_bytes(state_of(request), user, name, kind)
    media = REPORT_KINDS[kind][1]
    headers: dict[str, str] = {}
    if kind == "html":
        headers["Content-Security-Policy"] = REPORT_CSP
    if kind == "pdf":
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:80] or "operation"
        headers["Content-Disposition"] = f'attachment; filename="report-{safe}.pdf"'
    return Response(data, media_type=media, headers=headers)


@pages.get("/operations/{name:path}/report.png", include_in_schema=False)
def report_png(request: Request, user: PageUser, name: str) -> Response:
    return _report_response(request, user, name, "png")


@pages.get("/operations/{name:path}/report.html", include_in_schema=False)
def report_html(request: Request, user: PageUser, name: str) -> Response:
    return _report_response(request, user, name, "html")


@pages.get("/operations/{name:path}/report.pdf", include_in_schema=False)
def report_pdf(request: Request, user: PageUser, name: str) -> Response:
    return _report_response(request, user, name, "pdf")


@pages.get("/operations/{name:path}", response_class=HTMLResponse, include_in_schema=False)
def operation_page(request: Request, user: PageUser, name: str) -> HTMLResponse:
    view = _detail(request, user, name)
    return render(request, "ops/detail.html", {"op": view, "url": op_url(view["name"])})


# -- API ----------------------------------------------------------------------------------


@api.get("/operations", response_model=Page[OperationItem])
def operations_api(
    request: Request, user: ApiUser, q: Q = None, cursor: Cursor = None, limit: Limit = 50
) -> Page[dict[str, Any]]:
    """Joint operations by name, each with its agencies and whether the caller's agency
    is a member."""
    return _operation_page(request, user, q, cursor, limit)


@api.get("/operations/{name:path}/totals", response_model=Totals)
def operation_totals_api(request: Request, user: ApiUser, name: str) -> dict[str, Any]:
    """``operation_totals``: the arrests and seizures the caller may see, added up, and a
    sentence for every published total they do not add up to (the report's totals.json)."""
    from spector.cases import operation_totals

    with state_of(request).session() as s:
        return operation_totals(s, user, name)


@api.get("/operations/{name:path}", response_model=OperationDetail)
def operation_api(request: Request, user: ApiUser, name: str) -> dict[str, Any]:
    """One operation as the caller sees it: metadata, agencies, totals, stated totals,
    the reconciliation, timeline, and the caller's arrest and seizure records."""
    return _detail(request, user, name)
