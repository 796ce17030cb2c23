"""Cases, their targets, notes and tasks: the models and the functions the CLI and the
web app call.

Every record here is :class:`~spector.cases._base.Owned` and is read and written only
through :mod:`spector.cases._access` (the filter, the roles, containment, versions and
the audit log). A target, note or task lives in a case of the same agency, inherits the
case's distribution and handling unless given its own, and is never shared more widely
than the case (see ``_access``). Functions take a Session ``s`` (the caller commits) and
the acting Principal ``p``; bad input is an InputError, a missing or hidden record
NotFound, a forbidden act AccessDenied, a stale version ConflictError.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from spector.cases import _access
from spector.cases._base import Base, Owned, Principal, UtcDateTime, utcnow
from spector.cases._refs import TARGET_KINDS, check_ref, person_details
from spector.errors import AccessDenied, ConflictError, InputError, NotFound

if TYPE_CHECKING:
    from spector.store import Workspace

__all__ = [
    "CASE_STATUSES",
    "TARGET_KINDS",
    "TASK_STATUSES",
    "Case",
    "Note",
    "Target",
    "Task",
    "add_note",
    "add_target",
    "add_task",
    "as_dict",
    "case_view",
    "close_case",
    "list_cases",
    "list_targets",
    "list_tasks",
    "open_case",
    "set_task_status",
    "share_case",
]

CASE_STATUSES: tuple[str, ...] = ("open", "closed")
TASK_STATUSES: tuple[str, ...] = ("todo", "doing", "done")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _owned_checks() -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(_in("distribution", ("agency", "operation", "all")), name="distribution"),
        CheckConstraint(_in("handling", ("H0", "H1", "H2", "H3")), name="handling"),
        CheckConstraint(
            "distribution != 'operation' OR operation_id IS NOT NULL", name="operation_named"
        ),
    )


class Case(Owned, Base):
    """A case of one agency: its reference (unique within the agency), title, summary,
    status and case officer (the contact deconfliction notices name)."""

    __tablename__ = "cases"
    __table_args__ = (
        *_owned_checks(),
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        UniqueConstraint("agency_id", "reference"),
    )

    reference: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(8), default="open")
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class Target(Owned, Base):
    """Whom or what a case is after (see :mod:`spector.cases._refs` for ``ref``)."""

    __tablename__ = "targets"
    __table_args__ = (
        *_owned_checks(),
        CheckConstraint(_in("kind", TARGET_KINDS), name="kind"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str | None] = mapped_column(String(300), default=None, index=True)
    label: Mapped[str | None] = mapped_column(String(300), default=None)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class Note(Owned, Base):
    """A note on a case, or on one of its targets."""

    __tablename__ = "notes"
    __table_args__ = _owned_checks()

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("targets.id"), default=None, index=True
    )
    body: Mapped[str] = mapped_column(Text)


class Task(Owned, Base):
    """A task of a case, assigned to a user of the case's agency."""

    __tablename__ = "tasks"
    __table_args__ = (
        *_owned_checks(),
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), default=None, index=True
    )
    status: Mapped[str] = mapped_column(String(8), default="todo")
    due: Mapped[date | None] = mapped_column(Date, default=None)


# --- helpers -----------------------------------------------------------------------------


def as_dict(rec: Owned) -> dict[str, Any]:
    """Every column of ``rec`` as JSON-ready data (timestamps and dates ISO 8601)."""
    out: dict[str, Any] = {}
    for column in rec.__table__.columns:  # type: ignore[attr-defined]
        value = getattr(rec, column.key)
        out[column.key] = value.isoformat() if isinstance(value, (date, datetime)) else value
    return out


