"""Clustering real main-net blocks (1-255: P2PK coins; 413,567: P2PKH and P2SH
multi-input spends), and the cluster commands end to end."""

from __future__ import annotations

import json

import pytest

from spector.chain._cluster import cluster, cluster_of
from spector.chain._ingest import ingest_files
from spector.chain._pseudo import p2pk_pubkey, pseudo_address
from spector.cli import main
from spector.store import Workspace

# block 9's coinbase pays a key that explorers show as this address
BLOCK_9_KEY = bytes.fromhex(
    "0411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f"
    "82e160bfa9b8b64f9d4c03f999b8643f656b412a3"
)
BLOCK_9_ADDRESS = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"
BLOCK_170 = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"


def test_pseudo_address_of_a_known_key():
    assert pseudo_address(BLOCK_9_KEY) == BLOCK_9_ADDRESS
    assert pseudo_address(BLOCK_9_KEY, "regtest") != BLOCK_9_ADDRESS
    script = bytes([65]) + BLOCK_9_KEY + b"\xac"
    assert p2pk_pubkey(script) == BLOCK_9_KEY
    assert p2pk_pubkey(script[:-1] + b"\xad") is None  # OP_CHECKSIGVERIFY: not P2PK
    assert p2pk_pubkey(bytes([33]) + BLOCK_9_KEY[:33] + b"\xac") == BLOCK_9_KEY[:33]
    assert p2pk_pubkey(b"\x76\xa9\x14" + bytes(20) + b"\x88\xac") is None


