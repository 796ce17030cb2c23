"""`spector sim score` reads the workspace's tables and compares them with the truth: the
JSON contract, the counts behind each figure, the scope in words."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.parquet as pq

from spector.cli import main
from spector.extract._seized import import_seized
from spector.model import Listing, Market
from spector.sim import score
from spector.sim._score_truth import SHOWN
from spector.store import Workspace

FIGURES = {"recall", "precision", "field_accuracy", "scope", "counts"}
KINDS = {"listing", "vendor_account", "feedback", "post"}


def _live(out, truth, family=None):
    markets = {m["market_id"]: m for m in truth["markets"]}
    return [
        x
        for x in pq.read_table(out / "world" / "listings.parquet").to_pylist()
        if x["start_day"] <= truth["day"] < x["end_day"]
        and (family is None or markets[x["market_id"]]["family"] == family)
    ]


def test_extraction_counts_what_was_found(tiny_range, tmp_path):
    out, truth = tiny_range
    market = next(m for m in truth["markets"] if m["family"] == "escrow")
    listings = [x for x in _live(out, truth, "escrow") if x["market_id"] == market["market_id"]]
    with Workspace.init(tmp_path / "ws") as ws:
        empty = score(out, ws)["extraction"]
        assert (empty["recall"], empty["precision"], empty["field_accuracy"]) == (0.0, None, None)
        # known by a mirror: the market is matched on any of its onions, whatever its name
        m = Market(name="whatever we called it", onions=(market["onions"][1],))
        found = [Listing(market_id=m.id, listing_ref=x["ref"]) for x in listings[:3]]
        made_up = Listing(market_id=m.id, listing_ref="no-such-listing", title="x")
        ws.store.upsert(
            [m, *found, made_up], source="test", seen_at=datetime(2023, 2, 1, tzinfo=UTC)
        )
        result = score(out, ws)["extraction"]
    lst = result["by_kind"]["listing"]
    assert lst["counts"]["truth"] == len(_live(out, truth))
    assert lst["recall"] == round(3 / len(_live(out, truth)), 6)
    assert (lst["counts"]["found"], lst["counts"]["stored"], lst["counts"]["true"]) == (3, 4, 3)
    assert lst["counts"]["not_in_truth"] == 1
    assert lst["precision"] == 0.75
    # the rows hold only their keys: every shown field of the three is wrong
    assert lst["counts"]["fields_scored"] == 3 * len(SHOWN["listing"]["escrow"])
    assert lst["field_accuracy"] == 0.0
    assert lst["fields"]["title"] == {
        "accuracy": 0.0,
        "correct": 0,
        "scored": 3,
        "wrong": [
            {"key": x["ref"], "want": x["title"], "got": "None"}
            for x in sorted(
                listings[:3], key=lambda x: Listing(market_id=m.id, listing_ref=x["ref"]).id
            )
        ],
    }
    assert result["by_kind"]["vendor_account"]["recall"] == 0.0
    assert 0 < result["recall"] < lst["recall"]
    escrow = result["by_family"]["escrow"]
    assert escrow["by_kind"]["listing"]["counts"]["found"] == 3
    assert escrow["by_kind"]["listing"]["counts"]["truth"] == len(_live(out, truth, "escrow"))
    assert result["by_family"]["hydra"]["by_kind"]["listing"]["counts"]["stored"] == 0
    assert result["markets"][market["name"]]["workspace_markets"] == 1


def test_a_seized_import_alone_is_matched_by_its_name(tiny_range, tmp_path):
    out, truth = tiny_range
    export = truth["seized_export"]
    name = next(m["name"] for m in truth["markets"] if m["market_id"] == export["market_id"])
    with Workspace.init(tmp_path / "ws") as ws:
        import_seized(ws.store, out / export["folder"], name)
        result = score(out, ws)["extraction"]
    seized = result["seized"]
    assert seized["matched"] == "by name (a market without onions)"
    assert seized["workspace_markets"] == 1
    assert (seized["recall"], seized["precision"], seized["field_accuracy"]) == (1.0, 1.0, 1.0)
    assert seized["by_kind"]["order"]["counts"]["found"] == export["rows"]["orders"]
    # a market known by name only is not a crawled site: nothing of it counts there
    assert (result["recall"], result["precision"]) == (0.0, None)
    assert result["unmatched_workspace_markets"] == 1


def test_generate_and_score_from_the_cli(capsys, tmp_path):
    assert main(["sim", "generate", str(tmp_path / "r"), "--seed", "3"]) == 0
    assert "markets" in capsys.readouterr().out
    assert main(["init", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert main(["sim", "score", str(tmp_path / "r"), "-w", str(tmp_path / "ws"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    truth = json.loads((tmp_path / "r" / "truth.json").read_text())
    assert set(data["range"]) == {"seed", "scale", "day", "counts"}
    assert data["range"]["seed"] == 3
    ex = data["extraction"]
    assert FIGURES | {"by_kind"} <= set(ex)
    assert set(ex["by_kind"]) == KINDS
    for part in ex["by_kind"].values():
        assert set(part) >= FIGURES
        assert isinstance(part["scope"], str)
    for part in ex["by_family"].values():
        assert FIGURES | {"by_kind"} <= set(part)
    assert set(ex["seized"]["by_kind"]) == KINDS | {"order"}
    assert ex["recall"] == 0.0
    live = len(_live(tmp_path / "r", truth))
    made = truth["counts"]["listings"]
    day = truth["day"]
    assert (
        ex["by_kind"]["listing"]["scope"]
        == f"{live} listings live on day {day} of {made} ever made"
    )
    assert f"{live} listings of {made}" in ex["scope"]
    assert data["chain"] == {"recall": None}
    # in words: each figure with its counts and scope
    assert main(["sim", "score", str(tmp_path / "r"), "-w", str(tmp_path / "ws")]) == 0
    text = capsys.readouterr().out
    assert f"listing: recall 0.000 (0/{live}), precision — (0/0)" in text
    assert f"{live} listings live on day {day} of {made} ever made" in text
    assert main(["sim", "generate", str(tmp_path / "r")]) == 2  # not empty
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["sim", "serve", str(tmp_path / "nothing")]) == 2
    assert "truth.json" in capsys.readouterr().err
    assert main(["sim", "score", str(tmp_path / "nothing"), "-w", str(tmp_path / "ws")]) == 2
    assert "truth.json" in capsys.readouterr().err
