"""Ingest from files: chain order, resolution, fees, idempotence, reorgs, orphans, bad input."""

from __future__ import annotations

import hashlib

import pytest
from tests.chain.chain_builder import Chain, write_blk

from spector.chain._ingest import ingest_files
from spector.errors import ParseError


def _snapshot(ws) -> dict[str, object]:
    """Everything the chain tables hold, file contents included."""
    con = ws.store.con
    files = sorted(con.execute("SELECT tbl, path FROM chain_files").fetchall())
    digests = [hashlib.sha256((ws.root / p).read_bytes()).hexdigest() for _, p in files]
    index = sorted(con.execute("SELECT hash, height FROM chain_index").fetchall())
    return {"files": files, "digests": digests, "index": index}


def _heights(ws) -> dict[int, str]:
    rows = ws.store.con.execute("SELECT height, hash FROM blocks ORDER BY height").fetchall()
    return {int(h): str(x) for h, x in rows}


def _values(chain: Chain) -> dict[tuple[str, int], int]:
    return {
        (t.txid_hex(), i): v
        for b in chain.blocks
        for t in b.txs
        for i, (v, _) in enumerate(t.outputs)
    }


def _fees(chain: Chain, height: int) -> int:
    """The block's fees, from the builder's own records."""
    values = _values(chain)
    fee = 0
    for t in chain.blocks[height].txs[1:]:
        spent = sum(values[(txid[::-1].hex(), vout)] for txid, vout in t.inputs)
        fee += spent - sum(v for v, _ in t.outputs)
    return fee


def _unspent(chain: Chain) -> int:
    values = _values(chain)
    for b in chain.blocks:
        for t in b.txs[1:]:
            for txid, vout in t.inputs:
                del values[(txid[::-1].hex(), vout)]
    return sum(values.values())


def test_real_blocks_in_chain_order_and_resolved(workspace, shared_data):
    blk = shared_data / "bitcoin" / "mainnet-blocks-1-255.blk"
    report = ingest_files(workspace, [blk])
    assert report.ingested == 255
    assert report.txs == 262
    assert (report.tip_height, report.tip_hash) == (
        255,
        "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c",
    )
    con = workspace.store.con
    assert con.execute("SELECT min(height), count(*) FROM blocks").fetchone() == (1, 255)
    total = con.execute("SELECT sum(value) FROM outputs").fetchone()[0]
    assert total == 1_292_900_000_000
    # block 170: the first payment (Satoshi to Hal Finney) spends block 9's coinbase
    row = con.execute(
        "SELECT prev_txid, value, script_type, prev_height FROM inputs "
        "WHERE height = 170 AND NOT coinbase"
    ).fetchone()
    assert row == (
        "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9",
        5_000_000_000,
        "p2pk",
        9,
    )
    fee = con.execute(
        "SELECT fee, input_value, output_value FROM txs WHERE txid = "
        "'f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16'"
    ).fetchone()
    assert fee == (0, 5_000_000_000, 5_000_000_000)
    # every non-coinbase input of these blocks spends an output of an earlier block here
    unresolved = con.execute(
        "SELECT count(*) FROM inputs WHERE NOT coinbase AND value IS NULL"
    ).fetchone()
    assert unresolved == (0,)
    fees = con.execute("SELECT count(*) FROM blocks WHERE fees IS NULL").fetchone()
    assert fees == (0,)


def test_lone_raw_block_ingests_at_its_bip34_height(workspace, shared_data):
    raw = shared_data / "bitcoin" / "block-413567.raw"
    report = ingest_files(workspace, [raw])
    assert report.ingested == 1
    assert report.tip_height == 413567
    con = workspace.store.con
    head = con.execute(
        "SELECT hash, tx_count, output_value, coinbase_value, subsidy, fees FROM blocks"
    ).fetchone()
    assert head == (
        "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069",
        1557,
        914_705_170_223,
        2_531_310_238,
        2_500_000_000,
        None,  # the spent outputs are in blocks the store does not hold
    )
    top = con.execute(
        "SELECT address, received FROM addresses ORDER BY received DESC LIMIT 2"
    ).fetchall()
    assert top == [
        ("114xVNoWkv6LdtgUcCSm8xtBwi84EYscYi", 259_183_077_192),
        ("12dwhEfkjbMrbVwW1gZRhphHgNbMargztn", 256_183_057_192),
    ]
    # spent within the same block: resolved against this block's own outputs
    spent = con.execute(
        "SELECT spent, balance FROM addresses WHERE address = '114xVNoWkv6LdtgUcCSm8xtBwi84EYscYi'"
    ).fetchone()
    assert spent == (259_183_077_192, 0)
    assert con.execute("SELECT count(*) FROM addresses").fetchone() == (3064,)


