"""Real tags on real blocks: the pack in tests/chain/data names the two keys of the first
Bitcoin transaction (block 170); after ingesting mainnet blocks 1-255 and clustering
(P2PK outputs by the P2PKH address of their key), the tags land on their clusters."""

from __future__ import annotations

from bip_utils import Base58Encoder, Hash160
from tags_helpers import EARLY_ACTORS, EARLY_TAGS

from spector.chain._ingest import ingest_files
from spector.chain._tags import service_addresses, tags_for
from spector.chain._tags_import import import_packs
from spector.chain._tags_read import read_pack

TX170 = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
COINBASE9 = "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9"
SATOSHI, HAL = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"


def _key_address(script: bytes) -> str:
    """P2PKH address of a P2PK script's key, computed here (not by the CLUSTER part)."""
    assert script[-1] == 0xAC
    assert script[0] == len(script) - 2
    return str(Base58Encoder.CheckEncode(b"\x00" + Hash160.QuickDigest(bytes(script[1:-1]))))


def test_the_packs_addresses_are_keys_of_those_blocks(workspace, shared_data):
    """The fixture's facts, checked against the real blocks themselves."""
    ingest_files(workspace, [shared_data / "bitcoin" / "mainnet-blocks-1-255.blk"])
    con = workspace.store.con
    outputs = {
        (txid, vout): (height, value, _key_address(script))
        for txid, vout, height, value, script in con.execute(
            "SELECT txid, vout, height, value, script FROM outputs WHERE script_type = 'p2pk'"
        ).fetchall()
    }
    assert outputs[COINBASE9, 0] == (9, 50_0000_0000, SATOSHI)
    assert outputs[TX170, 0] == (170, 10_0000_0000, HAL)  # 10 BTC to Hal Finney
    assert outputs[TX170, 1] == (170, 40_0000_0000, SATOSHI)  # 40 BTC back to the sender
    spent = con.execute(
        "SELECT prev_txid, prev_vout FROM inputs WHERE txid = ? AND NOT coinbase", [TX170]
    ).fetchall()
    assert spent == [(COINBASE9, 0)]  # the first transaction spends block 9's coinbase
    tags = {t.address: t for t in read_pack(EARLY_TAGS).tags}
    assert set(tags) == {SATOSHI, HAL}
    assert (tags[SATOSHI].label, tags[HAL].label) == ("Satoshi Nakamoto", "Hal Finney")
    # Satoshi's key is paid six times in these blocks (block 9 and five change outputs)
    assert sum(1 for *_, a in outputs.values() if a == SATOSHI) == 6


def test_real_tags_land_on_their_clusters(workspace, shared_data):
    from spector.chain._cluster import cluster
    from spector.chain._cluster_query import address_cluster_ids, cluster_of

    ingest_files(workspace, [shared_data / "bitcoin" / "mainnet-blocks-1-255.blk"])
    cluster(workspace)
    report = import_packs(workspace, [EARLY_ACTORS, EARLY_TAGS])
    assert [p.entries for p in report.imported] == [2, 2]
    con = workspace.store.con
    # the outputs of the first transaction carry the tags of their keys
    landed = con.execute(
        "SELECT p.vout, t.label, t.actor FROM chain_pseudo_addresses p "
        "JOIN chain_tags t ON t.address = p.address WHERE p.txid = ? ORDER BY p.vout",
        [TX170],
    ).fetchall()
    assert landed == [(0, "Hal Finney", "halfinney"), (1, "Satoshi Nakamoto", "satoshinakamoto")]
    ids = address_cluster_ids(con, [SATOSHI, HAL])
    assert set(ids) == {SATOSHI, HAL}
    assert ids[SATOSHI] != ids[HAL]  # no transaction here joins the two keys
    clustered = set(
        con.execute(
            "SELECT c.cluster_id, t.label FROM chain_tags t "
            "JOIN chain_clusters c ON c.address = t.address"
        ).fetchall()
    )
    assert clustered == {(ids[SATOSHI], "Satoshi Nakamoto"), (ids[HAL], "Hal Finney")}
    refs = tags_for(con, [SATOSHI, HAL])
    assert [(r.label, r.via, r.confidence_level) for r in refs[SATOSHI]] == [
        ("Satoshi Nakamoto", "address", 50)
    ]
    members = {
        a
        for (a,) in con.execute(
            "SELECT address FROM chain_clusters WHERE cluster_id IN (?, ?)",
            [ids[SATOSHI], ids[HAL]],
        ).fetchall()
    }
    assert set(service_addresses(con, ["user"])) == members
    # and the cluster's own view (the CLUSTER part's cluster-of) shows them
    shown = cluster_of(workspace, SATOSHI)
    assert {
        "label": "Satoshi Nakamoto",
        "category": "user",
        "confidence": "forensic",
        "source": "https://bitcointalk.org/index.php?topic=155054.0",
    } in shown["tags"]
