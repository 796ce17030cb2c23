"""Address clustering: which addresses are one wallet, with the evidence for each link.

``cluster(ws)`` takes in the blocks the store holds that are not clustered yet, in
height order (the multi-input heuristic: a transaction's inputs are one owner's; plus
the change heuristics switched on), skipping the transactions ``detect_mixing`` names
(CoinJoins, chip activity) and those the analyst unmerged, holding back what the
super-cluster guard stops. Results: ``chain_clusters`` (every address, singletons and
P2PK pseudo-addresses too), ``cluster_merges`` (each link: heuristic, txid, height,
the two addresses), ``cluster_held`` and ``cluster_skipped``.

Incremental: a run adds the new heights to what the last run left. It recomputes from
zero, and says why in ``ClusterReport.recomputed``, when the settings differ from the
clustering held, when blocks arrived below the clustered tip (ids are in first-seen
order), or when a forward-looking change heuristic (peel_chain, fingerprint: they judge
a transaction by later spends) is on. A reorg (``on_rollback``, called by the ingest)
removes what the stale blocks merged and rebuilds the clusters they touched, so the
result equals clustering the new branch from scratch. The analyst's decisions
(``merge_addresses``, ``unmerge``) are kept in ``cluster_decisions`` and applied by
every run, from zero or not.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from spector.chain._cluster_decide import merge_addresses, unmerge
from spector.chain._cluster_edges import FORWARD_LOOKING, HEURISTICS
from spector.chain._cluster_query import address_cluster_ids, cluster_of, merge_path
from spector.chain._cluster_state import ClusterState, Settings
from spector.errors import UsageError
from spector.store import Workspace

if TYPE_CHECKING:
    from spector.chain._cluster_engine import Engine
    from spector.chain._store import ChainStore

__all__ = [
    "GUARD_FACTOR",
    "GUARD_MIN_SIZE",
    "HEURISTICS",
    "ClusterReport",
    "address_cluster_ids",
    "cluster",
    "cluster_of",
    "merge_addresses",
    "merge_path",
    "on_rollback",
    "settings_for",
    "unmerge",
]

GUARD_FACTOR = 10.0  # a transaction may make a cluster at most this many times its largest part
GUARD_MIN_SIZE = 1_000  # ... once the result holds this many addresses
CHUNK_INPUTS = 2_000_000  # inputs per pass over the views
Progress = Callable[[int, int], None]  # (blocks done, blocks to do)


@dataclass
class ClusterReport:
    """What a run did (``merges``, ``skipped``, ``held``: this run) and what the store
    now holds (``addresses``, ``clusters``, ``largest``, ``*_total``)."""

    heuristics: list[str]
    guard_factor: float
    guard_min_size: int
    blocks: int = 0
    txs: int = 0  # transactions with two or more addresses to merge, applied this run
    new_addresses: int = 0
    pseudo_addresses: int = 0
    merges: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    held: list[dict[str, Any]] = field(default_factory=list)
    recomputed: str | None = None
    rolled_back: int = 0  # clustered blocks no longer in the chain, forgotten first
    addresses: int = 0
    clusters: int = 0
    largest: int = 0
    merges_total: int = 0
    skipped_total: dict[str, int] = field(default_factory=dict)
    held_total: int = 0
    tip_height: int | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"seconds": round(self.seconds, 3)}

    def summary(self) -> str:
        """The one line the CLI ends with."""
        how = f"recomputed from zero ({self.recomputed}); " if self.recomputed else ""
        merged = sum(self.merges.values())
        skipped = sum(self.skipped.values())
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(self.skipped.items()))
        return (
            f"{how}clustered {self.blocks:,} blocks: {merged:,} merges, {skipped:,} txs "
            f"skipped{f' ({kinds})' if kinds else ''}, {len(self.held):,} held back; "
            f"{self.addresses:,} addresses in {self.clusters:,} clusters (largest "
            f"{self.largest:,}; {self.merges_total:,} merges in all)"
        )


def settings_for(heuristics: Iterable[str], guard_factor: float, guard_min_size: int) -> Settings:
    """Checked settings: known heuristic names (multi_input is always on), a guard
    factor of 0 (off) or above 1, a minimum size of at least 2."""
    chosen = set()
    for name in heuristics:
        key = name.strip().lower().replace("-", "_")
        if key not in HEURISTICS:
            close = difflib.get_close_matches(key, HEURISTICS, n=1)
            raise UsageError(
                f"unknown heuristic {name!r}",
                expected="one of " + ", ".join(HEURISTICS),
                hint=f"did you mean {close[0]}?" if close else None,
            )
        if key != "multi_input":
            chosen.add(key)
    if not (guard_factor == 0 or guard_factor > 1):
        raise UsageError(f"guard factor {guard_factor:g}", expected="0 (off) or more than 1")
    if guard_min_size < 2:
        raise UsageError(f"guard minimum size {guard_min_size}", expected="2 or more")
    return Settings(tuple(sorted(chosen)), float(guard_factor), int(guard_min_size))


def _chunks(con: Any, heights: list[int]) -> list[tuple[int, int, int]]:
    """(lo, hi, blocks) passes over the views, about CHUNK_INPUTS inputs each."""
    if not heights:
        return []
    rows = con.execute(
        "SELECT height, input_count FROM blocks WHERE height BETWEEN ? AND ? ORDER BY height",
        [heights[0], heights[-1]],
    ).fetchall()
    wanted = set(heights)
    out: list[tuple[int, int, int]] = []
    lo = None
    count = blocks = 0
    last = heights[0]
    for height, inputs in rows:
        if height not in wanted:
            continue
        if lo is None:
            lo = height
        count += int(inputs)
        blocks += 1
        last = height
        if count >= CHUNK_INPUTS:
            out.append((lo, last, blocks))
            lo, count, blocks = None, 0, 0
    if lo is not None:
        out.append((lo, last, blocks))
    return out


def _why_recompute(engine: Engine, settings: Settings) -> str | None:
    """Why this run cannot add to the clustering held (None: it can). Forgets stale
    blocks first (a reorg the ingest's hook did not see)."""
    state = engine.state
    held = state.settings()
    if held is None:
        return None
    if held != settings:
        return f"settings changed: {held.describe()} -> {settings.describe()}"
    dirty = state.get("dirty")
    if dirty:
        return dirty
    con = engine.con
    stale = con.execute(
        "SELECT min(c.height) FROM cluster_blocks c LEFT JOIN chain_index i "
        "ON i.height = c.height AND i.hash = c.hash WHERE i.hash IS NULL"
    ).fetchall()[0][0]
    if stale is not None:
        engine.rolled_back = engine.truncate(int(stale))
    low = con.execute(
        "SELECT (SELECT min(height) FROM chain_index WHERE height NOT IN "
        "(SELECT height FROM cluster_blocks)), (SELECT max(height) FROM cluster_blocks)"
    ).fetchall()[0]
    if low[0] is not None and low[1] is not None:
        if int(low[0]) < int(low[1]):
            return f"blocks arrived below the clustered tip (height {low[0]} < {low[1]})"
        forward = sorted(FORWARD_LOOKING & set(settings.heuristics))
        if forward:
            return f"{', '.join(forward)} judge by later spends"
    return None


def cluster(
    ws: Workspace,
    *,
    heuristics: Iterable[str] = (),
    guard_factor: float = GUARD_FACTOR,
    guard_min_size: int = GUARD_MIN_SIZE,
    progress: Progress | None = None,
) -> ClusterReport:
    """Cluster the heights not clustered yet (see the module docstring); idempotent:
    a second run with the same settings and no new blocks changes nothing."""
    from spector.chain._cluster_engine import Engine

    started = time.perf_counter()
    settings = settings_for(heuristics, guard_factor, guard_min_size)
    engine = Engine(ws)
    report = ClusterReport(list(settings.heuristics), settings.guard_factor,
                           settings.guard_min_size)  # fmt: skip
    con = engine.con
    with engine.transaction():
        report.recomputed = _why_recompute(engine, settings)
        report.rolled_back = engine.rolled_back
        if report.recomputed is not None:
            engine.reset()
        heights = [
            int(r[0])
            for r in con.execute(
                "SELECT height FROM chain_index WHERE height NOT IN "
                "(SELECT height FROM cluster_blocks) ORDER BY height"
            ).fetchall()
        ]
        chunks = _chunks(con, heights)
        total = sum(c[2] for c in chunks)
        done = 0
        if progress:
            progress(0, total)
        for lo, hi, blocks in chunks:
            engine.process(lo, hi, settings)
            done += blocks
            if progress:
                progress(done, total)
        engine.state.set("settings", settings.key())
        con.execute("DELETE FROM cluster_state WHERE key = 'dirty'")
        labels = engine.finish()
        _totals(engine, labels, report)
    applied = engine.applied
    report.blocks = total
    report.txs = applied.txs
    report.new_addresses = applied.new_addresses
    report.pseudo_addresses = applied.pseudo
    report.merges = dict(sorted(applied.merges.items()))
    report.skipped = dict(sorted(applied.skipped.items()))
    report.held = applied.held
    report.seconds = time.perf_counter() - started
    return report


def _totals(engine: Engine, labels: np.ndarray, report: ClusterReport) -> None:
    con = engine.con
    report.addresses = len(labels)
    if len(labels):
        report.clusters = int(np.count_nonzero(labels == np.arange(len(labels))))
        report.largest = int(np.bincount(labels).max())
    report.merges_total = int(con.execute("SELECT count(*) FROM cluster_merges").fetchall()[0][0])
    report.skipped_total = {
        str(k): int(v)
        for k, v in con.execute(
            "SELECT kind, count(*) FROM cluster_skipped GROUP BY kind ORDER BY kind"
        ).fetchall()
    }
    report.held_total = int(con.execute("SELECT count(*) FROM cluster_held").fetchall()[0][0])
    tip = con.execute("SELECT max(height) FROM cluster_blocks").fetchall()[0][0]
    report.tip_height = None if tip is None else int(tip)


def on_rollback(store: ChainStore, heights: list[int]) -> None:
    """The ingest's hook after it removed the blocks at ``heights`` (a reorg): the
    clustering forgets every height from the lowest of them up and rebuilds the
    clusters their merges touched; the next ``cluster`` run takes in the new branch.
    Nothing happens when those heights were never clustered."""
    if not heights or not ClusterState(store.ws).clustered():
        return
    low = min(heights)
    found = store.con.execute(
        "SELECT count(*) FROM cluster_blocks WHERE height >= ?", [low]
    ).fetchall()[0][0]
    if not found:
        return
    from spector.chain._cluster_engine import Engine

    engine = Engine(store.ws)
    with engine.transaction():
        engine.truncate(low)
        settings = engine.state.settings()
        forward = sorted(FORWARD_LOOKING & set(settings.heuristics if settings else ()))
        if forward:
            engine.state.set("dirty", f"a reorg, and {', '.join(forward)} judge by later spends")
        engine.finish()
