"""Selectors found in any text: crypto addresses, onions, PGP keys, contact handles.

Candidates are found by pattern, then each must pass its kind's checksum-exact
validation (``spector.model``): a string that looks like an address but fails its
checksum is not reported. PGP public key blocks are parsed with Sequoia (pysequoia), not
by hand, and reported as their fingerprint. Phone numbers come from libphonenumber's
matcher. Handles that look like email addresses are XMPP when the text calls them so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers

from spector.errors import SelectorInvalid
from spector.model import selector_kind

__all__ = ["Found", "scan_text"]

MAX_TEXT = 16 << 20  # characters scanned per text; the rest is ignored (hostile input)


@dataclass(frozen=True, slots=True, order=True)
class Found:
    start: int  # character offsets in the text
    end: int
    kind: str
    value: str  # normalised


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("btc_address", re.compile(rf"(?<![{_B58}])[13mn2][{_B58}]{{25,34}}(?![{_B58}])")),
    (
        "btc_address",
        re.compile(r"(?<![0-9a-zA-Z])(?:bc|tb|bcrt)1[ac-hj-np-z02-9]{6,87}(?![0-9a-zA-Z])", re.I),
    ),
    ("eth_address", re.compile(r"(?<![0-9a-zA-Z])0x[0-9a-fA-F]{40}(?![0-9a-zA-Z])")),
    (
        "xmr_address",
        re.compile(rf"(?<![{_B58}])[4589A][{_B58}]{{94}}(?:[{_B58}]{{11}})?(?![{_B58}])"),
    ),
    ("onion", re.compile(r"(?<![a-z2-7])[a-z2-7]{56}\.onion(?![a-z0-9-])", re.I)),
    ("session_id", re.compile(r"(?<![0-9a-fA-F])05[0-9a-fA-F]{64}(?![0-9a-fA-F])")),
    (
        "pgp_fingerprint",
        re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-F]{4} ?){9}[0-9A-F]{4}(?![0-9A-Fa-f])"),
    ),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")),
    ("telegram", re.compile(r"(?:https?://)?(?:t|telegram)\.me/[A-Za-z][A-Za-z0-9_]{4,31}", re.I)),
    ("telegram", re.compile(r"(?:telegram|tg)\s*[:\-]?\s*@?([A-Za-z][A-Za-z0-9_]{4,31})", re.I)),
    (
        "wickr",
        re.compile(r"wickr(?:\s*me)?\s*(?:id)?\s*[:\-]\s*([A-Za-z0-9][A-Za-z0-9._-]{2,31})", re.I),
    ),
]
_PGP_BLOCK = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----", re.S
)
_XMPP_CONTEXT = re.compile(r"(jabber|xmpp|jid)\W{0,12}$", re.I)


def scan_text(text: str) -> list[Found]:
    """Every valid selector in ``text``, by position; overlapping finds keep the longest."""
    text = text[:MAX_TEXT]
    found = list(_candidates(text))
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    result: list[Found] = []
    for item in found:
        if result and item.start < result[-1].end:
            continue  # inside a longer selector (an onion inside an email, say)
        result.append(item)
    return result


def _candidates(text: str) -> Iterator[Found]:
    for match in _PGP_BLOCK.finditer(text):
        fingerprint = _fingerprint(match.group())
        if fingerprint:
            yield Found(match.start(), match.end(), "pgp_fingerprint", fingerprint)
    for kind_name, pattern in _PATTERNS:
        kind = selector_kind(kind_name)
        for match in pattern.finditer(text):
            raw = match.group(1) if pattern.groups else match.group()
            start = match.start(1) if pattern.groups else match.start()
            end = match.end(1) if pattern.groups else match.end()
            if kind_name == "email" and _XMPP_CONTEXT.search(text[max(0, start - 20) : start]):
                kind_name_here, kind_here = "xmpp", selector_kind("xmpp")
            else:
                kind_name_here, kind_here = kind_name, kind
            try:
                yield Found(start, end, kind_name_here, kind_here.normalise(raw))
            except SelectorInvalid:
                continue
    matcher = phonenumbers.PhoneNumberMatcher(
        text[:1_000_000], None, leniency=phonenumbers.Leniency.VALID
    )
    for phone in matcher:
        number = phonenumbers.format_number(phone.number, phonenumbers.PhoneNumberFormat.E164)
        yield Found(int(phone.start), int(phone.end), "phone", number)


def _fingerprint(block: str) -> str | None:
    import pysequoia

    try:
        cert = pysequoia.Cert.from_bytes(block.encode("ascii", "replace"))
    except Exception:
        return None
    return str(cert.fingerprint).upper()
