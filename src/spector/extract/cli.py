"""`spector selectors scan FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from spector.cli.common import (
    DemoContext,
    Groups,
    WorkspaceOpt,
    console,
    demo_step,
    open_workspace,
)
from spector.errors import InputError

if TYPE_CHECKING:
    from spector.extract._csv import ImportReport
    from spector.extract._run import ExtractReport

__all__ = ["register", "summary_lines"]


def scan(
    file: Annotated[
        Path, typer.Argument(help="A text or HTML file (any encoding: declared, or detected).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Every selector in FILE: kind, normalised value, start and end (character offsets).

    Offsets count characters of the decoded file. Historical kinds (v2 onions) are
    reported under their own kind and marked as such in the text output.
    """
    from spector.extract._selectors import read_text, scan_text
    from spector.model import selector_kind

    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=file) from exc
    found = scan_text(read_text(raw))
    for item in found:
        if as_json:
            row = {"kind": item.kind, "value": item.value, "start": item.start, "end": item.end}
            print(json.dumps(row, ensure_ascii=False))
        else:
            mark = "  (historical)" if selector_kind(item.kind).historical else ""
            console.print(
                f"{item.start:>8}-{item.end:<8} {item.kind:<16} {item.value}{mark}",
                highlight=False,
                markup=False,
            )
    if not as_json:
        console.print(f"{len(found)} selectors in {file.name}", highlight=False, markup=False)


