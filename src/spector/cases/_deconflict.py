"""Deconfliction: do two agencies work the same selector without knowing it?

When an agency adds a selector to one of its targets (:func:`add_selector`), the value
is put in its canonical form (``spector.cases._canon``) and kept with its keyed hash,
``HMAC-SHA-256(instance key, "kind:canonical")`` (:func:`digest`; the key is the store's
``deconfliction_key``). The hash is then compared with the selectors of **every** other
agency on the instance, including records the user may not read. That comparison is the
one documented query outside the access filter (:func:`_holders`): it reads only
pointers (selector id, agency, case officer) and never returns a record to the caller.

A hit makes one :class:`DeconflictionNotice` for each side: the recipient's own selector,
the other agency's name, the other side's selector and notice ids, and whom to call
(the other case's officer, or the person who added the selector) - never the other
case's title, target, value or notes. There is one notice per (agency, other agency,
digest): adding the same value again, to another target or case, adds no notice.

Over-correlation (MISP's correlation limit): a digest held by more than
``correlation_limit`` cases (``[cases] correlation_limit`` in spector.toml, default 20) is
marked ``noisy`` on all its selectors; from then on it makes no notices (a noisy value
stays noisy: the mark is sticky, as MISP's over-correlating values list is).

Two instances that share no database deconflict through files of keyed hashes under a
key the two agree on (:func:`export_hashes`, :func:`import_hashes`; the format is in
``spector.cases._exchange``).
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from spector.cases._access import (
    add_record,
    get_visible,
    require_role,
    select_visible,
    visible,
)
from spector.cases._audit import log
from spector.cases._base import RESTRICTED_HANDLING, Base, Owned, Principal, UtcDateTime, utcnow
from spector.cases._canon import canonical
from spector.cases._records import Case, Target
from spector.cases._who import Agency, User, instance_value
from spector.errors import NotFound
from spector.store._config import CORRELATION_LIMIT

__all__ = [
    "CORRELATION_LIMIT",
    "DeconflictionNotice",
    "Notice",
    "Selector",
    "acknowledge",
    "add_selector",
    "contact_of",
    "digest",
    "export_hashes",
    "import_hashes",
    "instance_key",
    "list_selectors",
    "notice_text",
    "notice_view",
    "notices",
    "other_notice_id",
    "selector_view",
]


class Selector(Owned, Base):
    """A selector of a target: canonical cleartext, its keyed hash, and the noisy mark."""

    __tablename__ = "selectors"
    __table_args__ = (UniqueConstraint("target_id", "digest"),)

    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(512))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    noisy: Mapped[bool] = mapped_column(Boolean, default=False)


class DeconflictionNotice(Base):
    """ "Another agency holds your selector": a pointer and a contact, for one agency.

    ``counterpart`` is ``"agency:<id>"`` for a hit on this instance and
    ``"remote:<instance>:<agency>"`` for one from an imported file; with ``agency_id``
    and ``digest`` (the recipient's selector's) it is unique: one notice per pair.
    """

    __tablename__ = "deconfliction_notices"
    __table_args__ = (UniqueConstraint("agency_id", "counterpart", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    selector_id: Mapped[int] = mapped_column(ForeignKey("selectors.id"))
    digest: Mapped[str] = mapped_column(String(64))
    counterpart: Mapped[str] = mapped_column(String(300))
    other_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    other_selector_id: Mapped[int | None] = mapped_column(ForeignKey("selectors.id"), default=None)
    remote_instance: Mapped[str | None] = mapped_column(String(100), default=None)
    remote_agency: Mapped[str | None] = mapped_column(String(200), default=None)
    remote_contact: Mapped[str | None] = mapped_column(String(400), default=None)
    contact: Mapped[str | None] = mapped_column(String(400), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


#: The name the API contract uses.
Notice = DeconflictionNotice


def digest(key: bytes, kind: str, canonical_value: str) -> str:
    """HMAC-SHA-256 under ``key`` of ``"kind:canonical"`` (UTF-8), as 64 lower hex digits."""
    message = f"{kind}:{canonical_value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def instance_key(s: Session) -> bytes:
    """The instance's deconfliction key (the ``instance`` table's ``deconfliction_key``).

    Read once per engine (the key never changes for a store) and kept for its lifetime.
    """
    bind = s.get_bind()
    engine = getattr(bind, "engine", bind)
    key = _KEYS.get(engine)
    if key is None:
        key = bytes.fromhex(instance_value(s, "deconfliction_key"))
        _KEYS[engine] = key
    return key


_KEYS: weakref.WeakKeyDictionary[object, bytes] = weakref.WeakKeyDictionary()


def _contact(name: str | None, email: str | None) -> str | None:
    if name is None:
        return None
    return f"{name} <{email}>" if email else name


def contact_of(s: Session, user_id: int | None) -> str | None:
    """``"Display Name <email>"`` of a user (the username stands in for a missing name)."""
    user = s.get(User, user_id) if user_id is not None else None
    if user is None:
        return None
    return _contact(user.display_name or user.username, user.email)


@dataclass(frozen=True, slots=True)
class _Holder:
    """A pointer to a selector with a given digest: no value, no case content."""

    selector_id: int
    agency_id: int
    target_id: int
    case_id: int
    noisy: bool
    contact: str | None  # the case officer's, else the selector's creator's


_STATEMENTS: dict[str, Any] = {}


def _holders(s: Session, value_digest: str) -> list[_Holder]:
    """Every selector on the instance with ``value_digest``, of every agency.

    The one documented query outside the access filter: it must see records the user
    cannot read to find a hit, so it returns pointers only (ids, agency, whom to call)
    and nothing of what the records say. Its callers never hand a holder's record out.
    """
    stmt = _STATEMENTS.get("holders")
    if stmt is None:  # built once: a bound ``digest`` parameter
        officer, creator = aliased(User), aliased(User)
        stmt = (  # access-filter: documented exception (pointers only)
            select(
                Selector.id,
                Selector.agency_id,
                Selector.target_id,
                Target.case_id,
                Selector.noisy,
                func.coalesce(officer.display_name, officer.username),
                officer.email,
                func.coalesce(creator.display_name, creator.username),
                creator.email,
            )
            .join(Target, Target.id == Selector.target_id)
            .join(Case, Case.id == Target.case_id)
            .outerjoin(officer, officer.id == Case.officer_id)
            .outerjoin(creator, creator.id == Selector.created_by)
            .where(Selector.digest == bindparam("digest"))
            .order_by(Selector.id)
        )
        _STATEMENTS["holders"] = stmt
    rows = s.execute(stmt, {"digest": value_digest}).all()
    return [
        _Holder(r[0], r[1], r[2], r[3], bool(r[4]), _contact(r[5], r[6]) or _contact(r[7], r[8]))
        for r in rows
    ]


def add_selector(
    s: Session,
    p: Principal,
    target_id: int,
    kind: str,
    value: str,
    *,
    distribution: str | None = None,
    handling: str | None = None,
    handling_note: str | None = None,
    region: str | None = None,
    correlation_limit: int = CORRELATION_LIMIT,
) -> tuple[Selector, list[DeconflictionNotice]]:
    """Add a selector to one of the principal's agency's targets and deconflict it.

    Returns the selector and the notices this call created (for both sides). An invalid
    value raises SelectorInvalid before anything is written; a target of another agency
    is AccessDenied, one the user cannot read NotFound (``add_record``). Adding a value
    the target already holds returns the existing selector and no notices (idempotent).
    ``distribution`` and ``handling`` (with ``handling_note``, required for H3) default
    to the target's; ``region`` is the default
    country of a phone number written without ``+country``.
    """
    canon = canonical(kind, value, region=region)
    value_digest = digest(instance_key(s), kind, canon)
    holders = _holders(s, value_digest)
    for h in holders:
        if h.target_id == target_id and h.agency_id == p.agency_id:
            return get_visible(s, p, Selector, h.selector_id), []
    selector = Selector(
        target_id=target_id,
        kind=kind,
        value=canon,
        digest=value_digest,
        noisy=False,
        distribution=distribution,  # None: the target's (add_record inherits it)
        handling=handling,
        handling_note=handling_note,
    )
    add_record(s, p, selector)  # checks the target: readable, and this agency's own
    cases = {h.case_id for h in holders}
    if len(cases) == correlation_limit:  # only then does the new selector's case decide
        cases.add(get_visible(s, p, Target, target_id).case_id)
    if len(cases) > correlation_limit or any(h.noisy for h in holders):
        _mark_noisy(s, p, selector, holders, len(cases), correlation_limit)
        return selector, []
    return selector, _notify(s, p, selector, holders)


def _mark_noisy(
    s: Session, p: Principal, selector: Selector, holders: list[_Holder], cases: int, limit: int
) -> None:
    # A system mark, not an edit of the records: it does not bump their version.
    s.execute(  # access-filter: documented exception (sets the noisy mark only)
        update(Selector)
        .where(Selector.digest == selector.digest, Selector.noisy.is_(False))
        .values(noisy=True)
        .execution_options(synchronize_session=False)
    )
    s.refresh(selector)
    if not any(h.noisy for h in holders):  # the digest has just gone over the limit
        log(
            s,
            p,
            "noisy",
            "selectors",
            selector.id,
            {"digest": selector.digest, "cases": cases, "limit": limit,
             "selectors": len(holders) + 1},
        )  # fmt: skip


def _own_contact(s: Session, p: Principal, target_id: int) -> str:
    """Whom the other side should call: the officer of the target's case, else ``p``."""
    row = s.execute(
        select_visible(p, Target)
        .with_only_columns(func.coalesce(User.display_name, User.username), User.email)
        .select_from(Target)
        .join(Case, Case.id == Target.case_id)
        .outerjoin(User, User.id == Case.officer_id)
        .where(visible(p, Case), Target.id == target_id)
    ).first()
    found = _contact(row[0], row[1]) if row is not None else None
    return found or contact_of(s, p.user_id) or ""


