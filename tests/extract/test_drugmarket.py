"""The shipped Drugmarket template on the real saved page: every fact ../shared/data's
MANIFEST gives for markets/pages/drugmarket-product-2019-09-11.htm comes out exact, alone
(records_of) and through `spector import pages` and `spector extract`."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from spector.cli import main
from spector.extract._pages import records_of
from spector.extract._templates import template_for
from spector.model import Feedback, Listing, VendorAccount, category

PAGE = "markets/pages/drugmarket-product-2019-09-11.htm"
SHA256 = "34d91fbc7764211d82d3eff6bf59878e943bc0d0dcaec6eabf3d00ad4f298c61"
SAVED = datetime(2019, 9, 11, tzinfo=UTC)  # the page's save date: known to the day
SAVED_END = SAVED + timedelta(days=1)
HOUR, DAY, WEEK = timedelta(hours=1), timedelta(days=1), timedelta(weeks=1)
# The ten reviews as the page shows them: stars, how long ago, and the smallest unit shown
REVIEWS = [
    (5, "3 days, 12 hours", 3 * DAY + 12 * HOUR, HOUR),
    (5, "3 days, 17 hours", 3 * DAY + 17 * HOUR, HOUR),
    (5, "4 days, 23 hours", 4 * DAY + 23 * HOUR, HOUR),
    (5, "5 days, 22 hours", 5 * DAY + 22 * HOUR, HOUR),
    (5, "1 week", WEEK, WEEK),
    (5, "1 week", WEEK, WEEK),
    (5, "1 week, 2 days", WEEK + 2 * DAY, DAY),
    (5, "1 week, 3 days", WEEK + 3 * DAY, DAY),
    (4, "2 weeks", 2 * WEEK, WEEK),
    (5, "2 weeks, 1 day", 2 * WEEK + DAY, DAY),
]


@pytest.fixture(scope="module")
def page(shared_data):
    raw = (shared_data / PAGE).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHA256  # the file the MANIFEST describes
    return raw.decode("utf-8")


def _extract(html: str, seen_from: datetime, seen_until: datetime | None = None):
    template = template_for("drugmarket")
    result = template.apply("/drugmarket-product-2019-09-11.htm", html)
    assert result is not None
    assert result.kind == "listing"
    return records_of(result, template, "market-dm", "Drugmarket", seen_from, seen_until)


def test_every_fact_of_the_manifest_comes_out_exact(page):
    vendor, listing, *feedback = _extract(page, SAVED, SAVED_END)
    assert isinstance(vendor, VendorAccount)
    assert isinstance(listing, Listing)
    page_title = " ".join(re.search(r"<title>(.*?)</title>", page, re.S)[1].split())
    assert page_title == "1G of PURE UNCUT PERUVIAN COCAINE | Drugmarket"  # the MANIFEST's
    assert listing.title == "1G of PURE UNCUT PERUVIAN COCAINE"  # the product, no site name
    assert vendor.handle == "fredthebaker"
    assert vendor.rating == 95.4
    assert listing.vendor_id == vendor.id
    assert (listing.ships_from, listing.ships_to) == ("DE", ("WW",))
    assert listing.category == "drugs.stimulants"
    assert "cocaine" in category("drugs.stimulants").aliases
    assert (listing.price, listing.currency) == (Decimal("0.0060"), "BTC")
    assert listing.listing_ref == "1g_of_pure_uncut_peruvian_cocaine"  # its URL's slug
    assert len(feedback) == 10
    assert all(isinstance(f, Feedback) and f.listing_id == listing.id for f in feedback)
    for f, (stars, shown, ago, unit) in zip(feedback, REVIEWS, strict=True):
        assert f.rating == stars, shown
        # "3 days, 12 hours" before a page saved some time on 2019-09-11: left between
        # 3 d 13 h before that day began and 3 d 12 h before it ended
        assert (f.left_after, f.left_before) == (SAVED - ago - unit, SAVED_END - ago), shown
    assert feedback[0].text == (
        "took longer than expected but all in all ok. good stuff and stealth delivery. Thankxx"
    )


def test_feedback_ids_are_stable_across_extractions_at_different_times(page):
    first = [r for r in _extract(page, SAVED, SAVED_END) if isinstance(r, Feedback)]
    later = [r for r in _extract(page, SAVED + 9 * DAY) if isinstance(r, Feedback)]
    assert [f.id for f in first] == [f.id for f in later]
    assert len({f.id for f in first}) == 10  # two "1 week" reviews are still two
    assert all(a.left_after != b.left_after for a, b in zip(first, later, strict=True))


def _import_and_extract(ws, shared_data, *options: str) -> None:
    assert main(["import", "pages", str(shared_data / PAGE), "-w", str(ws), *options]) == 0
    assert main(["extract", "-w", str(ws), "--processes", "1"]) == 0


def _stored(ws):
    con = duckdb.connect(str(ws / "store.duckdb"), read_only=True)
    try:
        return {
            "markets": con.execute("SELECT name, family, onions FROM markets").fetchall(),
            "market_rows": con.execute(
                "SELECT id, name, ref, status, onions, first_seen, last_seen FROM markets"
            ).fetchall(),
            "listing": con.execute(
                "SELECT listing_ref, title, price, currency, ships_from, ships_to, category "
                "FROM listings"
            ).fetchall(),
            "url": con.execute("SELECT url FROM listings").fetchall(),
            "vendor": con.execute("SELECT handle, rating FROM vendor_accounts").fetchall(),
            "feedback": con.execute(
                "SELECT rating, left_after, left_before FROM feedback ORDER BY left_before DESC"
            ).fetchall(),
            "extracted": con.execute("SELECT template, version FROM extracted_captures").fetchall(),
            "errors": con.execute("SELECT reason FROM extraction_errors").fetchall(),
        }
    finally:
        con.close()


def _check_store(stored, url: str) -> None:
    assert stored["errors"] == []
    assert stored["url"] == [(url,)]  # the page's URL, as imported
    assert stored["listing"] == [
        (
            "1g_of_pure_uncut_peruvian_cocaine",
            "1G of PURE UNCUT PERUVIAN COCAINE",
            Decimal("0.006"),
            "BTC",
            "DE",
            ["WW"],
            "drugs.stimulants",
        )
    ]
    assert stored["vendor"] == [("fredthebaker", 95.4)]
    naive = [
        (
            float(s),
            (SAVED - ago - unit).replace(tzinfo=None),
            (SAVED_END - ago).replace(tzinfo=None),
        )
        for s, _, ago, unit in REVIEWS
    ]
    assert stored["feedback"] == sorted(naive, key=lambda r: r[2], reverse=True)
    assert stored["extracted"] == [("drugmarket", 2)]


def test_an_imported_page_of_its_onion_is_claimed_by_its_host(tmp_path, shared_data):
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    argv = ["import", "pages", str(shared_data / PAGE), "-w", str(ws), "--observed-at"]
    argv += ["2019-09-11", "--market", "Drugs & Medicine"]
    assert main([*argv, "--url-prefix", "http://4yjes6zfucnh7vcj.onion/"]) == 0
    imported = _stored(ws)
    assert imported["markets"] == [("Drugs & Medicine", None, ["4yjes6zfucnh7vcj.onion"])]
    assert main(["extract", "-w", str(ws), "--processes", "1"]) == 0
    stored = _stored(ws)
    # the market keeps the family that claimed it, and stays the market it was
    assert stored["markets"] == [("Drugs & Medicine", "drugmarket", ["4yjes6zfucnh7vcj.onion"])]
    assert stored["market_rows"] == imported["market_rows"]
    _check_store(stored, "http://4yjes6zfucnh7vcj.onion/drugmarket-product-2019-09-11.htm")
    before = _stored(ws)
    assert main(["extract", "-w", str(ws)]) == 0  # again: nothing new, nothing changed
    assert _stored(ws) == before


def test_a_store_extracted_by_the_version_without_urls_is_re_extracted(tmp_path, shared_data):
    """drugmarket@1 stored no Listing.url: a store it extracted gets the url from the
    shipped version, which is newer, on the next `spector extract`."""
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    url = "http://4yjes6zfucnh7vcj.onion/saved/drugmarket-product-2019-09-11.htm"
    _import_and_extract(ws, shared_data, "--url-prefix", url.rsplit("/", 1)[0] + "/")
    con = duckdb.connect(str(ws / "store.duckdb"))
    try:  # as drugmarket@1 left it
        con.execute("UPDATE listings SET url = NULL")
        con.execute("UPDATE extracted_captures SET version = 1")
    finally:
        con.close()
    assert main(["extract", "-w", str(ws), "--processes", "1"]) == 0
    stored = _stored(ws)
    assert stored["url"] == [(url,)]
    assert sorted(stored["extracted"]) == [("drugmarket", 1), ("drugmarket", 2)]


def test_a_page_of_an_unknown_mirror_is_claimed_by_its_title(tmp_path, shared_data):
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    _import_and_extract(
        ws,
        shared_data,
        "--url-prefix",
        "http://abcdefghijklmnop.onion/saved/",
        "--observed-at",
        "2019-09-11",
    )
    stored = _stored(ws)
    assert stored["markets"] == [
        ("abcdefghijklmnop.onion", "drugmarket", ["abcdefghijklmnop.onion"])
    ]
    _check_store(stored, "http://abcdefghijklmnop.onion/saved/drugmarket-product-2019-09-11.htm")


def test_import_with_the_template_sets_the_family(tmp_path, shared_data, capsys):
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    _import_and_extract(
        ws,
        shared_data,
        "--market",
        "DM",
        "--template",
        "drugmarket",
        "--url-prefix",
        "http://qrstuvwxyzabcdef.onion/",
        "--observed-at",
        "2019-09-11",
    )
    stored = _stored(ws)
    assert stored["markets"] == [("DM", "drugmarket", ["qrstuvwxyzabcdef.onion"])]
    _check_store(stored, "http://qrstuvwxyzabcdef.onion/drugmarket-product-2019-09-11.htm")
    capsys.readouterr()
    assert main(["template", "test", "drugmarket", str(shared_data / PAGE), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "listing"
    assert report["matched_by"] == "detect"
    assert report["errors"] == []
    fields = {f["name"]: f for f in report["fields"] if f["scope"] == "page"}
    assert fields["vendor_rating"]["value"] == "95.4"
    assert fields["vendor_rating"]["node"] == '<span class="username_rating">'
    assert fields["price"]["value"] == "฿0.0060"
    assert [r["type"] for r in report["records"]] == ["VendorAccount", "Listing"] + [
        "Feedback"
    ] * 10
