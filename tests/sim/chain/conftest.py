"""The chain tests' scenario, its build, and a Bitcoin block reader independent of the code.

The reader below knows nothing of ``spector.sim.chain``: it parses blk*.dat records,
blocks and transactions from the bytes (legacy and BIP144), recomputing every hash.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from bip_utils import Base58Encoder, SegwitBech32Encoder

from spector.sim.chain import (
    ChainActor,
    ChainInput,
    ChainMarket,
    ChainSale,
    ChainTruth,
    ChainVendor,
    build_chain,
    payto_address,
    vendor_payto_label,
)

SEED = 7
REGTEST_MAGIC = bytes.fromhex("fabfb5da")


def small_scenario(seed: int = SEED, *, sales: int = 60, days: int = 10) -> ChainInput:
    """3 markets (one walletless, one closing on day 5), 6 vendors, 4 actors, 60 sales."""
    markets = (
        ChainMarket("m-open", walletless=False, close_day=None),
        ChainMarket("m-walletless", walletless=True, close_day=None),
        ChainMarket("m-closing", walletless=False, close_day=5),
    )
    actors = (
        ChainActor("a-direct", "direct"),
        ChainActor("a-peel", "peel"),
        ChainActor("a-mixer", "mixer"),
        ChainActor("a-coinjoin", "coinjoin"),
    )

    def payto(account: str) -> str:
        return payto_address(seed, vendor_payto_label(account))

    vendors = (
        ChainVendor("v-direct", "m-open", "a-direct", None),
        ChainVendor("v-peel", "m-open", "a-peel", None),
        ChainVendor("v-mixer", "m-walletless", "a-mixer", payto("v-mixer")),
        ChainVendor("v-coinjoin", "m-closing", "a-coinjoin", None),
        ChainVendor("v-coinjoin-2", "m-walletless", "a-coinjoin", payto("v-coinjoin-2")),
        ChainVendor("v-peel-2", "m-closing", "a-peel", None),
    )
    rng = random.Random(seed)
    rows = []
    for i in range(sales):
        vendor = vendors[i % len(vendors)]
        rows.append(
            ChainSale(
                sale_id=f"sale-{i:03d}",
                market_id=vendor.market_id,
                account_id=vendor.account_id,
                buyer_id=f"buyer-{rng.randrange(20):02d}",
                day=rng.randrange(days),
                amount_sat=rng.randint(100_000, 4_000_000),
            )
        )
    return ChainInput(seed, days, markets, vendors, actors, tuple(rows))


# -- an independent reader ---------------------------------------------------------------


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


class Cursor:
    """Reads little-endian fields from bytes, failing loudly at the end."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"read past the end at {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def varint(self) -> int:
        first = self.take(1)[0]
        if first < 0xFD:
            return first
        return int.from_bytes(self.take({0xFD: 2, 0xFE: 4, 0xFF: 8}[first]), "little")


@dataclass
class TxIn:
    prev_txid: str  # display hex
    vout: int
    script_sig: bytes
    sequence: int
    witness: list[bytes] = field(default_factory=list)


@dataclass
class Tx:
    txid: str  # display hex, recomputed from the non-witness bytes
    wtxid: str
    version: int
    inputs: list[TxIn]
    outputs: list[tuple[int, bytes]]  # (value, scriptPubKey)
    locktime: int
    segwit: bool
    size: int
    base_size: int

    @property
    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].prev_txid == "00" * 32

    @property
    def vsize(self) -> int:
        return (self.base_size * 3 + self.size + 3) // 4


@dataclass
class Block:
    file: str
    header: bytes
    version: int
    prev_hash: str
    merkle_root: bytes  # internal order
    time: int
    bits: int
    nonce: int
    txs: list[Tx]

    @property
    def hash(self) -> str:
        return sha256d(self.header)[::-1].hex()


def parse_tx(cur: Cursor) -> Tx:
    start = cur.pos
    version = int(struct.unpack("<i", cur.take(4))[0])
    segwit = False
    if cur.data[cur.pos] == 0:
        if cur.take(2) != b"\x00\x01":
            raise ValueError("bad segwit marker or flag")
        segwit = True
    body_start = cur.pos
    inputs = []
    for _ in range(cur.varint()):
        prev = cur.take(32)[::-1].hex()
        vout = cur.u32()
        script = cur.take(cur.varint())
        inputs.append(TxIn(prev, vout, script, cur.u32()))
    outputs = []
    for _ in range(cur.varint()):
        value = cur.u64()
        outputs.append((value, cur.take(cur.varint())))
    body_end = cur.pos
    if segwit:
        for txin in inputs:
            txin.witness = [cur.take(cur.varint()) for _ in range(cur.varint())]
    locktime = cur.u32()
    raw = cur.data[start : cur.pos]
    stripped = raw[:4] + cur.data[body_start:body_end] + raw[-4:]
    if segwit and all(not t.witness for t in inputs):
        raise ValueError("segwit serialization without any witness")
    return Tx(
        txid=sha256d(stripped)[::-1].hex(),
        wtxid=sha256d(raw)[::-1].hex(),
        version=version,
        inputs=inputs,
        outputs=outputs,
        locktime=locktime,
        segwit=segwit,
        size=len(raw),
        base_size=len(stripped),
    )


