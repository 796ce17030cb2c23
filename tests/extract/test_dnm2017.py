"""The real 2017 scrape (../shared/data/markets/dnm-2017-sample) with the shipped mapping:
every fact its MANIFEST gives, and rows checked by hand against the raw bytes."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from spector.cli import main
from spector.extract._csv import import_files, load_mapping
from spector.extract._mapping import parse_mapping

SAMPLE = "markets/dnm-2017-sample"
EBOOKS = "Digital_products_-_ebooks_-_20170509.csv"
JEWELS = "Jewels_&_gold_-_20170509.csv"
# MANIFEST.md, section dnm-2017-sample: bytes, sha256, rows, rows with quantity > 0, sum
# of 'N sold' ("quantity" is the sold counter in the scrape's own R code).
MANIFEST = {
    EBOOKS: (
        230670,
        "c4a3ed19901af1476c128c16e30ded08a12aa92b10be9957b8ddd031c0331b38",
        519,
        518,
        11665,
    ),
    JEWELS: (
        223261,
        "bb5b945931535b6ba588c98ba6edd9b57b779bf3ac03aa8863d8e6acea2e3d74",
        578,
        235,
        1245,
    ),
}


MANIFEST_HEADER = (
    "category_link,subcategory_link,listing_title,listing_price,listing_vendor,listing_item,"
    "listing_link,subcategory_id,subcategory2_id,detail_name,detail_qty_sold,detail_price,"
    "pagination_link,category_id"
)


@pytest.fixture(scope="module")
def files(shared_data):
    paths = [shared_data / SAMPLE / EBOOKS, shared_data / SAMPLE / JEWELS]
    for path in paths:  # the files are the ones the MANIFEST describes
        size, sha, *_ = MANIFEST[path.name]
        data = path.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha)
    return paths


def _per_file(store):
    return {
        source.removeprefix("import:"): (n, sold, positive)
        for source, n, sold, positive in store.con.execute(
            "SELECT source, count(*), sum(sold_count), count(*) FILTER (WHERE sold_count > 0) "
            "FROM listings GROUP BY source"
        ).fetchall()
    }


def test_cli_imports_both_files_in_one_run_with_the_manifest_counts(files, tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    capsys.readouterr()
    args = ["import", "csv", *map(str, files), "--mapping", "dnm-2017", "-w", str(ws)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"imported 519 of 519 rows from {EBOOKS}" in out
    assert f"imported 578 of 578 rows from {JEWELS}" in out
    assert "imported 1,097 of 1,097 rows from 2 files" in out
    assert "11,665 sold (518 listings with sales)" in out
    assert "1,245 sold (235 listings with sales)" in out
    assert "mac-roman (mapping), observed 2017-05-09 (file name)" in out

    assert main([*args, "--json"]) == 0  # again: idempotent, one JSON report per file
    reports = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for report in reports:
        _, sha, rows, positive, sold = MANIFEST[report["file"]]
        assert (report["sha256"], report["rows"], report["imported"]) == (sha, rows, rows)
        assert (report["with_sales"], report["sold_total"], report["errors"]) == (positive, sold, 0)
        assert (report["line_end"], report["observed"]) == ("cr", ["2017-05-09"])


def test_the_store_holds_every_manifest_fact(files, workspace):
    reports = import_files(workspace.store, files, load_mapping("dnm-2017"))
    assert [r.rows for r in reports] == [519, 578]
    facts = {
        name: (rows, positive, sold) for name, (_, _, rows, positive, sold) in MANIFEST.items()
    }
    assert _per_file(workspace.store) == {
        name: (rows, sold, positive) for name, (rows, positive, sold) in facts.items()
    }
    con = workspace.store.con
    assert con.execute("SELECT name, ref FROM markets").fetchall() == [
        ("AlphaBay", "name:AlphaBay")
    ]
    days = con.execute("SELECT DISTINCT first_seen, last_seen FROM listings").fetchall()
    assert days == [(datetime(2017, 5, 9), datetime(2017, 5, 9))]  # from the file name only
    assert con.execute("SELECT count(*) FROM listings WHERE price IS NULL").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM extraction_errors").fetchone() == (0,)
    categories = dict(con.execute("SELECT category, count(*) FROM listings GROUP BY 1").fetchall())
    assert categories == {
        "digital": 513,  # Digital Products / E-Books
        "other": 578,  # Jewels & Gold / Gold, Silver, Other
        "drugs.stimulants": 1,  # listings found under E-Books whose own page says otherwise
        "drugs.opioids": 1,
        "drugs.cannabis": 1,
        "fraud.accounts": 1,
        "fraud.cards": 1,
        "services": 1,
    }
    counts = workspace.store.counts()
    import_files(workspace.store, files, load_mapping("dnm-2017"))
    assert workspace.store.counts() == counts  # idempotent


# Rows decoded by hand from the raw bytes with Python's mac_roman codec (record = bytes
# between CRs): (file, vendor, title, price, currency, price_usd, sold, since, stock,
# category, vendor level).
HAND_CHECKED = [
    # record 2: "...Withdraw,"Buy price\nUSD 1.99\n\n(0.0013 BTC)",DigitalDealer,null,...
    # "Sold by DigitalDealer -\n36 sold since Mar 14, 2016\x8c\xe6\x8c\xe6Vendor Level 1..."
    (EBOOKS, "DigitalDealer", "Hack Any ATM and Get More Money than You Withdraw",
     "0.0013", "BTC", "1.99", 36, datetime(2016, 3, 14), None, "digital",
     "Vendor Level 1, Trust Level 5"),
    # record 24: listing_price "null"; detail_price "Purchase price: USD 598.99"; its own
    # path Fraud / Accounts & Bank Drops / Bank Drops
    (EBOOKS, "alexander76",
     "Heisenberg ACADEMY --> Make $15K -$40 K per month -->VIDEO TUTORIALS -->Step by Step+ "
     "Mentoring+ FULL Setup Support",
     "598.99", "USD", "598.99", 29, datetime(2017, 2, 17), None, "fraud.accounts",
     "Vendor Level 5, Trust Level 6"),
    # record 3: b"14K White Gold Man\xe4\xf3\xbbs Ring..." -> "Man‰Ûªs" (mojibake already in
    # the text); "USD 1,500.00\n\n(0.9274 BTC)"; "Quantity left: 1"; "0 sold since Nov 17, 2015"
    (JEWELS, "ClearSky2",
     "14K White Gold Man‰Ûªs Ring, Rolex Style with Sapphires and Diamonds, APP2ct TW",
     "0.9274", "BTC", "1500.00", 0, datetime(2015, 11, 17), 1, "other",
     "Vendor Level 1, Trust Level 3"),
    # record 2: b"Hublot AERO BANG BAB 44MM\xdc\xf3\x90Replica\xdc\xf3\xef", USD 129.00 (0.0800 BTC)
    (JEWELS, "sexyhomer999", "Hublot AERO BANG BAB 44MM‹ÛêReplica‹ÛÔ",
     "0.0800", "BTC", "129.00", 0, datetime(2017, 4, 19), None, "other",
     "Vendor Level 2, Trust Level 5"),
]  # fmt: skip


def test_rows_checked_by_hand_against_the_raw_bytes(files, workspace):
    raw = files[1].read_bytes().split(b"\r")[2]  # the bytes the third row above was read from
    assert b"Man\xe4\xf3\xbbs Ring" in raw
    assert b"Man\xe4\xf3\xbbs Ring".decode("mac_roman") == "Man‰Ûªs Ring"
    import_files(workspace.store, files, load_mapping("dnm-2017"))
    con = workspace.store.con
    for name, vendor, title, price, cur, usd, sold, since, stock, code, level in HAND_CHECKED:
        rows = con.execute(
            "SELECT l.price, l.currency, l.price_usd, l.sold_count, l.sold_since, l.stock, "
            "l.category, v.level, l.listing_ref FROM listings l JOIN vendor_accounts v "
            "ON v.id = l.vendor_id WHERE v.handle = ? AND l.title = ? AND l.source = ?",
            [vendor, title, f"import:{name}"],
        ).fetchall()
        assert len(rows) == 1, (vendor, title)
        got = rows[0]
        assert got[:8] == (Decimal(price), cur, Decimal(usd), sold, since, stock, code, level)
        assert got[8] == f"{vendor} | {title} | {since:%b} {since.day}, {since.year}"


def test_listings_alike_are_numbered_not_merged(files, workspace):
    # one vendor lists "Breitling with LEATHER STRAP [Replica]" 22 times (different prices,
    # views and counters); rows alike in vendor, title and listing day are numbered
    import_files(workspace.store, files[1:], load_mapping("dnm-2017"))
    refs = [
        r[0]
        for r in workspace.store.con.execute(
            "SELECT listing_ref FROM listings WHERE title = "
            "'Breitling with LEATHER STRAP [Replica]' ORDER BY listing_ref"
        ).fetchall()
    ]
    assert len(refs) == 22
    assert len(set(refs)) == 22
    assert "Biggye | Breitling with LEATHER STRAP [Replica] | Dec 23, 2016 #2" in refs


def test_the_encoding_is_found_without_the_mapping_saying_it(files, workspace):
    raw = load_mapping("dnm-2017").model_dump(exclude_defaults=True, exclude_none=True)
    raw["source"].pop("encoding")
    raw["csv"] = {"line_end": "cr"}  # and records split at CR alone, LF kept as text
    mapping = parse_mapping(raw, "dnm-2017 without encoding")
    reports = import_files(workspace.store, files, mapping)
    # Mac OS Roman, cross-checked: bytes cp1252 does not have (0x9D, 0x90) rule it out
    assert [(r.encoding, r.encoding_basis, r.encoding_note) for r in reports] == [
        ("mac-roman", "records end in CR alone (Excel for Mac); not cp1252 (byte 0x9D)", None),
        ("mac-roman", "records end in CR alone (Excel for Mac); not cp1252 (byte 0x90)", None),
    ]
    assert [r.imported for r in reports] == [519, 578]
    assert _per_file(workspace.store) == {EBOOKS: (519, 11665, 518), JEWELS: (578, 1245, 235)}


@pytest.mark.parametrize(
    ("name", "category", "date"),
    [  # the four ways the repository's 69 file names are written
        ("Jewels_&_gold_-_20170509.csv", "other", "2017-05-09"),
        ("D&C_-_benzos_-_other_-_20170420.csv", "drugs", "2017-04-20"),
        ("Carded items - 20170510.csv", "fraud", "2017-05-10"),
        ("Ditigal products - game keys - 20170507.csv", "digital", "2017-05-07"),
    ],
)
def test_the_file_names_give_the_day_and_the_category(tmp_path, workspace, name, category, date):
    path = tmp_path / name
    header = MANIFEST_HEADER.replace(",category_id", "")  # the category only in the name
    path.write_bytes(
        f"{header}\rnull,null,A title,USD 5.00 (0.0031 BTC),ann,null,A title,,,,"
        '"Sold by ann - 3 sold since Mar 1, 2017",USD 5.00,1\r'.encode("mac_roman")
    )
    raw = load_mapping("dnm-2017").model_dump(exclude_defaults=True, exclude_none=True)
    raw["listing"]["category"] = [{"column": "category_link", "fallback": {"file": "category"}}]
    (report,) = import_files(workspace.store, [path], parse_mapping(raw, "dnm-2017, no column"))
    assert (report.imported, sorted(report.observed)) == (1, [date]), report.first_error
    assert workspace.store.con.execute("SELECT category FROM listings").fetchall() == [(category,)]


def test_the_market_can_be_named_at_import(files, tmp_path, capsys):
    ws = tmp_path / "ws"
    main(["init", str(ws)])
    args = ["import", "csv", str(files[0]), "--mapping", "dnm-2017", "--market", "DNM 2017"]
    assert main([*args, "-w", str(ws)]) == 0
    capsys.readouterr()
    assert main(["status", "-w", str(ws)]) == 0
    from spector.store import Workspace

    with Workspace.open(ws) as opened:
        assert opened.store.con.execute("SELECT name FROM markets").fetchall() == [("DNM 2017",)]


def test_sold_counters_are_exported_to_parquet(files, tmp_path, capsys):
    ws = tmp_path / "ws"
    main(["init", str(ws)])
    assert main(["import", "csv", *map(str, files), "--mapping", "dnm-2017", "-w", str(ws)]) == 0
    assert main(["export", "parquet", str(tmp_path / "out"), "-w", str(ws)]) == 0
    table = pq.read_table(tmp_path / "out" / "listings.parquet")
    sold = [c for c in table.column_names if "sold" in c]
    assert sold == ["sold_count", "sold_since"]
    counts = table.column("sold_count").to_pylist()
    assert (sum(counts), sum(1 for c in counts if c > 0)) == (11665 + 1245, 518 + 235)
