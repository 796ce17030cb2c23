"""Login, logout, who am I, and the CSP violation reports."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from spector.errors import AuthError
from spector.web._auth import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_DAYS,
    ApiUser,
    check_csrf,
    new_login_csrf,
    safe_next,
    session_token,
    state_of,
)
from spector.web._pages import render

__all__ = ["api", "login_page", "pages"]

log = logging.getLogger("spector.web")
pages = APIRouter()
api = APIRouter(tags=["session"])


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "?"


def _login_page(request: Request, *, error: str | None, next_path: str, status: int) -> Response:
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        {"error": error, "next": next_path, "login_csrf": token},
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


def login_page(request: Request, next_path: str = "/") -> Response:
    """The sign-in form (200), as ``GET /login`` answers it."""
    return _login_page(request, error=None, next_path=safe_next(next_path), status=200)


@pages.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, error=None, next_path=safe_next(next), status=200)


@pages.post("/login", include_in_schema=False)
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    from spector.cases._tokens import issue_token
    from spector.cases._who import login, record_failed_login

    state = state_of(request)
    target = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or cookie != csrf:
        return _login_page(
            request, error="The form expired; please sign in again.", next_path=target, status=403
        )
    ip = _client_ip(request)
    wait = state.limiter.blocked(username, ip)
    if wait > 0:
        response = _login_page(
            request,
            error=f"Too many refused logins; try again in {int(wait) + 1} s.",
            next_path=target,
            status=429,
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    try:
        with state.session() as s:
            p = login(s, username, password)
            token = issue_token(s, p, days=SESSION_DAYS, label="web session")
    except AuthError:
        state.limiter.failed(username, ip)
        with state.session() as s:
            record_failed_login(s, username)
        return _login_page(
            request, error="Wrong username or password.", next_path=target, status=401
        )
    state.limiter.succeeded(username)
    state.auth.put(token, p)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@pages.post("/logout", include_in_schema=False, dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    from spector.cases._tokens import authenticate, revoke_token

    state = state_of(request)
    token = session_token(request)
    if token is not None:
        state.auth.evict(token)
        try:
            with state.session() as s:
                p = authenticate(s, token)
                revoke_token(s, p, token)
        except AuthError:
            pass  # expired or revoked already: nothing to end
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@pages.post("/csp-report", include_in_schema=False)
async def csp_report(request: Request) -> Response:
    """Browsers post CSP violations here (report-uri); kept in memory and logged."""
    body = await request.body()
    if len(body) <= 16_384:
        import json

        try:
            report: Any = json.loads(body or b"{}")
        except ValueError:
            report = {"unparsed": body[:200].decode("utf-8", "replace")}
        state_of(request).csp_reports.append(report if isinstance(report, dict) else {"r": report})
        log.warning("CSP violation: %s", str(report)[:500])
    return Response(status_code=204)


class Me(BaseModel):
    """The caller."""

    user_id: int
    username: str
    agency_id: int
    agency: str
    roles: list[str]
    operations: list[int]


@api.get("/me", response_model=Me, summary="Who the token belongs to")
def me(request: Request, p: ApiUser) -> Me:
    from spector.cases._who_models import Agency

    with state_of(request).session(readonly=True) as s:
        agency = s.get(Agency, p.agency_id)
        name = agency.name if agency is not None else "?"
    return Me(
        user_id=p.user_id,
        username=p.username,
        agency_id=p.agency_id,
        agency=name,
        roles=sorted(p.roles),
        operations=sorted(p.operations),
    )


@pages.get("/healthz", include_in_schema=False)
def healthz() -> JSONResponse:
    return JSONResponse({"ok": True})
