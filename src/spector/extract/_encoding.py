"""Which encoding a dump file is in, when its mapping does not say.

In this order: a byte order mark; else valid UTF-8; else, for a file whose first record
ends in CR alone, Mac OS Roman or cp1252 (classic Mac OS and Excel for Mac's "CSV
(Macintosh)" write CR alone, but so do other tools writing cp1252 / Latin-1), decided by
how the non-ASCII characters read (see :func:`cr_only`); else the best answer of
charset-normalizer that decodes the whole file, the commoner encoding winning among
answers about as good (cp1252 before cp1250 when both read the text the same).

A :class:`Found` says which codec, why, and, when the choice is a close call, a note
saying so and what to set in the mapping.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["COMMON", "Found", "cr_only", "detect", "reads_as"]

# When detection finds several encodings about as likely, the commoner one wins.
_NEAR = 0.05  # charset-normalizer's "chaos" (0..1) within which answers count as close
COMMON = (
    "utf_8",
    "cp1252",
    "latin_1",
    "mac_roman",
    "cp1251",
    "koi8_r",
    "cp1250",
    "iso8859_2",
    "iso8859_15",
    "gb18030",
    "big5",
    "shift_jis",
    "euc_jp",
    "euc_kr",
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf_32"),
    (codecs.BOM_UTF32_BE, "utf_32"),
    (codecs.BOM_UTF8, "utf_8_sig"),
    (codecs.BOM_UTF16_LE, "utf_16"),
    (codecs.BOM_UTF16_BE, "utf_16"),
)
_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_CR = "records end in CR alone"


@dataclass(frozen=True, slots=True)
class Found:
    """A codec for a file's bytes, why it was chosen, and a note when it was a close call."""

    codec: str
    basis: str
    note: str | None = None


