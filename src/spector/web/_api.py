"""What every JSON endpoint shares: cursor pagination and the error body.

A list endpoint answers ``{"items": [...], "next_cursor": "…" | null}``; the client
passes ``cursor`` back to get the next page. A cursor is the sort key of the last item
sent, as base64url JSON (keyset pagination: stable while rows are added, no OFFSET). A
cursor that does not decode is a 400 naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel

from spector.errors import UsageError

__all__ = [
    "Cursor",
    "ErrorBody",
    "Limit",
    "Page",
    "UtcTime",
    "decode_cursor",
    "encode_cursor",
    "page_of",
]

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (1–500).")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="next_cursor of the previous page.")
]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A time in a response: the store keeps naive UTC; JSON says so ("…+00:00").
UtcTime = Annotated[datetime, AfterValidator(_aware)]


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    next_cursor: str | None = None


class ErrorDetail(BaseModel):
    type: str
    message: str
    hint: str | None = None


class ErrorBody(BaseModel):
    """What every 4xx answer of the API carries."""

    error: ErrorDetail


def encode_cursor(key: Sequence[Any]) -> str:
    """An opaque cursor for the sort key ``key`` (JSON-able values)."""
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The sort key of ``cursor`` (None for the first page); UsageError if malformed."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise UsageError(
            "cursor: not a cursor this API gave", hint="start again without it"
        ) from exc
    if not isinstance(key, list):
        raise UsageError("cursor: not a cursor this API gave", hint="start again without it")
    return key


def page_of(rows: Sequence[T], limit: int, key: Callable[[T], Sequence[Any]]) -> Page[T]:
    """A page from ``rows`` fetched with ``limit + 1``: the extra row says there is more."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page[T](
        items=items, next_cursor=encode_cursor(key(items[-1])) if more and items else None
    )
