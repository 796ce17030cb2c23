"""Evidence that lives in the workspace's store: [C]'s captures and [D]'s seized dumps.

A capture is found in the DuckDB store's ``captures`` table by its id (or an
unambiguous prefix of at least 12 characters); its WARC record is read from the
workspace's ``warc/`` folder, its payload hashed, and the hash checked twice: against
the record's own WARC-Payload-Digest / WARC-Block-Digest and against the SHA-256 the
capture index holds. A revisit record has no payload of its own: the response record
it repeats (same URL, same payload digest) is the one hashed, and the item says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spector.cases._evidence_files import hash_warc_record
from spector.errors import InputError, NotFound, UsageError

__all__ = ["CaptureContent", "capture_content", "seized_source"]

_FIELDS = "id, url, sha256, warc_file, warc_offset, record_type, reason, source, truncated"


@dataclass(frozen=True, slots=True)
class CaptureContent:
    """Where a capture's payload is and what it hashes to."""

    capture_id: str
    url: str
    warc_file: str  # relative to the workspace root, as the capture index holds it
    offset: int
    record_id: str | None
    sha256: str
    size: int
    source: str | None
    note: str | None


def _open(ws_root: Path | None, what: str) -> Any:
    if ws_root is None:
        raise UsageError(
            f"{what} is looked up in a workspace's store",
            hint="give the workspace (--workspace) the case store belongs to",
        )
    from spector.store import Workspace

    return Workspace.open(ws_root)


def _row(con: Any, capture_id: str) -> dict[str, Any]:
    sql = f"SELECT {_FIELDS} FROM captures WHERE "
    rows = con.execute(sql + "id = ?", [capture_id]).fetchall()
    if not rows and len(capture_id) >= 12:
        rows = con.execute(sql + "starts_with(id, ?) LIMIT 2", [capture_id]).fetchall()
        if len(rows) > 1:
            raise UsageError(
                f"capture id prefix {capture_id!r} names more than one capture",
                hint="give more of the id (`spector captures list --json` shows them)",
            )
    if not rows:
        raise NotFound(
            f"no capture {capture_id!r} in the workspace's store",
            hint="`spector captures list --json` shows the capture ids",
        )
    return dict(zip([f.strip() for f in _FIELDS.split(",")], rows[0], strict=True))


def capture_content(ws_root: Path | None, capture_id: str) -> CaptureContent:
    """Look up capture ``capture_id`` in the workspace at ``ws_root`` and hash its WARC
    record. NotFound for an unknown id; InputError when the capture has no WARC record
    (a failed or refused fetch), the record fails its own digest, or its payload does
    not hash to what the capture index says."""
    with _open(ws_root, f"capture {capture_id}") as ws:
        row = _row(ws.store.con, capture_id.strip())
        note: list[str] = []
        target = row
        if row["record_type"] == "revisit":
            orig = ws.store.con.execute(
                f"SELECT {_FIELDS} FROM captures WHERE url = ? AND sha256 = ? "
                "AND record_type = 'response' AND warc_file IS NOT NULL "
                "ORDER BY fetched_at LIMIT 1",
                [row["url"], row["sha256"]],
            ).fetchall()
            if not orig:
                raise InputError(
                    f"capture {row['id']} is a revisit whose original response is not in "
                    "the store: there is no payload to hash",
                    expected="a capture with a response record",
                )
            target = dict(zip([f.strip() for f in _FIELDS.split(",")], orig[0], strict=True))
            note.append(f"revisit of capture {target['id']}: its payload is that record's")
        root = ws.root
    if target["warc_file"] is None or target["warc_offset"] is None:
        why = f": {row['reason']}" if row["reason"] else ""
        raise InputError(
            f"capture {row['id']} ({row['record_type']}) has no WARC record{why}",
            expected="a capture whose response was stored",
        )
    warc = root / str(target["warc_file"])
    rec = hash_warc_record(warc, int(target["warc_offset"]))
    where = f"{warc}@{target['warc_offset']}"
    if rec.digests_ok is False:
        raise InputError(
            f"the WARC record of capture {row['id']} fails its own digest "
            f"({'; '.join(rec.problems)})",
            where=where,
            expected="an intact record: the archive was changed after the capture",
        )
    if target["sha256"] and rec.sha256 != target["sha256"]:
        raise InputError(
            f"the WARC record's payload hashes to {rec.sha256}, the capture index says "
            f"{target['sha256']}",
            where=where,
            expected="the record the capture index names",
        )
    if rec.digests_ok is None:
        note.append("the record carries no payload digest: the hash is Spector's own")
    if row["truncated"]:
        note.append("the capture was truncated (WARC-Truncated)")
    return CaptureContent(
        capture_id=str(row["id"]),
        url=str(row["url"]),
        warc_file=str(target["warc_file"]),
        offset=int(target["warc_offset"]),
        record_id=rec.record_id,
        sha256=rec.sha256,
        size=rec.size,
        source=str(row["source"]) if row["source"] else None,
        note="; ".join(note) or None,
    )


def seized_source(ws_root: Path | None, path: Path) -> str | None:
    """The store's source name of a seized dump (``seized:<folder name>``, as ``spector
    import seized`` records it) when the workspace holds records from it; else None."""
    if ws_root is None:
        return None
    folder = path if path.is_dir() else path.parent
    source = f"seized:{folder.name}"
    with _open(ws_root, "a seized dump") as ws:
        row = ws.store.con.execute(
            "SELECT count(*) FROM observations WHERE source = ?", [source]
        ).fetchone()
    return source if row and int(row[0]) > 0 else None
