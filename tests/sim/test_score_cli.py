"""`spector sim score` reads the workspace's tables and compares them with the truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.parquet as pq

from spector.cli import main
from spector.model import Listing, Market
from spector.sim import score
from spector.store import Workspace


def test_extraction_recall_counts_what_was_found(tiny_range, tmp_path):
    out, truth = tiny_range
    market = next(m for m in truth["markets"] if m["family"] == "escrow")
    listings = [
        x
        for x in pq.read_table(out / "world" / "listings.parquet").to_pylist()
        if x["market_id"] == market["market_id"] and x["start_day"] <= truth["day"] < x["end_day"]
    ]
    with Workspace.init(tmp_path / "ws") as ws:
        assert score(out, ws)["extraction"]["recall"] == 0.0
        m = Market(name="whatever we called it", onions=(market["onions"][1],))
        found = [Listing(market_id=m.id, listing_ref=x["ref"]) for x in listings[:3]]
        ws.store.upsert([m, *found], source="test", seen_at=datetime(2023, 2, 1, tzinfo=UTC))
        result = score(out, ws)["extraction"]
    assert result["listings_recall"] == round(3 / result["listings_truth"], 6)
    assert result["vendor_accounts_recall"] == 0.0
    assert 0 < result["recall"] < result["listings_recall"]


def test_generate_and_score_from_the_cli(capsys, tmp_path):
    assert main(["sim", "generate", str(tmp_path / "r"), "--seed", "3"]) == 0
    assert "markets" in capsys.readouterr().out
    assert main(["init", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert main(["sim", "score", str(tmp_path / "r"), "-w", str(tmp_path / "ws"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["range"]["seed"] == 3
    assert data["extraction"]["recall"] == 0.0
    assert main(["sim", "generate", str(tmp_path / "r")]) == 2  # not empty
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["sim", "serve", str(tmp_path / "nothing")]) == 2
    assert "truth.json" in capsys.readouterr().err