def _notify(
    s: Session, p: Principal, selector: Selector, holders: list[_Holder]
) -> list[DeconflictionNotice]:
    first: dict[int, _Holder] = {}
    for h in holders:
        if h.agency_id != p.agency_id:
            first.setdefault(h.agency_id, h)
    if not first:
        return []
    rows = s.execute(  # the pairs that have their notice: one per (agency, other, digest)
        select(DeconflictionNotice.agency_id, DeconflictionNotice.counterpart).where(
            DeconflictionNotice.digest == selector.digest,
            DeconflictionNotice.agency_id.in_([p.agency_id, *first]),
        )
    ).all()
    have = {(agency, counterpart) for agency, counterpart in rows}
    own_contact: str | None = None
    made: list[DeconflictionNotice] = []
    for agency_id, other in first.items():
        if (p.agency_id, f"agency:{agency_id}") not in have:
            made.append(
                DeconflictionNotice(
                    agency_id=p.agency_id,
                    selector_id=selector.id,
                    digest=selector.digest,
                    counterpart=f"agency:{agency_id}",
                    other_agency_id=agency_id,
                    other_selector_id=other.selector_id,
                    contact=other.contact,
                    kind=selector.kind,
                )
            )
        if (agency_id, f"agency:{p.agency_id}") not in have:
            if own_contact is None:
                own_contact = _own_contact(s, p, selector.target_id)
            made.append(
                DeconflictionNotice(
                    agency_id=agency_id,
                    selector_id=other.selector_id,
                    digest=selector.digest,
                    counterpart=f"agency:{p.agency_id}",
                    other_agency_id=p.agency_id,
                    other_selector_id=selector.id,
                    contact=own_contact or None,
                    kind=selector.kind,
                )
            )
    if not made:
        return []
    # A writer racing on the same pair fails on the unique constraint: a ConflictError
    # at commit, and the add can simply be repeated.
    s.add_all(made)
    s.flush()
    log(
        s,
        p,
        "notice",
        "deconfliction_notices",
        made[0].id,
        {
            "digest": selector.digest,
            "notices": [
                {"id": n.id, "agency_id": n.agency_id, "other_agency_id": n.other_agency_id,
                 "selector_id": n.selector_id, "other_selector_id": n.other_selector_id}
                for n in made
            ],
        },
    )  # fmt: skip
    return made


