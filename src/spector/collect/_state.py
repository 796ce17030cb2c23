"""The collector's working state: frontier, capture journal, CAPTCHA queue (SQLite).

It lives in WORKSPACE/collect.sqlite, apart from the analytic store, because several
processes use it at once: the crawl writes it, `spector captcha solve` and `crawl stop`
write to it from another terminal, `crawl status` reads it. SQLite in WAL mode gives
each of them a consistent view, and a crawl killed with `kill -9` loses nothing that
was committed: every capture is committed together with its frontier update.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["CaptureRow", "CrawlState", "FrontierItem"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    proxy TEXT NOT NULL,
    profiles TEXT NOT NULL,          -- JSON list of profile paths
    status TEXT NOT NULL,            -- running, done, stopped
    stop_requested INTEGER NOT NULL DEFAULT 0,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS frontier (
    run_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    site TEXT NOT NULL,
    depth INTEGER NOT NULL,
    status TEXT NOT NULL,            -- queued, active, done, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    reason TEXT,
    PRIMARY KEY (run_id, url)
);
CREATE INDEX IF NOT EXISTS frontier_claim ON frontier (run_id, site, status, next_at);
CREATE TABLE IF NOT EXISTS captures (
    capture_no INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    site TEXT NOT NULL,
    fetched_at TEXT NOT NULL,        -- ISO 8601 UTC
    status INTEGER,
    content_type TEXT,
    sha256 TEXT,
    warc_file TEXT,
    warc_offset INTEGER,
    warc_end INTEGER,
    record_type TEXT NOT NULL,       -- response, revisit, error, refused
    reason TEXT,
    published INTEGER NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0  -- the body was cut: size, time, dropped connection
);
CREATE INDEX IF NOT EXISTS captures_url ON captures (url, sha256);
CREATE TABLE IF NOT EXISTS refusals (
    run_id INTEGER NOT NULL, site TEXT NOT NULL, url TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (run_id, site, url)
);
CREATE TABLE IF NOT EXISTS bounds (    -- every crawl bound that was hit, and how often
    run_id INTEGER NOT NULL, site TEXT NOT NULL, bound TEXT NOT NULL,
    maximum INTEGER NOT NULL, hits INTEGER NOT NULL, example TEXT NOT NULL,
    PRIMARY KEY (run_id, site, bound)
);
CREATE TABLE IF NOT EXISTS captchas (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    image_path TEXT NOT NULL,
    created_at REAL NOT NULL,
    answer TEXT,
    status TEXT NOT NULL             -- pending, solved, used
);
"""


@dataclass(frozen=True, slots=True)
class FrontierItem:
    url: str
    site: str
    depth: int
    attempts: int


@dataclass(frozen=True, slots=True)
class CaptureRow:
    url: str
    host: str
    site: str
    fetched_at: str
    status: int | None
    content_type: str | None
    sha256: str | None
    warc_file: str | None
    warc_offset: int | None
    warc_end: int | None
    record_type: str
    reason: str | None
    truncated: bool = False


_COLUMNS = (
    "url, host, site, fetched_at, status, content_type, sha256, warc_file, warc_offset, "
    "warc_end, record_type, reason, truncated"
)
# Columns added since the first release: (table, column, declaration).
_ADDED = (("captures", "truncated", "INTEGER NOT NULL DEFAULT 0"),)


