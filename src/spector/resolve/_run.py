"""`spector resolve`: load -> candidates -> features -> scores -> actors -> store.

``resolve(ws)`` is idempotent (the same records, model and decisions give the same
rows, actor ids and evidence; only ``run_at`` moves) and applies every decision of
``resolve_decisions``: pairs an analyst decided on are scored and stored even when
blocking did not propose them. What it writes is described in ``_store``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spector.errors import UsageError
from spector.resolve._actors import cluster_actors
from spector.resolve._model import Model, link_evidence, load_model, model_features
from spector.resolve._signals import attach, signals_from_workspace
from spector.resolve._store import RunRows, facts_table, write_run

if TYPE_CHECKING:
    from spector.resolve._accounts import Accounts
    from spector.store import Workspace

__all__ = ["EVIDENCE_SHARE", "ResolveResult", "itemised", "last_settings", "resolve"]

# Pairs scoring below this share of the threshold (not linked, decided or refused) keep
# only their score sentence: itemising the evidence of a pair costs ~0.2 ms, and the
# 100,000-account workspaces have ~10^5 pairs that no one reads. Their features are
# stored all the same (resolve_links.features), and `actor show` lists only links.
EVIDENCE_SHARE = 0.5


@dataclass
class ResolveResult:
    """What a run did; ``summary()`` is the dict `spector resolve --json` prints."""

    accounts: int
    candidate_pairs: int
    all_pairs: int
    links: int
    actors: int
    multi_account_actors: int
    skipped_blocks: list[tuple[str, int]]
    threshold: float
    model: str
    decided_pairs: int
    refused: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    run_at: datetime | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "candidate_pairs": self.candidate_pairs,
            "all_pairs": self.all_pairs,
            "links": self.links,
            "actors": self.actors,
            "multi_account_actors": self.multi_account_actors,
            "skipped_blocks": [{"key": k, "size": s} for k, s in self.skipped_blocks],
            "threshold": self.threshold,
            "model": self.model,
            "decided_pairs": self.decided_pairs,
            "refused": dict(sorted(self.refused.items())),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "cpu_seconds": {k: round(v, 3) for k, v in self.cpu_seconds.items()},
        }

    def line(self) -> str:
        """The one-line summary the CLI ends with."""
        skipped = (
            f"; {len(self.skipped_blocks):,} blocks too big skipped" if self.skipped_blocks else ""
        )
        refused = sum(self.refused.values())
        return (
            f"resolved {self.accounts:,} accounts: {self.candidate_pairs:,} candidate pairs of "
            f"{self.all_pairs:,}; {self.links:,} links into {self.actors:,} actors "
            f"({self.multi_account_actors:,} with several accounts) at threshold "
            f"{self.threshold:.2f}; {refused:,} links refused{skipped}"
        )


def last_settings(ws: Workspace) -> tuple[float, str] | None:
    """(threshold, model path) of the last run, None before the first."""
    row = ws.store.con.execute(
        "SELECT threshold, model FROM resolve_runs ORDER BY run_at DESC LIMIT 1"
    ).fetchone()
    return (float(row[0]), str(row[1])) if row else None


def _with_decided(pairs: np.ndarray, decided: dict[tuple[int, int], str]) -> np.ndarray:
    """``pairs`` plus the decided pairs blocking did not propose, sorted, unique."""
    extra = np.array(sorted(decided), dtype=np.int64).reshape(-1, 2)
    both = np.vstack([pairs.astype(np.int64).reshape(-1, 2), extra])
    if not len(both):
        return both
    return np.unique(both, axis=0)


def _threshold(value: float | None, model: Model) -> float:
    cut = model.threshold if value is None else float(value)
    if not 0.0 < cut < 1.0:
        raise UsageError(f"threshold {cut} is outside (0, 1)", expected="--threshold 0.5")
    return cut


def _note(decided: str | None) -> list[str]:
    if decided == "confirm":
        return ["confirmed by the analyst (always together)"]
    if decided == "reject":
        return ["rejected by the analyst (never together)"]
    return []


def resolve(
    ws: Workspace, *, threshold: float | None = None, model: Path | str | None = None
) -> ResolveResult:
    """Resolve the workspace's accounts into actors and store them (see the module
    docstring). ``threshold`` defaults to the model's, ``model`` to the shipped one."""
    from spector.resolve._accounts import load_accounts
    from spector.resolve._blocking import candidates
    from spector.resolve._decisions import actor_decisions

    clock: dict[str, float] = {}
    cpu: dict[str, float] = {}
    start, start_cpu = time.perf_counter(), time.process_time()

    def tick(stage: str) -> None:
        clock[stage] = time.perf_counter() - start - sum(clock.values())
        cpu[stage] = time.process_time() - start_cpu - sum(cpu.values())

    trained = load_model(Path(model) if model is not None else None)
    cut = _threshold(threshold, trained)
    accounts = load_accounts(ws)
    attach(accounts, signals_from_workspace(ws, accounts))
    tick("load")
    cands = candidates(accounts)
    tick("candidates")
    decisions, decided = actor_decisions(ws, list(accounts.account_id))
    pairs = _with_decided(cands.pairs, decided)
    feats = model_features(accounts, pairs)
    tick("features")
    scores = trained.score(feats)
    contrib = trained.contributions(feats)
    clustering = cluster_actors(
        len(accounts), pairs, scores, cut, pgp=accounts.pgp, ships_from=accounts.ships_from,
        decisions=decisions, market_id=accounts.market_id,
    )  # fmt: skip
    tick("actors")
    rows = _rows(ws, accounts, pairs, feats, scores, contrib, clustering, decided, trained, cut)
    tick("evidence")
    groups = clustering.groups()
    refused: dict[str, int] = {}
    for reason in clustering.refused.values():
        key = "impostor_rule" if "impostor rule" in reason else (
            "split" if "split" in reason else "rejected")  # fmt: skip
        refused[key] = refused.get(key, 0) + 1
    result = ResolveResult(
        accounts=len(accounts), candidate_pairs=len(cands.pairs), all_pairs=int(cands.all_pairs),
        links=int(rows.linked.sum()), actors=len(groups),
        multi_account_actors=sum(1 for g in groups.values() if len(g) > 1),
        skipped_blocks=[(str(k), int(s)) for k, s in cands.skipped_blocks], threshold=cut,
        model=str(trained.path), decided_pairs=len(decided), refused=refused, run_at=rows.run_at,
    )  # fmt: skip
    rows.summary = result.summary()
    write_run(ws, rows)
    tick("store")
    result.seconds = clock
    result.cpu_seconds = cpu
    return result


