"""`spector econ report`: the estimate's charts, the CSV of every table behind them, a JSON
summary and an index.html that shows them.

Every scraped string is hostile: the HTML is rendered by jinja2 with autoescaping on
(and a Content-Security-Policy that allows no script), and CSV cells that a spreadsheet
would run as a formula (starting with ``= + - @``, a tab or a carriage return) are
prefixed with a single quote (OWASP's rule against CSV injection); numbers are written as
numbers. Files are overwritten; the same estimate writes the same bytes.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import jinja2

from spector.economics._aggregate import Estimate
from spector.economics._aggregate import estimate as make_estimate
from spector.economics._charts import CHARTS, write_charts
from spector.errors import UsageError
from spector.store import Workspace

__all__ = ["TABLES", "csv_cell", "write_report"]

TABLES = (
    "by_market",
    "by_vendor",
    "by_actor",
    "by_category",
    "by_country",
    "by_week",
    "by_category_week",
    "by_market_week",
    "lifecycle",
    "calibration",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_TEMPLATES = Path(__file__).parent / "templates"


def csv_cell(value: object) -> object:
    """A value as a CSV cell: numbers as they are (floats to 6 decimals, no -0), None
    empty, text guarded against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        text = f"{value:.6f}"
        return "0.000000" if text == "-0.000000" else text
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns and not isinstance(r[k], list | dict)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([csv_cell(r.get(c)) for c in columns])


def _tables(est: Estimate) -> dict[str, list[dict[str, object]]]:
    cal = est.calibration
    return {
        "by_market": est.by_market,
        "by_vendor": est.by_vendor,
        "by_actor": est.by_actor or [],
        "by_category": est.by_category,
        "by_country": est.by_country,
        "by_week": est.by_week,
        "by_category_week": est.by_category_week,
        "by_market_week": est.by_market_week,
        "lifecycle": est.lifecycle,
        "calibration": [
            {"listing_id": r.listing_id, "market_id": r.market_id, "sold": r.sold,
             "feedback": r.feedback}
            for r in cal.rows
        ] if cal else [],
    }  # fmt: skip


def _json_default(value: object) -> object:
    return str(value)


def write_report(
    source: Estimate | Workspace,
    out: Path,
    *,
    estimate: Estimate | None = None,
    workspace: str = "",
) -> dict[str, Path]:
    """Write the report into ``out`` (made if missing): CHART.png/.svg, TABLE.csv,
    summary.json and index.html. Returns {name: path} of what was written.

    ``source`` is an `Estimate`, or a `Workspace`: then ``estimate`` (made with
    `estimate(ws)` when not given) is reported, under the workspace's name unless
    ``workspace`` names it. Passing an `Estimate` and ``estimate=`` both is a
    ``UsageError``."""
    if isinstance(source, Estimate):
        if estimate is not None and estimate is not source:
            raise UsageError(
                "write_report was given two estimates",
                expected="write_report(est, out) or write_report(ws, out, estimate=est)",
            )
        est = source
    else:
        est = estimate if estimate is not None else make_estimate(source)
        workspace = workspace or source.config.name
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for path in write_charts(est, out):
        written[path.name] = path
    for name, rows in _tables(est).items():
        path = out / f"{name}.csv"
        _write_csv(path, rows)
        written[path.name] = path
    summary = out / "summary.json"
    summary.write_text(
        json.dumps(est.summary(), indent=2, sort_keys=True, default=_json_default) + "\n",
        encoding="utf-8",
    )
    written[summary.name] = summary
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["usd"] = lambda v: f"${float(v):,.0f}" if v is not None else "—"
    env.filters["num"] = lambda v: f"{float(v):,.0f}" if v is not None else "—"
    env.filters["share"] = lambda v: f"{100 * float(v):.1f} %" if v is not None else "—"
    env.filters["rate"] = lambda v: f"{float(v):.3f}" if v is not None else "—"
    html = env.get_template("report.html.j2").render(
        est=est,
        workspace=workspace,
        charts=CHARTS,
        tables=TABLES,
        top=est.by_vendor[:15],
    )
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    written[index.name] = index
    return written
