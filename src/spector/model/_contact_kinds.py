"""Selector kinds for onion services, PGP keys and contact handles."""

from __future__ import annotations

import base64
import hashlib
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from spector.model._selector_base import SelectorKind, register

__all__ = ["onion_address_from_key", "onion_public_key"]

_ONION_VERSION = b"\x03"
_ONION_RE = re.compile(r"^[a-z2-7]{56}$")
_ONION_V2_RE = re.compile(r"^[a-z2-7]{16}$")


def onion_public_key(host: str) -> bytes:
    """The ed25519 public key inside a v3 onion host name; raises ValueError on a bad one.

    rend-spec-v3 §6: onion = base32(PUBKEY | CHECKSUM | VERSION) with
    CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2] and VERSION = 3.
    """
    label = host.removesuffix(".onion")
    if not _ONION_RE.match(label):
        raise ValueError("not 56 base32 characters")
    raw = base64.b32decode(label.upper())
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:35]
    if version != _ONION_VERSION:
        raise ValueError(f"version byte {version.hex()}, expected 03")
    if hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2] != checksum:
        raise ValueError("checksum does not match")
    return pubkey


def onion_address_from_key(pubkey: bytes) -> str:
    """The v3 onion host name (with ``.onion``) of a 32-byte ed25519 public key."""
    if len(pubkey) != 32:
        raise ValueError("an ed25519 public key has 32 bytes")
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + _ONION_VERSION).digest()[:2]
    return base64.b32encode(pubkey + checksum + _ONION_VERSION).decode().lower() + ".onion"


def _onion_label(raw: str) -> str:
    """The service label of an onion host or URL: scheme, user, port, path, subdomains dropped."""
    host = raw.strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).split("/", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    return host.removesuffix(".onion").rsplit(".", 1)[-1]


class OnionKind(SelectorKind):
    """A v3 onion service, normalised to ``<56 chars>.onion`` (scheme, port, path dropped)."""

    name = "onion"
    label = "Onion v3 address"

    def normalise(self, raw: str) -> str:
        label = _onion_label(raw)
        if len(label) == 16:
            raise self.invalid(raw, "a v2 onion (16 characters): use kind onion_v2")
        try:
            onion_public_key(label)
        except ValueError as exc:
            raise self.invalid(raw, str(exc)) from exc
        return label + ".onion"


class OnionV2Kind(SelectorKind):
    """A v2 onion service (historical), normalised to ``<16 chars>.onion``.

    rend-spec-v2: the label is base32 of the first 80 bits of the SHA-1 of the service's
    RSA key, so it has no checksum: any 16 base32 characters are a well-formed address.
    Tor 0.4.6 (2021) removed v2 services; the kind exists for imported and archived data.
    """

    name = "onion_v2"
    label = "Onion v2 address"
    historical = True
    note = "Tor no longer routes v2 onions (since 2021); kept for old captures and dumps"

    def normalise(self, raw: str) -> str:
        label = _onion_label(raw)
        if len(label) == 56:
            raise self.invalid(raw, "a v3 onion (56 characters): use kind onion")
        if not _ONION_V2_RE.match(label):
            raise self.invalid(raw, "expected 16 base32 characters (a-z, 2-7) before .onion")
        return label + ".onion"


class PgpFingerprintKind(SelectorKind):
    """A v4 (40 hex) or v5/v6 (64 hex) fingerprint, upper case without spaces."""

    name = "pgp_fingerprint"
    label = "PGP fingerprint"

    def normalise(self, raw: str) -> str:
        text = re.sub(r"\s+", "", raw).upper().removeprefix("0X")
        if not re.fullmatch(r"[0-9A-F]+", text or "-"):
            raise self.invalid(raw, "not hexadecimal")
        if len(text) not in (40, 64):
            what = "a key id, not a fingerprint" if len(text) in (8, 16) else "wrong length"
            raise self.invalid(raw, f"{len(text)} hex digits ({what}); expected 40 or 64")
        return text


class EmailKind(SelectorKind):
    """An email address, lower-cased; .onion and .i2p mail domains are accepted."""

    name = "email"
    label = "Email address"

    def normalise(self, raw: str) -> str:
        text = raw.strip().removeprefix("mailto:")
        local, at, domain = text.rpartition("@")
        if not at:
            raise self.invalid(raw, "no @")
        if domain.lower().endswith((".onion", ".i2p")):
            # email_validator refuses special-use domains; check the local part alone.
            _check_hostname(self, raw, domain)
            probe = f"{local}@example.com"
        else:
            probe = text
        try:
            checked = validate_email(probe, check_deliverability=False)
        except EmailNotValidError as exc:
            raise self.invalid(raw, str(exc)) from exc
        local = checked.local_part if probe != text else local
        domain = domain if probe != text else checked.domain
        return f"{local}@{domain}".lower()


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _check_hostname(kind: SelectorKind, raw: str, host: str) -> None:
    labels = host.lower().split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.match(x) for x in labels):
        raise kind.invalid(raw, f"{host!r} is not a host name")


