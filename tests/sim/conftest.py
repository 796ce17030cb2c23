"""A tiny range generated once per test session (generation is deterministic)."""

from __future__ import annotations

import pytest

from spector.sim._generate import generate


@pytest.fixture(scope="session")
def tiny_range(tmp_path_factory):
    out = tmp_path_factory.mktemp("range") / "tiny"
    truth = generate(7, "tiny", out)
    return out, truth
