"""parse_block on synthetic blocks: every script class, addresses, segwit transactions.

The blocks are serialized here (``parser_helpers``) with hashlib-computed txids and
merkle roots. Expected addresses come from published vectors (BIP173, BIP350, Core's
key_io_valid.json) and from the reference encoders in ``parser_helpers``.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
from bitcoin.core import CBlock, b2lx
from tests.chain.parser_helpers import (
    PUBKEY33,
    PUBKEY65,
    In,
    Tx,
    coinbase,
    compact,
    make_block,
    p2pkh,
    p2sh,
    push,
    ref_address,
    sha256d,
    simple_segwit_block,
    solver,
    witness_program,
)

from spector.chain import SCRIPT_TYPES, parse_block
from spector.errors import UsageError

HASH160_G = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")  # hash160(PUBKEY33)
SHA256_P2WSH = bytes.fromhex("1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262")
XONLY_G = PUBKEY33[1:]
CHECKSIG, CHECKMULTISIG = b"\xac", b"\xae"


def _op_n(n: int) -> bytes:
    return bytes([0x50 + n])


def _multisig(m: int, keys: list[bytes]) -> bytes:
    return _op_n(m) + b"".join(push(k) for k in keys) + _op_n(len(keys)) + CHECKMULTISIG


# (case id, scriptPubKey, script class, mainnet address or None)
CASES: list[tuple[str, bytes, str, str | None]] = [
    ("p2pk33", push(PUBKEY33) + CHECKSIG, "p2pk", None),
    ("p2pk65", push(PUBKEY65) + CHECKSIG, "p2pk", None),
    ("p2pk65-hybrid06", push(b"\x06" + PUBKEY65[1:]) + CHECKSIG, "p2pk", None),
    ("p2pk-bad-header", push(b"\x05" + XONLY_G) + CHECKSIG, "nonstandard", None),
    ("p2pk33-len65-key", push(b"\x02" + PUBKEY65[1:]) + CHECKSIG, "nonstandard", None),
    ("p2pkh", p2pkh(HASH160_G), "p2pkh", "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"),
    ("p2pkh-zero", p2pkh(b"\x00" * 20), "p2pkh", "1111111111111111111114oLvT2"),
    ("p2sh", p2sh(HASH160_G), "p2sh", "computed"),
    (
        "p2wpkh",
        witness_program(0, HASH160_G),
        "p2wpkh",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    ),
    (
        "p2wsh",
        witness_program(0, SHA256_P2WSH),
        "p2wsh",
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
    ),
    (
        "p2tr",
        witness_program(1, XONLY_G),
        "p2tr",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    ),
    ("multisig-1-of-2", _multisig(1, [PUBKEY33, PUBKEY65]), "multisig", None),
    ("multisig-2-of-3", _multisig(2, [PUBKEY33, PUBKEY65, PUBKEY33]), "multisig", None),
    ("multisig-16-of-16", _multisig(16, [PUBKEY33] * 16), "multisig", None),
    (
        "multisig-3-of-2",
        _op_n(3) + push(PUBKEY33) * 2 + _op_n(2) + CHECKMULTISIG,
        "nonstandard",
        None,
    ),
    (
        "multisig-count-off",
        _op_n(1) + push(PUBKEY33) * 2 + _op_n(3) + CHECKMULTISIG,
        "nonstandard",
        None,
    ),
    ("multisig-no-keys", _op_n(1) + _op_n(1) + CHECKMULTISIG, "nonstandard", None),
    (
        "multisig-bad-key",
        _op_n(1) + push(b"\x09" + XONLY_G) + _op_n(1) + CHECKMULTISIG,
        "nonstandard",
        None,
    ),
    (
        "nulldata-pushes",
        b"\x6a" + push(b"hello") + push(b"\xab" * 80) + b"\x00\x51\x60\x4f",
        "nulldata",
        None,
    ),
    ("nulldata-bare", b"\x6a", "nulldata", None),
    ("nulldata-pushdata2", b"\x6a" + b"\x4d\x00\x01" + b"\x01" * 256, "nulldata", None),
    ("nulldata-op-reserved", b"\x6a\x50", "nulldata", None),
    ("return-then-nop", b"\x6a\x61", "nonstandard", None),
    ("return-truncated-push", b"\x6a\x05\x01\x02", "nonstandard", None),
    ("return-truncated-pushdata1", b"\x6a\x4c", "nonstandard", None),
    *[
        (
            f"witness-v{v}",
            witness_program(v, bytes(range(v, v + 2 + (v * 5) % 39))),
            "witness_unknown",
            "computed",
        )
        for v in range(2, 17)
    ],
    ("witness-v1-20", witness_program(1, HASH160_G), "witness_unknown", "computed"),
    ("witness-v1-40", witness_program(1, b"\x42" * 40), "witness_unknown", "computed"),
    ("witness-v16-2", witness_program(16, b"\x75\x1e"), "witness_unknown", "bc1sw50qgdz25j"),
    ("anchor", b"\x51\x02\x4e\x73", "anchor", "bc1pfeessrawgf"),
    ("op-true", b"\x51", "nonstandard", None),
    ("empty", b"", "nonstandard", None),
    ("truncated-push", b"\x05\x01\x02", "nonstandard", None),
    ("v0-25-bytes", witness_program(0, b"\x07" * 25), "nonstandard", None),
    ("v0-2-bytes", witness_program(0, b"\x07\x08"), "nonstandard", None),
    ("witness-41-bytes", witness_program(1, b"\x42" * 41), "nonstandard", None),
    ("p2sh-24-bytes", b"\xa9\x15" + b"\x01" * 21 + b"\x87", "nonstandard", None),
    ("p2pkh-wrong-tail", p2pkh(HASH160_G)[:-1] + b"\xad", "nonstandard", None),
]
SEGWIT_CLASSES = {"p2wpkh", "p2wsh", "p2tr", "witness_unknown", "anchor"}


def _expected_address(script: bytes, given: str | None) -> str | None:
    return ref_address(script) if given == "computed" else given


def _all_types_block() -> tuple[bytes, list[Tx]]:
    """A coinbase, then a legacy and a segwit tx each paying to every case's script."""
    outputs = [(1000 + n, script) for n, (_, script, _, _) in enumerate(CASES)]
    cb = coinbase(900_000, [(50, p2pkh(HASH160_G))], witness=True)
    legacy = Tx([In(bytes(range(32)), 3, push(b"\x01" * 72), 0xFFFFFFFE)], outputs, version=1)
    seg = Tx([In(bytes(range(1, 33)), 0, b"", 0xFFFFFFFF, [b"\x02" * 71, PUBKEY33])], outputs)
    txs = [cb, legacy, seg]
    return make_block(txs), txs


