"""The training range: a seeded synthetic darknet ecosystem served as onion sites, with truth."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.sim._generate import generate
    from spector.sim._range import RangeServer, load_range, read_truth
    from spector.sim._score import score
    from spector.sim._server import ServeOptions
    from spector.sim._world import EPOCH, FAMILIES, SCALES, World, generate_world
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "EPOCH",
    "FAMILIES",
    "SCALES",
    "RangeServer",
    "ServeOptions",
    "World",
    "generate",
    "generate_world",
    "load_range",
    "read_truth",
    "score",
]
