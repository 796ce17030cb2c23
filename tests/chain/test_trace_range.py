"""Tracing on the training range against its truth: vendors' received outputs traced to
the exchanges where ``sale_paths.parquet`` says their money landed.

The range is the chain tests' small scenario (tests/sim/chain/conftest.py): 6 vendors
with direct, peel-chain, mixer and coinjoin cash-outs. Exchange addresses are tagged
from the truth (``addresses.parquet``: deposit and hot-wallet addresses, label = the
exchange), as an investigator with complete attribution would have them; a second test
uses what an investigator really has: the range's TagPacks and the clusters.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pyarrow.parquet as pq
import pytest
from tests.chain.trace_chain import tag
from tests.sim.chain.conftest import small_scenario

from spector.chain._ingest import ingest_files
from spector.chain._trace import trace
from spector.sim.chain import build_chain
from spector.store import Workspace

GOAL = 0.8  # the floor for direct and peel cash-outs under haircut


@pytest.fixture(scope="module")
def range_chain(tmp_path_factory):
    out = tmp_path_factory.mktemp("trace_range") / "chain"
    truth = build_chain(small_scenario(), out)
    owners = {r["address"]: r for r in pq.read_table(truth.addresses_path).to_pylist()}
    paths = pq.read_table(truth.sale_paths_path).to_pylist()
    return out, owners, paths


@pytest.fixture(scope="module")
def ws(tmp_path_factory, range_chain):
    out, owners, _ = range_chain
    with Workspace.init(tmp_path_factory.mktemp("trace_range_ws") / "ws") as ws:
        ingest_files(ws, [out / "blocks"])
        for address, row in owners.items():
            if row["owner_kind"] == "exchange":
                tag(ws, address, row["owner_id"], "exchange")
        yield ws


def _vendor_truth(ws, owners, paths, vendor: str) -> tuple[list[str], dict[str, int]]:
    """The vendor's received addresses (market payouts and pay-to addresses), and per
    exchange the sats its cash-out transactions paid to that exchange's addresses."""
    received = sorted(
        a for a, r in owners.items() if r["owner_id"] == vendor and r["role"] in ("payout", "payto")
    )
    sales = {p["sale_id"] for p in paths if p["address"] in received}
    txids = {
        p["txid"]
        for p in paths
        if p["sale_id"] in sales
        and (p["note"].startswith("landed:") or p["note"].startswith("peel chain hop"))
    }
    cashed: dict[str, int] = defaultdict(int)
    for _txid, address, value in ws.store.con.execute(
        "SELECT txid, address, value FROM outputs WHERE txid IN (SELECT unnest(?))", [list(txids)]
    ).fetchall():
        row = owners.get(address)
        if row and row["owner_kind"] == "exchange":
            cashed[row["owner_id"]] += int(value)
    return received, dict(cashed)


def _by_label(result) -> dict[str, int]:
    return {r["label"]: r["amount_sat"] for r in result.reached}


@pytest.mark.parametrize("vendor", ["v-direct", "v-peel", "v-peel-2"])
def test_cash_out_traced_to_the_true_exchange(ws, range_chain, vendor):
    _, owners, paths = range_chain
    received, cashed = _vendor_truth(ws, owners, paths, vendor)
    assert received
    assert cashed, "the vendor cashed out on the range"
    result = trace(ws, received, to_tags=["exchange"])
    got = _by_label(result)
    main = max(cashed, key=lambda x: cashed[x])
    share = got.get(main, 0) / cashed[main]
    assert GOAL <= share <= 1.0001, (vendor, main, share, got, cashed)
    for exchange, amount in cashed.items():  # every exchange it paid, peels included
        assert got.get(exchange, 0) == pytest.approx(amount, rel=0.01), exchange
    assert set(got) <= set(cashed)  # nothing attributed to an exchange it never paid
    d = result.as_dict()
    assert sum(r["share"] for r in d["reached"]) + sum(
        u["share"] for u in d["untraced"].values()
    ) == pytest.approx(1.0)
    if vendor.startswith("v-peel"):
        assert any(e["rule"] == "peel" for e in d["edges"])


def test_every_policy_finds_the_direct_exchange(ws, range_chain):
    _, owners, paths = range_chain
    received, cashed = _vendor_truth(ws, owners, paths, "v-direct")
    main = max(cashed, key=lambda x: cashed[x])
    for policy in ("fifo", "haircut", "poison"):
        got = _by_label(trace(ws, received, policy=policy, to_tags=["exchange"]))
        assert got[main] >= GOAL * cashed[main], policy


def test_wrong_attribution_lowers_the_score(tmp_path, range_chain):
    """The same check with the exchanges' labels shuffled among their addresses fails the
    goal: the score can fall."""
    out, owners, paths = range_chain
    exchange_rows = [(a, r["owner_id"]) for a, r in owners.items() if r["owner_kind"] == "exchange"]
    labels = [label for _, label in exchange_rows]
    random.Random(3).shuffle(labels)
    with Workspace.init(tmp_path / "ws") as ws:
        ingest_files(ws, [out / "blocks"])
        for (address, _), label in zip(exchange_rows, labels, strict=True):
            tag(ws, address, label, "exchange")
        received, cashed = _vendor_truth(ws, owners, paths, "v-direct")
        main = max(cashed, key=lambda x: cashed[x])
        got = _by_label(trace(ws, received, to_tags=["exchange"]))
        assert got.get(main, 0) / cashed[main] < GOAL


def test_with_tagpacks_and_clusters(tmp_path, range_chain):
    """What an investigator has: the range's TagPacks (a few hot-wallet addresses per
    exchange, cluster definers) spread over the exchanges' clusters."""
    from spector.chain._cluster import cluster
    from spector.chain._tags_import import import_packs

    out, owners, paths = range_chain
    with Workspace.init(tmp_path / "ws") as ws:
        ingest_files(ws, [out / "blocks"])
        cluster(ws)
        import_packs(ws, sorted((out / "tags").glob("*.yaml")))
        received, cashed = _vendor_truth(ws, owners, paths, "v-direct")
        main = max(cashed, key=lambda x: cashed[x])
        got = _by_label(trace(ws, received, to_tags=["exchange"]))
        assert got.get(main, 0) / cashed[main] >= GOAL, (got, cashed)
