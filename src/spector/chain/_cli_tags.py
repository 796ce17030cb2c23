"""`spector chain tags import|export|list|conflicts|derive|add|remove|taxonomy`, and the
demo's tag step.

The work is done by ``spector.chain._tags*`` (the same functions the web app and the
tracer call); this module parses arguments and prints.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from spector.cli.common import DemoContext, WorkspaceOpt, console, demo_step, open_workspace
from spector.errors import UsageError

__all__ = ["register"]

tags_app = typer.Typer(
    help="Attribution tags: GraphSense TagPacks and ActorPacks, and tags from our own data.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print as JSON.")]


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@tags_app.command("import")
def import_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="TagPack / ActorPack YAML files, or folders of them.",
            metavar="FILE...",
            show_default=False,
        ),
    ],
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Report packs that break the schema and import the rest."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show GraphSense's warnings.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate packs against GraphSense's schema and taxonomies, then import them.

    Every file is checked before anything is stored: a pack that breaks the schema stops the command (one error naming file, line and field; nothing imported from any file), unless --skip-bad. Importing a pack again replaces its tags.
    """  # noqa: E501 - Typer shows a docstring's line breaks as they are
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from spector.chain._tags_import import import_packs

    bars = Progress(
        TextColumn("validating"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,
    )
    with open_workspace(workspace, write=True) as ws, bars:
        task = bars.add_task("packs", total=None)
        report = import_packs(
            ws,
            files,
            skip_bad=skip_bad,
            progress=lambda n, total: bars.update(task, completed=n, total=total),
        )
    if as_json:
        print(json.dumps(report.as_dict(), sort_keys=True))
        return
    for pack in report.imported:
        _print(f"imported {pack.entries:,} {pack.noun} from {pack.file.name}")
        if pack.duplicates:
            _print(f"  {pack.duplicates:,} duplicate {pack.noun} in {pack.file.name} stored once")
        for warning in pack.warnings if verbose else ():
            _print(f"  warning: {warning}")
    for file, error in report.bad:
        _print(f"skipped {file.name}: {error}")


@tags_app.command("export")
def export_cmd(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the TagPack here (default: print it).")
    ] = None,
    clusters: Annotated[
        bool, typer.Option("--clusters", help="Also tag every address of each tagged cluster.")
    ] = False,
    creator: Annotated[
        str, typer.Option(help="The pack's creator (you or your unit).")
    ] = "Spector",
    workspace: WorkspaceOpt = None,
) -> None:
    """Our own tags (web crawl, seized data, analysts') as a TagPack GraphSense validates."""
    from spector.chain._tags_export import dump_pack, export_pack, write_pack

    with open_workspace(workspace) as ws:
        pack = export_pack(ws.store.con, clusters=clusters, creator=creator)
    if out is None:
        print(dump_pack(pack), end="")
        return
    write_pack(pack, out)
    _print(f"exported {len(pack['tags']):,} tags to {out}")


def _full(header: str) -> Column:
    return Column(header, overflow="fold")


