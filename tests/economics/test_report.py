"""Charts (valid, deterministic PNG and SVG), the report files, hostile strings, and the
`spector econ report` command."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import pytest

from spector.cli import main
from spector.economics import estimate, write_charts, write_report
from spector.economics._charts import CHARTS, label
from spector.economics._report import csv_cell
from tests.economics.helpers import day, feedback, listing, market, vendor

HOSTILE = '=HYPERLINK("x")<script>alert(1)</script>$\\frac{1}{0}$'


@pytest.fixture
def filled(workspace):
    m = market("Alpha <b>", "seized")
    v = vendor(m, HOSTILE)
    w = vendor(m, "plain", "DE")
    x = listing(m, v, "1", "10")
    y = listing(m, w, "2", "30", category="drugs.stimulants")
    fb = [feedback(m, v, x, f"a{i}", i * 2) for i in range(10)]
    fb += [feedback(m, w, y, f"b{i}", i * 3) for i in range(5)]
    workspace.store.upsert([m, v, w, x, y, *fb], source="crawl", seen_at=day(40))
    return workspace


def test_charts_are_valid_png_and_svg_and_deterministic(filled, tmp_path):
    est = estimate(filled)
    paths = write_charts(est, tmp_path / "one")
    assert [p.name for p in paths] == [f"{n}.{e}" for n in CHARTS for e in ("png", "svg")]
    for p in paths:
        data = p.read_bytes()
        if p.suffix == ".png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            assert b"Software" not in data
            assert len(data) > 5000
        else:
            root = ET.fromstring(data)  # noqa: S314 (our own SVG, just written)
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert b"<dc:date>" not in data
            assert b"<script" not in data
    again = write_charts(est, tmp_path / "two")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]


def test_labels_of_scraped_strings_are_plain_and_short():
    assert label("a\x00b\nc\u202ed") == "a b c d"
    assert label(None) == "unknown"
    assert len(label("x" * 100)) == 40


def test_csv_cells_cannot_be_formulas():
    assert csv_cell("=cmd()") == "'=cmd()"
    assert csv_cell("+1") == "'+1"
    assert csv_cell("@x") == "'@x"
    assert csv_cell("north") == "north"
    assert csv_cell(-0.0) == "0.000000"
    assert csv_cell(1.5) == "1.500000"
    assert csv_cell(3) == 3
    assert csv_cell(None) == ""


def test_the_report_escapes_every_scraped_string(filled, tmp_path):
    est = estimate(filled)
    written = write_report(est, tmp_path / "r", workspace="case <1>")
    html = written["index.html"].read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Alpha &lt;b&gt;" in html
    assert "case &lt;1&gt;" in html
    assert "Content-Security-Policy" in html
    for name in CHARTS:
        assert f'src="{name}.svg"' in html
    with written["by_vendor.csv"].open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["handle"] for r in rows} == {"'" + HOSTILE, "plain"}
    total = sum(float(r["revenue_usd"]) for r in rows)
    assert total == pytest.approx(est.totals["revenue_usd"])
    assert json.loads(written["summary.json"].read_text())["totals"]["sales"] == 15


def test_cli_report_writes_the_files_and_a_summary(filled, tmp_path, capsys):
    root = str(filled.root)
    filled.close()
    out = tmp_path / "out"
    assert main(["econ", "report", "-w", root, "--out", str(out), "--feedback-rate", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "estimated 30 sales" in text
    assert "feedback per sale 0.500 (given)" in text
    assert "1. plain on Alpha <b>: $300 (10 sales)" in text
    assert f"2. {label(HOSTILE)} on Alpha <b>: $200 (20 sales)" in text  # cut, as text
    assert f"wrote 20 files to {out}" in text
    assert (out / "index.html").is_file()
    assert (out / "top_vendors.png").is_file()
    assert main(["econ", "report", "-w", root, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rate_basis"] == "lower bound"
    assert summary["totals"]["sales"] == 15
    assert summary["out"].endswith("reports/economics")
    assert "index.html" in summary["files"]


def test_cli_errors_are_one_line_and_exit_2(workspace, tmp_path, capsys):
    root = str(workspace.root)
    workspace.close()
    assert main(["econ", "report", "-w", root]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {root}: nothing to estimate")
    for bad in ("0", "1.2", "abc", "nan", "-0.3"):
        assert main(["econ", "report", "-w", root, "--feedback-rate", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"error: --feedback-rate {bad!r} is not a share of sales (expected a number in "
            "(0, 1]: feedback per sale, e.g. 0.7)"
        ]
