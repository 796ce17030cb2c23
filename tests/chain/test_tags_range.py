"""Tags on the training range, end to end as the demo runs them: its TagPacks and the
seized server's orders, over its clustered chain, checked against the range's truth."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from spector.chain._tags import conflicts, service_addresses
from spector.cli.common import DemoContext, demo_steps
from spector.store import Workspace


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    """A workspace with the tiny range in its range folder, the chain ingested and
    clustered, the seized server imported: the demo's state before its tag step."""
    from spector.chain._cluster import cluster
    from spector.chain._ingest import ingest_files
    from spector.extract._seized import import_seized
    from spector.sim._generate import generate

    root = tmp_path_factory.mktemp("demo") / "ws"
    ws = Workspace.init(root)
    truth = generate(7, "tiny", ws.range_dir)
    ingest_files(ws, [ws.range_dir / "chain" / "blocks"])
    cluster(ws)
    seized = truth["seized_export"]
    name = next(m["name"] for m in truth["markets"] if m["market_id"] == seized["market_id"])
    import_seized(ws.store, ws.range_dir / seized["folder"], name)
    yield ws, truth
    ws.close()


def _step():
    import spector.chain._cli_tags  # noqa: F401 - registers the step

    return next(s for s in demo_steps() if s.order == 55)


def test_demo_step_tags_the_range(demo_ws):
    ws, _ = demo_ws
    step = _step()
    assert step.name == "tag the range's services and vendors"
    line = step.run(DemoContext(workspace=ws, seed=7, scale="tiny"))
    con = ws.store.con
    packs = con.execute("SELECT count(*), sum(entries) FROM chain_tag_packs").fetchone()
    derived = con.execute(
        "SELECT count(*) FILTER (WHERE origin = 'web_crawl'), "
        "count(*) FILTER (WHERE origin = 'seized_data') FROM chain_tags"
    ).fetchone()
    clusters = con.execute(
        "SELECT count(DISTINCT c.cluster_id) FROM chain_tags t "
        "JOIN chain_clusters c ON c.address = t.address"
    ).fetchone()
    assert packs[0] == len(list((ws.range_dir / "chain" / "tags").glob("*.yaml"))) == 3
    assert derived[1] > 0  # the seized orders' pay-to addresses
    assert line == (
        f"imported {packs[1]:,} tags from 3 range TagPacks; derived {derived[0]:,} vendor pay-to "
        f"tags (web_crawl) and {derived[1]:,} market deposit tags (seized_data); "
        f"{clusters[0]:,} clusters tagged, {len(conflicts(con)):,} with conflicting tags"
    )
    # run again: the same tags, nothing doubled
    count = con.execute("SELECT count(*) FROM chain_tags").fetchone()
    assert step.run(DemoContext(workspace=ws, seed=7, scale="tiny")) == line
    assert con.execute("SELECT count(*) FROM chain_tags").fetchone() == count


def test_tags_and_their_clusters_agree_with_the_truth(demo_ws):
    ws, _ = demo_ws
    _step().run(DemoContext(workspace=ws, seed=7, scale="tiny"))
    owners = {
        r["address"]: r
        for r in pq.read_table(ws.range_dir / "chain" / "addresses.parquet").to_pylist()
    }
    con = ws.store.con
    kinds = {"exchange": "exchange", "mixing_service": "mixer", "market": "market"}
    # every tag names its address's true owner kind
    for address, category in con.execute("SELECT address, category FROM chain_tags").fetchall():
        assert owners[address]["owner_kind"] == kinds[category], address
    # propagated over the clusters: each service address found is the service's
    for category, kind in kinds.items():
        found = service_addresses(con, [category])
        tagged = {
            a
            for (a,) in con.execute(
                "SELECT address FROM chain_tags WHERE category = ?", [category]
            ).fetchall()
        }
        wrong = [a for a in found if a in owners and owners[a]["owner_kind"] != kind]
        assert len(wrong) <= 0.001 * len(found), (category, wrong[:5])
        assert set(found) >= tagged
        if category == "exchange":  # a tag on a hot wallet reaches the exchange's other addresses
            assert len(found) > len(tagged)
    # clusters never hold an exchange and a mixer at once; label conflicts are one owner
    # named two ways (the range's pack names a market by its id, the seized data by name)
    for c in conflicts(con):
        assert c.kind == "label", c
        owned = {owners[t["example"]]["owner_id"] for t in c.tags}
        assert len(owned) == 1, c


def test_demo_step_without_range_tagpacks(tmp_path):
    with Workspace.init(tmp_path / "ws") as ws:
        line = _step().run(DemoContext(workspace=ws, seed=7, scale="tiny"))
    assert line.startswith("the range has no TagPacks (")
    assert (
        "derived 0 vendor pay-to tags (web_crawl) and 0 market deposit tags (seized_data)" in line
    )
