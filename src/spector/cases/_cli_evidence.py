"""`spector cases evidence|custody|audit ...`: evidence items, chain of custody, audit log.

The work is done by :mod:`spector.cases._evidence` and :mod:`spector.cases._audit`;
this module parses and prints. ``evidence verify`` and ``audit verify`` exit 1 when they
find a problem (a finding about the data, not a mistake in the command); user errors
exit 2 as everywhere.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spector.cases._cli_common import (
    DbOpt,
    JsonOpt,
    TokenOpt,
    UserOpt,
    WorkspaceOpt,
    acting,
    acting_session,
    emit,
)
from spector.errors import InputError, NotAWorkspace

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["register"]

FINDING_EXIT = 1

evidence_app = typer.Typer(
    help="Evidence items of a case: hashed, verifiable.", no_args_is_help=True
)
custody_app = typer.Typer(help="Chain of custody of an evidence item.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def register(cases_app: typer.Typer) -> None:
    """Add the evidence, custody and audit groups to `spector cases`."""
    cases_app.add_typer(evidence_app, name="evidence")
    cases_app.add_typer(custody_app, name="custody")
    cases_app.add_typer(audit_app, name="audit")


def _ws_root(workspace: Path | None) -> Path | None:
    """The workspace the case store belongs to, when there is one (for captures and files)."""
    from spector.cli.common import find_workspace

    try:
        return find_workspace(workspace)
    except NotAWorkspace:
        if workspace is not None:
            raise
        return None


def parse_time(text: str, tz: str | None, option: str) -> tuple[datetime, str | None]:
    """``2023-05-02T09:30`` (with ``--tz``), ``2023-05-02T09:30+02:00``, or
    ``2023-05-02T09:30 Europe/Berlin``; returns the datetime (naive when a zone name is to
    be applied) and the zone name. InputError naming the option on anything else."""
    value = text.strip()
    head, _, tail = value.rpartition(" ")
    if head and ("/" in tail or tail.upper() == "UTC"):
        if tz is not None and tz != tail:
            raise InputError(f"{option} {text!r} names zone {tail}, --tz names {tz}")
        value, tz = head.strip(), tail
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"{option} {text!r} is not a time",
            expected="ISO 8601, e.g. 2023-05-02T09:30 with --tz Europe/Berlin",
        ) from exc
    if at.tzinfo is None and tz is None:
        raise InputError(
            f"{option} {text!r} has no time zone",
            expected="--tz ZONE (e.g. Europe/Berlin) or an offset such as +02:00",
        )
    return at, tz


def _username(s: Session, user_id: int | None) -> str | None:
    from spector.cases._who import User

    user = s.get(User, user_id) if user_id is not None else None
    return user.username if user is not None else None


def _custody_lines(custody: list[dict[str, Any]]) -> list[str]:
    lines = []
    for e in custody:
        who = f" by {e['by']}" if e.get("by") else ""
        hand = ""
        if e["from_person"] or e["to_person"]:
            hand = f" {e['from_person'] or '?'} -> {e['to_person'] or '?'}"
        note = f" ({e['note']})" if e["note"] else ""
        lines.append(
            f"  {e['id']:>4} {e['at']} [{e['tz']}] {e['action']}{hand} at {e['where']}{who}{note}"
        )
    return lines


def _with_names(s: Session, custody: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for e in custody:
        e["by"] = _username(s, e["by_user_id"])
    return custody


# --- evidence -------------------------------------------------------------------------


@evidence_app.command("add")
def evidence_add(
    case_id: Annotated[int, typer.Argument(help="The case the item belongs to.")],
    kind: Annotated[
        str,
        typer.Option(help="warc_capture, export, seized_dump, device, wallet_seizure or other."),
    ],
    origin: Annotated[str, typer.Option(help="Where and how it was obtained.")],
    file: Annotated[
        Path | None,
        typer.Option("--file", help="The file, or a seized dump's folder: hashed here."),
    ] = None,
    sha256: Annotated[
        str | None, typer.Option(help="Its SHA-256 (alone: an item held elsewhere).")
    ] = None,
    capture: Annotated[
        str | None, typer.Option(help="A [C] capture id (kind warc_capture).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it is.")] = None,
    collected_at: Annotated[
        str | None, typer.Option(help="When it was collected (ISO 8601; zone via --tz).")
    ] = None,
    tz: Annotated[str | None, typer.Option(help="IANA zone of --collected-at.")] = None,
    distribution: Annotated[
        str | None, typer.Option(help="agency, operation or all (default: the case's).")
    ] = None,
    handling: Annotated[str | None, typer.Option(help="H0-H3 (default: the case's).")] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an evidence item: its SHA-256 from the file, the capture, or as given."""
    from spector.cases._evidence import add_evidence, evidence_dict, resolve_zone

    when: datetime | None = None
    if collected_at is not None:
        at, zone = parse_time(collected_at, tz, "--collected-at")
        when = at.replace(tzinfo=resolve_zone(zone)) if zone and at.tzinfo is None else at
    root = _ws_root(workspace)
    with acting_session(workspace, db, user, token) as (s, p):
        ev = add_evidence(
            s,
            p,
            case_id,
            kind=kind,
            path=file,
            sha256=sha256,
            origin=origin,
            description=description,
            capture_id=capture,
            collected_at=when,
            ws_root=root,
            distribution=distribution,
            handling=handling,
        )
        data = evidence_dict(ev)
    size = f", {data['size']:,} bytes" if data["size"] is not None else ""
    emit(
        data,
        as_json,
        f"evidence {data['id']} added to case {case_id}: {kind}, sha256 {data['sha256']}{size}",
    )


