"""Templates a workspace brings: loaded beside the built-in ones, overriding them family by
family; one bad template is reported and the others go on; `spector template list` and
`spector template test`."""

from __future__ import annotations

import json

import duckdb
import pytest

from spector.cli import main
from spector.errors import InputError
from spector.extract._template_load import load_templates

PAGE = "markets/pages/drugmarket-product-2019-09-11.htm"
DRUGMARKET_V7 = """
[template]
family = "drugmarket"
version = 7
currency = "BTC"
hosts = ["4yjes6zfucnh7vcj.onion"]
[[page]]
kind = "listing"
detect = "div.price_big_inner"
[page.fields]
ref = { css = "a[href*='/add_basket/']@href", regex = '/add_basket/(?P<ref>\\d+)' }
title = { css = "title", regex = '^(?P<title>.+?) \\|' }
price = "div.price_big_inner"
vendor = "table.producttable a[href*='/market/user/']"
"""
BAD = """
[template]
family = "broken"
version = 1
[[page]]
kind = "listing"
url = '^/p/(?P<ref>\\d+)$'
[page.fields]
title = "h1:nope"
"""


def _import(ws, page, prefix: str, day: str) -> None:
    args = ["import", "pages", str(page), "-w", str(ws), "--url-prefix", prefix]
    assert main([*args, "--observed-at", day]) == 0


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    (root / "templates").mkdir()
    return root


def test_a_workspace_template_overrides_the_built_in_and_a_bad_one_is_skipped(ws):
    (ws / "templates" / "drugmarket.toml").write_text(DRUGMARKET_V7, encoding="utf-8")
    (ws / "templates" / "broken.toml").write_text(BAD, encoding="utf-8")
    loaded = load_templates(ws)
    assert loaded.get("drugmarket").version == 7
    assert loaded.builtin["drugmarket"].version == 2
    assert "overrides built-in drugmarket.toml" in loaded.overrides["drugmarket"]
    assert loaded.get("escrow") is loaded.builtin["escrow"]  # the others still load
    assert loaded.get("broken") is None
    (error,) = loaded.skipped
    assert "broken.toml" in error.one_line()
    assert "fields.title: bad CSS selector 'h1:nope'" in error.one_line()


def test_two_templates_of_one_family_in_a_folder(ws):
    (ws / "templates" / "a.toml").write_text(DRUGMARKET_V7, encoding="utf-8")
    (ws / "templates" / "b.toml").write_text(DRUGMARKET_V7, encoding="utf-8")
    loaded = load_templates(ws)
    assert loaded.get("drugmarket").source.endswith("a.toml")
    (error,) = loaded.skipped
    assert "b.toml" in error.one_line()
    assert "a second template" in error.one_line()


