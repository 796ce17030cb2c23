"""The capture index as the store publishes it: what `spector captures list` shows."""

from __future__ import annotations

from typing import Any

from spector.collect._import_urls import host_kind
from spector.store import Store

__all__ = ["CAPTURE_FIELDS", "list_captures"]

CAPTURE_FIELDS = (
    "url",
    "host",
    "status",
    "sha256",
    "warc_file",
    "warc_offset",
    "fetched_at",
    "site",
    "record_type",
    "reason",
    "content_type",
    "truncated",
    "source",
    "source_file",
    "source_sha256",
    "time_basis",
)


def list_captures(store: Store, *, site: str | None = None) -> list[dict[str, Any]]:
    """Every capture (of ``site`` only, when given), oldest first.

    Each is a dict of ``CAPTURE_FIELDS``: ``sha256`` of the payload as stored, ``source``
    the crawl run or import that stored it (``crawl:run-N``, ``import:PATH``), the
    imported file and its SHA-256, and ``time_basis``, what ``fetched_at`` is (``fetch``
    when NULL for crawls from before it was recorded); plus ``historical``: the host is a
    v2 onion, which Tor no longer routes.
    """
    sql = (
        f"SELECT {', '.join(CAPTURE_FIELDS)} FROM captures"
        + (" WHERE site = ?" if site else "")
        + " ORDER BY fetched_at, url"
    )
    rows = store.con.execute(sql, [site] if site else []).fetchall()
    out = []
    for row in rows:
        item = dict(zip(CAPTURE_FIELDS, row, strict=True))
        item["fetched_at"] = item["fetched_at"].isoformat() + "Z"
        item["truncated"] = bool(item["truncated"])
        item["time_basis"] = item["time_basis"] or "fetch"
        item["historical"] = _historical(item["host"])
        out.append(item)
    return out


def _historical(host: str | None) -> bool:
    try:
        return host_kind(host or "").historical
    except ValueError:
        return False
