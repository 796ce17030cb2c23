"""Tags over clusters: an address gets its cluster's tags with their confidence; the
tracer's service addresses; conflicting tags on one cluster are listed, not hidden."""

from __future__ import annotations

import json

import pytest
from tags_helpers import run, set_clusters

from spector.chain._tags import conflicts, service_addresses, tags_for
from spector.chain._tags_import import import_packs
from spector.errors import UsageError

# addresses no pack tags
X1, X2 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i", "1Ax4gZtb7gAit2TivwejZHYtNNLT18PUXJ"
Y, Z = "3CMNFxN1oHBc4R1EpboAL5yzHGgE611Xou", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"


@pytest.fixture
def tagged(workspace, shared_data):
    """The real Hydra and mixer packs, and three clusters drawn over them:
    10: three Hydra addresses and two untagged ones; 20: a ChipMixer and a Bitcoin Mixer
    address and one untagged (labels disagree); 30: a Hydra and a CryptoMixer address and
    one untagged (categories disagree)."""
    import_packs(
        workspace,
        [shared_data / "tags" / "hydra.yaml", shared_data / "tags" / "mixing_fc2021.yaml"],
    )
    con = workspace.store.con
    by_label: dict[str, list[str]] = {}
    for address, label in con.execute(
        "SELECT address, label FROM chain_tags ORDER BY line"
    ).fetchall():
        by_label.setdefault(label, []).append(address)
    hydra, chip = by_label["Hydra Market"], by_label["ChipMixer"]
    clusters = dict.fromkeys([*hydra[:3], X1, X2], 10)
    clusters |= {chip[0]: 20, by_label["Bitcoin Mixer"][0]: 20, Y: 20}
    clusters |= {hydra[3]: 30, by_label["CryptoMixer"][0]: 30, Z: 30}
    set_clusters(con, clusters)
    return workspace, by_label


def test_an_address_gets_its_clusters_tags_once(tagged):
    ws, by_label = tagged
    hydra = by_label["Hydra Market"]
    lone = hydra[50]  # tagged, in no cluster
    got = tags_for(ws.store.con, [X1, hydra[0], Y, Z, lone, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"])
    (x1,) = got[X1]
    assert (x1.label, x1.category, x1.confidence, x1.confidence_level, x1.via) == (
        "Hydra Market",
        "market",
        "authority_data",
        60,
        "cluster:10",
    )
    assert x1.address in hydra[:3]
    assert x1.is_cluster_definer
    # its own tag, and not again through the two other Hydra addresses of its cluster
    assert [(r.label, r.via) for r in got[hydra[0]]] == [("Hydra Market", "address")]
    assert sorted((r.label, r.via) for r in got[Y]) == [
        ("Bitcoin Mixer", "cluster:20"),
        ("ChipMixer", "cluster:20"),
    ]
    # best first: the higher confidence level
    assert [(r.label, r.confidence_level) for r in got[Z]] == [
        ("Hydra Market", 60),
        ("CryptoMixer", 50),
    ]
    assert [r.via for r in got[lone]] == ["address"]
    assert got["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"] == []


def test_service_addresses_cover_the_clusters(tagged):
    ws, by_label = tagged
    con = ws.store.con
    mixers = service_addresses(con, ["mixer"])
    tagged_mixers = {a for label, ads in by_label.items() if label != "Hydra Market" for a in ads}
    # every tagged mixer address, plus the other members of clusters 20 and 30
    assert set(mixers) == tagged_mixers | {Y, Z, by_label["Hydra Market"][3]}
    assert (mixers[Y].via, mixers[Y].category) == ("cluster:20", "mixing_service")
    assert mixers[by_label["ChipMixer"][0]].via == "address"
    markets = service_addresses(con, ["market"])
    assert set(markets) == set(by_label["Hydra Market"]) | {X1, X2, Z, by_label["CryptoMixer"][0]}
    both = service_addresses(con, ["market", "mixing_service"])
    assert both[Z].label == "Hydra Market"  # 60 beats 50
    # the cluster's better tag beats an address's own weaker one
    crypto = both[by_label["CryptoMixer"][0]]
    assert (crypto.label, crypto.via) == ("Hydra Market", "cluster:30")
    # a tagged address keeps its own tag over its cluster's of the same level
    assert both[by_label["Hydra Market"][3]].via == "address"
    assert service_addresses(con, []) == {}
    with pytest.raises(UsageError, match="unknown category 'exchanges'"):
        service_addresses(con, ["exchanges"])


def test_conflicts_are_listed(tagged):
    ws, _ = tagged
    found = conflicts(ws.store.con)
    assert [(c.group, c.kind, c.size) for c in found] == [
        ("cluster:30", "category", 3),
        ("cluster:20", "label", 3),
    ]
    assert sorted((t["label"], t["category"], t["addresses"]) for t in found[0].tags) == [
        ("CryptoMixer", "mixing_service", 1),
        ("Hydra Market", "market", 1),
    ]


def test_without_clusters_only_own_tags(workspace, shared_data):
    import_packs(workspace, [shared_data / "tags" / "hydra.yaml"])
    con = workspace.store.con
    set_clusters(con, {})
    hydra = [r[0] for r in con.execute("SELECT address FROM chain_tags ORDER BY line").fetchall()]
    assert [r.via for r in tags_for(con, [hydra[0]])[hydra[0]]] == ["address"]
    assert set(service_addresses(con, ["market"])) == set(hydra)
    # one address, two labels: a conflict even without clusters
    con.execute(
        "INSERT INTO chain_tags SELECT * REPLACE ('Hydra (again)' AS label, 'x' AS tag_id) "
        "FROM chain_tags WHERE address = ?",
        [hydra[5]],
    )
    assert [(c.group, c.kind) for c in conflicts(con)] == [(f"address:{hydra[5]}", "label")]


def test_cli_list_address_and_conflicts(tagged, capsys):
    ws, _ = tagged
    root = str(ws.root)
    ws.close()
    code, out, _ = run(capsys, "chain", "tags", "list", "--address", Z, "--json", "-w", root)
    assert code == 0
    rows = json.loads(out)
    assert [(r["label"], r["via"], r["confidence"]) for r in rows] == [
        ("Hydra Market", "cluster:30", "authority_data"),
        ("CryptoMixer", "cluster:30", "forensic"),
    ]
    code, out, _ = run(capsys, "chain", "tags", "conflicts", "-w", root)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "cluster:30 (3 addresses): tags of different categories"
    assert lines[-1] == "2 conflicts (1 of categories, 1 of labels)"
    for extra in ((), ("--address", Z)):  # a mistyped origin is refused, not "0 tags"
        code, out, err = run(
            capsys, "chain", "tags", "list", "--origin", "crawl", *extra, "-w", root
        )
        assert (code, out) == (2, "")
        assert err.startswith("error: unknown tag origin 'crawl' (expected tagpack | web_crawl")
