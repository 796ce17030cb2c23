"""`spector crawl …`, `spector captcha …`, `spector captures …`, and the demo's crawl step."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from spector.cli.common import (
    DemoContext,
    Groups,
    WorkspaceOpt,
    console,
    demo_step,
    find_workspace,
    open_workspace,
)
from spector.errors import UsageError

__all__ = ["register"]

crawl_app = typer.Typer(
    help="Crawl market sites over Tor into WARC evidence.", no_args_is_help=True
)
captcha_app = typer.Typer(help="CAPTCHAs waiting for a human.", no_args_is_help=True)
captures_app = typer.Typer(help="The capture index.", no_args_is_help=True)

ProxyOpt = Annotated[str, typer.Option(help="Tor SocksPort (names resolve remotely).")]
BlocklistOpt = Annotated[
    Path | None,
    typer.Option(help="File of onion hosts never to fetch: names, SHA-256 or MD5 (Ahmia's list)."),
]
TorControlOpt = Annotated[
    str | None,
    typer.Option(
        help="Tor's ControlPort HOST:PORT: ask for new circuits when a site keeps failing."
    ),
]
TorPasswordOpt = Annotated[
    str | None,
    typer.Option(
        envvar="SPECTOR_TOR_PASSWORD", help="ControlPort password (or $SPECTOR_TOR_PASSWORD)."
    ),
]


def _options(tor_control: str | None, tor_password: str | None):  # type: ignore[no-untyped-def]
    from spector.collect import CrawlOptions
    from spector.collect._tor import parse_control

    if tor_control:
        parse_control(tor_control)
    return CrawlOptions(tor_control=tor_control, tor_password=tor_password)


@crawl_app.command("start")
def crawl_start(
    profiles: Annotated[list[Path], typer.Argument(help="Site profiles (TOML or YAML).")],
    proxy: ProxyOpt = "socks5h://127.0.0.1:9050",
    workspace: WorkspaceOpt = None,
    blocklist: BlocklistOpt = None,
    tor_control: TorControlOpt = None,
    tor_password: TorPasswordOpt = None,
) -> None:
    """Crawl the sites of PROFILE… until done (or `spector crawl stop`)."""
    from spector.collect._run import start_crawl

    root = find_workspace(workspace)
    options = _options(tor_control, tor_password)
    with console.status("crawling (see `spector crawl status` in another terminal)"):
        summary = start_crawl(root, profiles, proxy=proxy, blocklist=blocklist, options=options)
    _report(root, summary)


@crawl_app.command("resume")
def crawl_resume(
    workspace: WorkspaceOpt = None,
    proxy: Annotated[str | None, typer.Option(help="Override the proxy of the run.")] = None,
    blocklist: BlocklistOpt = None,
    tor_control: TorControlOpt = None,
    tor_password: TorPasswordOpt = None,
) -> None:
    """Continue the last crawl where it stopped or was killed."""
    from spector.collect._run import resume_crawl

    root = find_workspace(workspace)
    options = _options(tor_control, tor_password)
    with console.status("resuming the crawl"):
        summary = resume_crawl(root, proxy=proxy, blocklist=blocklist, options=options)
    _report(root, summary)


@crawl_app.command("stop")
def crawl_stop(workspace: WorkspaceOpt = None) -> None:
    """Ask the running crawl to stop after the requests in flight."""
    from spector.collect._run import state_for

    state = state_for(find_workspace(workspace))
    try:
        run = state.request_stop()
    finally:
        state.close()
    if run is None:
        raise UsageError("no crawl is running")
    console.print(f"stop requested for crawl run {run}")


@crawl_app.command("status")
def crawl_status(
    workspace: WorkspaceOpt = None,
    watch: Annotated[bool, typer.Option(help="Refresh every second until Ctrl-C.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Per site: pages, errors, queue, pages in the last minute, CAPTCHA waiting."""
    from spector.collect._run import state_for

    state = state_for(find_workspace(workspace))
    try:
        run = state.last_run()
        if run is None:
            raise UsageError("no crawl in this workspace yet")
        if as_json:
            print(
                json.dumps(
                    {
                        "run": run["run_id"],
                        "status": run["status"],
                        "sites": state.site_status(run["run_id"]),
                        "bounds": state.bounds(run["run_id"]),
                    }
                )
            )
            return
        if not watch:
            console.print(_status_table(state, run))
            return
        with Live(_status_table(state, run), console=console, refresh_per_second=2) as live:
            while True:
                time.sleep(1)
                run = state.last_run() or run
                live.update(_status_table(state, run))
    except KeyboardInterrupt:
        pass
    finally:
        state.close()


