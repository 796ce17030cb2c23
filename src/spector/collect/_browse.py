"""Read-side queries over the collector's state and the capture index, for the web app.

Two sources:

- ``WORKSPACE/collect.sqlite`` (:class:`~spector.collect._state.CrawlState`): crawl runs,
  per-site status of a run, the CAPTCHA queue. It is opened read-only for every query
  (a crawl in another process keeps writing it; WAL gives a consistent view), and a
  workspace that was never crawled has no such file: the lists are empty.
- the store's ``captures`` table and the WARC records it points at: see
  ``_browse_captures``.

Every list is keyset-paginated: it takes ``after`` (the sort key of the last row the
caller has, as a list, or None for the first page) and ``limit`` and returns at most
``limit`` rows in order, so a caller asks for ``limit + 1`` to know whether there is more.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spector.errors import ConflictError, InputError, NotFound, UsageError

__all__ = [
    "CAPTCHA_STATUSES",
    "answer_captcha",
    "captcha_image",
    "captcha_row",
    "captcha_rows",
    "crawl_run",
    "crawl_runs",
    "crawl_sites",
]

CAPTCHA_STATUSES = ("pending", "solved", "used", "all")
MAX_ANSWER = 64
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(epoch)))


_SQL_INT = 2**63 - 1


def _run_number(value: object, what: str) -> int:
    """``value`` as a run number SQLite can hold (UsageError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _SQL_INT:
        raise UsageError(f"{what}: not a crawl run number", expected="a whole number ≥ 0")
    return value


def _utc(text: str | None) -> str | None:
    """A collect.sqlite timestamp (ISO 8601 UTC, written without a zone) with its Z."""
    if text is None:
        return None
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@contextmanager
def _state_db(root: Path) -> Iterator[sqlite3.Connection | None]:
    """collect.sqlite opened read-only, or None when the workspace was never crawled."""
    path = root / "collect.sqlite"
    if not path.exists():
        yield None
        return
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        db.execute("PRAGMA busy_timeout = 30000")
        yield db
    finally:
        db.close()


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# -- runs ---------------------------------------------------------------------------------

_RUN_SQL = "SELECT run_id, started_at, status, proxy, profiles, stop_requested, pid FROM runs "


def _run_dicts(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    ids = [int(r[0]) for r in rows]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    frontier = {
        r[0]: r[1:]
        for r in db.execute(
            "SELECT run_id, count(DISTINCT site), sum(status = 'done'), sum(status = 'failed'), "
            f"sum(status IN ('queued', 'active')) FROM frontier WHERE run_id IN ({marks}) "
            "GROUP BY run_id",
            ids,
        )
    }
    captures = {
        r[0]: r[1:]
        for r in db.execute(
            "SELECT run_id, count(*), max(fetched_at) FROM captures "
            f"WHERE run_id IN ({marks}) GROUP BY run_id",
            ids,
        )
    }
    waiting = int(
        db.execute("SELECT count(*) FROM captchas WHERE status = 'pending'").fetchone()[0]
    )
    newest = int(db.execute("SELECT max(run_id) FROM runs").fetchone()[0] or 0)
    out = []
    for run_id, started, status, proxy, profiles, stop, pid in rows:
        sites, done, failed, queued = frontier.get(run_id, (0, 0, 0, 0))
        n_captures, last = captures.get(run_id, (0, None))
        state = str(status)
        if status == "running" and not _alive(pid):
            state = "interrupted"  # killed or crashed: `spector crawl resume` goes on
        out.append(
            {
                "run_id": int(run_id),
                "started_at": _iso(started),
                "status": str(status),
                "state": state,
                "proxy": str(proxy),
                "profiles": [Path(p).stem for p in json.loads(profiles or "[]")],
                "stop_requested": bool(stop),
                "sites": int(sites or 0),
                "pages": int(done or 0),
                "errors": int(failed or 0),
                "queue": int(queued or 0),
                "captures": int(n_captures or 0),
                "last_capture_at": _utc(last),
                "captchas_waiting": waiting if run_id == newest else 0,
            }
        )
    return out


def crawl_runs(
    root: Path, *, after: Sequence[Any] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Crawl runs of the workspace at ``root``, newest first (sort key ``[run_id]``).

    Each: run_id, started_at (ISO UTC), status as recorded (running, done, stopped),
    state (status, or "interrupted" for a run recorded as running whose process is gone),
    proxy, profiles (site profile names), stop_requested, sites, pages (URLs done),
    errors (URLs failed), queue (queued or active), captures, last_capture_at,
    captchas_waiting (of the newest run only). Empty without collect.sqlite."""
    with _state_db(root) as db:
        if db is None or "runs" not in _tables(db):
            return []
        if after:
            rows = db.execute(
                _RUN_SQL + "WHERE run_id < ? ORDER BY run_id DESC LIMIT ?",
                (_run_number(after[0], "cursor"), limit),
            ).fetchall()
        else:
            rows = db.execute(_RUN_SQL + "ORDER BY run_id DESC LIMIT ?", (limit,)).fetchall()
        return _run_dicts(db, rows)


def crawl_run(root: Path, run_id: int | None = None) -> dict[str, Any]:
    """One run as :func:`crawl_runs` gives it (the newest when ``run_id`` is None);
    NotFound when there is no such run."""
    with _state_db(root) as db:
        if db is None or "runs" not in _tables(db):
            raise NotFound("no crawl in this workspace yet", hint="spector crawl start")
        if run_id is None:
            rows = db.execute(_RUN_SQL + "ORDER BY run_id DESC LIMIT 1").fetchall()
        else:
            rows = db.execute(
                _RUN_SQL + "WHERE run_id = ?", (_run_number(run_id, "run"),)
            ).fetchall()
        if not rows:
            raise NotFound(f"no crawl run {run_id}", hint="see /crawl for the runs")
        return _run_dicts(db, rows)[0]


def crawl_sites(
    root: Path, run_id: int, *, after: Sequence[Any] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Per-site status of crawl run ``run_id``, by site name (sort key ``[site]``).

    Each has the keys of ``CrawlState.site_status`` (site, pages, errors, queue,
    rate_per_min, captcha: a CAPTCHA of the site is waiting) plus captures,
    last_capture_at, refusals (URLs the scope refused) and bounds (bound -> {max, hits,
    example}: crawl bounds the site hit). NotFound for an unknown run."""
    crawl_run(root, run_id)
    with _state_db(root) as found:
        db = _need_db(found)
        start = str(after[0]) if after else ""
        rows = db.execute(
            "SELECT site, sum(status = 'done'), sum(status = 'failed'), "
            "sum(status IN ('queued', 'active')) FROM frontier WHERE run_id = ? AND site > ? "
            "GROUP BY site ORDER BY site LIMIT ?",
            (run_id, start, limit),
        ).fetchall()
        sites = [str(r[0]) for r in rows]
        if not sites:
            return []
        marks = ",".join("?" * len(sites))
        minute_ago = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 60))
        captures = {
            r[0]: r[1:]
            for r in db.execute(
                "SELECT site, count(*), max(fetched_at), sum(fetched_at >= ?) FROM captures "
                f"WHERE run_id = ? AND site IN ({marks}) GROUP BY site",
                (minute_ago, run_id, *sites),
            )
        }
        waiting = {
            r[0] for r in db.execute("SELECT DISTINCT site FROM captchas WHERE status = 'pending'")
        }
        refusals = dict(
            db.execute(
                f"SELECT site, count(*) FROM refusals WHERE run_id = ? AND site IN ({marks}) "
                "GROUP BY site",
                (run_id, *sites),
            ).fetchall()
        )
        bounds: dict[str, dict[str, dict[str, Any]]] = {}
        if "bounds" in _tables(db):
            for site, bound, most, hits, example in db.execute(
                "SELECT site, bound, maximum, hits, example FROM bounds WHERE run_id = ? "
                f"AND site IN ({marks}) ORDER BY site, bound",
                (run_id, *sites),
            ):
                bounds.setdefault(site, {})[bound] = {"max": most, "hits": hits, "example": example}
    out = []
    for site, done, failed, queued in rows:
        n, last, recent = captures.get(site, (0, None, 0))
        out.append(
            {
                "site": str(site),
                "pages": int(done or 0),
                "errors": int(failed or 0),
                "queue": int(queued or 0),
                "rate_per_min": int(recent or 0),
                "captcha": site in waiting,
                "captures": int(n or 0),
                "last_capture_at": _utc(last),
                "refusals": int(refusals.get(site, 0)),
                "bounds": bounds.get(site, {}),
            }
        )
    return out


def _need_db(db: sqlite3.Connection | None) -> sqlite3.Connection:
    """``db``, or NotFound when the workspace has no collect.sqlite."""
    if db is None:
        raise NotFound("no crawl in this workspace yet", hint="spector crawl start")
    return db


# -- CAPTCHAs -----------------------------------------------------------------------------


def _captcha_dict(root: Path, row: tuple[Any, ...]) -> dict[str, Any]:
    captcha_id, site, image_path, created, answer, status = row
    return {
        "id": str(captcha_id),
        "site": str(site),
        "created_at": _iso(created),
        "created": float(created),
        "status": str(status),
        "answered": answer is not None,
        "has_image": _image_file(root, str(captcha_id), str(image_path)) is not None,
    }


_CAPTCHA_SQL = "SELECT id, site, image_path, created_at, answer, status FROM captchas "


def captcha_rows(
    root: Path, *, status: str = "pending", after: Sequence[Any] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """CAPTCHAs the crawler handed to a person, oldest first (sort key ``[created,
    id]``), of ``status`` (pending: waiting for an answer; solved: answered, not yet
    used by the crawler; used; all). Each: id, site, created_at (ISO UTC), created
    (epoch seconds), status, answered, has_image. The answer itself is never given."""
    if status not in CAPTCHA_STATUSES:
        raise UsageError(
            f"status: unknown CAPTCHA status {status!r}",
            expected=f"one of {', '.join(CAPTCHA_STATUSES)}",
        )
    where: list[str] = []
    args: list[Any] = []
    if status != "all":
        where.append("status = ?")
        args.append(status)
    if after:
        if len(after) != 2 or not isinstance(after[0], int | float):
            raise UsageError("cursor: not a cursor this API gave", hint="start again without it")
        where.append("(created_at > ? OR (created_at = ? AND id > ?))")
        args += [float(after[0]), float(after[0]), str(after[1])]
    sql = _CAPTCHA_SQL + (f"WHERE {' AND '.join(where)} " if where else "")
    with _state_db(root) as db:
        if db is None or "captchas" not in _tables(db):
            return []
        rows = db.execute(sql + "ORDER BY created_at, id LIMIT ?", (*args, limit)).fetchall()
    return [_captcha_dict(root, r) for r in rows]


def captcha_row(root: Path, captcha_id: str) -> dict[str, Any]:
    """One CAPTCHA as :func:`captcha_rows` gives it; NotFound for an unknown id."""
    with _state_db(root) as db:
        row = None
        if db is not None and "captchas" in _tables(db):
            row = db.execute(_CAPTCHA_SQL + "WHERE id = ?", (captcha_id,)).fetchone()
    if row is None:
        raise NotFound(f"no CAPTCHA {captcha_id!r}", hint="see /crawl/captchas")
    return _captcha_dict(root, row)


def _image_file(root: Path, captcha_id: str, image_path: str) -> Path | None:
    """The picture's file, only inside the workspace's captchas/ folder: the recorded
    path, or (a workspace copied or moved since) the file of the same name there."""
    folder = (root / "captchas").resolve()
    recorded = Path(image_path)
    for candidate in (recorded, folder / recorded.name, folder / f"{captcha_id}.png"):
        try:
            path = candidate.resolve()
        except OSError:
            continue
        if path.parent == folder and path.is_file():
            return path
    return None


def captcha_image(root: Path, captcha_id: str) -> bytes:
    """The PNG picture of CAPTCHA ``captcha_id`` (the crawler's hand-off wrote it).
    NotFound for an unknown CAPTCHA or a missing file; InputError if the file is not a
    PNG (it is only ever served as image/png)."""
    with _state_db(root) as db:
        row = None
        if db is not None and "captchas" in _tables(db):
            row = db.execute(
                "SELECT image_path FROM captchas WHERE id = ?", (captcha_id,)
            ).fetchone()
    if row is None:
        raise NotFound(f"no CAPTCHA {captcha_id!r}", hint="see /crawl/captchas")
    path = _image_file(root, captcha_id, str(row[0]))
    if path is None:
        raise NotFound(f"the picture of CAPTCHA {captcha_id} is gone", where=str(row[0]))
    data = path.read_bytes()
    if not data.startswith(PNG_MAGIC):
        raise InputError(
            f"the picture of CAPTCHA {captcha_id} is not a PNG", where=path, expected="a PNG file"
        )
    return data


def answer_captcha(root: Path, captcha_id: str, answer: str) -> dict[str, Any]:
    """Answer a waiting CAPTCHA (``CrawlState.solve_captcha``): the crawl waiting on it
    picks the answer up and resumes. ``answer`` is stripped; it must be 1–64 printable
    characters (InputError). NotFound for an unknown id; ConflictError when it was
    answered already. Returns the CAPTCHA as :func:`captcha_row` gives it."""
    from spector.collect._state import CrawlState

    text = answer.strip()
    if not text or len(text) > MAX_ANSWER or not text.isprintable():
        raise InputError(
            f"answer: {len(text)} characters" if text else "answer: empty",
            expected=f"the characters of the picture (1–{MAX_ANSWER} printable characters)",
        )
    current = captcha_row(root, captcha_id)
    if current["status"] != "pending":
        raise ConflictError(f"CAPTCHA {captcha_id} was answered already ({current['status']})")
    state = CrawlState(root / "collect.sqlite")
    try:
        solved = state.solve_captcha(captcha_id, text)
    finally:
        state.close()
    if not solved:  # answered from another terminal in the meantime
        raise ConflictError(f"CAPTCHA {captcha_id} was answered already")
    return captcha_row(root, captcha_id)
