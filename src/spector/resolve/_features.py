"""Evidence features of candidate pairs, computed for all pairs at once, and the sentences
an analyst reads for one pair.

``pair_features(accounts, pairs)`` returns ``{name: float64 array}`` for the names of
``FEATURES``, in that order. Every value is finite; where data is missing the feature
takes a documented neutral value and a flag says so:

=====================  ==================================================================
pgp_same               1 when the accounts share a PGP fingerprint
pgp_conflict           1 when both show keys and none is shared (impostors: own key)
selectors_shared       shared selectors (contacts, addresses), those held by more than
                       ``COMMON_SELECTOR`` accounts not counted; at most 10
handle_jw              Jaro-Winkler of the normalised handles (rapidfuzz); 0 when short
handle_lev             normalised Levenshtein similarity of them; 0 when short
handle_exact_norm      1 when a reading of one normalised handle equals one of the other
handle_short           1 when either normalised handle has fewer than 3 letters
handle_common          how common the more common normalised handle of the two is:
                       log10(accounts holding it / 4) / 3 in [0, 1] (0 up to 4 accounts,
                       the most one actor holds; 1 from 4,000: "admin")
handle_in_text         1 when one's handle is named in the other's own writing
text_char              cosine of the character 2-4-gram TF-IDF profiles of profile texts
                       (0 when either is empty: see text_known)
text_listing           the same over listing titles (0 when either has none)
text_known             1 when both have a profile text (a member: its posts)
function_words         cosine of standardised function-word frequencies, mapped to [0, 1]
                       (0.5 when either has no text)
punct_emoji            the same for punctuation / emoji / capitalisation habits
category_cos           cosine of the product mix (listings per category); 0 when unknown
ships_same             1 same ships-from, 0 different, 0.5 when either is unknown
price_ratio            exp(-median |log price ratio|) over shared categories (1: the same
                       prices); 0 when they share no priced category
activity_gap           days between one's last and the other's first seen when the periods
                       do not overlap, as gap / (gap + 30); 0 when they overlap or unknown
activity_overlap       overlap of the periods / the shorter period; 0 when unknown
dates_known            1 when both periods are known
same_market            1 when both accounts are on one market
both_member            1 when both are forum members
one_member             1 when exactly one is a forum member
chain_cluster_shared   1 when a BTC pay-to of one is in the chain cluster of one of the
                       other's (only with [G]'s clusters; 0 otherwise)
=====================  ==================================================================
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein
from scipy import sparse

from spector.resolve._accounts import Accounts
from spector.resolve._blocking import mentions, normal_texts
from spector.resolve._normalise import SHORT, handle_keys
from spector.resolve._stylometry import char_profiles, function_words, habits, row_cosine

__all__ = ["COMMON_SELECTOR", "FEATURES", "evidence", "pair_features"]

FEATURES = (
    "pgp_same",
    "pgp_conflict",
    "selectors_shared",
    "handle_jw",
    "handle_lev",
    "handle_exact_norm",
    "handle_short",
    "handle_common",
    "handle_in_text",
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
    "same_market",
    "both_member",
    "one_member",
    "chain_cluster_shared",
)
COMMON_SELECTOR = 200
COMMON_FROM = 4  # accounts one actor may hold under one name: a handle more common is weak
GAP_SCALE = 30.0  # days: a gap of 30 days gives activity_gap 0.5
_PAIR_CHUNK = 200_000  # pairs per sparse row-product step
WORKERS = 2  # threads for the text profiles (the machine's 2 cores)


def pair_features(accounts: Accounts, pairs: np.ndarray) -> dict[str, np.ndarray]:
    """The features of each pair (rows of ``pairs``: account indices i, j)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    out: dict[str, np.ndarray] = {}
    out.update(_keys(accounts, a, b))
    out.update(_handles(accounts, a, b))
    out.update(_texts(accounts, a, b))
    out.update(_trade(accounts, a, b))
    out.update(_activity(accounts, a, b))
    kinds = np.array([k == "member" for k in accounts.kind], bool)
    markets = _codes(accounts.market_id)
    out["same_market"] = (markets[a] == markets[b]).astype(np.float64)
    out["both_member"] = (kinds[a] & kinds[b]).astype(np.float64)
    out["one_member"] = (kinds[a] ^ kinds[b]).astype(np.float64)
    for name, values in out.items():
        out[name] = np.nan_to_num(np.asarray(values, np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return {name: out[name] for name in FEATURES}


def _codes(values: list[str]) -> np.ndarray:
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(v, len(ids)) for v in values], np.int64)