def _status_table(state, run) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title=f"crawl run {run['run_id']}: {run['status']}")
    for col in ("site", "pages", "errors", "queue", "pages/min", "CAPTCHA"):
        table.add_column(col, justify="left" if col == "site" else "right")
    for s in state.site_status(run["run_id"]):
        table.add_row(
            s["site"],
            f"{s['pages']:,}",
            str(s["errors"]),
            f"{s['queue']:,}",
            str(s["rate_per_min"]),
            "waiting" if s["captcha"] else "",
        )
    return table


def _report(root: Path, summary: dict[str, object]) -> None:
    from spector.collect._run import state_for

    state = state_for(root)
    try:
        run = state.last_run()
        assert run is not None  # noqa: S101 - a crawl just ran
        sites = state.site_status(run["run_id"])
    finally:
        state.close()
    pages = sum(s["pages"] for s in sites)
    errors = sum(s["errors"] for s in sites)
    state_word = "stopped" if summary.get("stopped") else "finished"
    console.print(f"crawl {state_word}: {pages:,} pages from {len(sites)} sites, {errors} errors")
    for site, why in dict(summary.get("failed") or {}).items():  # type: ignore[call-overload]
        console.print(f"  {site}: {why}")
    bounds: dict[str, dict[str, dict[str, object]]] = summary.get("bounds") or {}  # type: ignore[assignment]
    for site, hit in bounds.items():
        for bound, seen in hit.items():
            console.print(
                f"  {site}: bound {bound} = {seen['max']} hit {seen['hits']:,} times "
                f"(e.g. {seen['example']})",
                highlight=False,
                markup=False,
            )


