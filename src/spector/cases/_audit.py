"""The audit log: append-only, hash-chained, verifiable.

Every change to the case store and every read of a restricted record appends one
:class:`AuditEntry` in the caller's transaction (:func:`log`). Entry ``n`` carries the
hash of entry ``n - 1`` (``prev_hash``; entry 1 carries :data:`GENESIS`) and its own
``hash``: SHA-256 over the canonical encoding (:func:`canonical`, sorted-key compact JSON,
UTF-8) of ``seq, at, user_id, agency_id, action, table_name, record_id, detail,
prev_hash``. The one row of :class:`AuditHead` holds the last ``seq`` and ``hash`` and is
updated in the same transaction, so a committed log and its head always agree.

Concurrent writers never fork the chain: :func:`log` takes the head row's lock before
it reads the previous hash (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: it updates
the head first, ``UPDATE audit_head SET seq = seq + 1 ... RETURNING``, which takes the
database's write lock); a second writer waits for the first to commit (or, on SQLite,
fails with "database is locked" after the store's busy timeout, never with a forked
chain). ``seq`` is the primary key besides: two entries can never share a number.

:func:`verify` detects an edited entry (its content no longer hashes to its ``hash``),
a deleted one (a gap in ``seq``), reordered entries (an entry whose content hashes right
only under another ``seq``), a truncated tail (the head names more entries than the log
has) and a tampered head. A plain hash chain cannot detect someone who rewrites *every*
entry from some point on, recomputing the hashes and the head: keep the head printed by
``spector cases audit show --head`` somewhere else (a ticket, a signed e-mail, the case
file) and pass it back as an anchor (``audit verify --anchor SEQ:HASH``); the anchor
catches that rewrite, and a truncation that also rewound the head.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any, cast

from sqlalchemy import Integer, String, Table, Text, bindparam, event, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from spector.cases._base import Base, Principal, UtcDateTime, utcnow
from spector.errors import AccessDenied, UsageError

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditHead",
    "AuditReport",
    "canonical",
    "entries",
    "entry_hash",
    "head",
    "log",
    "parse_anchor",
    "verify",
]

#: The ``prev_hash`` of entry 1 (and the head's hash of an empty log).
GENESIS = "0" * 64

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class AuditEntry(Base):
    """One audit-log entry. Never updated or deleted through the ORM (a flush refuses it)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Plain integers, not foreign keys: the log must outlive and never block changes
    # to the tables it describes.
    user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    agency_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    action: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), index=True)

    def as_dict(self) -> dict[str, object]:
        """The entry as plain JSON-able data (``detail`` parsed)."""
        return {
            "seq": self.seq,
            "at": _iso(self.at),
            "user_id": self.user_id,
            "agency_id": self.agency_id,
            "action": self.action,
            "table": self.table_name,
            "record_id": self.record_id,
            "detail": json.loads(self.detail) if self.detail is not None else None,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class AuditHead(Base):
    """The single row (``id == 1``) naming the last entry: its ``seq`` and ``hash``."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


_LOG = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)


@event.listens_for(Session, "before_flush")
def _refuse_rewrites(session: Session, _ctx: object, _instances: object) -> None:
    """Append-only at the ORM level: an AuditEntry may be added, never changed or deleted."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise PermissionError(f"audit entry {obj.seq} is append-only: it cannot be changed")


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return _iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"audit detail value of type {type(value).__name__} is not JSON-able")


def canonical(value: object) -> str:
    """Sorted-key, compact, UTF-8 JSON: the one encoding the hashes are taken over."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def _iso(at: datetime) -> str:
    """ISO-8601 in UTC with microseconds and a ``Z``: the form hashed and shown."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    user_id: int | None,
    agency_id: int | None,
    action: str,
    table_name: str,
    record_id: str | None,
    detail: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of an entry's canonical encoding; ``detail`` is the stored JSON text."""
    body = {
        "seq": seq,
        "at": _iso(at),
        "user_id": user_id,
        "agency_id": agency_id,
        "action": action,
        "table_name": table_name,
        "record_id": record_id,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def _hash_of(e: Any, *, seq: int | None = None) -> str:
    """The hash of a stored entry (an AuditEntry or a row of audit_log), as if at ``seq``."""
    return entry_hash(
        seq=e.seq if seq is None else seq,
        at=e.at,
        user_id=e.user_id,
        agency_id=e.agency_id,
        action=e.action,
        table_name=e.table_name,
        record_id=e.record_id,
        detail=e.detail,
        prev_hash=e.prev_hash,
    )


# Built once: the statements of every append (compiled once, then only parameters change).
_TAKE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + 1)
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_SET_HEAD_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("new_hash"))
_SET_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_APPEND = insert(_LOG)


