"""The protocol of Wang et al. 2018 on real listings: split each vendor in two, re-link.

Wang, Lin, Chen, Yang and Wang ("To Catch a Vendor", 2018) measured vendor linking on
real market data without ground truth of real multi-market vendors by splitting each
vendor's listings into two halves posing as two accounts, training on some vendors and
testing on other, disjoint vendors; their photo-based method re-linked 97.5 %. This is
that protocol, **text only** (the dump holds no photos, keys or contacts), on a listings
dump in the Agora 2014 layout (``extract/mappings/agora-2014.toml``):

- **Who is split.** Vendors with at least ``min_listings`` distinct listings (a listing is
  one page id, the part of ``list`` after ``__``, saved on one or more days). Each one's
  listings, ordered by the day first saved (then page id), go alternately to market "A"
  and market "B": the two halves cover the same period and the same mix, as two accounts
  of one vendor run at once would. Vendors with fewer listings stay whole on "A":
  distractors, accounts a link must not reach.
- **Hidden handles.** The handle would give the pair away, so every account gets a
  neutral id (12 hex of a hash of its half and a counter), the vendor's name is masked
  where it appears in its own titles, and the feedback column is dropped (buyers'
  feedback names vendors). Both halves are imported as the CSV import does
  (``import_csv``) and read back as resolution reads accounts (``load_accounts``).
- **Blocking** (``title_candidates``): MinHash LSH (``datasketch``) over each account's
  listing-title shingles (character ``shingle``-grams of the lower-cased, space-folded
  titles), ``num_perm`` permutations, at Jaccard ``lsh_threshold``; every pair of
  accounts (across and within the two markets) sharing a band is a candidate.
- **Classifier.** The text-only features of ``pair_features`` (``TEXT_FEATURES``: listing
  and profile text similarity, function words, punctuation and emoji habits, product mix,
  ships-from, price levels, activity periods; no handle, key, selector or market
  feature) plus the pair's MinHash Jaccard estimate, fed to scikit-learn's logistic
  regression (standardised, class-balanced). Vendors (split ones and distractors alike)
  are dealt into two folds by a hash of their name; the model is trained on the
  candidate pairs inside one fold, its threshold chosen there (the best F1 on the
  training pairs), and tested on the candidate pairs inside the other; then the folds
  swap. Pairs across the folds are in neither.

Figures, per fold (``folds``) and their mean: ``candidate_recall``, the share of the test
fold's split vendors whose halves blocking made a candidate pair; ``accuracy`` (re-link
accuracy), the share whose two halves are each other's best-scoring candidate and score
at or above the threshold; pairwise ``precision``, ``recall`` and ``f1`` of the links at
the threshold over the test fold's accounts (truth: same vendor; a true pair blocking
missed counts against recall). Beside them ``top1_text``: without blocking or a model,
the share of split vendors whose A half has its own B half as the most similar of every
B account by listing titles alone (``text_listing``).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spector.errors import InputError

__all__ = ["TEXT_FEATURES", "SplitResult", "agora_split", "split_rows", "title_candidates"]

COLUMNS = (
    "list",
    "date",
    "vendor",
    "product",
    "price",
    "cat",
    "subcat",
    "subsubcat",
    "feedback",
    "from",
    "to",
)
_PAGE = re.compile(r"__(.+)\.html$")


TEXT_FEATURES = (
    "text_char",
    "text_listing",
    "text_known",
    "function_words",
    "punct_emoji",
    "category_cos",
    "ships_same",
    "price_ratio",
    "activity_gap",
    "activity_overlap",
    "dates_known",
)
_SPACE = re.compile(r"\s+")


@dataclass
class SplitResult:
    """What re-linking the halves gave (see the module doc for each figure): the means of
    the two folds, and ``folds`` with each one's figures."""

    vendors: int  # split in two
    distractors: int  # kept whole
    accounts: int
    candidate_pairs: int
    all_pairs: int
    candidate_recall: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    top1_text: float
    masked_titles: int
    features: tuple[str, ...]
    folds: list[dict[str, Any]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # split vendors not re-linked (names)
    scope: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "missed"} | {
            "missed": self.missed[:20]
        }