def parse_block(raw: bytes, file: str) -> Block:
    cur = Cursor(raw)
    header = cur.take(80)
    version, prev, root, time, bits, nonce = struct.unpack("<i32s32sIII", header)
    txs = [parse_tx(cur) for _ in range(cur.varint())]
    if cur.pos != len(raw):
        raise ValueError(f"{len(raw) - cur.pos} stray bytes after the last transaction")
    return Block(file, header, version, prev[::-1].hex(), root, time, bits, nonce, txs)


def read_blocks(paths: Iterable[Path]) -> list[Block]:
    """Every block of the blk files, in file order; checks magic and record lengths."""
    blocks = []
    for path in paths:
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            if data[pos : pos + 4] != REGTEST_MAGIC:
                raise ValueError(f"{path.name}@{pos}: bad magic {data[pos : pos + 4].hex()}")
            (length,) = struct.unpack_from("<I", data, pos + 4)
            if pos + 8 + length > len(data):
                raise ValueError(f"{path.name}@{pos}: record runs past the end of the file")
            blocks.append(parse_block(data[pos + 8 : pos + 8 + length], path.name))
            pos += 8 + length
    return blocks


def address_of(spk: bytes) -> str | None:
    """The regtest address an output script pays to, or None (OP_RETURN, other)."""
    if len(spk) == 25 and spk[:3] == b"\x76\xa9\x14" and spk[23:] == b"\x88\xac":
        return str(Base58Encoder.CheckEncode(b"\x6f" + spk[3:23]))
    if len(spk) == 23 and spk[:2] == b"\xa9\x14" and spk[22] == 0x87:
        return str(Base58Encoder.CheckEncode(b"\xc4" + spk[2:22]))
    if len(spk) == 22 and spk[:2] == b"\x00\x14":
        return str(SegwitBech32Encoder.Encode("bcrt", 0, spk[2:]))
    if len(spk) == 34 and spk[:2] == b"\x51\x20":
        return str(SegwitBech32Encoder.Encode("bcrt", 1, spk[2:]))
    return None


@dataclass
class Replay:
    """The chain replayed against its own UTXO set."""

    outputs: dict[tuple[str, int], tuple[int, bytes, int, bool]]  # value, spk, height, coinbase
    spent_by: dict[tuple[str, int], str]
    fees: dict[str, int]  # non-coinbase txid -> inputs - outputs
    problems: list[str]

    def unspent(self) -> set[tuple[str, int]]:
        return set(self.outputs) - set(self.spent_by)


def replay(blocks: list[Block], maturity: int = 100) -> Replay:
    """Spend every input from the UTXO set built so far; list whatever is wrong."""
    result = Replay({}, {}, {}, [])
    for height, block in enumerate(blocks):
        for tx in block.txs:
            if not tx.is_coinbase:
                total_in = 0
                for txin in tx.inputs:
                    outpoint = (txin.prev_txid, txin.vout)
                    if outpoint not in result.outputs:
                        result.problems.append(f"{tx.txid} spends unknown {outpoint}")
                        continue
                    if outpoint in result.spent_by:
                        result.problems.append(f"{tx.txid} double-spends {outpoint}")
                        continue
                    value, _, born, coinbase = result.outputs[outpoint]
                    if coinbase and height - born < maturity:
                        result.problems.append(f"{tx.txid} spends an immature coinbase")
                    result.spent_by[outpoint] = tx.txid
                    total_in += value
                fee = total_in - sum(value for value, _ in tx.outputs)
                result.fees[tx.txid] = fee
                if fee <= 0:
                    result.problems.append(f"{tx.txid} pays fee {fee}")
            for vout, (value, spk) in enumerate(tx.outputs):
                if (tx.txid, vout) in result.outputs:
                    result.problems.append(f"duplicate txid {tx.txid}")
                result.outputs[(tx.txid, vout)] = (value, spk, height, tx.is_coinbase)
    return result


# -- fixtures ----------------------------------------------------------------------------


@dataclass
class Built:
    inp: ChainInput
    truth: ChainTruth
    out_dir: Path
    blocks: list[Block]
    tables: dict[str, list[dict[str, Any]]]
    ledger: Replay


def load_tables(truth: ChainTruth) -> dict[str, list[dict[str, Any]]]:
    return {
        "addresses": pq.read_table(truth.addresses_path).to_pylist(),
        "sale_paths": pq.read_table(truth.sale_paths_path).to_pylist(),
        "transactions": pq.read_table(truth.transactions_path).to_pylist(),
    }


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The small scenario, built once for the session and read back."""
    inp = small_scenario()
    out = tmp_path_factory.mktemp("chain")
    truth = build_chain(inp, out)
    blocks = read_blocks(truth.blk_files)
    return Built(inp, truth, out, blocks, load_tables(truth), replay(blocks))


@pytest.fixture(scope="session")
def make_scenario() -> Callable[..., ChainInput]:
    """The small scenario's factory: ``make_scenario(seed, sales=..., days=...)``."""
    return small_scenario


@pytest.fixture(scope="session")
def reader() -> Callable[[Iterable[Path]], list[Block]]:
    """The independent blk-file reader."""
    return read_blocks


@pytest.fixture(scope="session")
def replayer() -> Callable[[list[Block]], Replay]:
    """Replays blocks against a UTXO set, collecting problems."""
    return replay


@pytest.fixture(scope="session")
def decode_spk() -> Callable[[bytes], str | None]:
    """Output script to regtest address."""
    return address_of
