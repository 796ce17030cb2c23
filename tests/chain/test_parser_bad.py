"""parse_block on malformed blocks: a ParseError naming the file, the byte offset and what
was expected, for every way the bytes can be wrong."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.chain.parser_helpers import (
    PUBKEY33,
    In,
    Tx,
    coinbase,
    compact,
    make_block,
    p2pkh,
    push,
    sha256d,
    simple_segwit_block,
    tx_offsets,
    witness_program,
)

from spector.chain import parse_block
from spector.errors import InputError, ParseError


def _legacy() -> tuple[bytes, list[Tx]]:
    cb = coinbase(300_000, [(2_500_000_000, p2pkh(b"\x01" * 20))])
    spend = Tx(
        [In(bytes(range(32)), 0, push(b"\x30" * 71) + push(PUBKEY33), 0xFFFFFFFF)],
        [(1_000, p2pkh(b"\x02" * 20)), (0, b"\x6a" + push(b"hello"))],
        version=1,
    )
    txs = [cb, spend]
    return make_block(txs), txs


def _splice(raw: bytes, at: int, old: bytes, new: bytes) -> bytes:
    assert raw[at : at + len(old)] == old, (raw[at : at + len(old)].hex(), old.hex())
    return raw[:at] + new + raw[at + len(old) :]


@dataclass
class Bad:
    data: bytes
    offset: int  # where the error is, from the block's start
    what: str  # a fragment of the message
    expected: str  # a fragment of what was expected


def _cases() -> dict[str, Bad]:
    seg_raw, seg_txs = simple_segwit_block()
    leg_raw, leg_txs = _legacy()
    seg_at = tx_offsets(seg_txs)
    leg_at = tx_offsets(leg_txs)
    s = leg_at[1]  # the legacy spend, last in its block
    spend = leg_txs[1]
    vout_count_at = s + 4 + 1 + len(spend.inputs[0].serialize())
    hello_at = leg_raw.index(b"\x6a\x05hello")
    seg2 = seg_at[2]  # the two-input segwit spend, last in its block

    cases: dict[str, Bad] = {}
    # truncations
    cases["header-only"] = Bad(leg_raw[:80], 0, "too short", "80-byte header")
    cases["empty"] = Bad(b"", 0, "0 bytes is too short", "80-byte header")
    cases["header-and-count"] = Bad(leg_raw[:81], 80, "count 2 is larger", "a count that fits")
    cases["mid-locktime"] = Bad(leg_raw[:-2], len(leg_raw) - 4, "data ends", "2 more bytes")
    cases["mid-script"] = Bad(leg_raw[: hello_at + 4], hello_at, "data ends", "3 more bytes")
    cases["mid-value"] = Bad(
        leg_raw[: vout_count_at + 1 + 8 + 26 + 3],
        vout_count_at + 1 + 8 + 26,
        "data ends",
        "5 more bytes",
    )
    cases["count-one-too-many"] = Bad(
        leg_raw[:80] + b"\x03" + leg_raw[81:], len(leg_raw), "data ends", "4 more bytes"
    )
    # counts and compact sizes
    cases["tx-count-too-large"] = Bad(
        _splice(leg_raw, 80, b"\x02", compact(1000)), 80, "count 1,000 is larger", "fits"
    )
    cases["input-count-too-large"] = Bad(
        _splice(leg_raw, s + 4, b"\x01", b"\x09"), s + 4, "count 9 is larger", "fits"
    )
    cases["output-count-too-large"] = Bad(
        _splice(leg_raw, vout_count_at, b"\x02", b"\x60"),
        vout_count_at,
        "count 96 is larger",
        "fits",
    )
    cases["witness-count-too-large"] = Bad(
        _splice(seg_raw, len(seg_raw) - 4 - 1, b"\x00", b"\xfd\xff\x00"),
        len(seg_raw) - 5,
        "count 255 is larger",
        "fits",
    )
    cases["noncanonical-fd"] = Bad(
        _splice(leg_raw, 80, b"\x02", b"\xfd\x02\x00"), 80, "bad compact size", "canonical"
    )
    cases["noncanonical-fe"] = Bad(
        _splice(leg_raw, 80, b"\x02", b"\xfe\xff\xff\x00\x00"), 80, "bad compact size", "canonical"
    )
    cases["noncanonical-script-len"] = Bad(
        _splice(leg_raw, hello_at - 1, b"\x07", b"\xfd\x07\x00"),
        hello_at - 1,
        "bad compact size",
        "canonical",
    )
    cases["compact-ff"] = Bad(
        _splice(leg_raw, 80, b"\x02", b"\xff" + struct.pack("<Q", 2)),
        80,
        "bad compact size",
        "canonical",
    )
    cases["compact-ff-huge"] = Bad(
        _splice(leg_raw, 80, b"\x02", b"\xff" + struct.pack("<Q", 1 << 40)),
        80,
        "bad compact size",
        "at most 33,554,432",
    )
    cases["compact-ff-all-ones"] = Bad(
        _splice(leg_raw, 80, b"\x02", b"\xff" * 9), 80, "bad compact size", "at most 33,554,432"
    )
    cases["compact-above-max-size"] = Bad(
        _splice(leg_raw, hello_at - 1, b"\x07", b"\xfe" + struct.pack("<I", 0x02000001)),
        hello_at - 1,
        "bad compact size",
        "at most 33,554,432",
    )
    cases["compact-ff-truncated"] = Bad(
        leg_raw[:80] + b"\xff\x01\x00\x00", 80, "data ends", "5 more bytes"
    )
    cases["script-beyond-block"] = Bad(
        _splice(leg_raw, hello_at - 1, b"\x07", b"\xfd\x00\x10"),
        hello_at + 2,
        "data ends",
        f"{hello_at + 2 + 0x1000 - (len(leg_raw) + 2)} more bytes",
    )
    cases["trailing-bytes"] = Bad(
        leg_raw + b"\x00\x00\x00", len(leg_raw), "3 bytes after the last transaction", "end"
    )
    # hashes
    cases["merkle-tx-byte"] = Bad(
        _splice(leg_raw, hello_at + 2, b"h", b"H"), 36, "merkle root does not match", "merkle"
    )
    cases["merkle-header-byte"] = Bad(
        leg_raw[:50] + bytes([leg_raw[50] ^ 1]) + leg_raw[51:], 36, "merkle root", "merkle"
    )
    cases["merkle-missing-tx"] = Bad(
        leg_raw[:80] + b"\x01" + leg_raw[81:s], 36, "merkle root", "merkle"
    )
    # BIP144 serialization
    cases["flag-02"] = Bad(
        _splice(seg_raw, seg2 + 4, b"\x00\x01", b"\x00\x02"),
        seg2 + 5,
        "unknown transaction flag 0x02",
        "flag 0x01",
    )
    cases["flag-03"] = Bad(
        _splice(seg_raw, seg2 + 4, b"\x00\x01", b"\x00\x03"),
        seg2 + 5,
        "unknown transaction flag",
        "flag 0x01",
    )
    empty_wit = Tx(
        [In(b"\x33" * 32, 0, b"", 0xFFFFFFFF), In(b"\x44" * 32, 1, b"", 0xFFFFFFFF)],
        [(5, witness_program(0, b"\x05" * 20))],
        segwit=True,
    )
    sup_txs = [coinbase(1, [(1, b"\x51")]), empty_wit]
    cases["superfluous-witness"] = Bad(
        make_block(sup_txs), tx_offsets(sup_txs)[1], "every witness is empty", "witness item"
    )
    no_inputs = Tx([], [(5, b"\x51")], segwit=True)
    nin_txs = [coinbase(1, [(1, b"\x51")]), no_inputs]
    cases["witness-flag-no-inputs"] = Bad(
        make_block(nin_txs), tx_offsets(nin_txs)[1], "every witness is empty", "witness item"
    )
    # no transactions
    cases["zero-txs"] = Bad(leg_raw[:80] + b"\x00", 80, "block without transactions", "coinbase")
    cases["zero-txs-padded"] = Bad(
        leg_raw[:80] + b"\x00" + b"\x00" * 20, 80, "block without transactions", "coinbase"
    )
    return cases


CASES = _cases()


def test_controls_parse() -> None:
    """The unmutated blocks the cases are made from are valid."""
    assert parse_block(_legacy()[0]).tx_count == 2
    assert parse_block(simple_segwit_block()[0]).tx_count == 3


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_block(name: str) -> None:
    case = CASES[name]
    with pytest.raises(ParseError) as caught:
        parse_block(case.data)
    err = caught.value
    assert isinstance(err, InputError)
    assert err.offset == case.offset
    assert err.file is None
    assert case.what in err.what
    assert err.expected
    assert case.expected in err.expected
    assert str(err).startswith(f"offset {case.offset}: ")
    assert f"(expected {err.expected})" in str(err)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_block_in_file(name: str) -> None:
    """``file`` and ``offset`` say where the block is: the error's offset is in the file."""
    case = CASES[name]
    with pytest.raises(ParseError) as caught:
        parse_block(case.data, file="x.blk", offset=1000)
    err = caught.value
    assert err.offset == 1000 + case.offset
    assert err.file == "x.blk"
    assert str(err).startswith(f"x.blk@{1000 + case.offset}: ")
    assert case.what in str(err)