def detect(data: bytes) -> Found | None:
    """The encoding of ``data`` (see the module docstring), or None when nothing decodes it."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return Found(codec, "byte order mark")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return Found("utf_8", "valid UTF-8")
    first = _BREAK_BYTES.search(data)
    if first is not None and first[0] == b"\r" and b"\n" not in data[: first.start()]:
        return cr_only(data)
    return _normalizer(data)


def cr_only(data: bytes) -> Found:
    """Mac OS Roman or cp1252 for a file whose records end in CR alone.

    Mac OS Roman decodes every byte, so it cannot be refused; the two are told apart by
    where their non-ASCII characters land. Real text has its accented letters inside
    words, in the case of the letters around them; the other code page puts symbols
    there ("J‰ger", "Gr¸ne" for cp1252 read as Mac OS Roman; "JŠger", "Stra§e" the
    other way round), capitals inside lower-case words, or C1 control codes. The reading
    with fewer such misplaced characters per non-ASCII character wins; cp1252 that does
    not decode the file loses. A tie keeps Mac OS Roman, the CR-only convention, with a
    note saying the file reads as both."""
    roman = data.decode("mac_roman")
    try:
        windows = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        return Found(
            "mac_roman", f"{_CR} (Excel for Mac); not cp1252 (byte 0x{data[exc.start]:02X})"
        )
    if windows == roman:
        return Found("mac_roman", f"{_CR} (Excel for Mac)")
    odd_roman, seen = misplaced(roman)
    odd_windows, _ = misplaced(windows)
    rate_roman, rate_windows = odd_roman / seen, odd_windows / seen
    if odd_roman == odd_windows:
        return Found(
            "mac_roman",
            f"{_CR} (Excel for Mac)",
            _close_call(roman, windows, "mac_roman", "cp1252"),
        )
    if odd_windows < odd_roman:
        found = Found(
            "cp1252",
            f"{_CR}, but the letters read as cp1252: {odd_windows} of {seen} non-ASCII "
            f"characters misplaced, {odd_roman} as Mac OS Roman",
        )
        loser, winner_rate = "mac_roman", rate_windows
    else:
        found = Found(
            "mac_roman",
            f"{_CR} (Excel for Mac), and the letters read as Mac OS Roman: {odd_roman} of "
            f"{seen} non-ASCII characters misplaced, {odd_windows} as cp1252",
        )
        loser, winner_rate = "cp1252", rate_roman
    if abs(rate_roman - rate_windows) < 0.1 or winner_rate > 0.5:
        ours, theirs = (windows, roman) if found.codec == "cp1252" else (roman, windows)
        note = _close_call(ours, theirs, found.codec, loser)
        return Found(found.codec, found.basis, note)
    return found


# Letters that, inside a word, are a code page's accident rather than text.
_RARE_LETTERS = frozenset("ﬁﬂı")
_APOSTROPHES = frozenset("’‘ʼ´")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SAMPLE = 200_000  # non-ASCII characters looked at: enough to decide, bounded on big files


def misplaced(text: str) -> tuple[int, int]:
    """(misplaced, looked at): of the non-ASCII characters of ``text`` (up to a bound),
    how many sit where text does not put them: a symbol, punctuation or modifier mark
    between two letters (apostrophes aside), a capital after a letter in a lower-case
    word, a small letter before a capital, a ligature or dotless i inside a word, a
    control or private-use code."""
    odd = seen = 0
    last = len(text) - 1
    for match in _NON_ASCII.finditer(text):
        seen += 1
        if seen > _SAMPLE:
            seen -= 1
            break
        i = match.start()
        char = text[i]
        before = text[i - 1] if i > 0 else " "
        after = text[i + 1] if i < last else " "
        kind = unicodedata.category(char)
        if kind[0] == "L" and kind != "Lm":
            if char in _RARE_LETTERS:
                odd += before.isalpha() or after.isalpha()
            elif char.isupper():
                odd += before.isalpha() and (before.islower() or after.islower())
            else:
                odd += after.isupper()
        elif kind in ("Cc", "Co", "Cn"):
            odd += 1
        elif (kind[0] in "SP" or kind == "Lm") and char not in _APOSTROPHES:
            odd += before.isalpha() and after.isalpha()
    return odd, max(seen, 1)


def _close_call(ours: str, theirs: str, codec: str, other: str) -> str:
    """A note that ``codec`` was a close call against ``other``, with a word each reads
    differently, and what to set in the mapping."""
    example = ""
    words = re.compile(r'[^\s,;|"]+')
    for a, b in zip(words.finditer(ours), words.finditer(theirs), strict=False):
        if a[0] != b[0]:
            example = f" ({a[0][:30]!r} as {codec}, {b[0][:30]!r} as {other})"
            break
    return (
        f"the file reads about as well as {other}{example}: check the text, and set "
        f'[source] encoding = "{codec}" or "{other}" in the mapping'
    )


def _normalizer(data: bytes) -> Found | None:
    import charset_normalizer

    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return None
    # On short or mixed texts the detector's scores for related code pages lie close
    # together (cp1252 and iso8859_14 read French alike but for "°"), and for a text
    # several code pages read the same it names only one of them (cp1250 for German):
    # among the answers nearly as good as its best, and the code pages that read each
    # as it does, the encoding far more files are written in wins.
    best = matches[0].chaos
    # (``could_be_from_charset``: the code pages whose whole text is the answer's.)
    near = [_codec(c) for m in matches if m.chaos <= best + _NEAR for c in m.could_be_from_charset]
    ranked = sorted(near, key=_rank)  # stable: the detector's order among equals
    for codec in [*ranked, *(m.encoding for m in matches)]:
        if _decodes(data, codec):
            return Found(codec, "charset-normalizer")
    return None


def _rank(codec: str) -> int:
    return COMMON.index(codec) if codec in COMMON else len(COMMON)


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name.replace("-", "_")
    except LookupError:
        return name


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


_HEADER_CODECS = ("utf_8", "cp1252", "mac_roman", "cp1250", "cp1251", "cp437", "koi8_r")


def reads_as(raw: bytes, wanted: list[str], split: Callable[[str], list[str]]) -> str | None:
    """The first common codec in which the header bytes ``raw``, split into names by
    ``split`` (a function of a str), hold every name in ``wanted``; None when none does."""
    for codec in _HEADER_CODECS:
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        names = split(text)
        if all(name in names for name in wanted):
            return codec
    return None
