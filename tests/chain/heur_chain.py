"""Hand-built chains for the CoinJoin and change-heuristic tests.

Transactions are written in real block format with ``chain_builder``'s blocks (mined to
the regtest target) and ingested like any blk file. Owners are names: ``spk(name, kind)``
is the same script every time, so an address is reused by asking for it again. Each
transaction may set its own version and locktime (the fingerprint heuristic reads them).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from tests.chain.chain_builder import Block, Tx, sha256d, write_blk

from spector.chain._ingest import ingest_files
from spector.chain._store import ChainStore
from spector.store import Workspace

BTC = 100_000_000


def spk(name: str, kind: str = "p2wpkh") -> bytes:
    """The output script of owner ``name``'s address of script type ``kind``."""
    h = hashlib.sha256(f"{kind}:{name}".encode()).digest()
    if kind == "p2wpkh":
        return b"\x00\x14" + h[:20]
    if kind == "p2pkh":
        return b"\x76\xa9\x14" + h[:20] + b"\x88\xac"
    if kind == "p2sh":
        return b"\xa9\x14" + h[:20] + b"\x87"
    if kind == "p2tr":
        return b"\x51\x20" + h
    if kind == "p2pk":
        return b"\x21\x02" + h + b"\xac"
    if kind == "nulldata":
        return b"\x6a\x08" + h[:8]
    raise ValueError(kind)


@dataclass
class VTx(Tx):
    """A chain_builder transaction with its own version and locktime (legacy form)."""

    version: int = 2
    locktime: int = 0

    def _frame(self, body: bytes) -> bytes:
        return struct.pack("<i", self.version) + body + struct.pack("<I", self.locktime)

    def raw(self) -> bytes:
        return self._frame(self._body())

    def txid(self) -> bytes:
        return sha256d(self.raw())


@dataclass(frozen=True)
class Coin:
    txid: bytes
    vout: int
    value: int

    @property
    def txid_hex(self) -> str:
        return self.txid[::-1].hex()


@dataclass
class Sketch:
    """A chain under construction: ``fund`` mines a coinbase paying anything, ``pay``
    queues a spend, ``mine`` puts the queue in a block (in order: later spends may spend
    earlier ones of the same block)."""

    blocks: list[Block] = field(default_factory=list)
    pending: list[VTx] = field(default_factory=list)

    @property
    def height(self) -> int:
        """The height the next block gets."""
        return len(self.blocks)

    def _block(self, coinbase: VTx) -> None:
        prev = self.blocks[-1].hash if self.blocks else bytes(32)
        h = len(self.blocks)
        self.blocks.append(Block(prev, [coinbase, *self.pending], 1_700_000_000 + 600 * h))
        self.pending = []

    def fund(self, outputs: list[tuple[bytes, int]]) -> list[Coin]:
        """Mine a block (with what is queued) whose coinbase pays ``outputs``."""
        cb = VTx([], [(v, s) for s, v in outputs], coinbase_height=len(self.blocks))
        txid = cb.txid()
        self._block(cb)
        return [Coin(txid, i, v) for i, (_, v) in enumerate(outputs)]

    def pay(
        self,
        inputs: list[Coin],
        outputs: list[tuple[bytes, int]],
        *,
        version: int = 2,
        locktime: int = 0,
    ) -> list[Coin]:
        """Queue a spend of ``inputs`` to ``outputs``; returns the new coins."""
        outs = [(v, s) for s, v in outputs]  # chain_builder keeps (value, script)
        tx = VTx([(c.txid, c.vout) for c in inputs], outs, version=version, locktime=locktime)
        self.pending.append(tx)
        txid = tx.txid()
        return [Coin(txid, i, v) for i, (_, v) in enumerate(outputs)]

    def mine(self) -> int:
        """Put the queued spends in a block; returns its height."""
        self.fund([(spk(f"miner-{len(self.blocks)}", "p2pkh"), 50 * BTC)])
        return len(self.blocks) - 1

    def ingest(self, ws: Workspace, folder: Path) -> None:
        """Write the blocks as a blk file and ingest them into ``ws`` (views refreshed)."""
        if self.pending:
            self.mine()
        folder.mkdir(parents=True, exist_ok=True)
        write_blk(folder / "blk00000.dat", self.blocks)
        ingest_files(ws, [folder])
        ChainStore(ws).refresh_views()


def txid_of(coins: list[Coin]) -> str:
    """The display txid of the transaction that made ``coins``."""
    return coins[0].txid_hex
