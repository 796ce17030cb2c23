"""Arrow tables from parsed blocks, straight from the kernel's arrays.

No Python object per transaction: hashes are hex-encoded by the kernel into one buffer
and wrapped as Arrow strings; addresses come out of the kernel's address buffer the same
way. ``inputs`` leave the spent output's value and address empty here; the ingest fills
them with a join against ``outputs`` when it commits, and computes fees from them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from spector.chain import _kernel as k
from spector.chain._block import SCRIPT_TYPES, Block

__all__ = ["SCHEMAS", "block_tables", "subsidy"]

RANGE = 100_000  # heights per partition folder

SCHEMAS: dict[str, pa.Schema] = {
    "blocks": pa.schema(
        [
            ("height", pa.int64()),
            ("hash", pa.string()),
            ("prev_hash", pa.string()),
            ("merkle_root", pa.string()),
            ("version", pa.int64()),
            ("time", pa.timestamp("s")),
            ("bits", pa.int64()),
            ("nonce", pa.int64()),
            ("size", pa.int64()),
            ("weight", pa.int64()),
            ("tx_count", pa.int64()),
            ("input_count", pa.int64()),
            ("output_count", pa.int64()),
            ("output_value", pa.int64()),
            ("coinbase_value", pa.int64()),
            ("subsidy", pa.int64()),
            ("fees", pa.int64()),
            ("network", pa.string()),
            ("source", pa.string()),
        ]
    ),
    "txs": pa.schema(
        [
            ("height", pa.int64()),
            ("idx", pa.int64()),
            ("txid", pa.string()),
            ("wtxid", pa.string()),
            ("version", pa.int64()),
            ("locktime", pa.int64()),
            ("size", pa.int64()),
            ("vsize", pa.int64()),
            ("weight", pa.int64()),
            ("segwit", pa.bool_()),
            ("coinbase", pa.bool_()),
            ("input_count", pa.int64()),
            ("output_count", pa.int64()),
            ("output_value", pa.int64()),
            ("input_value", pa.int64()),
            ("fee", pa.int64()),
        ]
    ),
    "inputs": pa.schema(
        [
            ("height", pa.int64()),
            ("txid", pa.string()),
            ("vin", pa.int64()),
            ("prev_txid", pa.string()),
            ("prev_vout", pa.int64()),
            ("sequence", pa.int64()),
            ("coinbase", pa.bool_()),
            ("value", pa.int64()),
            ("address", pa.string()),
            ("script_type", pa.string()),
            ("prev_height", pa.int64()),
        ]
    ),
    "outputs": pa.schema(
        [
            ("height", pa.int64()),
            ("txid", pa.string()),
            ("vout", pa.int64()),
            ("value", pa.int64()),
            ("script_type", pa.string()),
            ("address", pa.string()),
            ("script", pa.binary()),
        ]
    ),
}

_HALVING = {"regtest": 150}


def subsidy(height: int, network: str) -> int:
    """The block subsidy at ``height`` (halving every 210,000 blocks; 150 on regtest)."""
    halvings = height // _HALVING.get(network, 210_000)
    return 0 if halvings >= 64 else (50 * 100_000_000) >> halvings


def _hex_strings(hex_bytes: np.ndarray, n: int) -> pa.Array:
    offsets = np.arange(0, 64 * (n + 1), 64, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(hex_bytes))


def _varlen(data: np.ndarray, offsets: np.ndarray, kind: pa.DataType) -> pa.Array:
    """Strings/binaries from a byte buffer and n+1 offsets; empty ones become null."""
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    valid = np.packbits(lengths > 0, bitorder="little")
    return pa.Array.from_buffers(
        kind,
        n,
        [pa.py_buffer(valid), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)],
    )


def _u32_at(buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    idx = offsets[:, None] + np.arange(4)
    b = buf[idx].astype(np.int64)
    return b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16) | (b[:, 3] << 24)


def _gather(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``buf[starts[i]:starts[i]+lengths[i]]``; return (bytes, n+1 offsets)."""
    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return np.empty(0, np.uint8), offsets
    idx = np.repeat(starts - offsets[:-1], lengths) + np.arange(total)
    return buf[idx], offsets


