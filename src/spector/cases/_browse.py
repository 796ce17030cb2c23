"""Browsing the case store: paged lists and the views the web app (and its API) show.

Everything here reads through the access filter (``select_visible`` / ``get_visible`` /
``list_visible``) and audits every read of a restricted (H2, H3) record, as
``list_visible`` does; pages are keyset-paged (a sort key and the id as tiebreak, no
OFFSET). Rows are plain JSON-ready dicts: the keys of ``_records.as_dict``,
``_deconflict.notice_view`` / ``selector_view`` and ``_evidence_view`` plus the names a
person reads (agency, operation, officer, author, assignee, holder).

Deconfliction notices are not Owned records: a principal sees its own agency's only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from spector.cases import _access, _audit
from spector.cases._base import RESTRICTED_HANDLING, Owned, Principal
from spector.cases._deconflict import (
    DeconflictionNotice,
    Selector,
    list_selectors,
    notice_view,
    selector_view,
)
from spector.cases._evidence import Evidence, custody_chain, event_dict, evidence_dict
from spector.cases._records import (
    CASE_STATUSES,
    Case,
    Note,
    Target,
    Task,
    as_dict,
)
from spector.cases._who import Agency, Operation, User
from spector.errors import InputError, NotFound, UsageError

__all__ = [
    "CASE_SORTS",
    "agency_names",
    "case_detail",
    "case_row",
    "case_sort_key",
    "count_cases",
    "count_notices",
    "evidence_detail",
    "notice_row",
    "operation_choices",
    "page_cases",
    "page_notices",
    "user_names",
]

#: Sort keys of the case list -> column (each with the id as tiebreak).
CASE_SORTS: dict[str, Any] = {
    "id": Case.id,
    "reference": Case.reference,
    "title": Case.title,
    "status": Case.status,
    "updated": Case.updated_at,
}
#: Longest text query of a list.
_MAX_QUERY = 200


def _audit_restricted(s: Session, p: Principal, recs: Iterable[Owned]) -> None:
    _audit.log_many(
        s,
        p,
        "read",
        [
            (str(rec.__tablename__), rec.id, {"handling": rec.handling})  # type: ignore[attr-defined]
            for rec in recs
            if rec.handling in RESTRICTED_HANDLING
        ],
    )


def agency_names(s: Session) -> dict[int, str]:
    """agency id -> name, of every agency on the instance (names are not secret)."""
    return {int(i): str(n) for i, n in s.execute(select(Agency.id, Agency.name)).all()}


def _operation_names(s: Session) -> dict[int, str]:
    return {int(i): str(n) for i, n in s.execute(select(Operation.id, Operation.name)).all()}


def operation_choices(s: Session, p: Principal) -> list[dict[str, Any]]:
    """The joint operations ``p``'s agency belongs to (what it may share with), by name."""
    names = _operation_names(s)
    rows = [{"id": i, "name": names[i]} for i in p.operations if i in names]
    return sorted(rows, key=lambda r: str(r["name"]).lower())


