"""Selectors found in any text: crypto addresses, onions, PGP keys, contact handles.

A page is read twice: as it is (links, attributes and scripts hold onions and
addresses) and as its reader sees it (``_textview``: tags dropped, entities decoded),
and the finds of both are merged by position in the page.

- Crypto addresses and onions are found by pattern, bounded so that none is taken from
  inside a longer word, and each must pass its kind's checksum-exact validation
  (``spector.model``). A v2 onion (16 characters) is its own, historical, kind; a v3
  address, which holds 16-character runs, is never also a v2 one.
- PGP key blocks are read however a page wraps them (``_armor``) and parsed by Sequoia;
  a fingerprint written out is taken when grouped in fours, or with a keyword.
- Contact handles need context (``_contacts``); phone numbers come from libphonenumber.
- Nothing but the key block's own fingerprint is taken from inside an armored block or a
  base64 blob.

Contract: ``scan_text(text)`` never raises; finds are in page order, each a span of
``text`` with its kind and normalised value; overlapping finds keep the longer one.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers

from spector.errors import SelectorInvalid
from spector.extract._armor import armor_blocks, key_fingerprints
from spector.extract._contacts import contact_candidates, jabber_context
from spector.extract._textview import TextView
from spector.model import selector_kind

__all__ = ["Found", "read_text", "scan_text"]

MAX_TEXT = 16 << 20  # characters scanned per text; the rest is ignored (hostile input)
MAX_PHONE_TEXT = 1 << 20  # libphonenumber's matcher is slow: it reads the first 1 Mi only


@dataclass(frozen=True, slots=True, order=True)
class Found:
    start: int  # character offsets in the text
    end: int
    kind: str
    value: str  # normalised


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_NOT_IN_WORD_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_IN_WORD_AFTER = r"(?![0-9A-Za-z])"
_HOST_END = r"(?![0-9A-Za-z-])"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "btc_address",
        re.compile(rf"{_NOT_IN_WORD_BEFORE}[13mn2][{_B58}]{{25,34}}{_NOT_IN_WORD_AFTER}"),
    ),
    (
        "btc_address",
        re.compile(r"(?<![0-9a-zA-Z])(?:bc|tb|bcrt)1[ac-hj-np-z02-9]{6,87}(?![0-9a-zA-Z])", re.I),
    ),
    ("eth_address", re.compile(r"(?<![0-9a-zA-Z])0x[0-9a-fA-F]{40}(?![0-9a-zA-Z])")),
    (
        "xmr_address",
        re.compile(
            rf"{_NOT_IN_WORD_BEFORE}[4589A][{_B58}]{{94}}(?:[{_B58}]{{11}})?{_NOT_IN_WORD_AFTER}"
        ),
    ),
    ("onion", re.compile(rf"(?<![0-9A-Za-z-])[a-z2-7]{{56}}\.onion{_HOST_END}", re.I)),
    ("onion_v2", re.compile(rf"(?<![0-9A-Za-z-])[a-z2-7]{{16}}\.onion{_HOST_END}", re.I)),
    # gpg's own layout (ten groups of four, two spaces in the middle) needs no keyword.
    (
        "pgp_fingerprint",
        re.compile(
            rf"{_NOT_IN_WORD_BEFORE}(?:0x)?(?:[0-9A-F]{{4}}[ \xa0]{{1,2}}){{9}}[0-9A-F]{{4}}"
            rf"{_NOT_IN_WORD_AFTER}"
            rf"|{_NOT_IN_WORD_BEFORE}(?:0x)?(?:[0-9a-f]{{4}}[ \xa0]{{1,2}}){{9}}[0-9a-f]{{4}}"
            rf"{_NOT_IN_WORD_AFTER}"
        ),
    ),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")),
]
# 40 or 64 hex digits in one run could be any hash: a fingerprint only with a keyword.
_BARE_FINGERPRINT = re.compile(
    r"(?<![0-9A-Za-z])(?:0x)?(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{40})(?![0-9A-Za-z])"
)
_FINGERPRINT_KEYWORD = re.compile(r"(?<!\w)(?:fingerprint|fpr|pgp|gpg|openpgp|key)(?!\w)", re.I)
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])")
_BASE64_NEXT_LINE = re.compile(r"\r?\n[A-Za-z0-9+/]+={0,2}(?=\r?\n|$)")
_BASE64_TAIL = re.compile(r"[A-Za-z0-9+/=\s]*")
_DATA_URI = re.compile(r"data:[\w.+-]{1,80}/[\w.+-]{1,80}(?:;[\w=.-]{1,40})*;base64,", re.I)
# Email-shaped names of page assets ("logo@2x.png") are not mail addresses.
_FILE_SUFFIXES_WORDS = (
    "png jpg jpeg gif svg webp ico bmp tif tiff avif css js mjs map woff woff2 ttf eot otf mp4 "
    "webm mp3 ogg pdf htm html php asp aspx json xml txt"
)
_FILE_SUFFIXES = frozenset(_FILE_SUFFIXES_WORDS.split())
_DECLARED_CHARSET = re.compile(rb"""<meta[^>]{0,200}charset=["']?([A-Za-z0-9_.:-]{1,40})""", re.I)
# When two kinds claim the same span, the one with context wins: a JID over an email, a
# fingerprint after "key" over the same 0x-hex read as an Ethereum address.
_PRIORITY = {"xmpp": 0, "pgp_fingerprint": 0, "email": 1, "eth_address": 1}


