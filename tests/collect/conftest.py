"""Fixtures for crawling: a generated tiny range, served; a fresh workspace."""

from __future__ import annotations

import pytest

from spector.sim import RangeServer, generate
from spector.store import Workspace


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("crange") / "tiny"
    truth = generate(7, "tiny", out)
    return out, truth


@pytest.fixture
def served(tiny):
    out, truth = tiny
    with RangeServer(out) as server:
        yield server, out, truth


@pytest.fixture
def ws_root(tmp_path):
    Workspace.init(tmp_path / "ws").close()
    return tmp_path / "ws"
