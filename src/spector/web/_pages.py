"""Server-rendered pages: one Jinja2 environment (autoescape on for every template,
undefined names are errors) and ``render``, which adds what the layout needs.

Templates live in ``spector/web/templates`` (``base.html`` is the layout; each area has
its folder). Nothing scraped is marked safe: there is no ``|safe`` filter on scraped
text anywhere (tests/web/test_no_safe.py scans the templates).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

__all__ = ["NAV", "TEMPLATES", "env", "render"]

TEMPLATES = Path(__file__).parent / "templates"

# The navigation bar: (label, path). Each area's router serves its path.
NAV: tuple[tuple[str, str], ...] = (
    ("Dashboard", "/"),
    ("Listings", "/listings"),
    ("Actors", "/actors"),
    ("Chain", "/chain"),
    ("Cases", "/cases"),
    ("Notices", "/notices"),
    ("Operations", "/operations"),
    ("Crawl", "/crawl"),
)

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _money(value: object, currency: str = "USD") -> str:
    if value is None:
        return "–"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return f"{number:,.2f} {currency}"


def _number(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _short(value: object, keep: int = 12) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def _pathseg(value: object) -> str:
    """``value`` as one URL path segment (every reserved character escaped, ``/`` too):
    links to our own routes are built as ``/listings/{{ id | pathseg }}``."""
    return quote("" if value is None else str(value), safe="")


def _when(value: object) -> str:
    """A stored time (a naive UTC ``datetime`` or an ISO string) as ``YYYY-MM-DD HH:MM``
    UTC; "–" for None; any other text as it is."""
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.removesuffix("Z")).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


env.filters["money"] = _money
env.filters["number"] = _number
env.filters["short"] = _short
env.filters["pathseg"] = _pathseg
env.filters["when"] = _when


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered with ``context`` plus ``request``, ``user`` (the principal or
    None), ``csrf`` (the form token, "" before login), ``nav`` and ``path``."""
    principal = getattr(request.state, "principal", None)
    values: dict[str, Any] = {
        "request": request,
        "user": principal,
        "csrf": getattr(request.state, "csrf", ""),
        "nav": NAV,
        "path": request.url.path,
    }
    values.update(context or {})
    html = env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
