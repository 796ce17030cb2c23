"""What the web app holds while it runs: the workspace, the case store, the keys.

The app opens the workspace's store for writing once, for its whole life (DuckDB lets one
process write; `spector resolve confirm` in a shell waits for the server to stop, with
the store's own "holds the lock" error). Each request gets a ``Workspace`` over a cursor
of its own (``state.workspace()``), so requests run side by side in the thread pool.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from spector.cases import CaseStore, Principal
    from spector.store import Workspace

__all__ = ["AuthCache", "LoginLimiter", "WebState"]

T = TypeVar("T")

SESSION_TTL_S = 10.0  # how long a checked session token is trusted without the store


@dataclass
class LoginLimiter:
    """Refused logins per username and per client address in a sliding window.

    ``blocked(user, ip)`` gives the seconds to wait (0: go on). Only failures count; a
    success clears the username's count. Kept in memory: a restart forgets it.
    """

    per_user: int = 5
    per_ip: int = 20
    window_s: float = 300.0
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def blocked(self, username: str, ip: str) -> float:
        now = time.monotonic()
        with self._lock:
            waits = []
            for key, limit in (
                (f"u:{username.strip().lower()}", self.per_user),
                (f"i:{ip}", self.per_ip),
            ):
                q = self._recent(key, now)
                if len(q) >= limit:
                    waits.append(q[0] + self.window_s - now)
            return max(waits, default=0.0)

    def failed(self, username: str, ip: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"u:{username.strip().lower()}", f"i:{ip}"):
                self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._fails.pop(f"u:{username.strip().lower()}", None)


@dataclass
class AuthCache:
    """Tokens checked against the case store in the last ``ttl`` seconds, so a page that
    loads five API calls checks its session once. Logout evicts at once; a token revoked
    from another process stops working within ``ttl``."""

    ttl: float = SESSION_TTL_S
    _seen: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, token: str) -> Principal | None:
        with self._lock:
            hit = self._seen.get(token)
            if hit is None or hit[1] < time.monotonic():
                self._seen.pop(token, None)
                return None
            return hit[0]

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[token] = (principal, time.monotonic() + self.ttl)

    def evict(self, token: str) -> None:
        with self._lock:
            self._seen.pop(token, None)


class WebState:
    """The app's resources (``request.app.state.web``)."""

    def __init__(self, ws_root: Path, workspace: Workspace, cases: CaseStore) -> None:
        self.ws_root = ws_root
        self._workspace = workspace
        self.cases = cases
        self.secret = secrets.token_bytes(32)  # keys CSRF tokens; new at every start
        self.limiter = LoginLimiter()
        self.auth = AuthCache()
        self.csp_reports: deque[dict[str, object]] = deque(maxlen=200)
        self._write_lock = threading.Lock()
        self._memo: dict[object, tuple[float, object]] = {}
        self._refreshing: set[object] = set()
        self._workers: set[threading.Thread] = set()  # refreshes running now
        self._cursor_lock = threading.Lock()
        self._closing = False
        self._memo_lock = threading.Lock()

    def memo(self, key: object, ttl: float, make: Callable[[], T]) -> T:
        """``make()``, kept under ``key`` (summaries many users ask for at once, e.g. the
        dashboard's markets and estimate). The first call makes it; after ``ttl`` seconds
        callers still get the kept value while one background thread makes a new one (so
        no request waits for it). Writes through ``writing()`` forget every kept value."""
        now = time.monotonic()
        with self._memo_lock:
            hit = self._memo.get(key)
            stale = hit is not None and hit[0] <= now
            refresh = stale and key not in self._refreshing
            if refresh:
                self._refreshing.add(key)
        if hit is None:
            value = make()
            with self._memo_lock:
                self._memo[key] = (now + ttl, value)
            return value
        if refresh:
            worker = threading.Thread(target=self._refresh, args=(key, ttl, make), daemon=True)
            with self._memo_lock:
                if self._closing:
                    self._refreshing.discard(key)
                    return cast(T, hit[1])
                self._workers.add(worker)
            worker.start()
        return cast(T, hit[1])

    def _refresh(self, key: object, ttl: float, make: Callable[[], object]) -> None:
        try:
            value = make()
            with self._memo_lock:
                if key in self._memo:  # not forgotten by a write meanwhile
                    self._memo[key] = (time.monotonic() + ttl, value)
        except Exception:
            with self._memo_lock:
                self._memo.pop(key, None)
        finally:
            with self._memo_lock:
                self._refreshing.discard(key)
                self._workers.discard(threading.current_thread())

    @contextmanager
    def workspace(self) -> Iterator[Workspace]:
        """A ``Workspace`` over a cursor of this request's own (closed afterwards)."""
        from spector.store import Store, Workspace

        base = self._workspace
        with self._cursor_lock:  # the shared connection takes one call at a time
            cursor = base.store.con.cursor()
        try:
            yield Workspace(base.root, base.config, Store(cursor, base.store_path, writable=True))
        finally:
            cursor.close()

    @contextmanager
    def writing(self) -> Iterator[Workspace]:
        """Like ``workspace()``, one writer at a time (DuckDB's optimistic writers would
        otherwise fail each other's transactions on the same table)."""
        with self._write_lock, self.workspace() as ws:
            try:
                yield ws
            finally:
                with self._memo_lock:
                    self._memo.clear()

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A case-store session (``CaseStore.session``)."""
        with self.cases.session(readonly=readonly) as s:
            yield s

    def close(self) -> None:
        """Close the stores, after the background refreshes still running have ended
        (they read through cursors of the workspace's connection)."""
        with self._memo_lock:
            self._closing = True
            running = list(self._workers)
        for worker in running:
            worker.join(timeout=60)
        self.cases.close()
        with self._cursor_lock:
            self._workspace.close()