@pytest.fixture(scope="module")
def real_ws(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("real") / "ws"
    with Workspace.init(root) as ws:
        ingest_files(ws, [shared_data / "bitcoin"])
        report = cluster(ws)
    return root, report


def test_real_blocks_cluster(real_ws):
    root, report = real_ws
    with Workspace.open(root) as ws:
        con = ws.store.con
        p2pk = con.execute("SELECT count(*) FROM outputs WHERE script_type = 'p2pk'").fetchall()[0][
            0
        ]
        assert report.pseudo_addresses == p2pk == 267
        assert con.execute(
            "SELECT p.address FROM chain_pseudo_addresses p JOIN txs t USING (txid) "
            "WHERE t.height = 9 AND t.coinbase"
        ).fetchall() == [(BLOCK_9_ADDRESS,)]
        # block 170 spends block 9's coin: its input takes the same pseudo-address
        assert con.execute(
            "SELECT p.address FROM inputs i JOIN chain_pseudo_addresses p "
            "ON p.txid = i.prev_txid AND p.vout = i.prev_vout WHERE i.txid = ?",
            [BLOCK_170],
        ).fetchall() == [(BLOCK_9_ADDRESS,)]
        # every address of the chain, and every pseudo-address, has its cluster
        every = {r[0] for r in con.execute(
            "SELECT address FROM addresses UNION SELECT address FROM chain_pseudo_addresses"
        ).fetchall()}  # fmt: skip
        rows = con.execute("SELECT address FROM chain_clusters").fetchall()
        assert len(rows) == len(every) == report.addresses
        assert {r[0] for r in rows} == every
        # block 413,567 has multi-input spends; 1-255 have none
        heights = {
            r[0] for r in con.execute("SELECT DISTINCT height FROM cluster_merges").fetchall()
        }
        assert heights == {413_567}
        multi = con.execute(
            "SELECT count(*) FROM (SELECT txid FROM inputs WHERE NOT coinbase AND address "
            "IS NOT NULL GROUP BY txid HAVING count(DISTINCT address) > 1)"
        ).fetchall()[0][0]
        assert report.txs > 0
        assert multi > 0
        assert report.merges_total >= multi
        assert report.addresses - report.clusters == report.merges_total
        info = cluster_of(ws, BLOCK_9_ADDRESS)
        assert (info["size"], info["addresses"], info["merges"]) == (1, [BLOCK_9_ADDRESS], [])


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cluster_commands(capsys, real_ws):
    root, _ = real_ws
    ws = str(root)
    code, out, err = _run(capsys, "chain", "cluster", "--workspace", ws)
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("clustered 0 blocks: 0 merges")
    code, out, _ = _run(capsys, "chain", "cluster", "--workspace", ws, "--json")
    assert json.loads(out)["blocks"] == 0
    with Workspace.open(root) as w:
        a, b, txid = w.store.con.execute(
            "SELECT address_a, address_b, txid FROM cluster_merges LIMIT 1"
        ).fetchall()[0]
    code, out, _ = _run(capsys, "chain", "cluster-of", a, "--workspace", ws, "--json",
                        "--limit", "2")  # fmt: skip
    assert code == 0
    info = json.loads(out)
    assert set(info) == {"cluster_id", "size", "addresses", "tags", "merges"}
    assert len(info["addresses"]) <= 2
    assert len(info["merges"]) <= 2
    assert a in info["merges"][0]["addresses"]  # the address's own merges come first
    assert set(info["merges"][0]) == {"heuristic", "txid", "addresses"}
    code, out, _ = _run(capsys, "chain", "cluster-of", a, "--to", b, "--workspace", ws)
    assert code == 0
    assert f"tx {txid}" in out
    code, out, err = _run(capsys, "chain", "cluster-of", "1BoatSLRHtKNngkdXEeobR76b53LETtpyX",
                          "--workspace", ws)  # fmt: skip
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "not in the chain's clusters" in err
    code, _, err = _run(capsys, "chain", "unmerge", "ab" * 32, "--workspace", ws)
    assert code == 2
    assert err.startswith("error: ")
    assert "no transaction" in err
    code, _, err = _run(capsys, "chain", "cluster", "--heuristic", "one_tim_change",
                        "--workspace", ws)  # fmt: skip
    assert code == 2
    assert "did you mean one_time_change" in err


def test_decision_commands(capsys, tmp_path, real_ws):
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(real_ws[0], root)
    ws = str(root)
    with Workspace.open(root) as w:
        txid, a = w.store.con.execute(
            "SELECT txid, address_a FROM cluster_merges ORDER BY txid LIMIT 1"
        ).fetchall()[0]
        n = w.store.con.execute("SELECT count(*) FROM cluster_merges WHERE txid = ?",
                                [txid]).fetchall()[0][0]  # fmt: skip
    code, out, err = _run(capsys, "chain", "unmerge", txid, "--why", "test", "--workspace", ws)
    assert code == 0, err
    assert out.startswith(f"unmerged {txid}: {n:,} merges undone")
    code, out, _ = _run(capsys, "chain", "unmerge", txid, "--workspace", ws)
    assert "was unmerged already" in out
    code, out, err = _run(capsys, "chain", "merge", a, BLOCK_9_ADDRESS, "--why", "seized notes",
                          "--workspace", ws)  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"merged {a} and {BLOCK_9_ADDRESS}: cluster ")
    code, out, _ = _run(capsys, "chain", "cluster-of", BLOCK_9_ADDRESS, "--workspace", ws,
                        "--json")  # fmt: skip
    info = json.loads(out)
    assert {"heuristic": "analyst", "txid": None, "addresses": [a, BLOCK_9_ADDRESS]} in info[
        "merges"
    ]
    code, _, err = _run(capsys, "chain", "merge", a, BLOCK_9_ADDRESS, "--workspace", ws)
    assert code == 2  # --why is required


def test_cli_defaults_are_the_apis():
    import inspect

    from spector.chain._cli_cluster import cluster_cmd
    from spector.chain._cluster import GUARD_FACTOR, GUARD_MIN_SIZE

    params = inspect.signature(cluster_cmd).parameters
    assert params["guard_factor"].default == GUARD_FACTOR
    assert params["guard_min_size"].default == GUARD_MIN_SIZE
