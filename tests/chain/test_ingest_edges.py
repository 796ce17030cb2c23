"""Ingest edge cases: reorgs after incremental ingests, detached blocks meeting their
history, forged headers, bad blocks on a heavier branch, and the node's side of RPC."""

from __future__ import annotations

import pytest
from tests.chain.chain_builder import Block, Chain, Tx, p2pkh, write_blk
from tests.chain.rpc_harness import RecordedNode

from spector.chain import parse_block
from spector.chain._ingest import ingest_files
from spector.chain._query import block as block_info
from spector.chain._query import status
from spector.chain._rpc import ingest_rpc
from spector.chain._store import ChainStore
from spector.errors import ParseError
from spector.store import Workspace


def _heights(ws) -> dict[int, str]:
    rows = ws.store.con.execute("SELECT height, hash FROM chain_index ORDER BY height").fetchall()
    return {int(h): str(x) for h, x in rows}


def _main(chain: Chain, upto: int | None = None) -> dict[int, str]:
    return {h: b.hash_hex for h, b in enumerate(chain.blocks[:upto])}


def _assert_utxo(ws) -> None:
    """chain_utxo holds exactly the stored outputs no stored input spends."""
    con = ws.store.con
    kept = set(con.execute("SELECT txid, vout FROM chain_utxo").fetchall())
    expected = set(
        con.execute(
            "SELECT txid, vout FROM outputs WHERE script_type <> 'nulldata' EXCEPT "
            "SELECT prev_txid, prev_vout FROM inputs WHERE NOT coinbase"
        ).fetchall()
    )
    assert kept == expected
    rows = con.execute("SELECT count(*) FROM chain_utxo").fetchone()
    assert rows == (len(kept),)  # no duplicates


def _table_heights(ws, table: str) -> list[int]:
    rows = ws.store.con.execute(f"SELECT DISTINCT height FROM {table} ORDER BY 1").fetchall()
    return [int(r[0]) for r in rows]


def test_tip_reorg_after_incremental_ingests(workspace, tmp_path):
    main = Chain.grow(7)
    fork = Chain.grow(2, salt=1, base=main, upto=6)
    ingest_files(workspace, [write_blk(tmp_path / "a.dat", main.blocks[:6])])
    ingest_files(workspace, [write_blk(tmp_path / "b.dat", main.blocks[6:7])])
    report = ingest_files(workspace, [write_blk(tmp_path / "c.dat", fork.blocks[6:8])])
    assert report.rolled_back == [main.blocks[6].hash_hex]
    assert _heights(workspace) == _main(fork)
    for table in ("blocks", "txs", "inputs", "outputs"):
        assert _table_heights(workspace, table) == list(range(8))
    _assert_utxo(workspace)


def test_detached_block_meets_its_history(workspace, tmp_path):
    main = Chain.grow(12)
    fork = Chain.grow(1, salt=1, base=main, upto=5)
    raw = tmp_path / "b10.raw"
    raw.write_bytes(main.blocks[10].raw_bytes)
    assert ingest_files(workspace, [raw], network_name="regtest").ingested == 1
    (tmp_path / "blk").mkdir()
    write_blk(tmp_path / "blk" / "blk00000.dat", [*main.blocks, fork.blocks[5]])
    report = ingest_files(workspace, [tmp_path / "blk"])
    assert report.rolled_back == []
    assert report.stale == [fork.blocks[5].hash_hex]
    assert _heights(workspace) == _main(main)
    anchored = workspace.store.con.execute(
        "SELECT anchored FROM chain_index WHERE height = 10"
    ).fetchone()
    assert anchored == ("parent",)  # no longer detached ("bip34"): it has its parents
    seg = status(workspace)["segments"]
    assert [(s["from"], s["to"]) for s in seg] == [(0, 11)]
    _assert_utxo(workspace)


