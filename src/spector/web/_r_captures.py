"""Captures: the capture index (filter by site, record type, URL text; sortable;
paged) and one capture: its metadata, its payload as escaped source, and a preview.

A captured page is hostile. It is never rendered as a page of this app: the source is
shown as text (autoescaped, in ``<pre>``), and the preview is served apart, at
``/captures/{id}/preview``, into ``<iframe sandbox="">`` with ``PREVIEW_CSP`` (no script,
no fetch, no form) after ``_preview.inert_html`` removed every media, code, loading and
navigating element and attribute. Media from captures (images, video…) is never shown:
a capture that is not HTML has no preview and no source, only its metadata.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from spector.web._api import Cursor, Limit, Page, decode_cursor, page_of
from spector.web._auth import ApiUser, PageUser, state_of
from spector.web._pages import env, render
from spector.web._preview import inert_html
from spector.web._security import PREVIEW_CSP

__all__ = ["api", "pages"]

pages = APIRouter()
api = APIRouter(tags=["crawl"])

SOURCE_SHOWN = 512 * 1024  # characters of source on the page (the API gives up to 2 MiB)
SiteQ = Annotated[str | None, Query(max_length=200, description="Only this site.")]
TextQ = Annotated[str | None, Query(max_length=500, description="Part of the URL.")]
KindQ = Annotated[
    str | None,
    Query(pattern="^(response|revisit|error|refused)$", description="Only this record type."),
]
SortQ = Annotated[
    str,
    Query(
        pattern="^-?(fetched_at|url|site|status)$",
        description="fetched_at, url, site or status; a leading '-' sorts descending.",
    ),
]
CaptureId = Annotated[str, Path(max_length=200, description="The capture's id.")]


class Capture(BaseModel):
    id: str
    url: str
    host: str
    site: str | None
    fetched_at: str | None
    status: int | None
    content_type: str | None
    sha256: str | None
    warc_file: str | None
    warc_offset: int | None
    record_type: str
    reason: str | None
    source: str
    truncated: bool
    source_file: str | None
    source_sha256: str | None
    time_basis: str
    first_seen: str | None
    last_seen: str | None


class Payload(BaseModel):
    size: int  # bytes of the stored payload
    html: bool
    charset: str
    note: str | None
    text: str | None  # the payload decoded, when it is text (at most 2 MiB of it)
    text_truncated: bool


class CaptureDetail(Capture):
    payload: Payload


def _filters(site: str | None, q: str | None, record_type: str | None, sort: str) -> dict[str, str]:
    out = {"site": site or "", "q": q or "", "record_type": record_type or "", "sort": sort}
    return {k: v for k, v in out.items() if v}


def _page(
    request: Request,
    site: str | None,
    q: str | None,
    record_type: str | None,
    sort: str,
    cursor: str | None,
    limit: int,
) -> Page[dict[str, Any]]:
    from spector.collect import capture_page, capture_sort_key

    with state_of(request).workspace() as ws:
        rows = capture_page(
            ws.store.con,
            site=site or None,
            q=q or None,
            record_type=record_type or None,
            sort=sort,
            after=decode_cursor(cursor),
            limit=limit + 1,
        )
    return page_of(rows, limit, lambda r: capture_sort_key(r, sort))


def _detail(request: Request, capture_id: str) -> tuple[dict[str, Any], Any]:
    from spector.collect import capture_payload, capture_row

    state = state_of(request)
    with state.workspace() as ws:
        item = capture_row(ws.store.con, capture_id)
        payload = capture_payload(ws.store.con, state.ws_root, item)
    return item, payload


def capture_url(capture_id: str) -> str:
    return "/captures/" + quote(capture_id, safe="")


# -- pages --------------------------------------------------------------------------------


@pages.get("/captures", response_class=HTMLResponse, include_in_schema=False)
def captures_page(
    request: Request,
    user: PageUser,
    site: SiteQ = None,
    q: TextQ = None,
    record_type: KindQ = None,
    sort: SortQ = "-fetched_at",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> HTMLResponse:
    from spector.collect import capture_sites

    page = _page(request, site, q, record_type, sort, cursor, limit)
    with state_of(request).workspace() as ws:
        sites = capture_sites(ws.store.con)
    filters = _filters(site, q, record_type, sort)
    nxt = None
    if page.next_cursor:
        nxt = "/captures?" + urlencode({**filters, "cursor": page.next_cursor, "limit": limit})
    unsorted = {k: v for k, v in filters.items() if k != "sort"}
    sort_base = "/captures?" + (urlencode(unsorted) + "&" if unsorted else "")
    items = [{**c, "link": capture_url(c["id"])} for c in page.items]
    ctx = {
        "items": items,
        "sites": sites,
        "site": site or "",
        "q": q or "",
        "record_type": record_type or "",
        "sort": sort,
        "sort_base": sort_base,
        "next_url": nxt,
    }
    return render(request, "crawl/captures.html", ctx)


@pages.get("/captures/{capture_id}/preview", include_in_schema=False)
def capture_preview(request: Request, user: PageUser, capture_id: CaptureId) -> HTMLResponse:
    """The captured page made inert, for ``<iframe sandbox="">`` only (PREVIEW_CSP)."""
    item, payload = _detail(request, capture_id)
    if payload.html and payload.text is not None:
        html = inert_html(payload.text)
    else:
        html = env.get_template("crawl/no_preview.html").render(capture=item, payload=payload)
    return HTMLResponse(html, headers={"Content-Security-Policy": PREVIEW_CSP})


@pages.get("/captures/{capture_id}", response_class=HTMLResponse, include_in_schema=False)
def capture_page_view(request: Request, user: PageUser, capture_id: CaptureId) -> HTMLResponse:
    item, payload = _detail(request, capture_id)
    text = payload.text
    shown = text[:SOURCE_SHOWN] if text is not None else None
    ctx = {
        "capture": item,
        "payload": payload,
        "source": shown,
        "source_cut": text is not None and (len(text) > SOURCE_SHOWN or payload.truncated),
        "preview": capture_url(item["id"]) + "/preview",
        "site_link": "/captures?" + urlencode({"site": item["site"]}) if item["site"] else None,
    }
    return render(request, "crawl/capture.html", ctx)


# -- API ----------------------------------------------------------------------------------


@api.get("/captures", response_model=Page[Capture])
def captures_api(
    request: Request,
    user: ApiUser,
    site: SiteQ = None,
    q: TextQ = None,
    record_type: KindQ = None,
    sort: SortQ = "-fetched_at",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[dict[str, Any]]:
    """The capture index (crawled and imported), newest first by default."""
    return _page(request, site, q, record_type, sort, cursor, limit)


@api.get("/captures/{capture_id}", response_model=CaptureDetail)
def capture_api(request: Request, user: ApiUser, capture_id: CaptureId) -> dict[str, Any]:
    """One capture and its payload as text (when it is text; never media)."""
    item, payload = _detail(request, capture_id)
    return {
        **item,
        "payload": {
            "size": payload.size,
            "html": payload.html,
            "charset": payload.charset,
            "note": payload.note,
            "text": payload.text,
            "text_truncated": payload.truncated,
        },
    }