@captcha_app.command("list")
def captcha_list(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """CAPTCHAs a crawl is waiting on (open the image, then `spector captcha solve`)."""
    from spector.collect._run import state_for

    state = state_for(find_workspace(workspace))
    try:
        pending = state.pending_captchas()
    finally:
        state.close()
    for c in pending:
        if as_json:
            print(json.dumps({"id": c["id"], "site": c["site"], "image_path": c["image_path"]}))
        else:
            console.print(f"{c['id']}  {c['site']}  {c['image_path']}", highlight=False)
    if not pending and not as_json:
        console.print("no CAPTCHA waiting")


@captcha_app.command("solve")
def captcha_solve(
    captcha_id: Annotated[str, typer.Argument(metavar="ID")],
    answer: Annotated[str, typer.Argument(metavar="ANSWER")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Answer a waiting CAPTCHA; the crawl of its site resumes."""
    from spector.collect._run import state_for

    state = state_for(find_workspace(workspace))
    try:
        ok = state.solve_captcha(captcha_id, answer.strip())
    finally:
        state.close()
    if not ok:
        raise UsageError(f"no waiting CAPTCHA {captcha_id!r}", hint="see `spector captcha list`")
    console.print(f"answered {captcha_id}")


@captures_app.command("list")
def captures_list(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
) -> None:
    """Every capture in the index (crawled or imported), with its payload's SHA-256 and
    where it came from (`source`, `source_file`, `time_basis`)."""
    from spector.collect import list_captures

    with open_workspace(workspace) as ws:
        items = list_captures(ws.store, site=site)
    for item in items:
        if as_json:
            print(json.dumps(item))
        else:
            console.print(f"{item['fetched_at']} {item['status']} {item['url']}", highlight=False)
    if not as_json:
        console.print(f"{len(items):,} captures")


@captures_app.command("show")
def captures_show(
    url: Annotated[str, typer.Argument(help="The URL of a capture.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """The newest capture of URL: index entry, and the page from the WARC file."""
    from spector.collect._warc import read_stored

    with open_workspace(workspace) as ws:
        fields = ("url", "host", "status", "sha256", "warc_file", "warc_offset", "fetched_at")
        row = ws.store.con.execute(
            f"SELECT {', '.join(fields)}, record_type FROM captures WHERE url = ? "
            "AND warc_file IS NOT NULL ORDER BY fetched_at DESC LIMIT 1",
            [url],
        ).fetchone()
        root = ws.root
    if row is None:
        raise UsageError(f"no capture of {url}")
    item = dict(zip((*fields, "record_type"), row, strict=True))
    console.print_json(json.dumps(item, default=str))
    body = read_stored(root / item["warc_file"], item["warc_offset"]).body[:4000]
    console.print(body.decode("utf-8", "replace"), markup=False, highlight=False)


def import_pages_cmd(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Saved pages, mirror folders (wget, HTTrack), WARC / WARC.gz files.",
            metavar="PATH",
            show_default=False,
        ),
    ],
    market: Annotated[
        str | None,
        typer.Option(help="The market's name; every host of this import is one of its mirrors."),
    ] = None,
    url_prefix: Annotated[
        str | None,
        typer.Option(help="The URL of PATH: a file's URL is this and its path below PATH."),
    ] = None,
    observed_at: Annotated[
        str | None,
        typer.Option(
            help="When the pages were seen (ISO 8601, UTC); a WARC's own dates come first, "
            "the files' modification time is used without it."
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(help="The template the market's pages follow (`spector extract` uses it)."),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option(help="Count and skip bad files instead of stopping at the first.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import saved pages, wget / HTTrack mirrors and other crawlers' WARCs as captures."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from spector.collect import ImportOptions, import_pages, parse_observed_at

    options = ImportOptions(
        market=market,
        url_prefix=url_prefix,
        observed_at=parse_observed_at(observed_at) if observed_at is not None else None,
        template=template,
        skip_bad=skip_bad,
    )
    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[pages]:,} pages"),
    )
    with (
        open_workspace(workspace, write=True) as ws,
        Progress(
            *columns, console=console, transient=True, disable=as_json or not console.is_terminal
        ) as bar,
    ):
        if template is not None:
            _check_template(ws.root, template)
        task = bar.add_task("import", total=None, pages=0)

        def advance(done: int, total: int, pages: int) -> None:
            bar.update(task, completed=done, total=total, pages=pages)

        report = import_pages(ws, paths, options, progress=advance)
    if as_json:
        print(json.dumps(report.as_dict(), sort_keys=True))
        return
    revisits = f" ({report.revisits:,} revisits)" if report.revisits else ""
    console.print(
        f"imported {_count(report.imported, 'page')}{revisits} from "
        f"{_count(report.files, 'file')}; {report.already:,} already imported, "
        f"{sum(report.skipped.values()):,} not pages, {report.bad_count:,} bad skipped",
        highlight=False,
        soft_wrap=True,
    )
    for m in report.markets:
        onions = ", ".join(
            f"{o} (v2, historical)" if o in m.historical_onions else o for o in m.onions
        )
        family = (
            f"template {m.family}"
            if m.family
            else "template chosen by `spector extract` (by host or page), or give --template"
        )
        console.print(
            f"  {m.name}: {_count(m.pages, 'page')}, {family}; {onions or 'no onion'}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    for where, why in report.bad[:10]:
        console.print(f"  bad: {where}: {why}", highlight=False, markup=False, soft_wrap=True)
    if len(report.bad) > 10:
        console.print(f"  ... {len(report.bad) - 10:,} more (see --json)", highlight=False)


def _check_template(root: Path, name: str) -> None:
    """``--template`` must name a template in effect for the workspace (before any import)."""
    from spector.extract import load_templates

    known = load_templates(root)
    if known.get(name) is None:
        families = sorted(t.family for t in known.all())
        raise UsageError(
            f"--template {name!r} is no template in effect",
            expected=", ".join(families),
            hint="`spector template list` shows them",
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@demo_step(20, "crawl the range")
def _demo_crawl(ctx: DemoContext) -> str:
    from spector.collect._run import start_crawl, state_for
    from spector.sim import RangeServer

    server = ctx.shared["range"]
    assert isinstance(server, RangeServer)  # noqa: S101 - the range step put it there
    truth, proxy = server.loaded.truth, server.proxy_url
    root = ctx.workspace.root
    out = ctx.workspace.range_dir
    profiles = [out / m["profile"] for m in truth["markets"]]
    stop = threading.Event()
    human = threading.Thread(
        target=_stand_in_human, args=(root, truth["captchas"], stop), daemon=True
    )
    human.start()
    ctx.workspace.close()  # the crawler publishes into the store itself
    try:
        start_crawl(root, profiles, proxy=proxy)
    finally:
        stop.set()
        human.join(5)
        ctx.reopen()
    state = state_for(root)
    try:
        run = state.last_run()
        sites = state.site_status(run["run_id"]) if run else []
    finally:
        state.close()
    return (
        f"{sum(s['pages'] for s in sites):,} pages from {len(sites)} sites over "
        f"{proxy}; CAPTCHAs solved from the range's truth"
    )


def _stand_in_human(root: Path, answers: dict[str, str], stop: threading.Event) -> None:
    """Stands in for the analyst: looks each CAPTCHA picture up in the range's truth."""
    from spector.collect._run import state_for

    state = state_for(root)
    try:
        while not stop.is_set():
            for c in state.pending_captchas():
                digest = hashlib.sha256(Path(c["image_path"]).read_bytes()).hexdigest()
                if digest in answers:
                    state.solve_captcha(c["id"], answers[digest])
            stop.wait(0.2)
    finally:
        state.close()


def register(root: typer.Typer, groups: Groups) -> None:
    root.add_typer(crawl_app, name="crawl")
    root.add_typer(captcha_app, name="captcha")
    root.add_typer(captures_app, name="captures")
    groups.import_.command("pages")(import_pages_cmd)