class CrawlState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.execute("PRAGMA busy_timeout = 30000")
        for _ in range(100):  # switching to WAL ignores busy_timeout: two first openers race
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                time.sleep(0.05)
        self.db.execute("PRAGMA synchronous=NORMAL")
        with self.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            for table, column, declaration in _ADDED:  # a state file of an older Spector
                have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- runs ---------------------------------------------------------------------------
    def new_run(self, proxy: str, profiles: list[str], pid: int) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (started_at, proxy, profiles, status, pid) "
            "VALUES (?, ?, ?, 'running', ?)",
            (time.time(), proxy, json.dumps(profiles), pid),
        )
        return int(cur.lastrowid or 0)

    def last_run(self) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT run_id, proxy, profiles, status, stop_requested, pid, started_at FROM runs "
            "ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        keys = ("run_id", "proxy", "profiles", "status", "stop_requested", "pid", "started_at")
        run = dict(zip(keys, row, strict=True))
        run["profiles"] = json.loads(run["profiles"])
        return run

    def set_run(self, run_id: int, *, status: str | None = None, pid: int | None = None) -> None:
        if status is not None:
            self.db.execute("UPDATE runs SET status = ? WHERE run_id = ?", (status, run_id))
        if pid is not None:
            self.db.execute(
                "UPDATE runs SET pid = ?, stop_requested = 0 WHERE run_id = ?", (pid, run_id)
            )

    def request_stop(self) -> int | None:
        run = self.last_run()
        if run is None or run["status"] != "running":
            return None
        self.db.execute("UPDATE runs SET stop_requested = 1 WHERE run_id = ?", (run["run_id"],))
        return int(run["run_id"])

    def stop_requested(self, run_id: int) -> bool:
        row = self.db.execute(
            "SELECT stop_requested FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return bool(row and row[0])

    # -- frontier -----------------------------------------------------------------------
    def enqueue(self, run_id: int, site: str, urls: list[tuple[str, int]]) -> int:
        """Add (url, depth) pairs not seen in this run; return how many were new."""
        before = self.db.total_changes
        self.db.executemany(
            "INSERT OR IGNORE INTO frontier (run_id, url, site, depth, status) "
            "VALUES (?, ?, ?, ?, 'queued')",
            [(run_id, u, site, d) for u, d in urls],
        )
        return self.db.total_changes - before

    def claim(self, run_id: int, site: str) -> FrontierItem | None:
        now = time.time()
        with self.transaction():
            row = self.db.execute(
                "SELECT url, depth, attempts FROM frontier WHERE run_id = ? AND site = ? "
                "AND status = 'queued' AND next_at <= ? ORDER BY depth, rowid LIMIT 1",
                (run_id, site, now),
            ).fetchone()
            if row is None:
                return None
            self.db.execute(
                "UPDATE frontier SET status = 'active' WHERE run_id = ? AND url = ?",
                (run_id, row[0]),
            )
        return FrontierItem(row[0], site, int(row[1]), int(row[2]))

    def pending(self, run_id: int, site: str) -> tuple[int, float | None]:
        """(active or queued URLs, earliest next_at of the queued ones)."""
        row = self.db.execute(
            "SELECT count(*), min(CASE WHEN status = 'queued' THEN next_at END) FROM frontier "
            "WHERE run_id = ? AND site = ? AND status IN ('queued', 'active')",
            (run_id, site),
        ).fetchone()
        return int(row[0]), row[1]

    def retry(
        self, run_id: int, url: str, delay: float, reason: str, *, count: bool = True
    ) -> None:
        self.db.execute(
            "UPDATE frontier SET status = 'queued', next_at = ?, reason = ?, "
            "attempts = attempts + ? WHERE run_id = ? AND url = ?",
            (time.time() + delay, reason, 1 if count else 0, run_id, url),
        )

    def release(self, run_id: int, url: str) -> None:
        """Put an active URL back without counting an attempt (a re-login interrupted it)."""
        self.db.execute(
            "UPDATE frontier SET status = 'queued' WHERE run_id = ? AND url = ?", (run_id, url)
        )

    def requeue_active(self, run_id: int) -> int:
        """After a crash: what was being fetched is fetched again (nothing was committed)."""
        cur = self.db.execute(
            "UPDATE frontier SET status = 'queued' WHERE run_id = ? AND status = 'active'",
            (run_id,),
        )
        return cur.rowcount

    def unseen(self, run_id: int, urls: list[str]) -> list[str]:
        """The ``urls`` not yet in this run's frontier, in their order."""
        seen: set[str] = set()
        for i in range(0, len(urls), 500):
            chunk = urls[i : i + 500]
            marks = ",".join("?" * len(chunk))
            seen.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT url FROM frontier WHERE run_id = ? AND url IN ({marks})",
                    (run_id, *chunk),
                )
            )
        return [u for u in urls if u not in seen]

    def frontier_urls(self, run_id: int) -> Iterator[tuple[str, str]]:
        """(site, url) of every URL in the run's frontier."""
        yield from self.db.execute("SELECT site, url FROM frontier WHERE run_id = ?", (run_id,))

    def refuse(self, run_id: int, site: str, url: str, reason: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO refusals VALUES (?, ?, ?, ?)", (run_id, site, url, reason)
        )

    def refuse_many(self, run_id: int, site: str, refusals: list[tuple[str, str]]) -> None:
        """Record (url, reason) pairs in one transaction."""
        if refusals:
            with self.transaction():
                self.db.executemany(
                    "INSERT OR IGNORE INTO refusals VALUES (?, ?, ?, ?)",
                    [(run_id, site, url, reason) for url, reason in refusals],
                )

    def bound_hit(self, run_id: int, site: str, hits: dict[str, tuple[int, int, str]]) -> None:
        """Count hits of crawl bounds: bound -> (its maximum, new hits, an example)."""
        if not hits:
            return
        with self.transaction():
            self.db.executemany(
                "INSERT INTO bounds VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, site, bound) "
                "DO UPDATE SET hits = hits + excluded.hits, maximum = excluded.maximum",
                [(run_id, site, b, m, n, ex[:500]) for b, (m, n, ex) in hits.items()],
            )

    def bounds(self, run_id: int) -> dict[str, dict[str, dict[str, Any]]]:
        """site -> bound -> {max, hits, example}: every bound the run hit."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for site, bound, most, hits, example in self.db.execute(
            "SELECT site, bound, maximum, hits, example FROM bounds WHERE run_id = ? "
            "ORDER BY site, bound",
            (run_id,),
        ):
            out.setdefault(site, {})[bound] = {"max": most, "hits": hits, "example": example}
        return out

    # -- captures -----------------------------------------------------------------------
    def commit_capture(
        self,
        run_id: int,
        capture: CaptureRow | None,
        url: str,
        *,
        final: str,
        links: list[tuple[str, int]],
        site: str,
        reason: str | None = None,
    ) -> None:
        """Record a capture, close its frontier entry and add its links: all or nothing."""
        with self.transaction():
            if capture is not None:
                self.db.execute(
                    f"INSERT INTO captures (run_id, {_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        capture.url,
                        capture.host,
                        capture.site,
                        capture.fetched_at,
                        capture.status,
                        capture.content_type,
                        capture.sha256,
                        capture.warc_file,
                        capture.warc_offset,
                        capture.warc_end,
                        capture.record_type,
                        capture.reason,
                        int(capture.truncated),
                    ),
                )
            self.db.execute(
                "UPDATE frontier SET status = ?, reason = ? WHERE run_id = ? AND url = ?",
                (final, reason, run_id, url),
            )
            if links:
                self.db.executemany(
                    "INSERT OR IGNORE INTO frontier (run_id, url, site, depth, status) "
                    "VALUES (?, ?, ?, ?, 'queued')",
                    [(run_id, u, site, d) for u, d in links],
                )

    def add_capture(self, run_id: int, capture: CaptureRow) -> None:
        """A capture outside the frontier (login pages, CAPTCHA images)."""
        self.commit_capture(run_id, capture, "", final="done", links=[], site=capture.site)

    def last_digest(self, url: str) -> tuple[str, str] | None:
        """(sha256, fetched_at) of the newest stored response for ``url``."""
        row = self.db.execute(
            "SELECT sha256, fetched_at FROM captures WHERE url = ? AND record_type = 'response' "
            "AND sha256 IS NOT NULL ORDER BY capture_no DESC LIMIT 1",
            (url,),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def warc_ends(self) -> dict[str, int]:
        """The committed end offset of every WARC file (resume truncates to it)."""
        rows = self.db.execute(
            "SELECT warc_file, max(warc_end) FROM captures WHERE warc_file IS NOT NULL "
            "GROUP BY warc_file"
        ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def unpublished(self, limit: int = 5000) -> list[tuple[int, CaptureRow]]:
        rows = self.db.execute(
            f"SELECT capture_no, {_COLUMNS} FROM captures WHERE published = 0 "
            "ORDER BY capture_no LIMIT ?",
            (limit,),
        ).fetchall()
        return [(r[0], replace(CaptureRow(*r[1:]), truncated=bool(r[-1]))) for r in rows]

    def mark_published(self, numbers: list[int]) -> None:
        with self.transaction():
            self.db.executemany(
                "UPDATE captures SET published = 1 WHERE capture_no = ?", [(n,) for n in numbers]
            )

    # -- CAPTCHAs -----------------------------------------------------------------------
    def queue_captcha(self, captcha_id: str, site: str, image_path: str) -> None:
        self.db.execute(
            "INSERT INTO captchas VALUES (?, ?, ?, ?, NULL, 'pending')",
            (captcha_id, site, image_path, time.time()),
        )

    def captcha_answer(self, captcha_id: str) -> str | None:
        row = self.db.execute(
            "SELECT answer FROM captchas WHERE id = ? AND status = 'solved'", (captcha_id,)
        ).fetchone()
        return row[0] if row else None

    def use_captcha(self, captcha_id: str) -> None:
        self.db.execute("UPDATE captchas SET status = 'used' WHERE id = ?", (captcha_id,))

    def pending_captchas(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, site, image_path, created_at FROM captchas WHERE status = 'pending' "
            "ORDER BY created_at"
        ).fetchall()
        return [{"id": r[0], "site": r[1], "image_path": r[2], "created_at": r[3]} for r in rows]

    def solve_captcha(self, captcha_id: str, answer: str) -> bool:
        cur = self.db.execute(
            "UPDATE captchas SET answer = ?, status = 'solved' WHERE id = ? AND status = 'pending'",
            (answer, captcha_id),
        )
        return cur.rowcount == 1

    # -- status -------------------------------------------------------------------------
    def site_status(self, run_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT site, sum(status = 'done'), sum(status = 'failed'), "
            "sum(status IN ('queued', 'active')) FROM frontier WHERE run_id = ? "
            "GROUP BY site ORDER BY site",
            (run_id,),
        ).fetchall()
        recent = dict(
            self.db.execute(
                "SELECT site, count(*) FROM captures WHERE run_id = ? AND fetched_at >= ? "
                "GROUP BY site",
                (run_id, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 60))),
            ).fetchall()
        )
        waiting = {
            r[0] for r in self.db.execute("SELECT site FROM captchas WHERE status = 'pending'")
        }
        return [
            {
                "site": r[0],
                "pages": int(r[1] or 0),
                "errors": int(r[2] or 0),
                "queue": int(r[3] or 0),
                "rate_per_min": int(recent.get(r[0], 0)),
                "captcha": r[0] in waiting,
            }
            for r in rows
        ]
