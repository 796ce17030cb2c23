"""The blk files hold real regtest blocks: records, ids, merkle roots, PoW, BIP34, BIP141."""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import bitcoin
import pytest
from bip_utils import Hash160
from bitcoin.core import CBlock, CheckBlock, b2lx

from spector.sim.chain import ChainInput, build_chain
from spector.sim.chain import _build as chain_build

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conftest import Block, Built

TARGET = 0x7FFFFF << (8 * (0x20 - 3))
EPOCH = 1_672_531_200  # 2023-01-01T00:00:00Z
BLOCKS_PER_DAY = 6


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def merkle(hashes: list[bytes]) -> bytes:
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def bip34_height(script_sig: bytes) -> int:
    """The height a coinbase pushes first, read the way Bitcoin Core writes it."""
    op = script_sig[0]
    if op == 0:
        return 0
    if 0x51 <= op <= 0x60:
        return op - 0x50
    if 1 <= op <= 8:
        return int.from_bytes(script_sig[1 : 1 + op], "little")
    raise ValueError(f"coinbase does not start with a height push: {script_sig.hex()}")


def core_height_push(height: int) -> bytes:
    """``CScript() << height`` as Bitcoin Core writes it (what BIP34 compares against)."""
    if height == 0:
        return b"\x00"
    if height <= 16:
        return bytes([0x50 + height])
    data = height.to_bytes((height.bit_length() + 8) // 8, "little")
    return bytes([len(data)]) + data


def block_problems(block: Block, height: int, prev_hash: str) -> list[str]:
    """Everything wrong with ``block`` as block number ``height`` after ``prev_hash``."""
    where = f"block {height}"
    problems = []
    if block.prev_hash != prev_hash:
        problems.append(f"{where}: previous hash {block.prev_hash} != {prev_hash}")
    if block.version != 0x20000000 or block.bits != 0x207FFFFF:
        problems.append(f"{where}: version {block.version:#x} bits {block.bits:#x}")
    if int.from_bytes(sha256d(block.header), "little") > TARGET:
        problems.append(f"{where}: header hash above the target")
    if not block.txs or not block.txs[0].is_coinbase:
        return [*problems, f"{where}: first transaction is not a coinbase"]
    if any(tx.is_coinbase for tx in block.txs[1:]):
        problems.append(f"{where}: second coinbase")
    root = merkle([bytes.fromhex(tx.txid)[::-1] for tx in block.txs])
    if root != block.merkle_root:
        problems.append(f"{where}: merkle root mismatch")
    coinbase = block.txs[0]
    script_sig = coinbase.inputs[0].script_sig
    if bip34_height(script_sig) != height or not script_sig.startswith(core_height_push(height)):
        problems.append(f"{where}: BIP34 height push {script_sig.hex()}")
    if not 2 <= len(script_sig) <= 100:
        problems.append(f"{where}: coinbase scriptSig of {len(script_sig)} bytes")
    commitments = [spk for _, spk in coinbase.outputs if spk[:6] == bytes.fromhex("6a24aa21a9ed")]
    if any(tx.segwit for tx in block.txs[1:]):
        witness = coinbase.inputs[0].witness
        if witness != [b"\x00" * 32]:
            problems.append(f"{where}: coinbase witness is not one 32-byte reserved value")
        wroot = merkle([b"\x00" * 32] + [bytes.fromhex(tx.wtxid)[::-1] for tx in block.txs[1:]])
        if not commitments or commitments[-1][6:38] != sha256d(wroot + witness[0]):
            problems.append(f"{where}: witness commitment mismatch")
    elif commitments or coinbase.segwit:
        problems.append(f"{where}: witness commitment without witness transactions")
    return problems


def test_every_block_links_hashes_and_commits(built: Built) -> None:
    problems: list[str] = []
    prev = "00" * 32
    for height, block in enumerate(built.blocks):
        problems += block_problems(block, height, prev)
        prev = block.hash
    assert problems == []
    assert len(built.blocks) == built.truth.blocks
    assert built.blocks[-1].hash == built.truth.tip_hash
    assert sum(len(b.txs) for b in built.blocks) == built.truth.transactions


def test_block_files_are_only_records(built: Built) -> None:
    (path,) = built.truth.blk_files
    assert path == built.out_dir / "blocks" / "blk00000.dat"
    data = path.read_bytes()
    pos = count = 0
    while pos < len(data):
        assert data[pos : pos + 4] == bytes.fromhex("fabfb5da")
        pos += 8 + struct.unpack_from("<I", data, pos + 4)[0]
        count += 1
    assert pos == len(data)
    assert count == len(built.blocks)


def test_heights_times_and_days(built: Built) -> None:
    heights = [bip34_height(b.txs[0].inputs[0].script_sig) for b in built.blocks]
    assert heights == list(range(len(built.blocks)))
    times = [b.time for b in built.blocks]
    assert all(a < b for a, b in itertools.pairwise(times))
    prelude = len(built.blocks) - built.inp.days * BLOCKS_PER_DAY
    assert prelude == 101  # premine block + 100 blocks of coinbase maturity
    assert all(t < EPOCH for t in times[:prelude])
    for index, block in enumerate(built.blocks[prelude:]):
        day = index // BLOCKS_PER_DAY
        assert EPOCH + day * 86_400 <= block.time < EPOCH + (day + 1) * 86_400
    by_txid = {row["txid"]: row for row in built.tables["transactions"]}
    for height, block in enumerate(built.blocks):
        day = -1 if height < prelude else (height - prelude) // BLOCKS_PER_DAY
        for tx in block.txs:
            assert (by_txid[tx.txid]["block_height"], by_txid[tx.txid]["day"]) == (height, day)


def test_python_bitcoinlib_agrees(built: Built) -> None:
    bitcoin.SelectParams("regtest")
    try:
        for ours in built.blocks:
            raw = ours.header + _raw_body(built, ours)
            theirs = CBlock.deserialize(raw)
            assert theirs.serialize() == raw
            CheckBlock(theirs, cur_time=EPOCH + 10 * 365 * 86_400)
            assert b2lx(theirs.GetHash()) == ours.hash
            assert [b2lx(tx.GetTxid()) for tx in theirs.vtx] == [tx.txid for tx in ours.txs]
    finally:
        bitcoin.SelectParams("mainnet")


def _raw_body(built: Built, block: Block) -> bytes:
    data = (built.out_dir / "blocks" / block.file).read_bytes()
    pos = data.index(block.header)
    (length,) = struct.unpack_from("<I", data, pos - 4)
    return data[pos + 80 : pos + length]


def test_all_script_types_and_both_serializations(built: Built) -> None:
    kinds: Counter[str] = Counter()
    spends: Counter[str] = Counter()
    outputs = {}
    for block in built.blocks:
        for tx in block.txs:
            for vout, (_, spk) in enumerate(tx.outputs):
                outputs[(tx.txid, vout)] = spk
                kinds[_script_kind(spk)] += 1
            if tx.is_coinbase:
                continue
            spends["segwit" if tx.segwit else "legacy"] += 1
            for txin in tx.inputs:
                spk = outputs[(txin.prev_txid, txin.vout)]
                spends[_check_spend(spk, txin.script_sig, txin.witness)] += 1
    assert {"p2pkh", "p2sh", "p2wpkh", "p2tr"} <= {k for k, n in kinds.items() if n}
    assert spends["legacy"]
    assert spends["segwit"]
    assert {"p2pkh", "p2sh", "p2wpkh", "p2tr"} <= set(spends)


def _script_kind(spk: bytes) -> str:
    if spk[:3] == b"\x76\xa9\x14":
        return "p2pkh"
    if spk[:2] == b"\xa9\x14":
        return "p2sh"
    if spk[:2] == b"\x00\x14":
        return "p2wpkh"
    if spk[:2] == b"\x51\x20":
        return "p2tr"
    return "other"


def _check_spend(spk: bytes, script_sig: bytes, witness: list[bytes]) -> str:
    """The spend has the shape its output script asks for, with a matching public key."""
    kind = _script_kind(spk)
    if kind == "p2pkh":
        assert script_sig[0] == 72
        assert script_sig[73] == 33
        assert len(script_sig) == 107
        assert _is_der_shaped(script_sig[1:73])
        assert not witness
        assert Hash160.QuickDigest(script_sig[74:]) == spk[3:23]
    elif kind in ("p2wpkh", "p2sh"):
        sig, pubkey = witness
        assert _is_der_shaped(sig)
        assert len(pubkey) == 33
        assert pubkey[0] in (2, 3)
        program = Hash160.QuickDigest(pubkey)
        if kind == "p2wpkh":
            assert not script_sig
            assert program == spk[2:]
        else:
            assert script_sig == b"\x16\x00\x14" + program
            assert Hash160.QuickDigest(script_sig[1:]) == spk[2:22]
    elif kind == "p2tr":
        assert not script_sig
        assert [len(item) for item in witness] == [64]
    else:
        pytest.fail(f"spend of a non-standard output {spk.hex()}")
    return kind


def _is_der_shaped(sig: bytes) -> bool:
    return (
        len(sig) == 72
        and sig[:2] == b"\x30\x45"
        and sig[2:4] == b"\x02\x21"
        and sig[37:39] == b"\x02\x20"
        and sig[-1] == 0x01
    )


def test_the_checks_catch_corruption(
    built: Built, reader: Callable[[Iterable[Path]], list[Block]], tmp_path: Path
) -> None:
    source = built.truth.blk_files[0]
    copy = tmp_path / source.name
    target = next(h for h, b in enumerate(built.blocks) if b.txs[-1].segwit and len(b.txs) > 2)
    block = built.blocks[target]
    clean = source.read_bytes()
    end = clean.index(block.header) + 80 + len(_raw_body(built, block))
    for offset, expected in ((2, "merkle root"), (12, "witness commitment")):
        data = bytearray(clean)
        data[end - offset] ^= 0x01  # in the last tx's locktime, then in its witness
        copy.write_bytes(bytes(data))
        damaged = reader([copy])[target]
        problems = block_problems(damaged, target, block.prev_hash)
        assert [p for p in problems if expected in p], (expected, problems)

    copy.write_bytes(b"\x00" + clean[1:])
    with pytest.raises(ValueError, match="bad magic"):
        reader([copy])
    copy.write_bytes(clean[:-1])
    with pytest.raises(ValueError, match="past the end"):
        reader([copy])


def test_busy_slots_spill_into_extra_blocks(
    make_scenario: Callable[..., ChainInput],
    reader: Callable[[Iterable[Path]], list[Block]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    limit = 6_000
    monkeypatch.setattr(chain_build, "MAX_TX_WEIGHT_PER_BLOCK", limit)
    inp = make_scenario()
    truth = build_chain(inp, tmp_path)
    blocks = reader(truth.blk_files)
    assert len(blocks) > 101 + inp.days * BLOCKS_PER_DAY
    problems: list[str] = []
    prev = "00" * 32
    for height, block in enumerate(blocks):
        problems += block_problems(block, height, prev)
        prev = block.hash
        body = [tx.base_size * 3 + tx.size for tx in block.txs[1:]]
        assert len(body) <= 1 or sum(body) <= limit
    assert problems == []
    times = [b.time for b in blocks]
    assert all(a < b for a, b in pairwise(times))
    assert max(times) < EPOCH + inp.days * 86_400