@pytest.fixture(scope="module")
def all_types():
    raw, txs = _all_types_block()
    return raw, txs, parse_block(raw)


def test_reference_table_agrees_with_core_solver() -> None:
    """The expected classes written above agree with the reference Solver transcription,
    and the hand-written addresses with the reference encoders (a check of the tests)."""
    for name, script, kind, address in CASES:
        assert solver(script) == kind, name
        assert kind in SCRIPT_TYPES
        if address not in (None, "computed"):
            assert ref_address(script) == address, name


def test_every_class_is_covered() -> None:
    assert {kind for _, _, kind, _ in CASES} == set(SCRIPT_TYPES)


def test_all_types_block_parses(all_types) -> None:
    _, txs, b = all_types
    assert b.tx_count == 3
    assert b.txids == [t.txid()[::-1].hex() for t in txs]
    assert b.height == 900_000
    assert b.parsed.nout == 1 + 2 * len(CASES)


@pytest.mark.parametrize(("name", "script", "kind", "address"), CASES, ids=[c[0] for c in CASES])
def test_script_class(all_types, name: str, script: bytes, kind: str, address: str | None) -> None:
    _, _, b = all_types
    for tx in b.txs[1:]:
        out = next(o for o in tx.outputs if o.value == 1000 + [c[0] for c in CASES].index(name))
        assert out.script == script
        assert out.script_type == kind


