"""Blocking: the pairs of accounts worth comparing, never all pairs.

Two accounts become a candidate pair when they share an exact key or fall into one
MinHash LSH bucket:

- exact keys: a PGP fingerprint (reason 1), a normalised handle (either reading of
  ``handle_keys``; reason 2), one account's handle named in the other's own writing
  (profile, posts: "formerly NorthStar on Hydra"; reason 2), a selector or a chain cluster
  of their pay-to addresses (reason 4);
- LSH (reason 8): character 3-grams of the normalised handle (handles of ``SHORT`` or more
  characters only: "al" says nothing), and character 5-grams of the profile text without
  its stop-shingles (5-grams in more than ``max_block`` texts: a market's template).

A key or bucket holding more than ``max_block`` accounts (10,000 accounts called "admin",
a market's escrow address on every vendor page, a template text every shop keeps) is not
expanded: it is reported in ``skipped_blocks`` as (key, accounts). Pairs are made from the
remaining blocks with numpy (no Python loop per pair) and OR their reasons.

MinHash signatures are datasketch's (``MinHash`` with ``scheme="affine32"``, the default:
SHA-1 32-bit hash, the MurmurHash3 finalizer, one affine permutation per row), computed
for every account at once: each distinct shingle is hashed once, the permuted values of
the shingles are reduced per account with ``np.minimum.reduceat``. The band / row split
for each threshold is datasketch's ``MinHashLSH`` optimum. Signatures equal datasketch's
value for value (tested).

Thresholds, measured. On the `small` range (seed 11) the 3-gram Jaccard of normalised
handles of one actor's accounts is 1.0 from the 25th percentile on (the normalisation makes
most variants equal; "unrelated" variants are 0), random pairs reach 0.29 at the 99th and
0.36 at the 99.9th percentile; profile texts of one actor are identical, random ones reach
0.62 at the 99.9th (the range's texts share a template). On 10,000 accounts of the
benchmark's generator, handle LSH at 0.45 / 0.6 / 0.7 gave 99,917 / 13,023 / 7,120 pairs of
which 5,589 / 5,539 / 5,508 true; text LSH (stop-shingles removed) at 0.6 / 0.7 / 0.8 gave
6,718 / 6,161 / 5,689 pairs, 6,670 / 6,160 / 5,689 true. Both are set at 0.7: below it the
false pairs grow with the square of the accounts for a handful more true ones, which the
exact keys mostly find anyway.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from spector.resolve._accounts import Accounts
from spector.resolve._normalise import SHORT, handle_keys, normalise_text

__all__ = [
    "HANDLE_THRESHOLD",
    "NUM_PERM",
    "REASON_HANDLE",
    "REASON_LSH",
    "REASON_PGP",
    "REASON_SELECTOR",
    "TEXT_THRESHOLD",
    "Candidates",
    "candidates",
    "mentions",
    "minhash_signatures",
    "normal_texts",
    "shingles",
]

REASON_PGP, REASON_HANDLE, REASON_SELECTOR, REASON_LSH = 1, 2, 4, 8
NUM_PERM = 64
SEED = 1
HANDLE_THRESHOLD = 0.7  # Jaccard of 3-gram sets; see the module docstring
TEXT_THRESHOLD = 0.7  # Jaccard of 5-gram sets (stop-shingles removed)
HANDLE_GRAM, TEXT_GRAM = 3, 5
_CHUNK = 1 << 18  # shingle rows per reduction step (bounds memory: 2^18 x 64 x 4 bytes)


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs: ``pairs`` (int32, shape (n, 2), i < j, unique, sorted), ``reasons``
    (uint8 bit mask per pair: 1 pgp, 2 handle, 4 selector, 8 lsh), ``skipped_blocks`` (keys
    too common to block on, with how many accounts hold them), ``all_pairs`` (n*(n-1)/2 of
    the accounts)."""

    pairs: np.ndarray
    reasons: np.ndarray
    skipped_blocks: list[tuple[str, int]] = field(default_factory=list)
    all_pairs: int = 0

    def __len__(self) -> int:
        return len(self.pairs)


