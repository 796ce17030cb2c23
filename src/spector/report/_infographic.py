"""The operation infographic's panels, drawn with matplotlib in the manner of Europol's SpecTor
poster: a title band, the headline totals, arrests per country (bars and a tile map),
seizures by kind, drugs by substance (the unitemised remainder as its own hatched bar),
a timeline and the reconciliation of stated against recorded totals.

Each panel is a function drawing into one Axes, so the poster (``_poster.poster``) and
the HTML report's separate charts (:func:`chart_svg`) draw the very same thing. Only the
Agg and SVG backends are used (no display needed).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle
from matplotlib.ticker import MaxNLocator

from spector.report._model import (
    ReportData,
    TimelineEvent,
    fmt_amount,
    human_amount,
    reconciliation_rows,
)
from spector.report._tilemap import layout, short_name

__all__ = ["PALETTE", "PANELS", "POSTER_DPI", "POSTER_SIZE", "chart_svg", "rc_style"]

PALETTE: dict[str, str] = {
    "navy": "#0B1F3A",
    "ink": "#1B2733",
    "muted": "#5B6B7B",
    "rule": "#D5DCE3",
    "paper": "#FFFFFF",
    "panel": "#F4F6F9",
    "empty": "#E3E8EE",
    "arrests": "#1565C0",
    "cash": "#E0A100",
    "firearms": "#546E7A",
    "drugs": "#00897B",
    "other": "#8E24AA",
    "alert": "#C62828",
    "ok": "#2E7D32",
}
_FONT = "DejaVu Sans"
ARRESTS_CMAP = LinearSegmentedColormap.from_list("arrests", ["#BBDEFB", "#1565C0", "#0A2F6B"])
POSTER_SIZE = (16.0, 22.0)  # inches
POSTER_DPI = 110  # 1760 x 2420 px


def _norm(counts: dict[str, int]) -> Normalize:
    top = max(counts.values(), default=1)
    return LogNorm(vmin=1, vmax=max(top, 2))


def _tile_color(count: int, norm: Normalize) -> tuple[float, float, float, float]:
    r, g, b, a = ARRESTS_CMAP(float(norm(max(count, 1))))
    return (float(r), float(g), float(b), float(a))


def _is_dark(rgba: tuple[float, ...]) -> bool:
    r, g, b = rgba[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b < 0.55


def _title(ax: Axes, text: str, sub: str | None = None) -> None:
    ax.set_title(text, loc="left", fontsize=17, fontweight="bold", color=PALETTE["ink"], pad=24)
    if sub:
        ax.text(0, 1.01, sub, transform=ax.transAxes, fontsize=11, color=PALETTE["muted"],
                va="bottom")  # fmt: skip


def _clean(ax: Axes, *, grid_x: bool = False) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(PALETTE["rule"])
    ax.tick_params(colors=PALETTE["muted"], labelsize=11, length=0)
    if grid_x:
        ax.xaxis.grid(True, color=PALETTE["rule"], linewidth=0.8)
        ax.set_axisbelow(True)


# --- panels ------------------------------------------------------------------------------


def draw_country_bars(ax: Axes, data: ReportData) -> None:
    """Arrests per country, largest first, each bar in its tile-map colour; a stated
    per-country figure that differs is drawn as an outline with its number."""
    counts: dict[str, int] = dict(data.totals.get("arrests_by_country", {}))
    stated: dict[str, int] = dict(data.stated.get("arrests_by_country") or {})
    codes = sorted(set(counts) | set(stated), key=lambda c: (-counts.get(c, 0), c))
    _title(ax, "Arrests per country", f"{data.totals['arrests']:,} arrests in {len(counts)} "
           f"{'country' if len(counts) == 1 else 'countries'}")  # fmt: skip
    _clean(ax, grid_x=True)
    if not codes:
        _empty(ax, "no arrests recorded")
        return
    norm = _norm(counts)
    ys = list(range(len(codes)))
    values = [counts.get(c, 0) for c in codes]
    top = max([*values, *stated.values()])
    ax.barh(ys, values, color=[_tile_color(v, norm) for v in values], height=0.68, zorder=2)
    for y, code, value in zip(ys, codes, values, strict=True):
        label = f"{value:,}"
        want = stated.get(code)
        if want is not None and want != value:
            ax.barh(y, want, height=0.68, fill=False, edgecolor=PALETTE["alert"],
                    linestyle=(0, (3, 2)), linewidth=1.4, zorder=3)  # fmt: skip
            label = f"{value:,}  ({want:,} stated)"
        ax.text(max(value, want or 0) + top * 0.015, y, label, va="center", fontsize=12,
                fontweight="bold", color=PALETTE["alert"] if want not in (None, value)
                else PALETTE["ink"])  # fmt: skip
    ax.set_yticks(ys, [f"{short_name(c)}  {c}" for c in codes], fontsize=12,
                  color=PALETTE["ink"])  # fmt: skip
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, top * (1.45 if stated else 1.28))
    ax.set_ylim(len(codes) - 0.5, -0.6)


def draw_tilemap(ax: Axes, data: ReportData) -> None:
    """A tile grid of the countries, each coloured by its arrests (log scale) and
    labelled with its code and count; countries without arrests stay grey."""
    counts: dict[str, int] = dict(data.totals.get("arrests_by_country", {}))
    agency_codes = {c for _, c in data.agencies if c not in ("EU", "INT")}
    tiles = layout(set(counts) | agency_codes)
    norm = _norm(counts)
    _title(ax, "Where the arrests were", "one square per country, darker = more arrests")
    ax.set_axis_off()
    ax.set_aspect("equal")
    for tile in tiles:
        count = counts.get(tile.code, 0)
        rgba = _tile_color(count, norm)
        face: str | tuple[float, ...] = rgba if count else PALETTE["empty"]
        edge = PALETTE["arrests"] if tile.code in agency_codes and not count else "none"
        ax.add_patch(FancyBboxPatch((tile.x + 0.05, -tile.y - 0.95), 0.9, 0.9,
                                    boxstyle="round,pad=0,rounding_size=0.12",
                                    facecolor=face, edgecolor=edge, linewidth=1.5))  # fmt: skip
        ink = "white" if count and _is_dark(rgba) else PALETTE["ink"]
        if count:
            ax.text(tile.x + 0.5, -tile.y - 0.33, tile.code, ha="center", va="center",
                    fontsize=11, fontweight="bold", color=ink)  # fmt: skip
            ax.text(tile.x + 0.5, -tile.y - 0.68, f"{count:,}", ha="center", va="center",
                    fontsize=10.5, color=ink)  # fmt: skip
        else:
            ax.text(tile.x + 0.5, -tile.y - 0.5, tile.code, ha="center", va="center",
                    fontsize=8.5, color=PALETTE["muted"])  # fmt: skip
    xs = [t.x for t in tiles]
    ys = [t.y for t in tiles]
    ax.set_xlim(min(xs) - 0.2, max(xs) + 1.2)
    ax.set_ylim(-max(ys) - 1.3, 0.3)
    if any(not t.placed for t in tiles):
        row = max(t.y for t in tiles if not t.placed)
        ax.text(min(xs), -row + 0.1, "not on the grid", fontsize=9, color=PALETTE["muted"])
    americas = [t for t in tiles if t.x < 0]
    if americas:
        ax.text(min(t.x for t in americas) + 0.5, 0.15, "Americas", ha="left", fontsize=10,
                color=PALETTE["muted"], style="italic")  # fmt: skip
    ax.text(0.5, 0.15, "Europe", ha="left", fontsize=10, color=PALETTE["muted"], style="italic")


_KIND_LABEL = {
    "cash_crypto": "Cash and crypto",
    "firearms": "Firearms",
    "drugs": "Drugs",
    "other": "Other seizures",
}


def _seizure_rows(data: ReportData) -> list[tuple[str, str, str, str]]:
    """(kind, value, detail, colour key) for each kind of seizure."""
    totals, stated, n = data.totals, data.stated, data.seizure_records
    rows: list[tuple[str, str, str, str]] = []
    cash = totals.get("cash_crypto") or []
    value = " + ".join(f"{c['currency']} {human_amount(c['amount'])}" for c in cash) or "none"
    rows.append(("cash_crypto", value, _records(n.get("cash_crypto", 0)), "cash"))
    rows.append(("firearms", f"{totals['firearms']:,}", _records(n.get("firearms", 0)),
                 "firearms"))  # fmt: skip
    drugs = fmt_amount(totals["drugs_kg"], "kg")
    detail = _records(n.get("drugs", 0))
    if stated.get("drugs_kg") is not None:
        detail += f" · {fmt_amount(stated['drugs_kg'], 'kg')} stated"
    rows.append(("drugs", drugs, detail, "drugs"))
    others = data.other_seizures
    if others:
        items = "; ".join(f"{d} ({c:,})" if c is not None else d for d, c in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        rows.append(("other", f"{len(others):,}", items + more, "other"))
    else:
        rows.append(("other", "none", "no other seizure recorded", "other"))
    return rows


def _records(n: int) -> str:
    return f"{n:,} record{'s' if n != 1 else ''}"


def draw_seizures(ax: Axes, data: ReportData) -> None:
    """Seizures by kind: one row per kind with its total and where it comes from."""
    _title(ax, "Seizures by kind", "totals of the seizure records")
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    rows = _seizure_rows(data)
    ax.set_ylim(len(rows), 0)
    for i, (kind, value, detail, colour) in enumerate(rows):
        ax.add_patch(Rectangle((0, i + 0.1), 0.018, 0.8, color=PALETTE[colour]))
        ax.text(0.045, i + 0.32, _KIND_LABEL[kind].upper(), fontsize=11, fontweight="bold",
                color=PALETTE["muted"], va="center")  # fmt: skip
        ink = PALETTE["muted"] if value == "none" else PALETTE[colour]
        ax.text(0.045, i + 0.66, value, fontsize=21, fontweight="bold", color=ink, va="center")
        ax.text(0.99, i + 0.66, textwrap.shorten(detail, 60), fontsize=11, ha="right",
                color=PALETTE["ink"], va="center")  # fmt: skip


def draw_drugs(ax: Axes, data: ReportData) -> None:
    """Drugs by substance (kg); the part of a larger stated total that no record
    itemises is its own hatched bar."""
    by_substance = {
        k: Decimal(str(v)) for k, v in data.totals.get("drugs_kg_by_substance", {}).items()
    }
    itemised = sum(by_substance.values(), Decimal(0))
    stated_raw = data.stated.get("drugs_kg")
    stated = Decimal(str(stated_raw)) if stated_raw is not None else None
    sub = f"{fmt_amount(itemised, 'kg')} itemised"
    if stated is not None:
        sub += f" of {fmt_amount(stated, 'kg')} stated"
    _title(ax, "Drugs by substance", sub)
    _clean(ax, grid_x=True)
    labels = list(by_substance)
    values = [by_substance[k] for k in labels]
    remainder = stated - itemised if stated is not None and stated > itemised else None
    if not labels and remainder is None:
        _empty(ax, "no drug seizure recorded")
        return
    ys = list(range(len(labels)))
    ax.barh(ys, [float(v) for v in values], color=PALETTE["drugs"], height=0.66, zorder=2)
    top = float(max([*values, remainder or Decimal(0)]))
    for y, v in zip(ys, values, strict=True):
        ax.text(float(v) + top * 0.015, y, fmt_amount(v, "kg"), va="center", fontsize=12,
                fontweight="bold", color=PALETTE["ink"])  # fmt: skip
    names = [textwrap.fill(k, 22) for k in labels]
    if remainder is not None:
        y = len(labels)
        ax.barh(y, float(remainder), height=0.66, facecolor="white", hatch="///",
                edgecolor=PALETTE["alert"], linewidth=1.2, zorder=2)  # fmt: skip
        ax.text(float(remainder) + top * 0.015, y, fmt_amount(remainder, "kg"), va="center",
                fontsize=12, fontweight="bold", color=PALETTE["alert"])  # fmt: skip
        ys.append(y)
        names.append("not itemised")
    ax.set_yticks(ys, names, fontsize=12, color=PALETTE["ink"])
    if remainder is not None:
        ax.get_yticklabels()[-1].set_color(PALETTE["alert"])
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.25)
    ax.set_ylim(len(ys) - 0.5, -0.6)
    ax.set_xlabel("kg", fontsize=11, color=PALETTE["muted"], loc="right")


_EVENT_COLOUR = {
    "announced": "navy",
    "arrest": "arrests",
    "seizure": "drugs",
    "case": "muted",
    "custody": "firearms",
}


def _merge_events(events: tuple[TimelineEvent, ...]) -> list[TimelineEvent]:
    """At most one label per day and kind ("3 arrests" rather than three markers)."""
    by_key: dict[tuple[date, str], list[TimelineEvent]] = {}
    for event in sorted(events, key=lambda e: (e.day, e.kind, e.label)):
        by_key.setdefault((event.day, event.kind), []).append(event)
    merged: list[TimelineEvent] = []
    for (day, kind), group in by_key.items():
        if len(group) == 1:
            merged.append(group[0])
        else:
            merged.append(TimelineEvent(day, f"{group[0].label} (+{len(group) - 1} more)", kind))
    return merged


_LEVELS = (1, -1, 2, -2)
_MAX_LABELS = 16


def _place_labels(xs: list[float], widths: list[float]) -> list[int]:
    """A level (1, -1, 2, -2: above and below the line) for each label so that labels on
    one level do not overlap; 0 for a label that fits nowhere (its marker stays)."""
    right_edge = dict.fromkeys(_LEVELS, float("-inf"))
    levels = []
    for x, width in zip(xs, widths, strict=True):
        chosen = 0
        for level in _LEVELS:
            if x - width / 2 > right_edge[level]:
                chosen = level
                break
        if chosen:
            right_edge[chosen] = x + width / 2
        levels.append(chosen)
    return levels


def draw_timeline(ax: Axes, data: ReportData) -> None:
    """The dated events on one line, labels above and below it on up to four levels so
    that none overlaps; what does not fit keeps its marker (the HTML lists every event)."""
    events = _merge_events(data.timeline)
    n = len(data.timeline)
    _title(ax, "Timeline", f"{n} dated event{'s' if n != 1 else ''}")
    ax.set_yticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    if not events:
        _empty(ax, "no dated event recorded")
        return
    first, last = events[0].day, events[-1].day
    span = max((last - first).days, 1)
    pad = timedelta(days=max(span * 0.1, 20))
    lo, hi = (first - pad).toordinal(), (last + pad).toordinal()
    ax.set_xlim(lo, hi)
    ax.set_ylim(-2.6, 2.6)
    ax.axhline(0, color=PALETTE["rule"], linewidth=3, zorder=1)
    ax.set_xticks([])
    fig = ax.get_figure(root=True)
    width_in = ax.get_position().width * (fig.get_figwidth() if fig is not None else 10.0)
    fontsize = 10.5
    texts = [(f"{e.day:%-d %b %Y}", textwrap.shorten(e.label[:1].upper() + e.label[1:], 34))
             for e in events]  # fmt: skip
    # label width in days: characters x ~0.6 em, over the axis width in points
    per_point = (hi - lo) / (width_in * 72)
    widths = [max(len(a), len(b)) * 0.6 * fontsize * per_point * 1.1 for a, b in texts]
    levels = _place_labels([e.day.toordinal() for e in events], widths)
    shown = 0
    for event, (day_text, label), level in zip(events, texts, levels, strict=True):
        x = event.day.toordinal()
        colour = PALETTE[_EVENT_COLOUR.get(event.kind, "muted")]
        size = 14 if event.kind == "announced" else 9
        ax.plot([x], [0], marker="o", markersize=size, color=colour, zorder=3)
        if not level or shown >= _MAX_LABELS:
            continue
        shown += 1
        y = (0.35 + (abs(level) - 1) * 1.15) * (1 if level > 0 else -1)
        ax.plot([x, x], [0, y], color=colour, linewidth=1.0, zorder=2)
        ax.text(x, y, f"{day_text}\n{label}", ha="center", va="bottom" if level > 0 else "top",
                fontsize=fontsize, color=PALETTE["ink"], linespacing=1.25,
                fontweight="bold" if event.kind == "announced" else "normal")  # fmt: skip


def draw_reconciliation(ax: Axes, data: ReportData) -> None:
    """Each stated total beside the records' total: a tick where they agree, the gap in
    red where they do not."""
    rows = reconciliation_rows(data)
    n_bad = sum(not r.ok for r in rows)
    sub = (
        "no published total given"
        if not rows
        else f"{n_bad} of {len(rows)} published totals not matched by the records"
        if n_bad
        else "every published total is matched by the records"
    )
    _title(ax, "Reconciliation: published totals against the records", sub)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(max(len(rows), 1) + 1, 0)
    columns = (("Figure", 0.0, "left"), ("Published", 0.38, "right"),
               ("In the records", 0.56, "right"), ("Difference", 0.62, "left"))  # fmt: skip
    for label, x, align in columns:
        ax.text(x, 0.5, label.upper(), fontsize=10.5, fontweight="bold", ha=align,
                color=PALETTE["muted"], va="center")  # fmt: skip
    ax.plot([0, 1], [0.95, 0.95], color=PALETTE["rule"], linewidth=1.2)
    for i, row in enumerate(rows, start=1):
        y = i + 0.45
        colour = PALETTE["ok"] if row.ok else PALETTE["alert"]
        ax.text(0.0, y, row.figure, fontsize=12.5, color=PALETTE["ink"], va="center")
        ax.text(0.38, y, row.stated, fontsize=12.5, color=PALETTE["ink"], va="center",
                ha="right")  # fmt: skip
        ax.text(0.56, y, row.records, fontsize=12.5, color=PALETTE["ink"], va="center",
                ha="right")  # fmt: skip
        mark = "\u2713 " if row.ok else "\u26a0 "
        ax.text(0.62, y, mark + row.difference, fontsize=12.5, color=colour, va="center",
                fontweight="normal" if row.ok else "bold")  # fmt: skip
        ax.plot([0, 1], [i + 0.95, i + 0.95], color=PALETTE["rule"], linewidth=0.6)


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=13,
            color=PALETTE["muted"], style="italic")  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])


PANELS: dict[str, tuple[Callable[[Axes, ReportData], None], tuple[float, float]]] = {
    "arrests_by_country": (draw_country_bars, (8.0, 5.5)),
    "tilemap": (draw_tilemap, (8.0, 6.5)),
    "seizures": (draw_seizures, (8.0, 4.8)),
    "drugs": (draw_drugs, (8.0, 4.8)),
    "timeline": (draw_timeline, (15.0, 3.4)),
    "reconciliation": (draw_reconciliation, (15.0, 3.6)),
}


@contextmanager
def rc_style() -> Iterator[None]:
    """matplotlib rc settings for the report (fonts, SVG text as paths) for a block."""
    import matplotlib

    with matplotlib.rc_context(
        {"font.family": _FONT, "svg.fonttype": "path", "hatch.linewidth": 1.0}
    ):
        yield


def chart_svg(name: str, data: ReportData) -> str:
    """One panel of :data:`PANELS` as a standalone SVG document (text as paths)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    draw, size = PANELS[name]
    with rc_style():
        fig = Figure(figsize=size, dpi=100, facecolor=PALETTE["paper"])
        FigureCanvasSVG(fig)
        ax = fig.add_axes(
            (0.25, 0.12, 0.7, 0.72) if name in _LABELLED else (0.03, 0.08, 0.94, 0.76)
        )
        draw(ax, data)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", facecolor=fig.get_facecolor())
    return buf.getvalue()


_LABELLED = frozenset({"arrests_by_country", "drugs"})
