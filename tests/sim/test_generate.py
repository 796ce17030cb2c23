"""Generating a range: determinism, the truth file, the seized export, bad options."""

from __future__ import annotations

import csv
import hashlib
import json
import tomllib

import pyarrow.parquet as pq
import pytest

from spector.errors import UsageError
from spector.model import selector_kind
from spector.sim import generate


def _digests(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(tiny_range, tmp_path):
    out, _ = tiny_range
    generate(7, "tiny", tmp_path / "again")
    first, second = _digests(out), _digests(tmp_path / "again")
    assert len(first) > 15
    assert first == second


def test_another_seed_gives_another_world(tiny_range, tmp_path):
    _, truth = tiny_range
    other = generate(8, "tiny", tmp_path / "other")
    assert other["world_digest"] != truth["world_digest"]


def test_truth_has_the_contracted_keys(tiny_range):
    out, truth = tiny_range
    for key in (
        "markets",
        "actors",
        "vendor_accounts",
        "listings",
        "sales",
        "feedback",
        "addresses",
        "transactions",
        "blocks",
        "impostors",
        "holding_listings",
    ):
        assert truth["counts"][key] > 0, key
    assert {m["family"] for m in truth["markets"]} == {
        "escrow",
        "hydra",
        "walletless",
        "bots",
        "forum",
    }
    onion = selector_kind("onion")
    for market in truth["markets"]:
        assert market["pages"] > 5
        assert len(market["onions"]) >= 2  # mirrors
        assert all(onion.normalise(o) == o for o in market["onions"])
        profile = tomllib.loads((out / market["profile"]).read_text())
        assert profile["site"]["hosts"] == market["onions"]
        assert profile["login"]["username"] == market["login"]["username"]
        assert profile["site"]["media"] == "none"
    assert len(truth["captchas"]) == 12 * len(truth["markets"])
    assert all(len(a) == 5 for a in truth["captchas"].values())
    rows = pq.read_table(out / "world" / "listings.parquet").num_rows
    assert rows == truth["counts"]["listings"]


def test_seized_export_matches_the_truth(tiny_range):
    out, truth = tiny_range
    seized = truth["seized_export"]
    folder = out / seized["folder"]
    orders = list(csv.DictReader((folder / "orders.csv").read_text(encoding="utf-8").splitlines()))
    sales = pq.read_table(out / "world" / "sales.parquet").to_pylist()
    market_sales = {s["sale_id"]: s for s in sales if s["market_id"] == seized["market_id"]}
    assert len(orders) == len(market_sales) == seized["rows"]["orders"]
    owners = {
        r["address"]: r for r in pq.read_table(out / "chain" / "addresses.parquet").to_pylist()
    }
    btc = selector_kind("btc_address")
    for order in orders:
        sale = market_sales[order["order_id"]]
        assert order["amount_btc"] == f"{sale['amount_sat'] / 1e8:.8f}"
        assert btc.validate(order["payto_address"])
        assert owners[order["payto_address"]]["owner_id"] == seized["market_id"]
    users = list(csv.DictReader((folder / "users.csv").read_text(encoding="utf-8").splitlines()))
    assert {u["role"] for u in users} == {"vendor", "buyer"}


def test_shared_keys_are_one_certificate_across_markets(tiny_range):
    out, _ = tiny_range
    accounts = pq.read_table(out / "world" / "accounts.parquet").to_pylist()
    actors = {a["actor_id"]: a for a in pq.read_table(out / "world" / "actors.parquet").to_pylist()}
    by_actor: dict[str, set] = {}
    for a in accounts:
        if a["actor_id"] in actors and actors[a["actor_id"]]["pgp_policy"] == "shared":
            by_actor.setdefault(a["actor_id"], set()).add(a["pgp_fingerprint"])
    assert by_actor
    assert all(len(fps) == 1 for fps in by_actor.values())
    none = [
        a
        for a in accounts
        if a["actor_id"] in actors and actors[a["actor_id"]]["pgp_policy"] == "none"
    ]
    assert all(a["pgp_fingerprint"] is None for a in none)


def test_bad_options(tmp_path):
    with pytest.raises(UsageError, match="unknown scale"):
        generate(1, "galactic", tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        generate(1, "tiny", tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_truth_json_is_stable_text(tiny_range):
    out, truth = tiny_range
    assert json.loads((out / "truth.json").read_text()) == truth
