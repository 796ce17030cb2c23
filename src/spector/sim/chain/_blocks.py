"""Blocks in real Bitcoin format, mined at regtest difficulty, written as blk*.dat files.

Each block: 80-byte header (version 0x20000000, previous hash, merkle root of txids,
time, bits 0x207fffff, nonce ground until the header hash is at or below the target),
then the transactions. The coinbase pushes the height first (BIP34) and, when the block
holds a witness spend, commits to the wtxid merkle root (BIP141). Files hold records of
network magic + little-endian length + block, in chain order, like Bitcoin Core's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from struct import pack
from typing import BinaryIO, NamedTuple

from spector.sim.chain._tx import coinbase_tx, compact_size, sha256d

__all__ = [
    "BITS",
    "BLOCK_VERSION",
    "MAGIC",
    "MAX_TX_WEIGHT_PER_BLOCK",
    "TARGET",
    "BlockWriter",
    "PendingTx",
    "merkle_root",
    "subsidy",
]

MAGIC = bytes.fromhex("fabfb5da")  # regtest
BITS = 0x207FFFFF
TARGET = 0x7FFFFF << (8 * (0x20 - 3))
BLOCK_VERSION = 0x20000000
# the consensus limit is 4,000,000 weight units; the header, count and coinbase fit in the rest
MAX_TX_WEIGHT_PER_BLOCK = 3_980_000
_WITNESS_MAGIC = b"\x6a\x24\xaa\x21\xa9\xed"
_ZERO32 = b"\x00" * 32


class PendingTx(NamedTuple):
    """A transaction waiting for its block."""

    raw: bytes
    txid: bytes
    wtxid: bytes
    segwit: bool
    weight: int
    fee: int
    kind: str


def subsidy(height: int) -> int:
    """Regtest block subsidy: 50 BTC halving every 150 blocks."""
    halvings = height // 150
    return 0 if halvings >= 64 else (50 * 100_000_000) >> halvings


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """Bitcoin's merkle root; an odd level pairs its last hash with itself."""
    level = list(hashes)
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _mine(header76: bytes) -> bytes:
    base = hashlib.sha256(header76)
    nonce = 0
    while True:
        tail = pack("<I", nonce)
        inner = base.copy()
        inner.update(tail)
        digest = hashlib.sha256(inner.digest()).digest()
        if int.from_bytes(digest, "little") <= TARGET:
            return header76 + tail
        nonce += 1


class BlockWriter:
    """Appends mined blocks to ``blocks_dir/blk00000.dat``, rotating at ``max_bytes``."""

    def __init__(self, blocks_dir: Path, max_bytes: int) -> None:
        self.dir = blocks_dir
        self.max_bytes = max_bytes
        self.height = 0
        self.tip = _ZERO32  # hash of the last block, internal byte order
        self.files: list[Path] = []
        self._handle: BinaryIO | None = None
        self._size = 0

    def add_block(
        self, time: int, txs: Sequence[PendingTx], payouts: Sequence[tuple[bytes, int]]
    ) -> bytes:
        """Mine and write the next block; return its coinbase txid (internal order)."""
        outputs = list(payouts)
        segwit = any(tx.segwit for tx in txs)
        if segwit:
            wroot = merkle_root([_ZERO32, *(tx.wtxid for tx in txs)])
            outputs.append((_WITNESS_MAGIC + sha256d(wroot + _ZERO32), 0))
        cb_raw, cb_txid = coinbase_tx(self.height, outputs, witness=segwit)
        root = merkle_root([cb_txid, *(tx.txid for tx in txs)])
        header = _mine(pack("<i", BLOCK_VERSION) + self.tip + root + pack("<II", time, BITS))
        block = b"".join((header, compact_size(len(txs) + 1), cb_raw, *(tx.raw for tx in txs)))
        self._write(MAGIC + pack("<I", len(block)) + block)
        self.tip = sha256d(header)
        self.height += 1
        return cb_txid

    def _write(self, record: bytes) -> None:
        if self._handle is None or (self._size and self._size + len(record) > self.max_bytes):
            if self._handle is not None:
                self._handle.close()
            path = self.dir / f"blk{len(self.files):05d}.dat"
            self.files.append(path)
            self._handle = path.open("wb")
            self._size = 0
        self._handle.write(record)
        self._size += len(record)

    def close(self) -> None:
        """Flush and close the current file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
