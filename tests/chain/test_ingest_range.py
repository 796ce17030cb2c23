"""The training range's chain, ingested and checked against the range's own records of it;
and the chain commands on real blocks."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from spector.chain._ingest import ingest_files
from spector.cli import main
from spector.sim._generate import generate
from spector.store import Workspace


@pytest.fixture(scope="module")
def range_chain(tmp_path_factory):
    out = tmp_path_factory.mktemp("range") / "tiny"
    generate(11, "tiny", out)
    return out / "chain"


def test_range_chain_matches_its_truth(tmp_path, range_chain):
    with Workspace.init(tmp_path / "ws") as ws:
        report = ingest_files(ws, [range_chain / "blocks"])
        con = ws.store.con
        truth = pq.read_table(range_chain / "transactions.parquet").to_pylist()
        assert report.txs == len(truth)
        got = {
            r[0]: (r[1], r[2], r[3])
            for r in con.execute("SELECT txid, height, fee, coinbase FROM txs").fetchall()
        }
        assert set(got) == {t["txid"] for t in truth}
        for t in truth:
            height, fee, coinbase = got[t["txid"]]
            assert height == t["block_height"], t["txid"]
            assert coinbase == (t["kind"] == "coinbase")
            if not coinbase:
                assert fee == t["fee_sat"], t["txid"]
        # every input of the range spends an output the range made
        assert con.execute(
            "SELECT count(*) FROM inputs WHERE NOT coinbase AND value IS NULL"
        ).fetchone() == (0,)
        # every address the range's actors own shows up, with money conserved
        owned = {r["address"] for r in pq.read_table(range_chain / "addresses.parquet").to_pylist()}
        seen = {r[0] for r in con.execute("SELECT address FROM addresses").fetchall()}
        assert owned <= seen
        # unspent money = coinbases minus fees (the coinbases claimed them)
        coinbase_total, fees_total, balance_total, no_address = con.execute(
            "SELECT (SELECT sum(coinbase_value) FROM blocks), (SELECT sum(fee) FROM txs), "
            "(SELECT sum(balance) FROM addresses), "
            "(SELECT coalesce(sum(value), 0) FROM outputs WHERE address IS NULL)"
        ).fetchone()
        assert balance_total + no_address == coinbase_total - fees_total
        # each hop of a sale's path is an output of the named transaction to that address
        paths = pq.read_table(range_chain / "sale_paths.parquet").to_pylist()
        pairs = {(p["txid"], p["address"]) for p in paths}
        found = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT txid, address FROM outputs "
            "WHERE (txid, address) IN (SELECT unnest(?), unnest(?)))",
            [[p[0] for p in pairs], [p[1] for p in pairs]],
        ).fetchone()
        assert found == (len(pairs),)


def test_score_measures_the_chain(tmp_path, range_chain):
    from spector.sim._score import score

    out = range_chain.parent
    with Workspace.init(tmp_path / "full") as ws:
        ingest_files(ws, [range_chain / "blocks"])
        chain = score(out, ws)["chain"]
    assert chain == {
        "recall": 1.0,
        "transactions": chain["transactions"],
        "fee_exact": 1.0,
        "inputs_resolved": 1.0,
        "sale_hops_found": 1.0,
    }
    # half the blocks: recall is the share of transactions in them
    blk = sorted((range_chain / "blocks").glob("blk*.dat"))[0].read_bytes()
    records, pos = [], 0
    while pos < len(blk):
        n = int.from_bytes(blk[pos + 4 : pos + 8], "little")
        records.append(blk[pos : pos + 8 + n])
        pos += 8 + n
    half = len(records) // 2
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "blk00000.dat").write_bytes(b"".join(records[:half]))
    truth = pq.read_table(range_chain / "transactions.parquet").to_pylist()
    expected = sum(1 for t in truth if t["block_height"] < half) / len(truth)
    with Workspace.init(tmp_path / "part") as ws:
        ingest_files(ws, [tmp_path / "half"])
        part = score(out, ws)["chain"]
    assert part["recall"] == round(expected, 6)
    assert part["recall"] < 1.0
    assert part["sale_hops_found"] < 1.0


def test_seized_orders_link_to_their_payments(tmp_path, range_chain):
    import json as _json

    from spector.extract._seized import import_seized

    out = range_chain.parent
    truth = _json.loads((out / "truth.json").read_text(encoding="utf-8"))
    seized = truth["seized_export"]
    name = next(m["name"] for m in truth["markets"] if m["market_id"] == seized["market_id"])
    with Workspace.init(tmp_path / "ws") as ws:
        import_seized(ws.store, out / seized["folder"], name)
        ingest_files(ws, [range_chain / "blocks"])
        con = ws.store.con
        orders = con.execute(
            "SELECT count(*) FROM orders WHERE payto_address IS NOT NULL"
        ).fetchone()[0]
        assert orders > 0
        linked = con.execute(
            "SELECT count(DISTINCT order_id), count(*), count(*) FILTER (WHERE amount_matches) "
            "FROM order_payments"
        ).fetchone()
        # every order was paid once, to its own pay-to address, for its amount
        assert linked == (orders, orders, orders)
        # and the payment is the first hop of that sale's path in the range's truth
        hops = {
            (p["txid"], p["address"])
            for p in pq.read_table(range_chain / "sale_paths.parquet").to_pylist()
        }
        pays = set(con.execute("SELECT txid, address FROM order_payments").fetchall())
        assert pays <= hops


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_chain_commands_json(capsys, tmp_path, shared_data):
    ws = tmp_path / "ws"
    assert _run(capsys, "init", str(ws))[0] == 0
    folder = str(shared_data / "bitcoin")
    code, out, err = _run(capsys, "chain", "ingest", folder, "--workspace", str(ws), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["ingested"], report["txs"], report["tip_height"]) == (256, 1819, 413567)

    code, out, _ = _run(capsys, "chain", "block", "170", "--workspace", str(ws), "--json")
    assert code == 0
    block = json.loads(out)
    assert block["hash"] == "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"
    assert block["height"] == 170
    assert block["tx_count"] == 2
    assert block["total_output_value"] == 10_000_000_000
    pay = block["txs"][1]
    assert pay["txid"] == "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
    assert [(o["value"], o["type"], o["address"]) for o in pay["outputs"]] == [
        (1_000_000_000, "p2pk", None),
        (4_000_000_000, "p2pk", None),
    ]

    big = "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069"
    code, out, _ = _run(capsys, "chain", "block", big, "--workspace", str(ws), "--json")
    block = json.loads(out)
    assert (block["height"], block["tx_count"]) == (413567, 1557)
    assert block["merkle_root"] == (
        "64a50c649fc816baaa2effda230c39cacf1504e4e616a2863685b72aaa7dce05"
    )
    assert block["total_output_value"] == 914_705_170_223
    assert block["txs"][0]["txid"] == (
        "5b4aaef3f4e4625d70385ddf0bd2a0b7d7141e4c2fd36d2ff2cad37fff3deb0f"
    )
    types = {}
    for t in block["txs"]:
        for o in t["outputs"]:
            types[o["type"]] = types.get(o["type"], 0) + 1
    assert types == {"p2pkh": 2841, "p2sh": 737, "nulldata": 3}

    code, out, _ = _run(
        capsys, "chain", "address", "114xVNoWkv6LdtgUcCSm8xtBwi84EYscYi", "--workspace",
        str(ws), "--json",
    )  # fmt: skip
    addr = json.loads(out)
    assert (addr["received"], addr["spent"], addr["balance"]) == (259_183_077_192,) * 2 + (0,)
    assert {m["direction"] for m in addr["movements"]} == {"received", "spent"}

    code, out, _ = _run(capsys, "chain", "tx", pay["txid"], "--workspace", str(ws), "--json")
    tx = json.loads(out)
    assert tx["fee"] == 0
    assert tx["inputs"][0]["prev_height"] == 9
    assert tx["outputs"][0]["spent_by"] is None or tx["outputs"][0]["spent_by"]["height"] > 170

    code, out, _ = _run(capsys, "chain", "status", "--workspace", str(ws), "--json")
    status = json.loads(out)
    assert [(s["from"], s["to"]) for s in status["segments"]] == [(1, 255), (413567, 413567)]
    assert status["tables"]["blocks"]["rows"] == 256


def test_chain_command_errors(capsys, tmp_path, shared_data):
    ws = tmp_path / "ws"
    _run(capsys, "init", str(ws))
    code, _, err = _run(capsys, "chain", "block", "12", "--workspace", str(ws))
    assert code == 2
    assert err.startswith("error: ")
    assert "no block 12" in err
    code, _, err = _run(capsys, "chain", "address", "1BoatSLRHtKNngkdXEeobR76b53LETtpyX",
                        "--workspace", str(ws))  # fmt: skip
    assert code == 2
    assert "checksum" in err or "invalid" in err
    code, _, err = _run(capsys, "chain", "ingest", "--workspace", str(ws))
    assert code == 2
    assert "--rpc" in err
    bad = tmp_path / "bad.blk"
    bad.write_bytes(bytes.fromhex("f9beb4d9") + (10_000).to_bytes(4, "little") + bytes(100))
    code, _, err = _run(capsys, "chain", "ingest", str(bad), "--workspace", str(ws))
    assert code == 2
    assert f"{bad}@4" in err
    assert "beyond the end of the file" in err
