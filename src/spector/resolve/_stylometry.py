"""Stylometry: how an account writes, as vectors that pairs of accounts can be compared on.

- ``char_profiles``: character 2-4-gram TF-IDF profiles of the normalised texts
  (``normalise_text``), once per distinct text: the n-grams are counted for all texts at
  once with numpy (hashed into 2^20 columns; scikit-learn's ``char`` analyzer is a Python
  loop per text, 10x slower at 100,000 accounts), weighted by scikit-learn's
  ``TfidfTransformer`` (sublinear tf, L2-normalised);
- ``function_words``: relative frequencies of ``FUNCTION_WORDS`` (English and Russian, the
  range's and the markets' languages): topic-free habits (Mosteller and Wallace's
  method);
- ``habits``: punctuation, emoji, exclamation and capitalisation rates (``HABITS``).

``row_cosine`` compares rows of two such matrices pair by pair, in chunks. A text that is
empty gives an all-zero row; callers decide what a comparison with it is worth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from spector.resolve._normalise import normalise_text

__all__ = [
    "FUNCTION_WORDS",
    "HABITS",
    "char_profiles",
    "function_words",
    "habits",
    "ngram_counts",
    "row_cosine",
]

_ENGLISH = (
    "a about after all also am an and any are as at be because been before being but by "
    "can could did do does for from had has have he her here him his how i if in into is it "
    "its just me more most my no not now of off on once only or other our out over own same "
    "she should so some such than that the their them then there these they this those "
    "through to too under until up very was we were what when where which while who why "
    "will with would you your"
)
_RUSSIAN = (
    "и в не на я что с по это как а но к у за из от же то так для все бы ты мы вы он она "
    "они да нет или ещё уже только если"
)
FUNCTION_WORDS = tuple(_ENGLISH.split() + _RUSSIAN.split())
_FW_INDEX = {w: k for k, w in enumerate(FUNCTION_WORDS)}
HABITS = (
    "exclamation",  # '!' per character
    "double_exclamation",  # '!!' runs per sentence
    "question",
    "period",
    "comma",
    "colon_semicolon",
    "dash",
    "ellipsis",
    "emoji",  # pictographic symbols per character
    "uppercase",  # capital letters among letters
    "caps_runs",  # runs of 2+ capitals (SHOUTING, acronyms), per word
    "digits",
    "word_length",  # mean, / 10
    "sentence_length",  # mean words per sentence, / 30
)
_WORDS = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"[.!?]+")
_CHUNK = 200_000
NGRAM_BITS = 20  # hashed n-gram columns: 2^20 (collisions among one text's n-grams are rare)


def _codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points of the texts joined by NUL, text index of each position; -1 on NULs)."""
    clean = [t.replace("\x00", " ") for t in texts]
    joined = "\x00".join(clean)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    lengths = np.fromiter((len(t) + 1 for t in clean), np.int64, len(clean))
    doc = np.repeat(np.arange(len(clean)), lengths)[: len(codes)]
    doc[codes == 0] = -1
    return codes, doc


