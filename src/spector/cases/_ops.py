"""Arrests and seizures of joint operations, the import of an operation's published
figures, and the operation's totals.

- :func:`add_arrest` / :func:`add_seizure` record one arrest (a country, a count, a date,
  a linked target) or one seizure (cash and crypto with currency and amount, firearms by
  count, drugs by substance and mass, other) of a named operation. Both go through the
  access layer's ``add_record`` (role, distribution, handling and membership checks, the
  audit log); reads go through ``select_visible``.
- :func:`import_operation` loads an operation file (format in ``_ops_schema``) in one
  transaction: all of it or nothing.
- :func:`operation_totals` adds up what the principal may see and reconciles it with the
  published totals (``_ops_totals``).
"""

from __future__ import annotations

from datetime import date as Date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Numeric, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import Date as SqlDate

from spector.cases import _audit, _records  # noqa: F401  (_records: targets, the FK of target_id)
from spector.cases._access import add_record, delete_record, list_visible, require_role
from spector.cases._base import DISTRIBUTIONS, HANDLING_CODES, Base, Owned, Principal
from spector.cases._ops_schema import (
    SEIZURE_KINDS,
    CashCryptoSeizure,
    DrugsSeizure,
    FirearmsSeizure,
    OperationFile,
    OtherSeizure,
    arrest_country,
    load_operation_file,
)
from spector.cases._ops_totals import ArrestFact, SeizureFact, compute_totals
from spector.cases._who import (
    Agency,
    Operation,
    OperationAgency,
    create_agency,
    create_operation,
    operation_by_name,
)
from spector.errors import AccessDenied, ConflictError, InputError, NotFound

__all__ = [
    "SEIZURE_KINDS",
    "Arrest",
    "Seizure",
    "add_arrest",
    "add_seizure",
    "arrest_dict",
    "import_operation",
    "list_arrests",
    "list_seizures",
    "operation_totals",
    "seizure_dict",
]


def _owned_checks() -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint("distribution IN ('agency', 'operation', 'all')", name="distribution"),
        CheckConstraint("handling IN ('H0', 'H1', 'H2', 'H3')", name="handling"),
    )


class Arrest(Owned, Base):
    """Arrests in one country (``count`` people), possibly dated and linked to a target."""

    __tablename__ = "arrests"
    __table_args__ = (
        *_owned_checks(),
        CheckConstraint("count >= 1", name="count_positive"),
    )

    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), index=True)
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("targets.id"), default=None, index=True
    )
    date: Mapped[Date | None] = mapped_column(SqlDate(), default=None)
    country: Mapped[str] = mapped_column(String(2))
    count: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str | None] = mapped_column(Text(), default=None)


class Seizure(Owned, Base):
    """One seizure: ``cash_crypto`` (amount, currency), ``firearms`` (count), ``drugs``
    (substance, kg) or ``other`` (description, count); the fields a kind does not use
    are None."""

    __tablename__ = "seizures"
    __table_args__ = (
        *_owned_checks(),
        CheckConstraint("kind IN ('cash_crypto', 'firearms', 'drugs', 'other')", name="kind"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_nonneg"),
        CheckConstraint("count IS NULL OR count >= 0", name="count_nonneg"),
        CheckConstraint("kg IS NULL OR kg >= 0", name="kg_nonneg"),
    )

    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), index=True)
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("targets.id"), default=None, index=True
    )
    date: Mapped[Date | None] = mapped_column(SqlDate(), default=None)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(28, 8), default=None)
    currency: Mapped[str | None] = mapped_column(String(8), default=None)
    count: Mapped[int | None] = mapped_column(Integer, default=None)
    substance: Mapped[str | None] = mapped_column(String(200), default=None)
    kg: Mapped[Decimal | None] = mapped_column(Numeric(18, 6), default=None)
    description: Mapped[str | None] = mapped_column(Text(), default=None)


# --- recording one arrest or seizure -----------------------------------------------------


def _operation(s: Session, name: str) -> Operation:
    return operation_by_name(s, name)


