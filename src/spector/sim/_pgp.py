"""Real, deterministic OpenPGP public keys for the invented vendors of a training range.

Vendors on darknet markets publish PGP keys, so the range's vendors need them too, and they
must be real certificates that GnuPG and Sequoia accept. A range must also be byte-identical
for the same seed, which rules out every library's key generation: the OpenPGP
implementations (GnuPG and its wrappers, Sequoia, PGPy) draw key material from the system's
random source, and no maintained one generates a key from a seed. So this module builds the packets
itself (RFC 4880, with the EdDSA and Curve25519 conventions of RFC 6637 and RFC 9580's
"legacy" algorithms) from keys derived from a secret, and lets ``cryptography`` do only the
curve arithmetic. Ed25519 signatures are deterministic, so the same inputs give the same
bytes.

A certificate from :func:`make_public_key` holds:

* an Ed25519 primary key (v4, algorithm 22 EdDSA, curve OID 1.3.6.1.4.1.11591.15.1) that
  certifies and signs;
* one User ID with a positive certification self-signature (type 0x13, SHA-256);
* a Curve25519 ECDH encryption subkey (algorithm 18, OID 1.3.6.1.4.1.3029.1.5.1, KDF
  SHA-256 / AES-128 as GnuPG writes it) with a subkey binding signature (type 0x18).

Both keys come from SHA-256 over a label and ``secret``; nothing else is random. The tests
(``tests/sim/test_pgp.py``) check the output with Sequoia (``pysequoia``): the certificate
parses, its fingerprint and User ID match, the self-signatures verify (a flipped signature
byte makes the User ID or subkey disappear), Sequoia can encrypt to the subkey and decrypt
with the derived secret, and GnuPG imports it with the same fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["PgpKey", "make_public_key"]

# Packet tags (RFC 4880 §4.3).
_TAG_SIGNATURE = 2
_TAG_PUBLIC_KEY = 6
_TAG_USER_ID = 13
_TAG_PUBLIC_SUBKEY = 14

# Algorithm ids (RFC 4880 §9, RFC 6637, RFC 9580 §9.1).
_ALGO_ECDH = 18
_ALGO_EDDSA_LEGACY = 22
_HASH_SHA256 = 8
_SYM_AES128 = 7

# Curve OIDs, DER body without the tag and length byte.
_OID_ED25519 = bytes.fromhex("2b06010401da470f01")  # 1.3.6.1.4.1.11591.15.1
_OID_CV25519 = bytes.fromhex("2b060104019755010501")  # 1.3.6.1.4.1.3029.1.5.1

# Signature types (RFC 4880 §5.2.1).
_SIG_POSITIVE_CERTIFICATION = 0x13
_SIG_SUBKEY_BINDING = 0x18

# Signature subpacket types (RFC 4880 §5.2.3.1, RFC 9580 §5.2.3.35).
_SUB_CREATION_TIME = 2
_SUB_PREFERRED_SYMMETRIC = 11
_SUB_ISSUER_KEY_ID = 16
_SUB_PREFERRED_HASH = 21
_SUB_PREFERRED_COMPRESSION = 22
_SUB_KEY_FLAGS = 27
_SUB_FEATURES = 30
_SUB_ISSUER_FINGERPRINT = 33

_FLAGS_CERTIFY_SIGN = 0x01 | 0x02
_FLAGS_ENCRYPT = 0x04 | 0x08  # communications and storage

# Preferences a current GnuPG writes: AES-256, AES-192, AES-128; SHA-512, SHA-384, SHA-256,
# SHA-224; ZLIB, BZip2, ZIP; features: modification detection (SEIPD v1).
_PREFERRED_SYMMETRIC = bytes([9, 8, 7])
_PREFERRED_HASH = bytes([10, 9, 8, 11])
_PREFERRED_COMPRESSION = bytes([2, 3, 1])
_FEATURES = bytes([0x01])

# Labels that separate the two keys derived from one secret.
_LABEL_PRIMARY = b"spector.sim.pgp/v1/ed25519-primary\x00"
_LABEL_SUBKEY = b"spector.sim.pgp/v1/cv25519-subkey\x00"

_ARMOR_HEADER = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
_ARMOR_FOOTER = "-----END PGP PUBLIC KEY BLOCK-----"
_ARMOR_LINE = 64

_CRC24_INIT = 0xB704CE
_CRC24_POLY = 0x1864CFB

_MAX_TIMESTAMP = 0xFFFFFFFF
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PgpKey:
    """An OpenPGP v4 certificate (transferable public key) and the facts people quote of it.

    ``armored`` is the ASCII-armored certificate, ending in its CRC-24 line and the END line
    with a final newline. ``fingerprint`` is the primary key's v4 fingerprint as 40
    upper-case hex digits; ``key_id`` is its low 64 bits as 16 upper-case hex digits.
    """

    armored: str
    fingerprint: str
    key_id: str
    user_id: str


def make_public_key(secret: bytes, user_id: str, created: datetime) -> PgpKey:
    """The certificate of the Ed25519 / Curve25519 key pair that ``secret`` determines.

    ``created`` (timezone-aware; whole seconds are used) is the creation time of both keys
    and of both self-signatures. The same ``secret``, ``user_id`` and ``created`` give the
    same bytes on any machine. Raises :class:`ValueError` for a naive ``created``, one
    outside 1970-01-01 … 2106-02-07 (the 32-bit OpenPGP timestamp) or an empty ``user_id``.
    """
    if created.tzinfo is None or created.utcoffset() is None:
        raise ValueError("created must be timezone-aware (UTC)")
    timestamp = (created - _EPOCH) // timedelta(seconds=1)
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ValueError(f"created {created.isoformat()} is outside OpenPGP's 32-bit timestamp")
    if not user_id:
        raise ValueError("user_id must not be empty")

    signing_key = _primary_private_key(secret)
    encryption_key = _subkey_private_key(secret)
    when = timestamp.to_bytes(4, "big")

    primary_body = _ed25519_public_key_body(signing_key, when)
    fingerprint = _fingerprint(primary_body)
    subkey_body = _cv25519_public_key_body(encryption_key, when)
    uid = user_id.encode("utf-8")

    certification = _signature(
        signing_key,
        fingerprint,
        sig_type=_SIG_POSITIVE_CERTIFICATION,
        signed_prefix=_key_for_hash(primary_body) + b"\xb4" + len(uid).to_bytes(4, "big") + uid,
        when=when,
        hashed_extra=[
            _subpacket(_SUB_KEY_FLAGS, bytes([_FLAGS_CERTIFY_SIGN])),
            _subpacket(_SUB_PREFERRED_SYMMETRIC, _PREFERRED_SYMMETRIC),
            _subpacket(_SUB_PREFERRED_HASH, _PREFERRED_HASH),
            _subpacket(_SUB_PREFERRED_COMPRESSION, _PREFERRED_COMPRESSION),
            _subpacket(_SUB_FEATURES, _FEATURES),
        ],
    )
    binding = _signature(
        signing_key,
        fingerprint,
        sig_type=_SIG_SUBKEY_BINDING,
        signed_prefix=_key_for_hash(primary_body) + _key_for_hash(subkey_body),
        when=when,
        hashed_extra=[_subpacket(_SUB_KEY_FLAGS, bytes([_FLAGS_ENCRYPT]))],
    )

    certificate = b"".join(
        [
            _packet(_TAG_PUBLIC_KEY, primary_body),
            _packet(_TAG_USER_ID, uid),
            _packet(_TAG_SIGNATURE, certification),
            _packet(_TAG_PUBLIC_SUBKEY, subkey_body),
            _packet(_TAG_SIGNATURE, binding),
        ]
    )
    return PgpKey(
        armored=_armor(certificate),
        fingerprint=fingerprint.hex().upper(),
        key_id=fingerprint[-8:].hex().upper(),
        user_id=user_id,
    )


# --- key material ------------------------------------------------------------------------


def _primary_private_key(secret: bytes) -> Ed25519PrivateKey:
    """The Ed25519 primary key: its 32-byte seed is SHA-256 of a label and ``secret``."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(_LABEL_PRIMARY + secret).digest())