@pytest.mark.parametrize(
    ("name", "script", "address"), [c[:2] + c[3:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_script_address(all_types, name: str, script: bytes, address: str | None) -> None:
    _, _, b = all_types
    want = _expected_address(script, address)
    value = 1000 + [c[0] for c in CASES].index(name)
    got = [o.address for t in b.txs[1:] for o in t.outputs if o.value == value]
    assert got == [want, want]


def test_addresses_false_gives_same_strings(all_types) -> None:
    raw, _, eager = all_types
    lazy = parse_block(raw, addresses=False)
    n = eager.parsed.nout
    assert [lazy.address(i) for i in range(n)] == [eager.address(i) for i in range(n)]
    assert [o.address for t in lazy.txs for o in t.outputs] == [
        o.address for t in eager.txs for o in t.outputs
    ]


# ---------------------------------------------------------------------------------------
# Core's Solver also accepts these bare multisig forms (MatchMultisig reads counts with
# GetScriptNumber, up to MAX_PUBKEYS_PER_MULTISIG = 20, and keys from any push op)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(_op_n(1) + push(PUBKEY33) * 17 + b"\x01\x11" + CHECKMULTISIG, id="1-of-17"),
        pytest.param(
            b"\x01\x14" + push(PUBKEY33) * 20 + b"\x01\x14" + CHECKMULTISIG, id="20-of-20"
        ),
        pytest.param(
            _op_n(1) + b"\x4c\x21" + PUBKEY33 + _op_n(1) + CHECKMULTISIG, id="pushdata1-key"
        ),
    ],
)
def test_multisig_forms_core_accepts(script: bytes) -> None:
    assert solver(script) == "multisig"  # the reference transcription of Core
    b = parse_block(make_block([coinbase(1000, [(1, script)])]))
    assert b.txs[0].outputs[0].script_type == "multisig"


def test_multisig_over_20_keys_is_nonstandard() -> None:
    script = _op_n(1) + push(PUBKEY33) * 21 + b"\x01\x15" + CHECKMULTISIG
    assert solver(script) == "nonstandard"
    b = parse_block(make_block([coinbase(1000, [(1, script)])]))
    assert b.txs[0].outputs[0].script_type == "nonstandard"


# ---------------------------------------------------------------------------------------
# Core's key_io_valid.json vectors

CHAINS = {"main": "main", "test": "testnet4", "testnet4": "testnet4", "signet": "signet"}
CHAINS["regtest"] = "regtest"


def _key_io_params():
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "bitcoin"
    entries = json.loads((path / "key_io_valid.json").read_text())
    for n, (address, script_hex, meta) in enumerate(entries):
        if meta["isPrivkey"]:
            continue
        script = bytes.fromhex(script_hex)
        yield pytest.param(
            address, script, CHAINS[meta["chain"]], bool(meta.get("tryCaseFlip")),
            id=f"{n}-{meta['chain']}-{address[:12]}",
        )  # fmt: skip


KEY_IO = list(_key_io_params())


def test_key_io_vector_count(shared_data: Path) -> None:
    entries = json.loads((shared_data / "bitcoin" / "key_io_valid.json").read_text())
    assert len(entries) == 70
    assert len(KEY_IO) == 54
    # the bech32 / bech32m entries are the ones marked tryCaseFlip
    assert sum(1 for p in KEY_IO if p.values[3]) == 32
    assert sum(1 for p in KEY_IO if solver(p.values[1]) in SEGWIT_CLASSES) == 32


@pytest.mark.parametrize(("address", "script", "chain", "case_flip"), KEY_IO)
def test_key_io_address(address: str, script: bytes, chain: str, case_flip: bool) -> None:
    tx = Tx([In(b"\x55" * 32, 0, b"\x51", 0xFFFFFFFF)], [(7, script), (8, p2pkh(HASH160_G))])
    b = parse_block(make_block([coinbase(1, [(1, b"\x51")]), tx]), network_name=chain)
    out = b.txs[1].outputs[0]
    assert out.script == script
    assert out.script_type == solver(script)
    got = out.address
    assert got is not None
    if case_flip:
        assert got == address.lower()
    else:
        assert got == address


def test_network_changes_base58_prefix() -> None:
    raw = make_block([coinbase(1, [(1, p2pkh(HASH160_G)), (2, p2sh(HASH160_G))])])
    main = parse_block(raw, network_name="main")
    test = parse_block(raw, network_name="testnet4")
    assert [o.address for o in main.txs[0].outputs] == [
        "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH",
        ref_address(p2sh(HASH160_G), "main"),
    ]
    assert [o.address for o in test.txs[0].outputs] == [
        ref_address(p2pkh(HASH160_G), "testnet4"),
        ref_address(p2sh(HASH160_G), "testnet4"),
    ]
    assert test.txs[0].outputs[0].address.startswith(("m", "n"))
    assert test.txs[0].outputs[1].address.startswith("2")


def test_unknown_network_is_refused() -> None:
    raw = make_block([coinbase(1, [(1, b"\x51")])])
    with pytest.raises(UsageError, match="unknown network"):
        parse_block(raw, network_name="dogecoin")


# ---------------------------------------------------------------------------------------
# segwit transactions


def _segwit_txs() -> list[Tx]:
    cb = coinbase(700_001, [(1_000, p2pkh(HASH160_G)), (0, b"\x6a" + push(b"\x01" * 36))])
    cb.inputs[0].witness = [b"\x00" * 32]
    legacy = Tx(
        [In(bytes(range(32)), 5, push(b"\x30" * 71) + push(PUBKEY33), 0xFFFFFFFE)],
        [(10, p2sh(HASH160_G))],
        version=1,
        locktime=123_456,
    )
    seg = Tx(
        [
            In(bytes(range(100, 132)), 0, b"", 0xFFFFFFFD, []),  # empty witness first
            In(bytes(range(200, 232)), 1, push(b"\x00\x14" + HASH160_G), 0, [b"", b"\x01"]),
            In(
                b"\xee" * 32, 0xFFFFFFFE, b"", 0x80000000, [b"\x07" * 300, PUBKEY65, b"\x01" * 0xFD]
            ),
        ],
        [(20_000, witness_program(0, HASH160_G)), (1, witness_program(1, XONLY_G))],
        version=2,
        locktime=0xFFFFFFFF,
    )
    return [cb, legacy, seg]


@pytest.fixture(scope="module")
def segwit_block():
    txs = _segwit_txs()
    raw = make_block(txs)
    return raw, txs, parse_block(raw)


def test_segwit_txid_and_wtxid(segwit_block) -> None:
    _, txs, b = segwit_block
    for tx, spec in zip(b.txs, txs, strict=True):
        # independent hashes: hashlib over the two serializations
        legacy = spec.legacy()
        full = spec.serialize()
        want_txid = hashlib.sha256(hashlib.sha256(legacy).digest()).digest()[::-1].hex()
        want_wtxid = hashlib.sha256(hashlib.sha256(full).digest()).digest()[::-1].hex()
        assert tx.txid == want_txid
        assert tx.wtxid == want_wtxid
        assert tx.segwit is spec.uses_witness
        assert (tx.txid != tx.wtxid) is spec.uses_witness
    assert [t.segwit for t in b.txs] == [True, False, True]


def test_segwit_block_matches_bitcoinlib(segwit_block) -> None:
    raw, _, b = segwit_block
    lib = CBlock.deserialize(raw)
    assert b.txids == [b2lx(t.GetTxid()) for t in lib.vtx]
    assert [t.wtxid for t in b.txs] == [b2lx(t.GetHash()) for t in lib.vtx]
    for tx, ltx in zip(b.txs, lib.vtx, strict=True):
        stacks = [tuple(w.scriptWitness.stack) for w in ltx.wit.vtxinwit]
        assert [i.witness for i in tx.inputs] == (stacks or [()] * len(tx.inputs))
        for o, lo in zip(tx.outputs, ltx.vout, strict=True):
            assert (o.value, o.script) == (lo.nValue, bytes(lo.scriptPubKey))


def test_segwit_weight_and_vsize(segwit_block) -> None:
    raw, txs, b = segwit_block
    total = 80 + len(compact(len(txs)))
    for tx, spec in zip(b.txs, txs, strict=True):
        base = len(spec.legacy())
        size = len(spec.serialize())
        assert tx.size == size
        assert tx.weight == base * 3 + size  # BIP141
        assert tx.vsize == -(-tx.weight // 4)
        total += size
    seg = b.txs[2]
    assert seg.weight < 4 * seg.size
    assert b.size == total == len(raw)
    assert b.weight == 4 * (80 + 1) + sum(t.weight for t in b.txs)


def test_witness_items_round_trip(segwit_block) -> None:
    _, txs, b = segwit_block
    for tx, spec in zip(b.txs, txs, strict=True):
        assert [i.witness for i in tx.inputs] == [tuple(i.witness) for i in spec.inputs]
    assert b.txs[2].inputs[2].witness[2] == b"\x01" * 0xFD  # 3-byte compact size
    assert b.txs[2].inputs[1].witness == (b"", b"\x01")
    assert b.txs[2].inputs[0].witness == ()
    assert b.txs[1].inputs[0].witness == ()


def test_inputs_fields(segwit_block) -> None:
    _, txs, b = segwit_block
    for tx, spec in zip(b.txs, txs, strict=True):
        assert (tx.version, tx.locktime) == (spec.version, spec.locktime)
        for txin, s in zip(tx.inputs, spec.inputs, strict=True):
            assert txin.prev_txid == s.prev[::-1].hex()
            assert (txin.vout, txin.script_sig, txin.sequence) == (s.vout, s.script_sig, s.sequence)
    assert b.txs[1].inputs[0].prev_txid == bytes(range(31, -1, -1)).hex()  # display order
    assert b.txs[2].inputs[2].vout == 0xFFFFFFFE


def test_is_coinbase(segwit_block) -> None:
    _, _, b = segwit_block
    assert [t.is_coinbase for t in b.txs] == [True, False, False]
    assert b.txs[0].inputs[0].is_coinbase
    assert not any(i.is_coinbase for t in b.txs[1:] for i in t.inputs)
    # a spend of output 0xffffffff of a real txid is not a coinbase input
    assert not b.txs[2].inputs[2].is_coinbase


def test_coinbase_lookalike_not_first() -> None:
    """is_coinbase is Core's CTransaction::IsCoinBase: one input with a null prevout,
    wherever the transaction sits."""
    odd = Tx([In(b"\x00" * 32, 0xFFFFFFFF, b"\x51", 0)], [(1, b"\x51")])
    b = parse_block(make_block([coinbase(5, [(1, b"\x51")]), odd]))
    assert b.txs[1].inputs[0].is_coinbase
    assert b.txs[1].is_coinbase


def test_simple_segwit_block_helper() -> None:
    raw, txs = simple_segwit_block()
    b = parse_block(raw)
    assert b.txids == [sha256d(t.legacy())[::-1].hex() for t in txs]
    assert [t.wtxid for t in b.txs] == [sha256d(t.serialize())[::-1].hex() for t in txs]
    assert [o.script_type for t in b.txs for o in t.outputs] == [
        "p2pkh", "p2wpkh", "nulldata", "p2tr", "p2sh",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------
# BIP34 heights


def _coinbase_with_sig(script_sig: bytes) -> Tx:
    return Tx([In(b"\x00" * 32, 0xFFFFFFFF, script_sig, 0xFFFFFFFF)], [(1, b"\x51")])


@pytest.mark.parametrize(
    "height", [17, 127, 128, 255, 256, 32767, 32768, 65535, 413_567, 8_388_607, 8_388_608]
)
def test_bip34_height_pushed(height: int) -> None:
    b = parse_block(make_block([coinbase(height, [(1, b"\x51")])], version=2))
    assert b.height == height


@pytest.mark.parametrize("height", [1, 2, 16])
def test_bip34_height_small_ints(height: int) -> None:
    b = parse_block(make_block([_coinbase_with_sig(_op_n(height) + b"\x00")], version=2))
    assert b.height == height


def test_bip34_height_zero_and_version_1() -> None:
    assert parse_block(make_block([_coinbase_with_sig(b"\x00\x01")], version=2)).height == 0
    raw = make_block([coinbase(500, [(1, b"\x51")])], version=1)
    assert parse_block(raw).height is None


def test_bip34_negative_is_not_a_height() -> None:
    raw = make_block([_coinbase_with_sig(b"\x01\x85")], version=2)  # CScriptNum -5
    assert parse_block(raw).height is None
    raw = make_block([_coinbase_with_sig(b"\x6a")], version=2)
    assert parse_block(raw).height is None


def test_header_fields_roundtrip() -> None:
    prev = bytes(range(32))
    raw = make_block(
        [coinbase(3, [(1, b"\x51")])], version=0x20000004, prev=prev, time=1234, bits=0x1D00FFFF
    )
    b = parse_block(raw)
    assert b.prev_hash == prev[::-1].hex()
    assert (b.version, b.time, b.bits, b.nonce) == (0x20000004, 1234, 0x1D00FFFF, 7)
    assert b.hash == sha256d(raw[:80])[::-1].hex()
    assert b.merkle_root == raw[36:68][::-1].hex()
    assert struct.unpack_from("<I", raw, 68)[0] == b.time
