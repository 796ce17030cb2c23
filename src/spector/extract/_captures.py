"""Selectors out of captured pages: read each HTML (or XHTML, or plain text) capture from its
WARC record, scan it, and store every selector with where it was seen (capture, character
offsets). Crawled and imported captures alike; a body cut short is scanned as kept.

Offsets are into the page's text as captured (decoded HTML). Re-running changes nothing:
selectors and sightings have deterministic ids.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from spector.collect import decode, read_stored
from spector.extract._selectors import scan_text
from spector.model import Capture, Record, Selector, SelectorSighting
from spector.store import Workspace

__all__ = ["scan_captures"]


def scan_captures(ws: Workspace) -> Counter[str]:
    """Scan every HTML response capture; return how many selectors of each kind were seen."""
    rows = ws.store.con.execute(
        "SELECT url, host, fetched_at, sha256, warc_file, warc_offset, content_type FROM captures "
        "WHERE record_type = 'response' AND status = 200 AND warc_file IS NOT NULL "
        "AND (content_type LIKE 'text/html%' OR content_type LIKE 'application/xhtml+xml%' "
        "OR content_type LIKE 'text/plain%') ORDER BY fetched_at, url"
    ).fetchall()
    kinds: Counter[str] = Counter()
    for url, host, fetched_at, sha256, warc_file, offset, content_type in rows:
        capture_id = Capture(url=url, host=host, fetched_at=fetched_at, sha256=sha256).id
        body = read_stored(ws.root / warc_file, offset).body
        records: list[Record] = []
        for found in scan_text(decode(body, content_type)):
            selector = Selector(kind=found.kind, value=found.value)
            records += [
                selector,
                SelectorSighting(
                    selector_id=selector.id,
                    kind=found.kind,
                    value=found.value,
                    capture_id=capture_id,
                    char_start=found.start,
                    char_end=found.end,
                ),
            ]
            kinds[found.kind] += 1
        if records:
            seen = fetched_at if isinstance(fetched_at, datetime) else None
            ws.store.upsert(records, source=f"capture:{capture_id}", seen_at=seen)
    return kinds