def score(
    folder: Annotated[
        Path, typer.Argument(help="Texts (*.html, *.txt), each with NAME.expected.json beside it.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Precision and recall of `selectors scan` on an annotated corpus, per kind."""
    from spector.extract._selector_eval import load_corpus, measure

    result = measure(load_corpus(folder))
    if as_json:
        print(json.dumps(result.as_dict(), sort_keys=True))
        return
    for kind, k in sorted(result.by_kind.items()):
        console.print(
            f"{kind:<16} precision {k.precision:.3f} ({k.tp}/{k.tp + k.fp})  "
            f"recall {k.recall:.3f} ({k.tp}/{k.tp + k.fn})",
            highlight=False,
        )
    for doc, kind, value in result.spurious:
        console.print(f"spurious {doc}: {kind} {value}", highlight=False, markup=False)
    for doc, kind, value in result.missed:
        console.print(f"missed   {doc}: {kind} {value}", highlight=False, markup=False)
    t = result.total
    console.print(
        f"{result.documents} documents: precision {t.precision:.3f}, recall {t.recall:.3f} "
        f"({t.tp} found of {t.tp + t.fn} expected, {t.fp} spurious)",
        highlight=False,
    )


def import_csv_cmd(
    files: Annotated[list[Path], typer.Argument(help="CSV files of listings (one run).")],
    mapping: Annotated[
        str, typer.Option(help="A ready mapping (agora-2014, dnm-2017) or a mapping file.")
    ],
    market: Annotated[
        str | None, typer.Option(help="The market's name (default: the mapping's).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON report per file.")] = False,
) -> None:
    """Import listings, vendors and feedback from CSV dumps with a mapping.

    Exits 2 when a file has rows and none of them could be imported."""
    _import_dumps(files, mapping, market, workspace, as_json, "csv")


def import_jsonl_cmd(
    files: Annotated[list[Path], typer.Argument(help="JSON-lines files of listings.")],
    mapping: Annotated[
        str, typer.Option(help="A ready mapping or a mapping file (keys as columns).")
    ],
    market: Annotated[
        str | None, typer.Option(help="The market's name (default: the mapping's).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON report per file.")] = False,
) -> None:
    """Import listings, vendors and feedback from JSON lines with a mapping.

    Exits 2 when a file has lines and none of them could be imported."""
    _import_dumps(files, mapping, market, workspace, as_json, "jsonl")


def _import_dumps(
    files: list[Path],
    mapping: str,
    market: str | None,
    workspace: Path | None,
    as_json: bool,
    kind: Literal["csv", "jsonl"],
) -> None:
    from spector.extract._csv import import_files, load_mapping

    unit = "rows" if kind == "csv" else "lines"

    def show(report: ImportReport) -> None:
        if as_json:
            print(json.dumps(report.as_dict(), sort_keys=True, ensure_ascii=False))
            return
        sold = (
            f", {report.sold_total:,} sold ({report.with_sales:,} listings with sales)"
            if report.sold_total or report.with_sales
            else ""
        )
        again = report.feedback_seen - len(report.feedback)
        console.print(
            f"imported {report.imported:,} of {report.rows:,} {unit} from {report.file}: "
            f"{len(report.vendors):,} vendors, {len(report.listings):,} listings, "
            f"{len(report.feedback):,} feedback"
            + (f" ({again:,} seen again)" if again else "")
            + f"{sold}; {report.encoding} "
            f"({report.encoding_basis}), observed {', '.join(sorted(report.observed)) or '-'} "
            f"({report.time_basis}); {report.errors:,} {unit} in `spector extract errors`",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for line in _unresolved_lines(report):
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
        if report.encoding_note:
            console.print(
                f"  encoding: {report.encoding_note}", markup=False, highlight=False, soft_wrap=True
            )

    loaded = load_mapping(mapping)
    with open_workspace(workspace, write=True) as ws, console.status("importing"):
        reports = import_files(ws.store, files, loaded, kind=kind, market=market, on_report=show)
    if len(reports) > 1 and not as_json:
        console.print(
            f"imported {sum(r.imported for r in reports):,} of "
            f"{sum(r.rows for r in reports):,} {unit} from {len(reports)} files; "
            f"{sum(r.errors for r in reports):,} {unit} in `spector extract errors`",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    failed = [r for r in reports if r.failed]
    if failed:
        raise InputError(
            f"none of the {failed[0].rows:,} {unit} could be imported ({failed[0].first_error})"
            + (f", nor any of {len(failed) - 1} more files" if len(failed) > 1 else ""),
            where=failed[0].path,
            expected="rows the mapping can read",
            hint="see `spector extract errors`",
        )


# What to add to the mapping so that values of a kind resolve.
_REMEDY = {
    "country": "add them to [listing] country_aliases",
    "category": "add them to [listing] category_aliases",
    "sold": "give [listing] sold a pattern with groups count and since",
    "stock": "give [listing] stock a pattern",
}


def _unresolved_lines(report: ImportReport) -> list[str]:
    """One line per kind of value stored as NULL because it did not resolve: how many,
    the commonest examples, and what to add to the mapping."""
    lines = []
    for what, top in report.unresolved_examples().items():
        shown = ", ".join(f"{v!r}" + (f" ×{n:,}" if n > 1 else "") for v, n in top)
        remedy = _REMEDY.get(what)
        lines.append(
            f"unresolved {what} (stored as no value): {report.unresolved[what]:,}"
            + (f", e.g. {shown}" if shown else "")
            + (f"; {remedy}" if remedy else "")
        )
    return lines


def import_rates_cmd(
    file: Annotated[Path, typer.Argument(help="Parquet or CSV: currency, usd_per_unit, date|day.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Import exchange rates (USD per unit and day) used to price listings in USD."""
    from spector.extract._rates import import_rates

    with open_workspace(workspace, write=True) as ws:
        n = import_rates(ws.store, file)
    console.print(f"imported {n:,} rates from {file.name}")


def import_seized_cmd(
    folder: Annotated[
        Path, typer.Argument(help="A seized market's export: users/listings/orders/messages CSV.")
    ],
    market: Annotated[str, typer.Option(help="The market's name.")],
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a seized market's database export; orders' pay-to addresses become selectors."""
    from spector.extract._seized import import_seized

    with open_workspace(workspace, write=True) as ws:
        report = import_seized(ws.store, folder, market)
    if as_json:
        print(json.dumps(report, sort_keys=True))
    else:
        console.print(
            f"imported {market}: {report['vendors']} vendors, {report['listings']} listings, "
            f"{report['orders']} orders ({report['orders_with_payto']} with a pay-to address), "
            f"{report['messages']} messages counted; {report['errors']} errors"
        )


extract_app = typer.Typer(help="Extraction: records from captures and dumps.")


@extract_app.callback(invoke_without_command=True)
def extract(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    processes: Annotated[
        int, typer.Option(help="Processes parsing pages (default: all cores).")
    ] = 0,
    templates: Annotated[
        list[Path] | None,
        typer.Option(help="A folder of templates (*.toml) beside the workspace's templates/."),
    ] = None,
) -> None:
    """Extract every capture not yet extracted with its template's current version."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    from spector.extract._run import extract_captures

    with open_workspace(workspace, write=True) as ws, console.status("extracting captures"):
        report = extract_captures(
            ws, processes=processes or os.cpu_count() or 1, template_dirs=templates or ()
        )
    for note in report.overrides:
        console.print(f"template: {note}", markup=False, highlight=False, soft_wrap=True)
    for skipped in report.skipped_templates:
        console.print(f"skipped template: {skipped}", markup=False, highlight=False, soft_wrap=True)
    for line in summary_lines(report):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


_SHOWN_MARKETS = 5  # markets no template claims, named one per line


def summary_lines(report: ExtractReport) -> list[str]:
    """What `spector extract` says of a run: the counts, then the pages no template covers
    that a person should know of: of markets no template claims (with what to do), and
    imported pages their template has no page kind for (a few URL paths of each)."""
    lines = [
        f"extracted {report.extracted:,} of {report.captures:,} new captures into "
        f"{_count(report.records, 'record')}; {_count(report.skipped, 'page')} no template "
        f"covers; {_count(report.errors, 'error')} (`spector extract errors`)"
    ]
    unclaimed = sorted(report.unclaimed.items(), key=lambda m: (-m[1], m[0]))
    for market, pages in unclaimed[:_SHOWN_MARKETS]:
        lines.append(
            f"  {_count(pages, 'page')} of {market}: no template claims the market "
            "(none lists its host or matches its pages)"
        )
    if len(unclaimed) > _SHOWN_MARKETS:
        rest = unclaimed[_SHOWN_MARKETS:]
        lines.append(
            f"  ... {_count(sum(n for _, n in rest), 'page')} of "
            f"{_count(len(rest), 'more market')} no template claims"
        )
    if unclaimed:
        lines.append(
            "  `spector template list` shows the templates in effect; give one at import "
            "(`spector import pages … --template NAME`), or write one (docs/templates.md)"
        )
    for name, found in sorted(report.uncovered.items()):
        more = ", …" if found.count > len(found.examples) else ""
        lines.append(
            f"  {name} has no page kind for {_count(found.count, 'imported page')} (no page "
            f"kind's url or detect matched): {', '.join(found.examples)}{more}; each is in "
            f"`spector extract errors`, and `spector template test {name.partition('@')[0]} "
            "PAGE --url URL` shows why"
        )
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@extract_app.command("errors")
def errors(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """What extraction could not read: the capture or row, and why."""
    with open_workspace(workspace) as ws:
        rows = ws.store.con.execute(
            "SELECT source, ref, stage, reason FROM extraction_errors ORDER BY source, ref"
        ).fetchall()
    for source, ref, stage, reason in rows:
        if as_json:
            print(json.dumps({"source": source, "ref": ref, "stage": stage, "reason": reason}))
        else:
            console.print(f"{source} {ref} [{stage}] {reason}", markup=False, highlight=False)
    if not as_json:
        console.print(f"{len(rows)} extraction errors")


@extract_app.command("selectors")
def extract_selectors(workspace: WorkspaceOpt = None) -> None:
    """Scan every captured page for selectors and store them with where they were seen."""
    from spector.extract._captures import scan_captures

    with open_workspace(workspace, write=True) as ws, console.status("scanning captures"):
        kinds = scan_captures(ws)
    console.print(
        f"{sum(kinds.values()):,} selector sightings: "
        + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common())
    )


@demo_step(35, "import the seized server")
def _demo_seized(ctx: DemoContext) -> str:
    import json as _json

    from spector.extract._seized import import_seized

    truth = _json.loads((ctx.workspace.range_dir / "truth.json").read_text(encoding="utf-8"))
    seized = truth.get("seized_export")
    if not seized:
        return "the range has no seized export"
    name = next(m["name"] for m in truth["markets"] if m["market_id"] == seized["market_id"])
    report = import_seized(ctx.workspace.store, ctx.workspace.range_dir / seized["folder"], name)
    return (
        f"{name}: {report['orders']} orders, {report['orders_with_payto']} pay-to "
        f"addresses now selectors for the chain; {report['vendors']} vendors"
    )


@demo_step(30, "extract the captures")
def _demo_extract(ctx: DemoContext) -> str:
    from spector.extract._captures import scan_captures
    from spector.extract._rates import import_rates
    from spector.extract._run import extract_captures

    import_rates(ctx.workspace.store, ctx.workspace.range_dir / "world" / "rates.parquet")
    report = extract_captures(ctx.workspace)
    kinds = scan_captures(ctx.workspace)
    found = ", ".join(f"{k} {n:,}" for k, n in kinds.most_common())
    return (
        f"{report.extracted:,} pages into {report.records:,} records, {report.errors} errors; "
        f"{sum(kinds.values()):,} selector sightings ({found})"
    )


def register(app: typer.Typer, groups: Groups) -> None:
    groups.selectors.command()(scan)
    groups.selectors.command()(score)
    groups.import_.command("csv")(import_csv_cmd)
    groups.import_.command("seized")(import_seized_cmd)
    groups.import_.command("jsonl")(import_jsonl_cmd)
    groups.import_.command("rates")(import_rates_cmd)
    app.add_typer(extract_app, name="extract")
    from spector.extract._template_cli import template_app

    app.add_typer(template_app, name="template")
