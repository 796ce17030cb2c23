"""Training the decision model on ranges (and analysts' decisions) as labels.

``range_set(dir)`` reads a training range's world (``accounts_from_world``), takes the
blocking candidates (the pairs the resolver will ever score) with their features, and
labels each pair by the range's truth (same ``truth_actor``; an impostor is its own
actor). ``decision_set(ws)`` labels the pairs an analyst confirmed (1) or rejected or
split apart (0) in a workspace. ``train(sets)`` fits a standardised L2 logistic
regression (scikit-learn, lbfgs) on all of them and picks the threshold that maximises
the pairwise F1 of the *actors* built at that threshold on the ranges (the figure the
issue asks for; the middle of the plateau of best thresholds), and records the figures:
per set, link-level and actor-level precision, recall and F1, and the true pairs blocking
never proposed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spector.errors import InputError, UsageError
from spector.resolve._actors import cluster_actors
from spector.resolve._model import Model, model_features, pairwise_prf
from spector.resolve._signals import attach, signals_from_workspace, signals_from_world

if TYPE_CHECKING:
    from spector.resolve._accounts import Accounts
    from spector.store import Workspace

__all__ = ["C", "LabelledSet", "decision_set", "evaluate", "range_set", "train"]

_GRID = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.05))
PLATEAU = 0.001  # F1 this close to the best counts as the best
# The L2 strength: the ranges label complete worlds, a workspace is a partial crawl of
# one (feedback not reached, a key not shown); a strong penalty keeps any one feature
# from carrying a link. Leave-one-range-out on the training ranges cannot tell C 0.03 from
# 3 (every value gives the same figures); on crawled workspaces of seed-7 small and
# tiny, 1.0 merged an impostor and linked two strangers that 0.1 did not.
C = 0.1


@dataclass
class LabelledSet:
    """Pairs of one source with their features and labels; ``truth`` (the actor of each
    account) when the source is a range, for the actor-level figures."""

    name: str
    accounts: Accounts
    pairs: np.ndarray
    features: dict[str, np.ndarray]
    labels: np.ndarray
    truth: Sequence[object] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def range_set(range_dir: Path) -> LabelledSet:
    """The labelled candidates of the range in ``range_dir``; InputError when it is not
    a range (no truth.json)."""
    from spector.resolve._accounts import accounts_from_world
    from spector.resolve._blocking import candidates

    truth_file = range_dir / "truth.json"
    if not truth_file.is_file():
        raise InputError("not a training range (no truth.json)", where=range_dir,
                         hint="make one with `spector sim generate`")  # fmt: skip
    truth = json.loads(truth_file.read_text("utf-8"))
    accounts = accounts_from_world(range_dir)
    attach(accounts, signals_from_world(range_dir, accounts))
    cands = candidates(accounts)
    feats = model_features(accounts, cands.pairs)
    actor = list(accounts.truth_actor)
    labels = np.array(
        [actor[i] is not None and actor[i] == actor[j] for i, j in cands.pairs.tolist()],
        dtype=bool,
    )
    meta = {
        "range": range_dir.name,
        "seed": truth.get("seed"),
        "scale": truth.get("scale"),
        "accounts": len(actor),
        "pairs": len(labels),
        "positives": int(labels.sum()),
        "true_pairs": pairwise_prf(list(range(len(actor))), actor)["true_pairs"],
    }
    return LabelledSet(range_dir.name, accounts, cands.pairs, feats, labels, actor, meta)


def decision_set(ws: Workspace) -> LabelledSet:
    """The pairs the analysts of ``ws`` decided on, labelled by the latest decision on
    each (confirm 1; reject, or both accounts in a split actor, 0)."""
    from spector.resolve._accounts import load_accounts
    from spector.resolve._decisions import pair_labels

    accounts = load_accounts(ws)
    attach(accounts, signals_from_workspace(ws, accounts))
    labelled = pair_labels(ws, list(accounts.account_id))
    if not labelled:
        raise UsageError(
            "the workspace holds no resolve decisions to learn from",
            where=ws.root,
            hint="record some with `spector resolve confirm/reject`",
        )
    pairs = np.array(sorted(labelled), dtype=np.int32).reshape(-1, 2)
    labels = np.array([labelled[(int(i), int(j))] for i, j in pairs.tolist()], dtype=bool)
    feats = model_features(accounts, pairs)
    meta = {"workspace": str(ws.root), "pairs": len(labels), "positives": int(labels.sum())}
    return LabelledSet(f"decisions:{ws.root.name}", accounts, pairs, feats, labels, None, meta)


def _link_prf(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    said = scores >= threshold
    tp = int((said & labels).sum())
    p = tp / int(said.sum()) if said.any() else 1.0
    r = tp / int(labels.sum()) if labels.any() else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4)}


def _actor_labels(data: LabelledSet, scores: np.ndarray, threshold: float) -> list[int]:
    acc = data.accounts
    clustering = cluster_actors(
        len(acc.account_id), data.pairs, scores, threshold, pgp=acc.pgp,
        ships_from=acc.ships_from, market_id=acc.market_id,
    )  # fmt: skip
    return [int(x) for x in clustering.labels.tolist()]


def evaluate(model: Model, data: LabelledSet, threshold: float | None = None) -> dict[str, Any]:
    """Figures of ``model`` on ``data``: link-level P/R/F1 over its candidate pairs and,
    for a range, actor-level pairwise P/R/F1 over every pair of accounts, with the
    impostor accounts merged into another actor."""
    cut = model.threshold if threshold is None else threshold
    scores = model.score(data.features)
    out: dict[str, Any] = {"links": _link_prf(scores, data.labels, cut)}
    if data.truth is not None:
        labels = _actor_labels(data, scores, cut)
        out["actors"] = pairwise_prf(labels, data.truth)
        out["impostors_merged"] = _impostors_merged(labels, data.truth)
    return out


def _impostors_merged(labels: Sequence[int], truth: Sequence[object]) -> int:
    """Impostor accounts (truth actor ``impostor-*``) put in an actor with an account of
    another actor."""
    by_label: dict[int, set[object]] = {}
    for label, actor in zip(labels, truth, strict=True):
        by_label.setdefault(label, set()).add(actor)
    return sum(
        1
        for label, actor in zip(labels, truth, strict=True)
        if isinstance(actor, str) and actor.startswith("impostor-") and len(by_label[label]) > 1
    )


def _choose_threshold(model: Model, ranges: Sequence[LabelledSet]) -> float:
    """The middle of the grid thresholds whose pooled actor-level F1 is within
    ``PLATEAU`` of the best (the widest margin on both sides: a workspace's scores
    drift from a range's, a partial crawl showing less of each account)."""
    if not ranges:
        return 0.5
    scored = [(data, model.score(data.features)) for data in ranges]
    f1s: list[float] = []
    for cut in _GRID:
        both = said = true = 0
        for data, scores in scored:
            prf = pairwise_prf(_actor_labels(data, scores, cut), data.truth or [])
            both += int(prf["correct_pairs"])
            said += int(prf["predicted_pairs"])
            true += int(prf["true_pairs"])
        p = both / said if said else 1.0
        r = both / true if true else 1.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    best = max(f1s)
    good = [cut for cut, f1 in zip(_GRID, f1s, strict=True) if f1 >= best - PLATEAU]
    return float(good[(len(good) - 1) // 2])


def train(sets: Sequence[LabelledSet], *, c: float = C) -> Model:
    """Fit the model on ``sets`` (see the module docstring). UsageError when the labels
    hold only one class."""
    from sklearn import __version__ as sklearn_version
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if not sets:
        raise UsageError("nothing to train on", expected="one or more ranges")
    names = tuple(sets[0].features)
    x = np.vstack([np.column_stack([s.features[n] for n in names]) for s in sets if len(s.labels)])
    x = np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    y = np.concatenate([s.labels for s in sets])
    if y.all() or not y.any():
        raise UsageError(f"the {len(y):,} labelled pairs hold one class only",
                         expected="both linked and unlinked pairs")  # fmt: skip
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    fit = LogisticRegression(C=c, max_iter=2000, solver="lbfgs").fit((x - scaler.mean_) / scale, y)
    draft = Model(
        features=names, coef=fit.coef_[0].astype(np.float64), intercept=float(fit.intercept_[0]),
        mean=scaler.mean_.astype(np.float64), scale=scale.astype(np.float64), threshold=0.5,
    )  # fmt: skip
    ranges = [s for s in sets if s.truth is not None]
    threshold = _choose_threshold(draft, ranges)
    model = Model(
        features=draft.features, coef=draft.coef, intercept=draft.intercept, mean=draft.mean,
        scale=draft.scale, threshold=threshold, trained_on=tuple(s.meta for s in sets),
        settings={"C": c, "solver": "lbfgs", "penalty": "l2", "sklearn": sklearn_version,
                  "threshold_grid": [_GRID[0], _GRID[-1], 0.05],
                  "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    )  # fmt: skip
    figures = {s.name: evaluate(model, s) for s in sets}
    return dataclasses.replace(model, figures={"train": figures})
