"""The operation report: ``report.html``, ``report.png``, ``report.pdf`` and
``totals.json`` for one joint operation, as the acting principal may see it.

:func:`write_operation_report` reads the operation's overview from the case store
(every record through its access filter), then :func:`render_report` writes the four
files from plain values: the PNG poster (matplotlib), the HTML page (jinja2 with
autoescape; its charts are SVG data URIs with their text drawn as paths, so no string
from the store reaches the markup unescaped), the PDF made from that HTML by WeasyPrint,
and the totals exactly as ``operation_totals`` returns them.
"""

from __future__ import annotations

import base64
import json
import re
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from spector.errors import UserError, WorkspaceError
from spector.report._infographic import PALETTE, PANELS, chart_svg
from spector.report._model import (
    ReportData,
    TimelineEvent,
    fmt_amount,
    human_amount,
    reconciliation_rows,
)
from spector.report._poster import poster, save_png
from spector.report._tilemap import short_name

if TYPE_CHECKING:
    from spector.cases._base import Principal
    from spector.cases._db import CaseStore

__all__ = ["REPORT_FILES", "ReportError", "render_report", "write_operation_report"]

#: key -> file name of what a report writes.
REPORT_FILES: dict[str, str] = {
    "html": "report.html",
    "png": "report.png",
    "pdf": "report.pdf",
    "totals": "totals.json",
}


class ReportError(UserError):
    """The report cannot be written (the PDF engine's system libraries, the folder)."""


def _css_string(value: object) -> Markup:
    """``value`` escaped for a double-quoted CSS string (every risky character as a hex
    escape), for the page footer."""
    text = re.sub(r"[\x00-\x1f]", " ", str(value))
    escaped = re.sub(r"[\"'\\<>&]", lambda m: f"\\{ord(m.group()):x} ", text)
    return Markup(escaped)  # noqa: S704  (each character that could end the string is escaped)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("spector.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["css"] = _css_string
    env.globals["fmt"] = fmt_amount
    return env


def report_data(overview: dict[str, Any], *, generated_at: datetime | None = None) -> ReportData:
    """A :class:`ReportData` from ``spector.cases``' operation overview."""
    return ReportData(
        name=overview["name"],
        totals=overview["totals"],
        stated=overview["stated"],
        announced=overview["announced"],
        description=overview["description"],
        source=overview["source"],
        agencies=tuple((str(n), str(c)) for n, c in overview["agencies"]),
        timeline=tuple(
            TimelineEvent(e["day"], e["label"], e["kind"]) for e in overview["timeline"]
        ),
        other_seizures=tuple((str(d), c) for d, c in overview["other_seizures"]),
        seizure_records=dict(overview["seizure_records"]),
        generated_at=generated_at or datetime.now(UTC),
        generated_for=overview.get("viewer"),
    )


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _cards(data: ReportData) -> list[dict[str, Any]]:
    totals, stated = data.totals, data.stated

    def note(want: Any, have: Any, unit: str = "") -> tuple[str | None, bool]:
        if want is None:
            return None, True
        if Decimal(str(want)) == Decimal(str(have)):
            return "as stated \u2713", True
        return f"\u26a0 {fmt_amount(want, unit)} stated", False

    cash = totals["cash_crypto"]
    cash_big = " + ".join(f"{c['currency']} {human_amount(c['amount'])}" for c in cash) or "0"
    want_cash = stated.get("cash_crypto")
    cash_note: tuple[str | None, bool] = (None, True)
    if isinstance(want_cash, dict):
        have = sum(
            (Decimal(str(c["amount"])) for c in cash if c["currency"] == want_cash.get("currency")),
            Decimal(0),
        )
        if Decimal(str(want_cash.get("amount"))) == have:
            cash_note = ("as stated \u2713", True)
        else:
            stated_text = f"{want_cash.get('currency')} {human_amount(want_cash.get('amount'))}"
            cash_note = (f"\u26a0 {stated_text} stated", False)
    rows = [
        (f"{totals['arrests']:,}", "arrests", note(stated.get("arrests"), totals["arrests"]),
         "arrests"),
        (cash_big, "cash and crypto", cash_note, "cash"),
        (f"{totals['firearms']:,}", "firearms seized",
         note(stated.get("firearms"), totals["firearms"]), "firearms"),
        (fmt_amount(totals["drugs_kg"], "kg"), "of drugs itemised",
         note(stated.get("drugs_kg"), totals["drugs_kg"], "kg"), "drugs"),
    ]  # fmt: skip
    return [
        {"big": big, "unit": unit, "note": n[0], "ok": n[1], "colour": PALETTE[colour]}
        for big, unit, n, colour in rows
    ]


