"""The decision model: a logistic regression over the evidence features of a pair.

The model is data: a frozen JSON file (``resolve/data/model.json`` ships with Spector,
``spector resolve train`` writes others) holding the feature names, the standard
scaler, the coefficients, the intercept, the decision threshold, the ranges (seeds and
scales) it was trained on and its training figures. Scoring needs only numpy; training
uses scikit-learn.

A pair's score is the model's probability that both accounts are one actor. Its
evidence is the features' sentences (``_features.evidence``) ordered by what each
feature added to the score (coefficient x standardised value, largest first), then the
score itself.

Bad input: a model file that is not JSON, lacks a field, has an unknown one (named with
the closest known), or was trained on features this code does not compute raises
ConfigError naming the file and field.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spector.errors import ConfigError
from spector.resolve._signals import SIGNALS, signal_features, signal_sentences

if TYPE_CHECKING:
    from spector.resolve._accounts import Accounts

__all__ = [
    "DERIVED",
    "FORMAT",
    "Model",
    "default_model_path",
    "link_evidence",
    "load_model",
    "model_features",
    "pairwise_prf",
    "save_model",
]

FORMAT = "spector-resolve-model"
# Features the model adds to those of ``_features``: ``keys_ships_conflict`` is 1 when
# the accounts share no PGP key (one at least showing one) and both ship from a known
# country, different ones, ships-from of single-country markets not counting: the
# impostor rule of ``_actors``, a signature a linear model cannot build from the parts.
# The rest are the impostor signals of ``_signals`` (price undercut on shared titles,
# 1-star feedback, a late copy of the profile, a dropped contact), 0 on accounts that
# carry no signals.
DERIVED = ("keys_ships_conflict", *SIGNALS)


class _Scaler(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mean: list[float]
    scale: list[float]


class _ModelFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: str
    version: int = Field(ge=1, le=1)
    kind: str
    features: list[str]
    coefficients: list[float]
    intercept: float
    scaler: _Scaler
    threshold: float = Field(gt=0.0, lt=1.0)
    trained_on: list[dict[str, Any]]
    figures: dict[str, Any]
    settings: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Model:
    """A trained logistic regression: ``score(features)`` gives P(same actor)."""

    features: tuple[str, ...]
    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    threshold: float
    trained_on: tuple[dict[str, Any], ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def matrix(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """The standardised (n, k) matrix of the model's features, from a name -> column
        mapping (extra columns are ignored, a missing one is an error)."""
        missing = [name for name in self.features if name not in features]
        if missing:
            raise ConfigError(
                f"the model needs features {missing} that were not computed",
                where=self.path or "model",
                hint="retrain it with `spector resolve train`",
            )
        if not self.features:
            return np.zeros((0, 0))
        raw = np.column_stack([np.asarray(features[n], dtype=np.float64) for n in self.features])
        raw = np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0)
        out: np.ndarray = (raw - self.mean) / self.scale
        return out

    def contributions(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """(n, k): what each feature adds to each pair's log-odds."""
        out: np.ndarray = self.matrix(features) * self.coef
        return out

    def score(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """P(same actor) for each pair, float64 (n,)."""
        logit = self.contributions(features).sum(axis=1) + self.intercept
        out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0)))
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": 1,
            "kind": "logistic_regression",
            "features": list(self.features),
            "coefficients": [round(float(c), 10) for c in self.coef],
            "intercept": round(float(self.intercept), 10),
            "scaler": {
                "mean": [round(float(m), 10) for m in self.mean],
                "scale": [round(float(s), 10) for s in self.scale],
            },
            "threshold": float(self.threshold),
            "trained_on": list(self.trained_on),
            "figures": self.figures,
            "settings": self.settings,
        }


def default_model_path() -> Path:
    """The model shipped with Spector."""
    return Path(str(resources.files("spector.resolve").joinpath("data", "model.json")))


def _known_features() -> tuple[str, ...]:
    from spector.resolve._features import FEATURES

    return (*FEATURES, *DERIVED)


def model_features(accounts: Accounts, pairs: np.ndarray) -> dict[str, np.ndarray]:
    """``_features.pair_features`` of ``pairs`` and the ``DERIVED`` features (the
    signals need ``_signals.attach`` on ``accounts`` first; without, they are 0)."""
    from spector.resolve._actors import informative_ships
    from spector.resolve._features import pair_features

    feats = pair_features(accounts, pairs)
    ships = accounts.cache.get("informative_ships")
    if ships is None:
        ships = informative_ships(accounts.market_id, accounts.ships_from)
        accounts.cache["informative_ships"] = ships
    flag = np.zeros(len(pairs), dtype=np.float64)
    for k, (i, j) in enumerate(pairs.tolist()):
        ki, kj = accounts.pgp[i], accounts.pgp[j]
        si, sj = ships[i], ships[j]
        if (ki or kj) and not set(ki) & set(kj) and si and sj and si != sj:
            flag[k] = 1.0
    feats["keys_ships_conflict"] = flag
    feats.update(signal_features(accounts, pairs, feats.get("text_char")))
    return feats


