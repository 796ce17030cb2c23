"""The analyst's decisions: unmerge a transaction, merge two addresses; stored, applied
by every run (from zero, after a reorg), and bad input that changes nothing."""

from __future__ import annotations

import pytest
from tests.chain.cluster_chain import (
    BTC,
    BlockSpec,
    Spend,
    address,
    build,
    groups,
    ingest,
    snapshot,
)

from spector.chain._cluster import cluster, cluster_of, merge_addresses, merge_path, unmerge
from spector.errors import InputError, UsageError
from spector.store import Workspace

SPECS = [
    BlockSpec(pays=[("a1", "alice1", BTC), ("a2", "alice2", BTC), ("a3", "alice3", BTC),
                    ("a4", "alice4", BTC), ("a5", "alice1", BTC), ("a6", "alice1", BTC),
                    ("b1", "bob1", BTC), ("b2", "bob2", BTC), ("b3", "bob1", BTC),
                    ("c1", "carol", BTC), ("d1", "dave:p2pk", BTC)]),
    # T1 joins alice1 and bob1 (a payjoin: not one owner); T2 is alice's own
    BlockSpec(txs=[Spend(["a1", "b1"], [("p", "pay1", 2 * BTC - 900)]),
                   Spend(["a2", "a3"], [("ac", "alice_change", 2 * BTC - 900)])]),
    # T4 links alice1 to alice4; T3 links bob2 to the payment's address
    BlockSpec(txs=[Spend(["a5", "a4"], [("q", "quinn", 2 * BTC - 900)]),
                   Spend(["b2", "p"], [("r", "rita", 3 * BTC - 2000)])]),
    # T5 spends alice1 with bob1 again: redundant while T1 stands, recorded by nobody
    BlockSpec(txs=[Spend(["a6", "b3"], [("s", "sam", 2 * BTC - 900)])]),
]  # fmt: skip


def own(*names: str) -> frozenset[str]:
    return frozenset(address(n) for n in names)


@pytest.fixture
def chain():
    return build(SPECS)


def test_unmerge_rebuilds_from_the_remaining_transactions(tmp_path, chain):
    t1, t5 = chain.txids["1.1"], chain.txids["3.1"]
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain.blocks)
        cluster(ws)
        everyone = own("alice1", "bob1", "alice4")
        assert groups(ws) == {everyone, own("alice2", "alice3"), own("bob2", "pay1")}
        con = ws.store.con
        assert con.execute("SELECT count(*) FROM cluster_merges WHERE txid = ?",
                           [t5]).fetchall() == [(0,)]  # fmt: skip
        out = unmerge(ws, t1, why="a payjoin")
        assert out == {"txid": t1, "already": False, "merges_undone": 1,
                       "addresses_affected": 3, "clusters": 1, "applied": True}  # fmt: skip
        # T5 now carries the link T1 made: still one cluster, by T5's evidence
        assert groups(ws) == {everyone, own("alice2", "alice3"), own("bob2", "pay1")}
        assert {(m["txid"]) for m in cluster_of(ws, address("bob1"))["merges"]} == {
            chain.txids["2.1"], t5,
        }  # fmt: skip
        assert unmerge(ws, t5)["merges_undone"] == 1
        assert groups(ws) == {own("alice1", "alice4"), own("alice2", "alice3"),
                              own("bob2", "pay1")}  # fmt: skip
        assert unmerge(ws, t5)["already"] is True
        after = snapshot(ws)
        # a run from zero respects the decisions
        assert cluster(ws, guard_factor=0).recomputed is not None
        assert groups(ws) == {own("alice1", "alice4"), own("alice2", "alice3"),
                              own("bob2", "pay1")}  # fmt: skip
    # decisions made before the first run: the same clustering
    with Workspace.init(tmp_path / "first") as ws:
        ingest(ws, tmp_path / "b", chain.blocks)
        assert unmerge(ws, t1)["applied"] is False
        unmerge(ws, t5)
        cluster(ws)
        assert snapshot(ws) == after