def _neutral(half: str, n: int) -> str:
    """12 hex of a hash of the half and a counter: no common prefix either, which would
    make every two handles look alike."""
    return hashlib.sha256(f"split|{half}|{n}".encode()).hexdigest()[:12]


def split_rows(
    rows: list[dict[str, str]], *, min_listings: int = 4, mask_handles: bool = True
) -> tuple[dict[str, list[dict[str, str]]], dict[str, str], int]:
    """The dump's rows as two markets' rows (``{"A": [...], "B": [...]}``) with neutral
    handles, and ``{neutral id: vendor}`` (the truth); plus how many titles were masked."""
    pages: dict[str, dict[str, str]] = defaultdict(dict)  # vendor -> page -> first day
    for r in rows:
        match = _PAGE.search(r["list"] or "")
        if match is None or not r["vendor"]:
            continue
        seen = pages[r["vendor"]]
        day = r["date"] or ""
        if match[1] not in seen or day < seen[match[1]]:
            seen[match[1]] = day
    half_of: dict[tuple[str, str], str] = {}  # (vendor, page) -> "A" | "B"
    for vendor, seen in pages.items():
        ordered = sorted(seen, key=lambda p: (seen[p], p))
        split = len(ordered) >= min_listings
        for k, page in enumerate(ordered):
            half_of[(vendor, page)] = "AB"[k % 2] if split else "A"
    ids: dict[tuple[str, str], str] = {}
    truth: dict[str, str] = {}
    for vendor in sorted(pages):  # ids in the dump's vendor order: stable across runs
        for half in sorted({half_of[(vendor, p)] for p in pages[vendor]}):
            neutral = _neutral(half, len(ids))
            ids[(vendor, half)] = neutral
            truth[neutral] = vendor
    out: dict[str, list[dict[str, str]]] = {"A": [], "B": []}
    masked = 0
    for r in rows:
        found = _PAGE.search(r["list"] or "")
        if found is None or not r["vendor"]:
            continue
        half = half_of[(r["vendor"], found[1])]
        title = r["product"] or ""
        if mask_handles and len(r["vendor"]) >= 2:
            title, n = re.subn(re.escape(r["vendor"]), "", title, flags=re.IGNORECASE)
            masked += bool(n)
        out[half].append(
            {**r, "vendor": ids[(r["vendor"], half)], "product": title, "feedback": "NA"}
        )
    return out, truth, masked


def _read(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    f"not an Agora 2014 listings file: no column {', '.join(missing)}",
                    where=path,
                    hint=f"expected the columns {', '.join(COLUMNS)}",
                )
            return list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the listings: {exc}", where=path) from exc


def _shingles(titles: str, k: int) -> set[bytes]:
    text = _SPACE.sub(" ", titles.casefold()).strip()
    if len(text) <= k:
        return {text.encode()} if text else set()
    return {text[i : i + k].encode() for i in range(len(text) - k + 1)}


def title_candidates(
    titles: list[str], *, shingle: int = 5, num_perm: int = 128, lsh_threshold: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (int32 (n, 2), i < j, unique) of accounts whose title shingles
    MinHash LSH puts in one band, and each pair's MinHash Jaccard estimate."""
    from datasketch import MinHash, MinHashLSH

    hashes: list[MinHash | None] = []
    lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm)
    for i, text in enumerate(titles):
        grams = _shingles(text, shingle)
        if not grams:  # no titles: nothing to block on
            hashes.append(None)
            continue
        m = MinHash(num_perm=num_perm, seed=1)
        m.update_batch(sorted(grams))
        hashes.append(m)
        lsh.insert(i, m)
    found: set[tuple[int, int]] = set()
    for i, m in enumerate(hashes):
        if m is not None:
            found.update((min(i, j), max(i, j)) for j in lsh.query(m) if j != i)
    pairs = np.array(sorted(found), dtype=np.int32).reshape(-1, 2)
    jaccard = np.array(
        [hashes[i].jaccard(hashes[j]) for i, j in pairs],
        dtype=np.float64,
    )
    return pairs, jaccard