def test_file_may_be_a_path() -> None:
    with pytest.raises(ParseError) as caught:
        parse_block(CASES["trailing-bytes"].data, file=Path("/data/blk00001.dat"), offset=8)
    assert caught.value.file == "/data/blk00001.dat"
    assert caught.value.offset == 8 + CASES["trailing-bytes"].offset


@pytest.mark.parametrize("kind", ["legacy", "segwit"])
def test_every_truncation_fails(kind: str) -> None:
    raw = _legacy()[0] if kind == "legacy" else simple_segwit_block()[0]
    for cut in range(len(raw)):
        with pytest.raises(ParseError) as caught:
            parse_block(raw[:cut], file="t.blk", offset=500)
        err = caught.value
        local = err.offset - 500
        assert 0 <= local <= cut, cut
        assert err.file == "t.blk"
        assert err.expected, cut
        if cut >= 81:
            # a prefix cannot fail the merkle check or have bytes to spare
            assert err.what.startswith(("data ends", "count ")), (cut, err.what)


@pytest.mark.parametrize("cut", [80, 81, 82, 1_000, 500_000, 999_883, 999_886])
def test_real_block_truncated(shared_data: Path, cut: int) -> None:
    raw = (shared_data / "bitcoin" / "block-413567.raw").read_bytes()
    with pytest.raises(ParseError) as caught:
        parse_block(raw[:cut], file="blk00000.dat", offset=8)
    err = caught.value
    assert err.file == "blk00000.dat"
    assert 8 <= err.offset <= 8 + cut
    if cut <= 80:
        assert err.what == f"{cut} bytes is too short for a block"
    else:
        assert err.what.startswith(("data ends", "count ")), err.what
    if cut == 999_883:  # exactly the last lock time missing
        assert (err.offset, err.expected) == (8 + 999_883, "4 more bytes")