def test_reingest_changes_nothing(workspace, shared_data):
    data = shared_data / "bitcoin"
    ingest_files(workspace, [data])
    before = _snapshot(workspace)
    again = ingest_files(workspace, [data])
    assert again.ingested == 0
    assert again.already == 256
    assert _snapshot(workspace) == before


def test_chain_order_from_shuffled_files(workspace, tmp_path):
    chain = Chain.grow(12)
    blocks = chain.blocks
    order = [5, 0, 11, 3, 1, 2, 9, 4, 10, 6, 8, 7]
    write_blk(tmp_path / "blk00000.dat", [blocks[i] for i in order[:6]], pad=4096)
    write_blk(tmp_path / "blk00001.dat", [blocks[i] for i in order[6:]])
    report = ingest_files(workspace, [tmp_path])
    assert report.ingested == 12
    assert _heights(workspace) == {h: b.hash_hex for h, b in enumerate(blocks)}
    con = workspace.store.con
    fees = con.execute("SELECT height, fees FROM blocks ORDER BY height").fetchall()
    assert fees == [(h, _fees(chain, h)) for h in range(12)]
    segwit = con.execute("SELECT count(*) FROM txs WHERE segwit").fetchone()
    assert segwit == (5,)  # heights 2, 4, 6, 8, 10


def test_reorg_rolls_back_the_stale_branch(workspace, tmp_path):
    main = Chain.grow(6)
    ingest_files(workspace, [write_blk(tmp_path / "a.dat", main.blocks)])
    fork = Chain.grow(4, salt=1, base=main, upto=4)  # heights 4..7 on a new branch
    (tmp_path / "b").mkdir()
    report = ingest_files(workspace, [write_blk(tmp_path / "b" / "blk00000.dat", fork.blocks[4:])])
    assert sorted(report.rolled_back) == sorted(b.hash_hex for b in main.blocks[4:])
    assert report.ingested == 4
    assert _heights(workspace) == {h: b.hash_hex for h, b in enumerate(fork.blocks)}
    con = workspace.store.con
    stale_txids = [t.txid_hex() for b in main.blocks[4:] for t in b.txs]
    for table, column in (("txs", "txid"), ("outputs", "txid"), ("inputs", "txid")):
        n = con.execute(
            f"SELECT count(*) FROM {table} WHERE {column} IN (SELECT unnest(?))", [stale_txids]
        ).fetchone()
        assert n == (0,), table
    assert con.execute("SELECT count(*) FROM chain_index").fetchone() == (8,)
    # balances from the winning branch only
    total = con.execute("SELECT sum(balance) FROM addresses").fetchone()[0]
    assert total == _unspent(fork)


def test_shorter_or_equal_branch_is_stale(workspace, tmp_path):
    main = Chain.grow(6)
    ingest_files(workspace, [write_blk(tmp_path / "a.dat", main.blocks)])
    before = _snapshot(workspace)
    rival = Chain.grow(2, salt=2, base=main, upto=4)  # heights 4, 5: equal work
    (tmp_path / "r").mkdir()
    report = ingest_files(workspace, [write_blk(tmp_path / "r" / "x.dat", rival.blocks[4:])])
    assert report.ingested == 0
    assert sorted(report.stale) == sorted(b.hash_hex for b in rival.blocks[4:])
    assert report.rolled_back == []
    assert _snapshot(workspace) == before


def test_orphans_are_reported_not_ingested(workspace, tmp_path):
    chain = Chain.grow(5)
    # blocks 3 and 4 without their parents; version-1 headers carry no BIP34 height
    for b in chain.blocks:
        b.version = 1
        b.__post_init__()
    report = ingest_files(workspace, [write_blk(tmp_path / "x.dat", chain.blocks[3:])])
    assert report.ingested == 0
    assert len(report.orphans) == 2


def test_wrong_magic_stops_before_any_row(workspace, tmp_path):
    chain = Chain.grow(4)
    path = write_blk(tmp_path / "blk00000.dat", chain.blocks)
    data = bytearray(path.read_bytes())
    second = 8 + len(chain.blocks[0].raw_bytes)
    data[second : second + 4] = b"\xde\xad\xbe\xef"
    path.write_bytes(bytes(data))
    with pytest.raises(ParseError) as err:
        ingest_files(workspace, [path])
    assert err.value.offset == second
    assert err.value.file == str(path)
    assert "fabfb5da" in str(err.value)
    assert workspace.store.con.execute("SELECT count(*) FROM chain_index").fetchone() == (0,)
    report = ingest_files(workspace, [path], skip_bad=True)
    assert len(report.skipped) == 1
    # block 1 is lost; blocks 2 and 3 carry BIP34 heights and stand as a detached segment
    assert report.ingested == 3
    assert sorted(_heights(workspace)) == [0, 2, 3]