def candidates(accounts: Accounts, *, max_block: int = 200) -> Candidates:
    """The candidate pairs of ``accounts`` (see the module docstring)."""
    n = len(accounts)
    skipped: list[tuple[str, int]] = []
    parts: list[tuple[np.ndarray, np.ndarray, int]] = []
    for reason, (labels, rows, keys) in _exact_keys(accounts).items():
        if len(labels):
            a, b, big = _block_pairs(keys, rows, max_block)
            parts.append((a, b, reason))
            skipped += [(labels[k], size) for k, size in big]
    a, b, named = _mention_pairs(accounts, max_block)
    parts.append((a, b, REASON_HANDLE))
    skipped += named
    # handles: 3-grams of the distinct normalised handles of SHORT or more letters
    handle_row, handles = _distinct([h if len(h) >= SHORT else "" for h in accounts.handle_norm])
    rows, ids, vocab = _gram_sets(handles, HANDLE_GRAM, pad=True)
    blank = np.array([not h for h in handles], bool)
    handle_grams = (rows[~blank[rows]], ids[~blank[rows]], vocab)  # short: no grams
    # texts: 5-grams of the distinct normalised profile texts, stop-shingles removed
    normal = normal_texts(accounts, accounts.profile_text)
    text_row, texts = _distinct([normal[t] for t in accounts.profile_text])
    text_grams = _rare_grams(_gram_sets(texts, TEXT_GRAM), text_row, max_block)
    for what, (row_of, grams), threshold, shown in (
        ("handle", (handle_row, handle_grams), HANDLE_THRESHOLD, accounts.handle_norm),
        ("text", (text_row, text_grams), TEXT_THRESHOLD, accounts.profile_text),
    ):
        rows, ids, vocab = grams
        sizes = np.bincount(rows, minlength=int(row_of.max(initial=-1)) + 1)
        present = np.flatnonzero(sizes[row_of] > 0) if len(row_of) else np.empty(0, np.int64)
        signatures = _signatures(ids, sizes, vocab)[row_of[present]]
        a, b, skip = _lsh_pairs(signatures, present, threshold, max_block)
        parts.append((a, b, REASON_LSH))
        seen: dict[str, int] = {}
        for first, size in skip:
            label = f"lsh:{what}:{shown[first][:40]}"
            seen[label] = max(seen.get(label, 0), size)
        skipped += sorted(seen.items())
    pairs, reasons = _union(parts, n)
    return Candidates(pairs, reasons, skipped, n * (n - 1) // 2)


def normal_texts(accounts: Accounts, texts: Iterable[str] = ()) -> dict[str, str]:
    """{text: normalise_text(text)}, cached on ``accounts`` and shared by blocking and the
    features; ``texts`` are normalised into it when they are not there yet."""
    got: dict[str, str] | None = accounts.cache.get("normal_texts")
    if got is None:
        got = accounts.cache["normal_texts"] = {}
    for t in texts:
        if t not in got:
            got[t] = normalise_text(t)
    return got


def _distinct(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(row of each value in the distinct values, the distinct values in first-seen order)."""
    ids: dict[str, int] = {}
    rows = np.fromiter((ids.setdefault(v, len(ids)) for v in values), np.int64, len(values))
    return rows, list(ids)


def _rare_grams(
    grams: tuple[np.ndarray, np.ndarray, list[str]], row_of: np.ndarray, max_block: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The gram sets without their stop-shingles: those in the texts of more than
    ``max_block`` accounts (``row_of``: the distinct text of each account). A market's
    template text ("Welcome to ... Shipping from ...") then no longer makes every shop
    near every other; what is left is what the account wrote itself."""
    rows, ids, vocab = grams
    if not len(ids):
        return grams
    accounts_per_text = np.bincount(row_of, minlength=int(rows.max()) + 1)
    freq = np.bincount(ids, weights=accounts_per_text[rows], minlength=len(vocab))
    keep = freq[ids] <= max_block
    return rows[keep], ids[keep], vocab


def _gram_sets(
    texts: Sequence[str], k: int, *, pad: bool = False
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The ``shingles(text, k, pad=pad)`` of every text at once, as (text row, gram id)
    pairs, unique and sorted, and the vocabulary of grams (gram id -> string). The grams
    are found on the code points with numpy: each text's windows of k characters are
    packed into one integer (characters numbered over the texts' alphabet; a void view of
    the window when k of them do not fit 63 bits) and made unique; a text shorter than k
    is one gram, itself."""
    if pad:
        texts = [f"^{t}$" for t in texts]
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    empty = np.empty(0, np.int64)
    if not lengths.sum():
        return empty, empty, []
    joined = "".join(texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), np.uint32)
    seen = np.zeros(int(codes.max()) + 1, bool)
    seen[codes] = True
    alphabet = int(seen.sum())
    sym = np.cumsum(seen)[codes].astype(np.int64)  # 1.. the texts' alphabet; 0 pads
    ends = np.cumsum(lengths)
    starts = ends - lengths
    doc = np.repeat(np.arange(len(texts)), lengths)
    pos = np.flatnonzero(np.arange(len(codes)) + k <= ends[doc])  # windows inside one text
    win_doc = doc[pos]
    short = np.flatnonzero((lengths > 0) & (lengths < k))
    padded = np.concatenate([sym, np.zeros(k, np.int64)])
    short_at = starts[short]
    bits = alphabet.bit_length()
    if bits * k <= 63:
        keys: np.ndarray = np.zeros(len(pos) + len(short), np.int64)
        for q in range(k):
            column = np.concatenate(
                [padded[pos + q], np.where(q < lengths[short], padded[short_at + q], 0)]
            )
            keys = (keys << bits) | column
    else:
        window = np.lib.stride_tricks.sliding_window_view(padded, k)
        cut = np.arange(k)[None, :] < lengths[short][:, None]
        grams = np.concatenate([window[pos], window[short_at] * cut]).astype(np.int32)
        keys = np.ascontiguousarray(grams).view(np.dtype((np.void, 4 * k))).ravel()
    at = np.concatenate([pos, starts[short]])
    width = np.concatenate([np.full(len(pos), k), lengths[short]])
    owner = np.concatenate([win_doc, short])
    if keys.dtype == np.int64:
        gram, n_grams = _factorise(keys)
    else:  # windows as void: np.unique sorts them
        _, gram = np.unique(keys, return_inverse=True)
        gram = gram.ravel().astype(np.int64)
        n_grams = int(gram.max()) + 1
    where = np.empty(n_grams, np.int64)
    where[gram] = np.arange(len(gram))  # an occurrence of each gram (any one)
    vocab = [
        joined[p : p + w] for p, w in zip(at[where].tolist(), width[where].tolist(), strict=True)
    ]
    code = _sorted_unique(owner * n_grams + gram)
    return code // n_grams, code % n_grams, vocab


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique of a 1-d array, by sorting (numpy 2's hashing np.unique is ~40x slower on
    millions of int64)."""
    values = np.sort(values)
    if len(values):
        values = values[np.r_[True, values[1:] != values[:-1]]]
    return values


def _factorise(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """(id of each key among the distinct keys, how many distinct): one sort and a binary
    search, cheaper than np.unique's argsort."""
    distinct = _sorted_unique(keys)
    return np.searchsorted(distinct, keys).astype(np.int64), len(distinct)


def _exact_keys(accounts: Accounts) -> dict[int, tuple[list[str], np.ndarray, np.ndarray]]:
    """{reason: (key labels, account row of each (row, key) entry, key id of it)}."""
    import pyarrow as pa

    keys = accounts.cache.get("handle_keys")
    if keys is None:
        keys = accounts.cache["handle_keys"] = [handle_keys(h) for h in accounts.handle]
    out: dict[int, tuple[list[str], np.ndarray, np.ndarray]] = {}
    for reason, values in (
        (REASON_PGP, [tuple(f"pgp:{p}" for p in k) for k in accounts.pgp]),
        (REASON_HANDLE, [tuple(f"handle:{h}" for h in k if h) for k in keys]),
        (
            REASON_SELECTOR,
            [
                (*(f"selector:{s}" for s in sel), *(f"cluster:{c}" for c in cl))
                for sel, cl in zip(accounts.selectors, accounts.clusters, strict=True)
            ],
        ),
    ):
        counts = np.fromiter(map(len, values), np.int64, len(values))
        rows = np.repeat(np.arange(len(values), dtype=np.int64), counts)
        labels = list(chain.from_iterable(values))
        if not labels:
            out[reason] = ([], rows, rows)
            continue
        encoded = pa.array(labels, pa.string()).dictionary_encode()  # ids in first-seen order
        ids = encoded.indices.to_numpy().astype(np.int64)
        out[reason] = (encoded.dictionary.to_pylist(), rows, ids)
    return out


_WORD = re.compile(r"[\w@$.-]+")


def _word_keys(word: str) -> tuple[str, ...]:
    """The handle keys of SHORT or more letters of a word of SHORT or more characters."""
    if len(word) < SHORT:
        return ()
    return tuple(k for k in handle_keys(word) if len(k) >= SHORT)


def _mentioned(text: str, known: dict[str, tuple[str, ...]]) -> set[str]:
    """The handle keys the words of ``text`` read as (``known``: keys of words seen)."""
    words = set(map(_STRIP, _WORD.findall(text)))
    for w in words.difference(known):
        known[w] = _word_keys(w)
    return set(chain.from_iterable(map(known.__getitem__, words)))


_STRIP = operator.methodcaller("strip", ".-")


def mentions(accounts: Accounts) -> list[set[str]]:
    """Per account, the normalised handle keys of the words of its own writing (profile
    text; a member's posts), cached: vendors name their other accounts ("formerly X",
    "also on Dread as X"), and their pages often greet with their name. Accounts with one
    text share one set: read it, do not change it."""
    got = accounts.cache.get("mentions")
    if got is None:
        by_text: dict[str, set[str]] = {}
        known: dict[str, tuple[str, ...]] = {}
        got = []
        for kind, profile, texts in zip(
            accounts.kind, accounts.profile_text, accounts.texts, strict=True
        ):
            own = profile if kind == "vendor" else texts
            named = by_text.get(own)
            if named is None:
                named = by_text[own] = _mentioned(own, known)
            got.append(named)
        accounts.cache["mentions"] = got
    return got


def _mention_pairs(
    accounts: Accounts, max_block: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int]]]:
    """Pairs (holder of a handle, account whose writing names it), not all pairs of the
    writers: "welcome" names no account, and a handle named by more than ``max_block``
    writers and holders together is skipped."""
    key_id: dict[str, int] = {}
    held_key, held_row = [], []
    for i, handle in enumerate(accounts.handle):
        for key in handle_keys(handle):
            if len(key) >= SHORT:
                held_key.append(key_id.setdefault(key, len(key_id)))
                held_row.append(i)
    wrote_key: list[int] = []
    wrote_row: list[int] = []
    of_set: dict[int, list[int]] = {}  # accounts with one text share one set
    for i, keys in enumerate(mentions(accounts)):
        found = of_set.get(id(keys))
        if found is None:
            found = of_set[id(keys)] = [k for k in map(key_id.get, keys) if k is not None]
        wrote_key += found
        wrote_row += [i] * len(found)
    empty = np.empty(0, np.int64)
    if not wrote_key:
        return empty, empty, []
    hk, hr = np.asarray(held_key, np.int64), np.asarray(held_row, np.int64)
    wk, wr = np.asarray(wrote_key, np.int64), np.asarray(wrote_row, np.int64)
    n_keys = len(key_id)
    n_held = np.bincount(hk, minlength=n_keys)
    n_wrote = np.bincount(wk, minlength=n_keys)
    too_big = (n_wrote > 0) & (n_held + n_wrote > max_block)
    skipped = []
    if too_big.any():
        names = list(key_id)
        for k in np.flatnonzero(too_big).tolist():
            who = set(hr[hk == k].tolist()) | set(wr[wk == k].tolist())
            skipped.append((f"mention:{names[k]}", len(who)))
    order = np.argsort(hk, kind="stable")
    holders = hr[order]
    first_holder = np.cumsum(n_held) - n_held
    ok = ~too_big[wk]
    wk, wr = wk[ok], wr[ok]
    repeat = n_held[wk]
    total = int(repeat.sum())
    step = np.arange(total) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    left = holders[np.repeat(first_holder[wk], repeat) + step]
    return left, np.repeat(wr, repeat), sorted(skipped)


def _block_pairs(
    keys: np.ndarray, members: np.ndarray, max_block: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """All pairs within each block of (key, member) rows; blocks of more than
    ``max_block`` distinct members are skipped and returned as (key, size)."""
    if len(keys) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, []
    order = np.lexsort((members, keys))
    k, m = keys[order], members[order]
    keep = np.ones(len(k), bool)
    keep[1:] = (k[1:] != k[:-1]) | (m[1:] != m[:-1])
    k, m = k[keep], m[keep]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    too_big = sizes > max_block
    skipped = [(int(k[s]), int(z)) for s, z in zip(starts[too_big], sizes[too_big], strict=True)]
    ok = (sizes >= 2) & ~too_big
    block = np.repeat(np.arange(len(starts)), sizes)
    end = (starts + sizes)[block]
    pos = np.arange(len(k))
    count = np.where(ok[block], end - pos - 1, 0)
    total = int(count.sum())
    left = np.repeat(pos, count)
    step = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    right = left + 1 + step
    return m[left].astype(np.int64), m[right].astype(np.int64), skipped


def _union(
    parts: Sequence[tuple[np.ndarray, np.ndarray, int]], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unique pairs (i < j, i != j) with their reasons OR-ed."""
    codes, bits = [], []
    for a, b, reason in parts:
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keep = lo != hi
        codes.append(lo[keep] * n + hi[keep])
        bits.append(np.full(int(keep.sum()), reason, np.uint8))
    if not codes or sum(len(c) for c in codes) == 0:
        return np.empty((0, 2), np.int32), np.empty(0, np.uint8)
    code = np.concatenate(codes)
    bit = np.concatenate(bits)
    order = np.argsort(code, kind="stable")
    code, bit = code[order], bit[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    reasons = np.bitwise_or.reduceat(bit, starts).astype(np.uint8)
    unique = code[starts]
    pairs = np.stack([unique // n, unique % n], axis=1).astype(np.int32)
    return pairs, reasons


# -- MinHash, vectorised ---------------------------------------------------------------
def shingles(text: str, k: int, *, pad: bool = False) -> list[str]:
    """The distinct character ``k``-grams of ``text`` (``pad``: with ^ and $ at the ends,
    so that short handles still have several); the text itself when shorter than k."""
    if pad:
        text = f"^{text}$"
    if not text:
        return []
    if len(text) <= k:
        return [text]
    return list({text[i : i + k] for i in range(len(text) - k + 1)})


def _encode(sets: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str]]:
    """(index of each item of the concatenated sets in the vocabulary, the vocabulary),
    by Arrow's dictionary encoding (C, not a Python dict per item)."""
    import pyarrow as pa

    items = list(chain.from_iterable(sets))
    if not items:
        return np.empty(0, np.int64), []
    encoded = pa.array(items, pa.string()).dictionary_encode()
    return encoded.indices.to_numpy().astype(np.int64), encoded.dictionary.to_pylist()


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (the pre-mix of datasketch's affine32 scheme)."""
    h = h.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def minhash_signatures(
    sets: Sequence[Sequence[str]], num_perm: int = NUM_PERM, seed: int = SEED
) -> np.ndarray:
    """uint32 array (len(sets), num_perm): datasketch ``MinHash(num_perm, seed)`` hash
    values of each set of strings (UTF-8), all at once. An empty set's row is all 2^32-1
    (datasketch's empty MinHash)."""
    sizes = np.fromiter((len(items) for items in sets), np.int64, len(sets))
    index, vocab = _encode(sets)
    return _signatures(index, sizes, vocab, num_perm, seed)


def _signatures(
    index: np.ndarray,
    sizes: np.ndarray,
    vocab: Sequence[str],
    num_perm: int = NUM_PERM,
    seed: int = SEED,
) -> np.ndarray:
    """``minhash_signatures`` of sets given as the vocabulary ids of their items
    (``index``: the sets' items one after the other, ``sizes[r]`` of them for set r)."""
    from datasketch import MinHash

    a, b = (np.asarray(p, np.uint32) for p in MinHash(num_perm=num_perm, seed=seed).permutations)
    out = np.full((len(sizes), num_perm), np.iinfo(np.uint32).max, np.uint32)
    if not len(vocab) or not len(index):
        return out
    raw = np.fromiter(
        (
            int.from_bytes(
                hashlib.sha1(s.encode("utf-8"), usedforsecurity=False).digest()[:4], "little"
            )
            for s in vocab
        ),
        np.uint32,
        len(vocab),
    )
    with np.errstate(over="ignore"):
        permuted = _fmix32(raw)[:, None] * a[None, :] + b[None, :]  # (vocab, num_perm), wraps
    ends = np.cumsum(sizes)
    rows = np.flatnonzero(sizes)
    # reduce rows of accounts in chunks of about _CHUNK shingles
    start_row = 0
    while start_row < len(rows):
        first = rows[start_row]
        lo = ends[first] - sizes[first]
        stop_row = int(np.searchsorted(ends[rows], lo + _CHUNK, side="right"))
        stop_row = max(stop_row, start_row + 1)
        chunk_rows = rows[start_row:stop_row]
        hi = ends[chunk_rows[-1]]
        starts = ends[chunk_rows] - sizes[chunk_rows] - lo
        out[chunk_rows] = np.minimum.reduceat(permuted[index[lo:hi]], starts, axis=0)
        start_row = stop_row
    return out


def _lsh_pairs(
    signatures: np.ndarray, present: np.ndarray, threshold: float, max_block: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Pairs of accounts ``present`` (rows of ``signatures``: their MinHash signatures)
    sharing a band of them; oversized buckets are skipped and returned as (an account of
    the bucket, size)."""
    from datasketch.lsh import _optimal_param

    empty = np.empty(0, np.int64)
    if len(present) < 2:
        return empty, empty, []
    bands, rows = _optimal_param(threshold, NUM_PERM, 0.5, 0.5)
    mix = np.random.default_rng(SEED).integers(1, 2**63, rows, dtype=np.uint64) | np.uint64(1)
    lefts, rights, skipped = [], [], []
    seen_skips: set[int] = set()
    for band in range(bands):
        part = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            bucket = (part * mix[None, :]).sum(axis=1, dtype=np.uint64)
        _, keys = np.unique(bucket, return_inverse=True)
        a, b, skip = _block_pairs(keys.astype(np.int64), np.arange(len(present)), max_block)
        lefts.append(present[a])
        rights.append(present[b])
        for key, size in skip:
            first = int(present[np.flatnonzero(keys == key)[0]])
            if first not in seen_skips:
                seen_skips.add(first)
                skipped.append((first, size))
    return np.concatenate(lefts), np.concatenate(rights), skipped
