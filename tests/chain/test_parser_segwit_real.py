"""parse_block on real segwit bytes: a real testnet3 segwit block and the signed
transactions of the BIP143 and BIP341 test vectors (``data/``, sources in its README).

Each transaction is checked against what its BIP states (scriptSigs, witness stacks, spent
outputs, unsigned transactions, taproot addresses) and against python-bitcoinlib, an
independent decoder: txid, wtxid, size, weight, vsize, every input and output, script
classes (Core's Solver, transcribed in ``parser_helpers``) and addresses. A witness item
is also checked against the output it spends: a P2WPKH key hashes to its program, a
P2WSH script to its program, a P2SH redeem script to its hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bitcoin
import pytest
from bitcoin.core import CBlock, CScript, CTransaction, CTxIn, b2lx
from bitcoin.wallet import CBitcoinAddress
from tests.chain.parser_helpers import (
    coinbase,
    compact,
    header,
    merkle_root,
    ref_address,
    sha256d,
    solver,
    witness_program,
)

from spector.chain import Block, Tx, parse_block

DATA = Path(__file__).resolve().parent / "data"
TESTNET_HASH = "000000000000045e0b1660b6445b5e5c5ab63c9a4f956be7e1e69be04fa4497b"
TESTNET_BLOCK = DATA / f"testnet3-block-{TESTNET_HASH}.raw"
VECTORS: dict[str, Any] = json.loads((DATA / "segwit_vectors.json").read_text())
BIP143 = VECTORS["bip143"]["vectors"]
BIP341 = VECTORS["bip341"]


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def _legacy(lib: CTransaction) -> bytes:
    """The serialization without witness, by python-bitcoinlib."""
    return bytes(CTransaction(lib.vin, lib.vout, lib.nLockTime, lib.nVersion).serialize())


def _block_with(raws: list[bytes]) -> bytes:
    """A block: a segwit coinbase, then ``raws``; the merkle root is made from the txids
    python-bitcoinlib computes, so a parser txid that differs fails the merkle check."""
    cb = coinbase(800_000, [(625_000_000, witness_program(1, b"\x07" * 32))], witness=True)
    txids = [cb.txid()] + [CTransaction.deserialize(r).GetTxid() for r in raws]
    body = compact(1 + len(raws)) + cb.serialize() + b"".join(raws)
    return header(merkle_root(txids)) + body


def _lib_address(script: bytes) -> str | None:
    try:
        return str(CBitcoinAddress.from_scriptPubKey(CScript(script)))
    except Exception:  # python-bitcoinlib knows no address for it (P2TR, nulldata, …)
        return None


def _check_against_lib(tx: Tx, raw: bytes, lib: CTransaction) -> None:
    """Every field of ``tx`` equals python-bitcoinlib's decoding of ``raw``."""
    legacy = _legacy(lib)
    assert tx.txid == b2lx(lib.GetTxid()) == sha256d(legacy)[::-1].hex()
    assert tx.wtxid == b2lx(lib.GetHash()) == sha256d(raw)[::-1].hex()
    assert tx.segwit == lib.has_witness()
    assert (tx.version, tx.locktime) == (lib.nVersion, lib.nLockTime)
    assert tx.size == len(raw)
    assert tx.weight == 3 * len(legacy) + len(raw)
    assert tx.vsize == -(-tx.weight // 4)
    assert len(tx.inputs) == len(lib.vin)
    for k, (i, li) in enumerate(zip(tx.inputs, lib.vin, strict=True)):
        assert (i.prev_txid, i.vout) == (b2lx(li.prevout.hash), li.prevout.n)
        assert (i.script_sig, i.sequence) == (bytes(li.scriptSig), li.nSequence)
        stack = lib.wit.vtxinwit[k].scriptWitness.stack if lib.has_witness() else []
        assert i.witness == tuple(bytes(w) for w in stack)
    assert [(o.value, o.script) for o in tx.outputs] == [
        (o.nValue, bytes(o.scriptPubKey)) for o in lib.vout
    ]
    for o in tx.outputs:
        assert o.script_type == solver(o.script)
        if o.script_type in ("p2pkh", "p2sh", "p2wpkh", "p2wsh"):
            assert o.address == _lib_address(o.script)


# ---------------------------------------------------------------------------------------
# BIP143: the signed transactions of its examples


@pytest.mark.parametrize("vector", BIP143, ids=[v["name"] for v in BIP143])
def test_bip143_transaction(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["signed"])
    block = parse_block(_block_with([raw]))
    assert block.tx_count == 2
    tx = block.txs[1]
    assert tx.segwit
    _check_against_lib(tx, raw, CTransaction.deserialize(raw))
    # the inputs as the BIP states them
    assert [i.script_sig.hex() for i in tx.inputs] == [i["script_sig"] for i in vector["inputs"]]
    assert [[w.hex() for w in i.witness] for i in tx.inputs] == [
        i["witness"] for i in vector["inputs"]
    ]
    if vector["unsigned"]:
        # the txid is the hash of the BIP's unsigned transaction with the stated scriptSigs
        unsigned = CTransaction.deserialize(bytes.fromhex(vector["unsigned"]))
        vin = [
            CTxIn(i.prevout, CScript(bytes.fromhex(stated["script_sig"])), i.nSequence)
            for i, stated in zip(unsigned.vin, vector["inputs"], strict=True)
        ]
        legacy = CTransaction(vin, unsigned.vout, unsigned.nLockTime, unsigned.nVersion)
        assert tx.txid == sha256d(legacy.serialize())[::-1].hex()


@pytest.mark.parametrize("vector", BIP143, ids=[v["name"] for v in BIP143])
def test_bip143_witness_opens_the_spent_output(vector: dict[str, Any]) -> None:
    """The parsed witness and scriptSig are the bytes the spent output commits to."""
    tx = parse_block(_block_with([bytes.fromhex(vector["signed"])])).txs[1]
    checked = 0
    for i, stated in zip(tx.inputs, vector["inputs"], strict=True):
        kind = stated["spent_kind"]
        if kind is None:
            continue
        spk = bytes.fromhex(stated["spent_script"])
        assert solver(spk) == kind
        if kind == "p2pk":
            assert i.witness == ()
            assert len(i.script_sig) in (72, 73, 74)  # one push of a DER signature
        elif kind == "p2wpkh":
            assert i.script_sig == b""
            assert hash160(i.witness[1]) == spk[2:]
        elif kind == "p2wsh":
            assert i.script_sig == b""
            assert hashlib.sha256(i.witness[-1]).digest() == spk[2:]
        else:  # P2SH around a v0 witness program
            redeem = i.script_sig[1:]
            assert i.script_sig[0] == len(redeem)
            assert hash160(redeem) == spk[2:22]
            if len(redeem) == 22:
                assert hash160(i.witness[1]) == redeem[2:]
            else:
                assert hashlib.sha256(i.witness[-1]).digest() == redeem[2:]
        checked += 1
    assert checked == sum(1 for i in vector["inputs"] if i["spent_kind"])


def test_bip143_all_in_one_block() -> None:
    """All eight transactions back to back: offsets stay right across witnesses, and the
    block's weight is the header's plus every transaction's."""
    raws = [bytes.fromhex(v["signed"]) for v in BIP143]
    data = _block_with(raws)
    block = parse_block(data)
    assert block.tx_count == 9
    assert block.size == len(data)
    libs = [CTransaction.deserialize(r) for r in raws]
    for tx, raw, lib in zip(block.txs[1:], raws, libs, strict=True):
        _check_against_lib(tx, raw, lib)
    cb_size = len(data) - 81 - sum(map(len, raws))
    cb_base = cb_size - 2 - 1 - 1 - 32  # marker, flag, one stack of one 32-byte item
    expected = 4 * 81 + 3 * cb_base + cb_size
    expected += sum(3 * len(_legacy(lib)) + len(raw) for raw, lib in zip(raws, libs, strict=True))
    assert block.weight == expected == sum(t.weight for t in block.txs) + 4 * 81


# ---------------------------------------------------------------------------------------
# BIP341: the keyPathSpending vector's fully signed transaction


@pytest.fixture(scope="module")
def bip341_tx() -> Tx:
    return parse_block(_block_with([bytes.fromhex(BIP341["fully_signed_tx"])])).txs[1]


def test_bip341_transaction_matches_bitcoinlib(bip341_tx: Tx) -> None:
    raw = bytes.fromhex(BIP341["fully_signed_tx"])
    _check_against_lib(bip341_tx, raw, CTransaction.deserialize(raw))
    assert bip341_tx.segwit
    assert len(bip341_tx.inputs) == 9


def test_bip341_transaction_is_the_unsigned_one_signed(bip341_tx: Tx) -> None:
    """Version, prevouts, sequences, outputs and lock time are the stated unsigned
    transaction's; only scriptSigs and witnesses were added."""
    unsigned = CTransaction.deserialize(bytes.fromhex(BIP341["raw_unsigned_tx"]))
    assert (bip341_tx.version, bip341_tx.locktime) == (unsigned.nVersion, unsigned.nLockTime)
    assert [(i.prev_txid, i.vout, i.sequence) for i in bip341_tx.inputs] == [
        (b2lx(i.prevout.hash), i.prevout.n, i.nSequence) for i in unsigned.vin
    ]
    assert [(o.value, o.script) for o in bip341_tx.outputs] == [
        (o.nValue, bytes(o.scriptPubKey)) for o in unsigned.vout
    ]
    assert all(not i.scriptSig for i in unsigned.vin)


def test_bip341_key_path_witnesses(bip341_tx: Tx) -> None:
    """Each key-path input's witness is the vector's expected one: a single Schnorr
    signature, 64 bytes for SIGHASH_DEFAULT, else 65 ending in the hash type."""
    spent = [bytes.fromhex(u["script_pub_key"]) for u in BIP341["utxos_spent"]]
    key_path = {e["txin_index"]: e for e in BIP341["key_path_witness"]}
    assert sorted(key_path) == [k for k, s in enumerate(spent) if solver(s) == "p2tr"]
    for k, entry in key_path.items():
        witness = bip341_tx.inputs[k].witness
        assert [w.hex() for w in witness] == entry["witness"]
        (sig,) = witness
        if entry["hash_type"] == 0:
            assert len(sig) == 64
        else:
            assert (len(sig), sig[-1]) == (65, entry["hash_type"])
        assert bip341_tx.inputs[k].script_sig == b""
    # the two other inputs: a P2PKH spend (no witness) and a P2WPKH spend
    p2pkh_in, p2wpkh_in = bip341_tx.inputs[2], bip341_tx.inputs[5]
    assert (solver(spent[2]), solver(spent[5])) == ("p2pkh", "p2wpkh")
    assert p2pkh_in.witness == ()
    assert hash160(p2pkh_in.script_sig[-33:]) == spent[2][3:23]
    assert p2wpkh_in.script_sig == b""
    assert len(p2wpkh_in.witness) == 2
    assert hash160(p2wpkh_in.witness[1]) == spent[5][2:]


def test_bip341_outputs(bip341_tx: Tx) -> None:
    p2pkh_out, other = bip341_tx.outputs
    assert (p2pkh_out.value, p2pkh_out.script_type) == (1_000_000_000, "p2pkh")
    assert p2pkh_out.address == _lib_address(p2pkh_out.script)
    # a 32-byte script starting with OP_CHECKSIG: no class, no address
    assert (other.value, other.script_type, other.address) == (3_410_000_000, "nonstandard", None)


# ---------------------------------------------------------------------------------------
# the outputs the vectors spend, and BIP341's scriptPubKey vectors


def _stated_scripts() -> list[tuple[bytes, str | None, str | None]]:
    """(scriptPubKey, kind the BIP names or None, address the BIP states or None)."""
    out: list[tuple[bytes, str | None, str | None]] = []
    for v in BIP143:
        for i in v["inputs"]:
            if i["spent_script"]:
                out.append((bytes.fromhex(i["spent_script"]), i["spent_kind"], None))
    for u in BIP341["utxos_spent"]:
        out.append((bytes.fromhex(u["script_pub_key"]), None, None))
    for s in BIP341["script_pub_keys"]:
        out.append((bytes.fromhex(s["script_pub_key"]), "p2tr", s["bip350_address"]))
    return out


def test_spent_scripts_are_classified_and_encoded() -> None:
    """A transaction paying to every scriptPubKey the vectors state: classes as the BIPs
    name them (or as Solver gives), addresses as BIP341 states them, else as
    python-bitcoinlib (or, for P2TR, which it does not know, the reference encoder)."""
    stated = _stated_scripts()
    outs = b"".join(
        (k + 1).to_bytes(8, "little") + compact(len(s)) + s for k, (s, _, _) in enumerate(stated)
    )
    prevout = b"\x01" * 32 + b"\x00\x00\x00\x00"
    raw = b"\x02\x00\x00\x00" + b"\x01" + prevout + b"\x00\xff\xff\xff\xff"
    raw += compact(len(stated)) + outs + b"\x00\x00\x00\x00"
    block: Block = parse_block(_block_with([raw]))
    outputs = block.txs[1].outputs
    assert len(outputs) == len(stated) == 27
    kinds: dict[str, int] = {}
    for o, (script, kind, address) in zip(outputs, stated, strict=True):
        assert o.script == script
        assert o.script_type == (kind or solver(script)) == solver(script)
        kinds[o.script_type] = kinds.get(o.script_type, 0) + 1
        if address is not None:
            assert o.address == address
        elif o.script_type == "p2tr":
            assert o.address == ref_address(script)
        elif o.script_type == "p2pk":
            assert o.address is None
        else:
            assert o.address == _lib_address(script)
    assert kinds == {"p2pk": 2, "p2wpkh": 2, "p2sh": 2, "p2wsh": 6, "p2pkh": 1, "p2tr": 14}
    assert [block.address(j) for j in range(1, block.parsed.nout)] == [o.address for o in outputs]


# ---------------------------------------------------------------------------------------
# a real segwit block: testnet3 000000000000045e0b1660b6445b5e5c5ab63c9a4f956be7e1e69be04fa4497b


@pytest.fixture(scope="module")
def testnet_raw() -> bytes:
    return TESTNET_BLOCK.read_bytes()


@pytest.fixture(scope="module")
def testnet_block(testnet_raw: bytes) -> Block:
    return parse_block(testnet_raw, network_name="testnet3", file=str(TESTNET_BLOCK))


@pytest.fixture
def testnet_params() -> Iterator[None]:
    """python-bitcoinlib's addresses in testnet encoding (its parameters are global)."""
    bitcoin.SelectParams("testnet")
    try:
        yield
    finally:
        bitcoin.SelectParams("mainnet")


def test_testnet_block_stated_facts(testnet_raw: bytes, testnet_block: Block) -> None:
    """The facts rust-bitcoin's test states for this block."""
    b = testnet_block
    assert b.hash == TESTNET_HASH
    prev = "2aa2f2ca794ccbd40c16e2f3333f6b8b683f9e7179b2c4d74906000000000000"
    merkle = "10bc26e70a2f672ad420a6153dd0c28b40a6002c55531bfc99bf8994a8e8f67e"
    assert b.prev_hash == bytes.fromhex(prev)[::-1].hex()
    assert b.merkle_root == bytes.fromhex(merkle)[::-1].hex()
    assert (b.version, b.time, b.bits, b.nonce) == (0x20000000, 1472004949, 0x1A06D450, 1879759182)
    assert b.size == len(testnet_raw) == 4319
    assert b.weight == 17168
    base = 81 + sum(t.size for t in b.txs) - int(b.parsed.tx_witness.sum())
    assert base == 4283


def test_testnet_block_matches_bitcoinlib(
    testnet_raw: bytes, testnet_block: Block, testnet_params: None
) -> None:
    lib = CBlock.deserialize(testnet_raw)
    assert testnet_block.hash == b2lx(lib.GetHash())
    assert testnet_block.tx_count == len(lib.vtx) == 15
    p = 81
    for tx, ltx in zip(testnet_block.txs, lib.vtx, strict=True):
        raw = testnet_raw[p : p + tx.size]
        assert raw == ltx.serialize()
        _check_against_lib(tx, raw, ltx)
        p += tx.size
    assert p == len(testnet_raw)
    # the coinbase is the block's one segwit transaction: the witness reserved value
    assert [t.segwit for t in testnet_block.txs] == [True] + [False] * 14
    assert testnet_block.txs[0].inputs[0].witness == (b"\x00" * 32,)


def test_testnet_block_witness_commitment(testnet_block: Block) -> None:
    """The miner's BIP141 commitment is the witness merkle root of the parser's wtxids
    (the coinbase's taken as zero) hashed with the coinbase's reserved value."""
    cb = testnet_block.txs[0]
    tags = [o.script for o in cb.outputs if o.script[:6] == bytes.fromhex("6a24aa21a9ed")]
    assert len(tags) == 1
    assert cb.outputs[-1].script_type == "nulldata"
    wtxids = [b"\x00" * 32] + [bytes.fromhex(t.wtxid)[::-1] for t in testnet_block.txs[1:]]
    (reserved,) = cb.inputs[0].witness
    assert sha256d(merkle_root(wtxids) + reserved) == tags[0][6:38]


def test_testnet_block_addresses(
    testnet_raw: bytes, testnet_block: Block, testnet_params: None
) -> None:
    outs = [o for t in testnet_block.txs for o in t.outputs]
    counts: dict[str, int] = {}
    for o in outs:
        counts[o.script_type] = counts.get(o.script_type, 0) + 1
        assert o.address == ref_address(o.script, "testnet3")
        if o.address is not None:
            assert o.address == _lib_address(o.script)
            assert o.address[0] in "mn2"
    assert counts == {"p2pkh": 13, "p2sh": 12, "nulldata": 4}
    lazy = parse_block(testnet_raw, network_name="testnet3", addresses=False)
    assert [lazy.address(j) for j in range(len(outs))] == [o.address for o in outs]