@evidence_app.command("list")
def evidence_list(
    case: Annotated[int | None, typer.Option("--case", help="Only this case's items.")] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The evidence items you may read."""
    from spector.cases._evidence import evidence_dict, list_evidence

    with acting_session(workspace, db, user, token) as (s, p):
        items = [evidence_dict(ev) for ev in list_evidence(s, p, case)]
    lines = [
        f"{i['id']:>5}  case {i['case_id']:<5} {i['kind']:<14} {str(i['sha256'])[:16]}...  "
        f"{i['origin']}"
        for i in items
    ]
    emit(items, as_json, "\n".join(lines) if lines else "no evidence items")


@evidence_app.command("show")
def evidence_show(
    evidence_id: Annotated[int, typer.Argument(help="The evidence item.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An evidence item and its chain of custody."""
    from spector.cases._evidence import evidence_view

    with acting_session(workspace, db, user, token) as (s, p):
        data = evidence_view(s, p, evidence_id)
        custody = _with_names(s, list(data["custody"]))  # type: ignore[call-overload]
    fields = ("kind", "case_id", "sha256", "size", "origin", "path", "capture_id",
              "warc_offset", "warc_record_id", "description", "collected_at",
              "distribution", "handling")  # fmt: skip
    lines = [f"evidence {evidence_id}"]
    lines += [f"  {k}: {data[k]}" for k in fields if data.get(k) is not None]
    lines.append("custody:" if custody else "custody: none recorded")
    lines += _custody_lines(custody)
    emit(data, as_json, "\n".join(lines))


@evidence_app.command("verify")
def evidence_verify(
    evidence_id: Annotated[int, typer.Argument(help="The evidence item.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-hash the item's file and say whether it still matches (exit 1 when not)."""
    from spector.cases._evidence import verify_evidence

    root = _ws_root(workspace)
    with acting_session(workspace, db, user, token) as (s, p):
        check = verify_evidence(s, p, evidence_id, ws_root=root)
    if check.matches:
        text = f"evidence {evidence_id} matches: {check.path} hashes to {check.actual}"
    else:
        text = "\n".join(
            [f"evidence {evidence_id} does NOT match:"] + [f"  {x}" for x in check.problems]
        )
    emit(check.as_dict(), as_json, text)
    if not check.matches:
        raise typer.Exit(FINDING_EXIT)


# --- custody --------------------------------------------------------------------------


@custody_app.command("add")
def custody_add(
    evidence_id: Annotated[int, typer.Argument(help="The evidence item.")],
    action: Annotated[str, typer.Option(help="collected, transferred, examined or returned.")],
    at: Annotated[str, typer.Option(help="When: 2023-05-02T09:30 (with --tz) or with +02:00.")],
    where: Annotated[str, typer.Option(help="Where it happened.")],
    tz: Annotated[str | None, typer.Option(help="IANA zone of --at, e.g. Europe/Berlin.")] = None,
    from_person: Annotated[
        str | None, typer.Option("--from", help="Who handed it over (default: the holder).")
    ] = None,
    to_person: Annotated[str | None, typer.Option("--to", help="Who received it.")] = None,
    note: Annotated[str | None, typer.Option(help="What was done; what it corrects.")] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a custody event (append-only; a correction is a new event)."""
    from spector.cases._evidence import add_custody, event_dict

    when, zone = parse_time(at, tz, "--at")
    with acting_session(workspace, db, user, token) as (s, p):
        e = add_custody(
            s,
            p,
            evidence_id,
            action=action,
            at=when,
            tz=zone,
            where=where,
            from_person=from_person,
            to_person=to_person,
            note=note,
        )
        data = event_dict(e)
        data["evidence_id"] = evidence_id
    emit(
        data,
        as_json,
        f"custody event {data['id']} of evidence {evidence_id}: {action} {data['at']} "
        f"[{data['tz']}] at {data['where']}",
    )


@custody_app.command("show")
def custody_show(
    evidence_id: Annotated[int, typer.Argument(help="The evidence item.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The item's chain of custody, in order, each time in the zone it was recorded in."""
    from spector.cases._evidence import custody_chain, event_dict

    with acting_session(workspace, db, user, token) as (s, p):
        custody = _with_names(s, [event_dict(e) for e in custody_chain(s, p, evidence_id)])
    text = "\n".join([f"custody of evidence {evidence_id}:", *_custody_lines(custody)])
    emit(custody, as_json, text if custody else f"no custody events for evidence {evidence_id}")


# --- audit ----------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH kept from `audit show --head`: must still be in the chain."),
    ] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the audit log's hash chain and head; exit 1 on any finding."""
    from spector.cases._audit import parse_anchor, verify

    kept = parse_anchor(anchor) if anchor is not None else None
    store, _p = acting(workspace, db, user, token)
    with store, store.session(readonly=True) as s:
        report = verify(s, anchor=kept)
    if report.ok:
        text = (
            f"audit log intact: {report.entries} entries, head {report.head_seq}:{report.head_hash}"
        )
        if kept is not None:
            text += f"\nanchor {kept[0]}:{kept[1]} is in the chain"
    else:
        text = "\n".join(
            [*report.problems, f"audit log NOT intact: {len(report.problems)} problem(s), "
             f"{report.entries} entries"]
        )  # fmt: skip
    emit(report.as_dict(), as_json, text)
    if not report.ok:
        raise typer.Exit(FINDING_EXIT)


@audit_app.command("show")
def audit_show(
    head: Annotated[
        bool, typer.Option("--head", help="Print only the head SEQ:HASH: keep it elsewhere.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many entries, newest first.")] = 50,
    table: Annotated[str | None, typer.Option(help="Only entries about this table.")] = None,
    record: Annotated[str | None, typer.Option(help="Only entries about this record id.")] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The newest audit entries you may read (admin: all; others: your agency's)."""
    from spector.cases import _audit

    store, p = acting(workspace, db, user, token)
    with store, store.session(readonly=True) as s:
        if head:
            seq, digest = _audit.head(s)
            emit(
                {"seq": seq, "hash": digest, "anchor": f"{seq}:{digest}"},
                as_json,
                f"{seq}:{digest}",
            )
            return
        rows = [
            e.as_dict() for e in _audit.entries(s, p, limit=limit, table=table, record_id=record)
        ]
        for r in rows:
            r["user"] = _username(s, r["user_id"])  # type: ignore[arg-type]
    lines = [
        f"{r['seq']:>6} {r['at']} {r['user'] or '-':<14} {r['action']:<8} {r['table']}"
        f"{'/' + str(r['record_id']) if r['record_id'] is not None else ''}"
        f"{' ' + _audit.canonical(r['detail']) if r['detail'] else ''}"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) if lines else "no audit entries you may read")