def _check_sharing(distribution: str, handling: str) -> None:
    if distribution not in DISTRIBUTIONS:
        raise InputError(
            f"unknown distribution {distribution!r}", expected=f"one of {', '.join(DISTRIBUTIONS)}"
        )
    if handling not in HANDLING_CODES:
        raise InputError(
            f"unknown handling code {handling!r}", expected=f"one of {', '.join(HANDLING_CODES)}"
        )


def add_arrest(
    s: Session,
    p: Principal,
    operation: str,
    *,
    country: str,
    count: int = 1,
    date: Date | None = None,
    target_id: int | None = None,
    note: str | None = None,
    distribution: str = "operation",
    handling: str = "H0",
) -> Arrest:
    """Record ``count`` arrests in ``country`` (ISO 3166-1 alpha-2) for ``operation``,
    owned by ``p``'s agency (analyst or admin; the agency must be in the operation to
    share it there). ``target_id`` must be a target ``p`` can read. InputError for a
    bad country or a count below 1."""
    try:
        code = arrest_country(country)
    except ValueError as exc:
        raise InputError(f"arrest country: {exc}") from None
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError(f"arrest count {count!r}", expected="a whole number ≥ 1")
    _check_sharing(distribution, handling)
    op = _operation(s, operation)
    rec = Arrest(
        operation_id=op.id,
        country=code,
        count=count,
        date=date,
        target_id=target_id,
        note=(note or "").strip() or None,
        distribution=distribution,
        handling=handling,
    )
    return add_record(s, p, rec)