def _text(what: str, value: str | None, *, limit: int, required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InputError(f"{what} is empty", expected=f"1 to {limit} characters")
        return None
    value = value.strip()
    if len(value) > limit:
        raise InputError(f"{what} has {len(value)} characters", expected=f"at most {limit}")
    return value


def _operation_id(s: Session, name: str | None) -> int | None:
    if name is None:
        return None
    from spector.cases._who import operation_by_name

    return int(operation_by_name(s, name).id)


def _share(
    s: Session, distribution: str | None, operation: str | None
) -> tuple[str | None, int | None]:
    """(distribution, operation id); naming an operation alone means sharing with it."""
    op_id = _operation_id(s, operation)
    if distribution is None and op_id is not None:
        distribution = "operation"
    return distribution, op_id


def _open_case(s: Session, p: Principal, case_id: int) -> Case:
    case = _access.get_visible(s, p, Case, case_id)
    if case.status == "closed":
        raise ConflictError(f"case {case_id} ({case.reference}) is closed", hint="reopen it first")
    return case


def _next_reference(s: Session, p: Principal) -> str:
    year = utcnow().year
    n = _access.count_visible(s, p, Case, Case.agency_id == p.agency_id) + 1
    while True:
        reference = f"{year}-{n:04d}"
        if not _access.count_visible(
            s, p, Case, Case.agency_id == p.agency_id, Case.reference == reference
        ):
            return reference
        n += 1


# --- cases -------------------------------------------------------------------------------


def open_case(
    s: Session,
    p: Principal,
    *,
    title: str,
    reference: str | None = None,
    summary: str | None = None,
    distribution: str = "agency",
    operation: str | None = None,
    handling: str = "H0",
    handling_note: str | None = None,
) -> Case:
    """Open a case of ``p``'s agency, ``p`` its case officer. ``reference`` defaults to
    the next "YYYY-NNNN" of the agency; a reference the agency already uses is a
    ConflictError. ``operation`` names the joint operation (required for the
    "operation" distribution)."""
    _access.require_role(p, *_access.WRITE_ROLES, action="open a case")
    title_ = _text("case title", title, limit=300)
    ref = _text("case reference", reference, limit=64, required=False) or _next_reference(s, p)
    if _access.count_visible(s, p, Case, Case.agency_id == p.agency_id, Case.reference == ref):
        raise ConflictError(f"your agency already has a case with the reference {ref!r}")
    case = Case(
        reference=ref,
        title=title_,
        summary=_text("case summary", summary, limit=20_000, required=False),
        status="open",
        officer_id=p.user_id,
        distribution=distribution,
        operation_id=_operation_id(s, operation),
        handling=handling,
        handling_note=handling_note,
    )
    return _access.add_record(s, p, case)


def list_cases(s: Session, p: Principal, *, status: str | None = None) -> list[Case]:
    """The cases ``p`` may read (own agency's and shared ones), by id."""
    if status is not None and status not in CASE_STATUSES:
        raise InputError(f"unknown case status {status!r}", expected=" or ".join(CASE_STATUSES))
    criteria = [] if status is None else [Case.status == status]
    return _access.list_visible(s, p, Case, *criteria)


def close_case(
    s: Session, p: Principal, case_id: int, *, expected_version: int | None = None
) -> Case:
    """Close a case of ``p``'s agency (analyst or admin)."""
    case = _access.get_visible(s, p, Case, case_id)
    if case.status == "closed":
        raise ConflictError(f"case {case_id} ({case.reference}) is already closed")
    return _access.update_record(
        s, p, Case, case_id, expected_version=expected_version, status="closed",
        closed_at=utcnow(),
    )  # fmt: skip


def share_case(
    s: Session,
    p: Principal,
    case_id: int,
    *,
    distribution: str,
    operation: str | None = None,
    expected_version: int | None = None,
    children: bool = False,
) -> Case:
    """Change a case's distribution (analyst, admin or liaison of its agency). Narrowing
    narrows every record in it that would be wider; with ``children`` widening carries
    every record in the case (recursively) to the case's new distribution too."""
    dist, op_id = _share(s, distribution, operation)
    changes: dict[str, Any] = {"distribution": dist}
    if op_id is not None or dist == "operation":
        changes["operation_id"] = op_id
    case = _access.update_record(s, p, Case, case_id, expected_version=expected_version, **changes)
    if children:
        _carry(s, p, case)
    return case


def _carry(s: Session, p: Principal, parent: Owned) -> None:
    for child in _access.contained(s, p, parent):
        if (child.distribution, child.operation_id) != (parent.distribution, parent.operation_id):
            _access.update_record(
                s, p, type(child), child.id, expected_version=None,
                distribution=parent.distribution, operation_id=parent.operation_id,
            )  # fmt: skip
        _carry(s, p, child)


def case_view(s: Session, p: Principal, case_id: int) -> dict[str, Any]:
    """A case with the targets, notes and tasks of it that ``p`` may read."""
    case = _access.get_visible(s, p, Case, case_id)
    return {
        "case": as_dict(case),
        "targets": [as_dict(t) for t in list_targets(s, p, case_id)],
        "notes": [as_dict(n) for n in _access.list_visible(s, p, Note, Note.case_id == case_id)],
        "tasks": [as_dict(t) for t in _access.list_visible(s, p, Task, Task.case_id == case_id)],
    }


# --- targets, notes, tasks ---------------------------------------------------------------


def add_target(
    s: Session,
    p: Principal,
    case_id: int,
    *,
    kind: str,
    ref: str | None = None,
    label: str | None = None,
    details: dict[str, Any] | None = None,
    distribution: str | None = None,
    handling: str | None = None,
    operation: str | None = None,
    handling_note: str | None = None,
    workspace: Workspace | None = None,
) -> Target:
    """Add a target to an open case of ``p``'s agency. ``ref`` is checked for its kind
    (against ``workspace`` when given, see :mod:`spector.cases._refs`); a person holds
    only ``details`` (names, dob, nationality, notes). Distribution and handling default
    to the case's."""
    _access.require_role(p, *_access.WRITE_ROLES, action="add a target")
    _open_case(s, p, case_id)
    checked = check_ref(kind, ref, workspace)
    if kind == "person":
        facts = person_details(details)
        names = facts.get("names") or []
        label = label or (names[0] if names else None)
    elif details is not None:
        raise InputError(f"a {kind} target has no details", expected="details only for a person")
    else:
        facts = None
    dist, op_id = _share(s, distribution, operation)
    target = Target(
        case_id=case_id,
        kind=kind,
        ref=checked,
        label=_text("target label", label, limit=300, required=False),
        details=facts,
        distribution=dist,
        operation_id=op_id,
        handling=handling,
        handling_note=handling_note,
    )
    added = _access.add_record(s, p, target)
    if kind == "selector" and checked:
        # A selector target is deconflicted like a selector added to it (its own value).
        from spector.cases._deconflict import add_selector

        selector_kind, _, value = checked.partition(":")
        add_selector(s, p, added.id, selector_kind, value)
    return added


def list_targets(s: Session, p: Principal, case_id: int) -> list[Target]:
    """The targets of a case that ``p`` may read (NotFound if the case is hidden)."""
    _access.get_visible(s, p, Case, case_id)
    return _access.list_visible(s, p, Target, Target.case_id == case_id)


def add_note(
    s: Session,
    p: Principal,
    case_id: int,
    *,
    body: str,
    target_id: int | None = None,
    distribution: str | None = None,
    handling: str | None = None,
    operation: str | None = None,
    handling_note: str | None = None,
) -> Note:
    """Add a note to a case of ``p``'s agency (or to one of its targets: ``target_id``
    must be a target of that case); it inherits the target's or the case's
    distribution."""
    _access.require_role(p, *_access.WRITE_ROLES, action="add a note")
    _access.get_visible(s, p, Case, case_id)
    if target_id is not None:
        target = _access.get_visible(s, p, Target, target_id)
        if target.case_id != case_id:
            raise InputError(f"target {target_id} is not a target of case {case_id}")
    dist, op_id = _share(s, distribution, operation)
    note = Note(
        case_id=case_id,
        target_id=target_id,
        body=_text("note", body, limit=100_000),
        distribution=dist,
        operation_id=op_id,
        handling=handling,
        handling_note=handling_note,
    )
    return _access.add_record(s, p, note)


def _assignee(s: Session, p: Principal, username: str | None) -> int | None:
    if username is None:
        return None
    from spector.cases._who import User

    user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or user.agency_id != p.agency_id:
        raise NotFound(
            f"no user {username!r} in your agency", hint="tasks go to users of the case's agency"
        )
    return int(user.id)


def add_task(
    s: Session,
    p: Principal,
    case_id: int,
    *,
    title: str,
    assignee: str | None = None,
    due: date | None = None,
    distribution: str | None = None,
    handling: str | None = None,
    operation: str | None = None,
) -> Task:
    """Add a task to an open case of ``p``'s agency, assigned to ``assignee`` (a username
    of the same agency) if given."""
    _access.require_role(p, *_access.WRITE_ROLES, action="add a task")
    _open_case(s, p, case_id)
    dist, op_id = _share(s, distribution, operation)
    task = Task(
        case_id=case_id,
        title=_text("task title", title, limit=300),
        assignee_id=_assignee(s, p, assignee),
        status="todo",
        due=due,
        distribution=dist,
        operation_id=op_id,
        handling=handling,
    )
    return _access.add_record(s, p, task)


def list_tasks(
    s: Session,
    p: Principal,
    *,
    case_id: int | None = None,
    status: str | None = None,
    mine: bool = False,
) -> list[Task]:
    """The tasks ``p`` may read: of one case, with one status, or assigned to ``p``."""
    criteria: list[Any] = []
    if case_id is not None:
        _access.get_visible(s, p, Case, case_id)
        criteria.append(Task.case_id == case_id)
    if status is not None:
        if status not in TASK_STATUSES:
            raise InputError(f"unknown task status {status!r}", expected=", ".join(TASK_STATUSES))
        criteria.append(Task.status == status)
    if mine:
        criteria.append(Task.assignee_id == p.user_id)
    return _access.list_visible(s, p, Task, *criteria)


def set_task_status(
    s: Session, p: Principal, task_id: int, status: str, *, expected_version: int | None = None
) -> Task:
    """Move a task of ``p``'s agency to ``status`` (todo, doing, done)."""
    if status not in TASK_STATUSES:
        raise InputError(f"unknown task status {status!r}", expected=", ".join(TASK_STATUSES))
    task = _access.get_visible(s, p, Task, task_id)
    if task.agency_id != p.agency_id:
        raise AccessDenied(f"task {task_id} belongs to another agency")
    return _access.update_record(
        s, p, Task, task_id, expected_version=expected_version, status=status
    )
