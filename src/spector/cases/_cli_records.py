"""`spector cases case open|list|show|close|share`, `cases target add|list`,
`cases note add`, `cases task add|list|done`: an agency's cases and what is in them.

The work is done by ``spector.cases._records`` (through the access filter); this module
parses arguments and prints. Every command takes --json; edits take --expect-version N
(the version you read: a record changed since is a conflict, exit 2).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spector.cases._cli_common import (
    DbOpt,
    JsonOpt,
    TokenOpt,
    UserOpt,
    WorkspaceOpt,
    acting_session,
    emit,
)
from spector.errors import InputError, NotAWorkspace

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from spector.store import Workspace

__all__ = ["register"]

DistributionOpt = Annotated[
    str | None,
    typer.Option(
        "--distribution",
        help="Who sees it: agency (yours only), operation (the agencies of --operation), all "
        "(every agency here). Default: agency for a case, the case's for what is in it.",
        show_default=False,
    ),
]
OperationOpt = Annotated[
    str | None,
    typer.Option("--operation", help="The joint operation it is shared with.", show_default=False),
]
HandlingOpt = Annotated[
    str | None,
    typer.Option(
        "--handling",
        help="Europol handling code H0-H3 (H2/H3: every read is audited; H3 needs "
        "--handling-note). Default: H0 for a case, the case's for what is in it.",
        show_default=False,
    ),
]
HandlingNoteOpt = Annotated[
    str | None,
    typer.Option("--handling-note", help="The restrictions of an H3 record.", show_default=False),
]
ExpectOpt = Annotated[
    int | None,
    typer.Option(
        "--expect-version",
        metavar="N",
        help="The version you read: refuse the edit if it changed since.",
        show_default=False,
    ),
]


def register(cases_app: typer.Typer) -> None:
    """Add the case, target, note and task commands to the `cases` group."""
    case_app = typer.Typer(help="Cases of your agency and those shared with it.",
                           no_args_is_help=True)  # fmt: skip
    target_app = typer.Typer(help="Targets of a case.", no_args_is_help=True)
    note_app = typer.Typer(help="Notes on a case or a target.", no_args_is_help=True)
    task_app = typer.Typer(help="Tasks of a case.", no_args_is_help=True)
    case_app.command("open")(case_open)
    case_app.command("list")(case_list)
    case_app.command("show")(case_show)
    case_app.command("close")(case_close)
    case_app.command("share")(case_share)
    target_app.command("add")(target_add)
    target_app.command("list")(target_list)
    note_app.command("add")(note_add)
    task_app.command("add")(task_add)
    task_app.command("list")(task_list)
    task_app.command("done")(task_done)
    cases_app.add_typer(case_app, name="case")
    cases_app.add_typer(target_app, name="target")
    cases_app.add_typer(note_app, name="note")
    cases_app.add_typer(task_app, name="task")


def _agency_names(s: Session) -> dict[int, str]:
    from sqlalchemy import select

    from spector.cases._who import Agency

    return {int(i): str(n) for i, n in s.execute(select(Agency.id, Agency.name)).all()}


def _shared(rec: Any) -> str:
    dist = str(rec.distribution)
    if dist == "operation":
        dist = f"operation {rec.operation_id}"
    return f"{dist}, {rec.handling}"


# --- cases -------------------------------------------------------------------------------


def case_open(
    title: Annotated[str, typer.Argument(help="The case's title.")],
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Your agency's reference (default: YYYY-NNNN).",
                     show_default=False),
    ] = None,
    summary: Annotated[str | None, typer.Option("--summary", show_default=False)] = None,
    distribution: DistributionOpt = None,
    operation: OperationOpt = None,
    handling: HandlingOpt = None,
    handling_note: HandlingNoteOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Open a case of your agency (analyst or admin); you are its case officer."""
    from spector.cases._records import as_dict, open_case

    dist = distribution or ("operation" if operation else "agency")
    with acting_session(workspace, db, user, token) as (s, p):
        case = open_case(s, p, title=title, reference=reference, summary=summary,
                         distribution=dist, operation=operation, handling=handling or "H0",
                         handling_note=handling_note)  # fmt: skip
        data = as_dict(case)
    emit(data, as_json, f"opened case {data['id']} ({data['reference']}): {data['title']} "
         f"[{_shared(case)}]")  # fmt: skip