def list_selectors(
    s: Session,
    p: Principal,
    *,
    target_id: int | None = None,
    case_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Selector]:
    """The selectors the principal may read (through the access filter), oldest first."""
    query = select_visible(p, Selector)
    if target_id is not None:
        query = query.where(Selector.target_id == target_id)
    if case_id is not None:
        query = query.join(Target, Target.id == Selector.target_id).where(
            visible(p, Target), Target.case_id == case_id
        )
    rows = s.scalars(query.order_by(Selector.id).limit(limit).offset(offset))
    found = cast(list[Selector], list(rows))
    for sel in found:  # as list_visible does: a read of a restricted record is audited
        if sel.handling in RESTRICTED_HANDLING:
            log(s, p, "read", "selectors", sel.id, {"handling": sel.handling})
    return found


def notices(s: Session, p: Principal, *, open_only: bool = False) -> list[DeconflictionNotice]:
    """The notices addressed to the principal's agency (never another agency's)."""
    query = select(DeconflictionNotice).where(DeconflictionNotice.agency_id == p.agency_id)
    if open_only:
        query = query.where(DeconflictionNotice.acknowledged_at.is_(None))
    return list(s.scalars(query.order_by(DeconflictionNotice.id)))


def acknowledge(s: Session, p: Principal, notice_id: int) -> DeconflictionNotice:
    """Mark one of the agency's notices as dealt with (liaison, analyst or admin).

    A notice of another agency is NotFound, as an absent one is. Acknowledging twice
    keeps the first acknowledgement.
    """
    require_role(p, "liaison", "analyst", "admin")
    notice = s.get(DeconflictionNotice, notice_id)
    if notice is None or notice.agency_id != p.agency_id:
        raise NotFound(f"no deconfliction notice {notice_id}")
    if notice.acknowledged_at is None:
        notice.acknowledged_at = utcnow()
        notice.acknowledged_by = p.user_id
        s.flush()
        log(s, p, "acknowledge", "deconfliction_notices", notice.id, None)
    return notice


