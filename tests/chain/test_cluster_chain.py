"""Clustering hand-made chains: a reorg (with the ingest's hook, and without it), the
super-cluster guard, P2PK coins by their pseudo-addresses."""

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

from spector.chain import _cluster
from spector.chain._cluster import cluster, cluster_of
from spector.store import Workspace


def owners(*names: str) -> frozenset[str]:
    return frozenset(address(n) for n in names)


PREFIX = [
    BlockSpec(pays=[("a1", "alice1", BTC), ("a2", "alice2", BTC), ("a3", "alice3", BTC),
                    ("b1", "bob1", BTC), ("b2", "bob2", BTC), ("c1", "carol1", BTC),
                    ("c2", "carol2", BTC), ("d1", "dave1:p2pk", BTC), ("d2", "dave2:p2pk", BTC),
                    ("e1", "erin1:p2pkh", BTC), ("e2", "erin2", BTC), ("a4", "alice1", BTC)]),
    BlockSpec(txs=[Spend(["a1", "a2"], [("x", "xavier", BTC)])]),
    BlockSpec(txs=[Spend(["b1", "b2"], [("y", "yan", BTC)])]),
]  # fmt: skip
DAVE = Spend(["d1", "d2"], [("w", "walt", 2 * BTC - 1000)])  # in both branches
BRANCH_A = [
    # to be stale: joins alice's cluster (made in the prefix) with carol1
    BlockSpec(txs=[Spend(["a3", "a4", "c1"], [("z", "zoe", 3 * BTC - 1000)])]),
    BlockSpec(txs=[DAVE, Spend(["x", "e1"], [("f", "fresh_a", BTC)])]),
]
BRANCH_B = [
    BlockSpec(txs=[Spend(["c1", "c2"], [("q", "quinn", 2 * BTC - 1000)])]),
    BlockSpec(txs=[Spend(["e1", "e2"], [("r", "rita", 2 * BTC - 1000)])]),
    BlockSpec(txs=[DAVE, Spend(["a3", "y"], [("s", "sam", 2 * BTC - 1000)])]),
]


def test_reorg_equals_the_new_branch_from_scratch(tmp_path):
    chain_a = build(PREFIX + BRANCH_A)
    chain_b = build(PREFIX + BRANCH_B, salt=1, fork_at=len(PREFIX))
    assert chain_a.blocks[2].hash == chain_b.blocks[2].hash
    assert chain_a.txids["4.1"] == chain_b.txids["5.1"]  # dave's tx, in both branches
    with Workspace.init(tmp_path / "prefix") as ws:
        ingest(ws, tmp_path / "p", chain_a.blocks[: len(PREFIX)])
        cluster(ws)
        prefix = snapshot(ws)
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain_a.blocks)
        cluster(ws)
        assert groups(ws) == {
            owners("alice1", "alice2", "alice3", "carol1"), owners("xavier", "erin1:p2pkh"),
            owners("bob1", "bob2"), owners("dave1:p2pk", "dave2:p2pk"),
        }  # fmt: skip
        ingest(ws, tmp_path / "b", chain_b.blocks)
        # the hook ran inside the ingest: the clustering is back to the common prefix
        assert snapshot(ws) == prefix
        report = cluster(ws)
        assert report.recomputed is None
        assert report.blocks == len(BRANCH_B)
        after = snapshot(ws)
        assert groups(ws) == {
            owners("alice1", "alice2"), owners("bob1", "bob2"), owners("yan", "alice3"),
            owners("carol1", "carol2"), owners("dave1:p2pk", "dave2:p2pk"),
            owners("erin1:p2pkh", "erin2"),
        }  # fmt: skip
    with Workspace.init(tmp_path / "scratch") as ws:
        ingest(ws, tmp_path / "s", chain_b.blocks)
        cluster(ws)
        assert after == snapshot(ws)


def test_reorg_without_the_hook_is_caught_by_the_next_run(tmp_path, monkeypatch):
    chain_a = build(PREFIX + BRANCH_A)
    chain_b = build(PREFIX + BRANCH_B, salt=1, fork_at=len(PREFIX))
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain_a.blocks)
        cluster(ws)
        with monkeypatch.context() as m:
            m.setattr(_cluster, "on_rollback", lambda store, heights: None)
            ingest(ws, tmp_path / "b", chain_b.blocks)
        assert ws.store.con.execute("SELECT max(height) FROM cluster_blocks").fetchall() == [(4,)]
        report = cluster(ws)
        assert (report.rolled_back, report.blocks, report.recomputed) == (2, 3, None)
        healed = snapshot(ws)
    with Workspace.init(tmp_path / "scratch") as ws:
        ingest(ws, tmp_path / "s", chain_b.blocks)
        cluster(ws)
        assert healed == snapshot(ws)