def test_truncation_reports_missing_bytes() -> None:
    raw, _ = _legacy()
    end = len(raw)
    for missing in (1, 2, 3, 4):
        with pytest.raises(ParseError) as caught:
            parse_block(raw[: end - missing])
        assert caught.value.offset == end - 4
        assert caught.value.expected == f"{missing} more byte{'s' if missing > 1 else ''}"


def test_witness_bytes_are_not_in_the_merkle_root() -> None:
    """Changing a witness changes the wtxid, not the txid: the block still parses (the
    parser checks the merkle root, not the witness commitment)."""
    raw, _ = simple_segwit_block()
    sig_at = raw.index(b"\x30" * 72)
    mutated = raw[:sig_at] + b"\x31" + raw[sig_at + 1 :]
    a, b = parse_block(raw), parse_block(mutated)
    assert a.txids == b.txids
    assert a.txs[2].wtxid != b.txs[2].wtxid
    assert b.txs[2].inputs[0].witness[0][0] == 0x31


# ---------------------------------------------------------------------------------------
# once parser bugs (found by these tests, fixed since)


@pytest.mark.parametrize("which", ["inputs", "outputs"])
def test_count_offset_multibyte(which: str) -> None:
    raw, txs = _legacy()
    s = tx_offsets(txs)[1]
    at = s + 4 if which == "inputs" else s + 4 + 1 + len(txs[1].inputs[0].serialize())
    old = b"\x01" if which == "inputs" else b"\x02"
    bad = _splice(raw, at, old, b"\xfd\x00\x01")  # 256, canonical
    with pytest.raises(ParseError) as caught:
        parse_block(bad)
    assert caught.value.what.startswith("count 256 is larger")
    assert caught.value.offset == at


def _empty_tx_block() -> tuple[bytes, bytes]:
    empty = Tx([], [], version=1, locktime=0x01020304, segwit=False)
    assert empty.serialize() == bytes.fromhex("01000000000004030201")
    return make_block([coinbase(9, [(1, b"\x51")]), empty]), empty.serialize()


def test_empty_tx_txid() -> None:
    """Core reads version, 0x00, 0x00, lock time as no inputs, flag 0, no outputs."""
    raw, serialized = _empty_tx_block()
    b = parse_block(raw)
    tx = b.txs[1]
    assert tx.txid == sha256d(serialized)[::-1].hex()
    assert tx.wtxid == tx.txid
    assert not tx.segwit
    assert tx.weight == 4 * len(serialized)


def test_empty_tx_with_wrong_merkle_still_fails() -> None:
    """Whatever the empty tx hashes to, a block with a garbage merkle root is refused."""
    raw, _ = _empty_tx_block()
    bad = raw[:36] + b"\x00" * 32 + raw[68:]
    with pytest.raises(ParseError, match="merkle root"):
        parse_block(bad)


def test_duplicated_transactions_cve_2012_2459() -> None:
    """[a, b, c] and [a, b, c, c] have the same merkle root; the second is refused."""
    a = coinbase(5, [(50, b"\x51")])
    b = Tx([In(b"\x11" * 32, 0)], [(1, b"\x51")], version=1)
    c = Tx([In(b"\x22" * 32, 1)], [(2, b"\x52")], version=1)
    good = make_block([a, b, c])
    root = good[36:68]
    bad = make_block([a, b, c, c], merkle=root)
    assert parse_block(good).tx_count == 3
    with pytest.raises(ParseError, match="CVE-2012-2459") as caught:
        parse_block(bad)
    assert caught.value.offset == 80
    assert bad[:80] == good[:80]  # the same header: the same block hash
