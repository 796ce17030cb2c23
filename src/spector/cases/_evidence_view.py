"""Evidence items and custody events as plain data: what `evidence show` and `custody
show` print, and their --json. Each event's time is shown in the zone it was recorded in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from spector.cases._evidence_models import CustodyEvent, Evidence

__all__ = ["event_dict", "evidence_dict", "local_time"]


def local_time(e: CustodyEvent) -> datetime:
    """The event's time in the zone it was recorded in."""
    if e.tz.startswith("UTC") and "/" not in e.tz:
        if e.tz == "UTC":
            return e.at.astimezone(UTC)
        sign = 1 if e.tz[3] == "+" else -1
        hours, minutes = e.tz[4:].split(":")
        return e.at.astimezone(timezone(sign * timedelta(hours=int(hours), minutes=int(minutes))))
    return e.at.astimezone(ZoneInfo(e.tz))


def event_dict(e: CustodyEvent) -> dict[str, object]:
    return {
        "id": e.id,
        "action": e.action,
        "at": local_time(e).isoformat(),
        "at_utc": e.at.astimezone(UTC).isoformat(),
        "tz": e.tz,
        "where": e.where_,
        "by_user_id": e.by_user_id,
        "from_person": e.from_person,
        "to_person": e.to_person,
        "note": e.note,
    }


def evidence_dict(ev: Evidence) -> dict[str, object]:
    return {
        "id": ev.id,
        "case_id": ev.case_id,
        "kind": ev.kind,
        "sha256": ev.sha256,
        "size": ev.size,
        "origin": ev.origin,
        "path": ev.path,
        "capture_id": ev.capture_id,
        "warc_offset": ev.warc_offset,
        "warc_record_id": ev.warc_record_id,
        "description": ev.description,
        "collected_at": ev.collected_at.isoformat() if ev.collected_at else None,
        "agency_id": ev.agency_id,
        "distribution": ev.distribution,
        "handling": ev.handling,
        "version": ev.version,
    }