def case_list(
    status: Annotated[
        str | None, typer.Option("--status", help="open or closed.", show_default=False)
    ] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the cases you may read: your agency's and those shared with it."""
    from spector.cases._records import as_dict, list_cases

    with acting_session(workspace, db, user, token) as (s, p):
        names = _agency_names(s)
        cases = list_cases(s, p, status=status)
        rows = [as_dict(c) | {"agency": names.get(c.agency_id)} for c in cases]
        lines = [
            f"{c.id:>5}  {c.reference:<14} {c.status:<7} {names.get(c.agency_id, '?'):<16} "
            f"{_shared(c):<18} v{c.version}  {c.title}"
            for c in cases
        ]
    emit(rows, as_json, "\n".join(lines) or "no cases")


def case_show(
    case_id: Annotated[int, typer.Argument(help="The case's id.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a case with the targets, notes and tasks of it you may read."""
    from spector.cases._records import case_view

    with acting_session(workspace, db, user, token) as (s, p):
        view = case_view(s, p, case_id)
        names = _agency_names(s)
    c = view["case"]
    view["case"]["agency"] = names.get(c["agency_id"])
    lines = [
        f"case {c['id']} ({c['reference']}) of {names.get(c['agency_id'], '?')}: {c['title']}",
        f"  status {c['status']}, distribution {c['distribution']}, handling {c['handling']}, "
        f"version {c['version']}",
    ]
    if c["summary"]:
        lines.append(f"  {c['summary']}")
    for t in view["targets"]:
        what = t["ref"] or json.dumps(t["details"], ensure_ascii=False, sort_keys=True)
        lines.append(f"  target {t['id']}: {t['kind']} {what}" + (f" ({t['label']})"
                     if t["label"] else ""))  # fmt: skip
    for n in view["notes"]:
        on = f" on target {n['target_id']}" if n["target_id"] else ""
        lines.append(f"  note {n['id']}{on}: {n['body']}")
    for t in view["tasks"]:
        lines.append(f"  task {t['id']} [{t['status']}]: {t['title']}"
                     + (f" (due {t['due']})" if t["due"] else ""))  # fmt: skip
    emit(view, as_json, "\n".join(lines))


def case_close(
    case_id: Annotated[int, typer.Argument(help="The case's id.")],
    expect_version: ExpectOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close a case of your agency (analyst or admin)."""
    from spector.cases._records import as_dict, close_case

    with acting_session(workspace, db, user, token) as (s, p):
        data = as_dict(close_case(s, p, case_id, expected_version=expect_version))
    emit(data, as_json, f"closed case {case_id} ({data['reference']}), version {data['version']}")


def case_share(
    case_id: Annotated[int, typer.Argument(help="The case's id.")],
    distribution: Annotated[
        str, typer.Option("--distribution", help="agency, operation or all.")
    ],
    operation: OperationOpt = None,
    with_children: Annotated[
        bool,
        typer.Option("--with-children",
                     help="Give every record in the case the same distribution."),
    ] = False,
    expect_version: ExpectOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Change who sees a case (analyst, admin or liaison of its agency). Narrowing also
    narrows every record in it that would be wider."""
    from spector.cases._records import as_dict, share_case

    with acting_session(workspace, db, user, token) as (s, p):
        case = share_case(s, p, case_id, distribution=distribution, operation=operation,
                          expected_version=expect_version, children=with_children)  # fmt: skip
        data = as_dict(case)
    emit(data, as_json, f"case {case_id} now shared: {_shared(case)}; version {data['version']}")


# --- targets, notes, tasks ---------------------------------------------------------------


def _workspace(workspace: Path | None) -> Workspace | None:
    """The workspace to check target refs against, if we are in one."""
    from spector.cli.common import find_workspace
    from spector.store import Workspace

    try:
        root = find_workspace(workspace)
    except NotAWorkspace:
        if workspace is not None:
            raise
        return None
    return Workspace.open(root)


def _details(
    names: list[str] | None,
    dob: str | None,
    nationality: str | None,
    notes: str | None,
    details_json: str | None,
) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    if details_json is not None:
        try:
            loaded = json.loads(details_json)
        except json.JSONDecodeError as exc:
            raise InputError(f"--details is not JSON: {exc.msg} at offset {exc.pos}") from exc
        if not isinstance(loaded, dict):
            raise InputError("--details is not a JSON object", expected='{"names": [...], ...}')
        out.update(loaded)
    if names:
        out["names"] = names
    for key, value in (("dob", dob), ("nationality", nationality), ("notes", notes)):
        if value is not None:
            out[key] = value
    return out or None


def target_add(
    case_id: Annotated[int, typer.Argument(help="The case's id.")],
    kind: Annotated[
        str, typer.Option("--kind", help="actor, vendor_account, selector, cluster or person.")
    ],
    ref: Annotated[
        str | None,
        typer.Option("--ref", help='actor-…, vendor_account-…, "kind:value" or a cluster id '
                     "(none for a person).", show_default=False),
    ] = None,
    label: Annotated[str | None, typer.Option("--label", show_default=False)] = None,
    name: Annotated[
        list[str] | None,
        typer.Option("--name", help="A person's name (repeat for aliases).", show_default=False),
    ] = None,
    dob: Annotated[str | None, typer.Option("--dob", metavar="YYYY-MM-DD",
                                            show_default=False)] = None,
    nationality: Annotated[str | None, typer.Option("--nationality", show_default=False)] = None,
    notes: Annotated[str | None, typer.Option("--notes", show_default=False)] = None,
    details: Annotated[
        str | None,
        typer.Option("--details", metavar="JSON", help="A person's details as a JSON object.",
                     show_default=False),
    ] = None,
    distribution: DistributionOpt = None,
    operation: OperationOpt = None,
    handling: HandlingOpt = None,
    handling_note: HandlingNoteOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Add a target to an open case of your agency. In a workspace, an actor, vendor
    account or cluster ref must exist there (once its stage has run)."""
    from spector.cases._records import add_target, as_dict

    facts = _details(name, dob, nationality, notes, details)
    ws = _workspace(workspace)
    try:
        with acting_session(workspace, db, user, token) as (s, p):
            target = add_target(s, p, case_id, kind=kind, ref=ref, label=label, details=facts,
                                distribution=distribution, operation=operation,
                                handling=handling, handling_note=handling_note,
                                workspace=ws)  # fmt: skip
            data = as_dict(target)
    finally:
        if ws is not None:
            ws.close()
    what = data["ref"] or data["label"] or "person"
    emit(data, as_json, f"added target {data['id']} to case {case_id}: {kind} {what} "
         f"[{_shared(target)}]")  # fmt: skip


def target_list(
    case_id: Annotated[int, typer.Argument(help="The case's id.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the targets of a case that you may read."""
    from spector.cases._records import as_dict, list_targets

    with acting_session(workspace, db, user, token) as (s, p):
        targets = list_targets(s, p, case_id)
        rows = [as_dict(t) for t in targets]
        lines = [f"{t.id:>5}  {t.kind:<15} {t.ref or '-':<48} {_shared(t):<18} {t.label or ''}"
                 .rstrip() for t in targets]  # fmt: skip
    emit(rows, as_json, "\n".join(lines) or f"no targets in case {case_id}")


def note_add(
    case_id: Annotated[int, typer.Argument(help="The case's id.")],
    body: Annotated[str, typer.Argument(help="The note.")],
    target: Annotated[
        int | None, typer.Option("--target", help="On this target of the case.",
                                 show_default=False)
    ] = None,
    distribution: DistributionOpt = None,
    operation: OperationOpt = None,
    handling: HandlingOpt = None,
    handling_note: HandlingNoteOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Add a note to a case of your agency (or to one of its targets)."""
    from spector.cases._records import add_note, as_dict

    with acting_session(workspace, db, user, token) as (s, p):
        note = add_note(s, p, case_id, body=body, target_id=target, distribution=distribution,
                        operation=operation, handling=handling,
                        handling_note=handling_note)  # fmt: skip
        data = as_dict(note)
    emit(data, as_json, f"added note {data['id']} to case {case_id} [{_shared(note)}]")


def _date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date", expected="YYYY-MM-DD") from None


def task_add(
    case_id: Annotated[int, typer.Argument(help="The case's id.")],
    title: Annotated[str, typer.Argument(help="What is to be done.")],
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="A user of your agency.", show_default=False)
    ] = None,
    due: Annotated[str | None, typer.Option("--due", metavar="YYYY-MM-DD",
                                            show_default=False)] = None,
    distribution: DistributionOpt = None,
    operation: OperationOpt = None,
    handling: HandlingOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Add a task to an open case of your agency."""
    from spector.cases._records import add_task, as_dict

    due_date = _date(due, "--due")
    with acting_session(workspace, db, user, token) as (s, p):
        task = add_task(s, p, case_id, title=title, assignee=assignee, due=due_date,
                        distribution=distribution, operation=operation,
                        handling=handling)  # fmt: skip
        data = as_dict(task)
    emit(data, as_json, f"added task {data['id']} to case {case_id}: {data['title']}")


def task_list(
    case_id: Annotated[
        int | None, typer.Option("--case", help="Only this case's.", show_default=False)
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="todo, doing or done.", show_default=False)
    ] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only tasks assigned to you.")] = False,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the tasks you may read."""
    from spector.cases._records import as_dict, list_tasks

    with acting_session(workspace, db, user, token) as (s, p):
        tasks = list_tasks(s, p, case_id=case_id, status=status, mine=mine)
        rows = [as_dict(t) for t in tasks]
        lines = [f"{t.id:>5}  case {t.case_id:<5} {t.status:<6} {t.due or ''!s:<10} "
                 f"v{t.version}  {t.title}" for t in tasks]  # fmt: skip
    emit(rows, as_json, "\n".join(lines) or "no tasks")


def task_done(
    task_id: Annotated[int, typer.Argument(help="The task's id.")],
    expect_version: ExpectOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark a task of your agency done."""
    from spector.cases._records import as_dict, set_task_status

    with acting_session(workspace, db, user, token) as (s, p):
        data = as_dict(set_task_status(s, p, task_id, "done", expected_version=expect_version))
    emit(data, as_json, f"task {task_id} done, version {data['version']}")
