"""A tile-grid map of the world's countries: one square per country, placed roughly
where it lies (the Economist / PolicyViz "tile grid" style).

Europe is the main block (columns 0-9); the Americas sit off to its left (negative
columns), Africa below it, Asia and Oceania off to its right. :func:`layout` returns
the tiles to draw for a report: the whole European block (for context), every other
country only when the report names it, and a fallback row under the map for codes the
table does not place. Coordinates are ``(column, row)`` with row 0 at the top.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["EUROPE", "TILES", "Tile", "layout", "short_name"]

#: Europe's block: code -> (column, row).
EUROPE: dict[str, tuple[int, int]] = {
    "IS": (0, 0), "NO": (5, 0), "SE": (6, 0), "FI": (7, 0),
    "IE": (1, 1), "GB": (2, 1), "DK": (4, 1), "EE": (7, 1),
    "NL": (3, 2), "DE": (4, 2), "PL": (5, 2), "LT": (6, 2), "LV": (7, 2), "RU": (8, 2),
    "BE": (2, 3), "LU": (3, 3), "CZ": (4, 3), "SK": (5, 3), "BY": (6, 3),
    "FR": (2, 4), "CH": (3, 4), "AT": (4, 4), "HU": (5, 4), "UA": (6, 4), "MD": (7, 4),
    "PT": (0, 5), "ES": (1, 5), "MC": (2, 5), "IT": (3, 5), "SI": (4, 5), "HR": (5, 5),
    "RO": (6, 5), "GE": (8, 5),
    "AD": (1, 6), "SM": (2, 6), "LI": (3, 6), "BA": (5, 6), "RS": (6, 6), "BG": (7, 6),
    "AM": (8, 6),
    "MT": (3, 7), "ME": (5, 7), "MK": (6, 7), "TR": (8, 7), "AZ": (9, 6),
    "AL": (6, 8), "GR": (7, 8), "CY": (9, 8),
}  # fmt: skip

#: Everywhere else, placed around the European block: code -> (column, row).
OTHERS: dict[str, tuple[int, int]] = {
    # the Americas, off to the left
    "CA": (-4, 0), "US": (-4, 1), "MX": (-4, 2), "CU": (-3, 2), "DO": (-2, 2),
    "GT": (-4, 3), "HN": (-3, 3), "CR": (-3, 4), "PA": (-2, 4), "CO": (-3, 5), "VE": (-2, 5),
    "EC": (-4, 5), "PE": (-4, 6), "BR": (-3, 6), "BO": (-4, 7), "PY": (-3, 7), "UY": (-2, 7),
    "CL": (-4, 8), "AR": (-3, 8),
    # Africa, below
    "MA": (1, 9), "DZ": (2, 9), "TN": (3, 9), "LY": (4, 9), "EG": (6, 9),
    "SN": (0, 10), "ML": (1, 10), "NE": (2, 10), "TD": (3, 10), "SD": (5, 10), "ET": (6, 10),
    "GH": (1, 11), "NG": (2, 11), "CM": (3, 11), "KE": (6, 11), "CD": (4, 11), "TZ": (5, 11),
    "AO": (3, 12), "ZA": (4, 13), "MZ": (5, 12),
    # the Middle East, Asia and Oceania, off to the right
    "LB": (9, 9), "IL": (8, 9), "SY": (10, 8), "JO": (9, 10), "IQ": (10, 9), "IR": (11, 8),
    "SA": (10, 10), "AE": (11, 10), "QA": (11, 11),
    "KZ": (10, 4), "UZ": (10, 5), "AF": (11, 6), "PK": (11, 7), "IN": (12, 8),
    "CN": (12, 5), "MN": (12, 4), "KR": (14, 5), "KP": (14, 4), "JP": (15, 5), "TW": (14, 7),
    "HK": (13, 7), "VN": (13, 8), "TH": (12, 9), "MY": (12, 10), "SG": (12, 11),
    "PH": (14, 8), "ID": (13, 11), "AU": (14, 12), "NZ": (15, 13),
}  # fmt: skip

TILES: dict[str, tuple[int, int]] = {**EUROPE, **OTHERS}

_SHORT = {
    "US": "United States", "GB": "United Kingdom", "RU": "Russia", "KR": "South Korea",
    "KP": "North Korea", "IR": "Iran", "MD": "Moldova", "BO": "Bolivia", "VE": "Venezuela",
    "TZ": "Tanzania", "SY": "Syria", "TW": "Taiwan", "VN": "Vietnam", "CZ": "Czechia",
    "CD": "DR Congo", "TR": "Turkey", "EU": "European Union",
    "INT": "International",
}  # fmt: skip


def short_name(code: str) -> str:
    """A short English name for a country code ("United States", not "United States of
    America"); the taxonomy's name otherwise; the code itself if it is unknown."""
    if code in _SHORT:
        return _SHORT[code]
    from spector.model import resolve_country

    found = resolve_country(code) if len(code) in (2, 3) else None
    return found.name.split(",")[0] if found is not None else code


@dataclass(frozen=True, slots=True)
class Tile:
    """One square of the map: ``x`` grows to the right, ``y`` downwards."""

    code: str
    x: int
    y: int
    placed: bool  # False: the fallback row (the table does not place this code)


def _squash(values: Iterable[int], low: int, high: int) -> dict[int, int]:
    """Close the empty columns (or rows) outside Europe's ``low..high``: the used ones
    keep their order, one blank line away from the European block."""
    used = sorted(set(values))
    below = [v for v in used if v < low]
    above = [v for v in used if v > high]
    moved = {v: low - 2 - i for i, v in enumerate(reversed(below))}
    moved |= {v: high + 2 + i for i, v in enumerate(above)}
    return moved


def layout(codes: Iterable[str]) -> list[Tile]:
    """The tiles for a map naming ``codes``: all of Europe, the other countries named
    (the empty rows and columns between them and Europe closed up), then the unplaced
    codes in a row under the map (sorted, left to right)."""
    wanted = sorted(set(codes))
    tiles = [Tile(code, x, y, True) for code, (x, y) in EUROPE.items()]
    others = [(code, *OTHERS[code]) for code in wanted if code in OTHERS]
    xs = [x for x, _ in EUROPE.values()]
    ys = [y for _, y in EUROPE.values()]
    cols = _squash((x for _, x, _ in others), min(xs), max(xs))
    rows = _squash((y for _, _, y in others), min(ys), max(ys))
    tiles += [Tile(code, cols.get(x, x), rows.get(y, y), True) for code, x, y in others]
    missing = [code for code in wanted if code not in TILES]
    if missing:
        left = min(t.x for t in tiles)
        bottom = max(t.y for t in tiles) + 2
        tiles += [Tile(code, left + i, bottom, False) for i, code in enumerate(missing)]
    return tiles
