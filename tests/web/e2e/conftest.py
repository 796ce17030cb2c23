"""Fixtures of the browser tests: Chromium (Debian's, through Playwright), a live server
over a copy of the demo workspace, a fresh browser context per test with a ``Watch``.

Without /usr/bin/chromium (or the playwright package) the tests skip, saying why, unless
SPECTOR_E2E_REQUIRED is set (CI sets it): then they fail."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.web.e2e.harness import CHROMIUM, CHROMIUM_ARGS, LiveServer, Watch, browser_missing
from tests.web.harness import copy_demo


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's binary) for the whole run."""
    reason = browser_missing()
    if reason is not None:
        if os.environ.get("SPECTOR_E2E_REQUIRED"):
            pytest.fail(f"SPECTOR_E2E_REQUIRED is set but {reason}")
        pytest.skip(f"browser tests need Chromium: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serving(ws: Path, prepare: Callable[[Any], None] | None = None) -> Iterator[LiveServer]:
    """The app on ``ws`` under uvicorn on loopback; ``prepare(app)`` runs before it starts."""
    from spector.web import create_app

    app = create_app(ws)
    try:
        if prepare is not None:
            prepare(app)
        server = LiveServer(app).start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        app.state.web.close()


@pytest.fixture(scope="module")
def live(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server over this module's own copy of the demo workspace."""
    ws = copy_demo(demo_template, tmp_path_factory.mktemp("e2e") / "ws")
    with serving(ws) as server:
        yield server


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test."""
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=True)
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture
def watch(page: Any, request: pytest.FixtureRequest) -> Watch:
    """Everything the page must not do, collected from its first script on."""
    origin = ""
    for name in ("live", "xss_live", "crawl_live", "widgets_live"):
        if name in request.fixturenames:
            origin = request.getfixturevalue(name).url
            break
    return Watch(origin=origin).attach(page)
