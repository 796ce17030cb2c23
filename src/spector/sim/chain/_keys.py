"""Fake keys and regtest addresses, all derived from the seed and a label.

A "public key" here is 33 bytes shaped like a compressed secp256k1 key (02/03 prefix +
sha256 of seed and label); it is not on the curve and nobody holds a private key for it.
Every address is the hash160 of such a key (P2PKH, P2WPKH), of a P2WPKH redeem script
wrapped in P2SH, or (P2TR) its 32-byte x part used as the output key, untweaked.
"""

from __future__ import annotations

import hashlib

from bip_utils import Base58Encoder, Hash160, SegwitBech32Encoder

__all__ = [
    "P2PKH",
    "P2SH",
    "P2TR",
    "P2WPKH",
    "SCRIPT_NAMES",
    "Key",
    "fake_pubkey",
    "hash160",
    "key_for",
    "key_for_payto",
    "payto_address",
    "vendor_payto_label",
]

P2PKH, P2SH, P2WPKH, P2TR = 0, 1, 2, 3
SCRIPT_NAMES = ("p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr")
_HRP = "bcrt"
_P2PKH_VERSION = b"\x6f"
_P2SH_VERSION = b"\xc4"


class Key:
    """An address the range controls: its text, output script, type and fake pubkey."""

    __slots__ = ("address", "pubkey", "redeem", "spk", "stype")

    def __init__(
        self, address: str, spk: bytes, stype: int, pubkey: bytes, redeem: bytes = b""
    ) -> None:
        self.address = address
        self.spk = spk
        self.stype = stype
        self.pubkey = pubkey
        self.redeem = redeem  # the P2WPKH redeem script of a P2SH key, else empty


def _hash160_hashlib(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def _hash160_bip_utils(data: bytes) -> bytes:
    return bytes(Hash160.QuickDigest(data))


try:  # OpenSSL's RIPEMD-160 is much faster, but OpenSSL 3 may leave it out
    hashlib.new("ripemd160", b"")
    hash160 = _hash160_hashlib
except ValueError:  # pragma: no cover - depends on the OpenSSL build
    hash160 = _hash160_bip_utils


def fake_pubkey(seed: int, label: str) -> bytes:
    """33 bytes shaped like a compressed public key, from sha256 of seed and label."""
    digest = hashlib.sha256(f"spector-sim-chain\x00{seed}\x00{label}".encode()).digest()
    return bytes((2 | (digest[31] & 1),)) + digest


def payto_address(seed: int, label: str) -> str:
    """The regtest P2WPKH address (``bcrt1q...``) of the fake key for ``seed`` and ``label``.

    The world calls this to choose walletless vendors' pay-to addresses; use
    ``vendor_payto_label(account_id)`` as the label so that the chain can put the matching
    public key in the witness when the vendor spends from it.
    """
    return str(SegwitBech32Encoder.Encode(_HRP, 0, hash160(fake_pubkey(seed, label))))


def vendor_payto_label(account_id: str) -> str:
    """The label a walletless vendor's pay-to address is expected to be derived from."""
    return f"vendor:{account_id}:payto"


def key_for(seed: int, label: str, stype: int) -> Key:
    """The key for ``label`` as an address of script type ``stype``."""
    pubkey = fake_pubkey(seed, label)
    if stype == P2TR:
        xonly = pubkey[1:]
        return Key(SegwitBech32Encoder.Encode(_HRP, 1, xonly), b"\x51\x20" + xonly, P2TR, pubkey)
    h160 = hash160(pubkey)
    if stype == P2WPKH:
        return Key(SegwitBech32Encoder.Encode(_HRP, 0, h160), b"\x00\x14" + h160, P2WPKH, pubkey)
    if stype == P2PKH:
        address = Base58Encoder.CheckEncode(_P2PKH_VERSION + h160)
        return Key(address, b"\x76\xa9\x14" + h160 + b"\x88\xac", P2PKH, pubkey)
    if stype == P2SH:
        redeem = b"\x00\x14" + h160
        script_hash = hash160(redeem)
        address = Base58Encoder.CheckEncode(_P2SH_VERSION + script_hash)
        return Key(address, b"\xa9\x14" + script_hash + b"\x87", P2SH, pubkey, redeem)
    raise ValueError(f"unknown script type {stype}")


def key_for_payto(seed: int, account_id: str, address: str, program: bytes) -> Key:
    """The key of a pay-to address the world chose (P2WPKH with 20-byte ``program``).

    If the address was derived with ``vendor_payto_label`` the real fake pubkey is used;
    otherwise a stand-in pubkey is, whose hash160 does not match (nothing checks scripts).
    """
    pubkey = fake_pubkey(seed, vendor_payto_label(account_id))
    if hash160(pubkey) != program:
        pubkey = fake_pubkey(seed, f"vendor:{account_id}:payto-standin:{address}")
    return Key(address, b"\x00\x14" + program, P2WPKH, pubkey)
