"""Hand-built chains for the tracer's tests: transactions written one by one (with
``tests.chain.chain_builder``), mined into regtest blocks and ingested, with helpers to
name their addresses and tag them as services."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from tests.chain.chain_builder import Block, Tx, write_blk

from spector.chain._ingest import ingest_files
from spector.store import Workspace

T0 = 1_700_000_000
BTC = 100_000_000


def spk(name: str) -> bytes:
    """A P2WPKH script for a named key (distinct names, distinct addresses)."""
    return b"\x00\x14" + hashlib.sha256(name.encode()).digest()[:20]


@dataclass
class Book:
    """Blocks in the making: ``coinbase`` opens a block, ``pay`` adds to it."""

    blocks: list[Block] = field(default_factory=list)
    current: list[Tx] = field(default_factory=list)
    gap: int = 600  # seconds from the block being made to the next
    next_time: int = T0

    def _close(self) -> None:
        if not self.current:
            return
        prev = self.blocks[-1].hash if self.blocks else bytes(32)
        self.blocks.append(Block(prev, self.current, self.next_time))
        self.next_time += self.gap
        self.current = []

    def coinbase(self, *outs: tuple[int, str]) -> Tx:
        """Start a block whose coinbase pays ``outs`` ((value, key name), ...)."""
        self._close()
        tx = Tx([], [(v, spk(n)) for v, n in outs], coinbase_height=len(self.blocks))
        self.current = [tx]
        return tx

    def pay(self, ins: list[tuple[Tx, int]], *outs: tuple[int, str]) -> Tx:
        """A transaction in the current block spending ``ins`` ((tx, vout), ...)."""
        if not self.current:
            self.coinbase((BTC, "miner"))
        tx = Tx([(t.txid(), v) for t, v in ins], [(v, spk(n)) for v, n in outs], witness=True)
        self.current.append(tx)
        return tx

    def ingest(self, ws: Workspace, folder: Path) -> None:
        self._close()
        folder.mkdir(parents=True, exist_ok=True)
        ingest_files(ws, [write_blk(folder / "blk00000.dat", self.blocks)])


def regtest_address(name: str) -> str:
    """The bcrt1 address ``spk(name)`` pays (without asking the chain tables)."""
    from bip_utils import SegwitBech32Encoder

    return str(SegwitBech32Encoder.Encode("bcrt", 0, spk(name)[2:]))


def address(ws: Workspace, tx: Tx, vout: int = 0) -> str:
    """The address output ``vout`` of ``tx`` pays (as the chain tables hold it)."""
    row = ws.store.con.execute(
        "SELECT address FROM outputs WHERE txid = ? AND vout = ?", [tx.txid_hex(), vout]
    ).fetchone()
    assert row is not None
    assert row[0]
    return str(row[0])


def tag(
    ws: Workspace,
    addr: str,
    label: str,
    category: str,
    *,
    confidence: str = "forensic",
    level: int = 50,
    subject: tuple[str, str] | None = None,
    origin: str = "tagpack",
) -> None:
    """Tag ``addr`` as ``label`` of ``category`` (a row of chain_tags, as an import writes)."""
    ws.store.con.execute(
        "INSERT INTO chain_tags (tag_id, address, currency, network, label, category, "
        "confidence, confidence_level, source, is_cluster_definer, origin, origin_ref, "
        "subject_table, subject_id, created_at) VALUES (?, ?, 'BTC', 'regtest', ?, ?, ?, ?, "
        "'test', false, ?, 'test', ?, ?, now())",
        [
            f"{label}:{addr}",
            addr,
            label,
            category,
            confidence,
            level,
            origin,
            subject[0] if subject else None,
            subject[1] if subject else None,
        ],
    )


def clusters(ws: Workspace, groups: dict[int, list[str]]) -> None:
    """Put ``chain_clusters`` rows for the given groups (cluster id -> addresses)."""
    con = ws.store.con
    for cid, members in groups.items():
        for a in members:
            con.execute("DELETE FROM chain_clusters WHERE address = ?", [a])
            con.execute("INSERT INTO chain_clusters (address, cluster_id) VALUES (?, ?)", [a, cid])
