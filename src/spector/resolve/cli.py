"""`spector resolve [confirm|reject|split|train]` and `spector actor list|show`.

The work is done by the stage's public functions (``resolve``, ``actor_package``, the
decisions, ``train``); this module parses arguments and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from spector.cli.common import Groups, WorkspaceOpt, console, open_workspace

__all__ = ["register"]

resolve_app = typer.Typer(
    help="Link vendor accounts and forum members into actors, with the evidence.",
    invoke_without_command=True,
)
actor_app = typer.Typer(help="Actors and their target packages.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print as JSON.")]
WhyOpt = Annotated[str | None, typer.Option("--why", help="Why (kept with the decision).")]
WhoOpt = Annotated[
    str | None,
    typer.Option("--who", help="Who decides (default: the OS user).", show_default=False),
]
NoApplyOpt = Annotated[
    bool, typer.Option("--no-apply", help="Only record; the next `spector resolve` applies it.")
]


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@resolve_app.callback()
def resolve_cmd(
    ctx: typer.Context,
    threshold: Annotated[
        float | None,
        typer.Option(help="Link pairs scoring at least this (default: the model's).",
                     show_default=False),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="A model file of `spector resolve train` (default: the shipped one).",
                     show_default=False),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Resolve the workspace's accounts into actors (analyst decisions applied)."""
    if ctx.invoked_subcommand is not None:
        return
    from spector.resolve._run import resolve

    with open_workspace(workspace, write=True) as ws:
        result = resolve(ws, threshold=threshold, model=model)
    if as_json:
        print(json.dumps(result.summary(), sort_keys=True))
        return
    for key, size in result.skipped_blocks[:5]:
        _print(f"block too big to pair, skipped: {key} ({size:,} accounts)")
    _print(result.line())


def _apply(ws: Any) -> str:
    """Re-run resolution with the last run's settings; '' when there was none."""
    from spector.resolve._run import last_settings, resolve

    settings = last_settings(ws)
    if settings is None:
        return "recorded (applied by the first `spector resolve`)"
    threshold, model = settings
    return resolve(ws, threshold=threshold, model=model).line()


def _pair_cmd(kind: str, a: str, b: str, why: str | None, who: str | None,
              workspace: Path | None, no_apply: bool, as_json: bool) -> None:  # fmt: skip
    from spector.resolve import _decisions

    record = _decisions.confirm if kind == "confirm" else _decisions.reject
    with open_workspace(workspace, write=True) as ws:
        decision = record(ws, a, b, why=why, who=who)
        line = "recorded (applied by the next `spector resolve`)" if no_apply else _apply(ws)
        actors = {
            str(r[0]): str(r[1])
            for r in ws.store.con.execute(
                "SELECT account_id, actor_id FROM actor_accounts "
                "WHERE list_contains(?, account_id)",
                [[decision.a, decision.b]],
            ).fetchall()
        }
    out = {"kind": kind, "a": decision.a, "b": decision.b, "who": decision.who,
           "at": decision.at.isoformat(timespec="seconds"), "why": decision.why,
           "actors": [actors.get(str(decision.a)), actors.get(str(decision.b))]}  # fmt: skip
    if as_json:
        print(json.dumps(out, sort_keys=True))
        return
    verb = "are one actor" if kind == "confirm" else "are never one actor"
    _print(f"{kind}: {decision.a} and {decision.b} {verb} ({decision.who}); {line}")


