"""What the dashboard and the market pages share: the crawl status of each market, the
economics estimate (cached per app), top actors, and the link helpers for ids.

The estimate (``spector.economics.estimate``) reads every feedback and listing and takes
seconds on a large workspace, so each app keeps the last one with the store's
``economics_fingerprint`` it was made at and makes a new one only when that changes
(new listings, feedback, a resolve run or decision). One estimate is made at a time.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spector.errors import NotFound, UserError

if TYPE_CHECKING:
    from spector.economics import Estimate
    from spector.store import Workspace
    from spector.web._state import WebState

__all__ = [
    "EstimateResult",
    "attach_crawl",
    "cached_estimate",
    "crawl_status",
    "top_actors",
]


@dataclass(frozen=True)
class EstimateResult:
    """The estimate, or why there is none (``error``: the UserError's message)."""

    estimate: Estimate | None
    error: str | None = None


class _EstimateCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple[Any, ...] | None = None
        self.value: EstimateResult | None = None


_caches: weakref.WeakKeyDictionary[WebState, _EstimateCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cached_estimate(state: WebState, ws: Workspace) -> EstimateResult:
    """The economics estimate of the app's workspace, made again only when the store's
    ``economics_fingerprint`` changed. A UserError of the estimate becomes ``error``."""
    from spector.economics import estimate
    from spector.store import economics_fingerprint

    with _caches_lock:
        cache = _caches.setdefault(state, _EstimateCache())
    with cache.lock:
        key = economics_fingerprint(ws.store)
        if cache.value is None or cache.key != key:
            try:
                cache.value = EstimateResult(estimate(ws))
            except UserError as exc:
                cache.value = EstimateResult(None, exc.what)
            cache.key = key
        return cache.value


def crawl_status(root: Path) -> dict[str, Any] | None:
    """The newest crawl run of the workspace at ``root`` (``run``: run_id, state,
    started_at...) and its per-site status (``sites``: site name -> status), or None
    when the workspace was never crawled."""
    from spector.collect._browse import crawl_run, crawl_sites

    try:
        run = crawl_run(root)
    except NotFound:
        return None
    sites = {s["site"]: s for s in crawl_sites(root, int(run["run_id"]), limit=500)}
    return {"run": run, "sites": sites}


def attach_crawl(rows: list[dict[str, Any]], status: dict[str, Any] | None) -> None:
    """Add ``crawl`` to each market row: the newest run's status of each crawl site the
    market's captures came from (or whose name is the market's), [] when not crawled."""
    for row in rows:
        found = []
        if status is not None:
            run = status["run"]
            for site in dict.fromkeys([*row["sites"], row["name"]]):
                s = status["sites"].get(site)
                if s is None:
                    continue
                found.append(
                    {
                        "site": s["site"],
                        "run_id": int(run["run_id"]),
                        "run_state": str(run.get("state", run.get("status", ""))),
                        "pages": int(s.get("pages", 0)),
                        "errors": int(s.get("errors", 0)),
                        "queue": int(s.get("queue", 0)),
                        "rate_per_min": int(s.get("rate_per_min", 0)),
                        "captcha": bool(s.get("captcha", False)),
                        "last_capture_at": s.get("last_capture_at"),
                    }
                )
        row["crawl"] = found


def top_actors(ws: Workspace, result: EstimateResult, limit: int = 10) -> list[dict[str, Any]]:
    """The actors of the last resolve run by estimated revenue, then by accounts (then
    id): actor_id, label, accounts, markets, handles, revenue_usd/low/high, sales (None
    without an estimate)."""
    from spector.resolve import actor_rows

    revenue: dict[str, dict[str, Any]] = {}
    if result.estimate is not None and result.estimate.by_actor:
        revenue = {str(r["actor_id"]): r for r in result.estimate.by_actor}
    rows = []
    for actor in actor_rows(ws):
        r = revenue.get(actor["actor_id"], {})
        label = r.get("label") or (actor["handles"][0] if actor["handles"] else actor["actor_id"])
        rows.append(
            {
                "actor_id": actor["actor_id"],
                "label": str(label),
                "accounts": actor["accounts"],
                "markets": actor["markets"],
                "handles": actor["handles"],
                "revenue_usd": _float(r.get("revenue_usd")),
                "revenue_low": _float(r.get("revenue_low")),
                "revenue_high": _float(r.get("revenue_high")),
                "sales": _float(r.get("sales")),
            }
        )
    rows.sort(key=lambda a: (-(a["revenue_usd"] or 0.0), -a["accounts"], a["actor_id"]))
    return rows[:limit]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
