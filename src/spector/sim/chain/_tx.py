"""Transaction bytes: legacy and BIP144 segwit serialization with placeholder signatures.

Signatures are fakes of the right shape: a 72-byte DER-shaped ECDSA signature (with the
SIGHASH_ALL byte) derived from the outpoint and key, and for P2TR key-path spends a
64-byte dummy Schnorr signature. Sizes are therefore exact before signing, and fees are
computed from the real virtual size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from struct import pack

from spector.sim.chain._keys import P2PKH, P2SH, P2TR, P2WPKH, Key

__all__ = [
    "bip34_push",
    "coinbase_tx",
    "compact_size",
    "sha256d",
    "sign_placeholder",
    "spend_tx",
    "tx_vsize",
]

_VERSION = pack("<i", 2)
_LOCKTIME = b"\x00\x00\x00\x00"
_SEQUENCE = b"\xfd\xff\xff\xff"  # opts in to replace-by-fee, as most wallets do
_SEGWIT_MARK = b"\x00\x01"
_COINBASE_TAG = b"/spector training range/"

# bytes of one input outside the witness (outpoint 36 + script length + script + sequence 4)
_IN_BASE = {P2PKH: 148, P2SH: 64, P2WPKH: 41, P2TR: 41}
# bytes of one input's witness (item count + items); a legacy input still has its 0x00
_IN_WITNESS = {P2PKH: 1, P2SH: 108, P2WPKH: 108, P2TR: 66}


def sha256d(data: bytes) -> bytes:
    """Bitcoin's double SHA-256."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def compact_size(n: int) -> bytes:
    """Bitcoin's variable-length integer."""
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + pack("<I", n)
    return b"\xff" + pack("<Q", n)


def tx_vsize(in_types: Iterable[int], spk_lens: Sequence[int]) -> int:
    """Exact virtual size of a transaction spending ``in_types`` to scripts of these sizes."""
    types = list(in_types)
    base = 8 + len(compact_size(len(types))) + len(compact_size(len(spk_lens)))
    base += sum(_IN_BASE[t] for t in types)
    base += sum(9 + n for n in spk_lens)  # all our scripts are shorter than 0xfd bytes
    weight = base * 4
    if any(t != P2PKH for t in types):
        weight += 2 + sum(_IN_WITNESS[t] for t in types)
    return (weight + 3) // 4


def sign_placeholder(outpoint: bytes, key: Key) -> bytes:
    """72 bytes shaped like a DER ECDSA signature plus SIGHASH_ALL; signs nothing."""
    r = hashlib.sha256(outpoint + key.pubkey).digest()
    s = hashlib.sha256(r).digest()
    return (
        b"\x30\x45\x02\x21\x00"
        + bytes((r[0] | 0x80,))
        + r[1:]
        + b"\x02\x20"
        + bytes(((s[0] & 0x7F) | 0x01,))
        + s[1:]
        + b"\x01"
    )


def _schnorr_placeholder(outpoint: bytes, key: Key) -> bytes:
    r = hashlib.sha256(outpoint + key.pubkey).digest()
    return r + hashlib.sha256(r).digest()


def spend_tx(
    inputs: Sequence[tuple[bytes, Key]], outputs: Sequence[tuple[bytes, int]]
) -> tuple[bytes, bytes, bytes, bool, int]:
    """Serialize a spend of ``(outpoint, key)`` inputs to ``(script, value)`` outputs.

    Returns ``(raw, txid, wtxid, segwit, weight)`` with ids in internal byte order; ``raw``
    is the BIP144 form if any input is a witness spend, else the legacy form.
    """
    ins = [compact_size(len(inputs))]
    wits: list[bytes] = []
    segwit = False
    for outpoint, key in inputs:
        stype = key.stype
        if stype == P2PKH:
            sig = sign_placeholder(outpoint, key)
            ins.append(outpoint + b"\x6b\x48" + sig + b"\x21" + key.pubkey + _SEQUENCE)
            wits.append(b"\x00")
        elif stype == P2TR:
            segwit = True
            ins.append(outpoint + b"\x00" + _SEQUENCE)
            wits.append(b"\x01\x40" + _schnorr_placeholder(outpoint, key))
        else:
            segwit = True
            sig = sign_placeholder(outpoint, key)
            if stype == P2SH:
                ins.append(outpoint + b"\x17\x16" + key.redeem + _SEQUENCE)
            else:
                ins.append(outpoint + b"\x00" + _SEQUENCE)
            wits.append(b"\x02\x48" + sig + b"\x21" + key.pubkey)
    outs = [compact_size(len(outputs))]
    for spk, value in outputs:
        outs.append(pack("<QB", value, len(spk)) + spk)
    body = b"".join(ins) + b"".join(outs)
    stripped = _VERSION + body + _LOCKTIME
    txid = sha256d(stripped)
    if not segwit:
        return stripped, txid, txid, False, 4 * len(stripped)
    raw = _VERSION + _SEGWIT_MARK + body + b"".join(wits) + _LOCKTIME
    return raw, txid, sha256d(raw), True, 3 * len(stripped) + len(raw)


def bip34_push(height: int) -> bytes:
    """The block height as the first push of a coinbase scriptSig (``CScript() << h``)."""
    if height == 0:
        return b"\x00"
    if height <= 16:
        return bytes((0x50 + height,))
    out = bytearray()
    n = height
    while n:
        out.append(n & 0xFF)
        n >>= 8
    if out[-1] & 0x80:
        out.append(0)
    return bytes((len(out),)) + bytes(out)


def coinbase_tx(
    height: int, outputs: Sequence[tuple[bytes, int]], *, witness: bool
) -> tuple[bytes, bytes]:
    """A coinbase for ``height`` paying ``outputs``; returns ``(raw, txid)``.

    With ``witness`` the coinbase carries the BIP141 witness reserved value (one 32-byte
    zero item) and is serialized in BIP144 form; its wtxid counts as zero by rule.
    """
    script = bip34_push(height) + bytes((len(_COINBASE_TAG),)) + _COINBASE_TAG
    vin = b"\x01" + b"\x00" * 32 + b"\xff\xff\xff\xff" + compact_size(len(script)) + script
    vin += b"\xff\xff\xff\xff"
    vout = [compact_size(len(outputs))]
    for spk, value in outputs:
        vout.append(pack("<Q", value) + compact_size(len(spk)) + spk)
    body = vin + b"".join(vout)
    stripped = _VERSION + body + _LOCKTIME
    txid = sha256d(stripped)
    if not witness:
        return stripped, txid
    raw = _VERSION + _SEGWIT_MARK + body + b"\x01\x20" + b"\x00" * 32 + _LOCKTIME
    return raw, txid