def _incidence(
    values: Sequence[Sequence[Hashable]], vocab: dict[Hashable, int] | None = None
) -> tuple[sparse.csr_matrix, dict[Hashable, int]]:
    """(binary (accounts, values) matrix: 1 where the account holds the value, the column
    of each value). With ``vocab`` only those values are columns; others are left out."""
    grow = vocab is None
    ids: dict[Hashable, int] = {} if vocab is None else vocab
    indptr = [0]
    cols: list[int] = []
    for held in values:
        if grow:
            cols += [ids.setdefault(v, len(ids)) for v in held]
        else:
            cols += [ids[v] for v in held if v in ids]
        indptr.append(len(cols))
    matrix = sparse.csr_matrix(
        (np.ones(len(cols), np.float64), np.asarray(cols, np.int64), np.asarray(indptr)),
        shape=(len(values), max(1, len(ids))),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, ids


def _shared(x: sparse.csr_matrix, y: sparse.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair, how many columns rows ``a`` of ``x`` and ``b`` of ``y`` share (binary
    matrices), in chunks."""
    out = np.zeros(len(a))
    for start in range(0, len(a), _PAIR_CHUNK):
        i, j = a[start : start + _PAIR_CHUNK], b[start : start + _PAIR_CHUNK]
        out[start : start + len(i)] = np.asarray(x[i].multiply(y[j]).sum(axis=1)).ravel()
    return out


def _key_matrices(acc: Accounts) -> dict[str, sparse.csr_matrix]:
    got = acc.cache.get("key_matrices")
    if got is None:
        pgp, _ = _incidence(acc.pgp)
        held, _ = _incidence(acc.selectors)
        freq = np.asarray(held.sum(axis=0)).ravel()  # accounts holding each selector
        rare = held[:, np.flatnonzero(freq <= COMMON_SELECTOR)].tocsr()
        clusters, _ = _incidence(acc.clusters)
        got = {"pgp": pgp, "selectors": rare, "clusters": clusters}
        acc.cache["key_matrices"] = got
    return got


def _keys(acc: Accounts, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    m = _key_matrices(acc)
    has_pgp = np.diff(m["pgp"].indptr) > 0
    both = has_pgp[a] & has_pgp[b]
    common = _shared(m["pgp"], m["pgp"], a, b) > 0
    cluster = np.zeros(len(a))
    if acc.has_clusters:
        cluster = (_shared(m["clusters"], m["clusters"], a, b) > 0).astype(np.float64)
    return {
        "pgp_same": (both & common).astype(np.float64),
        "pgp_conflict": (both & ~common).astype(np.float64),
        "selectors_shared": np.minimum(10.0, _shared(m["selectors"], m["selectors"], a, b)),
        "chain_cluster_shared": cluster,
    }


def _handles(acc: Accounts, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    keys = acc.cache.get("handle_keys")
    if keys is None:
        keys = acc.cache["handle_keys"] = [handle_keys(h) for h in acc.handle]
    count = acc.cache.get("handle_count")
    if count is None:
        count = acc.cache["handle_count"] = Counter(acc.handle_norm)
    if "handle_matrices" not in acc.cache:
        held, vocab = _incidence(keys)
        named = mentions(acc)
        shared: dict[int, list[int]] = {}  # accounts with one text share one set
        cols, indptr = [], [0]
        for words in named:
            found = shared.get(id(words))
            if found is None:
                found = shared[id(words)] = [vocab[k] for k in words if k in vocab]
            cols += found
            indptr.append(len(cols))
        said = sparse.csr_matrix(
            (np.ones(len(cols)), np.asarray(cols, np.int64), np.asarray(indptr)),
            shape=held.shape,
        )
        said.sum_duplicates()
        said.data[:] = 1.0
        longest = np.array([max((len(k) for k in ks), default=0) for ks in keys])
        acc.cache["handle_matrices"] = (held, said, longest)
    held, said, longest = acc.cache["handle_matrices"]
    short = (longest[a] < SHORT) | (longest[b] < SHORT)
    norm_a = [acc.handle_norm[i] for i in a.tolist()]
    norm_b = [acc.handle_norm[j] for j in b.tolist()]
    if len(a):
        jw = process.cpdist(norm_a, norm_b, scorer=JaroWinkler.normalized_similarity, workers=1)
        lev = process.cpdist(norm_a, norm_b, scorer=Levenshtein.normalized_similarity, workers=1)
    else:
        jw = lev = np.zeros(0)
    exact = (_shared(held, held, a, b) > 0).astype(np.float64)
    held_by = np.array([count[h] if h else 1 for h in acc.handle_norm], np.float64)
    common = np.clip(np.log10(np.maximum(held_by[a], held_by[b]) / COMMON_FROM) / 3.0, 0.0, 1.0)
    in_text = ((_shared(held, said, a, b) > 0) | (_shared(held, said, b, a) > 0)).astype(np.float64)
    zero = np.where(short, 0.0, 1.0)
    return {
        "handle_jw": np.asarray(jw, np.float64) * zero,
        "handle_lev": np.asarray(lev, np.float64) * zero,
        "handle_exact_norm": exact * zero,
        "handle_short": short.astype(np.float64),
        "handle_common": common,
        "handle_in_text": in_text * zero,
    }


def _own_writing(acc: Accounts) -> list[str]:
    """What is compared as the profile: a vendor's profile text, a member's posts."""
    return [
        p if k == "vendor" else t
        for k, p, t in zip(acc.kind, acc.profile_text, acc.texts, strict=True)
    ]


def _standardised(matrix: np.ndarray, present: np.ndarray) -> np.ndarray:
    if present.sum() < 2:
        return matrix * 0.0
    mean = matrix[present].mean(axis=0)
    std = matrix[present].std(axis=0)
    z = (matrix - mean) / np.where(std > 0, std, 1.0)
    z[~present] = 0.0
    return np.asarray(z)


def _texts(acc: Accounts, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    cache = acc.cache
    if "profiles" not in cache:
        own = _own_writing(acc)
        normal = normal_texts(acc)
        distinct: dict[str, int] = {}
        rows = np.array([distinct.setdefault(t, len(distinct)) for t in acc.texts], np.int64)
        texts = list(distinct)
        present = np.array([bool(t.strip()) for t in texts], bool)
        # Three independent computations, mostly numpy / scipy (which let go of the GIL):
        # on two threads they overlap (measured in benchmarks/bench_resolve.py).
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            profiles = pool.submit(char_profiles, own, normal)
            titles = pool.submit(char_profiles, acc.titles, normal)
            words = pool.submit(function_words, texts)
            style = habits(texts)
            cache["profiles"] = profiles.result()
            cache["titles"] = titles.result()
            cache["function_words"] = _standardised(words.result(), present)
        cache["habits"] = _standardised(style, present)
        cache["style_rows"] = rows
        cache["style_present"] = present[rows]
    prof, prof_rows = cache["profiles"]
    titles, title_rows = cache["titles"]
    rows, present = cache["style_rows"], cache["style_present"]
    both = present[a] & present[b]
    out = {
        "text_char": row_cosine(prof, prof_rows, a, b),
        "text_listing": row_cosine(titles, title_rows, a, b),
        "text_known": ((prof_rows[a] >= 0) & (prof_rows[b] >= 0)).astype(np.float64),
    }
    for name, key in (("function_words", "function_words"), ("punct_emoji", "habits")):
        matrix = cache[key]
        norms = np.linalg.norm(matrix, axis=1)
        unit = matrix / np.where(norms > 0, norms, 1.0)[:, None]
        cos = np.einsum("ij,ij->i", unit[rows[a]], unit[rows[b]])
        informative = both & (norms[rows[a]] > 0) & (norms[rows[b]] > 0)
        out[name] = np.where(informative, (1.0 + np.clip(cos, -1, 1)) / 2.0, 0.5)
    return out


def _trade(acc: Accounts, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    cache = acc.cache
    if "category_matrix" not in cache:
        codes: dict[str, int] = {}
        r, c, v = [], [], []
        for i, cats in enumerate(acc.categories):
            for cat, n in cats.items():
                r.append(i)
                c.append(codes.setdefault(cat, len(codes)))
                v.append(float(n))
        m = sparse.csr_matrix((v, (r, c)), shape=(len(acc), max(1, len(codes))))
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        cache["category_matrix"] = (
            sparse.diags(np.where(norms > 0, 1 / np.where(norms > 0, norms, 1), 0)) @ m
        )
        places: dict[str, int] = {}
        cache["ships_codes"] = np.array(
            [-1 if not s else places.setdefault(s, len(places)) for s in acc.ships_from], np.int64
        )
    matrix = cache["category_matrix"].tocsr()
    rows = np.arange(len(acc))
    category = row_cosine(matrix, rows, a, b)
    ships = cache["ships_codes"]
    known = (ships[a] >= 0) & (ships[b] >= 0)
    ships_same = np.where(known, (ships[a] == ships[b]).astype(np.float64), 0.5)
    price = _price_ratio(acc, a, b)
    return {"category_cos": category, "ships_same": ships_same, "price_ratio": price}


def _price_table(acc: Accounts) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(sorted keys account * categories + category, their prices, first entry of each
    account, categories) of the positive median prices, cached."""
    got = acc.cache.get("price_table")
    if got is None:
        codes: dict[str, int] = {}
        owner, cat, value = [], [], []
        for i, prices in enumerate(acc.prices):
            for c, p in prices.items():
                if p > 0:
                    owner.append(i)
                    cat.append(codes.setdefault(c, len(codes)))
                    value.append(p)
        width = max(1, len(codes))
        keys = np.asarray(owner, np.int64) * width + np.asarray(cat, np.int64)
        order = np.argsort(keys, kind="stable")
        starts = np.searchsorted(keys[order], np.arange(len(acc) + 1) * width)
        got = (keys[order], np.asarray(value, np.float64)[order], starts, width)
        acc.cache["price_table"] = got
    return got


def _price_ratio(acc: Accounts, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """exp(-median |log(p_a / p_b)|) over the categories both price (math.log and
    math.exp per value, statistics.median's middle: the values of the per-pair loop)."""
    keys, values, starts, width = _price_table(acc)
    price = np.zeros(len(a))
    if not len(keys) or not len(a):
        return price
    n_a = starts[a + 1] - starts[a]
    pair = np.repeat(np.arange(len(a)), n_a)
    entry = np.repeat(starts[a], n_a) + (
        np.arange(len(pair)) - np.repeat(np.cumsum(n_a) - n_a, n_a)
    )
    other = b[pair] * width + keys[entry] % width
    where = np.minimum(np.searchsorted(keys, other), len(keys) - 1)
    hit = keys[where] == other
    pair, mine, theirs = pair[hit], values[entry[hit]], values[where[hit]]
    if not len(pair):
        return price
    ratio = np.array(
        [abs(math.log(x / y)) for x, y in zip(mine.tolist(), theirs.tolist(), strict=True)]
    )
    order = np.lexsort((ratio, pair))
    pair, ratio = pair[order], ratio[order]
    first = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    size = np.diff(np.r_[first, len(pair)])
    median = (ratio[first + (size - 1) // 2] + ratio[first + size // 2]) / 2.0
    price[pair[first]] = [math.exp(-m) for m in median.tolist()]
    return price


def _activity(acc: Accounts, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    first, last = acc.days()
    fa, la, fb, lb = first[a], last[a], first[b], last[b]
    known = np.isfinite(fa) & np.isfinite(la) & np.isfinite(fb) & np.isfinite(lb)
    with np.errstate(invalid="ignore"):
        overlap = np.minimum(la, lb) - np.maximum(fa, fb)
        gap = np.where(known & (overlap < 0), -overlap, 0.0)
        shorter = np.maximum(1.0, np.minimum(la - fa, lb - fb))
        share = np.where(known & (overlap >= 0), np.clip(overlap / shorter, 0.0, 1.0), 0.0)
    return {
        "activity_gap": gap / (gap + GAP_SCALE),
        "activity_overlap": share,
        "dates_known": known.astype(np.float64),
    }


# -- words ------------------------------------------------------------------------------
def _fp(fingerprint: str) -> str:
    return f"0x{fingerprint[:4]}…{fingerprint[-4:]}" if len(fingerprint) > 8 else f"0x{fingerprint}"


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "?"


def evidence(accounts: Accounts, i: int, j: int, row: dict[str, float]) -> list[str]:
    """Plain sentences for the pair (i, j) whose features are ``row`` (a dict of FEATURES),
    strongest evidence first; evidence against the link is said too."""
    acc = accounts
    said: list[str] = []
    hi, hj = acc.handle[i], acc.handle[j]
    shared_keys = sorted(set(acc.pgp[i]) & set(acc.pgp[j]))
    if row.get("pgp_same", 0) > 0 and shared_keys:
        said.append(f"same PGP key {_fp(shared_keys[0])}")
    if row.get("pgp_conflict", 0) > 0 and acc.pgp[i] and acc.pgp[j]:
        said.append(f"PGP keys differ ({_fp(acc.pgp[i][0])} / {_fp(acc.pgp[j][0])})")
    if row.get("chain_cluster_shared", 0) > 0:
        said.append("a pay-to address of one is in the chain cluster of the other's")
    common = sorted(set(acc.selectors[i]) & set(acc.selectors[j]))
    if row.get("selectors_shared", 0) > 0 and common:
        shown = ", ".join(common[:3]) + (f" and {len(common) - 3} more" if len(common) > 3 else "")
        said.append(f"shared selectors: {shown}")
    if row.get("handle_short", 0) > 0:
        said.append(f"handles '{hi}' and '{hj}' are too short to compare")
    elif row.get("handle_exact_norm", 0) > 0:
        word = "the same handle" if hi == hj else "the same after normalisation"
        said.append(f"handles '{hi}' and '{hj}' ({word})")
    elif row.get("handle_jw", 0) >= 0.8:
        said.append(
            f"handles '{hi}' and '{hj}' ({row['handle_jw']:.2f} similar after normalisation)"
        )
    if row.get("handle_common", 0) > 0:
        count = acc.cache.get("handle_count", {})
        k = max((i, j), key=lambda x: count.get(acc.handle_norm[x], 0))
        n = count.get(acc.handle_norm[k], 0)
        said.append(f"the handle '{acc.handle[k]}' is common ({n} accounts): weak evidence")
    if row.get("handle_in_text", 0) > 0:
        named = mentions(acc)
        for x, y in ((i, j), (j, i)):
            if set(handle_keys(acc.handle[x])) & named[y]:
                where = "profile" if acc.kind[y] == "vendor" else "posts"
                said.append(f"'{acc.handle[x]}' is named in the {where} of '{acc.handle[y]}'")
                break
    if row.get("text_char", 0) >= 0.5:
        said.append(f"profile texts {row['text_char']:.2f} similar")
    if row.get("text_listing", 0) >= 0.5:
        said.append(f"listing titles {row['text_listing']:.2f} similar")
    fw, pe = row.get("function_words", 0.5), row.get("punct_emoji", 0.5)
    if fw >= 0.8 or pe >= 0.8:
        said.append(
            f"similar writing habits (function words {fw:.2f}, punctuation and emoji {pe:.2f})"
        )
    si, sj = acc.ships_from[i], acc.ships_from[j]
    if si and sj:
        said.append(f"both ship from {si}" if si == sj else f"ship from {si} and {sj}")
    if row.get("category_cos", 0) >= 0.5:
        cats = sorted(set(acc.categories[i]) & set(acc.categories[j]))
        said.append(f"similar product mix ({row['category_cos']:.2f}: {', '.join(cats[:3])})")
    if row.get("price_ratio", 0) > 0:
        said.append(f"prices {100 * (1 / row['price_ratio'] - 1):.0f}% apart in shared categories")
    said += _activity_words(acc, i, j, row)
    if row.get("same_market", 0) > 0:
        said.append(f"both on {acc.market[i]}")
    return said


def _activity_words(acc: Accounts, i: int, j: int, row: dict[str, float]) -> list[str]:
    if row.get("dates_known", 0) <= 0:
        return []
    fi, li, fj, lj = acc.first_seen[i], acc.last_seen[i], acc.first_seen[j], acc.last_seen[j]
    if fi is None or li is None or fj is None or lj is None:
        return []
    if row.get("activity_gap", 0) > 0:
        (early, late) = (i, j) if li < fj else (j, i)
        quiet, start = acc.last_seen[early], acc.first_seen[late]
        days = (start - quiet) // timedelta(days=1) if start and quiet else 0
        return [
            f"went quiet on {acc.market[early]} on {_day(quiet)}; '{acc.handle[late]}' started "
            f"on {acc.market[late]} on {_day(start)} ({days} days later)"
        ]
    overlap = (min(li, lj) - max(fi, fj)) // timedelta(days=1)
    return [f"active at the same time ({overlap} days overlap)"]
