"""The canonical form of a selector, as deconfliction compares it.

Two agencies that hold the same selector must produce the same bytes before it is
hashed, however each typed it: ``canonical(kind, value)`` is that form. The kinds are
the selector kinds of ``spector.model`` (their ``normalise`` does the checking: base58
and bech32 checksums, EIP-55, the v3 onion checksum, phone numbers by ``phonenumbers``,
email addresses by ``email-validator`` without DNS), plus ``handle``, a free-form
nickname that belongs to no one service. Where deconfliction needs a different form
than the model keeps, it is derived here from the model's:

- ``eth_address``: a mixed-case input must carry a valid EIP-55 checksum; the
  canonical form is lower case (``0x`` + 40 lower hex digits).
- ``phone``: E.164; a number without ``+country`` is an error unless a default
  ``region`` (ISO 3166 alpha-2, e.g. ``"DE"``) is given.
- ``handle``: NFKC, case-folded, surrounding whitespace and leading ``@`` stripped,
  inner runs of whitespace folded to one space; empty is an error.
- ``pgp_fingerprint``: 40 (v4) or 64 (v5/v6) hex digits, upper case, spaces and a
  ``0x`` prefix removed; a key id (8 or 16 hex digits) is refused as not a fingerprint
  (key ids collide; only a fingerprint names one key).

Contract: ``canonical`` is idempotent and raises ``SelectorInvalid`` (exit 2) naming the
kind, the value and the reason; an unknown kind is a ``UsageError`` listing the known.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from spector.errors import SelectorInvalid, UsageError
from spector.model._selector_base import all_selector_kinds, selector_kind

__all__ = ["MAX_VALUE_LENGTH", "canonical", "deconfliction_kinds"]

#: Longer input is refused before any parsing (hostile input is the normal case).
MAX_VALUE_LENGTH = 512
_HANDLE_MAX = 200
_WS = re.compile(r"\s+")


def deconfliction_kinds() -> tuple[str, ...]:
    """Every kind ``canonical`` accepts, sorted."""
    return tuple(sorted({k.name for k in all_selector_kinds()} | {"handle"}))


def canonical(kind: str, value: str, *, region: str | None = None) -> str:
    """The canonical form of ``value`` as a selector of ``kind`` (see the module doc).

    ``region`` is the default country for phone numbers written without ``+country``;
    it is ignored for every other kind.
    """
    if kind not in deconfliction_kinds():
        raise UsageError(
            f"unknown selector kind {kind!r}", expected="one of " + ", ".join(deconfliction_kinds())
        )
    if not isinstance(value, str):
        raise SelectorInvalid(kind, repr(value), "not text")
    if len(value) > MAX_VALUE_LENGTH:
        raise SelectorInvalid(
            kind, value[:40] + "...", f"{len(value)} characters, at most {MAX_VALUE_LENGTH}"
        )
    if kind == "handle":
        return _handle(value)
    if kind == "phone":
        return _phone(value, region)
    normal = selector_kind(kind).normalise(value)
    if kind == "eth_address":
        return normal.lower()
    return normal


def _handle(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).casefold().strip()
    text = _WS.sub(" ", text.lstrip("@").strip())
    if not text:
        raise SelectorInvalid("handle", raw, "empty (nothing left after @ and spaces)")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise SelectorInvalid("handle", raw, "holds a control or invisible character")
    if len(text) > _HANDLE_MAX:
        raise SelectorInvalid("handle", raw, f"{len(text)} characters, at most {_HANDLE_MAX}")
    # NFKC after casefold can un-normalise a few characters; fold once more to be idempotent.
    return unicodedata.normalize("NFKC", text)


def _phone(raw: str, region: str | None) -> str:
    text = raw.strip()
    if region is None:
        if not text.startswith(("+", "00")):
            raise SelectorInvalid(
                "phone", raw, "no +country code; give it in international form or a default region"
            )
        return selector_kind("phone").normalise("+" + text[2:] if text.startswith("00") else text)
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise UsageError(
            f"unknown phone region {region!r}", expected="an ISO 3166 alpha-2 country code"
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise SelectorInvalid("phone", raw, str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise SelectorInvalid("phone", raw, f"not a valid number (default region {region})")
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164
