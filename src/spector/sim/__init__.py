"""The training range: a seeded synthetic darknet ecosystem served as onion sites, with truth."""

from spector.sim._generate import generate
from spector.sim._range import RangeServer, load_range, read_truth
from spector.sim._score import score
from spector.sim._server import ServeOptions
from spector.sim._world import EPOCH, FAMILIES, SCALES, World, generate_world

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
