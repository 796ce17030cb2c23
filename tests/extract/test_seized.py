"""The range's seized-server export imports as a first-class source, linked to the chain."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from spector.cli import main
from spector.model import Market
from spector.sim import generate
from spector.store import Workspace


def test_seized_export_imports_and_links_orders_to_chain_addresses(tmp_path, capsys):
    out = tmp_path / "range"
    truth = generate(5, "tiny", out)
    seized = truth["seized_export"]
    market = next(m for m in truth["markets"] if m["market_id"] == seized["market_id"])
    main(["init", str(tmp_path / "ws")])
    capsys.readouterr()
    args = ["import", "seized", str(out / seized["folder"]), "--market", market["name"], "--json"]
    assert main([*args, "-w", str(tmp_path / "ws")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["orders"] == report["orders_with_payto"] == seized["rows"]["orders"]
    assert report["errors"] == 0
    owners = {
        r["address"]: r for r in pq.read_table(out / "chain" / "addresses.parquet").to_pylist()
    }
    sales = {s["sale_id"]: s for s in pq.read_table(out / "world" / "sales.parquet").to_pylist()}
    accounts = {
        a["account_id"]: a for a in pq.read_table(out / "world" / "accounts.parquet").to_pylist()
    }
    with Workspace.open(tmp_path / "ws") as ws:
        con = ws.store.con
        assert con.execute("SELECT DISTINCT market_id FROM orders").fetchall() == [
            (Market(name=market["name"]).id,)  # a market known only by the name given
        ]
        orders = con.execute(
            "SELECT o.order_ref, o.payto_address, o.amount_usd, v.handle FROM orders o "
            "JOIN vendor_accounts v ON v.id = o.vendor_id"
        ).fetchall()
        sightings = con.execute(
            "SELECT count(*) FROM selector_sightings s JOIN orders o ON s.entity_id = o.id "
            "WHERE s.value = o.payto_address"
        ).fetchone()[0]
    assert len(orders) == seized["rows"]["orders"] == sightings
    for ref, address, amount_usd, handle in orders:
        sale = sales[ref]
        assert owners[address]["owner_id"] == market["market_id"]  # the market's escrow
        assert amount_usd == sale["amount_usd"]
        assert handle == accounts[sale["account_id"]]["handle"]
