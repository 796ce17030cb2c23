"""`spector chain ingest --rpc URL` against the recorded node (tests/chain/rpc_harness.py)."""

from __future__ import annotations

import pytest
from tests.chain.chain_builder import Chain, write_blk
from tests.chain.rpc_harness import RecordedNode

from spector.chain._ingest import ingest_files
from spector.chain._rpc import RpcError, ingest_rpc
from spector.store import Workspace


def _raw(chain: Chain) -> list[bytes]:
    return [b.raw_bytes for b in chain.blocks]


def _heights(ws) -> dict[int, str]:
    rows = ws.store.con.execute("SELECT height, hash FROM chain_index ORDER BY height").fetchall()
    return {int(h): str(x) for h, x in rows}


def test_rpc_ingest_incremental_and_reorg(workspace):
    chain = Chain.grow(8)
    with RecordedNode(_raw(chain)[:5]) as node:
        first = ingest_rpc(workspace, node.url)
        assert first.ingested == 5
        assert _heights(workspace) == {h: b.hash_hex for h, b in enumerate(chain.blocks[:5])}

        node.replace_chain(_raw(chain))  # three more blocks
        node.calls.clear()
        second = ingest_rpc(workspace, node.url)
        assert second.ingested == 3
        fetched = [p[0] for m, p in node.calls if m == "getblock"]
        assert fetched == [b.hash_hex for b in chain.blocks[5:]]  # known blocks not refetched

        fork = Chain.grow(5, salt=3, base=chain, upto=6)  # replaces heights 6, 7; adds 8-10
        node.replace_chain(_raw(fork))
        third = ingest_rpc(workspace, node.url)
        assert sorted(third.rolled_back) == sorted(b.hash_hex for b in chain.blocks[6:])
        assert third.ingested == 5
        assert _heights(workspace) == {h: b.hash_hex for h, b in enumerate(fork.blocks)}

        again = ingest_rpc(workspace, node.url)
        assert (again.ingested, again.rolled_back) == (0, [])

    con = workspace.store.con
    unresolved = con.execute("SELECT count(*) FROM inputs WHERE NOT coinbase AND value IS NULL")
    assert unresolved.fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM blocks").fetchone() == (11,)


def test_rpc_and_files_agree(tmp_path, workspace):
    chain = Chain.grow(6)
    with RecordedNode(_raw(chain)) as node:
        ingest_rpc(workspace, node.url)
    with Workspace.init(tmp_path / "other") as other:
        ingest_files(other, [write_blk(tmp_path / "blk00000.dat", chain.blocks)])
        for table in ("blocks", "txs", "inputs", "outputs"):
            query = (
                f"SELECT * EXCLUDE (source) FROM {table}"
                if table == "blocks"
                else (f"SELECT * FROM {table}")
            )
            a = sorted(map(repr, workspace.store.con.execute(query).fetchall()))
            b = sorted(map(repr, other.store.con.execute(query).fetchall()))
            assert a == b, table


def test_rpc_errors(workspace):
    chain = Chain.grow(2)
    with RecordedNode(_raw(chain)) as node:
        wrong = node.url.replace("secret", "wrong")
        with pytest.raises(RpcError, match="refused the credentials"):
            ingest_rpc(workspace, wrong)
        port = node.port
    with pytest.raises(RpcError, match="cannot reach the node"):
        ingest_rpc(workspace, f"http://spector:secret@127.0.0.1:{port}/")
    assert workspace.store.con.execute("SELECT count(*) FROM chain_index").fetchone() == (0,)


def test_rpc_block_that_does_not_hash_to_its_name(workspace):
    chain = Chain.grow(3)
    raws = _raw(chain)
    with RecordedNode(raws) as node:
        # the node's index says block 2 has this hash, but serves other bytes for it
        node._chain.blocks[2] = raws[2][:-1] + bytes([raws[2][-1] ^ 1])
        with pytest.raises(Exception, match=r"merkle|hashes to"):
            ingest_rpc(workspace, node.url)
    assert sorted(_heights(workspace)) == [0, 1]
