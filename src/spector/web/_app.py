"""``create_app``: the FastAPI app on a workspace (pages, API, static files, headers)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from spector import __version__
from spector.errors import (
    AccessDenied,
    AuthError,
    ConflictError,
    NotFound,
    UserError,
)
from spector.web._api import ErrorBody
from spector.web._auth import LoginRequired, check_csrf
from spector.web._pages import render
from spector.web._security import HeadAsGet, SecurityHeaders

__all__ = ["API_PREFIX", "AREAS", "create_app"]

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parent / "static"

# Each area module has ``pages`` and ``api`` (APIRouter); the API one is mounted under
# /api/v1. Order matters only for the OpenAPI listing.
AREAS = (
    "spector.web._login",
    "spector.web._r_dashboard",
    "spector.web._r_listings",
    "spector.web._r_actors",
    "spector.web._r_chain",
    "spector.web._r_cases",
    "spector.web._r_ops",
    "spector.web._r_crawl",
)

API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad input"},
    401: {"model": ErrorBody, "description": "No valid token"},
    403: {"model": ErrorBody, "description": "Not allowed"},
    404: {"model": ErrorBody, "description": "Absent, or not visible to the caller"},
    409: {"model": ErrorBody, "description": "Conflict (stale version, duplicate)"},
}


def _status(exc: UserError) -> int:
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    return 400


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX + "/") or request.url.path == API_PREFIX


def _error_json(status: int, kind: str, message: str, hint: str | None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": {"type": kind, "message": message, "hint": hint}}
    return JSONResponse(body, status_code=status, headers=headers)


def _error_page(request: Request, status: int, message: str, hint: str | None) -> Response:
    return render(
        request, "error.html", {"status": status, "message": message, "hint": hint}, status=status
    )


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        status = _status(exc)
        message = exc.what + (f" (expected {exc.expected})" if exc.expected else "")
        if _is_api(request):
            return _error_json(status, type(exc).__name__, message, exc.hint)
        return _error_page(request, status, message, exc.hint)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        from urllib.parse import quote

        from spector.web._login import login_page

        if exc.next_path == "/" and not request.headers.get("hx-request"):
            return login_page(request)  # the front door answers with the sign-in form
        target = "/login?next=" + quote(exc.next_path, safe="/")
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.detail else "error"
        if _is_api(request):
            return _error_json(exc.status_code, "HTTPError", message, None)
        return _error_page(request, exc.status_code, message, None)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            errors = [
                {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _error_page(request, 400, f"{where}: {first.get('msg', 'invalid')}", None)


def create_app(ws_root: Path, *, db: str | None = None) -> FastAPI:
    """The app on the workspace at ``ws_root`` and its case store (``--db`` or the
    workspace's; see ``spector.cases.resolve_url``). Opens both now: a workspace held by
    another process is the store's WorkspaceLocked error. ``app.state.web.close()`` (or
    the app's shutdown) closes them."""
    from spector.cases import open_cases
    from spector.store import Workspace
    from spector.web._state import WebState

    workspace = Workspace.open(ws_root, write=True)
    try:
        cases = open_cases(workspace.root, db)
    except BaseException:
        workspace.close()
        raise
    state = WebState(workspace.root, workspace, cases)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(
        title="Spector",
        version=__version__,
        description="Spector's JSON API: what the analyst's pages show, as JSON.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI would load from a CDN: not under this CSP
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(check_csrf)],
    )
    app.state.web = state
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_handlers(app)
    for name in AREAS:
        module = importlib.import_module(name)
        app.include_router(module.pages)
        app.include_router(module.api, prefix=API_PREFIX, responses=API_ERRORS)
    _summaries_from_docstrings(app)
    return app


def _summaries_from_docstrings(app: FastAPI) -> None:
    """Operations without a summary of their own get their docstring's first sentence
    (instead of FastAPI's title-cased function name, "Api Status")."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = make()
        for item in schema.get("paths", {}).values():
            for op in item.values():
                summary = str(op.get("summary", ""))
                auto = summary.lower().replace(" ", "_")
                text = str(op.get("description") or "").strip()
                if text and str(op.get("operationId", "")).startswith(auto):
                    first = " ".join(text.split("\n\n", 1)[0].split())
                    op["summary"] = first.split(". ", 1)[0].rstrip(".")[:120]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