def _rows(
    ws: Workspace, accounts: Accounts, pairs: np.ndarray, feats: dict[str, np.ndarray],
    scores: np.ndarray, contrib: np.ndarray, clustering: Any,
    decided: dict[tuple[int, int], str], trained: Model, cut: float,
) -> RunRows:  # fmt: skip
    """The run's rows. Evidence is itemised for the pairs an analyst reads (see
    ``itemised``); the others' sentence is their score alone."""
    del ws
    names = list(feats)
    rounded = {n: np.round(np.asarray(feats[n], dtype=np.float64), 6) for n in names}
    # The model's threshold is the one in its evidence sentence: a run at another
    # threshold says so through the same sentence with its own cut.
    shown = dataclasses.replace(trained, threshold=cut)
    n = len(pairs)
    linked = np.zeros(n, dtype=bool)
    linked[list(clustering.joined)] = True
    index = {(int(i), int(j)): k for k, (i, j) in enumerate(pairs.tolist())} if decided else {}
    decided_col: list[str | None] = [None] * n
    for pair, kind in decided.items():
        if pair in index:
            decided_col[index[pair]] = kind
    wanted = itemised(scores, linked, cut)
    wanted[[index[p] for p in decided if p in index]] = True
    wanted[list(clustering.refused)] = True
    floor = EVIDENCE_SHARE * cut
    evidence: list[list[str]] = [
        [f"model score {s:.2f} (below the threshold {cut:.2f}; evidence not itemised below "
         f"{floor:.2f}, see the features)"]
        for s in scores.tolist()
    ]  # fmt: skip
    todo = np.flatnonzero(wanted)
    if len(todo):
        matrix = np.column_stack([rounded[name][todo] for name in names]).tolist()
        for k, values, (i, j) in zip(todo.tolist(), matrix, pairs[todo].tolist(), strict=True):
            row = dict(zip(names, values, strict=True))
            said = _note(decided_col[k]) + link_evidence(
                shown, accounts, i, j, row, contrib[k], scores[k]
            )
            if k in clustering.refused:
                said.append(clustering.refused[k])
            evidence[k] = said
    return RunRows(
        account_id=list(accounts.account_id), kind=list(accounts.kind),
        market_id=list(accounts.market_id), handle=list(accounts.handle),
        labels=clustering.labels, pairs=pairs, scores=scores, linked=linked,
        evidence=evidence, features=rounded, decided=decided_col,
        run_at=datetime.now(UTC).replace(tzinfo=None), model=str(trained.path),
        threshold=cut, summary={},
        facts=facts_table(accounts),
    )  # fmt: skip


def itemised(scores: np.ndarray, linked: np.ndarray, cut: float) -> np.ndarray:
    """Which pairs get their evidence in sentences: the linked ones and those scoring at
    least ``EVIDENCE_SHARE`` of the threshold (near it: what an analyst checks before a
    confirm); decided and refused pairs too (added by the caller)."""
    out: np.ndarray = linked | (scores >= EVIDENCE_SHARE * cut)
    return out