def block_tables(block: Block, height: int, source: str) -> dict[str, pa.Table]:
    """The rows one block adds to each table (inputs unresolved, fees empty)."""
    p = block.parsed
    buf = block.buf
    ntx, nin, nout = p.ntx, p.nin, p.nout
    heights_tx = np.full(ntx, height, np.int64)
    txids = _hex_strings(k.hex_reversed(p.txid), ntx)
    wtxids = _hex_strings(k.hex_reversed(p.wtxid), ntx)
    in_counts = np.diff(p.tx_in0)
    out_counts = np.diff(p.tx_out0)
    in_tx = np.repeat(np.arange(ntx), in_counts)
    out_tx = np.repeat(np.arange(ntx), out_counts)
    sizes = p.tx_end - p.tx_start
    weights = 3 * (sizes - p.tx_witness) + sizes
    sums = np.zeros(nout + 1, np.int64)
    np.cumsum(p.out_value, out=sums[1:])
    out_value_per_tx = sums[p.tx_out0[1:]] - sums[p.tx_out0[:-1]]  # exact, empty vout is 0
    coinbase = np.zeros(ntx, bool)
    coinbase[0] = True  # the first transaction of a block is its coinbase
    txs = pa.table(
        {
            "height": heights_tx,
            "idx": np.arange(ntx, dtype=np.int64),
            "txid": txids,
            "wtxid": wtxids,
            "version": _u32_at(buf, p.tx_start).astype(np.int32).astype(np.int64),
            "locktime": _u32_at(buf, p.tx_end - 4),
            "size": sizes,
            "vsize": (weights + 3) // 4,
            "weight": weights,
            "segwit": p.tx_witness > 0,
            "coinbase": coinbase,
            "input_count": in_counts,
            "output_count": out_counts,
            "output_value": out_value_per_tx,
            "input_value": pa.nulls(ntx, pa.int64()),
            "fee": pa.nulls(ntx, pa.int64()),
        },
        schema=SCHEMAS["txs"],
    )
    vin = np.arange(nin, dtype=np.int64) - p.tx_in0[in_tx]
    in_coinbase = in_tx == 0
    inputs = pa.table(
        {
            "height": np.full(nin, height, np.int64),
            "txid": txids.take(pa.array(in_tx)),
            "vin": vin,
            "prev_txid": _hex_strings(k.hex_reversed_at(buf, p.in_off), nin),
            "prev_vout": _u32_at(buf, p.in_off + 32),
            "sequence": _u32_at(buf, p.in_script + p.in_script_len),
            "coinbase": in_coinbase,
            "value": pa.nulls(nin, pa.int64()),
            "address": pa.nulls(nin, pa.string()),
            "script_type": pa.nulls(nin, pa.string()),
            "prev_height": pa.nulls(nin, pa.int64()),
        },
        schema=SCHEMAS["inputs"],
    )
    if len(p.addr_off):
        addresses = _varlen(p.addr, p.addr_off, pa.string())
    else:
        addresses = pa.array([block.address(i) for i in range(nout)], pa.string())
    scripts_data, scripts_off = _gather(buf, p.out_script, p.out_script_len)
    scripts = pa.Array.from_buffers(
        pa.binary(),
        nout,
        [None, pa.py_buffer(scripts_off.astype(np.int32)), pa.py_buffer(scripts_data)],
    )
    type_names = pa.array(SCRIPT_TYPES, pa.string())
    outputs = pa.table(
        {
            "height": np.full(nout, height, np.int64),
            "txid": txids.take(pa.array(out_tx)),
            "vout": np.arange(nout, dtype=np.int64) - p.tx_out0[out_tx],
            "value": p.out_value,
            "script_type": type_names.take(pa.array(p.out_type.astype(np.int64))),
            "address": addresses,
            "script": scripts,
        },
        schema=SCHEMAS["outputs"],
    )
    c0, c1 = int(p.tx_out0[0]), int(p.tx_out0[1])
    blocks = pa.table(
        {
            "height": [height],
            "hash": [block.hash],
            "prev_hash": [block.prev_hash],
            "merkle_root": [block.merkle_root],
            "version": [block.version],
            "time": [datetime.fromtimestamp(block.time, UTC).replace(tzinfo=None)],
            "bits": [block.bits],
            "nonce": [block.nonce],
            "size": [block.size],
            "weight": [block.weight],
            "tx_count": [ntx],
            "input_count": [nin],
            "output_count": [nout],
            "output_value": [int(p.out_value.sum())],
            "coinbase_value": [int(p.out_value[c0:c1].sum())],
            "subsidy": [subsidy(height, block.network.name)],
            "fees": pa.nulls(1, pa.int64()),
            "network": [block.network.name],
            "source": [source],
        },
        schema=SCHEMAS["blocks"],
    )
    return {"blocks": blocks, "txs": txs, "inputs": inputs, "outputs": outputs}
