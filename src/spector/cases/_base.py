"""What every part of the case store shares: the declarative base, the vocabulary of
roles, distribution levels and handling codes, the columns every shared record carries,
and the acting principal.

Every record an agency shares (cases, targets, notes, tasks, selectors, evidence,
arrests, seizures) mixes in :class:`Owned`: its owning agency, a distribution level
(MISP's levels are the anchor) and a handling code (Europol's H0-H3). Whether a
principal may read a record is decided in one place, ``spector.cases._access``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, ForeignKey, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "DISTRIBUTIONS",
    "HANDLING_CODES",
    "RESTRICTED_HANDLING",
    "ROLES",
    "Base",
    "Owned",
    "Principal",
    "UtcDateTime",
    "utcnow",
]

#: Roles a user may hold (several at once).
#: admin: manages agencies, users, tokens and operations on the instance; reads and writes
#:   like an analyst. It does NOT read other agencies' records beyond their distribution.
#: analyst: reads what the filter allows; creates and edits its own agency's records.
#: viewer: reads what the filter allows; writes nothing.
#: liaison: reads like a viewer; acknowledges deconfliction notices, changes the
#:   distribution of its own agency's records, exports and imports deconfliction hashes.
#: media_reviewer: reads and triages seized media items ([L]) only.
ROLES: tuple[str, ...] = ("admin", "analyst", "viewer", "liaison", "media_reviewer")

#: Distribution levels, after MISP's (0 your organisation only, 1 this community,
#: 2 connected communities, 3 all communities, 4 sharing group):
#: "agency"    - the owning agency only (MISP 0);
#: "operation" - the agencies of the record's named joint operation (MISP 4, sharing group);
#: "all"       - every agency on this instance (MISP 1).
DISTRIBUTIONS: tuple[str, ...] = ("agency", "operation", "all")

#: Europol's handling codes: H0 may be used for law-enforcement purposes; H1 not to be
#: used as evidence in judicial proceedings without the provider's permission; H2 not to
#: be disseminated further without the provider's permission; H3 other restrictions
#: (named in the record's ``handling_note``).
HANDLING_CODES: tuple[str, ...] = ("H0", "H1", "H2", "H3")

#: Records with these codes are "restricted": every read of one is written to the audit
#: log, and they are never exported off the instance without the provider's permission.
RESTRICTED_HANDLING: frozenset[str] = frozenset({"H2", "H3"})

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, timezone-aware (UTC). Every timestamp the store writes is aware."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware, on SQLite too.

    Writing a naive datetime is a bug (we would not know its zone): it raises ValueError.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the case store: its time zone is unknown")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """The declarative base of every case-store table (one MetaData, named constraints)."""

    metadata = MetaData(naming_convention=_NAMING)


class Owned:
    """Columns of every shared record; ``version`` is SQLAlchemy's optimistic lock.

    ``operation_id`` names the joint operation whose agencies see the record when
    ``distribution == "operation"`` (it may be set for other levels too: the record
    belongs to that operation's work).
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    distribution: Mapped[str] = mapped_column(String(16), default="agency")
    handling: Mapped[str] = mapped_column(String(2), default="H0")
    handling_note: Mapped[str | None] = mapped_column(String(500), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    @declared_attr
    def agency_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("agencies.id"), index=True)

    @declared_attr
    def operation_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("operations.id"), default=None, index=True)

    @declared_attr
    def created_by(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id"), default=None)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, object]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Principal:
    """Who is acting: an authenticated, active user of one agency.

    ``operations`` holds the ids of the joint operations whose sharing group includes
    the user's agency, resolved when the principal is made (``spector.cases._who``).
    """

    user_id: int
    username: str
    agency_id: int
    roles: frozenset[str]
    operations: frozenset[int]

    def has(self, *roles: str) -> bool:
        """Whether the user holds any of ``roles``."""
        return bool(self.roles.intersection(roles))
