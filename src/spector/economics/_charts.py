"""The estimate's charts, as PNG and SVG (matplotlib, Agg; no GUI, no pyplot state).

Charts: ``revenue_by_category`` (stacked weekly revenue, the largest categories and the
rest), ``top_vendors`` (bars with the revenue interval), ``ships_from`` (revenue by
country), ``market_lifecycle`` (weekly revenue per market, with how it ended).

Deterministic: the same estimate gives byte-identical files (DejaVu Sans, bundled with
matplotlib; a fixed SVG hash salt; no creation date or software version in the metadata).
Scraped strings (handles, market names, categories) are drawn as plain text: mathtext is
off (a handle "$x^2$" is not a formula), control characters are dropped, and labels are
cut to ``LABEL_MAX`` characters.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib as mpl
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spector.economics._aggregate import Estimate

__all__ = ["CHARTS", "LABEL_MAX", "label", "write_charts"]

LABEL_MAX = 40
TOP_CATEGORIES = 7
TOP_VENDORS = 15
TOP_COUNTRIES = 20
CHARTS = ("revenue_by_category", "top_vendors", "ships_from", "market_lifecycle")
_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "svg.hashsalt": "spector",
    "svg.fonttype": "path",  # glyphs as paths: the same picture without the fonts
    "text.parse_math": False,
    "text.usetex": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": cycler(
        color=[
            "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
            "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
        ]
    ),
}  # fmt: skip
_ENDS = {"takedown": ("X", "#c0392b"), "exit scam": ("v", "#8e44ad")}


def label(value: object, default: str = "unknown") -> str:
    """A scraped value as a chart label: printable, one line, at most ``LABEL_MAX``."""
    text = "" if value is None else str(value)
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    text = " ".join(text.split()) or default
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _usd(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"${value / size:,.1f}{unit}"
    return f"${value:,.0f}"


def _figure(width: float = 9.0, height: float = 5.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _empty(fig: Figure, title: str) -> Figure:
    ax = fig.subplots()
    ax.set_title(title)
    ax.text(0.5, 0.5, "no sales in the workspace", ha="center", va="center")
    ax.set_axis_off()
    return fig


def revenue_by_category(est: Estimate) -> Figure:
    fig = _figure()
    title = "Estimated revenue by category, per week (USD)"
    if not est.by_category_week:
        return _empty(fig, title)
    top = [r["category"] for r in est.by_category[:TOP_CATEGORIES]]
    weeks = sorted({str(r["week_start"]) for r in est.by_category_week})
    series: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(weeks))
    index = {w: i for i, w in enumerate(weeks)}
    for r in est.by_category_week:
        name = label(r["category"]) if r["category"] in top else "other categories"
        series[name][index[str(r["week_start"])]] += float(r["revenue_usd"])  # type: ignore[arg-type]
    order = [label(c) for c in top if label(c) in series]
    order += [n for n in series if n not in order]
    ax = fig.subplots()
    xs = [date.fromisoformat(w) for w in weeks]
    bottom = [0.0] * len(weeks)
    for name in order:
        ax.bar(xs, series[name], width=6, bottom=bottom, label=name, align="edge")  # type: ignore[arg-type]
        bottom = [b + v for b, v in zip(bottom, series[name], strict=True)]
    ax.set_title(title)
    ax.set_ylabel("revenue (USD)")
    ax.yaxis.set_major_formatter(lambda v, _pos: _usd(v))
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    fig.autofmt_xdate()
    return fig


def top_vendors(est: Estimate) -> Figure:
    rows = est.by_vendor[:TOP_VENDORS][::-1]
    fig = _figure(9.0, max(3.0, 0.4 * len(rows) + 1.5))
    title = f"Top {len(rows)} vendors by estimated revenue (USD)"
    if not rows:
        return _empty(fig, title)
    ax = fig.subplots()
    names = [f"{label(r['handle'], 'unknown vendor')} · {label(r['market'], '?')}" for r in rows]
    values = [float(r["revenue_usd"]) for r in rows]  # type: ignore[arg-type]
    low = [max(0.0, v - float(r["revenue_low"])) for v, r in zip(values, rows, strict=True)]  # type: ignore[arg-type]
    high = [max(0.0, float(r["revenue_high"]) - v) for v, r in zip(values, rows, strict=True)]  # type: ignore[arg-type]
    ax.barh(range(len(rows)), values, xerr=[low, high], capsize=3, color="#4e79a7")
    ax.set_yticks(range(len(rows)), names)
    for i, v in enumerate(values):
        ax.text(v, i, f" {_usd(v)}", va="center", fontsize="small")
    ax.set_title(title)
    ax.xaxis.set_major_formatter(lambda v, _pos: _usd(v))
    ax.margins(x=0.15)
    return fig


def ships_from(est: Estimate) -> Figure:
    rows = est.by_country[:TOP_COUNTRIES][::-1]
    fig = _figure(8.0, max(3.0, 0.35 * len(rows) + 1.5))
    title = "Estimated revenue by ships-from country (USD)"
    if not rows:
        return _empty(fig, title)
    ax = fig.subplots()
    values = [float(r["revenue_usd"]) for r in rows]  # type: ignore[arg-type]
    ax.barh(range(len(rows)), values, color="#59a14f")
    ax.set_yticks(range(len(rows)), [label(r["ships_from"]) for r in rows])
    for i, v in enumerate(values):
        ax.text(v, i, f" {_usd(v)}", va="center", fontsize="small")
    ax.set_title(title)
    ax.xaxis.set_major_formatter(lambda v, _pos: _usd(v))
    ax.margins(x=0.15)
    return fig


def market_lifecycle(est: Estimate) -> Figure:
    fig = _figure()
    title = "Market lifecycle: estimated weekly revenue (USD)"
    if not est.by_market_week:
        return _empty(fig, title)
    ax = fig.subplots()
    weeks: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for r in est.by_market_week:
        weeks[str(r["market_id"])].append(
            (date.fromisoformat(str(r["week_start"])), float(r["revenue_usd"]))  # type: ignore[arg-type]
        )
    for life in est.lifecycle:
        points = sorted(weeks.get(str(life["market_id"]), []))
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        end = str(life["end"])
        (_line,) = ax.plot(xs, ys, marker=".", label=f"{label(life['market'])} ({label(end)})")
        if end in _ENDS:
            marker, colour = _ENDS[end]
            ax.plot([xs[-1]], [ys[-1]], marker=marker, markersize=12, color=colour)
            ax.annotate(end, (xs[-1], ys[-1]), textcoords="offset points", xytext=(6, 6))
    ax.set_title(title)
    ax.yaxis.set_major_formatter(lambda v, _pos: _usd(v))
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    fig.autofmt_xdate()
    return fig


_DRAW = {
    "revenue_by_category": revenue_by_category,
    "top_vendors": top_vendors,
    "ships_from": ships_from,
    "market_lifecycle": market_lifecycle,
}


def write_charts(est: Estimate, out: Path) -> list[Path]:
    """Write every chart of ``CHARTS`` to ``out`` as NAME.png and NAME.svg; returns the
    paths, in that order. Overwrites; the same estimate writes the same bytes."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        for name in CHARTS:
            fig = _DRAW[name](est)
            png, svg = out / f"{name}.png", out / f"{name}.svg"
            fig.savefig(png, format="png", metadata={"Software": None})
            fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": "Spector"})
            paths += [png, svg]
    return paths
