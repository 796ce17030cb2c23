"""The operation poster: the panels of ``_infographic`` composed into one figure (the
report's PNG), with a title band, the headline totals and a footer naming the agencies,
the source and whose view the figures are.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from spector.report._infographic import (
    PALETTE,
    POSTER_DPI,
    POSTER_SIZE,
    draw_country_bars,
    draw_drugs,
    draw_reconciliation,
    draw_seizures,
    draw_tilemap,
    draw_timeline,
    rc_style,
)
from spector.report._model import ReportData, fmt_amount, human_amount

__all__ = ["poster", "save_png"]


def _headline(fig: Figure, data: ReportData, top: float, height: float) -> None:
    totals, stated = data.totals, data.stated
    cash_text, cash_unit = _headline_cash(data)
    cards: list[tuple[str, str, str | None, str]] = [
        (f"{totals['arrests']:,}", "arrests",
         _stated_note(stated.get("arrests"), totals["arrests"]), "arrests"),
        (cash_text, cash_unit, _cash_note(data), "cash"),
        (f"{totals['firearms']:,}", "firearms seized",
         _stated_note(stated.get("firearms"), totals["firearms"]), "firearms"),
        (fmt_amount(totals["drugs_kg"]), "kg of drugs itemised",
         _stated_note(stated.get("drugs_kg"), totals["drugs_kg"], "kg"), "drugs"),
    ]  # fmt: skip
    gap, left = 0.02, 0.04
    width = (1 - 2 * left - 3 * gap) / 4
    for i, (big, unit, note, colour) in enumerate(cards):
        x = left + i * (width + gap)
        ax = fig.add_axes((x, top - height, width, height))
        ax.set_axis_off()
        ax.add_patch(FancyBboxPatch((0, 0), 1, 1, boxstyle="round,pad=0,rounding_size=0.06",
                                    transform=ax.transAxes, facecolor=PALETTE["panel"],
                                    edgecolor="none"))  # fmt: skip
        ax.add_patch(Rectangle((0, 0.93), 1, 0.07, transform=ax.transAxes,
                               color=PALETTE[colour]))  # fmt: skip
        ax.text(0.5, 0.57, big, transform=ax.transAxes, ha="center", va="center",
                fontsize=40 if len(big) <= 6 else 32, fontweight="bold",
                color=PALETTE[colour])  # fmt: skip
        ax.text(0.5, 0.3, unit, transform=ax.transAxes, ha="center", va="center", fontsize=13,
                color=PALETTE["ink"])  # fmt: skip
        if note:
            bad = "stated" in note and not note.startswith("as stated")
            ax.text(0.5, 0.12, note, transform=ax.transAxes, ha="center", va="center",
                    fontsize=11, color=PALETTE["alert"] if bad else PALETTE["ok"],
                    fontweight="bold" if bad else "normal")  # fmt: skip


def _headline_cash(data: ReportData) -> tuple[str, str]:
    """The big number of the cash card: the stated currency's (else EUR's, else the
    first) amount; the other currencies are named under it."""
    cash = list(data.totals.get("cash_crypto") or [])
    if not cash:
        return "0", "cash and crypto"
    stated = data.stated.get("cash_crypto")
    wanted = stated.get("currency") if isinstance(stated, dict) else None
    codes = [c["currency"] for c in cash]
    main = wanted if wanted in codes else "EUR" if "EUR" in codes else codes[0]
    first = next(c for c in cash if c["currency"] == main)
    rest = [f"{c['currency']} {human_amount(c['amount'])}" for c in cash if c is not first]
    unit = f"{main} in cash and crypto"
    if rest:
        unit = textwrap.shorten(f"{main} + {', '.join(rest)}", 34, placeholder=" ...")
    return human_amount(first["amount"]), unit


def _stated_note(want: Any, have: Any, unit: str = "") -> str | None:
    if want is None:
        return None
    if Decimal(str(want)) == Decimal(str(have)):
        return "as stated \u2713"
    return f"\u26a0 {fmt_amount(want, unit)} stated"


def _cash_note(data: ReportData) -> str | None:
    want = data.stated.get("cash_crypto")
    if not isinstance(want, dict):
        return None
    currency = want.get("currency")
    have = sum((Decimal(str(c["amount"])) for c in data.totals.get("cash_crypto", [])
                if c["currency"] == currency), Decimal(0))  # fmt: skip
    if Decimal(str(want.get("amount"))) == have:
        return "as stated \u2713"
    return f"\u26a0 {currency} {human_amount(want.get('amount'))} stated"


def _band(fig: Figure, data: ReportData) -> None:
    ax = fig.add_axes((0, 0.915, 1, 0.085))
    ax.set_axis_off()
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, color=PALETTE["navy"]))
    ax.text(0.04, 0.62, f"Operation {data.name}", transform=ax.transAxes,
            fontsize=40, fontweight="bold", color="white", va="center")  # fmt: skip
    parts = []
    if data.announced:
        parts.append(f"announced {data.announced:%-d %B %Y}")
    countries = {c for _, c in data.agencies if c not in ("EU", "INT")}
    if data.agencies:
        parts.append(f"{len(data.agencies)} agencies from {len(countries)} countries")
    parts.append(
        f"{data.totals['arrests']:,} arrests in {len(data.totals['arrests_by_country'])} countries"
    )
    ax.text(0.04, 0.24, "  \u00b7  ".join(parts), transform=ax.transAxes, fontsize=16,
            color="#C9D6E8", va="center")  # fmt: skip
    ax.add_patch(Rectangle((0, 0), 1, 0.04, transform=ax.transAxes, color=PALETTE["cash"]))


def _footer(fig: Figure, data: ReportData) -> None:
    ax = fig.add_axes((0.04, 0.006, 0.92, 0.05))
    ax.set_axis_off()
    ax.plot([0, 1], [1, 1], color=PALETTE["rule"], linewidth=1, transform=ax.transAxes)
    names = ", ".join(f"{n} ({c})" for n, c in data.agencies) or "none recorded"
    ax.text(0, 0.78, textwrap.fill(f"Agencies: {names}", 190), transform=ax.transAxes,
            fontsize=10, color=PALETTE["ink"], va="top", linespacing=1.4)  # fmt: skip
    bits = []
    if data.source:
        bits.append(f"Source: {textwrap.shorten(data.source, 110)}")
    who = f" for {data.generated_for}" if data.generated_for else ""
    when = f" on {data.generated_at:%Y-%m-%d %H:%M} UTC" if data.generated_at else ""
    bits.append(f"Figures from the case records visible{who}; made by Spector{when}")
    ax.text(0, 0.12, "   |   ".join(bits), transform=ax.transAxes, fontsize=9.5,
            color=PALETTE["muted"], va="bottom")  # fmt: skip


def poster(data: ReportData) -> Figure:
    """The whole infographic as one figure (POSTER_SIZE at POSTER_DPI)."""
    fig = Figure(figsize=POSTER_SIZE, dpi=POSTER_DPI, facecolor=PALETTE["paper"])
    with rc_style():
        _band(fig, data)
        _headline(fig, data, top=0.895, height=0.095)
        draw_country_bars(fig.add_axes((0.17, 0.535, 0.30, 0.225)), data)
        draw_tilemap(fig.add_axes((0.52, 0.525, 0.45, 0.245)), data)
        draw_seizures(fig.add_axes((0.04, 0.318, 0.43, 0.16)), data)
        draw_drugs(fig.add_axes((0.67, 0.318, 0.29, 0.16)), data)
        draw_timeline(fig.add_axes((0.04, 0.163, 0.92, 0.092)), data)
        draw_reconciliation(fig.add_axes((0.04, 0.062, 0.92, 0.078)), data)
        _footer(fig, data)
    return fig


def save_png(fig: Figure, path: Any) -> None:
    """Write ``fig`` as PNG (Agg) at its own dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with rc_style():
        fig.savefig(path, format="png", dpi=fig.dpi, facecolor=fig.get_facecolor())
