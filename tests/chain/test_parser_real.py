"""parse_block on real mainnet blocks, against MANIFEST.md and python-bitcoinlib.

python-bitcoinlib is an independent implementation: every txid, every output (value and
scriptPubKey) and every input (prevout, scriptSig, sequence) is compared with it. The
script classes are compared with a reference transcription of Core's Solver
(``parser_helpers.solver``), the addresses with python-bitcoinlib's encoder.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from bitcoin.core import CBlock, b2lx
from bitcoin.wallet import CBitcoinAddress
from tests.chain.parser_helpers import (
    GENESIS,
    compact,
    ref_address,
    simple_segwit_block,
    solver,
    split_blk,
)

from spector.chain import _sha, parse_block

REPO = Path(__file__).resolve().parents[2]

TOP5 = [
    ("114xVNoWkv6LdtgUcCSm8xtBwi84EYscYi", 259_183_077_192),
    ("12dwhEfkjbMrbVwW1gZRhphHgNbMargztn", 256_183_057_192),
    ("1F9WCV3ym7juZbmoTnmmnhwRyZ31ssiXaZ", 22_419_361_986),
    ("1G6cUtw3ANf7GKcvtrxL8NUY8KrBGynXnB", 19_437_856_794),
    ("14SvTGU64FTWsUsdBJ3c8eV634vtEZngR1", 15_051_788_829),
]


@pytest.fixture(scope="module")
def raw_413567(shared_data: Path) -> bytes:
    return (shared_data / "bitcoin" / "block-413567.raw").read_bytes()


@pytest.fixture(scope="module")
def block_413567(raw_413567: bytes):
    return parse_block(raw_413567)


@pytest.fixture(scope="module")
def lib_413567(raw_413567: bytes) -> CBlock:
    return CBlock.deserialize(raw_413567)


@pytest.fixture(scope="module")
def blk_records(shared_data: Path) -> list[tuple[int, bytes]]:
    return split_blk((shared_data / "bitcoin" / "mainnet-blocks-1-255.blk").read_bytes())


@pytest.fixture(scope="module")
def blocks_1_255(blk_records):
    return [parse_block(raw, file="blocks.blk", offset=off) for off, raw in blk_records]


def _compare_with_lib(block, lib: CBlock) -> None:
    """Every tx, input and output of ``block`` equals python-bitcoinlib's decoding."""
    assert block.hash == b2lx(lib.GetHash())
    assert block.prev_hash == b2lx(lib.hashPrevBlock)
    assert block.merkle_root == b2lx(lib.hashMerkleRoot)
    assert (block.version, block.time, block.bits, block.nonce) == (
        lib.nVersion,
        lib.nTime,
        lib.nBits,
        lib.nNonce,
    )
    assert block.tx_count == len(lib.vtx)
    assert block.txids == [b2lx(t.GetTxid()) for t in lib.vtx]
    for tx, ltx in zip(block.txs, lib.vtx, strict=True):
        assert tx.txid == b2lx(ltx.GetTxid())
        assert tx.wtxid == b2lx(ltx.GetHash())
        assert (tx.version, tx.locktime) == (ltx.nVersion, ltx.nLockTime)
        assert len(tx.inputs) == len(ltx.vin)
        for i, li in zip(tx.inputs, ltx.vin, strict=True):
            assert i.prev_txid == b2lx(li.prevout.hash)
            assert i.vout == li.prevout.n
            assert i.script_sig == bytes(li.scriptSig)
            assert i.sequence == li.nSequence
        assert [(o.value, o.script) for o in tx.outputs] == [
            (o.nValue, bytes(o.scriptPubKey)) for o in ltx.vout
        ]
        assert tx.size == len(ltx.serialize())


# ---------------------------------------------------------------------------------------
# block 413567


def test_413567_header_facts(block_413567) -> None:
    b = block_413567
    assert b.hash == "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069"
    assert b.prev_hash == "00000000000000000542b54d29b12b523ff6c6474e0e86085bd3005ec6c5ce11"
    assert b.merkle_root == "64a50c649fc816baaa2effda230c39cacf1504e4e616a2863685b72aaa7dce05"
    # MANIFEST writes bits as hex digits ("bits 18058436")
    assert (b.version, b.time, b.bits, b.nonce) == (4, 1464307123, 0x18058436, 2120202499)
    assert b.height == 413567
    assert b.tx_count == 1557
    assert b.size == 999_887
    assert b.weight == 3_999_548
    assert not b.is_genesis


