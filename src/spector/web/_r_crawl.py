"""The crawl: runs and their per-site status, and the CAPTCHA queue (the picture, an
answer form: the crawl waiting on it resumes). Captures are in ``_r_captures`` (its
routers are included here).

Everything signed-in users may read; answering a CAPTCHA writes to the workspace's
collect.sqlite and needs the analyst or admin role (AccessDenied otherwise). The
queries are ``spector.collect``'s (``_browse``), the same state ``spector crawl
status`` and ``spector captcha`` read.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from spector.errors import ConflictError, InputError, NotFound, UsageError
from spector.web import _r_captures
from spector.web._api import Cursor, Limit, Page, decode_cursor, page_of
from spector.web._auth import ApiUser, PageUser, state_of
from spector.web._pages import render

__all__ = ["api", "pages"]

pages = APIRouter()
api = APIRouter(tags=["crawl"])

WRITERS = ("analyst", "admin")
RunQ = Annotated[
    int | None, Query(ge=1, le=2**53, description="A crawl run (default: the newest).")
]
StatusQ = Annotated[
    str, Query(pattern="^(pending|solved|used|all)$", description="pending, solved, used or all.")
]
CaptchaId = Annotated[str, Path(max_length=64, description="The CAPTCHA's id.")]


class CrawlRun(BaseModel):
    run_id: int
    started_at: str | None
    status: str
    state: str
    proxy: str
    profiles: list[str]
    stop_requested: bool
    sites: int
    pages: int
    errors: int
    queue: int
    captures: int
    last_capture_at: str | None
    captchas_waiting: int


class Bound(BaseModel):
    max: int
    hits: int
    example: str


class CrawlSite(BaseModel):
    site: str
    pages: int
    errors: int
    queue: int
    rate_per_min: int
    captcha: bool
    captures: int
    last_capture_at: str | None
    refusals: int
    bounds: dict[str, Bound]


class Captcha(BaseModel):
    id: str
    site: str
    created_at: str | None
    created: float
    status: str
    answered: bool
    has_image: bool


class CaptchaAnswer(BaseModel):
    answer: str = Field(max_length=1000, description="The characters of the picture.")


def _key(cursor: str | None, *types: type | tuple[type, ...]) -> list[Any] | None:
    """The decoded cursor, its values checked against ``types`` (UsageError: 400)."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != len(types) or not all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(key, types, strict=True)
    ):
        raise UsageError("cursor: not a cursor this API gave", hint="start again without it")
    return key


def _runs(request: Request, cursor: str | None, limit: int) -> Page[dict[str, Any]]:
    from spector.collect import crawl_runs

    rows = crawl_runs(state_of(request).ws_root, after=_key(cursor, int), limit=limit + 1)
    return page_of(rows, limit, lambda r: [r["run_id"]])


def _run_or_none(request: Request, run: int | None) -> dict[str, Any] | None:
    from spector.collect import crawl_run

    try:
        return crawl_run(state_of(request).ws_root, run)
    except NotFound:
        if run is not None:
            raise
        return None


def _sites(request: Request, run_id: int, cursor: str | None, limit: int) -> Page[dict[str, Any]]:
    from spector.collect import crawl_sites

    rows = crawl_sites(state_of(request).ws_root, run_id, after=_key(cursor, str), limit=limit + 1)
    return page_of(rows, limit, lambda r: [r["site"]])


def _captchas(
    request: Request, status: str, cursor: str | None, limit: int
) -> Page[dict[str, Any]]:
    from spector.collect import captcha_rows

    after = _key(cursor, (int, float), str)
    rows = captcha_rows(state_of(request).ws_root, status=status, after=after, limit=limit + 1)
    return page_of(rows, limit, lambda r: [r["created"], r["id"]])


def _may_answer(user: Any) -> bool:
    return bool(user.has(*WRITERS))


def _answer(request: Request, user: Any, captcha_id: str, answer: str) -> dict[str, Any]:
    from spector.cases._access import require_role
    from spector.collect import answer_captcha

    require_role(user, *WRITERS, action="answer CAPTCHAs")
    return answer_captcha(state_of(request).ws_root, captcha_id, answer)


# -- pages --------------------------------------------------------------------------------