class XmppKind(SelectorKind):
    """A Jabber/XMPP address (JID) ``local@domain``; the resource is dropped, case folded."""

    name = "xmpp"
    label = "Jabber/XMPP address"

    def normalise(self, raw: str) -> str:
        text = raw.strip().removeprefix("xmpp:").split("/", 1)[0]
        local, at, domain = text.rpartition("@")
        if not at or not local:
            raise self.invalid(raw, "expected local@domain")
        if len(local) > 1023 or re.search(r"[\s\"&'/:<>@]", local):
            raise self.invalid(raw, "the local part holds a character XMPP forbids")
        _check_hostname(self, raw, domain)
        return f"{local}@{domain}".lower()


_TELEGRAM_RE = re.compile(r"^[a-z][a-z0-9_]{3,30}[a-z0-9]$")


class TelegramKind(SelectorKind):
    """A Telegram username (5-32 of a-z, 0-9, _; starts with a letter), from @name or t.me/name."""

    name = "telegram"
    label = "Telegram username"

    def normalise(self, raw: str) -> str:
        text = raw.strip().lower()
        text = re.sub(r"^(https?://)?(www\.)?(t|telegram)\.me/", "", text).lstrip("@")
        text = text.rstrip("/")
        if not _TELEGRAM_RE.match(text):
            raise self.invalid(raw, "expected 5-32 of a-z 0-9 _, starting with a letter")
        return text


_WICKR_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")


class WickrKind(SelectorKind):
    """A Wickr Me username, case-insensitive (3-32 of a-z 0-9 . _ -)."""

    name = "wickr"
    label = "Wickr username"

    def normalise(self, raw: str) -> str:
        text = raw.strip().lower()
        if not _WICKR_RE.match(text):
            raise self.invalid(raw, "expected 3-32 of a-z 0-9 . _ -")
        return text


class SessionIdKind(SelectorKind):
    """A Session messenger id: 66 hex digits starting with 05 (an x25519 key)."""

    name = "session_id"
    label = "Session ID"

    def normalise(self, raw: str) -> str:
        text = raw.strip().lower()
        if not re.fullmatch(r"05[0-9a-f]{64}", text):
            raise self.invalid(raw, "expected 66 hex digits starting with 05")
        return text


class PhoneKind(SelectorKind):
    """A phone number in international form, normalised to E.164 (``+4915112345678``)."""

    name = "phone"
    label = "Phone number"

    def normalise(self, raw: str) -> str:
        try:
            number = phonenumbers.parse(raw.strip(), None)
        except phonenumbers.NumberParseException as exc:
            raise self.invalid(raw, f"{exc} (international form with + expected)") from exc
        if not phonenumbers.is_valid_number(number):
            raise self.invalid(raw, "not a valid number for its country code")
        e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return e164


for _kind in (
    OnionKind(),
    OnionV2Kind(),
    PgpFingerprintKind(),
    EmailKind(),
    XmppKind(),
    TelegramKind(),
    WickrKind(),
    SessionIdKind(),
    PhoneKind(),
):
    register(_kind)
