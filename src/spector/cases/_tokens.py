"""API tokens: "spk_<prefix>_<secret>", made with the secrets module; only the SHA-256
of the whole token is stored. Tokens expire, can be revoked, and record when they were
last used. Re-exported by ``spector.cases._who``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spector.cases import _audit
from spector.cases._base import Principal, utcnow
from spector.cases._who_models import ApiToken, User, principal_of, require_admin, user_by_name
from spector.errors import AuthError, ConflictError, NotFound, UsageError

__all__ = [
    "MAX_TOKEN_DAYS",
    "TOKEN_PREFIX",
    "authenticate",
    "issue_token",
    "list_tokens",
    "revoke_token",
]

TOKEN_PREFIX = "spk"  # noqa: S105  (not a password: the tokens' marker)
MAX_TOKEN_DAYS = 366
_TOKEN = re.compile(r"^spk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    s: Session,
    p: Principal,
    *,
    username: str | None = None,
    days: int = 30,
    label: str | None = None,
) -> str:
    """A new API token "spk_<prefix>_<secret>" for ``username`` (default: oneself),
    valid for ``days`` (1..366). Only its SHA-256 is stored: the token is shown once.

    Tokens for another user: admin only, and only for an active user.
    """
    if username is None or username.strip().lower() == p.username:
        user = s.get(User, p.user_id)
    else:
        require_admin(p, "issue tokens for other users")
        user = user_by_name(s, username)
    if user is None or not user.active:
        raise AuthError(f"user {username or p.username!r} is revoked")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
        raise UsageError(f"token lifetime {days!r} days", expected=f"1 to {MAX_TOKEN_DAYS} days")
    if label is not None and len(label) > 200:
        raise UsageError("token label too long", expected="at most 200 characters")
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    row = ApiToken(
        user_id=user.id,
        prefix=prefix,
        digest=_digest(token),
        label=label.strip() if label else None,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    s.add(row)
    s.flush()
    _audit.log(
        s, p, "token", "api_tokens", row.id, {"prefix": prefix, "user": user.username, "days": days}
    )
    return token


def authenticate(s: Session, token: str) -> Principal:
    """The principal a token stands for; AuthError if it is malformed, unknown (forged),
    expired, revoked, or its user is revoked. Records ``last_used_at``."""
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        raise AuthError("not a Spector API token", expected="spk_<12 hex>_<43 characters>")
    row = s.scalar(select(ApiToken).where(ApiToken.prefix == match[1]))
    digest = _digest(token.strip())
    if row is None or not hmac.compare_digest(row.digest, digest):
        raise AuthError(f"unknown API token spk_{match[1]}_...", hint="it was never issued here")
    now = utcnow()
    if row.revoked_at is not None:
        raise AuthError(f"API token spk_{row.prefix}_... was revoked on {row.revoked_at:%Y-%m-%d}")
    if row.expires_at <= now:
        raise AuthError(
            f"API token spk_{row.prefix}_... expired on {row.expires_at:%Y-%m-%d}",
            hint="issue a new one with `spector cases token issue`",
        )
    p = principal_of(s, row.user_id)
    row.last_used_at = now
    return p


def revoke_token(s: Session, p: Principal, prefix: str) -> None:
    """Revoke the token with ``prefix`` (also accepts the whole token): one's own, or any
    token for an admin. NotFound if there is none (or it is another's, for a non-admin)."""
    match = _TOKEN.fullmatch(prefix.strip())
    wanted = match[1] if match else prefix.strip().removeprefix(f"{TOKEN_PREFIX}_").rstrip("_.")
    row = s.scalar(select(ApiToken).where(ApiToken.prefix == wanted))
    if row is None or (row.user_id != p.user_id and not p.has("admin")):
        raise NotFound(f"no API token {prefix!r}", hint="see `spector cases token list`")
    if row.revoked_at is not None:
        raise ConflictError(f"API token {wanted} is revoked already")
    row.revoked_at = utcnow()
    s.flush()
    _audit.log(s, p, "revoke", "api_tokens", row.id, {"prefix": row.prefix})


def list_tokens(s: Session, p: Principal, *, all_users: bool = False) -> list[dict[str, Any]]:
    """One's own tokens (an admin: everyone's with ``all_users``); never the secret."""
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if all_users:
        require_admin(p, "list other users' tokens")
    else:
        query = query.where(ApiToken.user_id == p.user_id)
    now = utcnow()
    out = []
    for row, username in s.execute(query.order_by(ApiToken.created_at, ApiToken.id)):
        state = "revoked" if row.revoked_at else ("expired" if row.expires_at <= now else "valid")
        out.append(
            {
                "prefix": row.prefix,
                "user": username,
                "label": row.label,
                "state": state,
                "created_at": row.created_at.isoformat(),
                "expires_at": row.expires_at.isoformat(),
                "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
            }
        )
    return out
