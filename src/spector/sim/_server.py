"""Serving the range: every market as an onion site on loopback, behind a SOCKS5 proxy.

One aiohttp server answers for every onion host (virtual hosting on the Host header);
the SOCKS5 proxy (``_socks``) resolves .onion names to it. What a crawler meets: login
with an image CAPTCHA, sessions that expire, rate limits (429 + Retry-After), occasional
5xx, configurable latency, mirrors, an infinite calendar (a crawl trap), media links,
and days that change (``day`` or POST ``/_admin/day?d=N`` on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from email.utils import format_datetime
from html import escape

from aiohttp import web

from spector.sim._captcha import Captcha
from spector.sim._sites import Page, Site
from spector.sim._sites._base import site_now
from spector.sim._world import SimMarket

__all__ = ["RangeApp", "ServeOptions"]

log = logging.getLogger("spector.sim.serve")


@dataclass
class ServeOptions:
    day: int
    latency: float = 0.0  # seconds added to every response
    slow_share: float = 0.0  # share of responses delayed by slow_latency
    slow_latency: float = 2.0
    error_share: float = 0.0  # share of responses that are a 503
    session_requests: int = 0  # a session expires after this many requests (0: never)
    rate_per_second: float = 0.0  # per-session request rate before 429 (0: no limit)
    burst: int = 20


@dataclass
class _Session:
    market_id: str
    requests: int = 0
    tokens: float = 0.0
    stamp: float = 0.0


@dataclass
class _MarketState:
    market: SimMarket
    site: Site
    deck: list[Captcha]
    shown: int = 0
    pending: dict[str, int] = field(default_factory=dict)  # captcha id -> card in the deck


class RangeApp:
    """The HTTP side of the range. ``app`` is the aiohttp application."""

    def __init__(
        self,
        markets: list[SimMarket],
        sites: dict[str, Site],
        decks: dict[str, list[Captcha]],
        options: ServeOptions,
    ) -> None:
        self.options = options
        self.hosts: dict[str, _MarketState] = {}
        for m in markets:
            state = _MarketState(m, sites[m.market_id], decks[m.market_id])
            for onion in m.onions:
                self.hosts[onion] = state
        self.sessions: dict[str, _Session] = {}
        self.stats: Counter[str] = Counter()
        self.counter = 0
        self.app = web.Application(client_max_size=64 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    # -- dispatch -----------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = (request.host or "").split(":", 1)[0].lower()
        if host in ("127.0.0.1", "localhost") and request.path.startswith("/_admin"):
            return self.admin(request)
        state = self.hosts.get(host)
        if state is None:
            self.stats["unknown_host"] += 1
            log.warning("request for unknown host %r", host)
            return web.Response(status=421, text="unknown host")
        self.counter += 1
        self.stats["requests"] += 1
        self.stats[f"host:{host}"] += 1
        await self._delay()
        if self._roll("error") < self.options.error_share:
            self.stats["injected_5xx"] += 1
            return web.Response(
                status=503, text="temporarily unavailable", headers={"Retry-After": "1"}
            )
        return await self.serve_market(state, request)

    async def serve_market(self, state: _MarketState, request: web.Request) -> web.StreamResponse:
        response = await self._serve_market(state, request)
        # The sites' clock is the simulated day's: "5 days ago" is relative to this Date.
        response.headers["Date"] = format_datetime(site_now(self.options.day), usegmt=True)
        return response

    async def _serve_market(self, state: _MarketState, request: web.Request) -> web.StreamResponse:
        m, day, path = state.market, self.options.day, request.path
        if day < m.open_day:  # not open yet: the onion does not answer
            return web.Response(status=503, text="")
        if m.close_day is not None and day >= m.close_day:
            if m.fate == "exit_scam":
                return web.Response(status=503, text="")
            return _html(Page(200, _seized_banner(m)))
        if path.startswith("/media/"):
            self.stats["media"] += 1
            log.warning("media fetched: %s%s", m.onions[0], path)
            return web.Response(
                body=b"\xff\xd8\xff\xe0 not a real picture", content_type="image/jpeg"
            )
        if path.startswith("/captcha/"):
            return self.captcha_image(state, path)
        if path == "/login":
            if request.method == "POST":
                return await self.login(state, request)
            return self.login_page(state, request.query.get("next", "/"), "")
        session = self._session(request, m.market_id)
        if session is None:
            return _redirect(f"/login?next={path}")
        if path == "/logout":
            self.sessions.pop(request.cookies.get("sid", ""), None)
            return _redirect("/login")
        if self.options.session_requests and session.requests >= self.options.session_requests:
            self.sessions.pop(request.cookies.get("sid", ""), None)
            self.stats["expired"] += 1
            return _redirect(f"/login?next={path}&expired=1")
        if not self._allow(session):
            self.stats["429"] += 1
            return web.Response(status=429, text="slow down", headers={"Retry-After": "1"})
        session.requests += 1
        if path == "/calendar":
            return _html(_calendar(state, request.query.get("month", "2023-01"), day))
        return _html(state.site.render(path, dict(request.query), day))

    # -- login and CAPTCHA ----------------------------------------------------------------
    def login_page(self, state: _MarketState, nxt: str, error: str) -> web.Response:
        card = state.shown % len(state.deck)
        state.shown += 1
        cid = secrets.token_hex(8)
        state.pending[cid] = card
        name = escape(state.market.name)
        html = (
            f"<!DOCTYPE html><html><head><title>Login | {name}</title></head><body>"
            f"<h1>{escape(state.market.name)}</h1>"
            + (f'<p class="error">{escape(error)}</p>' if error else "")
            + '<form method="post" action="/login">'
            f'<input type="hidden" name="next" value="{escape(nxt)}">'
            f'<input type="hidden" name="cid" value="{cid}">'
            '<label>Username <input name="username"></label>'
            '<label>Password <input type="password" name="password"></label>'
            f'<img id="captcha" src="/captcha/{cid}.png" alt="captcha">'
            '<label>Captcha <input name="captcha"></label>'
            '<button type="submit">Login</button></form></body></html>'
        )
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    def captcha_image(self, state: _MarketState, path: str) -> web.Response:
        card = state.pending.get(path.removeprefix("/captcha/").removesuffix(".png"))
        if card is None:
            return web.Response(status=404, text="no such captcha")
        return web.Response(body=state.deck[card].png, content_type="image/png")

    async def login(self, state: _MarketState, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        nxt = str(form.get("next", "/")) or "/"
        card = state.pending.pop(str(form.get("cid", "")), None)  # each CAPTCHA answers once
        m = state.market
        answer = None if card is None else state.deck[card].answer
        if answer is None or str(form.get("captcha", "")).strip().upper() != answer:
            self.stats["captcha_wrong"] += 1
            return self.login_page(state, nxt, "Wrong captcha, try again")
        if form.get("username") != m.username or form.get("password") != m.password:
            self.stats["login_wrong"] += 1
            return self.login_page(state, nxt, "Wrong username or password")
        token = secrets.token_hex(16)
        self.sessions[token] = _Session(m.market_id, tokens=float(self.options.burst))
        self.stats["logins"] += 1
        response = _redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
        response.set_cookie("sid", token, httponly=True, path="/")
        return response

    def _session(self, request: web.Request, market_id: str) -> _Session | None:
        session = self.sessions.get(request.cookies.get("sid", ""))
        return session if session is not None and session.market_id == market_id else None

    def _allow(self, session: _Session) -> bool:
        rate = self.options.rate_per_second
        if rate <= 0:
            return True
        now = asyncio.get_running_loop().time()
        if session.stamp:
            session.tokens = min(self.options.burst, session.tokens + (now - session.stamp) * rate)
        session.stamp = now
        if session.tokens < 1:
            return False
        session.tokens -= 1
        return True

    # -- chaos ----------------------------------------------------------------------------
    def _roll(self, what: str) -> float:
        digest = hashlib.sha256(f"{what}|{self.counter}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    async def _delay(self) -> None:
        delay = self.options.latency
        if self.options.slow_share and self._roll("slow") < self.options.slow_share:
            delay += self.options.slow_latency
        if delay > 0:
            await asyncio.sleep(delay)

    # -- admin ----------------------------------------------------------------------------
    def admin(self, request: web.Request) -> web.Response:
        if request.path == "/_admin/day" and request.method == "POST":
            raw = request.query.get("d", "")
            if not raw.isdigit():
                return web.json_response({"error": "d must be a day number"}, status=400)
            self.options.day = int(raw)
            log.info("range day set to %s", raw)
        return web.json_response({"day": self.options.day, "stats": dict(self.stats)})


def _html(page: Page) -> web.Response:
    return web.Response(
        status=page.status,
        text=page.body,
        content_type="text/html",
        charset="utf-8",
        headers=page.headers,
    )


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _seized_banner(m: SimMarket) -> str:
    return (
        "<!DOCTYPE html><html><head><title>Seized</title></head><body>"
        f'<h1 class="seized">This hidden site has been seized</h1><p>{escape(m.name)} was seized '
        "by law enforcement as part of a coordinated action (training range).</p></body></html>"
    )


def _calendar(state: _MarketState, month: str, day: int) -> Page:
    """An endless calendar: every month links to the one before and after (a crawl trap)."""
    try:
        year, mon = (int(x) for x in month.split("-", 1))
        date(year, mon, 1)
    except ValueError:
        year, mon = 2023, 1
    prev = f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"
    nxt = f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"
    body = (
        f"<!DOCTYPE html><html><head><title>Calendar {year}-{mon:02d}</title></head><body>"
        f"<h1>Events {year}-{mon:02d}</h1><p>No events.</p>"
        f'<a href="/calendar?month={prev}">previous month</a> '
        f'<a href="/calendar?month={nxt}">next month</a></body></html>'
    )
    return Page(200, body)