def test_413567_counts_and_values(block_413567) -> None:
    b = block_413567
    txs = b.txs
    assert len(txs) == 1557
    assert txs[0].txid == "5b4aaef3f4e4625d70385ddf0bd2a0b7d7141e4c2fd36d2ff2cad37fff3deb0f"
    assert txs[0].is_coinbase
    assert not any(t.is_coinbase for t in txs[1:])
    assert txs[0].output_value == 2_531_310_238
    assert b.total_output_value == 914_705_170_223
    assert sum(t.output_value for t in txs) == 914_705_170_223
    assert b.parsed.nin == sum(len(t.inputs) for t in txs) == 4887
    assert b.parsed.nout == sum(len(t.outputs) for t in txs) == 3581
    assert not any(t.segwit for t in txs)
    assert all(t.wtxid == t.txid for t in txs)
    assert all(t.weight == 4 * t.size for t in txs)
    # the transactions tile the block after the header and the count
    assert 80 + len(compact(1557)) + sum(t.size for t in txs) == b.size


def test_413567_script_types(block_413567) -> None:
    outs = [o for t in block_413567.txs for o in t.outputs]
    assert Counter(o.script_type for o in outs) == {"nulldata": 3, "p2pkh": 2841, "p2sh": 737}
    value: Counter[str] = Counter()
    for o in outs:
        value[o.script_type] += o.value
    assert value == {"nulldata": 0, "p2pkh": 859_035_018_422, "p2sh": 55_670_151_801}
    # every output's class is the one Core's Solver gives
    assert [o.script_type for o in outs] == [solver(o.script) for o in outs]


def test_413567_addresses(block_413567) -> None:
    b = block_413567
    outs = [o for t in b.txs for o in t.outputs]
    per: dict[str, list[int]] = defaultdict(list)
    for o in outs:
        if o.address is not None:
            per[o.address].append(o.value)
        else:
            assert o.script_type == "nulldata"
    assert len(per) == 3064
    ranked = sorted(per.items(), key=lambda kv: -sum(kv[1]))
    assert [(a, sum(v)) for a, v in ranked[:5]] == TOP5
    assert all(len(v) == 1 for _, v in ranked[:5])
    assert sum(ranked[5][1]) < TOP5[4][1]  # no tie at rank 5
    assert all(o.value <= TOP5[4][1] for o in outs if o.address is None)
    top_types = {o.address: o.script_type for o in outs}
    assert all(top_types[a] == "p2pkh" for a, _ in TOP5)


def test_413567_addresses_match_bitcoinlib(block_413567, lib_413567) -> None:
    outs = [o for t in block_413567.txs for o in t.outputs]
    lib_outs = [o for t in lib_413567.vtx for o in t.vout]
    checked = 0
    for o, lo in zip(outs, lib_outs, strict=True):
        if o.script_type in ("p2pkh", "p2sh"):
            assert o.address == str(CBitcoinAddress.from_scriptPubKey(lo.scriptPubKey))
            checked += 1
        else:
            assert o.address is None
    assert checked == 2841 + 737


def test_413567_every_tx_matches_bitcoinlib(block_413567, lib_413567) -> None:
    _compare_with_lib(block_413567, lib_413567)


def test_413567_addresses_false_gives_same_strings(raw_413567: bytes, block_413567) -> None:
    lazy = parse_block(raw_413567, addresses=False)
    assert len(lazy.parsed.addr_off) == 0  # nothing encoded up front
    n = block_413567.parsed.nout
    assert [lazy.address(i) for i in range(n)] == [block_413567.address(i) for i in range(n)]
    assert lazy.txids == block_413567.txids


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "ndarray"])
def test_413567_input_buffer_kinds(raw_413567: bytes, block_413567, kind: str) -> None:
    data = {
        "bytes": raw_413567,
        "bytearray": bytearray(raw_413567),
        "memoryview": memoryview(raw_413567),
        "ndarray": np.frombuffer(raw_413567, np.uint8),
    }[kind]
    b = parse_block(data)
    assert b.hash == block_413567.hash
    assert b.txids == block_413567.txids
    assert b.weight == block_413567.weight


# ---------------------------------------------------------------------------------------
# mainnet blocks 1..255 (a blk file)


def test_blk_file_records(blk_records) -> None:
    assert len(blk_records) == 255
    # records tile the file: each starts 8 bytes (magic + length) after the previous
    offsets = [off for off, _ in blk_records]
    assert offsets[0] == 8
    for (off, raw), nxt in zip(blk_records, offsets[1:], strict=False):
        assert nxt == off + len(raw) + 8


def test_blocks_1_255_chain(blocks_1_255) -> None:
    bs = blocks_1_255
    assert len(bs) == 255
    assert bs[0].hash == "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"
    assert bs[-1].hash == "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c"
    assert bs[0].prev_hash == GENESIS
    for prev, cur in itertools.pairwise(bs):
        assert cur.prev_hash == prev.hash
    assert all(b.version == 1 and b.height is None for b in bs)
    assert len({b.hash for b in bs}) == 255