def user_names(s: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """user id -> username for ``ids`` (None and unknown ids left out)."""
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return {}
    rows = s.execute(select(User.id, User.username).where(User.id.in_(wanted))).all()
    return {int(i): str(n) for i, n in rows}


# --- cases -------------------------------------------------------------------------------


def _no_nul(what: str, value: str | None) -> None:
    if value is not None and "\x00" in value:
        raise InputError(f"{what}: contains a NUL character", expected="text")


def _case_criteria(
    s: Session, status: str | None, q: str | None, agency: str | None
) -> list[ColumnElement[bool]]:
    for what, value in (("status", status), ("q", q), ("agency", agency)):
        _no_nul(what, value)
    criteria: list[ColumnElement[bool]] = []
    if status is not None:
        if status not in CASE_STATUSES:
            raise InputError(
                f"status: unknown case status {status!r}", expected=" or ".join(CASE_STATUSES)
            )
        criteria.append(Case.status == status)
    if q is not None and q.strip():
        text = q.strip().lower()
        if len(text) > _MAX_QUERY:
            raise InputError(f"q: {len(text)} characters", expected=f"at most {_MAX_QUERY}")
        criteria.append(
            or_(
                func.lower(Case.title).contains(text, autoescape=True),
                func.lower(Case.reference).contains(text, autoescape=True),
            )
        )
    if agency is not None and agency.strip():
        from spector.cases._who_models import agency_by_name

        criteria.append(Case.agency_id == agency_by_name(s, agency).id)
    return criteria


def _parse_sort(sort: str) -> tuple[str, bool]:
    name = sort[1:] if sort.startswith("-") else sort
    if name not in CASE_SORTS:
        raise InputError(
            f"sort: unknown sort key {sort!r}",
            expected="one of " + ", ".join(f"{k}, -{k}" for k in CASE_SORTS),
        )
    return name, sort.startswith("-")


def case_sort_key(row: dict[str, Any], sort: str) -> list[Any]:
    """The cursor key of a case row of :func:`page_cases` sorted by ``sort``."""
    name, _desc = _parse_sort(sort)
    value = row["updated_at"] if name == "updated" else row[name]
    return [value, row["id"]]


def _after(name: str, desc: bool, after: Sequence[Any]) -> ColumnElement[bool]:
    """The keyset condition "after the row with key ``after``" (a bad key: UsageError)."""
    bad = UsageError("cursor: not a cursor of this list", hint="start again without it")
    if len(after) != 2 or not isinstance(after[1], int) or isinstance(after[1], bool):
        raise bad
    value: Any = after[0]
    if name == "id":
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad
    elif name == "updated":
        try:
            value = datetime.fromisoformat(str(value))
        except ValueError:
            raise bad from None
        if value.tzinfo is None:
            raise bad
    elif not isinstance(value, str):
        raise bad
    column = CASE_SORTS[name]
    last = after[1]
    if desc:
        return or_(column < value, and_(column == value, Case.id < last))
    return or_(column > value, and_(column == value, Case.id > last))


def case_row(
    case: Case, agencies: dict[int, str], operations: dict[int, str], users: dict[int, str]
) -> dict[str, Any]:
    """A case as data, with its agency's, operation's and officer's names."""
    row = as_dict(case)
    row["agency"] = agencies.get(case.agency_id)
    row["operation"] = operations.get(case.operation_id) if case.operation_id else None
    row["officer"] = users.get(case.officer_id) if case.officer_id else None
    return row


def page_cases(
    s: Session,
    p: Principal,
    *,
    status: str | None = None,
    q: str | None = None,
    agency: str | None = None,
    sort: str = "-id",
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Up to ``limit + 1`` rows of the cases ``p`` may read (the extra row says there is a
    next page), filtered by ``status``, a text ``q`` (in title or reference, any case)
    and the owning ``agency`` (a name), sorted by ``sort`` (a key of :data:`CASE_SORTS`,
    ``-`` first for descending), after the row whose :func:`case_sort_key` is
    ``after``."""
    name, desc = _parse_sort(sort)
    column = CASE_SORTS[name]
    stmt = _access.select_visible(p, Case).where(*_case_criteria(s, status, q, agency))
    if after is not None:
        stmt = stmt.where(_after(name, desc, after))
    order = (column.desc(), Case.id.desc()) if desc else (column.asc(), Case.id.asc())
    stmt = stmt.order_by(*order).limit(limit + 1)
    cases = list(s.execute(stmt).scalars())
    _audit_restricted(s, p, cases)
    agencies, operations = agency_names(s), _operation_names(s)
    users = user_names(s, (c.officer_id for c in cases))
    return [case_row(c, agencies, operations, users) for c in cases]


def count_cases(
    s: Session,
    p: Principal,
    *,
    status: str | None = None,
    q: str | None = None,
    agency: str | None = None,
) -> int:
    """How many cases :func:`page_cases` lists with these filters (nothing is read)."""
    return _access.count_visible(s, p, Case, *_case_criteria(s, status, q, agency))


def case_detail(s: Session, p: Principal, case_id: int) -> dict[str, Any]:
    """A case and what of it ``p`` may read: ``case`` (a :func:`case_row`), ``targets``,
    ``notes`` (with ``author``), ``tasks`` (with ``assignee``), ``selectors`` (with
    ``target_id``) and ``evidence`` (with ``holder``, ``custody_events`` and
    ``last_action``); NotFound unless ``p`` may read the case."""
    case = _access.get_visible(s, p, Case, case_id)
    targets = _access.list_visible(s, p, Target, Target.case_id == case_id)
    notes = _access.list_visible(s, p, Note, Note.case_id == case_id)
    tasks = _access.list_visible(s, p, Task, Task.case_id == case_id)
    selectors = list_selectors(s, p, case_id=case_id, limit=10_000)
    items = _access.list_visible(s, p, Evidence, Evidence.case_id == case_id)
    users = user_names(
        s,
        [case.officer_id, *(n.created_by for n in notes), *(t.assignee_id for t in tasks)],
    )
    evidence = []
    for ev in items:
        chain = custody_chain(s, p, ev.id)
        row = evidence_dict(ev)
        row["holder"] = _holder_of(chain)
        row["custody_events"] = len(chain)
        row["last_action"] = chain[-1].action if chain else None
        evidence.append(row)
    note_rows = []
    for n in notes:
        row = as_dict(n)
        row["author"] = users.get(n.created_by) if n.created_by else None
        note_rows.append(row)
    task_rows = []
    for t in tasks:
        row = as_dict(t)
        row["assignee"] = users.get(t.assignee_id) if t.assignee_id else None
        task_rows.append(row)
    return {
        "case": case_row(case, agency_names(s), _operation_names(s), users),
        "targets": [as_dict(t) for t in targets],
        "notes": note_rows,
        "tasks": task_rows,
        "selectors": [selector_view(sel) for sel in selectors],
        "evidence": evidence,
    }


def _holder_of(chain: Sequence[Any]) -> str | None:
    holder: str | None = None
    for e in chain:
        if e.action in ("collected", "transferred") and e.to_person:
            holder = e.to_person
    return holder


# --- evidence ----------------------------------------------------------------------------


def evidence_detail(s: Session, p: Principal, evidence_id: int) -> dict[str, Any]:
    """An evidence item (``evidence_dict``) with ``case_reference``, ``agency``,
    ``holder`` and ``custody``: its chain in order, each event with ``by`` (the
    recording user's name); NotFound unless ``p`` may read the item."""
    ev = _access.get_visible(s, p, Evidence, evidence_id)
    case = _access.get_visible(s, p, Case, ev.case_id)
    chain = custody_chain(s, p, ev.id)
    users = user_names(s, (e.by_user_id for e in chain))
    row = evidence_dict(ev)
    row["case_reference"] = case.reference
    row["agency"] = agency_names(s).get(ev.agency_id)
    row["holder"] = _holder_of(chain)
    custody = []
    for e in chain:
        event = event_dict(e)
        event["by"] = users.get(e.by_user_id)
        custody.append(event)
    row["custody"] = custody
    return row


# --- deconfliction notices -----------------------------------------------------------------


def notice_row(s: Session, p: Principal, n: DeconflictionNotice) -> dict[str, Any]:
    """``notice_view`` of one of ``p``'s agency's notices, with the agency's own selector
    (``selector_value``, ``target_id``, ``case_id``, ``case_reference``) and who
    acknowledged it. The other side is only a name, a selector id and a contact."""
    row: dict[str, Any] = dict(notice_view(s, n))
    row.update(selector_value=None, target_id=None, case_id=None, case_reference=None)
    try:
        sel = _access.get_visible(s, p, Selector, n.selector_id)
        target = _access.get_visible(s, p, Target, sel.target_id)
        case = _access.get_visible(s, p, Case, target.case_id)
    except NotFound:
        pass  # a selector of the agency's that this user may not read (a media_reviewer)
    else:
        row.update(
            selector_value=sel.value,
            target_id=target.id,
            case_id=case.id,
            case_reference=case.reference,
        )
    by = user_names(s, [n.acknowledged_by]).get(n.acknowledged_by or 0)
    row["acknowledged_by"] = by
    return row


def _notice_criteria(p: Principal, open_only: bool) -> list[ColumnElement[bool]]:
    criteria = [DeconflictionNotice.agency_id == p.agency_id]
    if open_only:
        criteria.append(DeconflictionNotice.acknowledged_at.is_(None))
    return criteria


def page_notices(
    s: Session,
    p: Principal,
    *,
    open_only: bool = False,
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Up to ``limit + 1`` of the notices addressed to ``p``'s agency, newest first
    (:func:`notice_row` each), after the notice whose id is ``after[0]``."""
    criteria = _notice_criteria(p, open_only)
    if after is not None:
        if len(after) != 1 or not isinstance(after[0], int) or isinstance(after[0], bool):
            raise UsageError("cursor: not a cursor of this list", hint="start again without it")
        criteria.append(DeconflictionNotice.id < after[0])
    stmt = (
        select(DeconflictionNotice)
        .where(*criteria)
        .order_by(DeconflictionNotice.id.desc())
        .limit(limit + 1)
    )
    return [notice_row(s, p, n) for n in s.execute(stmt).scalars()]


def count_notices(s: Session, p: Principal, *, open_only: bool = False) -> int:
    """How many notices :func:`page_notices` lists."""
    stmt = select(func.count()).select_from(DeconflictionNotice)
    return int(s.execute(stmt.where(*_notice_criteria(p, open_only))).scalar_one())
