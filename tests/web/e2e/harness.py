"""End-to-end harness: the app under a real uvicorn server on a loopback port, Debian's
Chromium driven by Playwright (no browser download: ``executable_path``), and a watch on
everything a page must not do.

``Watch`` collects, per page: dialogs (alert/confirm/prompt: an XSS payload that ran),
console errors, uncaught page errors, CSP violations (a ``securitypolicyviolation``
listener installed before any page script runs), requests to any origin but the server's,
and failed responses of our own static files. ``Watch.assert_clean()`` fails with all of it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]
ARTEFACTS = Path(__file__).parent / "artefacts"

__all__ = [
    "ARTEFACTS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "LiveServer",
    "Watch",
    "browser_missing",
    "login",
    "shot",
    "wait_until",
]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is absent (Debian: apt-get install chromium)"
    if shutil.which("chromium") is None and not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not executable"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    return None


class LiveServer:
    """``app`` served by uvicorn in a thread on a free loopback port until ``stop``."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",  # the fixture closes the app's state itself
            ws="none",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="e2e-uvicorn", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # surfaced by start/stop
            self.error = exc

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()
        if self.error is not None:
            raise self.error


@dataclass
class Watch:
    """What a page did that it must not (see the module docstring)."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_static: list[str] = field(default_factory=list)

    CSP_LISTENER = """
    (() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations.push([e.violatedDirective, e.blockedURI, e.sourceFile || '',
                                     String(e.sample || '')].join(' | '));
      }, true);
    })();
    """

    def attach(self, page: Any) -> Watch:
        page.add_init_script(self.CSP_LISTENER)

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_console(msg: Any) -> None:
            where = str((msg.location or {}).get("url", ""))
            if msg.type == "error" and not where.endswith("/favicon.ico"):
                self.console_errors.append(f"{msg.text} ({where})" if where else msg.text)

        def on_request(request: Any) -> None:
            url = request.url
            if not (url.startswith(self.origin + "/") or url == self.origin) and not url.startswith(
                ("data:", "blob:", "about:")
            ):
                self.foreign_requests.append(url)

        def on_response(response: Any) -> None:
            if "/static/" in response.url and response.status >= 400:
                self.failed_static.append(f"{response.status} {response.url}")

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("request", on_request)
        page.on("response", on_response)
        return self

    def csp_violations(self, page: Any) -> list[str]:
        found: list[str] = []
        for frame in page.frames:
            try:
                found.extend(frame.evaluate("() => window.__cspViolations || []"))
            except Exception:  # noqa: S112 - a sandboxed or detached frame runs no JS
                continue
        return found

    def problems(self, page: Any) -> dict[str, list[str]]:
        found = {
            "dialogs": self.dialogs,
            "console errors": self.console_errors,
            "page errors": self.page_errors,
            "CSP violations": self.csp_violations(page),
            "requests to other origins": self.foreign_requests,
            "failed static files": self.failed_static,
        }
        return {k: v for k, v in found.items() if v}

    def assert_clean(self, page: Any) -> None:
        problems = self.problems(page)
        if problems:
            raise AssertionError(f"the page at {page.url} did what it must not: {problems}")


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot kept in tests/web/e2e/artefacts/ (look at it)."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name) + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, base_url: str, username: str, password: str, next_path: str = "/") -> None:
    """Sign in through the login form, as a person would; lands on ``next_path``."""
    from urllib.parse import quote

    page.goto(f"{base_url}/login?next={quote(next_path, safe='/')}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    if "/login" in page.url:
        error = page.locator(".error").all_text_contents()
        raise AssertionError(f"login as {username} failed: {error}")


def wait_until(check: Callable[[], Any], *, timeout: float = 30.0, every: float = 0.2) -> Any:
    """``check()`` polled until it is truthy (returned) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(every)
