"""Selector kinds for cryptocurrency addresses, checksum-exact.

Bitcoin: Base58Check (P2PKH, P2SH) and BIP-173/BIP-350 segwit (bech32 for v0, bech32m
for v1+), on mainnet, testnet/testnet4/signet (they share prefixes) and regtest.
Ethereum: EIP-55 mixed-case checksum. Monero: Monero base58 with Keccak-256 checksum.
The codecs come from bip_utils; what is kept here is the address rules around them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bip_utils import (
    Base58ChecksumError,
    Base58Decoder,
    Base58XmrDecoder,
    Bech32ChecksumError,
    Kekkak256,
    SegwitBech32Decoder,
)
from bip_utils.addr.eth_addr import _EthAddrUtils

from spector.model._selector_base import SelectorKind, register

__all__ = ["BtcAddress", "decode_btc_address"]

# network -> (bech32 hrp, p2pkh version, p2sh version). Testnet, testnet4 and signet
# share every prefix, so an address names "test" and cannot say which of them.
_BTC_NETWORKS: dict[str, tuple[str, int, int]] = {
    "main": ("bc", 0x00, 0x05),
    "test": ("tb", 0x6F, 0xC4),
    "regtest": ("bcrt", 0x6F, 0xC4),
}
_HRP_NETWORK = {hrp: net for net, (hrp, _, _) in _BTC_NETWORKS.items()}
_B58_VERSIONS = {
    0x00: ("main", "p2pkh"),
    0x05: ("main", "p2sh"),
    0x6F: ("test", "p2pkh"),
    0xC4: ("test", "p2sh"),
}


@dataclass(frozen=True, slots=True)
class BtcAddress:
    """A decoded Bitcoin address: canonical text, network and the script it pays to."""

    address: str
    network: str  # "main", "test" (testnet, testnet4, signet) or "regtest"
    script_type: str  # p2pkh, p2sh, p2wpkh, p2wsh, p2tr, witness_v{N}
    program: bytes  # hash160, script hash or witness program

    @property
    def script_pubkey(self) -> bytes:
        """The output script this address pays to."""
        if self.script_type == "p2pkh":
            return b"\x76\xa9\x14" + self.program + b"\x88\xac"
        if self.script_type == "p2sh":
            return b"\xa9\x14" + self.program + b"\x87"
        version = _witness_version(self.script_type)
        opcode = 0 if version == 0 else 0x50 + version
        return bytes([opcode, len(self.program)]) + self.program


def _witness_version(script_type: str) -> int:
    if script_type in ("p2wpkh", "p2wsh"):
        return 0
    if script_type == "p2tr":
        return 1
    return int(script_type.removeprefix("witness_v"))


def decode_btc_address(raw: str) -> BtcAddress:
    """Decode a Bitcoin address of any network; raises SelectorInvalid with the reason."""
    text = raw.strip()
    if not text:
        raise _BTC.invalid(raw, "empty")
    sep = text.rfind("1")
    if sep > 0 and text[:sep].lower() in _HRP_NETWORK:
        return _decode_segwit(raw, text)
    return _decode_base58(raw, text)


def _decode_segwit(raw: str, text: str) -> BtcAddress:
    if text != text.lower() and text != text.upper():
        raise _BTC.invalid(raw, "bech32 mixes upper and lower case")
    text = text.lower()
    hrp = text[: text.rfind("1")]
    try:
        version, program = SegwitBech32Decoder.Decode(hrp, text)
    except Bech32ChecksumError as exc:
        raise _BTC.invalid(raw, "bad bech32/bech32m checksum") from exc
    except ValueError as exc:
        raise _BTC.invalid(raw, f"not a segwit address: {exc}") from exc
    if version == 0:
        script_type = "p2wpkh" if len(program) == 20 else "p2wsh"
    elif version == 1 and len(program) == 32:
        script_type = "p2tr"
    else:
        script_type = f"witness_v{version}"
    return BtcAddress(text, _HRP_NETWORK[hrp], script_type, bytes(program))


def _decode_base58(raw: str, text: str) -> BtcAddress:
    try:
        payload = Base58Decoder.CheckDecode(text)
    except Base58ChecksumError as exc:
        raise _BTC.invalid(raw, "bad base58check checksum") from exc
    except (ValueError, TypeError) as exc:
        raise _BTC.invalid(raw, "not base58") from exc
    if len(payload) != 21:
        raise _BTC.invalid(raw, f"payload is {len(payload)} bytes, a hash160 address has 21")
    try:
        network, script_type = _B58_VERSIONS[payload[0]]
    except KeyError:
        raise _BTC.invalid(raw, f"unknown version byte 0x{payload[0]:02x}") from None
    return BtcAddress(text, network, script_type, bytes(payload[1:]))


class BtcAddressKind(SelectorKind):
    name = "btc_address"
    label = "Bitcoin address"

    def normalise(self, raw: str) -> str:
        return decode_btc_address(raw).address


class EthAddressKind(SelectorKind):
    """Normalises to the EIP-55 checksummed form; a mixed-case input must match it."""

    name = "eth_address"
    label = "Ethereum address"

    def normalise(self, raw: str) -> str:
        text = raw.strip()
        if not text.startswith(("0x", "0X")):
            raise self.invalid(raw, "does not start with 0x")
        body = text[2:]
        if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
            raise self.invalid(raw, "not 40 hexadecimal digits after 0x")
        canonical = "0x" + str(_EthAddrUtils.ChecksumEncode(body.lower()))
        mixed = body != body.lower() and body != body.upper()
        if mixed and "0x" + body != canonical:
            raise self.invalid(raw, "EIP-55 checksum does not match")
        return canonical


# Monero network bytes: standard, integrated, subaddress on mainnet / testnet / stagenet.
_XMR_NETWORKS = {
    18: ("main", "standard"),
    19: ("main", "integrated"),
    42: ("main", "subaddress"),
    53: ("test", "standard"),
    54: ("test", "integrated"),
    63: ("test", "subaddress"),
    24: ("stage", "standard"),
    25: ("stage", "integrated"),
    36: ("stage", "subaddress"),
}


class XmrAddressKind(SelectorKind):
    name = "xmr_address"
    label = "Monero address"

    def normalise(self, raw: str) -> str:
        text = raw.strip()
        if len(text) not in (95, 106):
            raise self.invalid(raw, f"{len(text)} characters, expected 95 or 106")
        try:
            data = bytes(Base58XmrDecoder.Decode(text))
        except (ValueError, TypeError) as exc:
            raise self.invalid(raw, "not Monero base58") from exc
        if len(data) not in (69, 77):
            raise self.invalid(raw, f"decodes to {len(data)} bytes, expected 69 or 77")
        if bytes(Kekkak256.QuickDigest(data[:-4]))[:4] != data[-4:]:
            raise self.invalid(raw, "Keccak-256 checksum does not match")
        network = _XMR_NETWORKS.get(data[0])
        if network is None:
            raise self.invalid(raw, f"unknown network byte {data[0]}")
        if (network[1] == "integrated") != (len(data) == 77):
            raise self.invalid(raw, "length does not fit the address type")
        return text


_BTC = register(BtcAddressKind())
register(EthAddressKind())
register(XmrAddressKind())