def scan_text(text: str) -> list[Found]:
    """Every valid selector in ``text``, by position; overlapping finds keep the longest."""
    text = text[:MAX_TEXT]
    found = set(_scan(text))
    view = TextView.of(text)
    if view.text != text:
        for item in _scan(view.text):
            start, end = view.raw_span(item.start, item.end)
            found.add(Found(start, end, item.kind, item.value))
    ordered = sorted(
        found,
        key=lambda f: (f.start, -(f.end - f.start), _PRIORITY.get(f.kind, 0), f.kind, f.value),
    )
    result: list[Found] = []
    for item in ordered:
        if result and item.start < result[-1].end:
            last = result[-1]
            # Several certificates in one key block share its span; anything else inside
            # a longer find (an onion inside an email, an email claimed as a JID) yields.
            if (item.start, item.end, item.kind) == (last.start, last.end, last.kind) and (
                item.kind == "pgp_fingerprint"
            ):
                result.append(item)
            continue
        result.append(item)
    return result


class _Zones:
    """Spans of ``text`` that only their own scanner may read (key blocks, base64)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def covers(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, start) - 1
        if i >= 0 and start < self.ends[i]:
            return True
        j = bisect.bisect_left(self.starts, start)
        return j < len(self.starts) and self.starts[j] < end


def _scan(text: str) -> Iterator[Found]:
    zones: list[tuple[int, int]] = []
    for block in armor_blocks(text):
        zones.append((block.start, block.end))
        for fingerprint in block.fingerprints:
            yield Found(block.start, block.end, "pgp_fingerprint", fingerprint)
    zones += _base64_blobs(text)
    excluded = _Zones(zones)

    def valid(start: int, end: int, kind_name: str, raw: str) -> Found | None:
        if excluded.covers(start, end):
            return None
        try:
            return Found(start, end, kind_name, selector_kind(kind_name).normalise(raw))
        except SelectorInvalid:
            return None

    for kind_name, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end, here = match.start(), match.end(), kind_name
            if kind_name == "email":
                if match.group().rpartition(".")[2].lower() in _FILE_SUFFIXES:
                    continue
                if jabber_context(text, start, end):
                    here = "xmpp"
            if item := valid(start, end, here, match.group()):
                yield item
    for match in _BARE_FINGERPRINT.finditer(text):
        start = match.start()
        head, _, line = text[max(0, start - 48) : start].rpartition("\n")
        window = line if line.strip() else head.rstrip().rpartition("\n")[2]
        body = match.group().removeprefix("0x").removeprefix("0X")
        if body != body.lower() and body != body.upper():
            continue  # mixed case is an EIP-55 checksum: an Ethereum address, not a key
        if _FINGERPRINT_KEYWORD.search(window) and (
            item := valid(start, match.end(), "pgp_fingerprint", match.group())
        ):
            yield item
    for start, end, kind_name, raw in contact_candidates(text):
        if item := valid(start, end, kind_name, raw):
            yield item
    if "+" in text:
        matcher = phonenumbers.PhoneNumberMatcher(
            text[:MAX_PHONE_TEXT], None, leniency=phonenumbers.Leniency.VALID
        )
        for phone in matcher:
            start, end = int(phone.start), int(phone.end)
            if not excluded.covers(start, end):
                number = phonenumbers.format_number(
                    phone.number, phonenumbers.PhoneNumberFormat.E164
                )
                yield Found(start, end, "phone", number)


def _base64_blobs(text: str) -> list[tuple[int, int]]:
    """Spans of base64 data: data: URIs, and runs of the base64 alphabet that hold all
    three character classes and are long (120+), carry '+' or padding, or are exactly a
    MIME or armor line wide (64 or 76). A Monero address (95 or 106 base58 characters)
    has none of these marks and stays readable; so do URL paths."""
    spans = []
    for match in _DATA_URI.finditer(text):
        tail = _BASE64_TAIL.match(text, match.end())
        spans.append((match.start(), tail.end() if tail else match.end()))
    for match in _BASE64_RUN.finditer(text):
        run = match.group()
        if len(run) < 120 and "+" not in run and not run.endswith("=") and len(run) not in (64, 76):
            continue
        if (
            any(c.islower() for c in run)
            and any(c.isupper() for c in run)
            and any(c.isdigit() for c in run)
        ):
            end = match.end()
            # A wrapped blob goes on to its short last line ("...\nAbC12x==").
            while line := _BASE64_NEXT_LINE.match(text, end):
                end = line.end()
            spans.append((match.start(), end))
    return spans


def _fingerprint(block: str) -> str | None:
    """The fingerprint of the first public key block in ``block`` (a template's field)."""
    fingerprints = key_fingerprints(block)
    return fingerprints[0] if fingerprints else None


def read_text(raw: bytes) -> str:
    """The text of a file's bytes: UTF-8 (with or without BOM) when it decodes, else the
    charset an HTML file declares, else what charset-normalizer detects; never raises."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _DECLARED_CHARSET.search(raw[:4096])
    if declared:
        try:
            return raw.decode(declared[1].decode("ascii").lower(), errors="replace")
        except LookupError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:1_000_000]).best()
    if best is not None:
        return raw.decode(best.encoding, errors="replace")
    return raw.decode("utf-8", errors="replace")
