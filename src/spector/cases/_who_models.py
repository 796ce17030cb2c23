"""The tables of who acts in the case store (agencies, users, roles, API tokens,
operations, the instance's settings) and the lookups every part uses: by name with
"did you mean" hints, the principal of a user, the admin check.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from spector.cases._base import ROLES, Base, Principal, UtcDateTime, utcnow
from spector.errors import AccessDenied, AuthError, NotFound

__all__ = [
    "Agency",
    "ApiToken",
    "Instance",
    "Operation",
    "OperationAgency",
    "User",
    "UserRole",
    "agency_by_name",
    "close_matches",
    "instance_value",
    "operation_by_name",
    "principal_of",
    "require_admin",
    "roles_of",
    "user_by_name",
]


class Agency(Base):
    """A law-enforcement agency on the instance (BKA, Politie, FBI, Europol ...)."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(3))  # ISO 3166-1 alpha-2, or EU / INT
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class User(Base):
    """A person (or a service) of one agency; ``password_hash`` is argon2id (PHC string)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class UserRole(Base):
    """One role a user holds (see ``spector.cases._base.ROLES``)."""

    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class ApiToken(Base):
    """An API token: only the SHA-256 of the whole token is kept, never the token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class Operation(Base):
    """A joint operation: its agencies form a sharing group (MISP's distribution 4)."""

    __tablename__ = "operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    announced: Mapped[date | None] = mapped_column(Date, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    stated_totals: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    source: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class OperationAgency(Base):
    """Membership of an agency in a joint operation."""

    __tablename__ = "operation_agencies"

    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)


class Instance(Base):
    """The instance's own settings: "instance_id" and "deconfliction_key" (hex), made
    when the store is created."""

    __tablename__ = "instance"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- lookups -------------------------------------------------------------------------


def close_matches(word: str, choices: Sequence[str]) -> str | None:
    """A "did you mean ...?" hint naming up to three close choices (case-insensitive)."""
    by_fold = {c.casefold(): c for c in choices}
    found = difflib.get_close_matches(word.casefold(), list(by_fold), n=3, cutoff=0.6)
    return f"did you mean {', '.join(repr(by_fold[f]) for f in found)}?" if found else None


def agency_by_name(s: Session, name: str) -> Agency:
    """The agency called ``name`` (case-insensitive); NotFound naming the close matches."""
    found = s.scalar(select(Agency).where(func.lower(Agency.name) == name.strip().lower()))
    if found is None:
        names = list(s.scalars(select(Agency.name)))
        raise NotFound(f"no agency {name!r}", hint=close_matches(name, names) or _known(names))
    return found


def operation_by_name(s: Session, name: str) -> Operation:
    """The operation called ``name`` (case-insensitive); NotFound naming close matches."""
    found = s.scalar(select(Operation).where(func.lower(Operation.name) == name.strip().lower()))
    if found is None:
        names = list(s.scalars(select(Operation.name)))
        raise NotFound(f"no operation {name!r}", hint=close_matches(name, names) or _known(names))
    return found


def user_by_name(s: Session, username: str) -> User:
    """The user ``username`` (stored lower-case); NotFound naming close matches."""
    found = s.scalar(select(User).where(User.username == username.strip().lower()))
    if found is None:
        names = list(s.scalars(select(User.username)))
        raise NotFound(f"no user {username!r}", hint=close_matches(username, names))
    return found


def _known(names: Sequence[str]) -> str:
    if not names:
        return "there are none yet"
    shown = ", ".join(sorted(names)[:10])
    return f"known: {shown}{' ...' if len(names) > 10 else ''}"


def instance_value(s: Session, key: str) -> str:
    """The instance setting ``key`` ("instance_id", "deconfliction_key"); NotFound if absent."""
    row = s.get(Instance, key)
    if row is None:
        raise NotFound(f"no instance setting {key!r}")
    return row.value


def roles_of(s: Session, user_id: int) -> frozenset[str]:
    """The roles ``user_id`` holds."""
    return frozenset(s.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))


def principal_of(s: Session, user_id: int) -> Principal:
    """The principal of an active user: its roles and the operations of its agency.

    AuthError when there is no such user or it has been revoked.
    """
    user = s.get(User, user_id)
    if user is None or not user.active:
        raise AuthError("no such active user", hint="the user may have been revoked")
    ops = s.scalars(
        select(OperationAgency.operation_id).where(OperationAgency.agency_id == user.agency_id)
    )
    return Principal(
        user_id=user.id,
        username=user.username,
        agency_id=user.agency_id,
        roles=roles_of(s, user.id),
        operations=frozenset(ops),
    )


def require_admin(p: Principal, what: str) -> None:
    """AccessDenied unless ``p`` is an admin (``what`` completes "only an admin may ...")."""
    if not p.has("admin"):
        raise AccessDenied(
            f"only an admin may {what}",
            hint=f"{p.username} holds: {', '.join(sorted(p.roles)) or 'no role'}",
        )