def _seizure_rows(data: ReportData) -> list[dict[str, str]]:
    totals, stated = data.totals, data.stated
    rows = []
    want_cash = stated.get("cash_crypto") if isinstance(stated.get("cash_crypto"), dict) else None
    for cash in totals["cash_crypto"]:
        want = ""
        if want_cash and want_cash.get("currency") == cash["currency"]:
            want = f"{cash['currency']} {fmt_amount(want_cash['amount'])}"
        value = f"{cash['currency']} {fmt_amount(cash['amount'])}"
        rows.append({"kind": "cash and crypto", "what": cash["currency"], "value": value,
                     "stated": want})  # fmt: skip
    want_f = stated.get("firearms")
    rows.append({"kind": "firearms", "what": "count", "value": f"{totals['firearms']:,}",
                 "stated": f"{want_f:,}" if isinstance(want_f, int) else ""})  # fmt: skip
    for substance, kg in totals["drugs_kg_by_substance"].items():
        rows.append(
            {"kind": "drugs", "what": substance, "value": fmt_amount(kg, "kg"), "stated": ""}
        )
    want_kg = stated.get("drugs_kg")
    rows.append({"kind": "drugs", "what": "all substances",
                 "value": fmt_amount(totals["drugs_kg"], "kg"),
                 "stated": fmt_amount(want_kg, "kg") if want_kg is not None else ""})  # fmt: skip
    for description, count in data.other_seizures:
        rows.append({"kind": "other", "what": description,
                     "value": f"{count:,}" if count is not None else "", "stated": ""})  # fmt: skip
    return rows


def render_html(data: ReportData) -> str:
    """The report page (autoescaped; charts as SVG data URIs)."""
    by_country = data.totals["arrests_by_country"]
    stated_by_country = data.stated.get("arrests_by_country") or {}
    codes = sorted(
        set(by_country) | set(stated_by_country), key=lambda c: (-by_country.get(c, 0), c)
    )
    template = _environment().get_template("operation.html.j2")
    return template.render(
        name=data.name,
        announced=f"{data.announced:%-d %B %Y}" if data.announced else None,
        description=data.description,
        source=data.source,
        agencies=data.agencies,
        totals=data.totals,
        stated=data.stated,
        cards=_cards(data),
        countries=[
            {
                "code": c,
                "name": short_name(c),
                "count": by_country.get(c, 0),
                "stated": stated_by_country.get(c),
            }
            for c in codes
        ],
        seizure_rows=_seizure_rows(data),
        timeline=[{"day": e.day.isoformat(), "label": e.label} for e in data.timeline],
        recon=reconciliation_rows(data),
        charts={
            name: _data_uri(chart_svg(name, data)) for name in PANELS if name != "reconciliation"
        },
        palette=PALETTE,
        viewer=data.generated_for or "the acting user",
        generated=f"{data.generated_at:%Y-%m-%d %H:%M}" if data.generated_at else "",
    )


def _weasyprint_html() -> Any:
    """WeasyPrint's HTML class; a ReportError naming the missing system library if its
    libraries (pango, harfbuzz, fontconfig) cannot be loaded."""
    try:
        with warnings.catch_warnings():
            # Without libharfbuzz-subset WeasyPrint embeds whole fonts and warns that a
            # future version will need it; the PDF is still right.
            warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
            from weasyprint import HTML
    except OSError as exc:  # cffi could not dlopen a system library
        match = re.search(r"library '([^']+)'", str(exc)) or re.search(r"(lib[\w.-]+)", str(exc))
        lib = match.group(1) if match else str(exc)
        raise ReportError(
            f"WeasyPrint cannot load the system library {lib} needed for the PDF",
            hint="install pango (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
            "libharfbuzz0b; macOS: brew install pango)",
        ) from exc
    except ImportError as exc:
        raise ReportError(
            f"WeasyPrint is not installed ({exc})", hint="pip install weasyprint"
        ) from exc
    return HTML


def render_report(data: ReportData, out: Path) -> dict[str, Path]:
    """Write the four report files of ``data`` into ``out`` (created if needed); returns
    their paths by key (html, png, pdf, totals). Existing files are replaced."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create the report folder: {exc.strerror}", where=out) from exc
    paths = {key: out / name for key, name in REPORT_FILES.items()}
    html_class = _weasyprint_html()  # fail before writing anything if the PDF cannot be made
    paths["totals"].write_text(
        json.dumps(data.totals, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    save_png(poster(data), paths["png"])
    html = render_html(data)
    paths["html"].write_text(html, encoding="utf-8")
    html_class(string=html, base_url=str(out)).write_pdf(paths["pdf"])
    return paths


def write_operation_report(store: CaseStore, p: Principal, name: str, out: Path) -> dict[str, Path]:
    """Write the report of operation ``name`` as ``p`` sees it into ``out``: keys html,
    png, pdf, totals (``totals.json`` is exactly ``operation_totals(s, p, name)``).
    NotFound for an unknown operation; ReportError if the PDF engine cannot load."""
    from spector.cases._ops_overview import operation_overview

    with store.session() as s:
        overview = operation_overview(s, p, name)
    return render_report(report_data(overview), out)