def test_merge_is_kept_and_explained(tmp_path, chain):
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain.blocks)
        cluster(ws)
        carol, dave = address("carol"), address("dave:p2pk")
        out = merge_addresses(ws, carol, address("alice2"), why="same PGP key on the forum")
        assert out["applied"]
        assert not out["already"]
        assert out["size"] == 3
        out = merge_addresses(ws, dave, carol, why="seized wallet file")
        assert out["size"] == 4
        assert out["cluster_id"] == cluster_of(ws, carol)["cluster_id"]
        info = cluster_of(ws, dave)
        assert info["size"] == 4
        assert {"heuristic": "analyst", "txid": None, "addresses": [dave, carol]} in info["merges"]
        path = merge_path(ws, dave, address("alice3"))
        assert [m["heuristic"] for m in path] == ["analyst", "analyst", "multi_input"]
        assert ws.store.con.execute(
            "SELECT why FROM cluster_merges WHERE heuristic = 'analyst' ORDER BY why"
        ).fetchall() == [("same PGP key on the forum",), ("seized wallet file",)]
        assert merge_addresses(ws, carol, dave, why="again")["already"] is True
        # kept through a run from zero and an unmerge that splits the chain's cluster
        cluster(ws, heuristics=["one_time_change"])
        assert cluster_of(ws, dave)["size"] == 4
        unmerge(ws, chain.txids["1.2"])  # T2: alice2 and alice3 are not one owner
        assert own("alice2", "carol", "dave:p2pk") in groups(ws)
        assert address("alice3") not in cluster_of(ws, dave)["addresses"]


def test_bad_decisions_change_nothing(tmp_path, chain):
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain.blocks)
        cluster(ws)
        before = snapshot(ws)
        con = ws.store.con
        with pytest.raises(InputError, match=r"no transaction 0{64} in the chain"):
            unmerge(ws, "0" * 64)
        with pytest.raises(InputError, match="not a transaction id"):
            unmerge(ws, "xyz")
        with pytest.raises(InputError, match="does not appear in the chain"):
            merge_addresses(ws, address("carol"), "bcrt1qnotanaddress", why="x")
        with pytest.raises(UsageError, match="reason"):
            merge_addresses(ws, address("carol"), address("alice2"), why="  ")
        with pytest.raises(UsageError, match="two different"):
            merge_addresses(ws, address("carol"), address("carol"), why="x")
        with pytest.raises(InputError, match="not in the chain's clusters"):
            cluster_of(ws, "bcrt1qnotanaddress")
        with pytest.raises(InputError, match="not one cluster"):
            merge_path(ws, address("carol"), address("alice2"))
        assert con.execute("SELECT count(*) FROM cluster_decisions").fetchall() == [(0,)]
        assert snapshot(ws) == before


def test_cluster_of_before_clustering(tmp_path, chain):
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain.blocks)
        with pytest.raises(InputError, match="not been clustered"):
            cluster_of(ws, address("carol"))


def test_cluster_of_shows_the_clusters_tags(tmp_path, chain):
    """A tag on one address shows on every address of its cluster (via spector.chain._tags)."""
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain.blocks)
        cluster(ws)
        ws.store.con.execute(
            "INSERT INTO chain_tags (tag_id, address, currency, network, label, category, "
            "confidence, confidence_level, source, is_cluster_definer, origin, origin_ref, "
            "created_at) VALUES ('t1', ?, 'BTC', 'regtest', 'Exchange A', 'exchange', "
            "'forensic', 60, 'analyst notes', false, 'analyst', 'case 7', now())",
            [address("alice2")],
        )
        want = [{"label": "Exchange A", "category": "exchange", "confidence": "forensic",
                 "source": "analyst notes"}]  # fmt: skip
        assert cluster_of(ws, address("alice3"))["tags"] == want
        assert cluster_of(ws, address("alice2"))["tags"] == want
        assert cluster_of(ws, address("carol"))["tags"] == []


def test_merge_of_an_address_not_clustered_yet(tmp_path, chain):
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain.blocks[:2])
        cluster(ws)
        ingest(ws, tmp_path / "b", chain.blocks)
        out = merge_addresses(ws, address("carol"), address("rita"), why="same exchange account")
        assert (out["applied"], out["cluster_id"]) == (False, None)
        cluster(ws)
        assert own("carol", "rita") in groups(ws)