def test_unanchored_parent_of_a_stored_block(workspace, tmp_path):
    main = Chain.grow(5)
    b5 = Block(main.blocks[4].hash, [Tx([], [(1, p2pkh(5))], coinbase_height=5)],
               1_700_100_000, version=1)  # fmt: skip
    b6 = Block(b5.hash, [Tx([], [(1, p2pkh(6))], coinbase_height=6)], 1_700_100_600)
    (tmp_path / "b6.raw").write_bytes(b6.raw_bytes)
    (tmp_path / "b5.raw").write_bytes(b5.raw_bytes)
    assert ingest_files(workspace, [tmp_path / "b6.raw"], network_name="regtest").ingested == 1
    report = ingest_files(workspace, [tmp_path / "b5.raw"], network_name="regtest")
    assert report.rolled_back == []
    assert report.ingested == 1  # counted back from the stored child
    assert _heights(workspace) == {5: b5.hash_hex, 6: b6.hash_hex}


def test_detached_stale_block_does_not_block_the_main_chain(workspace, tmp_path):
    main = Chain.grow(12)
    fork = Chain.grow(2, salt=1, base=main, upto=5)
    (tmp_path / "s6.raw").write_bytes(fork.blocks[6].raw_bytes)  # parent 5' unknown
    assert ingest_files(workspace, [tmp_path / "s6.raw"], network_name="regtest").ingested == 1
    report = ingest_files(workspace, [write_blk(tmp_path / "blk00000.dat", main.blocks)])
    assert report.ingested == 12
    assert report.rolled_back == [fork.blocks[6].hash_hex]
    assert _heights(workspace) == _main(main)
    _assert_utxo(workspace)


def test_forged_header_is_refused(workspace, tmp_path):
    main = Chain.grow(10)
    ingest_files(workspace, [write_blk(tmp_path / "blk00000.dat", main.blocks)])
    fake = Block(main.blocks[3].hash, [Tx([], [(1, p2pkh(9))], coinbase_height=4)],
                 1_700_009_999, bits=0x03000001, mine=False)  # claims huge work  # fmt: skip
    (tmp_path / "fake.raw").write_bytes(fake.raw_bytes)
    with pytest.raises(ParseError, match="proof of work") as err:
        ingest_files(workspace, [tmp_path / "fake.raw"], network_name="regtest")
    assert err.value.offset == 0
    report = ingest_files(workspace, [tmp_path / "fake.raw"], network_name="regtest",
                          skip_bad=True)  # fmt: skip
    assert report.rolled_back == []
    assert len(report.skipped) == 1
    assert _heights(workspace) == _main(main)


def test_bad_block_on_a_heavier_branch_keeps_the_old_branch(workspace, tmp_path):
    main = Chain.grow(10)
    fork = Chain.grow(6, salt=1, base=main, upto=5)  # heights 5..10, one more than main
    ingest_files(workspace, [write_blk(tmp_path / "a.dat", main.blocks)])
    bad = bytearray(fork.blocks[6].raw_bytes)
    bad[100] ^= 1  # a transaction byte: the header (and its hash) stay the same
    fork.blocks[6].raw_bytes = bytes(bad)
    path = write_blk(tmp_path / "b.dat", fork.blocks[5:])
    with pytest.raises(ParseError, match="merkle"):
        ingest_files(workspace, [path])
    assert _heights(workspace) == _main(main)
    report = ingest_files(workspace, [path], skip_bad=True)
    assert report.rolled_back == []
    assert len(report.skipped) == 1
    assert _heights(workspace) == _main(main)


def test_block_whose_last_tx_has_no_outputs(workspace, tmp_path):
    main = Chain.grow(3)
    empty = Tx([(main.blocks[1].txs[0].txid(), 0)], [])  # one input, no output
    b3 = Block(main.blocks[2].hash, [Tx([], [(1, p2pkh(3))], coinbase_height=3), empty],
               1_700_100_000)  # fmt: skip
    assert parse_block(b3.raw_bytes, network_name="regtest").txs[1].outputs == ()
    report = ingest_files(workspace, [write_blk(tmp_path / "x.dat", [*main.blocks, b3])])
    assert report.ingested == 4
    fee = workspace.store.con.execute(
        "SELECT output_value, fee FROM txs WHERE height = 3 AND NOT coinbase"
    ).fetchone()
    assert fee == (0, 5_000_000_000)  # the whole coinbase of block 1 goes to the miner