def test_length_beyond_the_file(workspace, tmp_path):
    chain = Chain.grow(2)
    path = write_blk(tmp_path / "blk00000.dat", chain.blocks)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ParseError) as err:
        ingest_files(workspace, [path])
    assert err.value.offset == 8 + len(chain.blocks[0].raw_bytes) + 4
    assert "beyond the end of the file" in str(err.value)


def test_bad_merkle_root_keeps_whole_blocks_only(workspace, tmp_path):
    chain = Chain.grow(5)
    path = write_blk(tmp_path / "blk00000.dat", chain.blocks)
    data = bytearray(path.read_bytes())
    start = sum(8 + len(b.raw_bytes) for b in chain.blocks[:3]) + 8
    data[start + len(chain.blocks[3].raw_bytes) - 5] ^= 0xFF  # a byte of its last tx
    path.write_bytes(bytes(data))
    with pytest.raises(ParseError) as err:
        ingest_files(workspace, [path])
    assert err.value.offset == start + 36
    assert "merkle" in str(err.value)
    con = workspace.store.con
    # blocks 0-2 are whole and kept; nothing of block 3 or 4
    assert sorted(_heights(workspace)) == [0, 1, 2]
    assert con.execute("SELECT max(height) FROM outputs").fetchone() == (2,)
    report = ingest_files(workspace, [path], skip_bad=True)
    assert report.ingested == 0
    assert len(report.skipped) == 1
    assert report.orphans == [chain.blocks[4].hash_hex]


def test_obfuscated_blk_files(workspace, tmp_path):
    chain = Chain.grow(4)
    plain = write_blk(tmp_path / "plain.dat", chain.blocks).read_bytes()
    folder = tmp_path / "datadir" / "blocks"
    folder.mkdir(parents=True)
    key = bytes.fromhex("0123456789abcdef")
    (folder / "xor.dat").write_bytes(key)
    (folder / "blk00000.dat").write_bytes(bytes(b ^ key[i % 8] for i, b in enumerate(plain)))
    report = ingest_files(workspace, [tmp_path / "datadir"])
    assert report.ingested == 4
    assert _heights(workspace) == {h: b.hash_hex for h, b in enumerate(chain.blocks)}


def test_a_failed_commit_leaves_nothing(workspace, tmp_path, monkeypatch):
    chain = Chain.grow(3)
    path = write_blk(tmp_path / "blk00000.dat", chain.blocks)
    from spector.chain import _store

    real = _store.ChainStore.write
    calls = {"n": 0}

    def failing(self, table, data, tag):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(self, table, data, tag)

    monkeypatch.setattr(_store.ChainStore, "write", failing)
    with pytest.raises(OSError, match="disk full"):
        ingest_files(workspace, [path])
    monkeypatch.undo()
    con = workspace.store.con
    assert con.execute("SELECT count(*) FROM chain_files").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM chain_index").fetchone() == (0,)
    assert list((workspace.root / "chain").glob("*/*/*.parquet")) == []
    assert ingest_files(workspace, [path]).ingested == 3


def test_network_mismatch_is_refused(workspace, shared_data, tmp_path):
    ingest_files(workspace, [shared_data / "bitcoin" / "mainnet-blocks-1-255.blk"])
    chain = Chain.grow(2)
    with pytest.raises(Exception, match="holds main blocks"):
        ingest_files(workspace, [write_blk(tmp_path / "r.dat", chain.blocks)])


def test_missing_path(workspace, tmp_path):
    with pytest.raises(Exception, match="no such file"):
        ingest_files(workspace, [tmp_path / "nope"])


def _rows(ws) -> dict[str, list[str]]:
    con = ws.store.con
    out = {}
    for table in ("blocks", "txs", "inputs", "outputs", "addresses"):
        query = (
            f"SELECT * EXCLUDE (source) FROM {table}"
            if table == "blocks"
            else (f"SELECT * FROM {table}")
        )
        out[table] = sorted(map(repr, con.execute(query).fetchall()))
    return out


def test_history_after_the_block_is_backfilled(tmp_path):
    from spector.store import Workspace

    chain = Chain.grow(8)
    late = write_blk(tmp_path / "late.dat", chain.blocks[4:])
    early = write_blk(tmp_path / "early.dat", chain.blocks[:4])
    with Workspace.init(tmp_path / "a") as a:
        first = ingest_files(a, [late])
        assert first.ingested == 4  # anchored by their BIP34 heights
        unresolved = a.store.con.execute(
            "SELECT count(*) FROM inputs WHERE NOT coinbase AND value IS NULL"
        ).fetchone()[0]
        assert unresolved == 2  # blocks 4 and 5 spend coinbases of blocks 2 and 3
        second = ingest_files(a, [early])
        assert second.backfilled == 2
        with Workspace.init(tmp_path / "b") as b:
            ingest_files(b, [early, late])
            assert _rows(a) == _rows(b)
