"""[E] Block parsing speed: transactions per second per core, against python-bitcoinlib.

Spector's ``parse_block`` computes every txid and wtxid, checks the merkle root and
classifies every output (``addresses=False`` leaves the address strings to be encoded
when asked for; the default encodes them all). The peer, python-bitcoinlib, deserializes
the block (``CBlock.deserialize``) and computes each transaction's txid (``GetTxid``) and
nothing else. Both run in one process on one core, on the same bytes already in memory:

- main-net block 413,567 (about 1 MB, 1,557 transactions), parsed over and over;
- every block of the `small` training range's chain (regtest), split out of its blk files.

Peak memory: each side parses the range's blocks, streamed from the blk file, in a child
process, once and five times over; the figure is that child's ``ru_maxrss``, read with
``getrusage(RUSAGE_CHILDREN)`` by a small launcher process whose only child it is.
Goal: >= 20x the peer, about 450,000 tx/s per core.
"""

from __future__ import annotations

import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BLOCK = DATA / "bitcoin" / "block-413567.raw"
SECONDS = 3.0  # CPU time per measurement, at least
MAIN_CHAIN_TXS = 1.1e9  # transactions in the main chain, about
CORES = 8


def _records(handle: BinaryIO) -> Iterator[bytes]:
    """The blocks of a blk*.dat file: 4-byte magic, little-endian u32 length, block."""
    while True:
        head = handle.read(8)
        if len(head) < 8 or head[:4] == b"\0\0\0\0":  # end, or Core's zero padding
            return
        (length,) = struct.unpack("<I", head[4:])
        block = handle.read(length)
        if len(block) < length:
            return
        yield block


def _blk_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("blk*.dat"))


def _spector(addresses: bool, network: str) -> Callable[[list[bytes]], int]:
    from spector.chain import parse_block

    def parse(blocks: list[bytes]) -> int:
        n = 0
        for data in blocks:
            n += parse_block(data, network_name=network, addresses=addresses).tx_count
        return n

    return parse


def _peer(blocks: list[bytes]) -> int:
    from bitcoin.core import CBlock

    n = 0
    for data in blocks:
        for tx in CBlock.deserialize(data).vtx:
            tx.GetTxid()
            n += 1
    return n


def _rate(fn: Callable[[list[bytes]], int], blocks: list[bytes]) -> float:
    """Transactions per CPU second, over enough passes for SECONDS of CPU time."""
    fn(blocks[:1])  # warm up
    txs = 0
    start = time.process_time()
    while True:
        txs += fn(blocks)
        elapsed = time.process_time() - start
        if elapsed >= SECONDS:
            return txs / elapsed


def _first_call(data: bytes) -> tuple[float, str]:
    """Seconds of the first parse in this process (numba compiles or loads its cache)."""
    start = time.perf_counter()
    from spector.chain import _kernel, parse_block

    parse_block(data)
    seconds = time.perf_counter() - start
    try:
        stats = _kernel.parse_txs.stats
        how = "cache load" if sum(stats.cache_hits.values()) else "compile"
    except AttributeError:  # pragma: no cover - numba without dispatcher stats
        how = "compile or cache load"
    return seconds, how


def _range_chain(out: Path) -> list[Path]:
    from spector.sim import generate

    generate(7, "small", out)
    return _blk_files(out / "chain" / "blocks")


def _child(kind: str, passes: int, folder: Path) -> tuple[int, int, str]:
    """Run ``_child_main`` in a fresh interpreter: (its peak RSS in KiB, txs, its report).

    A launcher process starts the worker and reads ``getrusage(RUSAGE_CHILDREN)``: the
    worker is its only child, and the launcher is small, so the figure is the worker's
    own (Linux keeps the parent's peak in a child's ``ru_maxrss`` across fork and exec,
    so a worker started straight from this large process would report this one's peak).
    """
    args = ["--launch", "--child", kind, str(passes), str(folder)]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_chain", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n", 2)
    peak, txs, report = out[0], out[1], out[2].strip()
    return int(peak), int(txs), report


def _launch(args: list[str]) -> None:
    """Run this module with ``args`` as this process's only child; print its peak RSS."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_chain", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(done.stdout, end="")


def _child_main(kind: str, passes: int, folder: Path) -> None:
    """Parse every block of ``folder``'s blk files ``passes`` times over, streamed."""

    def peak() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    if kind == "peer":
        import bitcoin.core  # noqa: F401  (the peer's import, before the baseline)

        parse = _peer
    else:
        parse = _spector(kind == "spector", "regtest")  # imports spector.chain and numba
    seen = [peak()]
    txs = 0
    for _ in range(passes):
        for path in _blk_files(folder):
            with path.open("rb") as handle:
                for block in _records(handle):
                    txs += parse([block])
        seen.append(peak())
    print(txs)
    print(f"{seen[0]} MiB after imports, {seen[1]} MiB after pass 1, {seen[-1]} MiB after {passes}")


