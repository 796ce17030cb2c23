"""Publishing the capture index into the analytic store (the table `extract` reads)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from spector.collect._profile import SiteProfile
from spector.collect._state import CrawlState
from spector.errors import WorkspaceLocked
from spector.model import Capture, Market
from spector.store import Workspace, market_ref

__all__ = ["publish"]


def publish(
    root: Path, state: CrawlState, profiles: list[SiteProfile], run_id: int, *, wait: bool = True
) -> int:
    """Copy unpublished captures (and the sites as markets) into store.duckdb.

    The store is opened only for the copy, so other commands can read it during a crawl.
    With ``wait`` False a locked store is left for the next call. Returns rows published.
    """
    total = 0
    deadline = time.monotonic() + (60 if wait else 0)
    while True:
        batch = state.unpublished()
        if not batch:
            return total
        try:
            ws = Workspace.open(root, write=True)
        except WorkspaceLocked:
            if time.monotonic() >= deadline:
                return total
            time.sleep(0.5)
            continue
        with ws:
            markets = [
                Market(
                    name=p.name,
                    family=p.family,
                    onions=p.hosts,
                    status="unknown",
                    ref=market_ref(ws.store, name=p.name, onions=p.hosts),
                )
                for p in profiles
            ]
            records = [
                Capture(
                    url=row.url,
                    host=row.host,
                    site=row.site,
                    fetched_at=datetime.fromisoformat(row.fetched_at),
                    status=row.status,
                    content_type=row.content_type,
                    sha256=row.sha256,
                    warc_file=f"warc/{row.warc_file}" if row.warc_file else None,
                    warc_offset=row.warc_offset,
                    record_type=row.record_type,
                    reason=row.reason,
                    truncated=row.truncated,
                )
                for _, row in batch
            ]
            ws.store.upsert([*markets, *records], source=f"crawl:run-{run_id}")
        state.mark_published([n for n, _ in batch])
        total += len(batch)