def _site_panel(
    request: Request, run: dict[str, Any] | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    if run is None:
        return {"run": None, "sites": [], "sites_next": None}
    page = _sites(request, run["run_id"], cursor, limit)
    nxt = None
    if page.next_cursor:
        nxt = "/crawl?" + urlencode(
            {"run": run["run_id"], "site_cursor": page.next_cursor, "limit": limit}
        )
    return {"run": run, "sites": page.items, "sites_next": nxt}


@pages.get("/crawl", response_class=HTMLResponse, include_in_schema=False)
def crawl_page(
    request: Request,
    user: PageUser,
    run: RunQ = None,
    cursor: Cursor = None,
    site_cursor: Cursor = None,
    limit: Limit = 50,
) -> HTMLResponse:
    runs = _runs(request, cursor, limit)
    chosen = _run_or_none(request, run)
    from spector.collect import captcha_rows

    waiting = len(captcha_rows(state_of(request).ws_root, status="pending", limit=501))
    nxt = (
        "/crawl?" + urlencode({"cursor": runs.next_cursor, "limit": limit})
        if runs.next_cursor
        else None
    )
    ctx = {
        "runs": runs.items,
        "runs_next": nxt,
        "waiting": waiting,
        **_site_panel(request, chosen, site_cursor, limit),
    }
    return render(request, "crawl/index.html", ctx)


@pages.get("/crawl/status", response_class=HTMLResponse, include_in_schema=False)
def crawl_status_fragment(request: Request, user: PageUser, run: RunQ = None) -> HTMLResponse:
    """The per-site table alone: the /crawl page refreshes it every few seconds (htmx)."""
    return render(
        request, "crawl/_sites.html", _site_panel(request, _run_or_none(request, run), None, 500)
    )


@pages.get("/crawl/captchas", response_class=HTMLResponse, include_in_schema=False)
def captchas_page(
    request: Request,
    user: PageUser,
    status: StatusQ = "pending",
    cursor: Cursor = None,
    limit: Limit = 50,
    answered: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    return _captchas_view(request, user, status, cursor, limit, answered=answered)


def _captchas_view(
    request: Request,
    user: Any,
    status: str,
    cursor: str | None,
    limit: int,
    *,
    answered: str | None = None,
    error: str | None = None,
    http_status: int = 200,
) -> HTMLResponse:
    page = _captchas(request, status, cursor, limit)
    nxt = None
    if page.next_cursor:
        nxt = "/crawl/captchas?" + urlencode(
            {"status": status, "cursor": page.next_cursor, "limit": limit}
        )
    items = [
        {**c, "image": "/api/v1/captchas/" + quote(c["id"], safe="") + "/image"} for c in page.items
    ]
    ctx = {
        "items": items,
        "status": status,
        "next_url": nxt,
        "may_answer": _may_answer(user),
        "answered": answered,
        "error": error,
    }
    return render(request, "crawl/captchas.html", ctx, status=http_status)


@pages.post("/crawl/captchas/{captcha_id}", include_in_schema=False, response_model=None)
def answer_page(
    request: Request,
    user: PageUser,
    captcha_id: CaptchaId,
    answer: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        _answer(request, user, captcha_id, answer)
    except (InputError, ConflictError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 400
        return _captchas_view(
            request, user, "pending", None, 50, error=exc.one_line(), http_status=status
        )
    target = "/crawl/captchas?" + urlencode({"answered": captcha_id})
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


# -- API ----------------------------------------------------------------------------------


@api.get("/crawl/runs", response_model=Page[CrawlRun])
def runs_api(
    request: Request, user: ApiUser, cursor: Cursor = None, limit: Limit = 50
) -> Page[dict[str, Any]]:
    """Crawl runs, newest first (``spector crawl status`` shows the newest)."""
    return _runs(request, cursor, limit)


@api.get("/crawl/sites", response_model=Page[CrawlSite])
def sites_api(
    request: Request, user: ApiUser, run: RunQ = None, cursor: Cursor = None, limit: Limit = 100
) -> Page[dict[str, Any]]:
    """Per-site status of a crawl run (default: the newest; an empty list when the
    workspace was never crawled): the keys of ``spector crawl status --json`` and more."""
    chosen = _run_or_none(request, run)
    if chosen is None:
        return Page[dict[str, Any]](items=[], next_cursor=None)
    return _sites(request, chosen["run_id"], cursor, limit)


@api.get("/captchas", response_model=Page[Captcha])
def captchas_api(
    request: Request,
    user: ApiUser,
    status: StatusQ = "pending",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[dict[str, Any]]:
    """CAPTCHAs the crawler handed over, oldest first (default: those waiting)."""
    return _captchas(request, status, cursor, limit)


@api.get("/captchas/{captcha_id}", response_model=Captcha)
def captcha_api(request: Request, user: ApiUser, captcha_id: CaptchaId) -> dict[str, Any]:
    """One CAPTCHA."""
    from spector.collect import captcha_row

    return captcha_row(state_of(request).ws_root, captcha_id)


@api.get(
    "/captchas/{captcha_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The picture (PNG)."}},
)
def captcha_image_api(request: Request, user: ApiUser, captcha_id: CaptchaId) -> Response:
    """The CAPTCHA's picture, as the crawler fetched it from the site (PNG)."""
    from spector.collect import captcha_image

    data = captcha_image(state_of(request).ws_root, captcha_id)
    return Response(
        data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )


@api.post("/captchas/{captcha_id}/answer", response_model=Captcha)
def answer_api(
    request: Request, user: ApiUser, captcha_id: CaptchaId, body: CaptchaAnswer
) -> dict[str, Any]:
    """Answer a waiting CAPTCHA (analyst or admin): the crawl waiting on it resumes.
    409 when it was answered already."""
    return _answer(request, user, captcha_id, body.answer)


pages.include_router(_r_captures.pages)
api.include_router(_r_captures.api)
