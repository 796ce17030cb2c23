"""Workspaces for [H]-M's tests: the seed-7 tiny range (a seed and scale the shipped model
was not trained on) stored as a perfect extraction would store it, resolved once per
session; ``fresh_copy`` gives each test its own copy to write decisions into."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from spector.sim._generate import generate
from spector.store import Workspace
from tests.sim.score_store import perfect_store


def build_range(root: Path, seed: int = 7, scale: str = "tiny") -> Path:
    out = root / f"range-{seed}-{scale}"
    generate(seed, scale, out)
    return out


def build_resolved(root: Path, out: Path) -> Path:
    """A workspace in ``root/ws`` holding the range's records, resolved with the shipped
    model; returns its folder (closed)."""
    from spector.resolve._run import resolve

    truth = json.loads((out / "truth.json").read_text())
    folder = root / "ws"
    with Workspace.init(folder) as ws:
        perfect_store(out, ws, truth)
        resolve(ws)
    return folder


def fresh_copy(folder: Path, to: Path) -> Path:
    shutil.copytree(folder, to)
    return to
