"""Test harness for the web app: a demo workspace built once, a sync client over httpx's
ASGITransport (the app runs in-process, as datasette's tests do)."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx

from spector.web import create_app

__all__ = ["WebClient", "build_demo", "copy_demo", "demo_logins", "open_client"]

DEMO_SEED = 7


def build_demo(base: Path) -> Path:
    """The tiny demo's workspace (seed 7) under ``base``, built once for all test workers
    (a file lock lets the first worker build it while the others wait). SPECTOR_WEB_DEMO
    names a demo workspace built already (`spector demo --no-serve -w DIR`), to reuse it."""
    prebuilt = os.environ.get("SPECTOR_WEB_DEMO")
    if prebuilt:
        return Path(prebuilt)
    base.mkdir(parents=True, exist_ok=True)
    ws = base / "web-demo" / "ws"
    done = base / "web-demo" / "done"
    with open(base / "web-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(ws.parent, ignore_errors=True)
            ws.parent.mkdir(parents=True)
            spector = Path(sys.executable).with_name("spector")
            proc = subprocess.run(
                [str(spector), "demo", "--no-serve", "--seed", str(DEMO_SEED), "-w", str(ws)],
                capture_output=True,
                text=True,
                timeout=900,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            done.write_text(proc.stdout)
    return ws


def copy_demo(template: Path, where: Path) -> Path:
    """A private copy of the demo workspace (the app holds its store's write lock)."""
    shutil.copytree(template, where, symlinks=True)
    return where


def demo_logins(ws: Path) -> dict[str, str]:
    """username -> password of the demo's users (WS/cases-logins.toml)."""
    data = tomllib.loads((ws / "cases-logins.toml").read_text())
    return {str(k): str(v) for k, v in data.items()}


class WebClient:
    """httpx over ASGITransport, called synchronously (an anyio portal runs the loop).

    Keeps cookies like a browser. ``login`` signs in through the form; ``csrf`` is the
    page token after login (read from the dashboard's meta tag).
    """

    def __init__(self, app: Any, portal: Any) -> None:
        self.app = app
        self._portal = portal
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        self.csrf = ""

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            return await self._client.request(method, url, **kwargs)

        response: httpx.Response = self._portal.call(go)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def login(self, username: str, password: str) -> httpx.Response:
        """Sign in through the login form; sets ``csrf`` from the page it lands on."""
        form = self.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if token is None:
            raise AssertionError("login form without a CSRF field")
        response = self.post(
            "/login",
            data={"username": username, "password": password, "csrf": token[1], "next": "/"},
        )
        if response.status_code == 303:
            page = self.get("/login?next=/")  # any page with the layout would do
            home = self.get("/")
            found = re.search(r'name="csrf-token" content="([^"]+)"', home.text) or re.search(
                r'name="csrf-token" content="([^"]+)"', page.text
            )
            self.csrf = found[1] if found else ""
        return response

    def logout_cookies(self) -> None:
        self._client.cookies.clear()

    def close(self) -> None:
        self._portal.call(self._client.aclose)


@contextmanager
def open_client(ws: Path) -> Iterator[WebClient]:
    """The app on ``ws`` and a client to it; both closed afterwards."""
    app = create_app(ws)
    try:
        with anyio.from_thread.start_blocking_portal() as portal:
            client = WebClient(app, portal)
            try:
                yield client
            finally:
                client.close()
    finally:
        app.state.web.close()
