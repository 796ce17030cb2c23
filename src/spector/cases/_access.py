"""The access filter: the one place that decides who reads and writes a shared record.

Read rule, for an :class:`~spector.cases._base.Owned` record ``r`` and a principal ``p``::

    p holds a role other than media_reviewer
    and (   r.agency_id == p.agency_id                                  # its own agency
         or r.distribution == "operation" and r.operation_id in p.operations  # MISP 4
         or r.distribution == "all")                                    # MISP 1

:func:`visible` is that rule as SQL, :func:`can_read` the same rule in Python (a test
proves they agree on random records). :func:`select_visible` is the only query path for
Owned records: every module of ``spector.cases`` reads through it, :func:`get_visible` or
:func:`list_visible` (``tests/cases/test_no_bypass.py`` scans the sources for any other).

Writes: ``analyst`` and ``admin`` add, edit and delete their own agency's records;
``liaison`` may only change the distribution (``distribution``/``operation_id``) of its
own agency's records; ``viewer`` and ``media_reviewer`` write nothing. No agency edits
another agency's record, whatever its distribution.

Containment: a record inside another (a target, note or task inside its case; a note on
a target; a selector on a target; evidence in a case; see :data:`CONTAINERS`) belongs to
the container's agency, inherits the container's distribution and handling unless it
names its own, and is never more widely distributed than its container. Narrowing a
container narrows every child that would be wider (and their children), each change
versioned and audited. Other links to Owned records (an arrest's ``target_id``) must
point at a record the user can read, and carry no distribution constraint.

Optimistic locking: every Owned record carries ``version`` (SQLAlchemy's
``version_id_col``). An edit with ``expected_version`` that differs fails at once; an edit
that races a concurrent writer fails at flush (``StaleDataError``); both are a
:class:`~spector.errors.ConflictError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from spector.cases import _audit
from spector.cases._base import (
    DISTRIBUTIONS,
    HANDLING_CODES,
    RESTRICTED_HANDLING,
    Base,
    Owned,
    Principal,
)
from spector.errors import AccessDenied, ConflictError, InputError, InternalError, NotFound

__all__ = [
    "CONTAINERS",
    "READ_ROLES",
    "SHARE_FIELDS",
    "WRITE_ROLES",
    "add_record",
    "can_read",
    "contained",
    "count_visible",
    "delete_record",
    "get_visible",
    "label_of",
    "list_visible",
    "may_read",
    "owned_models",
    "require_role",
    "select_visible",
    "update_record",
    "visible",
    "within",
]

R = TypeVar("R", bound=Owned)

#: Roles that read case records (media_reviewer reads only [L]'s media items).
READ_ROLES: frozenset[str] = frozenset({"admin", "analyst", "viewer", "liaison"})
#: Roles that add, edit and delete their agency's records.
WRITE_ROLES: tuple[str, ...] = ("analyst", "admin")
#: Fields a liaison may change (the distribution of its agency's records).
SHARE_FIELDS: frozenset[str] = frozenset({"distribution", "operation_id"})
#: Fields no edit may set: the filter and the version lock own them.
_FIXED = frozenset({"id", "agency_id", "created_by", "created_at", "updated_at", "version"})

#: Containment: table -> its foreign-key columns that name the record containing it, the
#: most specific last (a note on a target inherits from the target). Tables of later
#: parts are named here too; an entry whose table is not mapped is ignored.
CONTAINERS: Mapping[str, tuple[str, ...]] = {
    "targets": ("case_id",),
    "notes": ("case_id", "target_id"),
    "tasks": ("case_id",),
    "selectors": ("target_id",),
    "evidence": ("case_id",),
}


_OWNED_CACHE: dict[tuple[int, int], list[type[Owned]]] = {}


def owned_models() -> list[type[Owned]]:
    """Every mapped model that mixes in Owned (of the modules imported so far), containers
    before what they contain (the metadata's foreign-key order), then by table name.

    Cached per (mappers, tables) count: a module imported later adds its models."""
    key = (len(Base.registry.mappers), len(Base.metadata.tables))
    cached = _OWNED_CACHE.get(key)
    if cached is None:
        order = {t.name: i for i, t in enumerate(Base.metadata.sorted_tables)}
        models = [m.class_ for m in Base.registry.mappers if issubclass(m.class_, Owned)]
        cached = sorted(models, key=lambda m: (order.get(m.__tablename__, 0), m.__tablename__))  # type: ignore[attr-defined]
        _OWNED_CACHE.clear()
        _OWNED_CACHE[key] = cached
    return list(cached)


def _model_of_table(table: str) -> type[Owned] | None:
    for model in owned_models():
        if model.__tablename__ == table:  # type: ignore[attr-defined]
            return model
    return None


def _check_model(model: type[Any]) -> None:
    if not (isinstance(model, type) and issubclass(model, Owned)):
        raise InternalError(f"{model!r} is not an Owned model: the access filter has no rule")


def _a(label: str) -> str:
    """``label`` with its indefinite article: "a case", "an arrest"."""
    return f"{'an' if label[:1] in 'aeiou' else 'a'} {label}"


def label_of(model: type[Any] | Owned) -> str:
    """How messages name a record type: ``Case`` -> "case", ``CustodyEvent`` -> "custody
    event"."""
    cls = model if isinstance(model, type) else type(model)
    return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()


# --- reading -----------------------------------------------------------------------------


def may_read(p: Principal) -> bool:
    """Whether ``p``'s roles let it read case records at all."""
    return bool(p.roles & READ_ROLES)


def can_read(p: Principal, rec: Owned) -> bool:
    """The read rule in Python: exactly what :func:`visible` says in SQL."""
    if not may_read(p):
        return False
    return (
        rec.agency_id == p.agency_id
        or (rec.distribution == "operation" and rec.operation_id in p.operations)
        or rec.distribution == "all"
    )


def visible(p: Principal, model: type[Owned]) -> ColumnElement[bool]:
    """The read rule as a SQL condition on ``model``'s table."""
    _check_model(model)
    if not may_read(p):
        return false()
    cols: Any = model
    return or_(
        cols.agency_id == p.agency_id,
        and_(cols.distribution == "operation", cols.operation_id.in_(sorted(p.operations))),
        cols.distribution == "all",
    )


def select_visible(p: Principal, model: type[R]) -> Select[R]:
    """``SELECT model WHERE <read rule>``: the only query path for Owned records. Add
    criteria and ordering with ``.where()`` / ``.order_by()``; execute it through
    :func:`list_visible` so reads of restricted records are audited."""
    return select(model).where(visible(p, model))


def _audit_reads(s: Session, p: Principal, recs: Iterable[Owned]) -> None:
    _audit.log_many(
        s,
        p,
        "read",
        [
            (_table(rec), rec.id, {"handling": rec.handling})
            for rec in recs
            if rec.handling in RESTRICTED_HANDLING
        ],
    )


def list_visible(
    s: Session, p: Principal, model: type[R], *criteria: Any, order_by: Any = None
) -> list[R]:
    """The records of ``model`` that ``p`` may read and that meet ``criteria`` (ordered by
    id unless ``order_by``); every restricted one (H2, H3) is a read in the audit log."""
    stmt = select_visible(p, model).where(*criteria)
    cols: Any = model
    stmt = stmt.order_by(order_by if order_by is not None else cols.id)
    recs = list(s.execute(stmt).scalars())
    _audit_reads(s, p, recs)
    return recs


def get_visible(s: Session, p: Principal, model: type[R], record_id: int) -> R:
    """The record ``record_id`` of ``model`` if ``p`` may read it; NotFound with the very
    same message whether it does not exist or is not shared with ``p``'s agency. A read
    of a restricted record is audited."""
    cols: Any = model
    rec = s.execute(select_visible(p, model).where(cols.id == record_id)).scalar_one_or_none()
    if rec is None:
        raise NotFound(f"no {label_of(model)} {record_id}", hint="check the id")
    _audit_reads(s, p, [rec])
    return rec


# --- roles and checks --------------------------------------------------------------------


def require_role(p: Principal, *roles: str, action: str = "do this") -> None:
    """AccessDenied unless ``p`` holds one of ``roles``."""
    if not p.has(*roles):
        held = ", ".join(sorted(p.roles)) or "none"
        raise AccessDenied(
            f"user {p.username} may not {action} (roles: {held})",
            expected=f"a user with the role {' or '.join(roles)}",
        )


def within(child: Owned, parent: Owned) -> bool:
    """Whether ``child`` is distributed no more widely than ``parent`` (same agency)."""
    if child.distribution == "agency":
        return True
    if parent.distribution == "all":
        return True
    return (
        child.distribution == "operation"
        and parent.distribution == "operation"
        and child.operation_id == parent.operation_id
    )


def _table(rec: Owned | type[Owned]) -> str:
    return str(rec.__tablename__)  # type: ignore[union-attr]


def _fk_targets(model: type[Owned]) -> dict[str, type[Owned]]:
    """Foreign-key column -> the Owned model it points at."""
    out: dict[str, type[Owned]] = {}
    table = model.__table__  # type: ignore[attr-defined]
    for fk in table.foreign_keys:
        target = _model_of_table(fk.column.table.name)
        if target is not None:
            out[fk.parent.name] = target
    return out


def _check_codes(p: Principal, rec: Owned, *, membership: bool) -> None:
    what = f"{label_of(rec)}"
    if rec.distribution not in DISTRIBUTIONS:
        raise InputError(
            f"{what}: unknown distribution {rec.distribution!r}",
            expected=f"one of {', '.join(DISTRIBUTIONS)}",
        )
    if rec.handling not in HANDLING_CODES:
        raise InputError(
            f"{what}: unknown handling code {rec.handling!r}",
            expected=f"one of {', '.join(HANDLING_CODES)} (Europol handling codes)",
        )
    if rec.handling == "H3" and not (rec.handling_note or "").strip():
        raise InputError(
            f"{what}: handling code H3 needs its restrictions in the handling note",
            expected="a handling note naming the restrictions",
        )
    if rec.distribution == "operation" and rec.operation_id is None:
        raise InputError(
            f"{what}: distribution 'operation' needs the joint operation it is shared with",
            expected="an operation your agency belongs to",
        )
    if membership and rec.operation_id is not None and rec.operation_id not in p.operations:
        raise AccessDenied(
            f"{what}: your agency is not in operation {rec.operation_id}",
            expected="an operation your agency belongs to",
        )


def _containers(s: Session, p: Principal, rec: Owned) -> list[Owned]:
    """The records containing ``rec`` (least specific first); each must be readable by
    ``p`` and owned by ``p``'s agency. Links to other Owned records must be readable."""
    fks = _fk_targets(type(rec))
    names = CONTAINERS.get(_table(rec), ())
    found: list[Owned] = []
    for column in names:
        value = getattr(rec, column, None)
        if column not in fks or value is None:
            continue
        parent = get_visible(s, p, fks[column], value)
        if parent.agency_id != p.agency_id:
            raise AccessDenied(
                f"{label_of(parent)} {value} belongs to another agency: only its owner "
                f"adds {_a(label_of(rec))} to it"
            )
        found.append(parent)
    for column, target in fks.items():
        value = getattr(rec, column)
        if column not in names and value is not None:
            get_visible(s, p, target, value)
    return found


def _check_within(rec: Owned, containers: list[Owned]) -> None:
    for parent in containers:
        if not within(rec, parent):
            raise AccessDenied(
                f"{_a(label_of(rec))} cannot be shared more widely than its {label_of(parent)} "
                f"{parent.id} ({rec.distribution} against {parent.distribution})",
                hint=f"share the {label_of(parent)} first",
            )


def _flush(s: Session, rec: Owned, had: int | None) -> None:
    # Name the record before flushing: after a failed flush its attributes are expired
    # and the session refuses to load them.
    name = f"{label_of(rec)} {rec.id}" if rec.id is not None else label_of(rec)
    try:
        s.flush()
    except StaleDataError as exc:
        you = f", you had version {had}" if had is not None else ""
        raise ConflictError(
            f"{name} changed since you read it (another user saved it first{you})",
            hint="read it again and repeat the edit",
        ) from exc
    except IntegrityError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConflictError(f"{name}: the store refused the change ({reason})") from exc


# --- writing -----------------------------------------------------------------------------


def add_record(s: Session, p: Principal, rec: R) -> R:
    """Add ``rec`` as ``p``'s agency's record, created by ``p``; returns it flushed (with
    its id). A contained record inherits its container's distribution, operation and
    handling when it names none, and may not be wider than it. Checks the role (analyst
    or admin), the distribution and handling codes, that an operation named is one the
    agency belongs to; audits the create."""
    require_role(p, *WRITE_ROLES, action=f"add {_a(label_of(rec))}")
    rec.agency_id = p.agency_id
    rec.created_by = p.user_id
    containers = _containers(s, p, rec)
    if containers:
        closest = containers[-1]
        if rec.distribution is None:
            rec.distribution = closest.distribution
            if rec.operation_id is None:
                rec.operation_id = closest.operation_id
        if rec.handling is None:
            rec.handling = closest.handling
            if rec.handling_note is None:
                rec.handling_note = closest.handling_note
    if rec.distribution is None:
        rec.distribution = "agency"
    if rec.handling is None:
        rec.handling = "H0"
    _check_codes(p, rec, membership=True)
    _check_within(rec, containers)
    s.add(rec)
    _flush(s, rec, None)
    _audit.log(
        s, p, "create", _table(rec), rec.id,
        {"distribution": rec.distribution, "operation_id": rec.operation_id,
         "handling": rec.handling},
    )  # fmt: skip
    return rec


def _owner_only(p: Principal, rec: Owned, verb: str) -> None:
    if rec.agency_id != p.agency_id:
        raise AccessDenied(
            f"{label_of(rec)} {rec.id} belongs to another agency: only its owner may {verb} it"
        )


def _check_version(rec: Owned, expected_version: int | None) -> None:
    if expected_version is not None and rec.version != expected_version:
        raise ConflictError(
            f"{label_of(rec)} {rec.id} changed since you read it "
            f"(version {rec.version}, you had {expected_version})",
            hint="read it again and repeat the edit",
        )


def _children(s: Session, rec: Owned) -> list[Owned]:
    """The records ``rec`` contains directly (every table of :data:`CONTAINERS`)."""
    out: list[Owned] = []
    for model in owned_models():
        names = CONTAINERS.get(_table(model), ())
        for column, target in _fk_targets(model).items():
            if column in names and isinstance(rec, target):
                cols: Any = model
                stmt = select(model).where(getattr(cols, column) == rec.id).order_by(cols.id)
                out.extend(s.execute(stmt).scalars())
    return out


def contained(s: Session, p: Principal, rec: Owned) -> list[Owned]:
    """The records ``rec`` contains directly that ``p`` may read (see :data:`CONTAINERS`)."""
    return [child for child in _children(s, rec) if can_read(p, child)]


def _narrow_children(s: Session, p: Principal, rec: Owned) -> None:
    for child in _children(s, rec):
        if not within(child, rec):
            child.distribution = rec.distribution
            child.operation_id = rec.operation_id
            _audit.log(
                s, p, "update", _table(child), child.id,
                {"fields": ["distribution", "operation_id"], "distribution": rec.distribution,
                 "reason": f"narrowed with {label_of(rec)} {rec.id}"},
            )  # fmt: skip
        _narrow_children(s, p, child)


def update_record(
    s: Session,
    p: Principal,
    model: type[R],
    record_id: int,
    *,
    expected_version: int | None,
    **changes: Any,
) -> R:
    """Apply ``changes`` (attribute -> value) to a record of ``p``'s agency and bump its
    version. ``expected_version`` (the version the user read) that is not the stored one,
    or a concurrent writer, is a ConflictError; another agency's record AccessDenied; a
    record ``p`` cannot read NotFound. Narrowing a container narrows its children."""
    _check_model(model)
    rec = get_visible(s, p, model, record_id)
    _owner_only(p, rec, "edit")
    fields = set(changes)
    if fields <= SHARE_FIELDS:
        require_role(p, *WRITE_ROLES, "liaison", action=f"share {_a(label_of(model))}")
    else:
        require_role(p, *WRITE_ROLES, action=f"edit {_a(label_of(model))}")
    columns = set(model.__table__.columns.keys())  # type: ignore[attr-defined]
    for name in sorted(fields):
        if name in _FIXED or name not in columns:
            raise InputError(
                f"{label_of(model)}: {name!r} cannot be changed",
                expected=f"one of {', '.join(sorted(columns - _FIXED))}",
            )
    _check_version(rec, expected_version)
    had = rec.version
    changed = sorted(k for k, v in changes.items() if getattr(rec, k) != v)
    if not changed:
        return rec
    for name in changed:
        setattr(rec, name, changes[name])
    _check_codes(p, rec, membership=bool(SHARE_FIELDS & set(changed)))
    _check_within(rec, _containers(s, p, rec))
    if SHARE_FIELDS & set(changed):
        _narrow_children(s, p, rec)
    _flush(s, rec, expected_version if expected_version is not None else had)
    detail: dict[str, object] = {"fields": changed, "version": rec.version}
    if SHARE_FIELDS & set(changed):
        detail.update(distribution=rec.distribution, operation_id=rec.operation_id)
    _audit.log(s, p, "update", _table(rec), rec.id, detail)
    return rec


def delete_record(
    s: Session, p: Principal, model: type[R], record_id: int, *, expected_version: int | None = None
) -> None:
    """Delete a record of ``p``'s agency (analyst or admin). A record that still contains
    others is a ConflictError naming how many; the delete is audited."""
    _check_model(model)
    rec = get_visible(s, p, model, record_id)
    _owner_only(p, rec, "delete")
    require_role(p, *WRITE_ROLES, action=f"delete {_a(label_of(model))}")
    _check_version(rec, expected_version)
    held: dict[str, int] = {}
    for child in _children(s, rec):
        held[label_of(child)] = held.get(label_of(child), 0) + 1
    if held:
        what = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in sorted(held.items()))
        raise ConflictError(
            f"{label_of(rec)} {rec.id} still holds {what}", hint="delete those first"
        )
    _audit.log(s, p, "delete", _table(rec), rec.id, {"version": rec.version})
    s.delete(rec)
    _flush(s, rec, expected_version if expected_version is not None else rec.version)


def count_visible(s: Session, p: Principal, model: type[Owned], *criteria: Any) -> int:
    """How many records of ``model`` ``p`` may read that meet ``criteria`` (no record is
    read, so nothing is audited)."""
    _check_model(model)
    stmt = select(func.count()).select_from(model).where(visible(p, model), *criteria)
    return int(s.execute(stmt).scalar_one())
