"""Password hashing for the case store's users: argon2id (RFC 9106) via argon2-cffi.

``hash_password`` makes a PHC string (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``);
``verify_password`` checks one in constant time and says whether it should be rehashed
because the parameters changed (the caller stores the new hash on a successful login).
``verify_unknown`` spends the same work on a username that does not exist, so a login
attempt does not reveal which usernames exist by how long it takes.
"""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from spector.errors import UsageError

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "check_password_strength",
    "hash_password",
    "hasher",
    "set_hasher",
    "verify_password",
    "verify_unknown",
]

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; this bounds the work one login can ask for

# RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes) is argon2-cffi's default.
_HASHER = PasswordHasher(type=Type.ID)
_dummy: tuple[PasswordHasher, str] | None = None  # (hasher, its hash of a dummy password)


def hasher() -> PasswordHasher:
    """The hasher in use (its parameters decide when a stored hash is rehashed)."""
    return _HASHER


def set_hasher(new: PasswordHasher) -> PasswordHasher:
    """Use ``new`` from now on (tests use cheap parameters); returns the previous one."""
    global _HASHER
    previous, _HASHER = _HASHER, new
    return previous


def check_password_strength(password: str) -> None:
    """UsageError unless ``password`` has MIN_PASSWORD..MAX_PASSWORD characters, not all blank."""
    if not password or not password.strip():
        raise UsageError("the password is empty", expected=f"at least {MIN_PASSWORD} characters")
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"the password is too short ({len(password)} characters)",
            expected=f"at least {MIN_PASSWORD} characters",
        )
    if len(password) > MAX_PASSWORD:
        raise UsageError(
            f"the password is too long ({len(password)} characters)",
            expected=f"at most {MAX_PASSWORD} characters",
        )


def hash_password(password: str) -> str:
    """The argon2id PHC string of ``password`` (a fresh random salt each time)."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> tuple[bool, bool]:
    """``(matches, needs_rehash)`` for ``password`` against the ``stored`` PHC string.

    A malformed stored hash never matches. ``needs_rehash`` is only meaningful on a match.
    """
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _HASHER.check_needs_rehash(stored)


def verify_unknown(password: str) -> None:
    """Spend one verification on a dummy hash (a login for a username that does not exist)."""
    global _dummy
    if _dummy is None or _dummy[0] is not _HASHER:
        _dummy = (_HASHER, _HASHER.hash("spector: no such user, dummy password"))
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
        _HASHER.verify(_dummy[1], password)
