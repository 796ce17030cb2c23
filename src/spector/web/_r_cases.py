"""The cases area: the pages /cases, /cases/{id}, /notices and /evidence/{id}, with a
form for every write (POST, then 303 back to the page), and the API (``_r_cases_api``).

Forms are read into the API's request models, so a page and the API refuse the same
input the same way (a 400 page naming the field). Write forms are shown only to the
roles that may use them; the functions of ``spector.cases`` refuse the rest anyway (403).
Edits carry the version the user read (optimistic locking: a stale one is a 409 page).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from spector.cases._base import DISTRIBUTIONS, HANDLING_CODES, Principal
from spector.errors import InputError
from spector.web._api import decode_cursor, encode_cursor
from spector.web._auth import PageUser, state_of
from spector.web._cases_models import (
    CaseIn,
    CloseIn,
    CustodyIn,
    EvidenceIn,
    NoteIn,
    SelectorIn,
    ShareIn,
    TargetIn,
    TaskIn,
    TaskStatusIn,
)
from spector.web._pages import render
from spector.web._r_cases_api import (
    RecordId,
    api,
    do_add_evidence,
    do_add_note,
    do_add_selector,
    do_add_target,
    do_add_task,
    do_custody,
    do_open_case,
)

__all__ = ["api", "pages"]

pages = APIRouter()

PAGE_SIZE = 50
F = Annotated[str, Form(max_length=100_000)]
#: What a page says after a form of it succeeded (?done=...): fixed texts only.
DONE = {
    "opened": "Case opened.",
    "closed": "Case closed.",
    "shared": "Sharing changed.",
    "target": "Target added.",
    "note": "Note added.",
    "task": "Task added.",
    "task-status": "Task moved.",
    "selector": "Selector added and deconflicted.",
    "evidence": "Evidence item registered.",
    "custody": "Custody event recorded.",
    "acknowledged": "Notice acknowledged.",
}
SORT_COLUMNS = (("reference", "Reference"), ("title", "Title"), ("status", "Status"),
                ("updated", "Updated"))  # fmt: skip


def _form(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """``data`` (form fields; empty ones left out) as ``model``; InputError naming the
    first bad field."""
    values = {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "form"
        raise InputError(f"{where}: {err['msg']}") from exc


def _done(url: str, what: str, anchor: str = "", **extra: int) -> RedirectResponse:
    query = urlencode({"done": what, **extra})
    return RedirectResponse(f"{url}?{query}{anchor}", status_code=303)


def _message(done: str | None) -> str | None:
    return DONE.get(done or "")


def can_write(p: Principal, agency_id: int) -> bool:
    """Whether ``p`` may add to / edit a record of ``agency_id`` (analyst or admin of it)."""
    return p.has("analyst", "admin") and p.agency_id == agency_id


# --- the case list -----------------------------------------------------------------------


@pages.get("/cases", response_class=HTMLResponse, include_in_schema=False)
def cases_page(
    request: Request,
    user: PageUser,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    agency: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=16)] = "-id",
    cursor: Annotated[str, Query(max_length=512)] = "",
    done: str = "",
) -> HTMLResponse:
    from spector.cases._browse import (
        agency_names,
        case_sort_key,
        count_cases,
        operation_choices,
        page_cases,
    )

    filters = {"q": q.strip() or None, "status": status or None, "agency": agency or None}
    after = decode_cursor(cursor or None)
    with state_of(request).session() as s:
        rows = page_cases(s, user, sort=sort, after=after, limit=PAGE_SIZE, **filters)
        total = count_cases(s, user, **filters)
        agencies = sorted(agency_names(s).values(), key=str.lower)
        operations = operation_choices(s, user)
    kept = {k: v for k, v in (("q", q.strip()), ("status", status), ("agency", agency)) if v}
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        key = encode_cursor(case_sort_key(rows[-1], sort))
        next_url = "/cases?" + urlencode({**kept, "sort": sort, "cursor": key})
    sort_urls = {}
    for key, _label in SORT_COLUMNS:
        target = f"-{key}" if sort == key else key
        sort_urls[key] = "/cases?" + urlencode({**kept, "sort": target})
    return render(request, "cases/list.html", {
        "rows": rows, "total": total, "q": q, "status": status, "agency": agency, "sort": sort,
        "agencies": agencies, "operations": operations, "next_url": next_url,
        "sort_urls": sort_urls, "columns": SORT_COLUMNS, "statuses": ("open", "closed"),
        "distributions": DISTRIBUTIONS, "handlings": HANDLING_CODES,
        "may_open": user.has("analyst", "admin"), "message": _message(done),
    })  # fmt: skip


@pages.post("/cases", include_in_schema=False)
def open_case_form(
    request: Request,
    user: PageUser,
    title: F = "",
    reference: F = "",
    summary: F = "",
    distribution: F = "",
    operation: F = "",
    handling: F = "",
    handling_note: F = "",
) -> RedirectResponse:
    body = _form(CaseIn, {"title": title, "reference": reference, "summary": summary,
                          "distribution": distribution, "operation": operation,
                          "handling": handling, "handling_note": handling_note})  # fmt: skip
    row = do_open_case(request, user, body)
    return _done(f"/cases/{row['id']}", "opened")


# --- one case ----------------------------------------------------------------------------


def _target_href(t: dict[str, Any]) -> str | None:
    """Our own page for what a target points at (the value URL-encoded), if any."""
    ref = t.get("ref")
    if not ref:
        return None
    kind = t["kind"]
    if kind == "actor":
        return "/actors/" + quote(ref, safe="")
    if kind == "vendor_account":
        return "/vendors/" + quote(ref, safe="")
    if kind == "cluster":
        return "/chain/cluster/" + quote(ref, safe="")
    if kind == "selector" and ref.startswith("btc_address:"):
        return "/chain/address/" + quote(ref.partition(":")[2], safe="")
    return None


def _agency_users(s: Session, p: Principal) -> list[str]:
    from spector.cases._browse import agency_names
    from spector.cases._who import list_users

    name = agency_names(s).get(p.agency_id)
    if name is None:
        return []
    return [u["username"] for u in list_users(s, p, agency=name) if u["active"]]


@pages.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
def case_page(request: Request, user: PageUser, case_id: RecordId, done: str = "",
              notices: int = 0) -> HTMLResponse:  # fmt: skip
    from spector.cases._browse import case_detail, operation_choices
    from spector.cases._canon import deconfliction_kinds
    from spector.cases._evidence import EVIDENCE_KINDS
    from spector.cases._records import TARGET_KINDS, TASK_STATUSES

    with state_of(request).session() as s:
        view = case_detail(s, user, case_id)
        operations = operation_choices(s, user)
        assignees = _agency_users(s, user) if can_write(user, view["case"]["agency_id"]) else []
    case = view["case"]
    own = user.agency_id == case["agency_id"]
    message = _message(done)
    if message and done == "selector" and notices > 0:
        message += f" Another agency holds it: {notices} new notice(s), see Notices."
    return render(request, "cases/case.html", {
        **view, "hrefs": {t["id"]: _target_href(t) for t in view["targets"]},
        "writable": can_write(user, case["agency_id"]), "is_open": case["status"] == "open",
        "may_share": own and user.has("analyst", "admin", "liaison"),
        "operations": operations, "assignees": assignees, "target_kinds": TARGET_KINDS,
        "selector_kinds": deconfliction_kinds(), "evidence_kinds": EVIDENCE_KINDS,
        "task_statuses": TASK_STATUSES, "distributions": DISTRIBUTIONS,
        "handlings": HANDLING_CODES, "message": message,
        "capture_hrefs": {e["id"]: "/captures/" + quote(str(e["capture_id"]), safe="")
                          for e in view["evidence"] if e["capture_id"]},
    })  # fmt: skip


@pages.post("/cases/{case_id}/close", include_in_schema=False)
def close_form(
    request: Request, user: PageUser, case_id: RecordId, version: F = ""
) -> RedirectResponse:
    from spector.cases._records import close_case

    expected = _form(CloseIn, {"version": version}).version
    with state_of(request).session() as s:
        close_case(s, user, case_id, expected_version=expected)
    return _done(f"/cases/{case_id}", "closed")


@pages.post("/cases/{case_id}/share", include_in_schema=False)
def share_form(
    request: Request,
    user: PageUser,
    case_id: RecordId,
    distribution: F = "",
    operation: F = "",
    version: F = "",
    children: F = "",
) -> RedirectResponse:
    from spector.cases._records import share_case

    body = _form(ShareIn, {"distribution": distribution, "operation": operation,
                           "version": version, "children": bool(children)})  # fmt: skip
    with state_of(request).session() as s:
        share_case(s, user, case_id, distribution=body.distribution, operation=body.operation,
                   expected_version=body.version, children=body.children)  # fmt: skip
    return _done(f"/cases/{case_id}", "shared")


@pages.post("/cases/{case_id}/targets", include_in_schema=False)
def target_form(
    request: Request,
    user: PageUser,
    case_id: RecordId,
    kind: F = "",
    ref: F = "",
    label: F = "",
    names: F = "",
    dob: F = "",
    nationality: F = "",
    person_notes: F = "",
    distribution: F = "",
    handling: F = "",
    handling_note: F = "",
) -> RedirectResponse:
    details: dict[str, Any] | None = None
    if kind == "person":
        facts: dict[str, Any] = {}
        listed = [n.strip() for n in names.replace("\r", "").split("\n") if n.strip()]
        if listed:
            facts["names"] = listed
        for key, value in (("dob", dob), ("nationality", nationality), ("notes", person_notes)):
            if value.strip():
                facts[key] = value.strip()
        details = facts
    body = _form(TargetIn, {"kind": kind, "ref": ref, "label": label, "details": details,
                            "distribution": distribution, "handling": handling,
                            "handling_note": handling_note})  # fmt: skip
    do_add_target(request, user, case_id, body)
    return _done(f"/cases/{case_id}", "target", "#targets")


@pages.post("/cases/{case_id}/notes", include_in_schema=False)
def note_form(
    request: Request,
    user: PageUser,
    case_id: RecordId,
    body: F = "",
    target_id: F = "",
    handling: F = "",
    handling_note: F = "",
) -> RedirectResponse:
    note = _form(NoteIn, {"body": body, "target_id": target_id, "handling": handling,
                          "handling_note": handling_note})  # fmt: skip
    do_add_note(request, user, case_id, note)
    return _done(f"/cases/{case_id}", "note", "#notes")


@pages.post("/cases/{case_id}/tasks", include_in_schema=False)
def task_form(
    request: Request,
    user: PageUser,
    case_id: RecordId,
    title: F = "",
    assignee: F = "",
    due: F = "",
) -> RedirectResponse:
    task = _form(TaskIn, {"title": title, "assignee": assignee, "due": due})
    do_add_task(request, user, case_id, task)
    return _done(f"/cases/{case_id}", "task", "#tasks")


@pages.post("/tasks/{task_id}/status", include_in_schema=False)
def task_status_form(
    request: Request, user: PageUser, task_id: RecordId, status: F = "", version: F = ""
) -> RedirectResponse:
    from spector.cases._records import set_task_status

    body = _form(TaskStatusIn, {"status": status, "version": version})
    with state_of(request).session() as s:
        task = set_task_status(s, user, task_id, body.status, expected_version=body.version)
        case_id = task.case_id
    return _done(f"/cases/{case_id}", "task-status", "#tasks")


@pages.post("/cases/{case_id}/selectors", include_in_schema=False)
def selector_form(
    request: Request,
    user: PageUser,
    case_id: RecordId,
    target_id: F = "",
    kind: F = "",
    value: F = "",
    region: F = "",
) -> RedirectResponse:
    body = _form(SelectorIn, {"target_id": target_id, "kind": kind, "value": value,
                              "region": region.upper()})  # fmt: skip
    added = do_add_selector(request, user, case_id, body)
    return _done(f"/cases/{case_id}", "selector", "#selectors", notices=len(added["notices"]))


@pages.post("/cases/{case_id}/evidence", include_in_schema=False)
def evidence_form(
    request: Request,
    user: PageUser,
    case_id: RecordId,
    kind: F = "",
    origin: F = "",
    sha256: F = "",
    capture_id: F = "",
    description: F = "",
    collected_at: F = "",
    tz: F = "",
) -> RedirectResponse:
    when = _local_time(collected_at, tz, "collected_at") if collected_at.strip() else None
    body = _form(EvidenceIn, {"kind": kind, "origin": origin, "sha256": sha256,
                              "capture_id": capture_id, "description": description,
                              "collected_at": when})  # fmt: skip
    ev = do_add_evidence(request, user, case_id, body)
    return _done(f"/evidence/{ev['id']}", "evidence")


def _local_time(text: str, tz: str, field: str) -> Any:
    """A datetime-local field (naive) read in the IANA zone ``tz``."""
    from datetime import datetime

    from spector.cases._evidence import resolve_zone

    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{field}: {text!r} is not a time", expected="YYYY-MM-DDTHH:MM") from None
    if at.tzinfo is None:
        if not tz.strip():
            raise InputError(
                f"{field}: a time needs its zone", expected="a zone, e.g. Europe/Berlin"
            )
        at = at.replace(tzinfo=resolve_zone(tz.strip()))
    return at


# --- notices -----------------------------------------------------------------------------


@pages.get("/notices", response_class=HTMLResponse, include_in_schema=False)
def notices_page(
    request: Request,
    user: PageUser,
    open: Annotated[str, Query(max_length=8)] = "",
    cursor: Annotated[str, Query(max_length=512)] = "",
    done: str = "",
) -> HTMLResponse:
    from spector.cases._browse import count_notices, page_notices

    open_only = open in ("1", "on", "true")
    after = decode_cursor(cursor or None)
    with state_of(request).session() as s:
        rows = page_notices(s, user, open_only=open_only, after=after, limit=PAGE_SIZE)
        total = count_notices(s, user, open_only=open_only)
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        kept = {"open": "1"} if open_only else {}
        next_url = "/notices?" + urlencode({**kept, "cursor": encode_cursor([rows[-1]["id"]])})
    return render(request, "cases/notices.html", {
        "rows": rows, "total": total, "open_only": open_only, "next_url": next_url,
        "may_ack": user.has("liaison", "analyst", "admin"), "message": _message(done),
    })  # fmt: skip


@pages.post("/notices/{notice_id}/acknowledge", include_in_schema=False)
def acknowledge_form(request: Request, user: PageUser, notice_id: RecordId) -> RedirectResponse:
    from spector.cases._deconflict import acknowledge

    with state_of(request).session() as s:
        acknowledge(s, user, notice_id)
    return _done("/notices", "acknowledged", f"#notice-{notice_id}")


# --- evidence ----------------------------------------------------------------------------


def _evidence_page(
    request: Request, user: PageUser, evidence_id: int, *, check: dict[str, Any] | None,
    message: str | None,
) -> HTMLResponse:  # fmt: skip
    from spector.cases._browse import evidence_detail
    from spector.cases._evidence import CUSTODY_ACTIONS

    with state_of(request).session() as s:
        ev = evidence_detail(s, user, evidence_id)
    custody = ev["custody"]
    ended = bool(custody) and custody[-1]["action"] == "returned"
    return render(request, "cases/evidence.html", {
        "ev": ev, "custody": custody, "check": check, "message": message,
        "may_record": can_write(user, ev["agency_id"]) and not ended, "ended": ended,
        "actions": CUSTODY_ACTIONS if not custody else CUSTODY_ACTIONS[1:],
        "capture_href": "/captures/" + quote(str(ev["capture_id"]), safe="")
        if ev["capture_id"] else None,
        "default_tz": custody[-1]["tz"] if custody else "UTC",
    })  # fmt: skip


@pages.get("/evidence/{evidence_id}", response_class=HTMLResponse, include_in_schema=False)
def evidence_page(
    request: Request, user: PageUser, evidence_id: RecordId, done: str = ""
) -> HTMLResponse:
    return _evidence_page(request, user, evidence_id, check=None, message=_message(done))


@pages.post("/evidence/{evidence_id}/verify", response_class=HTMLResponse, include_in_schema=False)
def verify_form(request: Request, user: PageUser, evidence_id: RecordId) -> HTMLResponse:
    from spector.cases._evidence import verify_evidence

    state = state_of(request)
    with state.session() as s:
        check = verify_evidence(s, user, evidence_id, ws_root=state.ws_root).as_dict()
    return _evidence_page(request, user, evidence_id, check=check, message=None)


@pages.post("/evidence/{evidence_id}/custody", include_in_schema=False)
def custody_form(
    request: Request,
    user: PageUser,
    evidence_id: RecordId,
    action: F = "",
    at: F = "",
    tz: F = "",
    where: F = "",
    from_person: F = "",
    to_person: F = "",
    note: F = "",
) -> RedirectResponse:
    when = _local_time(at, tz, "at") if at.strip() else None
    body = _form(CustodyIn, {"action": action, "at": when, "tz": tz, "where": where,
                             "from_person": from_person, "to_person": to_person,
                             "note": note})  # fmt: skip
    do_custody(request, user, evidence_id, body)
    return _done(f"/evidence/{evidence_id}", "custody", "#custody")