def test_blocks_1_255_totals(blocks_1_255) -> None:
    bs = blocks_1_255
    assert sum(b.tx_count for b in bs) == 262
    assert sum(b.parsed.nin for b in bs) == 262
    assert sum(b.parsed.nout for b in bs) == 267
    assert sum(b.total_output_value for b in bs) == 1_292_900_000_000
    two = [height for height, b in enumerate(bs, start=1) if b.tx_count == 2]
    assert two == [170, 181, 182, 183, 187, 221, 248]
    assert all(b.tx_count in (1, 2) for b in bs)
    b170 = bs[169]
    assert b170.hash == "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"
    spend = b170.txs[1]
    assert not spend.is_coinbase
    assert b170.txs[0].is_coinbase
    assert spend.txid == "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"


def test_blocks_1_255_scripts(blocks_1_255) -> None:
    for b in blocks_1_255:
        for t in b.txs:
            for o in t.outputs:
                assert o.script_type == solver(o.script)
                assert o.address == ref_address(o.script)
    coinbase_outs = [o for b in blocks_1_255 for o in b.txs[0].outputs]
    assert {o.script_type for o in coinbase_outs} == {"p2pk"}
    assert all(o.value == 50 * 100_000_000 for o in coinbase_outs)


def test_blocks_1_255_offsets_and_files(blocks_1_255, blk_records) -> None:
    for b, (off, raw) in zip(blocks_1_255, blk_records, strict=True):
        assert b.file == "blocks.blk"
        assert b.offset == off
        assert b.size == len(raw)
        assert b.weight == 4 * len(raw)


def test_blocks_1_255_every_tx_matches_bitcoinlib(blocks_1_255, blk_records) -> None:
    for b, (_, raw) in zip(blocks_1_255, blk_records, strict=True):
        _compare_with_lib(b, CBlock.deserialize(raw))


def test_blk_records_agree_with_length_prefix(shared_data: Path) -> None:
    """The splitter itself: magic and lengths read with struct, nothing left over."""
    data = (shared_data / "bitcoin" / "mainnet-blocks-1-255.blk").read_bytes()
    assert len(data) == 58_731
    total = 0
    p = 0
    while p < len(data):
        magic, length = struct.unpack_from("<4sI", data, p)
        assert magic == bytes.fromhex("f9beb4d9")
        p += 8 + length
        total += 1
    assert (p, total) == (len(data), 255)


# ---------------------------------------------------------------------------------------
# the two SHA-256 backends

_SUBPROCESS = """
import json, sys
from pathlib import Path
from spector.chain import _sha, parse_block
from tests.chain.parser_helpers import simple_segwit_block
assert _sha.SHA256_BACKEND == "numba", _sha.SHA256_BACKEND
out = {"backend": _sha.SHA256_BACKEND}
b = parse_block(Path(sys.argv[1]).read_bytes())
out["413567"] = {
    "hash": b.hash, "height": b.height, "txids": b.txids,
    "addresses": [b.address(i) for i in range(b.parsed.nout)],
    "value": b.total_output_value, "weight": b.weight,
}
s = parse_block(simple_segwit_block()[0])
out["segwit"] = {"txids": s.txids, "wtxids": [t.wtxid for t in s.txs],
                 "addresses": [s.address(i) for i in range(s.parsed.nout)]}
print(json.dumps(out))
"""


def test_backend_in_process_is_openssl() -> None:
    if os.environ.get("SPECTOR_SHA256") == "numba":
        pytest.skip("SPECTOR_SHA256=numba forces the fallback in this process")
    assert _sha.SHA256_BACKEND == "openssl"


def test_numba_sha_backend_gives_same_results(
    raw_413567: bytes, block_413567, lib_413567, shared_data: Path
) -> None:
    env = dict(os.environ, SPECTOR_SHA256="numba")
    proc = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS, str(shared_data / "bitcoin" / "block-413567.raw")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert got["backend"] == "numba"
    b = block_413567
    g = got["413567"]
    assert g["hash"] == b.hash
    assert g["height"] == 413567
    assert g["txids"] == b.txids == [b2lx(t.GetTxid()) for t in lib_413567.vtx]
    assert g["addresses"] == [b.address(i) for i in range(b.parsed.nout)]
    assert (g["value"], g["weight"]) == (914_705_170_223, 3_999_548)
    s = parse_block(simple_segwit_block()[0])
    assert got["segwit"]["txids"] == s.txids
    assert got["segwit"]["wtxids"] == [t.wtxid for t in s.txs]
    assert got["segwit"]["wtxids"] != got["segwit"]["txids"]
    assert got["segwit"]["addresses"] == [s.address(i) for i in range(s.parsed.nout)]
