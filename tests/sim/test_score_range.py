"""The score of a real crawl of the tiny range (crawler, extraction, seized import), as
`spector demo` runs them: every figure 1.0, over a scope counted here from the world
files; and the demo's score step prints the figures with their scope."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from tests.collect.harness import Human

from spector.cli.common import DemoContext
from spector.collect import start_crawl
from spector.extract._rates import import_rates
from spector.extract._run import extract_captures
from spector.extract._seized import import_seized
from spector.sim import RangeServer, generate, score
from spector.sim.cli import _demo_score
from spector.store import Workspace

SEED = 11


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    root = tmp_path_factory.mktemp("score") / "ws"
    with Workspace.init(root) as ws:
        out = ws.range_dir
    truth = generate(SEED, "tiny", out)
    with RangeServer(out) as server, Human(root, truth["captchas"]):
        start_crawl(root, [out / m["profile"] for m in truth["markets"]], proxy=server.proxy_url)
    with Workspace.open(root, write=True) as ws:
        import_rates(ws.store, out / "world" / "rates.parquet")
        assert extract_captures(ws).errors == 0
        seized = truth["seized_export"]
        name = next(m["name"] for m in truth["markets"] if m["market_id"] == seized["market_id"])
        import_seized(ws.store, out / seized["folder"], name)
        result = score(out, ws)
    return root, out, truth, result


def _figures(node, path="extraction"):
    """Every figure under ``node`` by its path: recall, precision, field accuracies."""
    for key, value in node.items():
        if key in ("recall", "precision", "field_accuracy", "accuracy"):
            yield f"{path}.{key}", value
        elif isinstance(value, dict):
            yield from _figures(value, f"{path}.{key}")


def test_a_crawl_of_the_tiny_range_scores_one_on_every_figure(crawled):
    _, _, _, result = crawled
    figures = dict(_figures(result["extraction"]))
    assert len(figures) > 100
    absent = (".seized.by_kind.feedback.", ".seized.by_kind.post.")  # not in the export
    assert {p for p, v in figures.items() if v is None} == {
        p for p in figures if any(a in p for a in absent)
    }
    assert {p: v for p, v in figures.items() if v not in (1.0, None)} == {}
    # how precisely times are known: to the minute, the day, or "N weeks ago"
    families = result["extraction"]["by_family"]
    assert families["escrow"]["by_kind"]["feedback"]["fields"]["time"]["max_width_hours"] == (
        round(1 / 60, 3)
    )
    assert families["forum"]["by_kind"]["post"]["fields"]["time"]["max_width_hours"] == 24.0
    assert families["hydra"]["by_kind"]["feedback"]["fields"]["time"]["max_width_hours"] > 24
    counts = result["extraction"]["counts"]
    assert counts["found"] == counts["truth"] > 200
    assert counts["fields_correct"] == counts["fields_scored"] > 1000


def test_the_scope_is_what_the_last_day_shows_in_numbers(crawled):
    _, out, truth, result = crawled
    day = truth["day"]

    def world(name):
        return pq.read_table(out / "world" / f"{name}.parquet").to_pylist()

    live = [x for x in world("listings") if x["start_day"] <= day < x["end_day"]]
    selling = {x["account_id"] for x in live}
    feedback = [f for f in world("feedback") if f["day"] <= day and f["account_id"] in selling]
    threads = {t["thread_id"]: t for t in world("forum_threads") if t["day"] <= day}
    posts = [p for p in world("forum_posts") if p["day"] <= day and p["thread_id"] in threads]
    by_kind = result["extraction"]["by_kind"]
    assert by_kind["listing"]["scope"] == (
        f"{len(live)} listings live on day {day} of {truth['counts']['listings']} ever made"
    )
    assert by_kind["vendor_account"]["counts"]["truth"] == len(selling)
    assert by_kind["vendor_account"]["counts"]["truth_ever"] == truth["counts"]["vendor_accounts"]
    assert by_kind["feedback"]["counts"]["truth"] == len(feedback)
    assert by_kind["post"]["counts"]["truth"] == len(posts)
    assert result["extraction"]["scope"].startswith(
        f"what a crawl sees on day {day}, the range's last: {len(live)} listings of "
        f"{truth['counts']['listings']}, {len(selling)} vendor accounts of "
    )
    seized = result["extraction"]["seized"]
    rows = truth["seized_export"]["rows"]
    assert seized["by_kind"]["listing"]["counts"]["truth"] == rows["listings"]
    assert seized["by_kind"]["order"]["counts"]["truth"] == rows["orders"]
    assert seized["by_kind"]["vendor_account"]["counts"]["found"] > 0
    assert seized["scope"].startswith("the seized server of ")


def test_the_demo_step_prints_the_score_with_its_scope(crawled):
    root, _, truth, result = crawled
    with Workspace.open(root) as ws:
        text = _demo_score.run(DemoContext(ws, SEED, "tiny"))
    first, *rest = text.splitlines()
    assert first == f"range seed {SEED} day {truth['day']}, extraction.recall 1.000"
    live = result["extraction"]["by_kind"]["listing"]["counts"]["truth"]
    assert any(
        line.strip().startswith(f"listing: recall 1.000 ({live}/{live}), precision 1.000")
        and f"{live} listings live on day {truth['day']}" in line
        for line in rest
    )
    assert any(line.strip().startswith("seized server: recall 1.000") for line in rest)
    assert not any("below 1.0" in line for line in rest)
    json.dumps(result)  # the whole score is JSON as it is
