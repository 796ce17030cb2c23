"""Read-side queries over the capture index (the store's ``captures`` table, what
``spector captures list`` shows) and the WARC records it points at, for the web app.

Lists are keyset-paginated like those of ``_browse``: ``after`` is the sort key of the
last row the caller has (``capture_sort_key``), ``limit`` the most rows returned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from spector.errors import InputError, NotFound, UsageError

__all__ = [
    "CAPTURE_SORTS",
    "CapturePayload",
    "capture_page",
    "capture_payload",
    "capture_row",
    "capture_sites",
    "capture_sort_key",
]

#: sort name -> (column expression, descending)
CAPTURE_SORTS: dict[str, tuple[str, bool]] = {
    "fetched_at": ("fetched_at", False),
    "-fetched_at": ("fetched_at", True),
    "url": ("url", False),
    "-url": ("url", True),
    "site": ("coalesce(site, '')", False),
    "-site": ("coalesce(site, '')", True),
    "status": ("coalesce(status, -1)", False),
    "-status": ("coalesce(status, -1)", True),
}

_CAPTURE_FIELDS = (
    "id",
    "url",
    "host",
    "site",
    "fetched_at",
    "status",
    "content_type",
    "sha256",
    "warc_file",
    "warc_offset",
    "record_type",
    "reason",
    "source",
    "truncated",
    "source_file",
    "source_sha256",
    "time_basis",
    "first_seen",
    "last_seen",
)


def _capture_dict(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(_CAPTURE_FIELDS, row, strict=True))
    for key in ("fetched_at", "first_seen", "last_seen"):
        value = item[key]
        item[key] = value.isoformat() + "Z" if value is not None else None
    item["truncated"] = bool(item["truncated"])
    item["time_basis"] = item["time_basis"] or "fetch"
    return item


def capture_page(
    con: Any,
    *,
    site: str | None = None,
    q: str | None = None,
    record_type: str | None = None,
    sort: str = "-fetched_at",
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Captures of the store (DuckDB connection ``con``), filtered by ``site``,
    ``record_type`` and ``q`` (a case-insensitive substring of the URL), sorted by
    ``sort`` (a key of CAPTURE_SORTS) with the capture id as tiebreak (sort key
    ``[value, id]``). Each: the ``captures`` columns (timestamps ISO with Z)."""
    if sort not in CAPTURE_SORTS:
        raise UsageError(
            f"sort: unknown sort {sort!r}", expected=f"one of {', '.join(CAPTURE_SORTS)}"
        )
    column, descending = CAPTURE_SORTS[sort]
    where: list[str] = []
    args: list[Any] = []
    if site:
        where.append("site = ?")
        args.append(site)
    if record_type:
        where.append("record_type = ?")
        args.append(record_type)
    if q:
        where.append("contains(lower(url), ?)")
        args.append(q.lower())
    if after:
        value = _cursor_value(after, sort.lstrip("-"))
        cmp = "<" if descending else ">"
        where.append(f"({column} {cmp} ? OR ({column} = ? AND id {cmp} ?))")
        args += [value, value, str(after[1])]
    order = "DESC" if descending else "ASC"
    sql = (
        f"SELECT {', '.join(_CAPTURE_FIELDS)} FROM captures"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {column} {order}, id {order} LIMIT ?"
    )
    rows = con.execute(sql, [*args, limit]).fetchall()
    return [_capture_dict(r) for r in rows]


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?")


def _cursor_value(after: Sequence[Any], field: str) -> Any:
    """The sort value of a captures cursor, checked against the sort's type (UsageError)."""
    value = after[0] if len(after) == 2 and isinstance(after[1], str) else None
    if field == "fetched_at" and isinstance(value, str) and _ISO.fullmatch(value):
        try:
            return datetime.fromisoformat(value.removesuffix("Z"))
        except ValueError:
            pass
    if field in ("url", "site") and isinstance(value, str):
        return value
    if field == "status" and isinstance(value, int) and not isinstance(value, bool):
        if not -(2**31) <= value < 2**31:
            raise UsageError("cursor: not a cursor this API gave", hint="start again without it")
        return value
    raise UsageError("cursor: not a cursor this API gave", hint="start again without it")


