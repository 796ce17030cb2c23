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

from spector.cli.common import DemoContext, Groups, WorkspaceOpt, console, demo_step, open_workspace
from spector.errors import UsageError
from spector.store import find_workspace

__all__ = ["register"]

crawl_app = typer.Typer(
    help="Crawl market sites over Tor into WARC evidence.", no_args_is_help=True
)
captcha_app = typer.Typer(help="CAPTCHAs waiting for a human.", no_args_is_help=True)
captures_app = typer.Typer(help="The capture index.", no_args_is_help=True)

ProxyOpt = Annotated[str, typer.Option(help="Tor SocksPort (names resolve remotely).")]
BlocklistOpt = Annotated[
    Path | None, typer.Option(help="File of SHA-256 of host names never to fetch (Ahmia style).")
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


_CAPTURE_FIELDS = ("url", "host", "status", "sha256", "warc_file", "warc_offset", "fetched_at")


@captures_app.command("list")
def captures_list(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
) -> None:
    """Every capture in the index (published by the crawler into the store)."""
    with open_workspace(workspace) as ws:
        sql = (
            f"SELECT {', '.join(_CAPTURE_FIELDS)}, site, record_type, reason FROM captures"
            + (" WHERE site = ?" if site else "")
            + " ORDER BY fetched_at, url"
        )
        rows = ws.store.con.execute(sql, [site] if site else []).fetchall()
    for row in rows:
        item = dict(zip((*_CAPTURE_FIELDS, "site", "record_type", "reason"), row, strict=True))
        item["fetched_at"] = item["fetched_at"].isoformat() + "Z"
        if as_json:
            print(json.dumps(item))
        else:
            console.print(f"{item['fetched_at']} {item['status']} {item['url']}", highlight=False)
    if not as_json:
        console.print(f"{len(rows):,} captures")


@captures_app.command("show")
def captures_show(
    url: Annotated[str, typer.Argument(help="The URL of a capture.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """The newest capture of URL: index entry, and the page from the WARC file."""
    from spector.collect._warc import read_stored

    with open_workspace(workspace) as ws:
        row = ws.store.con.execute(
            f"SELECT {', '.join(_CAPTURE_FIELDS)}, record_type FROM captures WHERE url = ? "
            "AND warc_file IS NOT NULL ORDER BY fetched_at DESC LIMIT 1",
            [url],
        ).fetchone()
        root = ws.root
    if row is None:
        raise UsageError(f"no capture of {url}")
    item = dict(zip((*_CAPTURE_FIELDS, "record_type"), row, strict=True))
    console.print_json(json.dumps(item, default=str))
    body = read_stored(root / item["warc_file"], item["warc_offset"]).body[:4000]
    console.print(body.decode("utf-8", "replace"), markup=False, highlight=False)


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
