"""Hand-made chains for the clustering tests, written in real block format with
``chain_builder``'s blocks (mined to the regtest target) and ingested like any blk file.

A chain is a list of block specs. Each block's coinbase pays its ``pays`` (coin label,
owner, value); each transaction spends coins by label and makes new labelled coins.
An owner is ``name`` or ``name:kind`` (kind p2wpkh by default, or p2pkh, p2pk), and the
same owner string is always the same script, so addresses are reused by naming them
again. A fork is the same specs up to a height and others after, mined with a salt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from bip_utils import Base58Encoder, Hash160, SegwitBech32Encoder
from tests.chain.chain_builder import Block, Tx, write_blk

from spector.chain._ingest import ingest_files
from spector.store import Workspace

BTC = 100_000_000

Out = tuple[str, str, int]  # (coin label, owner, value)


@dataclass
class Spend:
    inputs: list[str]
    outputs: list[Out]


@dataclass
class BlockSpec:
    pays: list[Out] = field(default_factory=list)
    txs: list[Spend] = field(default_factory=list)


def _key(owner: str) -> bytes:
    return b"\x02" + hashlib.sha256(owner.encode()).digest()


def script(owner: str) -> bytes:
    name, _, kind = owner.partition(":")
    h = hashlib.sha256(f"{kind or 'p2wpkh'}:{name}".encode()).digest()
    if kind in ("", "p2wpkh"):
        return b"\x00\x14" + h[:20]
    if kind == "p2pkh":
        return b"\x76\xa9\x14" + h[:20] + b"\x88\xac"
    if kind == "p2pk":
        return b"\x21" + _key(name) + b"\xac"
    raise ValueError(kind)


def address(owner: str) -> str:
    """The regtest address the chain shows for ``owner`` (P2PK: its key's P2PKH)."""
    name, _, kind = owner.partition(":")
    spk = script(owner)
    if kind in ("", "p2wpkh"):
        return str(SegwitBech32Encoder.Encode("bcrt", 0, spk[2:]))
    if kind == "p2pkh":
        return str(Base58Encoder.CheckEncode(b"\x6f" + spk[3:23]))
    return str(Base58Encoder.CheckEncode(b"\x6f" + Hash160.QuickDigest(_key(name))))


@dataclass
class Built:
    blocks: list[Block]
    txids: dict[str, str]  # "h.i" (height, index in block) -> display txid


def build(specs: list[BlockSpec], *, salt: int = 0, fork_at: int | None = None) -> Built:
    """Mine the blocks; those from ``fork_at`` on get ``salt`` (they differ from another
    build's blocks at the same heights)."""
    coins: dict[str, tuple[bytes, int, int]] = {}
    blocks: list[Block] = []
    txids: dict[str, str] = {}
    for h, spec in enumerate(specs):
        s = salt if fork_at is not None and h >= fork_at else 0
        txs: list[Tx] = []
        fees = 0
        for spend in spec.txs:
            ins = [coins.pop(label) for label in spend.inputs]
            tx = Tx(
                [(t, v) for t, v, _ in ins], [(value, script(o)) for _, o, value in spend.outputs]
            )
            fees += sum(v for *_, v in ins) - sum(v for *_, v in spend.outputs)
            for vout, (label, _, value) in enumerate(spend.outputs):
                coins[label] = (tx.txid(), vout, value)
            txs.append(tx)
        pays = spec.pays or [(f"cb{h}", f"miner{h % 3}", 50 * BTC)]
        pays = [
            (label, owner, value + (fees if i == 0 else 0))
            for i, (label, owner, value) in enumerate(pays)
        ]
        cb = Tx([], [(value, script(o)) for _, o, value in pays], coinbase_height=h)
        cb.outputs.append((s, b"\x6a\x01" + bytes([s % 256])))  # the salt makes the coinbase differ
        for vout, (label, _, value) in enumerate(pays):
            coins[label] = (cb.txid(), vout, value)
        prev = blocks[-1].hash if blocks else bytes(32)
        block = Block(prev, [cb, *txs], 1_700_000_000 + 600 * h + s, nonce=s)
        blocks.append(block)
        for i, tx in enumerate([cb, *txs]):
            txids[f"{h}.{i}"] = tx.txid_hex()
    return Built(blocks, txids)


def write(folder: Path, blocks: list[Block], name: str = "blk00000.dat") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_blk(folder / name, blocks)


def ingest(ws: Workspace, folder: Path, blocks: list[Block]) -> None:
    ingest_files(ws, [write(folder, blocks)])


def snapshot(ws: Workspace) -> dict[str, object]:
    """Every table of the clustering, as sets (row order is not part of the contract)."""
    con = ws.store.con
    return {
        "clusters": dict(con.execute("SELECT address, cluster_id FROM chain_clusters").fetchall()),
        "ids": set(con.execute("SELECT * FROM cluster_addresses").fetchall()),
        "merges": set(con.execute("SELECT * EXCLUDE (why) FROM cluster_merges").fetchall()),
        "held": set(con.execute("SELECT * FROM cluster_held").fetchall()),
        "skipped": set(con.execute("SELECT * FROM cluster_skipped").fetchall()),
        "blocks": set(con.execute("SELECT * FROM cluster_blocks").fetchall()),
        "pseudo": set(con.execute("SELECT * FROM chain_pseudo_addresses").fetchall()),
    }


def groups(ws: Workspace) -> set[frozenset[str]]:
    """The clusters of two or more addresses, as sets of addresses."""
    found: dict[int, set[str]] = {}
    for a, cid in ws.store.con.execute("SELECT address, cluster_id FROM chain_clusters").fetchall():
        found.setdefault(cid, set()).add(a)
    return {frozenset(v) for v in found.values() if len(v) > 1}