def _agency_name(s: Session, agency_id: int | None) -> str | None:
    agency = s.get(Agency, agency_id) if agency_id is not None else None
    return agency.name if agency else None


def other_notice_id(s: Session, n: DeconflictionNotice) -> int | None:
    """The id of the other side's notice of the same hit (None for a remote one)."""
    if n.other_agency_id is None:
        return None
    found: int | None = s.scalar(
        select(DeconflictionNotice.id).where(
            DeconflictionNotice.agency_id == n.other_agency_id,
            DeconflictionNotice.counterpart == f"agency:{n.agency_id}",
            DeconflictionNotice.digest == n.digest,
        )
    )
    return found


def notice_view(s: Session, n: DeconflictionNotice) -> dict[str, object]:
    """A notice as JSON: pointers and a contact only."""
    return {
        "id": n.id,
        "kind": n.kind,
        "selector_id": n.selector_id,
        "other_agency": _agency_name(s, n.other_agency_id) or n.remote_agency,
        "other_selector_id": n.other_selector_id,
        "other_notice_id": other_notice_id(s, n),
        "remote_instance": n.remote_instance,
        "contact": n.contact,
        "created_at": n.created_at.isoformat(),
        "acknowledged_at": n.acknowledged_at.isoformat() if n.acknowledged_at else None,
    }


def notice_text(s: Session, n: DeconflictionNotice) -> str:
    """One line for a person: which of your selectors, who else holds it, whom to call."""
    v = notice_view(s, n)
    if n.remote_instance is not None:
        where = f"agency {v['other_agency']} on instance {n.remote_instance}"
    else:
        where = f"agency {v['other_agency']} (their selector {n.other_selector_id}"
        where += f", notice {v['other_notice_id']})" if v["other_notice_id"] else ")"
    state = "acknowledged" if n.acknowledged_at else "open"
    return (
        f"notice {n.id} [{state}]: your {n.kind} selector {n.selector_id} is also held by "
        f"{where}; contact {n.contact or 'unknown'}"
    )


def selector_view(sel: Selector) -> dict[str, object]:
    """A selector the principal may read, as JSON."""
    return {
        "id": sel.id,
        "target_id": sel.target_id,
        "kind": sel.kind,
        "value": sel.value,
        "noisy": sel.noisy,
        "distribution": sel.distribution,
        "handling": sel.handling,
        "agency_id": sel.agency_id,
        "created_at": sel.created_at.isoformat(),
    }


def export_hashes(s: Session, p: Principal, key: bytes) -> dict[str, Any]:
    """The agency's selectors as keyed hashes under a shared key (``_exchange``)."""
    from spector.cases._exchange import export_hashes as run

    return run(s, p, key)


def import_hashes(
    s: Session, p: Principal, data: Mapping[str, Any], key: bytes, *, where: str | None = None
) -> list[DeconflictionNotice]:
    """Match another instance's exchange file against the local selectors (``_exchange``)."""
    from spector.cases._exchange import import_hashes as run

    return run(s, p, data, key, where=where)
