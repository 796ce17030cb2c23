"""The training range's chain for the CoinJoin and change-heuristic measurements, and the
measurements themselves (plain Python over the range's truth, so that a shuffled truth
shows they depend on it)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from spector.chain._ingest import ingest_files
from spector.chain._store import ChainStore
from spector.sim._generate import generate
from spector.store import Workspace

CHIP_KINDS = frozenset({"mixer_split", "mixer_out"})


@dataclass
class Range:
    ws: Workspace
    chain: Path  # <range>/chain: blocks/ and the truth Parquet files

    def kinds(self) -> dict[str, str]:
        """Truth: txid -> kind."""
        t = pq.read_table(self.chain / "transactions.parquet", columns=["txid", "kind"])
        return dict(zip(t["txid"].to_pylist(), t["kind"].to_pylist(), strict=True))

    def owners(self) -> dict[str, str]:
        """Truth: address -> 'owner_kind:owner_id'."""
        t = pq.read_table(self.chain / "addresses.parquet")
        return {
            a: f"{k}:{i}"
            for a, k, i in zip(
                t["address"].to_pylist(),
                t["owner_kind"].to_pylist(),
                t["owner_id"].to_pylist(),
                strict=True,
            )
        }


@contextmanager
def training_range(root: Path, seed: int = 11, scale: str = "tiny") -> Iterator[Range]:
    """Generate a range under ``root``, ingest its chain into a fresh workspace."""
    generate(seed, scale, root / scale)
    chain = root / scale / "chain"
    with Workspace.init(root / "ws") as ws:
        ingest_files(ws, [chain / "blocks"])
        ChainStore(ws).refresh_views()
        yield Range(ws, chain)


def precision_recall(found: set[str], truth: set[str]) -> tuple[float, float]:
    """Precision and recall of ``found`` against ``truth`` (1.0 for an empty side)."""
    hit = len(found & truth)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(truth) if truth else 1.0
    return precision, recall


def shuffled(mapping: dict[str, str], seed: int = 0) -> dict[str, str]:
    """The same keys and values, the values dealt out at random."""
    values = list(mapping.values())
    random.Random(seed).shuffle(values)
    return dict(zip(mapping, values, strict=True))


def input_addresses(con: duckdb.DuckDBPyConnection, txids: list[str]) -> dict[str, list[str]]:
    """txid -> its input addresses (None for an address-less input)."""
    rows = con.execute(
        "SELECT txid, address FROM inputs WHERE txid IN (SELECT unnest(?)) AND NOT coinbase",
        [txids],
    ).fetchall()
    out: dict[str, list[str]] = {}
    for txid, address in rows:
        out.setdefault(txid, []).append(address)
    return out


def change_figures(
    con: duckdb.DuckDBPyConnection, change: pa.Table, owners: dict[str, str]
) -> tuple[int, int]:
    """(change outputs named, false ones): a merge of the change with its transaction's
    inputs is false when any input's owner differs from the change address's owner (an
    address the truth does not know counts as a different owner)."""
    txids = change["txid"].to_pylist()
    inputs = input_addresses(con, txids)
    false = 0
    for txid, address in zip(txids, change["address"].to_pylist(), strict=True):
        owner = owners.get(address)
        if owner is None or any(owners.get(a) != owner for a in inputs[txid]):
            false += 1
    return len(txids), false
