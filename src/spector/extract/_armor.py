"""OpenPGP ASCII armor as real pages show it, and the fingerprints inside.

A vendor page rarely shows a key block as RFC 9580 writes it: the lines are broken by
``<br>`` and ``<p>``, the block is spread over several elements, ``+ / =`` may be HTML
entities, the blank line after the header is lost, or every line break has collapsed to
a space (text copied from a rendered page). This module finds each armored block in
such text, rebuilds the base64 body from its tokens, checks the CRC-24 when the block
carries one, and lets Sequoia (pysequoia) parse the packets: a block is reported only
when Sequoia reads a certificate (or a signature) from it.

Contract: ``armor_blocks(text)`` never raises; each block has the span of its BEGIN and
END lines in ``text``, its armor kind, and the upper-case hex fingerprints it yields
(empty when the block is damaged). Blocks are bounded (``MAX_BLOCK`` characters).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["ArmorBlock", "armor_blocks", "key_fingerprints"]

MAX_BLOCK = 2_000_000  # characters between BEGIN and END (a key with many signatures)
_MAX_SKIPPED_TOKENS = 40  # header words that may precede a collapsed base64 body

_BEGIN = re.compile(r"-----BEGIN PGP ([A-Z][A-Z ,/0-9]{2,40}?)-----")
_TAG = re.compile(r"<(?:\"[^\"]*\"|'[^']*'|[^'\">])*>")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_BODY = re.compile(r"([A-Za-z0-9+/]*={0,2})(=[A-Za-z0-9+/]{4})?")
_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,30}:[ \t]")
# What an armor body is made of, in plain text or HTML: header lines, base64, markup.
_ARMOR_LINES = re.compile(
    r"(?:\s*(?:<[^<>]{0,200}>)?[ \t]*[A-Za-z][A-Za-z0-9-]{0,30}: [^\n<]*(?=[\r\n<]))*"
    r"(?:[A-Za-z0-9+/=\s]|<[^<>]{0,200}>|&#?[A-Za-z0-9]{1,8};)*"
)
_QUOTE = re.compile(r"^(?:>[ \t]?)+")


@dataclass(frozen=True, slots=True)
class ArmorBlock:
    start: int  # offset of "-----BEGIN"
    end: int  # offset just past the END line's last dash (or where the block was cut)
    kind: str  # "PUBLIC KEY BLOCK", "SIGNATURE", "MESSAGE", ...
    fingerprints: tuple[str, ...]  # upper-case hex, no spaces; () when unreadable


def armor_blocks(text: str) -> Iterator[ArmorBlock]:
    """Every armored block in ``text`` (HTML or plain), in order."""
    pos = 0
    while True:
        begin = _BEGIN.search(text, pos)
        if begin is None:
            return
        kind = begin[1]
        if kind == "SIGNED MESSAGE":
            pos = begin.end()  # cleartext follows, then a SIGNATURE block: read on
            continue
        footer = f"-----END PGP {kind}-----"
        stop = text.find(footer, begin.end(), begin.end() + MAX_BLOCK)
        if stop < 0:
            # No END (a cut page): the armor lines that follow are still not text.
            body = _ARMOR_LINES.match(text, begin.end(), begin.end() + MAX_BLOCK)
            end = body.end() if body else begin.end()
            yield ArmorBlock(begin.start(), end, kind, ())
            pos = end
            continue
        end = stop + len(footer)
        inner = text[begin.end() : stop]
        fingerprints: tuple[str, ...] = ()
        if kind in ("PUBLIC KEY BLOCK", "SIGNATURE"):
            fingerprints = _decode(kind, _clean(inner))
        yield ArmorBlock(begin.start(), end, kind, fingerprints)
        pos = end


def key_fingerprints(text: str) -> tuple[str, ...]:
    """The fingerprints of the first public key block in ``text`` (a template's field)."""
    for block in armor_blocks(text):
        if block.kind == "PUBLIC KEY BLOCK" and block.fingerprints:
            return block.fingerprints
    return ()


def _clean(inner: str) -> str:
    """The block's text as a reader sees it: tags are line breaks, entities decoded, and
    the escapes of a JSON or JavaScript string ("\\n", "\\/") undone."""
    if "\\" in inner:
        inner = inner.replace("\\r", "").replace("\\n", "\n").replace("\\/", "/")
    text = _TAG.sub("\n", inner)
    text = html.unescape(text) if "&" in text else text
    return _INVISIBLE.sub("", text)


@lru_cache(maxsize=512)
def _decode(kind: str, inner: str) -> tuple[str, ...]:
    # Lines stripped of indentation and of forum quote marks ("> ").
    lines = [_QUOTE.sub("", line.strip(" \t\r\xa0")) for line in inner.splitlines()]
    # Drop armor header lines ("Version: ...", "Comment: ...") while the lines survive;
    # a block collapsed onto one line keeps its header words, skipped as tokens below.
    while len(lines) > 1 and (not lines[0] or _HEADER_LINE.match(lines[0])):
        lines.pop(0)
    tokens = " ".join(lines).split()
    for skip in range(min(len(tokens), _MAX_SKIPPED_TOKENS)):
        data = _payload("".join(tokens[skip:]))
        if data is None:
            continue
        fingerprints = _parse(kind, data)
        if fingerprints:
            return fingerprints
    return ()


def _payload(joined: str) -> bytes | None:
    """The bytes of a base64 body (with its optional CRC-24 line), or None."""
    match = _BODY.fullmatch(joined)
    if match is None or not match[1]:
        return None
    body = match[1].rstrip("=")
    if len(body) % 4 == 1:
        return None
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data or not data[0] & 0x80:
        return None  # an OpenPGP packet header always has its top bit set
    if match[2] is not None:
        try:
            crc = base64.b64decode(match[2][1:], validate=True)
        except (binascii.Error, ValueError):
            return None
        if int.from_bytes(crc, "big") != _crc24(data):
            return None
    return data


def _packet_tag(first: int) -> int:
    return first & 0x3F if first & 0x40 else (first >> 2) & 0x0F


def _parse(kind: str, data: bytes) -> tuple[str, ...]:
    import pysequoia

    tag = _packet_tag(data[0])
    try:
        if kind == "PUBLIC KEY BLOCK":
            if tag != 6:  # a certificate starts with a public-key packet
                return ()
            certs = pysequoia.Cert.split_bytes(data)
            return tuple(dict.fromkeys(str(c.fingerprint).upper() for c in certs))
        if tag != 2:
            return ()
        issuer = pysequoia.Sig.from_bytes(data).issuer_fingerprint
    except Exception:  # Sequoia refuses the packets: not a readable block
        return ()
    return (str(issuer).upper(),) if issuer else ()


def _crc24_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc = (crc << 1) ^ (0x1864CFB if crc & 0x800000 else 0)
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC24_TABLE = _crc24_table()


def _crc24(data: bytes) -> int:
    """RFC 9580 §6.1 CRC-24 (init 0xB704CE, generator 0x1864CFB), table-driven."""
    crc = 0xB704CE
    table = _CRC24_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[((crc >> 16) ^ byte) & 0xFF]
    return crc