def test_views_are_repaired(tmp_path):
    main = Chain.grow(8)
    a = write_blk(tmp_path / "a.dat", main.blocks[:5])
    b = write_blk(tmp_path / "b.dat", main.blocks[5:])
    with Workspace.init(tmp_path / "ws") as ws:
        ingest_files(ws, [a])
        store = ChainStore(ws)
        stale = ws.store.con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'blocks'"
        ).fetchone()[0]
        ingest_files(ws, [b])
        # a crash between the commit and the views: the old view definition stays
        ws.store.con.execute("DROP VIEW blocks")
        ws.store.con.execute(stale)
        assert not store.views_current()
    with Workspace.open(tmp_path / "ws") as ws:  # read-only: temporary views
        assert block_info(ws, "7")["hash"] == main.blocks[7].hash_hex
    with Workspace.open(tmp_path / "ws", write=True) as ws:
        assert ingest_files(ws, [a, b]).ingested == 0
        assert ChainStore(ws).views_current()
        assert ws.store.con.execute("SELECT count(*) FROM blocks").fetchone() == (8,)


def _raw(blocks) -> list[bytes]:
    return [b.raw_bytes for b in blocks]


def test_rpc_node_behind_the_store_is_not_a_reorg(workspace):
    main = Chain.grow(10)
    with RecordedNode(_raw(main.blocks[:9])) as node:
        ingest_rpc(workspace, node.url)
        node.replace_chain(_raw(main.blocks[:3]))  # a node still syncing
        report = ingest_rpc(workspace, node.url)
        assert report.rolled_back == []
        assert _heights(workspace) == _main(main, 9)


def test_rpc_reorg_removes_what_builds_on_the_stale_blocks(workspace):
    main = Chain.grow(10)
    fork = Chain.grow(2, salt=1, base=main, upto=4)  # 4', 5': shorter than main
    with RecordedNode(_raw(main.blocks)) as node:
        ingest_rpc(workspace, node.url)
        node.replace_chain(_raw(fork.blocks))  # the node says 4', 5' now
        report = ingest_rpc(workspace, node.url)
        assert sorted(report.rolled_back) == sorted(b.hash_hex for b in main.blocks[4:])
        assert _heights(workspace) == _main(fork)
        _assert_utxo(workspace)


def test_rpc_fills_gaps_below_a_detached_block(workspace, tmp_path):
    main = Chain.grow(11)
    (tmp_path / "b8.raw").write_bytes(main.blocks[8].raw_bytes)
    with RecordedNode(_raw(main.blocks[:4])) as node:
        ingest_rpc(workspace, node.url)
        ingest_files(workspace, [tmp_path / "b8.raw"], network_name="regtest")
        node.replace_chain(_raw(main.blocks))
        node.calls.clear()
        report = ingest_rpc(workspace, node.url)
        assert report.ingested == 6
        fetched = sorted(p[0] for m, p in node.calls if m == "getblock")
        assert fetched == sorted(main.blocks[h].hash_hex for h in (4, 5, 6, 7, 9, 10))
    assert [(s["from"], s["to"]) for s in status(workspace)["segments"]] == [(0, 10)]
    unresolved = workspace.store.con.execute(
        "SELECT count(*) FROM inputs WHERE NOT coinbase AND value IS NULL"
    ).fetchone()
    assert unresolved == (0,)
    _assert_utxo(workspace)


def test_rpc_credentials_are_percent_decoded(workspace):
    main = Chain.grow(2)
    with RecordedNode(_raw(main.blocks), password="p@ss:w/rd") as node:
        assert "p%40ss" in node.url
        assert ingest_rpc(workspace, node.url).ingested == 2
