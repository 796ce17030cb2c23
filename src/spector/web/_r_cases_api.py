"""The cases API (``/api/v1``): cases, what is in them, deconfliction notices, evidence.

Every endpoint calls ``spector.cases`` (the access filter, the roles and the audit log
are there): a record the caller may not read is a 404 exactly like an absent one, a
write its roles do not allow a 403, a stale ``version`` a 409. ``GET /api/v1/cases``
without a token is a 401 (the contract other checks rely on).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session

from spector.cases._base import Principal
from spector.web._api import Cursor, Limit, Page, decode_cursor, page_of
from spector.web._auth import ApiUser, state_of
from spector.web._cases_models import (
    CaseIn,
    CaseOut,
    CaseView,
    CloseIn,
    CustodyIn,
    CustodyOut,
    EvidenceCheckOut,
    EvidenceDetail,
    EvidenceIn,
    NoteIn,
    NoteOut,
    NoticeOut,
    SelectorAdded,
    SelectorIn,
    ShareIn,
    TargetIn,
    TargetOut,
    TaskIn,
    TaskOut,
    TaskStatusIn,
)

__all__ = [
    "SORT_PATTERN",
    "api",
    "do_add_evidence",
    "do_add_selector",
    "do_add_target",
    "do_custody",
    "do_open_case",
]

api = APIRouter(tags=["cases"])

RecordId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The record's id.")]
SORT_PATTERN = r"^-?(id|reference|title|status|updated)$"
Sort = Annotated[
    str,
    Query(
        pattern=SORT_PATTERN,
        description="id, reference, title, status or updated; - first: descending.",
    ),
]
Status = Annotated[Literal["open", "closed"] | None, Query(description="open or closed.")]
Text = Annotated[str | None, Query(max_length=200, description="Text in the title or reference.")]
AgencyQ = Annotated[str | None, Query(max_length=200, description="The owning agency's name.")]


def _one_case(s: Session, p: Principal, case_id: int) -> dict[str, Any]:
    from spector.cases._browse import case_detail

    row: dict[str, Any] = case_detail(s, p, case_id)["case"]
    return row


# --- shared with the pages ---------------------------------------------------------------


def do_open_case(request: Request, p: Principal, body: CaseIn) -> dict[str, Any]:
    """Open a case; its row (``page_cases``'s keys)."""
    from spector.cases._records import open_case

    with state_of(request).session() as s:
        dist = body.distribution or ("operation" if body.operation else "agency")
        case = open_case(
            s, p, title=body.title, reference=body.reference, summary=body.summary,
            distribution=dist, operation=body.operation, handling=body.handling or "H0",
            handling_note=body.handling_note,
        )  # fmt: skip
        return _one_case(s, p, case.id)


def do_add_target(request: Request, p: Principal, case_id: int, body: TargetIn) -> dict[str, Any]:
    """Add a target (its ref checked against the workspace)."""
    from spector.cases._records import add_target, as_dict

    state = state_of(request)
    with state.workspace() as ws, state.session() as s:
        target = add_target(
            s, p, case_id, kind=body.kind, ref=body.ref, label=body.label, details=body.details,
            distribution=body.distribution, operation=body.operation, handling=body.handling,
            handling_note=body.handling_note, workspace=ws,
        )  # fmt: skip
        return as_dict(target)


def do_add_note(request: Request, p: Principal, case_id: int, body: NoteIn) -> dict[str, Any]:
    """Add a note (the API's answer; the page's form posts through here too)."""
    from spector.cases._records import add_note, as_dict

    with state_of(request).session() as s:
        note = add_note(s, p, case_id, body=body.body, target_id=body.target_id,
                        distribution=body.distribution, operation=body.operation,
                        handling=body.handling, handling_note=body.handling_note)  # fmt: skip
        return as_dict(note) | {"author": p.username}


def do_add_task(request: Request, p: Principal, case_id: int, body: TaskIn) -> dict[str, Any]:
    """Add a task (the API's answer; the page's form posts through here too)."""
    from spector.cases._browse import user_names
    from spector.cases._records import add_task, as_dict

    with state_of(request).session() as s:
        task = add_task(s, p, case_id, title=body.title, assignee=body.assignee, due=body.due,
                        distribution=body.distribution, operation=body.operation,
                        handling=body.handling)  # fmt: skip
        return as_dict(task) | {
            "assignee": user_names(s, [task.assignee_id]).get(task.assignee_id or 0)
        }


def do_add_selector(
    request: Request, p: Principal, case_id: int, body: SelectorIn
) -> dict[str, Any]:
    """Add a selector to a target of case ``case_id`` and deconflict it: the selector,
    the caller's notices and the agencies told."""
    from spector.cases._access import get_visible
    from spector.cases._browse import notice_row
    from spector.cases._deconflict import add_selector, selector_view
    from spector.cases._records import Target
    from spector.cases._who import Agency
    from spector.errors import InputError

    state = state_of(request)
    with state.workspace() as ws:
        limit = ws.config.correlation_limit
    with state.session() as s:
        target = get_visible(s, p, Target, body.target_id)
        if target.case_id != case_id:
            raise InputError(f"target {body.target_id} is not a target of case {case_id}")
        sel, made = add_selector(
            s, p, body.target_id, body.kind, body.value, distribution=body.distribution,
            handling=body.handling, handling_note=body.handling_note, region=body.region,
            correlation_limit=limit,
        )  # fmt: skip
        own = [notice_row(s, p, n) for n in made if n.agency_id == p.agency_id]
        told = []
        for n in made:
            if n.agency_id != p.agency_id:
                agency = s.get(Agency, n.agency_id)
                told.append({"agency": agency.name if agency else str(n.agency_id),
                             "notice_id": n.id})  # fmt: skip
        return {"selector": selector_view(sel), "notices": own, "told": told}


def do_add_evidence(
    request: Request, p: Principal, case_id: int, body: EvidenceIn
) -> dict[str, Any]:
    """Register an evidence item by its hash or a capture of the workspace."""
    from spector.cases._browse import evidence_detail
    from spector.cases._evidence import add_evidence

    state = state_of(request)
    with state.session() as s:
        ev = add_evidence(
            s, p, case_id, kind=body.kind, sha256=body.sha256, origin=body.origin,
            description=body.description, capture_id=body.capture_id,
            collected_at=body.collected_at, ws_root=state.ws_root,
            distribution=body.distribution, handling=body.handling,
        )  # fmt: skip
        return evidence_detail(s, p, ev.id)


def do_custody(request: Request, p: Principal, evidence_id: int, body: CustodyIn) -> dict[str, Any]:
    """Append a custody event; the event (with ``by``)."""
    from spector.cases._evidence import add_custody, event_dict

    with state_of(request).session() as s:
        event = add_custody(
            s, p, evidence_id, action=body.action, at=body.at, tz=body.tz, where=body.where,
            from_person=body.from_person, to_person=body.to_person, note=body.note,
        )  # fmt: skip
        out = event_dict(event)
        out["by"] = p.username
        return out


# --- cases -------------------------------------------------------------------------------


@api.get("/cases", response_model=Page[CaseOut], summary="The cases you may read")
def list_cases(
    request: Request,
    user: ApiUser,
    status: Status = None,
    q: Text = None,
    agency: AgencyQ = None,
    sort: Sort = "-id",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Any]:
    from spector.cases._browse import case_sort_key, page_cases

    after = decode_cursor(cursor)
    with state_of(request).session() as s:
        rows = page_cases(s, user, status=status, q=q, agency=agency, sort=sort, after=after,
                          limit=limit)  # fmt: skip
    return page_of(rows, limit, lambda r: case_sort_key(r, sort))


@api.post("/cases", response_model=CaseOut, status_code=201, summary="Open a case")
def open_case(request: Request, user: ApiUser, body: CaseIn) -> dict[str, Any]:
    return do_open_case(request, user, body)


@api.get("/cases/{case_id}", response_model=CaseView, summary="A case and what is in it")
def get_case(request: Request, user: ApiUser, case_id: RecordId) -> dict[str, Any]:
    from spector.cases._browse import case_detail

    with state_of(request).session() as s:
        return case_detail(s, user, case_id)


@api.post("/cases/{case_id}/close", response_model=CaseOut, summary="Close a case")
def close_case(request: Request, user: ApiUser, case_id: RecordId, body: CloseIn) -> dict[str, Any]:
    from spector.cases._records import close_case as close

    with state_of(request).session() as s:
        close(s, user, case_id, expected_version=body.version)
        return _one_case(s, user, case_id)


@api.post("/cases/{case_id}/share", response_model=CaseOut, summary="Change who sees a case")
def share_case(request: Request, user: ApiUser, case_id: RecordId, body: ShareIn) -> dict[str, Any]:
    from spector.cases._records import share_case as share

    with state_of(request).session() as s:
        share(s, user, case_id, distribution=body.distribution, operation=body.operation,
              expected_version=body.version, children=body.children)  # fmt: skip
        return _one_case(s, user, case_id)


@api.post("/cases/{case_id}/targets", response_model=TargetOut, status_code=201,
          summary="Add a target")  # fmt: skip
def add_target(
    request: Request, user: ApiUser, case_id: RecordId, body: TargetIn
) -> dict[str, Any]:
    return do_add_target(request, user, case_id, body)


@api.post("/cases/{case_id}/notes", response_model=NoteOut, status_code=201,
          summary="Add a note")  # fmt: skip
def add_note(request: Request, user: ApiUser, case_id: RecordId, body: NoteIn) -> dict[str, Any]:
    return do_add_note(request, user, case_id, body)


@api.post("/cases/{case_id}/tasks", response_model=TaskOut, status_code=201,
          summary="Add a task")  # fmt: skip
def add_task(request: Request, user: ApiUser, case_id: RecordId, body: TaskIn) -> dict[str, Any]:
    return do_add_task(request, user, case_id, body)


@api.post("/tasks/{task_id}/status", response_model=TaskOut, summary="Move a task")
def task_status(
    request: Request, user: ApiUser, task_id: RecordId, body: TaskStatusIn
) -> dict[str, Any]:
    from spector.cases._browse import user_names
    from spector.cases._records import as_dict, set_task_status

    with state_of(request).session() as s:
        task = set_task_status(s, user, task_id, body.status, expected_version=body.version)
        names = user_names(s, [task.assignee_id])
        return as_dict(task) | {"assignee": names.get(task.assignee_id or 0)}


@api.post("/cases/{case_id}/selectors", response_model=SelectorAdded, status_code=201,
          summary="Add a selector to a target and deconflict it")  # fmt: skip
def add_selector(
    request: Request, user: ApiUser, case_id: RecordId, body: SelectorIn
) -> dict[str, Any]:
    return do_add_selector(request, user, case_id, body)


@api.post("/cases/{case_id}/evidence", response_model=EvidenceDetail, status_code=201,
          summary="Register an evidence item")  # fmt: skip
def add_evidence(
    request: Request, user: ApiUser, case_id: RecordId, body: EvidenceIn
) -> dict[str, Any]:
    return do_add_evidence(request, user, case_id, body)


# --- notices -----------------------------------------------------------------------------


@api.get("/notices", response_model=Page[NoticeOut],
         summary="Your agency's deconfliction notices, newest first")  # fmt: skip
def list_notices(
    request: Request,
    user: ApiUser,
    open_only: Annotated[
        bool, Query(alias="open", description="Only those not acknowledged.")
    ] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Any]:
    from spector.cases._browse import page_notices

    after = decode_cursor(cursor)
    with state_of(request).session() as s:
        rows = page_notices(s, user, open_only=open_only, after=after, limit=limit)
    return page_of(rows, limit, lambda r: [r["id"]])


@api.post("/notices/{notice_id}/acknowledge", response_model=NoticeOut,
          summary="Mark a notice as dealt with")  # fmt: skip
def acknowledge(request: Request, user: ApiUser, notice_id: RecordId) -> dict[str, Any]:
    from spector.cases._browse import notice_row
    from spector.cases._deconflict import acknowledge as ack

    with state_of(request).session() as s:
        return notice_row(s, user, ack(s, user, notice_id))


# --- evidence ----------------------------------------------------------------------------


@api.get("/evidence/{evidence_id}", response_model=EvidenceDetail,
         summary="An evidence item and its chain of custody")  # fmt: skip
def get_evidence(request: Request, user: ApiUser, evidence_id: RecordId) -> dict[str, Any]:
    from spector.cases._browse import evidence_detail

    with state_of(request).session() as s:
        return evidence_detail(s, user, evidence_id)


@api.post("/evidence/{evidence_id}/custody", response_model=CustodyOut, status_code=201,
          summary="Record a custody event")  # fmt: skip
def add_custody(
    request: Request, user: ApiUser, evidence_id: RecordId, body: CustodyIn
) -> dict[str, Any]:
    return do_custody(request, user, evidence_id, body)


@api.post("/evidence/{evidence_id}/verify", response_model=EvidenceCheckOut,
          summary="Re-hash an evidence item's content")  # fmt: skip
def verify(request: Request, user: ApiUser, evidence_id: RecordId) -> dict[str, Any]:
    from spector.cases._evidence import verify_evidence

    state = state_of(request)
    with state.session() as s:
        return verify_evidence(s, user, evidence_id, ws_root=state.ws_root).as_dict()
