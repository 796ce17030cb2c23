"""Who acts in the case store: agencies, users and their roles, API tokens, joint
operations (the sharing groups of agencies), and the instance's own identity.

Rules: only an admin creates agencies, users and operations, issues tokens for other
users and revokes users or others' tokens; every active user may issue a token for
itself and revoke its own. A revoked user's password and tokens no longer authenticate.
Every change is written to the audit log in the same transaction. Bad input raises one
clear error (NotFound, ConflictError, UsageError, AuthError, AccessDenied) before
anything is written.

The tables and lookups live in ``_who_models``, the tokens in ``_tokens``; this module
re-exports them (it is the one to import).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spector.cases import _audit
from spector.cases._base import ROLES, Principal, utcnow
from spector.cases._passwords import (
    check_password_strength,
    hash_password,
    verify_password,
    verify_unknown,
)
from spector.cases._tokens import (
    MAX_TOKEN_DAYS,
    TOKEN_PREFIX,
    authenticate,
    issue_token,
    list_tokens,
    revoke_token,
)
from spector.cases._who_models import (
    Agency,
    ApiToken,
    Instance,
    Operation,
    OperationAgency,
    User,
    UserRole,
    agency_by_name,
    close_matches,
    instance_value,
    operation_by_name,
    principal_of,
    require_admin,
    roles_of,
    user_by_name,
)
from spector.errors import AuthError, ConflictError, UsageError

__all__ = [
    "MAX_TOKEN_DAYS",
    "TOKEN_PREFIX",
    "Agency",
    "ApiToken",
    "Instance",
    "Operation",
    "OperationAgency",
    "User",
    "UserRole",
    "agency_by_name",
    "authenticate",
    "close_matches",
    "create_agency",
    "create_operation",
    "create_user",
    "init_instance",
    "instance_value",
    "issue_token",
    "join_operation",
    "list_agencies",
    "list_operations",
    "list_tokens",
    "list_users",
    "login",
    "operation_by_name",
    "principal_of",
    "record_failed_login",
    "require_admin",
    "revoke_token",
    "revoke_user",
    "roles_of",
    "user_by_name",
    "valid_country",
]

_EXTRA_COUNTRIES = ("EU", "INT")  # Europol, Interpol
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


# --- validation ----------------------------------------------------------------------


def valid_country(code: str) -> str:
    """``code`` as an upper-case ISO 3166-1 alpha-2 code, or "EU" / "INT"; UsageError else
    (naming the code meant when ``code`` is a known name or alias: "UK" -> GB)."""
    from spector.model import country, resolve_country

    wanted = code.strip().upper()
    if wanted in _EXTRA_COUNTRIES:
        return wanted
    try:
        found = country(wanted)
    except UsageError:
        found = None
    if found is None or found.is_region or found.code != wanted:
        meant = resolve_country(code.strip()) if code.strip() else None
        hint = (
            f"did you mean {meant.code!r} ({meant.name})?"
            if meant is not None and not meant.is_region
            else None
        )
        raise UsageError(
            f"unknown country code {code!r}",
            expected="an ISO 3166-1 alpha-2 code (DE, NL, US ...), EU (Europol) or INT",
            hint=hint,
        )
    return wanted


def _name(value: str, what: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned or len(cleaned) > 200:
        raise UsageError(f"{what} name {value!r}", expected="1 to 200 characters")
    return cleaned


def _username(value: str) -> str:
    cleaned = value.strip().lower()
    if not _USERNAME.fullmatch(cleaned):
        raise UsageError(
            f"username {value!r}",
            expected="1 to 64 characters: letters, digits, . _ @ - (starting with a letter or "
            "digit; stored lower-case)",
        )
    return cleaned


def _roles(roles: Iterable[str]) -> list[str]:
    wanted = sorted({r.strip().lower() for r in roles})
    if not wanted:
        raise UsageError("a user needs at least one role", expected=", ".join(ROLES))
    for role in wanted:
        if role not in ROLES:
            raise UsageError(
                f"unknown role {role!r}", expected=", ".join(ROLES), hint=close_matches(role, ROLES)
            )
    return wanted


def _email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", cleaned) or len(cleaned) > 320:
        raise UsageError(f"e-mail address {value!r}", expected="name@domain.tld")
    return cleaned


# --- agencies, users -----------------------------------------------------------------


def _new_agency(s: Session, name: str, country: str) -> Agency:
    name = _name(name, "agency")
    country = valid_country(country)
    existing = s.scalar(select(Agency.name).where(func.lower(Agency.name) == name.lower()))
    if existing is not None:
        raise ConflictError(f"agency {existing!r} exists already")
    agency = Agency(name=name, country=country)
    s.add(agency)
    s.flush()
    return agency


def _new_user(
    s: Session,
    agency: Agency,
    username: str,
    password: str,
    roles: Iterable[str],
    display_name: str | None,
    email: str | None,
) -> User:
    username = _username(username)
    wanted = _roles(roles)
    check_password_strength(password)
    mail = _email(email)
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"user {username!r} exists already")
    user = User(
        agency_id=agency.id,
        username=username,
        password_hash=hash_password(password),
        display_name=" ".join(display_name.split()) if display_name else None,
        email=mail,
    )
    s.add(user)
    s.flush()
    s.add_all(UserRole(user_id=user.id, role=r) for r in wanted)
    s.flush()
    return user


def init_instance(s: Session, *, agency: str, country: str, admin: str, password: str) -> Principal:
    """Bootstrap an empty store: the first agency and its admin (roles admin, analyst).

    Only while there is no user at all; ConflictError afterwards.
    """
    if s.scalar(select(func.count()).select_from(User)):
        raise ConflictError(
            "the case store is set up already (it has users)",
            hint="an admin adds agencies and users with `spector cases agency|user add`",
        )
    first = _new_agency(s, agency, country)
    user = _new_user(s, first, admin, password, ("admin", "analyst"), None, None)
    p = principal_of(s, user.id)
    _audit.log(s, p, "create", "agencies", first.id, {"name": first.name, "country": first.country})
    _audit.log(
        s,
        p,
        "create",
        "users",
        user.id,
        {"username": user.username, "roles": ["admin", "analyst"], "agency": first.name},
    )
    return p


def create_agency(s: Session, p: Principal, *, name: str, country: str) -> Agency:
    """A new agency (admin only); ConflictError if the name exists (case-insensitive)."""
    require_admin(p, "create agencies")
    agency = _new_agency(s, name, country)
    _audit.log(
        s, p, "create", "agencies", agency.id, {"name": agency.name, "country": agency.country}
    )
    return agency


def create_user(
    s: Session,
    p: Principal,
    *,
    agency: str,
    username: str,
    password: str,
    roles: Iterable[str],
    display_name: str | None = None,
    email: str | None = None,
) -> User:
    """A new user of ``agency`` with ``roles`` (admin only).

    UsageError for a bad username, role, e-mail or a password under 12 characters;
    ConflictError if the username exists; NotFound for an unknown agency.
    """
    require_admin(p, "create users")
    home = agency_by_name(s, agency)
    user = _new_user(s, home, username, password, roles, display_name, email)
    detail = {"username": user.username, "agency": home.name, "roles": sorted(roles_of(s, user.id))}
    _audit.log(s, p, "create", "users", user.id, detail)
    return user


def login(s: Session, username: str, password: str) -> Principal:
    """The principal of ``username`` if ``password`` is right and the user is active.

    AuthError otherwise, with the same message (and the same work, a dummy verification)
    for an unknown user, a wrong password and a revoked user. A hash made with older
    parameters is replaced by a new one.
    """
    refused = AuthError(
        f"login refused for {username!r}",
        hint="wrong username or password, or the user was revoked",
    )
    if len(password) > 1024:
        raise refused
    user = s.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        verify_unknown(password)
        raise refused
    matches, rehash = verify_password(user.password_hash, password)
    if not matches or not user.active:
        raise refused
    if rehash:
        user.password_hash = hash_password(password)
    p = principal_of(s, user.id)
    _audit.log(s, p, "login", "users", user.id, {"rehashed": True} if rehash else None)
    return p


def record_failed_login(s: Session, username: str) -> None:
    """Write a refused login to the audit log (call it in a session of its own: the
    session that raised the AuthError rolls back). Only the username tried is kept."""
    _audit.log(s, None, "login_failed", "users", None, {"username": username.strip()[:64]})


def revoke_user(s: Session, p: Principal, username: str) -> None:
    """Deactivate ``username`` and revoke its tokens (admin only; not oneself)."""
    require_admin(p, "revoke users")
    user = user_by_name(s, username)
    if user.id == p.user_id:
        raise UsageError("an admin cannot revoke itself", hint="another admin must do it")
    if not user.active:
        raise ConflictError(f"user {user.username!r} is revoked already")
    now = utcnow()
    user.active = False
    user.revoked_at = now
    tokens = list(
        s.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
    )
    for token in tokens:
        token.revoked_at = now
    s.flush()
    _audit.log(s, p, "revoke", "users", user.id, {"username": user.username, "tokens": len(tokens)})


def list_agencies(s: Session) -> list[dict[str, Any]]:
    """Every agency with its country and the number of active users, by name."""
    active = (
        select(func.count(User.id))
        .where(User.agency_id == Agency.id, User.active.is_(True))
        .scalar_subquery()
    )
    rows = s.execute(select(Agency, active).order_by(Agency.name))
    return [
        {
            "id": a.id,
            "name": a.name,
            "country": a.country,
            "users": n,
            "created_at": a.created_at.isoformat(),
        }
        for a, n in rows
    ]


def list_users(s: Session, p: Principal, *, agency: str | None = None) -> list[dict[str, Any]]:
    """Users (name, agency, roles, state; never a hash), of one agency or of all."""
    query = select(User, Agency.name).join(Agency, Agency.id == User.agency_id)
    if agency is not None:
        query = query.where(User.agency_id == agency_by_name(s, agency).id)
    result = []
    for user, agency_name in s.execute(query.order_by(User.username)):
        result.append(
            {
                "id": user.id,
                "username": user.username,
                "agency": agency_name,
                "roles": sorted(roles_of(s, user.id)),
                "display_name": user.display_name,
                "email": user.email,
                "active": user.active,
                "revoked_at": user.revoked_at.isoformat() if user.revoked_at else None,
            }
        )
    return result


# --- operations ----------------------------------------------------------------------


def create_operation(
    s: Session,
    p: Principal,
    *,
    name: str,
    agencies: Iterable[str],
    announced: date | None = None,
    description: str | None = None,
) -> Operation:
    """A joint operation whose sharing group is ``agencies`` (admin only; at least one)."""
    require_admin(p, "create operations")
    name = _name(name, "operation")
    members: dict[int, Agency] = {}
    for agency_name in agencies:
        agency = agency_by_name(s, agency_name)
        members[agency.id] = agency
    if not members:
        raise UsageError(f"operation {name!r} has no agency", expected="at least one agency")
    existing = s.scalar(select(Operation.name).where(func.lower(Operation.name) == name.lower()))
    if existing is not None:
        raise ConflictError(f"operation {existing!r} exists already")
    op = Operation(name=name, announced=announced, description=description or None)
    s.add(op)
    s.flush()
    s.add_all(OperationAgency(operation_id=op.id, agency_id=a) for a in sorted(members))
    s.flush()
    detail = {"name": op.name, "agencies": sorted(a.name for a in members.values())}
    _audit.log(s, p, "create", "operations", op.id, detail)
    return op


def join_operation(s: Session, p: Principal, operation: str, agency: str) -> None:
    """Add ``agency`` to the sharing group of ``operation`` (admin only)."""
    require_admin(p, "change operations")
    op = operation_by_name(s, operation)
    member = agency_by_name(s, agency)
    if s.get(OperationAgency, (op.id, member.id)) is not None:
        raise ConflictError(f"agency {member.name!r} is in operation {op.name!r} already")
    s.add(OperationAgency(operation_id=op.id, agency_id=member.id))
    s.flush()
    _audit.log(s, p, "update", "operations", op.id, {"joined": member.name})


def list_operations(s: Session) -> list[dict[str, Any]]:
    """Every operation with its agencies, by name."""
    out = []
    for op in s.scalars(select(Operation).order_by(Operation.name)):
        names = s.scalars(
            select(Agency.name)
            .join(OperationAgency, OperationAgency.agency_id == Agency.id)
            .where(OperationAgency.operation_id == op.id)
            .order_by(Agency.name)
        )
        out.append(
            {
                "id": op.id,
                "name": op.name,
                "announced": op.announced.isoformat() if op.announced else None,
                "description": op.description,
                "agencies": list(names),
            }
        )
    return out
