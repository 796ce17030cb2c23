"""The headers every response carries, and the stricter ones of a captured-page preview.

CSP: scripts, styles, images, fonts and fetches from this origin only; no inline script
or style (no ``'unsafe-inline'``, no ``'unsafe-eval'``: htmx runs with ``allowEval``
off and Vega with its expression interpreter); no plugins; frames only of this origin
(the sandboxed preview); the app itself is never framed (``frame-ancestors 'none'``).
Violations are reported to ``/csp-report``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["CSP", "PREVIEW_CSP", "HeadAsGet", "SecurityHeaders", "security_headers"]

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "worker-src 'self' blob:",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "report-uri /csp-report",
    ]
)

# A captured page shown inside <iframe sandbox>: no script, no fetch, no image (media from
# captures is never shown), no form, its own styles only as the page wrote them.
PREVIEW_CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "sandbox",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ]
)

_BASE = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
]


def security_headers(existing: list[tuple[bytes, bytes]], path: str) -> list[tuple[bytes, bytes]]:
    """``existing`` with the security headers added (a response that set its own CSP,
    the preview, keeps it and may be framed by this origin only)."""
    names = {k.lower() for k, _ in existing}
    out = list(existing)
    for name, value in _BASE:
        if name not in names:
            out.append((name, value))
    if b"content-security-policy" not in names:
        out.append((b"content-security-policy", CSP.encode()))
        out.append((b"x-frame-options", b"DENY"))
    elif b"x-frame-options" not in names:
        out.append((b"x-frame-options", b"SAMEORIGIN"))
    if b"cache-control" not in names and not path.startswith("/static/"):
        out.append((b"cache-control", b"no-store"))
    return out


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """Pure ASGI middleware (no request body buffering) adding ``security_headers``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = security_headers(list(message.get("headers", [])), path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGet:
    """Answer ``HEAD`` as ``GET`` without the body (FastAPI's routes are GET only), so
    ``curl -I`` and monitors see the page's status and headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