def ngram_counts(texts: Sequence[str], sizes: tuple[int, ...] = (2, 3, 4)) -> sparse.csr_matrix:
    """(len(texts), 2^NGRAM_BITS) counts of the character n-grams of each text, n-grams
    hashed into columns (a multiplicative hash of the code points), all texts at once.
    The hash of the n-gram at p extends that of the (n-1)-gram at p by one code point, and
    the entries are laid out position by position, so that they are already grouped by
    text (no COO sort)."""
    codes, doc = _codepoints(texts)
    n = len(codes)
    if n == 0 or not sizes:
        return sparse.csr_matrix((len(texts), 1 << NGRAM_BITS), dtype=np.float32)
    values = codes.astype(np.uint64)
    ordered = sorted(set(sizes))
    cols = np.full((n, len(ordered)), -1, np.int32)
    h = np.zeros(n + 1, np.uint64)
    with np.errstate(over="ignore"):
        for k in range(1, ordered[-1] + 1):
            m = n - k + 1
            if m <= 0:
                break
            h = h[:m] * np.uint64(0x100000001B3) + values[k - 1 :]
            if k in ordered:
                ok = (doc[:m] >= 0) & (doc[:m] == doc[k - 1 :])  # inside one text
                col = ((h + np.uint64(k)) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(
                    64 - NGRAM_BITS
                )
                cols[:m, ordered.index(k)] = np.where(ok, col.astype(np.int32), -1)
    per_position = (cols >= 0).sum(axis=1)  # windows over a NUL are not counted: 0 there
    inside = doc >= 0
    per_text = np.bincount(doc[inside], weights=per_position[inside], minlength=len(texts))
    indptr = np.concatenate([[0], np.cumsum(per_text.astype(np.int64))])
    flat = cols.ravel()
    flat = flat[flat >= 0]
    matrix = sparse.csr_matrix(
        (np.ones(len(flat), np.float32), flat, indptr), shape=(len(texts), 1 << NGRAM_BITS)
    )
    matrix.sum_duplicates()
    return matrix


def char_profiles(
    texts: Sequence[str], normal: dict[str, str] | None = None
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(TF-IDF matrix over the distinct non-empty normalised texts, row of each text in it
    or -1 for an empty text). Character 2-4-gram counts (``ngram_counts``), weighted by
    scikit-learn's ``TfidfTransformer`` (sublinear tf, smooth idf, L2 norm). ``normal``
    maps texts to their ``normalise_text`` when the caller has them."""
    from sklearn.feature_extraction.text import TfidfTransformer

    done: dict[str, str] = {} if normal is None else normal
    distinct: dict[str, int] = {}
    rows = np.empty(len(texts), np.int64)
    for i, t in enumerate(texts):
        norm = done.get(t)
        if norm is None:
            norm = done[t] = normalise_text(t)
        rows[i] = distinct.setdefault(norm, len(distinct)) if norm else -1
    if not distinct:
        return sparse.csr_matrix((0, 1), dtype=np.float32), rows
    counts = ngram_counts(list(distinct))
    weights = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    return sparse.csr_matrix(weights, dtype=np.float32), rows


def row_cosine(
    matrix: sparse.csr_matrix | np.ndarray, rows: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Cosine of rows ``rows[a]`` and ``rows[b]`` of ``matrix`` (rows L2-normalised, or
    normalised here for dense ones); 0 where either row is -1 or all zero."""
    out = np.zeros(len(a))
    ra, rb = rows[a], rows[b]
    ok = np.flatnonzero((ra >= 0) & (rb >= 0))
    if isinstance(matrix, np.ndarray):
        norms = np.linalg.norm(matrix, axis=1)
        safe = np.where(norms > 0, norms, 1.0)
        unit = matrix / safe[:, None]
    for start in range(0, len(ok), _CHUNK):
        part = ok[start : start + _CHUNK]
        x, y = ra[part], rb[part]
        same = x == y
        if isinstance(matrix, np.ndarray):
            value = np.einsum("ij,ij->i", unit[x], unit[y])
        else:
            value = np.asarray(matrix[x].multiply(matrix[y]).sum(axis=1)).ravel()
            value = np.where(same & (np.diff(matrix.indptr)[x] > 0), 1.0, value)
        out[part] = np.clip(value, 0.0, 1.0)
    return out


def function_words(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), len(FUNCTION_WORDS)) relative frequencies among each text's words."""
    out = np.zeros((len(texts), len(FUNCTION_WORDS)))
    rows: list[int] = []
    cols: list[int] = []
    totals = np.zeros(len(texts))
    index = _FW_INDEX
    for i, text in enumerate(texts):
        words = _WORDS.findall(text.casefold())
        if words:
            totals[i] = len(words)
            found = [index[w] for w in words if w in index]
            cols += found
            rows += [i] * len(found)
    np.add.at(out, (np.asarray(rows, np.int64), np.asarray(cols, np.int64)), 1.0)
    known = totals > 0
    out[known] /= totals[known][:, None]
    return out


def habits(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), len(HABITS)) habit rates, all texts at once; an empty (or blank)
    text's row is all zeros."""
    n = len(texts)
    out = np.zeros((n, len(HABITS)))
    if n == 0:
        return out
    joined = "\x00".join(t.replace("\x00", " ") for t in texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.int32)
    lengths = np.fromiter((len(t) for t in texts), np.int64, n)
    ends = np.cumsum(lengths + 1) - 1  # each text's NUL separator (one past the last text)
    starts = ends - lengths

    def count(mask: np.ndarray) -> np.ndarray:  # positions of mask in [start, end) of each
        where = np.flatnonzero(mask)
        return (np.searchsorted(where, ends) - np.searchsorted(where, starts)).astype(np.float64)

    chars = lengths.astype(np.float64)
    blank = np.array([not t.strip() for t in texts])
    upper = ((codes >= 65) & (codes <= 90)) | ((codes >= 0x410) & (codes <= 0x42F))
    lower = ((codes >= 97) & (codes <= 122)) | ((codes >= 0x430) & (codes <= 0x44F))
    other_alpha = (codes >= 0xC0) & (codes < 0x2000) & ~upper & ~lower
    letters = upper | lower | other_alpha
    digit = (codes >= 48) & (codes <= 57)
    word = letters | digit | (codes == 95)
    prev_word = np.concatenate([[False], word[:-1]])
    next_same = np.concatenate([codes[1:] == codes[:-1], [False]])
    punct = (codes == 33) | (codes == 46) | (codes == 63)
    prev_punct = np.concatenate([[False], punct[:-1]])
    emoji = ((codes >= 0x1F000) & (codes <= 0x1FAFF)) | ((codes >= 0x2600) & (codes <= 0x27BF))
    next_upper = np.concatenate([upper[1:], [False]])
    words = count(word & ~prev_word)
    sentences = np.maximum(1.0, count(punct & ~prev_punct))
    safe = np.maximum(chars, 1.0)
    out[:, 0] = count(codes == 33) / safe
    out[:, 1] = (
        count((codes == 33) & next_same & ~np.concatenate([[False], (codes == 33)[:-1]]))
        / sentences
    )
    out[:, 2] = count(codes == 63) / safe
    out[:, 3] = count(codes == 46) / safe
    out[:, 4] = count(codes == 44) / safe
    out[:, 5] = count((codes == 58) | (codes == 59)) / safe
    out[:, 6] = count(codes == 45) / safe
    out[:, 7] = (
        count(
            ((codes == 46) & next_same & np.concatenate([next_same[1:], [False]]))
            | (codes == 0x2026)
        )
        / safe
    )
    out[:, 8] = count(emoji) / safe
    out[:, 9] = count(upper) / np.maximum(1.0, count(letters))
    out[:, 10] = count(upper & next_upper & ~np.concatenate([[False], upper[:-1]])) / np.maximum(
        1.0, words
    )
    out[:, 11] = count(digit) / safe
    out[:, 12] = count(word) / np.maximum(1.0, words) / 10.0
    out[:, 13] = words / sentences / 30.0
    out[blank] = 0.0
    return out
