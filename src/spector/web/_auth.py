"""Who is asking: session cookies for the pages, bearer tokens for the API, CSRF.

A login checks the password with the case store's argon2id ``login`` and issues an API
token of the case store (label "web session", one day); the token is the session cookie
(``spector_session``: HttpOnly, SameSite=Strict, Path=/, Secure when the request came over
TLS). Logout revokes it. The API takes ``Authorization: Bearer spk_…`` (or the session
cookie: then unsafe methods need the CSRF header too).

CSRF: every form carries ``csrf``, an HMAC of the session token under the app's key;
htmx and fetch send it as ``X-CSRF-Token`` (static/app.js reads ``<meta name=csrf-token>``).
The login form, before there is a session, uses a double-submit cookie. A request whose
``Origin`` is another site is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from spector.cases._base import Principal
from spector.errors import AccessDenied, AuthError

if TYPE_CHECKING:
    from spector.web._state import WebState

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "ApiUser",
    "LoginRequired",
    "PageUser",
    "api_principal",
    "check_csrf",
    "csrf_for",
    "page_principal",
    "session_token",
    "state_of",
]

COOKIE = "spector_session"
LOGIN_CSRF_COOKIE = "spector_login_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_DAYS = 1
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    """A page asked for without a valid session: the app answers 303 to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def state_of(request: Request) -> WebState:
    """The app's ``WebState``."""
    state: WebState = request.app.state.web
    return state


def session_token(request: Request) -> str | None:
    """The session cookie's token, if any."""
    return request.cookies.get(COOKIE) or None


def csrf_for(state: WebState, token: str) -> str:
    """The CSRF token that goes with a session token."""
    return hmac.new(state.secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def _check_token(state: WebState, token: str) -> Principal:
    from spector.cases._tokens import authenticate

    with state.session() as s:
        p = authenticate(s, token)
    state.auth.put(token, p)
    return p


async def _principal_of_token(state: WebState, token: str) -> Principal:
    """The token's principal: from the cache on the event loop (most requests), else
    checked against the case store in the thread pool."""
    cached = state.auth.get(token)
    if cached is not None:
        return cached
    return await run_in_threadpool(_check_token, state, token)


def _same_origin(request: Request) -> bool:
    # Browsers say where a request comes from in Sec-Fetch-Site; under our
    # Referrer-Policy no-referrer, Chromium sends "Origin: null" on every form post, so
    # "null" alone proves nothing either way (the CSRF token still has to match).
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


async def check_csrf(request: Request) -> None:
    """Refuse (403) an unsafe request made with the session cookie that lacks the CSRF
    token (form field ``csrf`` or header ``X-CSRF-Token``) or comes from another origin."""
    if request.method not in UNSAFE:
        return
    token = session_token(request)
    if token is None or request.headers.get("authorization"):
        return
    if not _same_origin(request):
        raise AccessDenied("cross-site request refused", hint="use the form on this site")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if sent is None or not hmac.compare_digest(sent, csrf_for(state_of(request), token)):
        raise AccessDenied("missing or wrong CSRF token", hint="reload the page and try again")


_bearer = HTTPBearer(auto_error=False, description="An API token: `spector cases token issue`.")


async def api_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal:
    """The API's caller (401 without a valid bearer token or session)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("expected 'Authorization: Bearer spk_…'")
        token = value.strip()
    else:
        cookie = session_token(request)
        if cookie is None:
            raise AuthError(
                "sign in first",
                hint="send 'Authorization: Bearer <token>' (spector cases token issue)",
            )
        token = cookie
    p = await _principal_of_token(state_of(request), token)
    request.state.principal = p
    return p


async def page_principal(request: Request) -> Principal:
    """The signed-in user of a page; without one, a redirect to the login page."""
    token = session_token(request)
    if token is None:
        raise LoginRequired(_next(request))
    try:
        p = await _principal_of_token(state_of(request), token)
    except AuthError as exc:
        raise LoginRequired(_next(request)) from exc
    request.state.principal = p
    request.state.csrf = csrf_for(state_of(request), token)
    return p


def _next(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(value: str | None) -> str:
    """Where to go after login: a path of this site only (not ``//host`` or a URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


ApiUser = Annotated[Principal, Depends(api_principal)]
PageUser = Annotated[Principal, Depends(page_principal)]
