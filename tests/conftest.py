"""Shared fixtures: the real data beside the checkout, fresh workspaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from spector.store import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (see its MANIFEST.md). Missing is a failure, not a skip."""
    if not (SHARED_DATA / "MANIFEST.md").is_file():
        pytest.fail(f"real test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def workspace(tmp_path: Path):
    with Workspace.init(tmp_path / "ws") as ws:
        yield ws
