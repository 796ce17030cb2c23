"""`spector sim generate | serve | score`, and the range step of `spector demo`."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from spector.cli.common import DemoContext, Groups, WorkspaceOpt, console, demo_step, open_workspace
from spector.errors import UsageError

__all__ = ["register"]

app = typer.Typer(
    help="The training range: synthetic markets, their chain and the truth.", no_args_is_help=True
)


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Empty or new folder to write the range into.")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same files.")] = 7,
    scale: Annotated[str, typer.Option(help="tiny, small or hydra.")] = "tiny",
) -> None:
    """Generate a world, its payment chain, a seized-server export and the truth."""
    from spector.sim._generate import generate as run

    with console.status(f"generating the {scale} range (seed {seed})"):
        truth = run(seed, scale, out)
    c = truth["counts"]
    console.print(
        f"wrote {out}: {c['markets']} markets, {c['vendor_accounts']:,} vendor accounts, "
        f"{c['listings']:,} listings, {c['sales']:,} sales, {c['feedback']:,} feedback, "
        f"{c.get('transactions', 0):,} transactions in {c.get('blocks', 0):,} blocks"
    )


@app.command()
def serve(
    out: Annotated[Path, typer.Argument(help="A folder written by `spector sim generate`.")],
    socks_port: Annotated[int, typer.Option(help="SOCKS5 port on 127.0.0.1.")] = 9050,
    http_port: Annotated[int, typer.Option(help="HTTP port on 127.0.0.1 (0: any free).")] = 0,
    day: Annotated[int | None, typer.Option(help="Simulated day (default: the last).")] = None,
    latency: Annotated[float, typer.Option(help="Seconds added to every response.")] = 0.0,
    slow_share: Annotated[float, typer.Option(help="Share of responses delayed 2 s more.")] = 0.0,
    error_share: Annotated[float, typer.Option(help="Share of responses that are a 503.")] = 0.0,
    session_requests: Annotated[
        int, typer.Option(help="Requests before a session expires (0: never).")
    ] = 0,
    rate: Annotated[
        float, typer.Option(help="Requests/s per session before 429 (0: no limit).")
    ] = 0.0,
) -> None:
    """Serve every market as an onion site behind a SOCKS5 proxy until stopped."""
    from spector.sim._range import load_range, run_servers
    from spector.sim._server import ServeOptions

    for name, share in (("slow-share", slow_share), ("error-share", error_share)):
        if not 0.0 <= share <= 1.0:
            raise UsageError(f"--{name} {share}", expected="a share between 0 and 1")
    if latency < 0 or rate < 0 or session_requests < 0:
        raise UsageError("--latency, --rate and --session-requests cannot be negative")
    loaded = load_range(out)
    last = int(loaded.truth["day"])
    options = ServeOptions(
        day=last if day is None else day,
        latency=latency,
        slow_share=slow_share,
        error_share=error_share,
        session_requests=session_requests,
        rate_per_second=rate,
    )
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready(socks: int, http: int, *_: object) -> None:
            print(f"ready socks5h://127.0.0.1:{socks}", flush=True)
            console.print(
                f"admin: POST http://127.0.0.1:{http}/_admin/day?d=N (day {options.day})",
                highlight=False,
            )

        try:
            await run_servers(
                loaded, options, socks_port=socks_port, http_port=http_port, ready=ready, stop=stop
            )
        except OSError as exc:
            raise UsageError(
                f"cannot listen: {exc.strerror}", where=f"127.0.0.1:{socks_port}"
            ) from exc

    asyncio.run(main())


@app.command()
def score(
    out: Annotated[Path, typer.Argument(help="The range the workspace crawled.")],
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compare what a workspace found with the range's truth, per stage.

    Extraction is scored field by field (recall, precision, field accuracy, per record kind and per market family, with the counts behind each figure) over what a crawl can see on the range's last day, and the seized server's import against its export.
    """  # noqa: E501 - Typer shows a docstring's line breaks as they are
    from spector.sim._score import score as run
    from spector.sim._score_report import score_lines

    with open_workspace(workspace) as ws:
        result = run(out, ws)
    if as_json:
        print(json.dumps(result, sort_keys=True))
    else:
        for line in score_lines(result):
            console.print(line, highlight=False, markup=False, soft_wrap=True)


@demo_step(10, "training range")
def _demo_range(ctx: DemoContext) -> str:
    from spector.sim._generate import generate as run
    from spector.sim._range import RangeServer, read_truth

    out = ctx.workspace.range_dir
    if (out / "truth.json").is_file():
        truth = read_truth(out)
        if (truth["seed"], truth["scale"]) != (ctx.seed, ctx.scale):
            raise UsageError(
                f"{out} holds a range of seed {truth['seed']} scale {truth['scale']}",
                hint="use another workspace for another seed or scale",
            )
    else:
        truth = run(ctx.seed, ctx.scale, out)
    server = RangeServer(out).start()
    ctx.cleanups.append(server.stop)
    ctx.shared["range"] = server
    c = truth["counts"]
    return (
        f"{c['markets']} markets, {c['vendor_accounts']} accounts, {c['listings']} listings, "
        f"{c['feedback']} feedback, {c.get('blocks', 0)} blocks; serving at {server.proxy_url}"
    )


@demo_step(90, "score against the truth")
def _demo_score(ctx: DemoContext) -> str:
    from spector.sim._score import score as run
    from spector.sim._score_report import score_lines

    result = run(ctx.workspace.range_dir, ctx.workspace)
    first, *rest = score_lines(result, families=False)
    return "\n".join([first, *(f"      {line}" for line in rest)])


def register(root: typer.Typer, groups: Groups) -> None:
    root.add_typer(app, name="sim")
