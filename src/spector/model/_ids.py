"""Deterministic identifiers: the same inputs give the same id, on any machine."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

__all__ = ["make_id"]

_SEP = "\x1f"  # unit separator: cannot appear in normalised parts, so ("a","bc") != ("ab","c")


def _part(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (tuple, list, frozenset, set)):
        return "[" + ",".join(sorted(_part(v) for v in value)) + "]"
    return str(value)


def make_id(kind: str, *parts: object) -> str:
    """An id for a ``kind`` of thing from the parts that identify it.

    ``kind`` prefixes the id so ids of different record types never collide and are
    readable in logs (``listing-3f2a…``). The rest is the first 20 bytes of SHA-256 over
    the number of parts and the parts joined with a separator that cannot occur in them.
    Parts are stringified exactly: ``Decimal('1.50')`` and ``Decimal('1.5')`` give the
    same id, and so do ``None`` and ``""``.
    """
    text = _SEP.join(_part(p) for p in parts)
    payload = f"{kind}{_SEP}{len(parts)}{_SEP}{text}"
    digest = hashlib.sha256(payload.encode()).hexdigest()[:40]
    return f"{kind}-{digest}"