@resolve_app.command("confirm")
def confirm_cmd(
    a: Annotated[str, typer.Argument(metavar="A", help="An account id.")],
    b: Annotated[str, typer.Argument(metavar="B", help="Another account id.")],
    why: WhyOpt = None, who: WhoOpt = None, no_apply: NoApplyOpt = False,
    workspace: WorkspaceOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Record that two accounts are one actor (always together), and re-resolve."""
    _pair_cmd("confirm", a, b, why, who, workspace, no_apply, as_json)


@resolve_app.command("reject")
def reject_cmd(
    a: Annotated[str, typer.Argument(metavar="A", help="An account id.")],
    b: Annotated[str, typer.Argument(metavar="B", help="Another account id.")],
    why: WhyOpt = None, who: WhoOpt = None, no_apply: NoApplyOpt = False,
    workspace: WorkspaceOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Record that two accounts are never one actor, and re-resolve."""
    _pair_cmd("reject", a, b, why, who, workspace, no_apply, as_json)


@resolve_app.command("split")
def split_cmd(
    actor: Annotated[str, typer.Argument(metavar="ACTOR", help="An actor id.")],
    why: WhyOpt = None, who: WhoOpt = None, no_apply: NoApplyOpt = False,
    workspace: WorkspaceOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Take an actor apart: its accounts join nothing unless confirmed; re-resolve."""
    from spector.resolve._decisions import split

    with open_workspace(workspace, write=True) as ws:
        members = split(ws, actor, why=why, who=who)
        line = "recorded (applied by the next `spector resolve`)" if no_apply else _apply(ws)
    if as_json:
        print(json.dumps({"kind": "split", "actor_id": actor.strip(), "accounts": members},
                         sort_keys=True))  # fmt: skip
        return
    _print(f"split {actor.strip()}: {len(members):,} accounts taken apart; {line}")


@resolve_app.command("train")
def train_cmd(
    ranges: Annotated[list[Path], typer.Argument(metavar="RANGE_DIR...",
                                                 help="Training ranges (`spector sim generate`).")],
    out: Annotated[Path, typer.Option("--out", help="The model file to write.")],
    decisions: Annotated[
        list[Path] | None,
        typer.Option("--decisions", help="A workspace whose analyst decisions are labels too "
                     "(repeatable).", show_default=False),
    ] = None,
    c: Annotated[float | None, typer.Option(
        "--c", help="Inverse L2 regularisation strength (default: spector.resolve._train.C, 0.1).",
        show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Train the decision model on ranges (their truth as labels) and write it."""
    from spector.errors import UsageError
    from spector.resolve._model import save_model
    from spector.resolve._train import C, decision_set, range_set, train

    c = C if c is None else c
    if c <= 0:
        raise UsageError(f"--c {c} must be > 0")
    sets = [range_set(path) for path in ranges]
    for folder in decisions or []:
        with open_workspace(folder) as ws:
            sets.append(decision_set(ws))
    model = train(sets, c=c)
    save_model(model, out)
    if as_json:
        print(json.dumps(model.as_json(), sort_keys=True))
        return
    for name, figures in model.figures["train"].items():
        parts = [f"links F1 {figures['links']['f1']:.3f}"]
        if "actors" in figures:
            a = figures["actors"]
            parts.append(f"actors P {a['precision']:.3f} R {a['recall']:.3f} F1 {a['f1']:.3f}")
        _print(f"  {name}: " + ", ".join(parts))
    pairs = sum(int(s.meta.get("pairs", 0)) for s in sets)
    _print(f"trained on {pairs:,} labelled pairs from {len(sets)} sources; threshold "
           f"{model.threshold:.2f}; wrote {out}")  # fmt: skip


def _revenue_by_actor(ws: Any) -> dict[str, Any]:
    try:
        from spector.economics import estimate
    except ImportError:
        return {}
    rows = estimate(ws).by_actor or []
    return {str(r["actor_id"]): r.get("revenue_usd") for r in rows}


# `actor list` estimates revenue (spector.economics.estimate, a full pass over the
# workspace's feedback) only up to this many accounts unless asked: at 100,000 accounts
# the estimate takes minutes, and a list of actors should not wait for it.
REVENUE_AUTO_ACCOUNTS = 20_000


@actor_app.command("list")
def list_cmd(
    limit: Annotated[int, typer.Option(help="How many actors to print (0: all).")] = 0,
    revenue: Annotated[bool | None, typer.Option(
        "--revenue/--no-revenue", show_default=False,
        help="Estimate each actor's revenue (spector.economics) or not; default: only for "
             f"workspaces of at most {REVENUE_AUTO_ACCOUNTS:,} accounts.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Actors of the last `spector resolve`, largest first (--json: one object a line).
    revenue_usd is the economics estimate's, null when it was not estimated (see
    --revenue) or the actor sold nothing the estimate saw."""
    from spector.resolve._store import actor_rows

    with open_workspace(workspace) as ws:
        rows = actor_rows(ws)
        accounts = sum(int(r["accounts"]) for r in rows)
        estimate = revenue if revenue is not None else accounts <= REVENUE_AUTO_ACCOUNTS
        money_of = _revenue_by_actor(ws) if rows and estimate else {}
    shown = rows[:limit] if limit > 0 else rows
    for row in shown:
        value = money_of.get(row["actor_id"])
        row["revenue_usd"] = None if value is None else round(float(str(value)), 2)
        del row["account_ids"]
        if as_json:
            print(json.dumps(row, sort_keys=True, ensure_ascii=False))
        else:
            money = "—" if row["revenue_usd"] is None else f"${row['revenue_usd']:,.0f}"
            _print(f"{row['actor_id']}  {row['accounts']:>3} accounts  {money:>10}  "
                   f"{', '.join(row['handles'])} ({', '.join(row['markets'])})")  # fmt: skip
    if not as_json:
        more = f" ({len(shown):,} shown)" if len(shown) < len(rows) else ""
        skipped = (
            f"; revenue not estimated for {accounts:,} accounts (add --revenue)"
            if rows and not estimate and revenue is None else ""
        )  # fmt: skip
        _print(f"{len(rows):,} actors{more}{skipped}"
               + ("" if rows else "; run `spector resolve` first"))  # fmt: skip


@actor_app.command("show")
def show_cmd(
    actor: Annotated[str, typer.Argument(metavar="ID", help="An actor id.")],
    fmt: Annotated[str | None, typer.Option("--format", help="md or html.",
                                            show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.",
                                             show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """An actor's target package: accounts, links with their evidence, keys, addresses,
    contacts, timeline, estimated revenue, clusters on chain."""
    from spector.errors import UsageError
    from spector.resolve._package import actor_package, render

    if as_json and fmt:
        raise UsageError("--json and --format do not go together")
    if fmt is not None and fmt not in ("md", "html"):
        raise UsageError(f"unknown format {fmt!r}", expected="--format md or --format html")
    with open_workspace(workspace) as ws:
        package = actor_package(ws, actor)
    if as_json or (fmt is None and out is not None):
        text = json.dumps(package, sort_keys=True, ensure_ascii=False) + "\n"
    elif fmt is not None:
        text = render(package, fmt)
    else:
        text = render(package, "md")
    if out is None:
        print(text, end="")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, "utf-8")
    _print(f"wrote {out} ({len(package['accounts'])} accounts, {len(package['links'])} links)")


def register(root: typer.Typer, groups: Groups) -> None:
    """Add `spector resolve` and `spector actor`."""
    del groups
    root.add_typer(resolve_app, name="resolve")
    root.add_typer(actor_app, name="actor")
