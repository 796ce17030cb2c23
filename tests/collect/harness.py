"""Crawl-test helpers: a stand-in human, onion test sites behind our SOCKS proxy."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from spector.model import onion_address_from_key
from spector.sim._range import settle
from spector.sim._socks import SocksProxy


class Human:
    """Solves CAPTCHAs by looking the picture up in the range's truth (a person reading it)."""

    def __init__(self, root: Path, answers: dict[str, str]) -> None:
        from spector.collect import state_for

        self.root, self.answers, self.solved = root, answers, 0
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.state_for = state_for
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # surfaced by __exit__
            self.error = exc
            raise

    def _run(self) -> None:
        state = self.state_for(self.root)
        try:
            while not self.stop.is_set():
                for c in state.pending_captchas():
                    digest = hashlib.sha256(Path(c["image_path"]).read_bytes()).hexdigest()
                    if state.solve_captcha(c["id"], self.answers[digest]):
                        self.solved += 1
                self.stop.wait(0.05)
        finally:
            state.close()

    def __enter__(self) -> Human:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        if self.error is not None:
            raise self.error


def onion(label: str) -> str:
    return onion_address_from_key(hashlib.sha256(label.encode()).digest())


class OnionSites:
    """aiohttp apps served under onion names behind our SOCKS proxy, on a thread."""

    def __init__(self, apps: dict) -> None:  # host -> async handler(request)
        self.apps = apps
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.proxy: SocksProxy | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        root = web.Application()

        async def dispatch(request: web.Request) -> web.StreamResponse:
            host = (request.host or "").split(":")[0]
            handler = self.apps.get(host)
            if handler is None:
                return web.Response(status=421)
            return await handler(request)

        root.router.add_route("*", "/{tail:.*}", dispatch)
        self.runner = web.AppRunner(root, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        http_port = site._server.sockets[0].getsockname()[1]
        self.proxy = SocksProxy(set(self.apps), ("127.0.0.1", http_port))
        self.server = await asyncio.start_server(self.proxy.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def __enter__(self) -> OnionSites:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        stop_served(self, timeout=10)

    @property
    def proxy_url(self) -> str:
        return f"socks5h://127.0.0.1:{self.port}"


def site_app(handler):
    """A site is just its request handler (the harness dispatches on the Host header)."""
    return handler


def stop_served(sites: Any, *, timeout: float) -> None:
    """Stop what ``sites`` serves on its own loop thread (its SOCKS proxy, if any, then its
    web server), end every connection task, and close the loop."""

    async def stop() -> None:
        sites.server.close()
        if sites.proxy is not None:
            await sites.proxy.close_all()
        await sites.server.wait_closed()
        await sites.runner.cleanup()
        await settle()

    asyncio.run_coroutine_threadsafe(stop(), sites.loop).result(timeout)
    sites.loop.call_soon_threadsafe(sites.loop.stop)
    sites.thread.join(5)
    sites.loop.close()