def _duration(rate: float) -> str:
    """Wall time for MAIN_CHAIN_TXS transactions on CORES cores at ``rate`` per core."""
    seconds = MAIN_CHAIN_TXS / (rate * CORES)
    if seconds < 600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def run() -> list[str]:
    data = BLOCK.read_bytes()
    first, how = _first_call(data)
    block = [data]
    fast = _rate(_spector(False, "main"), block)
    full = _rate(_spector(True, "main"), block)
    peer = _rate(_peer, block)
    from spector.chain import parse_block

    ntx = parse_block(data).tx_count

    with tempfile.TemporaryDirectory(prefix="spector-bench-chain-") as tmp:
        start = time.perf_counter()
        files = _range_chain(Path(tmp))
        generated = time.perf_counter() - start
        blocks = []
        for path in files:
            with path.open("rb") as handle:
                blocks.extend(_records(handle))
        range_txs = _spector(False, "regtest")(blocks)
        assert _peer(blocks) == range_txs
        r_fast = _rate(_spector(False, "regtest"), blocks)
        r_full = _rate(_spector(True, "regtest"), blocks)
        r_peer = _rate(_peer, blocks)
        folder = files[0].parent
        mem_1, _, _ = _child("spector", 1, folder)
        mem_5, txs_5, in_5 = _child("spector", 5, folder)
        peer_1, _, _ = _child("peer", 1, folder)
        peer_5, _, peer_in_5 = _child("peer", 5, folder)
        range_mib = sum(p.stat().st_size for p in files) / 2**20
        ingest_rate, ingest_s = _ingest(folder, Path(tmp) / "ws", range_txs)
    assert txs_5 == 5 * range_txs

    return [
        f"main-net block 413,567: {len(data) / 1e6:.2f} MB, {ntx:,} transactions; "
        f"one process, CPU time, >= {SECONDS:.0f} s per measurement",
        f"first call (compile or cache load): {first:.2f} s ({how}, with the import of "
        f"spector.chain), not in the rates below",
        f"Spector parse_block, addresses=False (txids, wtxids, merkle check, script classes): "
        f"{fast:,.0f} tx/s per core",
        f"Spector parse_block, addresses encoded: {full:,.0f} tx/s per core (goal ~450,000)",
        f"peer: python-bitcoinlib {_bitcoinlib_version()} CBlock.deserialize + GetTxid "
        f"per tx: {peer:,.0f} tx/s per core",
        f"ratio: {fast / peer:.1f}x without addresses, {full / peer:.1f}x with addresses "
        f"(goal >= 20x)",
        f"small training range chain (regtest, generated in {generated:.1f} s): "
        f"{len(blocks):,} blocks, {range_txs:,} transactions, {range_mib:.1f} MiB of blk files",
        f"range, Spector: {r_fast:,.0f} tx/s without addresses, {r_full:,.0f} tx/s with; "
        f"peer python-bitcoinlib: {r_peer:,.0f} tx/s; "
        f"ratio {r_fast / r_peer:.1f}x / {r_full / r_peer:.1f}x",
        f"peak RSS of a child process parsing the range's blocks streamed from the blk "
        f"file (Spector with addresses): {mem_1 / 1024:.0f} MiB over {len(blocks):,} blocks, "
        f"{mem_5 / 1024:.0f} MiB over {5 * len(blocks):,} (5 passes; in the child: {in_5}); "
        f"peer python-bitcoinlib: {peer_1 / 1024:.0f} MiB / {peer_5 / 1024:.0f} MiB "
        f"(in the child: {peer_in_5}); ratio {mem_5 / peer_5:.2f}x",
        f"whole ingest of the range chain (scan, chain order, parse, Arrow tables, input "
        f"resolution in DuckDB, Parquet, catalogue; wall clock, first call included): "
        f"{ingest_s:.2f} s, {ingest_rate:,.0f} tx/s; against the peer's parse alone: "
        f"{ingest_rate / r_peer:.1f}x",
        f"extrapolation: {MAIN_CHAIN_TXS / 1e9:.1f} billion transactions on {CORES} cores at "
        f"the block-413,567 rate: {_duration(fast)} without addresses, {_duration(full)} with "
        f"(peer: {_duration(peer)}; parsing only, no I/O, perfect scaling assumed)",
    ]


def _ingest(blocks: Path, root: Path, txs: int) -> tuple[float, float]:
    """`spector chain ingest` of the range's blk files into a new workspace."""
    from spector.chain._ingest import ingest_files
    from spector.store import Workspace

    with Workspace.init(root) as ws:
        start = time.perf_counter()
        report = ingest_files(ws, [blocks])
        seconds = time.perf_counter() - start
    assert report.txs == txs
    return txs / seconds, seconds


def _bitcoinlib_version() -> str:
    import bitcoin

    return str(getattr(bitcoin, "__version__", ""))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--launch"]:
        _launch(sys.argv[2:])
    elif sys.argv[1:2] == ["--child"]:
        _child_main(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
    else:
        print("\n".join(run()))