def capture_sort_key(item: dict[str, Any], sort: str) -> list[Any]:
    """The keyset cursor value of ``item`` under ``sort`` (what :func:`capture_page` takes
    as ``after``)."""
    field = sort.lstrip("-")
    value = item[field]
    if field == "site":
        value = value or ""
    elif field == "status":
        value = -1 if value is None else value
    return [value, item["id"]]


def capture_sites(con: Any) -> list[dict[str, Any]]:
    """Every site of the capture index with its number of captures, by name (for a
    filter's choices): [{site, captures}]."""
    rows = con.execute(
        "SELECT coalesce(site, ''), count(*) FROM captures GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return [{"site": r[0], "captures": int(r[1])} for r in rows]


def capture_row(con: Any, capture_id: str) -> dict[str, Any]:
    """One capture as :func:`capture_page` gives it; NotFound for an unknown id."""
    row = con.execute(
        f"SELECT {', '.join(_CAPTURE_FIELDS)} FROM captures WHERE id = ?", [capture_id]
    ).fetchone()
    if row is None:
        raise NotFound(f"no capture {capture_id!r}", hint="see /captures")
    return _capture_dict(row)


class CapturePayload:
    """A capture's stored payload: ``body`` (bytes, at most ``limit``), ``size`` (all of
    it), ``text`` (decoded, when the payload is text: HTML, XML, JSON, plain), ``charset``,
    ``html`` (whether it is an HTML page), ``note`` (why there is no body, or whose
    payload a revisit repeats)."""

    def __init__(self, body: bytes, size: int, content_type: str | None, note: str | None) -> None:
        self.body = body
        self.size = size
        self.note = note
        kind = (content_type or "").split(";")[0].strip().lower()
        self.html = kind in ("text/html", "application/xhtml+xml") or (
            not kind and body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))
        )
        textual = self.html or kind.startswith("text/") or kind.endswith(("+xml", "/xml", "/json"))
        found = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.I)
        self.charset = found.group(1) if found else "utf-8"
        self.text: str | None = None
        if textual and body:
            try:
                self.text = body.decode(self.charset, "replace")
            except LookupError:  # a charset Python does not know
                self.text = body.decode("utf-8", "replace")
                self.charset = "utf-8"

    @property
    def truncated(self) -> bool:
        return len(self.body) < self.size


def capture_payload(
    con: Any, root: Path, item: dict[str, Any], *, limit: int = 2 << 20
) -> CapturePayload:
    """The payload of capture ``item`` (a :func:`capture_row`) read from its WARC record
    under ``root``; a revisit's is that of the response it repeats. A capture without a
    stored record (error, refused) gives an empty payload with a note. InputError when
    the WARC file is outside the workspace or unreadable."""
    from spector.collect._warc import read_stored

    target, note = item, None
    if item["record_type"] == "revisit":
        row = con.execute(
            f"SELECT {', '.join(_CAPTURE_FIELDS)} FROM captures WHERE url = ? AND sha256 = ? "
            "AND record_type = 'response' AND warc_file IS NOT NULL ORDER BY fetched_at LIMIT 1",
            [item["url"], item["sha256"]],
        ).fetchone()
        if row is None:
            return CapturePayload(
                b"", 0, item["content_type"], "a revisit whose response is not in the store"
            )
        target = _capture_dict(row)
        note = f"a revisit: the payload is that of capture {target['id']}"
    if target["warc_file"] is None or target["warc_offset"] is None:
        why = f" ({item['reason']})" if item["reason"] else ""
        return CapturePayload(
            b"", 0, item["content_type"], f"no stored record: {item['record_type']}{why}"
        )
    base = root.resolve()
    path = (root / str(target["warc_file"])).resolve()
    if not path.is_relative_to(base):
        raise InputError(
            f"capture {item['id']}: its WARC file is outside the workspace", where=str(path)
        )
    try:
        body = read_stored(path, int(target["warc_offset"])).body
    except (OSError, StopIteration, ValueError) as exc:
        raise InputError(
            f"capture {item['id']}: cannot read its WARC record ({exc})",
            where=f"{path}@{target['warc_offset']}",
            expected="the record the capture index names",
        ) from exc
    return CapturePayload(body[:limit], len(body), target["content_type"], note)