def load_model(path: Path | None = None, *, check_features: bool = True) -> Model:
    """The model in ``path`` (default: the shipped one), validated; see the module
    docstring for the errors."""
    where = path or default_model_path()
    try:
        raw = json.loads(Path(where).read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("model file not found", where=where) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not a JSON model file: {exc}", where=where) from exc
    if not isinstance(raw, dict):
        raise ConfigError("not a JSON object", where=where, expected="a model file")
    known = list(_ModelFile.model_fields)
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            raise ConfigError(
                f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                where=where,
            )
    try:
        spec = _ModelFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"field {loc}: {first['msg']}", where=where) from exc
    if spec.format != FORMAT or spec.kind != "logistic_regression":
        raise ConfigError(
            f"format {spec.format!r} kind {spec.kind!r}",
            where=where,
            expected=f"format {FORMAT!r}, kind 'logistic_regression'",
        )
    k = len(spec.features)
    lengths = (len(spec.coefficients), len(spec.scaler.mean), len(spec.scaler.scale))
    if any(n != k for n in lengths):
        raise ConfigError(
            f"{k} features but coefficients/mean/scale of lengths {lengths}", where=where
        )
    if any(s <= 0 for s in spec.scaler.scale):
        raise ConfigError("field scaler.scale: every scale must be > 0", where=where)
    if check_features:
        computed = set(_known_features())
        unknown = [name for name in spec.features if name not in computed]
        if unknown:
            raise ConfigError(
                f"the model uses features {unknown} this Spector does not compute",
                where=where,
                hint="retrain it with `spector resolve train`",
            )
    return Model(
        features=tuple(spec.features),
        coef=np.asarray(spec.coefficients, dtype=np.float64),
        intercept=float(spec.intercept),
        mean=np.asarray(spec.scaler.mean, dtype=np.float64),
        scale=np.asarray(spec.scaler.scale, dtype=np.float64),
        threshold=float(spec.threshold),
        trained_on=tuple(spec.trained_on),
        figures=dict(spec.figures),
        settings=dict(spec.settings),
        path=str(where),
    )


def save_model(model: Model, path: Path) -> None:
    """Write ``model`` as JSON (sorted keys, one trailing newline): the frozen form."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model.as_json(), indent=2, sort_keys=True) + "\n", "utf-8")


_TEMPLATE = re.compile(r"'[^']*'|: [^)]*|0x[0-9A-Fa-f…]+|\b[A-Z]{2}\b|-?\d+(?:[.,]\d+)*%?")


@functools.lru_cache(maxsize=1 << 16)
def _template(sentence: str) -> str:
    """A sentence with what varies from pair to pair (quoted handles, lists after a
    colon, keys, countries, numbers) taken out: the same template comes from the same
    branch of ``evidence`` (market names stay: there are few)."""
    return _TEMPLATE.sub("#", sentence)


def _feature_sentences(
    accounts: Accounts, i: int, j: int, row: Mapping[str, float], names: Sequence[str]
) -> list[tuple[frozenset[str], str]]:
    """(features, sentence) for every evidence sentence of pair (i, j). A sentence is
    owned by the features (of ``names``) whose removal (set to 0, the rest kept) makes
    it disappear; a sentence that stays whatever they say (both ship from NL) is owned
    by none. Owners are found once per sentence template and kept in the accounts'
    cache: a pair whose sentences are all known costs one ``evidence`` call."""
    from spector.resolve._features import evidence

    full = evidence(accounts, i, j, dict(row))
    known: dict[str, frozenset[str]] = accounts.cache.setdefault("evidence_owners", {})
    templates = [_template(s) for s in full]
    if any(t not in known for t in templates):
        owners: dict[str, set[str]] = {s: set() for s in full}
        for name in names:
            if not row.get(name) or name in DERIVED:
                continue
            kept = set(evidence(accounts, i, j, {**row, name: 0.0}))
            for sentence in full:
                if sentence not in kept:
                    owners[sentence].add(name)
        for sentence, t in zip(full, templates, strict=True):
            known.setdefault(t, frozenset(owners[sentence]))
    items = [(known[t], s) for t, s in zip(templates, full, strict=True)]
    if row.get("keys_ships_conflict"):
        sentence = (
            f"other keys and other countries ({accounts.ships_from[i]} / "
            f"{accounts.ships_from[j]}): how an impostor copying a vendor looks"
        )
        items.append((frozenset({"keys_ships_conflict"}), sentence))
    items.extend(signal_sentences(accounts, i, j, row))
    return items


def link_evidence(
    model: Model,
    accounts: Accounts,
    i: int,
    j: int,
    row: Mapping[str, float],
    contributions: Sequence[float],
    score: float,
) -> list[str]:
    """The evidence of pair (i, j): its sentences by what their features added to the
    log-odds (sum over the features that own the sentence; 0 for one no feature owns),
    largest first, so evidence against the link comes last; ties keep the order of
    ``_features.evidence``. Last, the score against the threshold."""
    weight = {name: float(c) for name, c in zip(model.features, contributions, strict=True)}
    items = _feature_sentences(accounts, i, j, row, model.features)
    ranked = sorted(
        enumerate(items), key=lambda e: (-sum(weight.get(f, 0.0) for f in e[1][0]), e[0])
    )
    sentences = [s for _, (_, s) in ranked]
    side = "at or above" if score >= model.threshold else "below"
    sentences.append(f"model score {score:.2f} ({side} the threshold {model.threshold:.2f})")
    return sentences


def pairwise_prf(predicted: Sequence[object], truth: Sequence[object]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a grouping against the truth, over every pair
    of items (a pair is positive when both items share a label; ``None`` in ``truth``
    is a label of its own). Counts come from the contingency table, not the pairs."""
    from collections import Counter

    truth_labels = [t if t is not None else ("__own__", k) for k, t in enumerate(truth)]

    def pairs(counts: Counter[Any]) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = pairs(Counter(zip(predicted, truth_labels, strict=True)))
    said = pairs(Counter(predicted))
    true = pairs(Counter(truth_labels))
    precision = both / said if said else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": true,
        "predicted_pairs": said,
        "correct_pairs": both,
    }