@tags_app.command("list")
def list_cmd(
    label: Annotated[str | None, typer.Option(help="Tags whose label contains this.")] = None,
    category: Annotated[
        str | None, typer.Option(help="A category (exchange, mixer, market...).")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="The tags of this address, its own and its cluster's.")
    ] = None,
    origin: Annotated[
        str | None, typer.Option(help="tagpack, web_crawl, seized_data or analyst.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stored tags, or with --address the tags that apply to one address."""
    from spector.chain._tags import ORIGINS, category_ids, list_tags, tags_for

    if origin is not None and origin not in ORIGINS:
        raise UsageError(f"unknown tag origin {origin!r}", expected=" | ".join(ORIGINS))
    with open_workspace(workspace) as ws:
        con = ws.store.con
        if address is not None:
            from spector.errors import SelectorInvalid
            from spector.model import decode_btc_address

            try:
                canonical = decode_btc_address(address).address
            except SelectorInvalid:
                canonical = address.strip()
            wanted = category_ids([category]) if category else None
            rows: list[dict[str, Any]] = [
                {"address": canonical, **ref.as_dict(), "tagged_address": ref.address}
                for ref in tags_for(con, [canonical])[canonical]
                if (wanted is None or ref.category in wanted)
                and (label is None or label.lower() in ref.label.lower())
                and (origin is None or ref.origin == origin)
            ][:limit]
        else:
            rows = list_tags(con, label=label, category=category, origin=origin, limit=limit)
    if as_json:
        print(json.dumps(rows, sort_keys=True, default=str))
        return
    table = Table(
        _full("address"),
        "label",
        "category",
        "confidence",
        _full("source"),
        "origin",
        *(["via"] if address else []),
    )
    for r in rows:
        table.add_row(
            r["address"] or r.get("tx_hash") or "-",
            r["label"],
            r["category"] or "-",
            f"{r['confidence']} ({r['confidence_level']})",
            r["source"],
            r["origin"],
            *([r["via"]] if address else []),
        )
    console.print(table)
    _print(
        f"{len(rows):,} tags" + (f" (at most {limit:,}: use --limit)" if len(rows) == limit else "")
    )


_PLURAL = {"category": "categories", "label": "labels"}


@tags_app.command("conflicts")
def conflicts_cmd(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Clusters whose tags disagree (an exchange and a mixer; two labels): shown, not hidden."""
    from spector.chain._tags import conflicts

    with open_workspace(workspace) as ws:
        found = conflicts(ws.store.con)
    if as_json:
        print(json.dumps([c.as_dict() for c in found], sort_keys=True, default=str))
        return
    for c in found:
        _print(f"{c.group} ({c.size:,} addresses): tags of different {_PLURAL[c.kind]}")
        for t in c.tags:
            _print(
                f"  {t['label']} [{t['category'] or '-'}] {t['confidence']} "
                f"({t['confidence_level']}) on {t['addresses']:,} addresses, e.g. {t['example']}"
                f"; {t['origin']}: {t['source']}"
            )
    kinds = sum(1 for c in found if c.kind == "category")
    _print(f"{len(found):,} conflicts ({kinds:,} of categories, {len(found) - kinds:,} of labels)")


@tags_app.command("derive")
def derive_cmd(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Tags from our own data: vendors' pay-to addresses and markets' deposit addresses.

    A vendor's pay-to address on crawled pages gives a web_crawl tag, a market's deposit address in seized orders a seized_data tag. Replaces the tags an earlier derive made.
    """  # noqa: E501 - Typer shows a docstring's line breaks as they are
    from spector.chain._tags_derive import derive_tags

    with open_workspace(workspace, write=True) as ws:
        report = derive_tags(ws)
    if as_json:
        print(json.dumps(report.as_dict(), sort_keys=True))
        return
    _print(_derived(report))


def _derived(report: Any) -> str:
    shared = (
        f" ({report.shared:,} addresses shown for several vendors left out)"
        if report.shared
        else ""
    )
    return (
        f"derived {report.web_crawl + report.seized_data:,} tags: {report.web_crawl:,} web_crawl "
        f"(pay-to addresses of {report.vendors:,} vendor accounts, from {report.captures:,} "
        f"captures{shared}), {report.seized_data:,} seized_data (deposit addresses of "
        f"{report.markets:,} markets, from {report.imports:,} seized imports); "
        f"{report.replaced:,} earlier derived tags replaced"
    )


@tags_app.command("add")
def add_cmd(
    address: Annotated[str, typer.Argument(help="A Bitcoin address.")],
    label: Annotated[str, typer.Option(help="Who or what owns it (e.g. the exchange's name).")],
    category: Annotated[str, typer.Option(help="A category: exchange, mixer, market, user...")],
    confidence: Annotated[
        str, typer.Option(help="A confidence id (`spector chain tags taxonomy`).")
    ] = "manual_transaction",
    source: Annotated[str, typer.Option(help="Where you know it from.")] = "analyst",
    why: Annotated[str | None, typer.Option(help="Your reason, kept with the tag.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Tag an address yourself (origin analyst); the same address and label again replaces it."""
    from spector.chain._tags_analyst import AnalystTag, add_tag

    tag = AnalystTag(address, label, category, confidence, source, why)
    with open_workspace(workspace, write=True) as ws:
        canonical = add_tag(ws, tag)
    _print(f"tagged {canonical} as {label} ({category}, {confidence})")


@tags_app.command("remove")
def remove_cmd(
    address: Annotated[str, typer.Argument(help="A Bitcoin address.")],
    label: Annotated[str | None, typer.Option(help="Only the tag of this label.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Remove your own (analyst) tags of an address; imported and derived tags stay."""
    from spector.chain._tags_analyst import remove_tags

    with open_workspace(workspace, write=True) as ws:
        removed = remove_tags(ws, address, label)
    _print(f"removed {removed:,} analyst tags of {address}")


@tags_app.command("taxonomy")
def taxonomy_cmd(as_json: JsonOpt = False) -> None:
    """The confidence levels (GraphSense's, and Spector's extension) and the categories."""
    from spector.chain._tags_schema import confidences, graphsense

    gs = graphsense()
    levels = sorted(confidences().values(), key=lambda c: (-c.level, c.id))
    concepts = gs.concept_ids("concept")
    if as_json:
        rows = [dataclasses.asdict(c) for c in levels]
        print(
            json.dumps(
                {"tagpack_tool": gs.version, "confidence": rows, "categories": concepts},
                sort_keys=True,
            )
        )
        return
    table = Table("confidence", "level", "label", "source", title=f"tagpack-tool {gs.version}")
    for c in levels:
        table.add_row(
            c.id,
            str(c.level),
            c.label,
            "GraphSense" if c.graphsense else f"Spector (exported as {c.export_as})",
        )
    console.print(table)
    _print("categories: " + ", ".join(concepts))


@demo_step(55, "tag the range's services and vendors")
def _demo_tags(ctx: DemoContext) -> str:
    from spector.chain._tags import conflicts, has_clusters
    from spector.chain._tags_derive import derive_tags
    from spector.chain._tags_import import import_packs

    folder = ctx.workspace.range_dir / "chain" / "tags"
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if files:
        report = import_packs(ctx.workspace, files)
        first = f"imported {report.tags:,} tags from {len(files)} range TagPacks"
    else:
        first = f"the range has no TagPacks ({folder} holds no *.yaml)"
    derived = derive_tags(ctx.workspace)
    line = (
        f"{first}; derived {derived.web_crawl:,} vendor pay-to tags (web_crawl) and "
        f"{derived.seized_data:,} market deposit tags (seized_data)"
    )
    con = ctx.workspace.store.con
    if has_clusters(con):
        row = con.execute(
            "SELECT count(DISTINCT c.cluster_id) FROM chain_tags t "
            "JOIN chain_clusters c ON c.address = t.address"
        ).fetchone()
        found = conflicts(con)
        line += f"; {row[0] if row else 0:,} clusters tagged, {len(found):,} with conflicting tags"
    return line


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `spector chain` group."""
    app.add_typer(tags_app, name="tags")
