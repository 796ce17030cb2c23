"""Fixtures of the web tests: the demo workspace (built once per run), clients on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.harness import WebClient, build_demo, copy_demo, demo_logins, open_client


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo's workspace, shared by every worker: never open it, copy it."""
    return build_demo(tmp_path_factory.getbasetemp().parent)


@pytest.fixture(scope="session")
def logins(demo_template: Path) -> dict[str, str]:
    """The demo users' passwords (admin, bka_analyst, politie_analyst, fbi_analyst)."""
    return demo_logins(demo_template)


@pytest.fixture(scope="module")
def module_ws(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo workspace for one test module (tests that only read)."""
    return copy_demo(demo_template, tmp_path_factory.mktemp("web") / "ws")


@pytest.fixture(scope="module")
def web(module_ws: Path) -> Iterator[WebClient]:
    """A client (not signed in) on the module's app; tests that only read share it."""
    with open_client(module_ws) as client:
        yield client


@pytest.fixture
def web_rw(demo_template: Path, tmp_path: Path) -> Iterator[WebClient]:
    """A client on an app over a fresh copy of the demo workspace (tests that write)."""
    with open_client(copy_demo(demo_template, tmp_path / "ws")) as client:
        yield client


@pytest.fixture
def analyst(web: WebClient, logins: dict[str, str]) -> WebClient:
    """``web`` signed in as bka_analyst."""
    web.logout_cookies()
    response = web.login("bka_analyst", logins["bka_analyst"])
    assert response.status_code == 303, response.text
    return web
