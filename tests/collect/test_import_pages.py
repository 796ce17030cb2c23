"""`spector import pages` on saved pages and mirror folders: the real saved Drugmarket
page, wget's and HTTrack's layouts built by hand, browsers' saved pages; markets known
by their onions or by a name; every bad input a one-line error that stores nothing."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

from spector.cli import main
from spector.collect import read_stored
from spector.collect._import import ImportOptions, import_pages
from spector.errors import InputError, UsageError
from spector.model import Market, onion_address_from_key
from spector.store import Workspace

DRUGMARKET_SHA256 = "34d91fbc7764211d82d3eff6bf59878e943bc0d0dcaec6eabf3d00ad4f298c61"
V2_A = "dreamxyzabcdefgh.onion"
V3_A = onion_address_from_key(hashlib.sha256(b"clone a").digest())
V3_B = onion_address_from_key(hashlib.sha256(b"clone b").digest())


def _captures(ws_root: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["captures", "list", "--json", "-w", str(ws_root)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _page(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!DOCTYPE html><html><body>{text}</body></html>", "utf-8")
    return path


def test_the_saved_drugmarket_page(shared_data, ws_root, capsys):
    page = shared_data / "markets" / "pages" / "drugmarket-product-2019-09-11.htm"
    argv = ["import", "pages", str(page), "--market", "Drugmarket"]
    argv += ["--url-prefix", "http://4yjes6zfucnh7vcj.onion/", "--observed-at", "2019-09-11"]
    assert main([*argv, "-w", str(ws_root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("imported 1 page from 1 file;")
    assert "4yjes6zfucnh7vcj.onion (v2, historical)" in out
    (row,) = _captures(ws_root, capsys)
    assert row["sha256"] == row["source_sha256"] == DRUGMARKET_SHA256  # the MANIFEST's
    assert row["url"] == "http://4yjes6zfucnh7vcj.onion/drugmarket-product-2019-09-11.htm"
    assert row["host"] == "4yjes6zfucnh7vcj.onion"
    assert row["historical"] is True
    assert (row["time_basis"], row["fetched_at"]) == ("observed-at", "2019-09-11T00:00:00Z")
    assert (row["status"], row["record_type"], row["site"]) == (200, "response", "Drugmarket")
    assert row["source_file"] == str(page.resolve())
    assert row["source"] == f"import:{page.resolve()}"
    assert row["content_type"] == "text/html"  # the page declares its charset itself
    with Workspace.open(ws_root) as ws:
        assert read_stored(ws.root / row["warc_file"], row["warc_offset"]).body == page.read_bytes()
        markets = ws.store.con.execute("SELECT id, name, onions, ref FROM markets").fetchall()
    ref = "onion:4yjes6zfucnh7vcj.onion"
    assert markets == [(Market(name="Drugmarket", ref=ref).id, "Drugmarket", [ref[6:]], ref)]
    assert main([*argv, "-w", str(ws_root)]) == 0  # again: nothing new
    assert capsys.readouterr().out.startswith("imported 0 pages from 1 file; 1 already imported")
    assert len(_captures(ws_root, capsys)) == 1


def test_the_imported_page_extracts_with_its_template(shared_data, ws_root, capsys):
    """`spector extract` reads an imported page as a crawled one: the shipped template,
    and "3 days, 12 hours" counted back from the time the page was observed."""
    page = shared_data / "markets" / "pages" / "drugmarket-product-2019-09-11.htm"
    argv = ["import", "pages", str(page), "--market", "Drugmarket", "--template", "drugmarket"]
    argv += ["--url-prefix", "http://4yjes6zfucnh7vcj.onion/", "--observed-at", "2019-09-11"]
    assert main([*argv, "-w", str(ws_root)]) == 0
    assert main(["extract", "-w", str(ws_root)]) == 0
    with Workspace.open(ws_root) as ws:
        con = ws.store.con
        market = Market(name="Drugmarket", ref="onion:4yjes6zfucnh7vcj.onion").id
        listing = con.execute("SELECT market_id, title, currency FROM listings").fetchall()
        left = con.execute("SELECT max(left_before) FROM feedback").fetchone()[0]
        errors = con.execute("SELECT count(*) FROM extraction_errors").fetchone()[0]
    assert listing == [(market, "1G of PURE UNCUT PERUVIAN COCAINE", "BTC")]
    assert str(left) <= "2019-09-11 00:00:00"  # before it was seen, not before today
    assert errors == 0


def test_wget_file_names_become_the_urls_they_were(tmp_path, workspace):
    site = tmp_path / "dnm" / "2014-01-01" / V2_A  # the archives' layout: date / host / path
    _page(site / "index.html", '<a href="/listing/7">7</a> <a href="about.html">about</a>')
    _page(site / "listing" / "7.html", "seven")  # --adjust-extension of /listing/7
    _page(site / "about.html", "about")  # linked as about.html: it is about.html
    _page(site / "board" / "index.html", "a directory URL")
    _page(site / "item.php@id=3.html", "restrict-file-names=windows")
    _page(site / "search.php%3Fq=x&p=2.html", "an escaped query")
    _page(site / "view?id=9", "a query kept as it is, no suffix")
    _page(site / "page.html.orig", "as served")  # wget -K: the original ...
    _page(site / "page.html", "links converted")  # ... and the converted copy
    (site / "gz.html.gz").write_bytes(gzip.compress(b"<html><body>gzip'd</body></html>"))
    (site / "style.css").write_text("body{}")
    (site / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    report = import_pages(workspace, [tmp_path / "dnm"], ImportOptions(market="Dream"))
    rows = dict(workspace.store.con.execute("SELECT url, source_file FROM captures").fetchall())
    base = f"http://{V2_A}/"
    assert set(rows) == {
        base,
        base + "listing/7",
        base + "about.html",
        base + "board/",
        base + "item.php?id=3",
        base + "search.php?q=x&p=2",
        base + "view?id=9",
        base + "page.html",
        base + "gz.html",
    }
    assert rows[base + "page.html"].endswith("page.html.orig")
    assert report.skipped == {
        "link-converted copies of X.orig": 1,
        "not pages": 1,
        "media (never stored)": 1,
    }
    assert report.time_basis == {"file-mtime": 9}


def test_httrack_comments_and_saved_from_comments_give_the_url(tmp_path, workspace):
    folder = tmp_path / "saved"
    (folder / "x").mkdir(parents=True)
    (folder / "x" / "vendor8803.html").write_text(
        "<html>\n<!-- Mirrored from dreamxyzabcdefgh.onion/vendor?id=7 by HTTrack Website "
        "Copier/3.x [XR&CO'2014], Tue, 01 Dec 2015 09:22:21 GMT -->\n<body>v</body></html>"
    )
    (folder / "listing.htm").write_text(
        "<!DOCTYPE html>\n<!-- saved from url=(0038)http://dreamxyzabcdefgh.onion/listing/4 -->"
        "\n<html><body>l</body></html>"
    )
    import_pages(workspace, [folder], ImportOptions())
    urls = {u for (u,) in workspace.store.con.execute("SELECT url FROM captures").fetchall()}
    assert urls == {f"http://{V2_A}/vendor?id=7", f"http://{V2_A}/listing/4"}


def test_a_mtime_is_the_time_and_a_copy_is_the_same_page(tmp_path, workspace):
    site = tmp_path / "a" / V2_A
    page = _page(site / "index.html", "home")
    os.utime(page, ns=(1_400_000_000_123_456_789, 1_400_000_000_123_456_789))
    import_pages(workspace, [tmp_path / "a"], ImportOptions())
    ((fetched, basis),) = workspace.store.con.execute(
        "SELECT fetched_at, time_basis FROM captures"
    ).fetchall()
    assert (str(fetched), basis) == ("2014-05-13 16:53:20.123456", "file-mtime")
    os.utime(page, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))  # cp, touch
    again = import_pages(workspace, [tmp_path / "a"], ImportOptions())
    assert (again.imported, again.already) == (0, 1)


def _market_rows(ws: Workspace) -> list[tuple]:
    return ws.store.con.execute("SELECT id, name, onions FROM markets ORDER BY name, id").fetchall()


def test_two_clone_markets_of_one_name_stay_two(tmp_path, workspace):
    _page(tmp_path / "a" / V3_A / "index.html", "clone a")
    _page(tmp_path / "b" / V3_B / "index.html", "clone b")
    import_pages(workspace, [tmp_path / "a"], ImportOptions(market="Dream"))
    import_pages(workspace, [tmp_path / "b"], ImportOptions(market="Dream"))
    rows = _market_rows(workspace)
    assert sorted(r[2] for r in rows) == sorted([[V3_A], [V3_B]])
    assert {r[1] for r in rows} == {"Dream"}
    assert len({r[0] for r in rows}) == 2
    sites = workspace.store.con.execute("SELECT DISTINCT host, site FROM captures").fetchall()
    assert sorted(sites) == sorted([(V3_A, "Dream"), (V3_B, "Dream")])


def test_one_markets_mirrors_stay_one(tmp_path, workspace):
    _page(tmp_path / "mirrors" / V3_A / "index.html", "main")
    _page(tmp_path / "mirrors" / V3_B / "index.html", "mirror")
    import_pages(workspace, [tmp_path / "mirrors"], ImportOptions(market="Dream", template="x"))
    (row,) = _market_rows(workspace)
    assert row[1:] == ("Dream", sorted([V3_A, V3_B]))
    # later pages of one mirror, imported without a name, are that market's
    _page(tmp_path / "later" / V3_B / "listing" / "index.html", "later")
    report = import_pages(workspace, [tmp_path / "later"], ImportOptions())
    assert [m.id for m in report.markets] == [row[0]]
    assert _market_rows(workspace) == [row]
    family = workspace.store.con.execute("SELECT family FROM markets").fetchone()[0]
    assert family == "x"  # an import without --template keeps the market's template


def test_without_a_name_each_host_is_its_own_market(tmp_path, workspace):
    _page(tmp_path / "m" / V3_A / "index.html", "a")
    _page(tmp_path / "m" / V2_A / "index.html", "b")
    report = import_pages(workspace, [tmp_path / "m"], ImportOptions())
    assert sorted((m.name, m.onions, m.historical_onions) for m in report.markets) == sorted(
        [(V3_A, (V3_A,), ()), (V2_A, (V2_A,), (V2_A,))]
    )


# -- bad input: one line, exit 2, nothing stored is lost ------------------------------------
@pytest.fixture
def stocked(tmp_path, ws_root, capsys):
    """A workspace that already holds an import (which a bad import must leave alone)."""
    _page(tmp_path / "first" / V2_A / "index.html", "first")
    assert main(["import", "pages", str(tmp_path / "first"), "-w", str(ws_root)]) == 0
    capsys.readouterr()
    return ws_root


def _state(ws_root: Path) -> tuple:
    with Workspace.open(ws_root) as ws:
        counts = ws.store.counts()
        rows = ws.store.con.execute("SELECT * FROM captures ORDER BY id").fetchall()
    sizes = {p.name: p.stat().st_size for p in (ws_root / "warc").iterdir()}
    return counts, rows, sizes


def _fails(ws_root: Path, capsys, *argv: str) -> str:
    before = _state(ws_root)
    assert main(["import", "pages", *argv, "-w", str(ws_root)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ")
    assert _state(ws_root) == before
    return err


def test_bad_inputs_are_one_line_errors(tmp_path, stocked, capsys):
    missing = tmp_path / "nope.html"
    assert f"{missing}: no such file or folder" in _fails(stocked, capsys, str(missing))
    picture = tmp_path / "photo.html"
    picture.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))
    err = _fails(stocked, capsys, str(picture))
    assert f"{picture}: not a page or a WARC file: an image or other media" in err
    assert "expected a saved HTML page, or a WARC / WARC.gz file" in err
    text = tmp_path / "notes.txt"
    text.write_text("just some notes")
    assert "neither HTML nor a WARC file" in _fails(stocked, capsys, str(text))
    empty = tmp_path / "empty"
    (empty / "css").mkdir(parents=True)
    (empty / "css" / "a.css").write_text("body{}")
    assert f"{empty}: nothing to import in this folder" in _fails(stocked, capsys, str(empty))
    lost = _page(tmp_path / "loose" / "page.html", "where from?")
    err = _fails(stocked, capsys, str(tmp_path / "loose"))
    assert f"{lost}: cannot tell the URL of this page" in err
    assert "--url-prefix" in err
    bad_onion = _page(tmp_path / "b" / ("x" * 56 + ".onion") / "index.html", "?")
    err = _fails(stocked, capsys, str(tmp_path / "b"))
    assert f"{bad_onion}: its host folder is not a usable host" in err
    for date in ("11/09/2019", "yesterday", "2999-01-01"):
        err = _fails(
            stocked, capsys, str(lost), "--url-prefix", "http://a.com/", "--observed-at", date
        )
        assert f"--observed-at {date!r}" in err
        assert "ISO 8601" in err
    for prefix in ("ftp://x.onion/", "http://" + "a" * 56 + ".onion/"):
        assert f"--url-prefix {prefix!r}" in _fails(
            stocked, capsys, str(lost), "--url-prefix", prefix
        )


def test_an_unreadable_file_is_named(tmp_path, stocked, capsys, monkeypatch):
    page = _page(tmp_path / "s" / V2_A / "locked.html", "locked")
    page.chmod(0)
    if os.access(page, os.R_OK):  # root reads anything: make the read fail as it would
        real = Path.open

        def refuse(self, *args, **kwargs):
            if self == page.resolve():
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refuse)
    err = _fails(stocked, capsys, str(tmp_path / "s"))
    assert f"{page}: cannot read: Permission denied" in err
    capsys.readouterr()
    assert (
        main(["import", "pages", str(tmp_path / "s"), "--skip-bad", "--json", "-w", str(stocked)])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["imported"], report["bad"]) == (0, 1)


def test_observed_at_is_utc():
    from datetime import datetime

    from spector.collect._import import parse_observed_at

    now = datetime(2020, 1, 1)
    assert parse_observed_at("2019-09-11", now=now) == datetime(2019, 9, 11)
    assert parse_observed_at("2019-09-11T14:30:00+02:00", now=now) == datetime(2019, 9, 11, 12, 30)
    assert parse_observed_at("2019-09-11T14:30:00Z", now=now) == datetime(2019, 9, 11, 14, 30)
    with pytest.raises(UsageError, match="in the future"):
        parse_observed_at("2020-01-03", now=now)
    with pytest.raises(InputError, match="no such file"):
        import_pages(None, [Path("/nonexistent/x.html")])  # type: ignore[arg-type]


def test_a_bad_file_midway_keeps_the_pages_before_it(tmp_path, ws_root, capsys, monkeypatch):
    monkeypatch.setattr("spector.collect._import.MAX_PAGE_BYTES", 200)
    site = tmp_path / "m" / V2_A
    _page(site / "a.html", "a")
    _page(site / "b.html", "b" * 300)  # too large to be a page (with the bound lowered)
    _page(site / "c.html", "c")
    assert main(["import", "pages", str(tmp_path / "m"), "-w", str(ws_root)]) == 2
    err = capsys.readouterr().err
    assert f"error: {site / 'b.html'}: larger than" in err
    assert "what was imported before it stays stored (1)" in err
    assert [r["url"] for r in _captures(ws_root, capsys)] == [f"http://{V2_A}/a.html"]
    argv = ["import", "pages", str(tmp_path / "m"), "--skip-bad", "--json", "-w", str(ws_root)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["imported"], report["already_imported"], report["bad"]) == (1, 1, 1)
    assert report["bad_details"][0]["where"] == str(site / "b.html")


def test_gzipd_saved_pages_are_whole_and_bounded(tmp_path, workspace, monkeypatch):
    site = tmp_path / "g" / V2_A
    site.mkdir(parents=True)
    text = hashlib.sha256(b"seed").hexdigest().encode() * 40  # compresses, but not to nothing
    whole = gzip.compress(b"<html><body>" + bytes(reversed(text)) + text + b"</body></html>")
    (site / "cut.html.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="gzip'd page is cut short"):
        import_pages(workspace, [tmp_path / "g"], ImportOptions())
    (site / "cut.html.gz").unlink()
    (site / "big.html.gz").write_bytes(whole)
    monkeypatch.setattr("spector.collect._import.MAX_PAGE_BYTES", 1000)  # a bomb, in small
    with pytest.raises(InputError, match="larger than"):
        import_pages(workspace, [tmp_path / "g"], ImportOptions())
    assert workspace.store.counts()["captures"] == 0