def _seizure_fields(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of a seizure of ``kind``, validated by the operation file's schema."""
    models: dict[str, type[Any]] = {
        "cash_crypto": CashCryptoSeizure,
        "firearms": FirearmsSeizure,
        "drugs": DrugsSeizure,
        "other": OtherSeizure,
    }
    if kind not in models:
        raise InputError(
            f"unknown seizure kind {kind!r}", expected=f"one of {', '.join(SEIZURE_KINDS)}"
        )
    model = models[kind]
    given = {k: v for k, v in values.items() if v is not None}
    extra = sorted(set(given) - set(model.model_fields))
    if extra:
        used = ", ".join(k for k in model.model_fields if k != "kind")
        raise InputError(f"a {kind} seizure has no {', '.join(extra)}", expected=used)
    from pydantic import ValidationError

    try:
        parsed = model.model_validate({"kind": kind, **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        what = (first.get("ctx") or {}).get("error", first["msg"])
        if first["type"] == "missing":
            what = "is required"
        elif first["type"] == "greater_than_equal":
            what = f"must be ≥ {first['ctx']['ge']}"
        raise InputError(f"{kind} seizure: {field} {what}") from None
    return {k: v for k, v in parsed.model_dump().items() if k != "kind"}


def add_seizure(
    s: Session,
    p: Principal,
    operation: str,
    *,
    kind: str,
    amount: Decimal | int | str | None = None,
    currency: str | None = None,
    count: int | None = None,
    substance: str | None = None,
    kg: Decimal | int | str | None = None,
    description: str | None = None,
    date: Date | None = None,
    target_id: int | None = None,
    distribution: str = "operation",
    handling: str = "H0",
) -> Seizure:
    """Record one seizure of ``operation``: ``cash_crypto`` needs amount and currency,
    ``firearms`` a count, ``drugs`` a substance and kg, ``other`` a description (count
    optional). Amounts and kg are exact decimals ≥ 0; a field the kind does not use is an
    InputError. Owned by ``p``'s agency, through the access layer."""
    values = {
        "amount": _as_decimal(amount, "amount"),
        "currency": currency,
        "count": count,
        "substance": substance,
        "kg": _as_decimal(kg, "kg"),
        "description": description,
    }
    fields = _seizure_fields(kind, values)
    _check_sharing(distribution, handling)
    op = _operation(s, operation)
    rec = Seizure(
        operation_id=op.id,
        kind=kind,
        date=date,
        target_id=target_id,
        distribution=distribution,
        handling=handling,
        **fields,
    )
    return add_record(s, p, rec)


def _as_decimal(value: Decimal | int | str | None, field: str) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise InputError(f"seizure {field} {value!r}", expected="a number")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise InputError(f"seizure {field} {value!r}", expected="a number such as 12.5") from None


def _operation_criteria(
    s: Session, model: type[Arrest] | type[Seizure], operation: str | None
) -> list[Any]:
    return [] if operation is None else [model.operation_id == _operation(s, operation).id]


def list_arrests(s: Session, p: Principal, operation: str | None = None) -> list[Arrest]:
    """The arrests ``p`` may see (of ``operation`` if named), oldest first."""
    return list_visible(s, p, Arrest, *_operation_criteria(s, Arrest, operation))


def list_seizures(s: Session, p: Principal, operation: str | None = None) -> list[Seizure]:
    """The seizures ``p`` may see (of ``operation`` if named), oldest first."""
    return list_visible(s, p, Seizure, *_operation_criteria(s, Seizure, operation))


def arrest_dict(rec: Arrest) -> dict[str, Any]:
    """An arrest as JSON-able values (the CLI's --json, the web API)."""
    return {
        "id": rec.id,
        "operation_id": rec.operation_id,
        "agency_id": rec.agency_id,
        "country": rec.country,
        "count": rec.count,
        "date": rec.date.isoformat() if rec.date else None,
        "target_id": rec.target_id,
        "note": rec.note,
        "distribution": rec.distribution,
        "handling": rec.handling,
        "version": rec.version,
    }


def seizure_dict(rec: Seizure) -> dict[str, Any]:
    """A seizure as JSON-able values (exact decimals as strings)."""
    return {
        "id": rec.id,
        "operation_id": rec.operation_id,
        "agency_id": rec.agency_id,
        "kind": rec.kind,
        "amount": _dec_text(rec.amount),
        "currency": rec.currency,
        "count": rec.count,
        "substance": rec.substance,
        "kg": _dec_text(rec.kg),
        "description": rec.description,
        "date": rec.date.isoformat() if rec.date else None,
        "target_id": rec.target_id,
        "distribution": rec.distribution,
        "handling": rec.handling,
        "version": rec.version,
    }


def _dec_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = f"{value.normalize():f}"
    return text


# --- totals ------------------------------------------------------------------------------


def operation_totals(s: Session, p: Principal, name: str) -> dict[str, Any]:
    """The totals.json of operation ``name`` as ``p`` sees it: the arrests and seizures
    ``p`` may read, added up (exact decimals), and one discrepancy sentence for every
    stated total they do not add up to. NotFound for an unknown operation."""
    op = _operation(s, name)
    arrests = list_visible(s, p, Arrest, Arrest.operation_id == op.id)
    seizures = list_visible(s, p, Seizure, Seizure.operation_id == op.id)
    return compute_totals(
        (ArrestFact(a.country, a.count) for a in arrests),
        (SeizureFact(x.kind, x.amount, x.currency, x.count, x.substance, x.kg) for x in seizures),
        op.stated_totals,
    )


# --- importing an operation file ---------------------------------------------------------


def _acting_for(p: Principal, agency_id: int, operation_id: int) -> Principal:
    """``p`` writing a record owned by ``agency_id`` (the agency that made the arrests);
    the audit log names ``p``'s user and that agency."""
    return Principal(
        user_id=p.user_id,
        username=p.username,
        agency_id=agency_id,
        roles=p.roles,
        operations=p.operations | {operation_id},
    )


def _clear_figures(s: Session, p: Principal, op: Operation) -> int:
    """Delete every arrest and seizure of ``op`` (``--replace``), each through the access
    layer acting for its owning agency; returns how many."""
    removed = 0
    for agency_id in s.scalars(select(Agency.id).order_by(Agency.id)):
        owner = _acting_for(p, agency_id, op.id)
        for model in (Arrest, Seizure):
            rows = list_visible(
                s, owner, model, model.operation_id == op.id, model.agency_id == agency_id
            )
            for rec in rows:
                delete_record(s, owner, model, rec.id)
                removed += 1
    return removed


def import_operation(s: Session, p: Principal, path: Path, *, replace: bool = False) -> Operation:
    """Load an operation file (see ``_ops_schema``): the operation (announced date,
    stated totals, source), the agencies it names that do not exist yet, one arrest row
    per country (owned by that country's agency in the file, else by ``p``'s; shared with
    the operation) and its seizures (owned by ``p``'s agency).

    All or nothing: the caller's transaction holds every row; any error leaves the store
    as it was. Needs the admin role (it creates an operation, and agencies); an existing
    operation of that name is a ConflictError unless ``replace`` (then its metadata is
    updated and all its arrests and seizures are replaced by the file's). Errors name
    the file and the JSON path of the value.
    """
    spec = load_operation_file(path)
    existing = {a.name.casefold(): a for a in s.scalars(select(Agency))}
    missing = [a for a in spec.agencies if a.name.casefold() not in existing]
    if not p.has("admin"):
        if missing:
            names = ", ".join(repr(a.name) for a in missing)
            raise AccessDenied(
                f"{path}: the file names agencies that do not exist yet ({names}); "
                "only an admin may create them",
                hint="ask an admin to import it, or to create those agencies first",
            )
        require_role(p, "admin", action="import an operation (it creates the operation)")
    for i, entry in enumerate(spec.agencies):
        have = existing.get(entry.name.casefold())
        if have is not None and have.country != entry.country:
            raise ConflictError(
                f"{path}: agencies[{i}]: agency {have.name!r} exists with country "
                f"{have.country}, the file says {entry.country}"
            )
    op = _upsert_operation(s, p, spec, path, replace=replace)
    for entry in missing:
        existing[entry.name.casefold()] = create_agency(
            s, p, name=entry.name, country=entry.country
        )
    members = set(
        s.scalars(select(OperationAgency.agency_id).where(OperationAgency.operation_id == op.id))
    )
    wanted = {existing[a.name.casefold()].id for a in spec.agencies} | {p.agency_id}
    for agency_id in sorted(wanted - members):
        s.add(OperationAgency(operation_id=op.id, agency_id=agency_id))
    s.flush()
    by_country: dict[str, int] = {}
    for entry in spec.agencies:
        by_country.setdefault(entry.country, existing[entry.name.casefold()].id)
    for arrest in spec.arrests:
        owner = _acting_for(p, by_country.get(arrest.country, p.agency_id), op.id)
        add_record(s, owner, Arrest(
            operation_id=op.id, country=arrest.country, count=arrest.count,
            distribution="operation", handling="H0",
        ))  # fmt: skip
    me = _acting_for(p, p.agency_id, op.id)
    for seizure in spec.seizures:
        fields = {k: v for k, v in seizure.model_dump().items() if k != "kind"}
        add_record(s, me, Seizure(
            operation_id=op.id, kind=seizure.kind, distribution="operation", handling="H0",
            **fields,
        ))  # fmt: skip
    _audit.log(s, p, "import", "operations", op.id, {
        "file": path.name, "replace": replace, "agencies_created": [a.name for a in missing],
        "arrests": len(spec.arrests), "seizures": len(spec.seizures),
    })  # fmt: skip
    return op


def _upsert_operation(
    s: Session, p: Principal, spec: OperationFile, path: Path, *, replace: bool
) -> Operation:
    stated = spec.stated_totals.as_json() if spec.stated_totals is not None else None
    try:
        op = operation_by_name(s, spec.name)
    except NotFound:
        op = None
    if op is not None and not replace:
        raise ConflictError(
            f"{path}: operation {op.name!r} exists already",
            hint="use --replace to replace its figures with the file's",
        )
    if op is None:
        op = create_operation(
            s, p, name=spec.name, agencies=[_agency_name(s, p)], announced=spec.announced,
            description=spec.description,
        )  # fmt: skip
    else:
        require_role(p, "admin", action="replace an operation's figures")
        _clear_figures(s, p, op)
        op.announced = spec.announced
        op.description = spec.description
    op.stated_totals = stated
    op.source = spec.source
    s.flush()
    return op


def _agency_name(s: Session, p: Principal) -> str:
    agency = s.get(Agency, p.agency_id)
    return agency.name if agency is not None else str(p.agency_id)