def _subkey_private_key(secret: bytes) -> X25519PrivateKey:
    """The X25519 encryption subkey: SHA-256 of another label and ``secret``, clamped."""
    scalar = bytearray(hashlib.sha256(_LABEL_SUBKEY + secret).digest())
    scalar[0] &= 248
    scalar[31] &= 127
    scalar[31] |= 64
    return X25519PrivateKey.from_private_bytes(bytes(scalar))


def _ed25519_public_key_body(key: Ed25519PrivateKey, when: bytes) -> bytes:
    """Public-key packet body: v4, time, EdDSA legacy, Ed25519 OID, MPI 0x40 || point."""
    point = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return (
        b"\x04"
        + when
        + bytes([_ALGO_EDDSA_LEGACY, len(_OID_ED25519)])
        + _OID_ED25519
        + _mpi(b"\x40" + point)
    )


def _cv25519_public_key_body(key: X25519PrivateKey, when: bytes) -> bytes:
    """Public-subkey packet body: v4, time, ECDH, Curve25519 OID, MPI, KDF parameters."""
    point = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kdf = bytes([3, 1, _HASH_SHA256, _SYM_AES128])  # size, reserved, hash, key-wrap cipher
    return (
        b"\x04"
        + when
        + bytes([_ALGO_ECDH, len(_OID_CV25519)])
        + _OID_CV25519
        + _mpi(b"\x40" + point)
        + kdf
    )


