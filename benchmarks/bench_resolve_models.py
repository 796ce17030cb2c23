"""[H] The decision model: Spector's trained classifier against splink's Fellegi-Sunter.

Both score the same blocking candidates (``spector.resolve._blocking.candidates``) of a
held-out range (seed 11, ``small``: no seed the shipped model was trained on), and both
go through the same clustering (``_actors.cluster_actors``, impostor rule on), so the
figures compare the decision models alone:

- ours: the frozen logistic regression (``resolve/data/model.json``, trained with the
  ranges' truth as labels) over the evidence features, at its threshold;
- splink 5 on DuckDB, unsupervised as the field uses it: u by random sampling, m by EM
  (two sessions, blocked on the normalised handle and on the first PGP key), lambda from
  the deterministic rule "same PGP key" at an assumed recall of 0.6, over comparisons on
  the same evidence (PGP key sets intersecting, normalised-handle Jaro-Winkler levels,
  cosine of hashed character 3-gram vectors of the profile text and of the listing
  titles, ships-from equal, product-mix category sets intersecting, shared selectors),
  predictions restricted to the candidate pairs (a blocking rule on each record's
  candidate partners), linked at match probability 0.5.

Printed side by side: link-level and actor-level pairwise precision / recall / F1,
impostors merged, and the seconds each needs (features for ours; training + prediction
for splink). The truth comes from ``accounts_from_world``.
"""

from __future__ import annotations

import logging
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

SEED, SCALE = 11, "small"
DIM = 256


def _vector(text: str) -> list[float]:
    """Hashed character 3-gram counts, L2-normalised (zero vector for no text)."""
    vec = np.zeros(DIM, dtype=np.float32)
    low = " ".join(text.lower().split())
    for k in range(len(low) - 2):
        vec[zlib.crc32(low[k : k + 3].encode()) % DIM] += 1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0:
        vec[0] = 1e-6  # cosine of a zero vector is undefined; this one is near no text
        return [float(x) for x in vec]
    return [float(x) for x in vec / norm]


def _records(acc: Any, pairs: np.ndarray) -> Any:
    import pandas as pd

    partners: list[list[int]] = [[] for _ in range(len(acc))]
    for i, j in pairs.tolist():
        partners[i].append(j)
    return pd.DataFrame({
        "unique_id": np.arange(len(acc)),
        "handle_norm": [h or None for h in acc.handle_norm],
        "pgp": [list(p) or None for p in acc.pgp],
        "pgp1": [p[0] if p else None for p in acc.pgp],
        "selectors": [list(s) or None for s in acc.selectors],
        "ships_from": list(acc.ships_from),
        "categories": [sorted(c) or None for c in acc.categories],
        "profile_vec": [_vector(t) for t in acc.profile_text],
        "titles_vec": [_vector(t) for t in acc.titles],
        "partners": partners,
    })  # fmt: skip


def _splink_scores(acc: Any, pairs: np.ndarray) -> tuple[np.ndarray, float]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    start = time.perf_counter()
    frame = _records(acc, pairs)
    db = DuckDBAPI()
    db.duckdb_con.execute("SET threads TO 2")
    frame["profile_vec"] = frame["profile_vec"].apply(lambda v: np.asarray(v, np.float32))
    frame["titles_vec"] = frame["titles_vec"].apply(lambda v: np.asarray(v, np.float32))
    db.duckdb_con.register("_frame", frame)
    db.duckdb_con.execute(
        f"CREATE TABLE accounts AS SELECT * REPLACE (profile_vec::FLOAT[{DIM}] AS profile_vec, "
        f"titles_vec::FLOAT[{DIM}] AS titles_vec) FROM _frame"
    )
    table = db.register("accounts")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ArrayIntersectAtSizes("pgp", [1]),
            cl.JaroWinklerAtThresholds("handle_norm", [0.95, 0.88, 0.7]),
            cl.CosineSimilarityAtThresholds("profile_vec", [0.9, 0.7, 0.5]),
            cl.CosineSimilarityAtThresholds("titles_vec", [0.8, 0.6, 0.4]),
            cl.ExactMatch("ships_from"),
            cl.ArrayIntersectAtSizes("categories", [2, 1]),
            cl.ArrayIntersectAtSizes("selectors", [1]),
        ],
        blocking_rules_to_generate_predictions=["list_contains(l.partners, r.unique_id)"],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(table, settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("pgp1")], recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("handle_norm"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("pgp1"))
    predicted = linker.inference.predict().as_pandas_dataframe()
    probability = {
        (int(a), int(b)): float(p)
        for a, b, p in zip(predicted["unique_id_l"], predicted["unique_id_r"],
                           predicted["match_probability"], strict=True)
    }  # fmt: skip
    scores = np.array(
        [probability.get((i, j), probability.get((j, i), 0.0)) for i, j in pairs.tolist()]
    )
    return scores, time.perf_counter() - start


def _figures(data: Any, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    from spector.resolve._model import pairwise_prf
    from spector.resolve._train import _actor_labels, _impostors_merged, _link_prf

    labels = _actor_labels(data, scores, threshold)
    return {
        "links": _link_prf(scores, data.labels, threshold),
        "actors": pairwise_prf(labels, data.truth),
        "impostors_merged": _impostors_merged(labels, data.truth),
    }


def _best_threshold(data: Any, scores: np.ndarray) -> tuple[float, float]:
    best = (0.0, 0.5)
    for cut in np.arange(0.05, 0.96, 0.05):
        f1 = float(_figures(data, scores, float(cut))["actors"]["f1"])
        best = max(best, (f1, round(float(cut), 2)))
    return best


def run() -> list[str]:
    from spector.resolve._model import load_model
    from spector.resolve._train import range_set
    from spector.sim._generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "range"
        generate(SEED, SCALE, out)
        start = time.perf_counter()
        data = range_set(out)  # load + candidates + features (the truth for labels)
        features_s = time.perf_counter() - start
        model = load_model()
        start = time.perf_counter()
        ours = model.score(data.features)
        ours_s = features_s + time.perf_counter() - start
        fs, fs_s = _splink_scores(data.accounts, data.pairs)
    ours_fig = _figures(data, ours, model.threshold)
    fs_fig = _figures(data, fs, 0.5)
    fs_best = _best_threshold(data, fs)
    lines = [
        f"held-out range seed {SEED} {SCALE}: {len(data.accounts):,} accounts, "
        f"{len(data.pairs):,} candidate pairs, {int(data.labels.sum()):,} true",
        f"{'':28}{'classifier':>22}{'splink FS':>22}",
    ]
    for level in ("links", "actors"):
        for key in ("precision", "recall", "f1"):
            lines.append(f"{level + ' ' + key:28}{ours_fig[level][key]:>22.4f}"
                         f"{fs_fig[level][key]:>22.4f}")  # fmt: skip
    lines.append(f"{'impostors merged':28}{ours_fig['impostors_merged']:>22}"
                 f"{fs_fig['impostors_merged']:>22}")  # fmt: skip
    lines.append(f"{'seconds (features+score / fit+predict)':40}{ours_s:>10.2f}{fs_s:>22.2f}")
    lines.append(f"splink at its best threshold in hindsight ({fs_best[1]}): actors F1 "
                 f"{fs_best[0]:.4f}; classifier/splink actors F1 ratio "
                 f"{ours_fig['actors']['f1'] / max(fs_fig['actors']['f1'], 1e-9):.2f}")  # fmt: skip
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