def test_extract_uses_the_workspace_template_and_says_what_it_skipped(
    ws, shared_data, capsys, tmp_path
):
    (ws / "templates" / "drugmarket.toml").write_text(DRUGMARKET_V7, encoding="utf-8")
    (ws / "templates" / "broken.toml").write_text(BAD, encoding="utf-8")
    _import(ws, str(shared_data / PAGE), "http://4yjes6zfucnh7vcj.onion/", "2019-09-11")
    capsys.readouterr()
    assert main(["extract", "-w", str(ws), "--processes", "1"]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "skipped template:" in out
    assert "broken.toml" in out
    assert "overrides built-in drugmarket.toml" in out
    assert "extracted 1 of 1 new captures" in out
    con = duckdb.connect(str(ws / "store.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT listing_ref, title FROM listings").fetchall() == [
            ("2160", "1G of PURE UNCUT PERUVIAN COCAINE")  # the id from its add-to-cart link
        ]
        assert con.execute("SELECT template, version FROM extracted_captures").fetchall() == [
            ("drugmarket", 7)
        ]
    finally:
        con.close()
    # a folder given with --templates comes after the workspace's: its version wins
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "dm.toml").write_text(DRUGMARKET_V7.replace("version = 7", "version = 8"), "utf-8")
    assert main(["extract", "-w", str(ws), "--templates", str(extra)]) == 0
    con = duckdb.connect(str(ws / "store.duckdb"), read_only=True)
    try:
        versions = con.execute("SELECT version FROM extracted_captures ORDER BY 1").fetchall()
    finally:
        con.close()
    assert versions == [(7,), (8,)]
    with pytest.raises(InputError, match="no such folder of templates"):
        load_templates(ws, [tmp_path / "missing"])


def test_template_list_shows_where_each_comes_from(ws, capsys):
    (ws / "templates" / "drugmarket.toml").write_text(DRUGMARKET_V7, encoding="utf-8")
    assert main(["template", "list", "-w", str(ws), "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == {"bots", "drugmarket", "escrow", "forum", "hydra", "walletless"}
    assert rows["drugmarket"]["version"] == 7
    assert rows["drugmarket"]["source"] == f"workspace {ws / 'templates' / 'drugmarket.toml'}"
    assert rows["drugmarket"]["overrides"]
    assert rows["escrow"]["source"] == "built-in escrow.toml"
    assert rows["escrow"]["kinds"] == ["listing", "vendor", "feedback", "listing_index"]
    (ws / "templates" / "broken.toml").write_text(BAD, encoding="utf-8")
    assert main(["template", "list", "-w", str(ws)]) == 2
    captured = capsys.readouterr()
    assert "walletless" in captured.out  # the others are listed
    assert "skipped:" in captured.out
    assert "broken.toml" in captured.out
    assert captured.err.startswith("error: a template did not load:")
    assert "broken.toml" in captured.err
    assert "bad CSS selector" in captured.err


def test_template_test_shows_fields_records_and_errors(ws, shared_data, capsys, tmp_path):
    page = str(shared_data / PAGE)
    assert main(["template", "test", "drugmarket", page, "--observed-at", "2019-09-11"]) == 0
    out = capsys.readouterr().out
    assert "kind     listing (recognised by its detect selector)" in out
    assert "vendor_rating          '95.4'  <- table.producttable span.username_rating" in out
    assert "feedback[9].rating     '4'  <- div.commenthead b  <b> text  raw '★ ★ ★ ★ ☆'" in out
    assert "# Records (12)" in out
    assert "# Errors (0)" in out
    # a template that reads the wrong element: the field says so, the page fails: exit 2
    wrong = tmp_path / "wrong.toml"
    moved = 'vendor = { css = "div.seller", required = true }\nx_old = "table'
    wrong.write_text(DRUGMARKET_V7.replace('vendor = "table', moved), encoding="utf-8")
    assert main(["template", "test", str(wrong), page, "--json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert captured.err.startswith(f"error: {page}: 1 error applying drugmarket@7: page: req")
    assert report["errors"] == ["page: required field 'vendor' not found (div.seller)"]
    assert report["records"] == []
    vendor = next(f for f in report["fields"] if f["name"] == "vendor")
    assert (vendor["value"], vendor["note"]) == (None, "not found")
    # a URL no page kind matches, for a template without detect: and why
    assert main(["template", "test", "escrow", page, "--url", "/somewhere/else"]) == 2
    assert "no page kind of escrow@5 matches" in capsys.readouterr().out
    # a template that does not load, or a page that does not exist: exit 2, one error line
    broken = tmp_path / "broken.toml"
    broken.write_text(BAD, encoding="utf-8")
    assert main(["template", "test", str(broken), page]) == 2
    assert capsys.readouterr().err.startswith(f"error: {broken}: page[1] (listing).fields")
    assert main(["template", "test", "drugmarkt", page]) == 2
    assert "did you mean 'drugmarket'?" in capsys.readouterr().err
    assert main(["template", "test", "drugmarket", str(tmp_path / "none.htm")]) == 2


def test_template_test_takes_the_url_from_the_option_or_the_saved_page(capsys, tmp_path):
    from tests.extract.make_golden import GOLDEN

    html = (GOLDEN / "escrow-listing.html").read_text(encoding="utf-8")
    saved = tmp_path / "page.html"
    saved.write_text(html, encoding="utf-8")
    assert main(["template", "test", "escrow", str(saved), "--json"]) == 2  # "/page.html"
    capsys.readouterr()
    frozen = json.loads((GOLDEN / "escrow-listing.json").read_text(encoding="utf-8"))
    path = frozen["path"]
    assert main(["template", "test", "escrow", str(saved), "--url", path, "--json"]) == 0
    by_path = json.loads(capsys.readouterr().out)
    url = f"http://x.onion{path}"
    assert main(["template", "test", "escrow", str(saved), "--url", url, "--json"]) == 0
    by_option = json.loads(capsys.readouterr().out)
    marked = f"<!-- saved from url=(0040){url} -->\n" + html
    saved.write_text(marked, encoding="utf-8")
    assert main(["template", "test", "escrow", str(saved), "--json"]) == 0
    by_mark = json.loads(capsys.readouterr().out)
    assert by_mark["page"]["url_from"] == "saved from url"
    assert by_mark["path"] == by_option["path"] == by_path["path"] == path
    assert by_mark["records"] == by_option["records"]
    # the listing's url is the page's, when the page's whole URL is known
    urls = [
        [r.get("url") for r in x["records"] if r["type"] == "Listing"] for x in (by_mark, by_path)
    ]
    assert urls == [[url], [None]]
    assert by_option["kind"] == "listing"
    assert by_option["matched_by"] == "url"


def test_a_page_no_template_claims_is_counted_until_one_does(ws, capsys):
    from tests.extract.make_golden import GOLDEN

    page = ws.parent / "saved.html"  # a listing page of the range, saved without its URL
    page.write_text((GOLDEN / "escrow-listing.html").read_text(encoding="utf-8"), "utf-8")
    _import(ws, str(page), "http://abcdefghijklmnop.onion/", "2023-01-30")
    capsys.readouterr()
    assert main(["extract", "-w", str(ws), "--processes", "1"]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "extracted 0 of 1 new captures into 0 records; 1 page no template covers;" in out
    assert "1 page of abcdefghijklmnop.onion: no template claims the market" in out
    # a workspace template that claims the host takes the page: recognised by its content,
    # it lacks the listing id its URL would have given, and that is the page's error
    escrow = GOLDEN.parents[2] / "src/spector/extract/templates/escrow.toml"
    url = "url = '^/listing/(?P<ref>[^/?]+)$'"
    claiming = (
        escrow.read_text(encoding="utf-8")
        .replace('family = "escrow"', 'family = "mirror"\nhosts = ["abcdefghijklmnop.onion"]')
        .replace(url, url + '\ndetect = "article.listing"')
    )
    (ws / "templates" / "mirror.toml").write_text(claiming, encoding="utf-8")
    assert main(["extract", "-w", str(ws), "--processes", "1"]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "extracted 0 of 1 new captures into 0 records; 0 pages no template covers; 1" in out
    con = duckdb.connect(str(ws / "store.duckdb"), read_only=True)
    try:
        ((reason,),) = con.execute("SELECT reason FROM extraction_errors").fetchall()
    finally:
        con.close()
    assert reason == "listing page without its listing id (ref)"


def test_template_test_shows_every_selector_of_a_concatenation(tmp_path, capsys):
    template = tmp_path / "shop.toml"
    template.write_text(
        """
[template]
family = "shop"
version = 1
[[page]]
kind = "listing"
url = '^/item/(?P<ref>\\d+)$'
[page.fields]
title = { concat = ["h1", "h2.sub", "p.missing", "span.size@title"], sep = " - " }
vendor = "a.seller"
""",
        encoding="utf-8",
    )
    page = tmp_path / "item.html"
    page.write_text(
        '<h1>Blue pills</h1><h2 class="sub">100 pcs</h2><span class="size" title="5 mg">'
        '</span><a class="seller">kilo</a>',
        encoding="utf-8",
    )
    argv = ["template", "test", str(template), str(page), "--url", "/item/7"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("title "))
    assert line == (
        "  title                  'Blue pills - 100 pcs - 5 mg'  <- h1  <h1> text 'Blue pills'"
        " + h2.sub  <h2 class=\"sub\"> text '100 pcs' + p.missing  not found"
        " + span.size@title  <span class=\"size\"> @title '5 mg'"
    )
    assert main([*argv, "--json"]) == 0
    (title,) = [f for f in json.loads(capsys.readouterr().out)["fields"] if f["name"] == "title"]
    assert title["selector"] == "h1 + h2.sub + p.missing + span.size@title"
    assert len(title["parts"]) == 4
