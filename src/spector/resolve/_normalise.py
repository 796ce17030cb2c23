"""Handles and texts reduced to what a reader sees, for blocking and similarity.

``normalise_handle`` turns the disguises vendors use when they open an account on another
market into one key: ``N0rthStar_UK``, ``northstar``, ``NＯRTHSTAR`` (a fullwidth O),
``nоrthstar`` (a Cyrillic о) and ``the_northstar42`` all become ``northstar``. The steps,
in order:

1. NFKC (compatibility forms: fullwidth letters, ligatures, superscripts);
2. the Unicode confusables skeleton (UTS #39 data as shipped by the
   ``confusable-homoglyphs`` package, not a hand list): every non-ASCII character that is
   confusable with an ASCII letter or digit becomes it (Cyrillic 'а' -> 'a', Greek 'ο' ->
   'o', 'ℓ' -> 'l'), before and after casefolding;
3. a trailing run of digits is dropped ("lydocejo42": a number added to a taken name),
   unless the handle is written in l33t (a digit elsewhere is a l33t digit), where it is
   one more l33t letter ("lyd0c3j0");
4. l33t (``LEET``: 0->o, 1->i, 3->e, 4->a, 5->s, 7->t, @->a, $->s), and 'l' folded into
   'i' (1, l, I and | are one glyph to a reader);
5. every character that is not a letter is dropped: separators, punctuation, the digits
   left over;
6. prefixes and suffixes vendors add (``PREFIXES``, ``SUFFIXES``; "shop", "official",
   "uk", "the", "real", "mr" ...), each at most once per side and only while at least
   ``MIN_CORE`` characters remain (``MIN_CORE_SHORT`` for the two-letter ones, so that
   "markus" is not cut to "mark").

The result may be empty (a handle of punctuation only) or very short: callers treat a
normalised handle of fewer than ``SHORT`` characters as uninformative.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

__all__ = [
    "LEET",
    "MIN_CORE",
    "MIN_CORE_SHORT",
    "PREFIXES",
    "SHORT",
    "SUFFIXES",
    "handle_keys",
    "normalise_handle",
    "normalise_text",
    "skeleton",
]

LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
# What vendors put before or after their name on a new market. Longest first, so that
# "store" is tried before "st"-like shorter affixes would be.
SUFFIXES = (
    "official",
    "express",
    "direct",
    "vendor",
    "store",
    "labs",
    "shop",
    "team",
    "lab",
    "uk",
    "us",
    "eu",
    "de",
    "nl",
    "fr",
    "au",
    "ca",
)
PREFIXES = ("official", "real", "team", "the", "its", "mr", "dr")
MIN_CORE = 3  # characters that must remain after cutting an affix of 3 or more letters
MIN_CORE_SHORT = 5  # ... after cutting a two-letter affix (country codes, "mr")
SHORT = 3  # normalised handles shorter than this carry no evidence and are not LSH-blocked

_TRAILING_DIGITS = re.compile(r"\d+$")


@cache
def _confusables_table() -> dict[int, str]:
    """{code point: ASCII prototype} for every non-ASCII character the UTS #39 data says
    is confusable with one ASCII letter or digit (the lowest such, lowercase first)."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_forms = sorted(
            h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()
        )
        if ascii_forms:
            lower = [c for c in ascii_forms if c.islower() or c.isdigit()]
            table[ord(char)] = (lower or ascii_forms)[0]
    return table


def skeleton(text: str) -> str:
    """NFKC, every confusable mapped to its ASCII prototype, casefold, and the mapping
    once more (a capital's prototype is looked up before casefolding turns Greek 'Ν' into
    'ν', which looks like 'v')."""
    if text.isascii():  # no confusables, nothing for NFKC to fold
        return text.casefold()
    text = _confusables_ascii(unicodedata.normalize("NFKC", text)).casefold()
    return _confusables_ascii(text)


def _confusables_ascii(text: str) -> str:
    """``text.translate(_confusables_table())``: the table maps non-ASCII characters only,
    and texts are mostly ASCII with a few such characters (an emoji, a Cyrillic letter),
    so only those are looked up (``str.translate`` with a dict looks up every one)."""
    if text.isascii():
        return text
    table = _confusables_table()
    for char in set(text).difference(_ASCII):  # prototypes are ASCII: replace one by one
        to = table.get(ord(char))
        if to is not None:
            text = text.replace(char, to)
    return text


_ASCII = frozenset(map(chr, range(128)))


def _is_leet_styled(head: str) -> bool:
    """A l33t digit (or @, $) before the trailing digits: the name is written in l33t."""
    return any(c in LEET for c in head)


_FOLDED_PREFIXES = tuple(p.replace("l", "i") for p in PREFIXES)
_FOLDED_SUFFIXES = tuple(s.replace("l", "i") for s in SUFFIXES)


def _strip_affixes(name: str) -> str:
    if not (name.startswith(_FOLDED_PREFIXES) or name.endswith(_FOLDED_SUFFIXES)):
        return name
    for prefix in _FOLDED_PREFIXES:
        need = MIN_CORE_SHORT if len(prefix) <= 2 else MIN_CORE
        if name.startswith(prefix) and len(name) - len(prefix) >= need:
            name = name[len(prefix) :]
            break
    for suffix in _FOLDED_SUFFIXES:
        need = MIN_CORE_SHORT if len(suffix) <= 2 else MIN_CORE
        if name.endswith(suffix) and len(name) - len(suffix) >= need:
            name = name[: -len(suffix)]
            break
    return name


@cache
def normalise_handle(handle: str) -> str:
    """The handle's key for blocking and similarity (see the module docstring)."""
    text = skeleton(handle).strip()
    trailing = _TRAILING_DIGITS.search(text)
    if trailing and not _is_leet_styled(text[: trailing.start()]):
        text = text[: trailing.start()]
    return _letters(text)


@cache
def handle_keys(handle: str) -> tuple[str, ...]:
    """The normalised handle, and, when it differs, the reading with every digit taken as
    l33t ("xa54" is "xasa" written in l33t, or "xa" with a number: both are kept as keys)."""
    first = normalise_handle(handle)
    other = _letters(skeleton(handle).strip())
    return (first,) if other == first or not other else (first, other)


def _ascii_letters_table() -> dict[int, str | None]:
    """l33t digits to letters, 'l' to 'i', every other ASCII non-letter deleted."""
    table: dict[int, str | None] = {}
    for code in range(128):
        c = chr(code)
        table[code] = LEET.get(c, "i" if c == "l" else c if c.isalpha() else None)
    return table


_ASCII_LETTERS = _ascii_letters_table()


def _letters(text: str) -> str:
    if text.isascii():  # one C pass: the same as the general case below
        return _strip_affixes(text.translate(_ASCII_LETTERS))
    text = "".join(LEET.get(c, c) for c in text).replace("l", "i")
    return _strip_affixes("".join(c for c in text if c.isalpha()))


def normalise_text(text: str | None) -> str:
    """A text as compared: skeleton (NFKC, casefold, confusables) with runs of white space
    made one space. ``None`` is the empty text."""
    if not text:
        return ""
    return " ".join(skeleton(text).split())  # == re.sub(r"\s+", " ", ...).strip()