def _key_for_hash(body: bytes) -> bytes:
    """How a v4 key enters a fingerprint or a signature hash: 0x99, 2-byte length, body."""
    return b"\x99" + len(body).to_bytes(2, "big") + body


def _fingerprint(body: bytes) -> bytes:
    """The v4 fingerprint: SHA-1 over the key as hashed (RFC 4880 §12.2)."""
    return hashlib.sha1(_key_for_hash(body), usedforsecurity=False).digest()


# --- signatures ----------------------------------------------------------------------------


def _signature(
    key: Ed25519PrivateKey,
    fingerprint: bytes,
    *,
    sig_type: int,
    signed_prefix: bytes,
    when: bytes,
    hashed_extra: list[bytes],
) -> bytes:
    """A v4 SHA-256 EdDSA signature packet body over ``signed_prefix`` (RFC 4880 §5.2.4)."""
    hashed = b"".join(
        [
            _subpacket(_SUB_CREATION_TIME, when),
            _subpacket(_SUB_ISSUER_FINGERPRINT, b"\x04" + fingerprint),
            *hashed_extra,
        ]
    )
    unhashed = _subpacket(_SUB_ISSUER_KEY_ID, fingerprint[-8:])
    header = (
        bytes([4, sig_type, _ALGO_EDDSA_LEGACY, _HASH_SHA256])
        + len(hashed).to_bytes(2, "big")
        + hashed
    )
    trailer = b"\x04\xff" + len(header).to_bytes(4, "big")
    digest = hashlib.sha256(signed_prefix + header + trailer).digest()
    # Legacy EdDSA signs the digest itself; the 64-byte signature is R || S, both stored as
    # MPIs of their bytes read big-endian (how GnuPG and Sequoia write them).
    raw = key.sign(digest)
    return (
        header
        + len(unhashed).to_bytes(2, "big")
        + unhashed
        + digest[:2]
        + _mpi(raw[:32])
        + _mpi(raw[32:])
    )


def _subpacket(kind: int, data: bytes) -> bytes:
    """One signature subpacket; all of ours are short enough for a one-octet length."""
    length = len(data) + 1
    if length >= 192:
        raise AssertionError(f"subpacket {kind} too long: {length}")  # pragma: no cover
    return bytes([length, kind]) + data


# --- encoding ------------------------------------------------------------------------------


def _mpi(value: bytes) -> bytes:
    """A multiprecision integer: 2-byte bit count, then the bytes without leading zeros."""
    stripped = value.lstrip(b"\x00")
    bits = int.from_bytes(stripped, "big").bit_length()
    return bits.to_bytes(2, "big") + stripped


def _packet(tag: int, body: bytes) -> bytes:
    """A packet with an OpenPGP-format (new) header (RFC 4880 §4.2.2)."""
    size = len(body)
    if size < 192:
        length = bytes([size])
    elif size < 8384:
        rest = size - 192
        length = bytes([(rest >> 8) + 192, rest & 0xFF])
    else:
        length = b"\xff" + size.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + length + body


def _crc24(data: bytes) -> int:
    """The CRC-24 of RFC 4880 §6.1, used by the armor checksum."""
    crc = _CRC24_INIT
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc & 0xFFFFFF


def _armor(data: bytes) -> str:
    """ASCII armor (RFC 4880 §6.2): header, blank line, base64 lines, ``=`` CRC-24, footer."""
    text = base64.b64encode(data).decode("ascii")
    lines = [text[i : i + _ARMOR_LINE] for i in range(0, len(text), _ARMOR_LINE)]
    checksum = base64.b64encode(_crc24(data).to_bytes(3, "big")).decode("ascii")
    return "\n".join([_ARMOR_HEADER, "", *lines, f"={checksum}", _ARMOR_FOOTER, ""])
