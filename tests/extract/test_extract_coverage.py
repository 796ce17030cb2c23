"""`spector extract` says what it did not read: pages of a market no template claims are
counted with what to do about them; imported pages their market's template has no page
kind for are named (a few URL paths in the summary, each in `spector extract errors`);
crawled pages no page kind is for (home pages, member lists) are only counted."""

from __future__ import annotations

import io
from datetime import datetime

import duckdb
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from spector.cli import main
from spector.extract._run import extract_captures
from spector.model import Capture, Market
from spector.store import Workspace

NORDMARKT = """
[template]
family = "nordmarkt"
version = {version}
[[page]]
kind = "listing"
url = '{url}'
query = {{ ref = "id" }}
[page.fields]
title = "h1"
vendor = "a.seller"
"""
PRODUCT = "<html><body><h1>Blue pills</h1><a class='seller'>kilo</a></body></html>"


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    (root / "templates").mkdir()
    return root


def _extract(ws, capsys) -> str:
    capsys.readouterr()
    assert main(["extract", "-w", str(ws), "--processes", "1"]) == 0
    return capsys.readouterr().out.replace("\n", " ")


def _errors(ws) -> list[tuple[str, str, str]]:
    con = duckdb.connect(str(ws / "store.duckdb"), read_only=True)
    try:
        return con.execute("SELECT ref, stage, reason FROM extraction_errors").fetchall()
    finally:
        con.close()


def test_an_imported_warc_page_no_template_claims_is_counted_with_a_hint(ws, tmp_path, capsys):
    warc = tmp_path / "other.warc.gz"
    with warc.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        body = b"<html><body><h1>a shop</h1></body></html>"
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                "http://127.0.0.1/shop",
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": "2024-03-01T10:00:00Z"},
            )
        )
    assert main(["import", "pages", str(warc), "-w", str(ws)]) == 0
    out = _extract(ws, capsys)
    assert "extracted 0 of 1 new captures into 0 records; 1 page no template covers;" in out
    assert "1 page of 127.0.0.1: no template claims the market" in out
    for hint in ("`spector template list`", "--template NAME", "docs/templates.md"):
        assert hint in out
    assert _errors(ws) == []  # nothing failed: there is nothing to read it with
    assert "extracted 0 of 1 new captures" in _extract(ws, capsys)  # still not hidden


def test_an_imported_page_its_template_has_no_page_kind_for_is_named(ws, tmp_path, capsys):
    (ws / "templates" / "nordmarkt.toml").write_text(
        NORDMARKT.format(version=1, url=r"^/item/(?P<ref>\d+)$"), encoding="utf-8"
    )
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "product.php?id=4711").write_text(PRODUCT, encoding="utf-8")
    argv = ["import", "pages", str(saved), "-w", str(ws), "--template", "nordmarkt"]
    assert main([*argv, "--url-prefix", "http://nordmarkt.example/"]) == 0
    out = _extract(ws, capsys)
    assert "extracted 0 of 1 new captures into 0 records; 1 page no template covers;" in out
    assert "nordmarkt@1 has no page kind for 1 imported page (no page kind's url or" in out
    assert "matched): /product.php?id=4711; each is in `spector extract errors`" in out
    ((ref, stage, reason),) = _errors(ws)
    assert ref == "http://nordmarkt.example/product.php?id=4711"
    assert stage == "uncovered"
    assert reason.startswith("no page kind of nordmarkt@1 (workspace ")
    assert reason.endswith(
        "imported page: no page kind's url regex matches its path /product.php (the query "
        "is not matched; a page kind's query reads it)"
    )
    capsys.readouterr()
    assert main(["extract", "errors", "-w", str(ws)]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # (the console wraps long lines)
    assert "product.php?id=4711 [uncovered] no page kind of nordmarkt@1" in shown
    # the template learns the page: it is read, and its row in the errors goes
    (ws / "templates" / "nordmarkt.toml").write_text(
        NORDMARKT.format(version=2, url=r"^/product\.php$"), encoding="utf-8"
    )
    assert "extracted 1 of 1 new captures into 2 records; 0 pages" in _extract(ws, capsys)
    assert _errors(ws) == []


def test_a_page_a_detecting_template_does_not_recognise_is_named_too(
    ws, tmp_path, shared_data, capsys
):
    about = tmp_path / "about.html"  # a page of the market that is no listing
    about.write_text("<html><body><p>About us</p></body></html>", encoding="utf-8")
    page = shared_data / "markets" / "pages" / "drugmarket-product-2019-09-11.htm"
    argv = ["import", "pages", str(about), str(page), "-w", str(ws), "--template", "drugmarket"]
    assert main([*argv, "--url-prefix", "http://4yjes6zfucnh7vcj.onion/"]) == 0
    out = _extract(ws, capsys)
    assert "extracted 1 of 2 new captures into 12 records; 1 page no template covers;" in out
    assert "drugmarket@2 has no page kind for 1 imported page (no page kind's url or" in out
    ((ref, stage, reason),) = _errors(ws)
    assert (ref, stage) == ("http://4yjes6zfucnh7vcj.onion/about.html", "uncovered")
    assert reason.endswith(
        "matches its path /about.html, and no page kind's detect selector matches the page"
    )


def test_crawled_pages_no_page_kind_is_for_are_only_counted(tmp_path):
    """A crawl fetches home pages and member lists that no template is meant to read:
    counted, not reported; the same page imported is reported."""
    seen = datetime(2024, 3, 1, 10, 0)
    with Workspace.init(tmp_path / "ws") as ws:
        host = "shopxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"
        ws.store.upsert(
            [Market(name="Shop", family="escrow", onions=(host,), ref=f"onion:{host}")],
            source="test",
            seen_at=seen,
        )
        # no page kind of escrow is for these URLs: their bodies are never read
        crawled = Capture(
            url=f"http://{host}/", host=host, site="Shop", fetched_at=seen, status=200,
            sha256="a" * 64, warc_file="warc/none.warc.gz", warc_offset=0, time_basis="fetch",
        )  # fmt: skip
        ws.store.upsert([crawled], source="test")
        report = extract_captures(ws)
        assert (report.captures, report.skipped, report.errors) == (1, 1, 0)
        assert report.uncovered == {}
        count = "SELECT count(*) FROM extraction_errors"
        assert ws.store.con.execute(count).fetchone() == (0,)
        imported = Capture(
            url=f"http://{host}/members", host=host, site="Shop", fetched_at=seen, status=200,
            sha256="b" * 64, warc_file="warc/none.warc.gz", warc_offset=0,
            time_basis="observed-at", source_file="/saved/members.html",
        )  # fmt: skip
        ws.store.upsert([imported], source="test")
        report = extract_captures(ws)
        assert (report.captures, report.skipped) == (2, 2)
        assert {n: (u.count, u.examples) for n, u in report.uncovered.items()} == {
            "escrow@5": (1, ["/members"])
        }
        assert ws.store.con.execute(count).fetchone() == (1,)
