"""Small regtest-style chains for the ingest tests: blocks written byte by byte here
(independently of the parser), with P2PKH/P2WPKH outputs and spends, forks at will,
mined to the regtest target (the ingest checks proof of work)."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC_REGTEST = bytes.fromhex("fabfb5da")
BITS = 0x207FFFFF


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def compact(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    return b"\xfe" + struct.pack("<I", n)


def p2pkh(tag: int) -> bytes:
    return b"\x76\xa9\x14" + hashlib.sha256(bytes([tag])).digest()[:20] + b"\x88\xac"


def p2wpkh(tag: int) -> bytes:
    return b"\x00\x14" + hashlib.sha256(bytes([tag, 1])).digest()[:20]


@dataclass
class Tx:
    inputs: list[tuple[bytes, int]]  # (prev txid internal order, vout)
    outputs: list[tuple[int, bytes]]  # (value, scriptPubKey)
    coinbase_height: int | None = None
    witness: bool = False

    def _body(self) -> bytes:
        ins = b""
        if self.coinbase_height is not None:
            script = bytes([3]) + self.coinbase_height.to_bytes(3, "little") + b"\x51"
            ins = b"\x00" * 32 + b"\xff\xff\xff\xff" + compact(len(script)) + script
            ins += b"\xff\xff\xff\xff"
            n_in = 1
        else:
            for txid, vout in self.inputs:
                ins += txid + struct.pack("<I", vout) + b"\x00" + b"\xfe\xff\xff\xff"
            n_in = len(self.inputs)
        outs = b"".join(struct.pack("<q", v) + compact(len(s)) + s for v, s in self.outputs)
        return compact(n_in) + ins + compact(len(self.outputs)) + outs

    def raw(self) -> bytes:
        body = self._body()
        if not self.witness:
            return struct.pack("<i", 2) + body + b"\x00\x00\x00\x00"
        n_in = 1 if self.coinbase_height is not None else len(self.inputs)
        wit = b"".join(b"\x01\x21" + bytes([2]) + bytes(32) for _ in range(n_in))
        return struct.pack("<i", 2) + b"\x00\x01" + body + wit + b"\x00\x00\x00\x00"

    def txid(self) -> bytes:
        return sha256d(struct.pack("<i", 2) + self._body() + b"\x00\x00\x00\x00")

    def txid_hex(self) -> str:
        return self.txid()[::-1].hex()


@dataclass
class Block:
    prev: bytes
    txs: list[Tx]
    time: int
    version: int = 0x20000000
    nonce: int = 0
    bits: int = BITS
    mine: bool = True  # False: keep the nonce, whatever the hash (a forged header)
    raw_bytes: bytes = field(default=b"", init=False)

    def __post_init__(self) -> None:
        level = [t.txid() for t in self.txs]
        while len(level) > 1:
            if len(level) % 2:
                level.append(level[-1])
            level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        head = struct.pack("<i", self.version) + self.prev + level[0]
        head += struct.pack("<II", self.time, self.bits)
        target = 0x7FFFFF << (8 * (0x20 - 3))
        nonce = self.nonce * 1000 if self.mine else self.nonce  # forks search apart
        while (
            self.mine
            and int.from_bytes(sha256d(head + struct.pack("<I", nonce)), "little") > target
        ):
            nonce += 1  # regtest difficulty: about two tries
        header = head + struct.pack("<I", nonce)
        self.raw_bytes = header + compact(len(self.txs)) + b"".join(t.raw() for t in self.txs)

    @property
    def hash(self) -> bytes:
        return sha256d(self.raw_bytes[:80])

    @property
    def hash_hex(self) -> str:
        return self.hash[::-1].hex()


@dataclass
class Chain:
    """A chain from a genesis-like block (previous hash zero), one coinbase per block."""

    blocks: list[Block] = field(default_factory=list)

    @classmethod
    def grow(cls, n: int, *, salt: int = 0, base: Chain | None = None, upto: int = 0) -> Chain:
        """``n`` blocks, or ``base``'s first ``upto`` blocks followed by ``n`` new ones
        (a fork: ``salt`` makes its blocks differ). Block h (h ≥ 2) spends the coinbase of
        block h - 2 to two outputs, one P2WPKH (a segwit spend when h is even)."""
        chain = cls(list(base.blocks[:upto]) if base else [])
        for _ in range(n):
            h = len(chain.blocks)
            cb = Tx([], [(5_000_000_000, p2pkh(h % 7 + salt))], coinbase_height=h)
            txs = [cb]
            if h >= 2:
                spent = chain.blocks[h - 2].txs[0]
                pay = Tx(
                    [(spent.txid(), 0)],
                    [(3_000_000_000, p2wpkh(h % 5)), (1_999_990_000, p2pkh(100 + salt))],
                    witness=h % 2 == 0,
                )
                txs.append(pay)
                cb.outputs[0] = (5_000_010_000, cb.outputs[0][1])  # claims the fee
            prev = chain.blocks[-1].hash if chain.blocks else bytes(32)
            chain.blocks.append(Block(prev, txs, 1_700_000_000 + 600 * h + salt, nonce=salt))
        return chain


def write_blk(
    path: Path, blocks: list[Block], *, pad: int = 0, magic: bytes = MAGIC_REGTEST
) -> Path:
    data = b"".join(magic + struct.pack("<I", len(b.raw_bytes)) + b.raw_bytes for b in blocks)
    path.write_bytes(data + bytes(pad))
    return path
