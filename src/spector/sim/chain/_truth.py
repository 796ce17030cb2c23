"""Ground truth: who owns each address, where each sale's money went, what each tx is.

Parquet files with a fixed schema and row order, and nothing that depends on when they
were written, so the same input gives byte-identical files: ``addresses``,
``sale_paths``, ``transactions``, and ``mixer_payouts`` (every ``mixer_out`` transaction:
the vendor account it paid, the mixer deposit it answers, the exchange deposit address
paid and the amount; a sale's trail follows only the largest of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spector.sim.chain._ledger import AddressRow

__all__ = [
    "ADDRESSES_SCHEMA",
    "MIXER_PAYOUTS_SCHEMA",
    "SALE_PATHS_SCHEMA",
    "TRANSACTIONS_SCHEMA",
    "ChainTruth",
    "TxRow",
    "write_truth",
]

ADDRESSES_SCHEMA = pa.schema(
    [
        pa.field("address", pa.string(), nullable=False),
        pa.field("owner_kind", pa.string(), nullable=False),
        pa.field("owner_id", pa.string(), nullable=False),
        pa.field("actor_id", pa.string()),
        pa.field("role", pa.string(), nullable=False),
    ]
)
SALE_PATHS_SCHEMA = pa.schema(
    [
        pa.field("sale_id", pa.string(), nullable=False),
        pa.field("hop", pa.int32(), nullable=False),
        pa.field("txid", pa.string(), nullable=False),
        pa.field("address", pa.string(), nullable=False),
        pa.field("note", pa.string(), nullable=False),
    ]
)
TRANSACTIONS_SCHEMA = pa.schema(
    [
        pa.field("txid", pa.string(), nullable=False),
        pa.field("block_height", pa.int32(), nullable=False),
        pa.field("day", pa.int32(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("fee_sat", pa.int64(), nullable=False),
    ]
)

MIXER_PAYOUTS_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("deposit_address", pa.string(), nullable=False),
        pa.field("txid", pa.string(), nullable=False),
        pa.field("address", pa.string(), nullable=False),
        pa.field("exchange", pa.string(), nullable=False),
        pa.field("value_sat", pa.int64(), nullable=False),
    ]
)

# txid (display hex), block height, day (-1 before the range), kind, fee
TxRow = tuple[str, int, int, str, int]


@dataclass(frozen=True)
class ChainTruth:
    """What ``build_chain`` wrote: counts, the tip, and the paths of every file.

    ``tag_files`` are the range's TagPacks (``tags/*.yaml``).
    """

    blocks: int
    transactions: int
    addresses: int
    tip_hash: str
    blk_files: tuple[Path, ...]
    addresses_path: Path
    sale_paths_path: Path
    transactions_path: Path
    mixer_payouts_path: Path
    tag_files: tuple[Path, ...] = ()


def _write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd", use_dictionary=True, write_statistics=True)


def write_truth(
    out_dir: Path,
    addresses: dict[str, AddressRow],
    paths: dict[str, list[list[str]]],
    tx_rows: list[TxRow],
    mix_paid: list[tuple[str, str, str, str, str, int]],
) -> tuple[Path, Path, Path, Path]:
    """Write the addresses, sale_paths, transactions and mixer_payouts Parquet files;
    return their paths in that order."""
    addr_path = out_dir / "addresses.parquet"
    cols: list[list[str | None]] = [[], [], [], [], []]
    for address, (owner_kind, owner_id, actor_id, role) in addresses.items():
        for col, value in zip(cols, (address, owner_kind, owner_id, actor_id, role), strict=True):
            col.append(value)
    _write(pa.Table.from_arrays(cols, schema=ADDRESSES_SCHEMA), addr_path)

    path_path = out_dir / "sale_paths.parquet"
    sale_ids: list[str] = []
    hops: list[int] = []
    txids: list[str] = []
    addrs: list[str] = []
    notes: list[str] = []
    for sale_id, trail in paths.items():
        for hop, (txid, address, note) in enumerate(trail):
            sale_ids.append(sale_id)
            hops.append(hop)
            txids.append(txid)
            addrs.append(address)
            notes.append(note)
    _write(
        pa.Table.from_arrays([sale_ids, hops, txids, addrs, notes], schema=SALE_PATHS_SCHEMA),
        path_path,
    )

    tx_path = out_dir / "transactions.parquet"
    tx_cols = [list(col) for col in zip(*tx_rows, strict=True)]
    _write(pa.Table.from_arrays(tx_cols, schema=TRANSACTIONS_SCHEMA), tx_path)

    mix_path = out_dir / "mixer_payouts.parquet"
    mix_cols = [list(col) for col in zip(*mix_paid, strict=True)] or [[] for _ in range(6)]
    _write(pa.Table.from_arrays(mix_cols, schema=MIXER_PAYOUTS_SCHEMA), mix_path)
    return addr_path, path_path, tx_path, mix_path