def test_p2pk_coins_cluster_by_their_pseudo_address(tmp_path):
    chain = build(PREFIX + BRANCH_A)
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain.blocks)
        report = cluster(ws)
        assert report.pseudo_addresses == 2
        con = ws.store.con
        pseudo = dict(
            con.execute(
                "SELECT o.txid || ':' || o.vout, p.address FROM outputs o "
                "JOIN chain_pseudo_addresses p USING (txid, vout)"
            ).fetchall()
        )
        cb = chain.txids["0.0"]
        assert pseudo == {f"{cb}:7": address("dave1:p2pk"), f"{cb}:8": address("dave2:p2pk")}
        info = cluster_of(ws, address("dave2:p2pk"))
        assert sorted(info["addresses"]) == sorted(owners("dave1:p2pk", "dave2:p2pk"))
        pair = [address("dave1:p2pk"), address("dave2:p2pk")]
        assert info["merges"] == [
            {"heuristic": "multi_input", "txid": chain.txids["4.1"], "addresses": pair}
        ]


GUARDED = [
    BlockSpec(pays=[(f"g{i}", f"g{i}", BTC) for i in range(9)]),
    BlockSpec(txs=[Spend(["g0", "g1"], [("h", "g0", 2 * BTC - 500)]),  # cluster {g0, g1}
                   Spend(["g2", "g3"], [("k", "g2", 2 * BTC - 500)])]),  # cluster {g2, g3}
    # welds both clusters and four singletons: 8 addresses from parts of at most 2
    BlockSpec(txs=[Spend(["h", "k", "g4", "g5", "g6", "g7"], [("m", "merchant", 6 * BTC - 9000)])]),
    BlockSpec(txs=[Spend(["m", "g8"], [("n", "nina", 7 * BTC - 9999)])]),
]  # fmt: skip


def test_guard_holds_back_a_welding_transaction(tmp_path):
    chain = build(GUARDED)
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "a", chain.blocks)
        report = cluster(ws, guard_factor=2.0, guard_min_size=5)
        welder = chain.txids["2.1"]
        assert report.held == [{"height": 2, "txid": welder, "merged_size": 8,
                                "largest_part": 2, "parts": 6}]  # fmt: skip
        assert "1 held back" in report.summary()
        con = ws.store.con
        assert con.execute("SELECT count(*) FROM cluster_merges WHERE txid = ?",
                           [welder]).fetchall() == [(0,)]  # fmt: skip
        assert con.execute("SELECT txid, guard_factor, guard_min_size FROM cluster_held"
                           ).fetchall() == [(welder, 2.0, 5)]  # fmt: skip
        assert groups(ws) == {owners("g0", "g1"), owners("g2", "g3"), owners("merchant", "g8")}
        assert cluster(ws, guard_factor=2.0, guard_min_size=5).held == []  # nothing new
        # with the default guard (10x from 1,000 addresses) the transaction merges
        report = cluster(ws)
        assert report.recomputed is not None
        assert report.held == []
        assert groups(ws) == {owners("g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7"),
                              owners("merchant", "g8")}  # fmt: skip


@pytest.mark.parametrize(("factor", "size"), [(0.5, 10), (1.0, 10), (3.0, 1)])
def test_bad_guard_settings(tmp_path, factor, size):
    from spector.errors import UsageError

    with Workspace.init(tmp_path / "ws") as ws, pytest.raises(UsageError, match="guard"):
        cluster(ws, guard_factor=factor, guard_min_size=size)


def test_saved_arrays_are_a_cache(tmp_path):
    """Missing or damaged array files: rebuilt from the recorded merges, same result."""
    chain = build(PREFIX + BRANCH_A)
    with Workspace.init(tmp_path / "scratch") as ws:
        ingest(ws, tmp_path / "s", chain.blocks)
        cluster(ws)
        want = snapshot(ws)
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "p", chain.blocks[:3])
        cluster(ws)
        files = sorted((ws.root / "chain" / "clusters").glob("uf-*.npy"))
        assert [f.name for f in files] == [
            "uf-000001-labels.npy", "uf-000001-parent.npy", "uf-000001-size.npy",
        ]  # fmt: skip
        files[1].write_bytes(b"damaged")
        ingest(ws, tmp_path / "a", chain.blocks)
        cluster(ws)
        assert snapshot(ws) == want
        for f in (ws.root / "chain" / "clusters").glob("uf-*.npy"):
            f.unlink()
        merge = cluster_of(ws, address("alice1"))["merges"][0]
        assert merge["heuristic"] == "multi_input"
        assert cluster(ws).blocks == 0
        assert snapshot(ws) == want
        assert len(list((ws.root / "chain" / "clusters").glob("uf-000003-*.npy"))) == 3


def test_a_failed_run_changes_nothing(tmp_path, monkeypatch):
    from spector.chain._cluster_engine import Engine

    chain = build(PREFIX + BRANCH_A)
    with Workspace.init(tmp_path / "ws") as ws:
        ingest(ws, tmp_path / "p", chain.blocks[:3])
        cluster(ws)
        before = snapshot(ws)
        ingest(ws, tmp_path / "a", chain.blocks)

        def broken(self):
            self.state.save(self.uf, self.uf.labels())  # files of a generation never committed
            raise RuntimeError("disk full")

        monkeypatch.setattr(Engine, "finish", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            cluster(ws)
        assert snapshot(ws) == before
        names = sorted(f.name for f in (ws.root / "chain" / "clusters").iterdir())
        assert names == ["uf-000001-labels.npy", "uf-000001-parent.npy", "uf-000001-size.npy"]
        monkeypatch.undo()
        assert cluster(ws).blocks == 2