def _fold(vendor: str) -> int:
    return hashlib.sha256(f"fold|{vendor}".encode()).digest()[0] % 2


def _matrix(feats: dict[str, np.ndarray], jaccard: np.ndarray, rows: np.ndarray) -> np.ndarray:
    columns = [np.asarray(feats[f], dtype=np.float64)[rows] for f in TEXT_FEATURES]
    return np.column_stack([*columns, jaccard[rows]])


def _best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score cut with the best F1 on the training pairs (ties: the highest cut)."""
    order = np.argsort(-scores, kind="mergesort")
    hits = np.cumsum(labels[order])
    k = np.arange(1, len(order) + 1)
    f1 = 2 * hits / (k + labels.sum()) if labels.sum() else np.zeros(len(order))
    best = int(np.argmax(f1))
    return float(scores[order][best])


def _evaluate(
    pairs: np.ndarray,
    scores: np.ndarray,
    cut: float,
    vendor: list[str],
    side: list[str],
    accounts: list[int],
) -> dict[str, Any]:
    """The test fold's figures (module doc) over the accounts ``accounts``."""
    members: dict[str, list[int]] = defaultdict(list)
    for i in accounts:
        members[vendor[i]].append(i)
    split = {v: sorted(ix, key=lambda i: side[i]) for v, ix in members.items() if len(ix) == 2}
    truth_pairs = sum(len(ix) * (len(ix) - 1) // 2 for ix in members.values())
    best: dict[int, tuple[float, int]] = {}
    candidate: set[tuple[int, int]] = set()
    for (i, j), score in zip(pairs.tolist(), scores.tolist(), strict=True):
        candidate.add((i, j))
        for a, b in ((i, j), (j, i)):
            if a not in best or score > best[a][0]:
                best[a] = (score, b)
    linked = scores >= cut
    same = np.array([vendor[i] == vendor[j] for i, j in pairs.tolist()], dtype=bool)
    true_links = int((linked & same).sum())
    predicted = int(linked.sum())
    relinked = [
        v
        for v, (a, b) in split.items()
        if best.get(a, (0, -1))[1] == b and best.get(b, (0, -1))[1] == a and best[a][0] >= cut
    ]
    blocked = sum((min(a, b), max(a, b)) in candidate for a, b in split.values())
    precision = true_links / predicted if predicted else 0.0
    recall = true_links / truth_pairs if truth_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    n = len(split)
    return {
        "vendors": n,
        "accounts": len(accounts),
        "candidate_pairs": len(pairs),
        "candidate_recall": round(blocked / n, 4) if n else 0.0,
        "accuracy": round(len(relinked) / n, 4) if n else 0.0,
        "relinked": len(relinked),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "threshold": round(cut, 6),
        "links": predicted,
        "missed": sorted(set(split) - set(relinked)),
    }


def _top1_text(accounts: Any, vendor: list[str], side: list[str]) -> float:
    """Without blocking or a model: the share of split vendors whose A half has its own B
    half as the most title-similar of every B account."""
    from spector.resolve._features import pair_features

    a_side = [i for i, s in enumerate(side) if s == "A"]
    b_side = [j for j, s in enumerate(side) if s == "B"]
    b_of = {vendor[j]: k for k, j in enumerate(b_side)}
    pairs = np.array(
        [(min(i, j), max(i, j)) for i in a_side for j in b_side], dtype=np.int32
    ).reshape(-1, 2)
    if not len(pairs):
        return 0.0
    text = pair_features(accounts, pairs)["text_listing"].reshape(len(a_side), len(b_side))
    wanted = [(row, b_of[vendor[i]]) for row, i in enumerate(a_side) if vendor[i] in b_of]
    hits = sum(int(np.argmax(text[row]) == k) for row, k in wanted)
    return round(hits / len(wanted), 4) if wanted else 0.0


def agora_split(
    path: Path,
    work: Path,
    *,
    min_listings: int = 4,
    mask_handles: bool = True,
    shingle: int = 5,
    num_perm: int = 128,
    lsh_threshold: float = 0.1,
) -> SplitResult:
    """Split, import into a new workspace under ``work``, block, train and test on
    disjoint vendors (two folds); see the module doc."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from spector.extract._csv import import_csv, load_mapping
    from spector.resolve._accounts import load_accounts
    from spector.resolve._features import pair_features
    from spector.store import Workspace

    halves, truth, masked = split_rows(
        _read(path), min_listings=min_listings, mask_handles=mask_handles
    )
    work.mkdir(parents=True, exist_ok=True)
    mapping = load_mapping("agora-2014")
    with Workspace.init(work / "ws") as ws:
        for half, rows in halves.items():
            file = work / f"agora-{half}.csv"
            with file.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
            import_csv(ws.store, file, mapping, market=f"Agora {half}")
        accounts = load_accounts(ws)
    keep = [i for i, h in enumerate(accounts.handle) if h in truth]
    vendor = [truth.get(h, f"?{i}") for i, h in enumerate(accounts.handle)]
    side = [m.rsplit(" ", 1)[-1] for m in accounts.market]
    pairs, jaccard = title_candidates(
        accounts.titles, shingle=shingle, num_perm=num_perm, lsh_threshold=lsh_threshold
    )
    feats = pair_features(accounts, pairs)
    labels = np.array([vendor[i] == vendor[j] for i, j in pairs.tolist()], dtype=np.int64)
    fold = np.array([_fold(v) for v in vendor], dtype=np.int64)
    inside = fold[pairs[:, 0]] == fold[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
    folds: list[dict[str, Any]] = []
    for test in (0, 1):
        train_rows = np.flatnonzero(inside & (fold[pairs[:, 0]] != test))
        test_rows = np.flatnonzero(inside & (fold[pairs[:, 0]] == test))
        model = make_pipeline(
            StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000)
        )
        model.fit(_matrix(feats, jaccard, train_rows), labels[train_rows])
        cut = _best_threshold(
            model.predict_proba(_matrix(feats, jaccard, train_rows))[:, 1], labels[train_rows]
        )
        scores = model.predict_proba(_matrix(feats, jaccard, test_rows))[:, 1]
        figures = _evaluate(
            pairs[test_rows], scores, cut, vendor, side, [i for i in keep if fold[i] == test]
        )
        figures["fold"] = test
        figures["train_pairs"] = len(train_rows)
        figures["train_positives"] = int(labels[train_rows].sum())
        folds.append(figures)
    split_vendors = sum(1 for v in set(truth.values()) if list(truth.values()).count(v) == 2)
    mean = {
        k: round(float(np.mean([f[k] for f in folds])), 4)
        for k in ("candidate_recall", "accuracy", "precision", "recall", "f1")
    }
    n = len(accounts)
    scope = (
        f"{split_vendors:,} vendors with at least {min_listings} listings split in two "
        f"(alternately by the day first saved) on two pseudo-markets, "
        f"{len(set(truth.values())) - split_vendors:,} smaller vendors kept whole as "
        f"distractors, {n:,} accounts; text only: handles replaced by neutral ids, the "
        "vendor's name masked in its titles, feedback dropped, no photos, keys or contacts "
        f"(Wang et al.'s photo method: 97.5 %); blocking MinHash LSH over title "
        f"{shingle}-grams at Jaccard {lsh_threshold:g}; logistic regression on "
        f"{len(TEXT_FEATURES) + 1} text features, trained on one half of the vendors and "
        "tested on the other, both ways (means of the two folds)"
    )
    return SplitResult(
        vendors=split_vendors,
        distractors=len(set(truth.values())) - split_vendors,
        accounts=n,
        candidate_pairs=len(pairs),
        all_pairs=n * (n - 1) // 2,
        top1_text=_top1_text(accounts, vendor, side),
        masked_titles=masked,
        features=(*TEXT_FEATURES, "minhash_jaccard"),
        folds=folds,
        missed=sorted(v for f in folds for v in f["missed"]),
        scope=scope,
        **mean,
    )
