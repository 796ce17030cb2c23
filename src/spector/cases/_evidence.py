"""Evidence items and their chain of custody (after NIST SP 800-86 and SP 800-61).

An evidence item belongs to a case (and to the case's agency; it inherits the case's
distribution and handling unless given its own, never wider). Its SHA-256 is computed
from its content when a file is given (:mod:`spector.cases._evidence_files`), taken from
a [C] capture's WARC record (checked against the record's own digest headers and the
capture index) or, for an item held elsewhere, given by hand. The hash, size, path and
kind never change after the item is added, and the hash is written into the audit log,
so that an edit of the stored hash is found by ``audit verify`` as well.

Custody rules (:func:`add_custody`), one chain per item, append-only:

- the first event is ``collected``; there is only one ``collected``;
- ``transferred`` names who receives it (``to_person``); ``from_person`` defaults to
  the current holder and, when given, must be the current holder;
- ``examined`` may follow any event but ``returned``;
- ``returned`` ends the chain: nothing follows it;
- every event is dated (aware, its zone kept) no earlier than the event before it and
  not in the future;
- an event is never changed or deleted (the ORM refuses it): a correction is a new
  event (e.g. ``examined`` with a note) that says what it corrects.

Only the owning agency's analysts and admins record custody; anyone who may read the
item reads its chain.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from spector.cases import _audit
from spector.cases._access import WRITE_ROLES, add_record, get_visible, list_visible, require_role
from spector.cases._base import Principal
from spector.cases._evidence_files import hash_path, hash_warc_record
from spector.cases._evidence_models import CUSTODY_ACTIONS, EVIDENCE_KINDS, CustodyEvent, Evidence
from spector.cases._evidence_source import capture_content, seized_source
from spector.cases._evidence_view import event_dict, evidence_dict, local_time
from spector.cases._records import Case
from spector.errors import AccessDenied, InputError, UsageError

__all__ = [
    "CUSTODY_ACTIONS",
    "EVIDENCE_KINDS",
    "CustodyEvent",
    "Evidence",
    "EvidenceCheck",
    "add_custody",
    "add_evidence",
    "custody_chain",
    "event_dict",
    "evidence_dict",
    "evidence_view",
    "list_evidence",
    "local_time",
    "resolve_zone",
    "verify_evidence",
]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: Fields fixed once an item is added: what was hashed and the hash.
_FIXED = ("kind", "sha256", "size", "path", "capture_id", "warc_offset", "warc_record_id")
#: How far ahead of the clock a custody event may be dated (clock skew between machines).
_SKEW = timedelta(minutes=5)


@event.listens_for(Session, "before_flush")
def _refuse_rewrites(session: Session, _ctx: object, _instances: object) -> None:
    """Custody events are append-only; an item's content fields never change."""
    for obj in session.deleted:
        if isinstance(obj, CustodyEvent):
            raise PermissionError(f"custody event {obj.id} is append-only: it cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, CustodyEvent) and session.is_modified(obj):
            raise PermissionError(f"custody event {obj.id} is append-only: add a correction")
        if isinstance(obj, Evidence):
            state: Any = obj
            changed = [f for f in _FIXED if _changed(state, f)]
            if changed:
                raise PermissionError(
                    f"evidence {obj.id}: {', '.join(changed)} cannot change once recorded"
                )


def _changed(obj: Any, name: str) -> bool:
    hist = inspect(obj).attrs[name].history
    return bool(hist.deleted) and list(hist.added) != list(hist.deleted)


def _store_path(path: Path, ws_root: Path | None) -> str:
    """Inside the workspace: relative to it (the workspace may move); else absolute."""
    full = path.expanduser().resolve()
    if ws_root is not None:
        try:
            return full.relative_to(ws_root.resolve()).as_posix()
        except ValueError:
            pass
    return str(full)


def _full_path(stored: str, ws_root: Path | None) -> Path:
    p = Path(stored)
    if p.is_absolute():
        return p
    if ws_root is None:
        raise UsageError(
            f"the evidence file {stored!r} is inside a workspace",
            hint="give the workspace (--workspace) to check it",
        )
    return ws_root / p


def _check_kind(kind: str) -> None:
    if kind not in EVIDENCE_KINDS:
        close = difflib.get_close_matches(kind, EVIDENCE_KINDS, n=1)
        raise InputError(
            f"unknown evidence kind {kind!r}",
            expected=f"one of {', '.join(EVIDENCE_KINDS)}",
            hint=f"did you mean {close[0]!r}?" if close else None,
        )


def _aware(at: datetime, field: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError(f"{field} {at.isoformat()} has no time zone", expected="a zone")
    return at


def add_evidence(
    s: Session,
    p: Principal,
    case_id: int,
    *,
    kind: str,
    path: Path | None = None,
    sha256: str | None = None,
    origin: str,
    description: str | None = None,
    capture_id: str | None = None,
    collected_at: datetime | None = None,
    ws_root: Path | None = None,
    distribution: str | None = None,
    handling: str | None = None,
) -> Evidence:
    """Add an evidence item to case ``case_id`` (owned by ``p``'s agency).

    Give its content one way: ``path`` (a file or a seized dump's folder: hashed, size
    measured; with ``sha256`` too, the file must match it), ``capture_id`` (kind
    ``warc_capture`` only, and required for it: looked up in the workspace at
    ``ws_root``) or ``sha256`` alone (an item held elsewhere: hash as its examiner
    reported it). InputError / UsageError on anything else; nothing is written then.
    """
    _check_kind(kind)
    if not origin or not origin.strip():
        raise InputError("evidence needs its origin", expected="where and how it was obtained")
    given = sha256.strip().lower() if sha256 else None
    if given is not None and not _HEX64.match(given):
        raise InputError(f"--sha256 {sha256!r} is not a SHA-256", expected="64 hex digits")
    if collected_at is not None:
        _aware(collected_at, "collected_at")
    if (kind == "warc_capture") != (capture_id is not None):
        raise UsageError(
            "a warc_capture is given by its capture id (--capture), and only it"
            if kind == "warc_capture"
            else f"--capture gives a warc_capture, not a {kind}"
        )
    if capture_id is not None and path is not None:
        raise UsageError("give --capture or --file, not both")
    if path is None and capture_id is None and given is None:
        raise UsageError("give the evidence content: --file PATH, --sha256 HEX or --capture ID")
    get_visible(s, p, Case, case_id)
    ev = Evidence(
        case_id=case_id,
        kind=kind,
        origin=origin.strip(),
        description=description,
        collected_at=collected_at,
        distribution=distribution,
        handling=handling,
    )
    source: str | None = None
    files = 1
    if capture_id is not None:
        found = capture_content(ws_root, capture_id)
        ev.capture_id, ev.path, ev.warc_offset = found.capture_id, found.warc_file, found.offset
        ev.warc_record_id, ev.sha256, ev.size = found.record_id, found.sha256, found.size
        source = found.source
        if found.note:
            ev.description = f"{description}\n{found.note}" if description else found.note
    elif path is not None:
        hashed = hash_path(path)
        if given is not None and given != hashed.sha256:
            raise InputError(
                f"the file hashes to {hashed.sha256}, not to the --sha256 given ({given})",
                where=path,
                expected="the file the hash was taken of",
            )
        ev.sha256, ev.size, files = hashed.sha256, hashed.size, hashed.files
        ev.path = _store_path(path, ws_root)
        if kind == "seized_dump":
            source = seized_source(ws_root, path)
    elif given is not None:
        ev.sha256 = given
    add_record(s, p, ev)
    _audit.log(
        s,
        p,
        "hash",
        "evidence",
        ev.id,
        {
            "sha256": ev.sha256,
            "size": ev.size,
            "path": ev.path,
            "files": files if path is not None else None,
            "capture_id": ev.capture_id,
            "warc_offset": ev.warc_offset,
            "source": source,
        },
    )
    return ev


@dataclass(frozen=True, slots=True)
class EvidenceCheck:
    """Result of :func:`verify_evidence`: ``matches`` when the content still hashes to
    the stored SHA-256 and the stored hash is the one the audit log recorded."""

    evidence_id: int
    path: str
    expected: str
    actual: str
    size: int | None
    audit_sha256: str | None
    problems: tuple[str, ...]

    @property
    def matches(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "evidence_id": self.evidence_id,
            "path": self.path,
            "expected": self.expected,
            "actual": self.actual,
            "size": self.size,
            "audit_sha256": self.audit_sha256,
            "matches": self.matches,
            "problems": list(self.problems),
        }


def _recorded_hash(s: Session, evidence_id: int) -> str | None:
    t = _audit.AuditEntry
    stmt = (
        select(t.detail)
        .where(t.table_name == "evidence", t.record_id == str(evidence_id), t.action == "hash")
        .order_by(t.seq)
        .limit(1)
    )
    text = s.scalar(stmt)
    if text is None:
        return None
    value = json.loads(text).get("sha256")
    return str(value) if value is not None else None


def verify_evidence(
    s: Session, p: Principal, evidence_id: int, *, ws_root: Path | None = None
) -> EvidenceCheck:
    """Re-hash the item's content and compare it with the stored hash and with the hash
    the audit log recorded when it was added. A mismatch is a finding in the result (and
    a ``verify`` entry in the audit log), not an error; a missing file is an InputError,
    an item registered by hash alone a UsageError (there is nothing to re-hash)."""
    ev = get_visible(s, p, Evidence, evidence_id)
    if ev.path is None:
        raise UsageError(
            f"evidence {ev.id} was registered by its hash alone: there is no file to re-hash",
            hint="hash the item where it is kept and compare with `evidence show`",
        )
    full = _full_path(ev.path, ws_root)
    problems: list[str] = []
    if ev.kind == "warc_capture" and ev.warc_offset is not None:
        rec = hash_warc_record(full, ev.warc_offset)
        actual, size = rec.sha256, rec.size
        if rec.digests_ok is False:
            problems.append(f"the WARC record's own digest fails: {'; '.join(rec.problems)}")
        if ev.warc_record_id and rec.record_id != ev.warc_record_id:
            problems.append(
                f"the record at offset {ev.warc_offset} is {rec.record_id}, not {ev.warc_record_id}"
            )
    else:
        hashed = hash_path(full)
        actual, size = hashed.sha256, hashed.size
    if actual != ev.sha256:
        problems.append(f"{full} now hashes to {actual}, recorded {ev.sha256}")
    recorded = _recorded_hash(s, ev.id)
    if recorded is not None and recorded != ev.sha256:
        problems.append(
            f"the stored hash {ev.sha256} differs from the one the audit log recorded "
            f"when the item was added ({recorded}): the evidence table was edited"
        )
    check = EvidenceCheck(ev.id, str(full), ev.sha256, actual, size, recorded, tuple(problems))
    _audit.log(s, p, "verify", "evidence", ev.id, {"matches": check.matches, "sha256": actual})
    return check


def resolve_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` ("Europe/Berlin"); InputError naming close zone names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=3)
        raise InputError(
            f"unknown time zone {name!r}",
            expected="an IANA zone name such as Europe/Berlin or America/New_York",
            hint=f"did you mean {', '.join(close)}?" if close else None,
        ) from exc


def _zone_name(at: datetime) -> str:
    tz: tzinfo | None = at.tzinfo
    if isinstance(tz, ZoneInfo):
        return tz.key
    offset = at.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return "UTC"
    sign = "+" if offset >= timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _holder(chain: list[CustodyEvent]) -> str | None:
    holder: str | None = None
    for e in chain:
        if e.action in ("collected", "transferred") and e.to_person:
            holder = e.to_person
    return holder


def _check_order(chain: list[CustodyEvent], action: str, at: datetime) -> None:
    if not chain and action != "collected":
        raise InputError(
            f"the first custody event must be 'collected', not {action!r}",
            expected="a 'collected' event before any other",
        )
    if not chain:
        return
    last = chain[-1]
    if last.action == "returned":
        raise InputError(
            f"evidence was returned (event {last.id}): its chain of custody has ended",
            expected="no event after 'returned'",
        )
    if action == "collected":
        raise InputError(
            f"evidence was already collected (event {chain[0].id})",
            expected="transferred, examined or returned",
        )
    if at < last.at:
        raise InputError(
            f"custody event dated {at.isoformat()} is before the previous event "
            f"{last.id} ({local_time(last).isoformat()}, {last.action})",
            expected="events in the order they happened",
        )


def add_custody(
    s: Session,
    p: Principal,
    evidence_id: int,
    *,
    action: str,
    at: datetime,
    tz: str | None = None,
    where: str,
    from_person: str | None = None,
    to_person: str | None = None,
    note: str | None = None,
) -> CustodyEvent:
    """Append a custody event by ``p`` (see the module docstring for the rules).

    ``at`` is aware; or naive with ``tz`` (an IANA zone name), read as local time there.
    An aware ``at`` with ``tz`` is shown in ``tz`` (the instant is kept). The zone's
    name is stored in ``tz`` (a fixed offset as ``UTC+02:00``).
    """
    if action not in CUSTODY_ACTIONS:
        raise InputError(
            f"unknown custody action {action!r}", expected=f"one of {', '.join(CUSTODY_ACTIONS)}"
        )
    if tz is not None:
        zone = resolve_zone(tz)
        at = at.replace(tzinfo=zone) if at.tzinfo is None else at.astimezone(zone)
    elif at.tzinfo is None:
        raise InputError(
            f"custody time {at.isoformat()} has no time zone",
            expected="a time with its zone (--tz Europe/Berlin)",
        )
    zone_name = _zone_name(at)
    if not where or not where.strip():
        raise InputError("a custody event needs where it happened", expected="a place")
    if at.astimezone(UTC) > datetime.now(UTC) + _SKEW:
        raise InputError(f"custody time {at.isoformat()} is in the future", expected="a past time")
    require_role(p, *WRITE_ROLES, action="record custody")
    ev = get_visible(s, p, Evidence, evidence_id)
    if ev.agency_id != p.agency_id:
        raise AccessDenied(
            f"evidence {ev.id} belongs to another agency: only its owner records its custody"
        )
    # Serialise writers of one chain (PostgreSQL row lock; SQLite locks the database).
    s.execute(select(Evidence.id).where(Evidence.id == ev.id).with_for_update())
    chain = _chain(s, ev.id)
    _check_order(chain, action, at)
    holder = _holder(chain)
    if action == "transferred":
        if not to_person:
            raise InputError("a transfer names who receives it", expected="--to PERSON")
        if from_person is None:
            from_person = holder
        elif holder is not None and from_person != holder:
            raise InputError(
                f"a transfer from {from_person!r}, but the holder is {holder!r}",
                expected="the current holder as --from",
            )
    event_ = CustodyEvent(
        evidence_id=ev.id,
        action=action,
        at=at,
        tz=zone_name,
        where_=where.strip(),
        by_user_id=p.user_id,
        from_person=from_person,
        to_person=to_person,
        note=note,
    )
    s.add(event_)
    s.flush()
    _audit.log(
        s,
        p,
        "create",
        "custody_events",
        event_.id,
        {"evidence_id": ev.id, "action": action, "at": at, "tz": zone_name},
    )
    return event_


def _chain(s: Session, evidence_id: int) -> list[CustodyEvent]:
    stmt = (
        select(CustodyEvent)
        .where(CustodyEvent.evidence_id == evidence_id)
        .order_by(CustodyEvent.at, CustodyEvent.id)
    )
    return list(s.execute(stmt).scalars())


def custody_chain(s: Session, p: Principal, evidence_id: int) -> list[CustodyEvent]:
    """The item's custody events in order (by time, then as recorded); NotFound unless
    ``p`` may read the item."""
    get_visible(s, p, Evidence, evidence_id)
    return _chain(s, evidence_id)


def list_evidence(s: Session, p: Principal, case_id: int | None = None) -> list[Evidence]:
    """The evidence items ``p`` may read (of case ``case_id`` when given)."""
    if case_id is not None:
        get_visible(s, p, Case, case_id)
        return list_visible(s, p, Evidence, Evidence.case_id == case_id)
    return list_visible(s, p, Evidence)


def evidence_view(s: Session, p: Principal, evidence_id: int) -> dict[str, object]:
    """The item and its custody chain, as plain data (what ``evidence show`` prints)."""
    ev = get_visible(s, p, Evidence, evidence_id)
    out = evidence_dict(ev)
    out["custody"] = [event_dict(e) for e in _chain(s, ev.id)]
    return out