def _advance_head(s: Session) -> tuple[int, str, bool]:
    """Take the write lock on the head; return (new seq, previous hash, whether the seq
    was already written to the head).

    PostgreSQL: ``SELECT ... FOR UPDATE`` (the row lock; the head is then updated once
    per entry: every update of a row leaves a version behind until the transaction
    ends, and a bulk import writes thousands). SQLite: the head is updated first, which
    takes the database's write lock before the previous hash is read, whatever kind of
    transaction the session began.
    """
    if s.get_bind().dialect.name == "postgresql":
        row = s.execute(_LOCK_HEAD).one_or_none()
        if row is not None:
            return int(row[0]) + 1, str(row[1]), False
    else:
        row = s.execute(_TAKE_HEAD).one_or_none()
        if row is not None:
            return int(row[0]), str(row[1]), True
    # A store made without the migration's head row: start an empty chain. Two racing
    # first writers collide on the primary key, never fork.
    s.execute(insert(_HEAD).values(id=1, seq=1, hash=GENESIS))
    return 1, GENESIS, True


def log(
    s: Session,
    p: Principal | None,
    action: str,
    table: str,
    record_id: int | str | None,
    detail: Mapping[str, object] | None = None,
) -> None:
    """Append one entry in the caller's transaction (it commits or rolls back with it).

    ``p`` is None for actions without a signed-in user (a failed login, ``cases init``).
    ``detail`` must be JSON-able (dates, Decimals and paths are written as strings);
    it is stored as canonical JSON text. Raises TypeError for anything else: that is a
    bug in the caller, not a user error.
    """
    detail_text = canonical(dict(detail)) if detail is not None else None
    rid = None if record_id is None else str(record_id)
    seq, prev, seq_written = _advance_head(s)
    at = utcnow()
    user_id = p.user_id if p is not None else None
    agency_id = p.agency_id if p is not None else None
    digest = entry_hash(
        seq=seq,
        at=at,
        user_id=user_id,
        agency_id=agency_id,
        action=action,
        table_name=table,
        record_id=rid,
        detail=detail_text,
        prev_hash=prev,
    )
    s.execute(
        _APPEND,
        {
            "seq": seq,
            "at": at,
            "user_id": user_id,
            "agency_id": agency_id,
            "action": action,
            "table_name": table,
            "record_id": rid,
            "detail": detail_text,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    if seq_written:
        s.execute(_SET_HEAD_HASH, {"new_hash": digest})
    else:
        s.execute(_SET_HEAD, {"new_seq": seq, "new_hash": digest})


def log_many(
    s: Session,
    p: Principal | None,
    action: str,
    items: Sequence[tuple[str, int | str | None, Mapping[str, object] | None]],
) -> None:
    """Append one entry per ``(table, record_id, detail)`` of ``items``, as ``log`` would
    one after another (same chain, one entry each), with the head taken and set once and
    the entries inserted in one statement: a page listing fifty restricted records writes
    fifty entries in three statements instead of a hundred and fifty."""
    if len(items) <= 1:
        for table, record_id, detail in items:
            log(s, p, action, table, record_id, detail)
        return
    n = len(items)
    if s.get_bind().dialect.name == "postgresql":
        row = s.execute(_LOCK_HEAD).one_or_none()
        first = int(row[0]) + 1 if row is not None else None
    else:
        take = (
            update(_HEAD)
            .where(_HEAD.c.id == 1)
            .values(seq=_HEAD.c.seq + n)
            .returning(_HEAD.c.seq, _HEAD.c.hash)
        )
        row = s.execute(take).one_or_none()
        first = int(row[0]) - n + 1 if row is not None else None
    if row is None or first is None:  # a store without the head row: the slow path
        for table, record_id, detail in items:
            log(s, p, action, table, record_id, detail)
        return
    prev = str(row[1])
    at = utcnow()
    user_id = p.user_id if p is not None else None
    agency_id = p.agency_id if p is not None else None
    rows = []
    for k, (table, record_id, detail) in enumerate(items):
        detail_text = canonical(dict(detail)) if detail is not None else None
        rid = None if record_id is None else str(record_id)
        values = {
            "seq": first + k,
            "at": at,
            "user_id": user_id,
            "agency_id": agency_id,
            "action": action,
            "table_name": table,
            "record_id": rid,
            "detail": detail_text,
            "prev_hash": prev,
        }
        prev = entry_hash(**values)  # type: ignore[arg-type]
        rows.append({**values, "hash": prev})
    s.execute(_APPEND, rows)
    s.execute(_SET_HEAD, {"new_seq": first + n - 1, "new_hash": prev})


@dataclass
class AuditReport:
    """The result of :func:`verify`: ``ok`` when ``problems`` is empty.

    ``entries`` counts the entries present; ``head_seq``/``head_hash`` are those of the
    head row (None when it is missing); ``anchor_checked`` says whether an anchor was given.
    """

    entries: int = 0
    problems: list[str] = field(default_factory=list)
    head_seq: int | None = None
    head_hash: str | None = None
    anchor_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": None if self.head_seq is None else f"{self.head_seq}:{self.head_hash}",
            "anchor_checked": self.anchor_checked,
            "problems": list(self.problems),
        }


def parse_anchor(text: str) -> tuple[int, str]:
    """``"SEQ:HASH"`` (as printed by ``audit show --head``) -> (seq, hash); UsageError else."""
    seq_text, sep, digest = text.strip().partition(":")
    digest = digest.lower()
    if not sep or not seq_text.isdigit() or not _HEX64.match(digest):
        raise UsageError(
            f"--anchor {text!r}: expected SEQ:HASH, a number, a colon and 64 hex digits "
            "(as printed by `spector cases audit show --head`)"
        )
    return int(seq_text), digest


def _span(first: int, last: int) -> str:
    return f"entry {first} is missing" if first == last else f"entries {first}-{last} are missing"


def _written_as(s: Session, e: Any, last_seq: int) -> int | None:
    """The seq ``e`` was written under, when its content hashes right there (not at ``e.seq``).

    Candidates: one past the entry whose hash ``e`` names as its predecessor, and the
    neighbours; a moved entry is found without hashing the whole log again.
    """
    candidates: list[int] = [1] if e.prev_hash == GENESIS else []
    t = _LOG
    preds = s.execute(select(t.c.seq).where(t.c.hash == e.prev_hash)).scalars()
    candidates.extend(int(r) + 1 for r in preds)
    candidates.extend(n for n in (e.seq - 1, e.seq + 1) if n >= 1)
    for n in candidates:
        if n != e.seq and n <= last_seq + 1 and _hash_of(e, seq=n) == e.hash:
            return n
    return None


def _stream(s: Session) -> Iterator[Any]:
    t = _LOG
    stmt = select(t).order_by(t.c.seq).execution_options(yield_per=5000)
    yield from s.execute(stmt)


def _head_row(s: Session) -> tuple[int, str] | None:
    t = _HEAD
    row = s.execute(select(t.c.seq, t.c.hash).where(t.c.id == 1)).one_or_none()
    return None if row is None else (int(row[0]), str(row[1]))


def verify(s: Session, *, anchor: tuple[int, str] | None = None) -> AuditReport:
    """Check the whole chain and the head; a finding is reported, never raised.

    Entries are streamed in ``seq`` order (a large log is fine). With ``anchor``
    (seq, hash) kept from an earlier ``audit show --head``, also check that entry
    ``seq`` is still in the log with that hash. Problems are listed in log order.
    """
    report = AuditReport(anchor_checked=anchor is not None)
    head_now = _head_row(s)
    expected = 1
    prev = GENESIS
    anchor_hash: str | None = None
    # (index into problems, row) of entries whose content does not hash right;
    # diagnosed after the scan so that no query runs while the log is streamed.
    suspects: list[tuple[int, Any]] = []
    prev_suspect = False
    for e in _stream(s):
        report.entries += 1
        if e.seq > expected:
            report.problems.append(_span(expected, e.seq - 1) + " (deleted from the log)")
        suspect = _hash_of(e) != e.hash
        if suspect:
            suspects.append((len(report.problems), e))
            report.problems.append("")
        elif e.seq == expected and e.prev_hash != prev and not prev_suspect:
            # (after a moved or edited entry the link is already reported broken)
            report.problems.append(
                f"entry {e.seq} does not follow entry {e.seq - 1}: it names "
                f"{e.prev_hash[:16]}... as its predecessor, entry {e.seq - 1} is "
                f"{prev[:16]}... (an entry was replaced or the chain was spliced)"
            )
        if anchor is not None and e.seq == anchor[0]:
            anchor_hash = e.hash
        prev = e.hash
        prev_suspect = suspect
        expected = e.seq + 1
    log_seq = expected - 1
    for index, e in suspects:
        moved = _written_as(s, e, log_seq)
        report.problems[index] = (
            f"entry {e.seq} is out of order: it was written as entry {moved}"
            if moved is not None
            else f"entry {e.seq} was edited: its content hashes to {_hash_of(e)[:16]}..., "
            f"the log says {e.hash[:16]}..."
        )
    if head_now is None:
        report.problems.append("the audit head (table audit_head, id 1) is missing")
    else:
        report.head_seq, report.head_hash = head_now
        h_seq, h_hash = head_now
        if h_seq > log_seq:
            report.problems.append(
                f"the log was truncated: the head names entry {h_seq}, the log ends at "
                f"entry {log_seq} ({_span(log_seq + 1, h_seq)})"
            )
        elif h_seq < log_seq:
            report.problems.append(
                f"the audit head was tampered with: it names entry {h_seq}, "
                f"the log ends at entry {log_seq}"
            )
        elif h_hash != prev:
            report.problems.append(
                f"the audit head was tampered with: it names hash {h_hash[:16]}... "
                f"for entry {h_seq}, which hashes to {prev[:16]}..."
            )
    if anchor is not None:
        a_seq, a_hash = anchor
        if anchor_hash is None:
            report.problems.append(
                f"anchor {a_seq}:{a_hash[:16]}... is not in the log: entry {a_seq} is "
                f"missing (the log ends at entry {log_seq}: it was truncated)"
            )
        elif anchor_hash != a_hash:
            report.problems.append(
                f"anchor {a_seq}:{a_hash[:16]}... does not match: entry {a_seq} now has hash "
                f"{anchor_hash[:16]}... (the log was rewritten at or before entry {a_seq})"
            )
    return report


def head(s: Session) -> tuple[int, str]:
    """The head (seq, hash) to keep as an external anchor; (0, GENESIS) for an empty log."""
    row = _head_row(s)
    return (0, GENESIS) if row is None else row


def entries(
    s: Session,
    p: Principal,
    *,
    limit: int | None = 50,
    table: str | None = None,
    record_id: int | str | None = None,
) -> Sequence[AuditEntry]:
    """The newest entries ``p`` may read, newest first: an admin reads every entry,
    anyone else only the entries written by users of their own agency. A viewer or a
    media reviewer reads none (AccessDenied).
    """
    if not p.has("admin", "analyst", "liaison"):
        raise AccessDenied(
            f"user {p.username!r} may not read the audit log (needs admin, analyst or liaison)"
        )
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc())
    if not p.has("admin"):
        stmt = stmt.where(AuditEntry.agency_id == p.agency_id)
    if table is not None:
        stmt = stmt.where(AuditEntry.table_name == table)
    if record_id is not None:
        stmt = stmt.where(AuditEntry.record_id == str(record_id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(s.execute(stmt).scalars())
