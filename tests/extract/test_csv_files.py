"""Dump files as they come: encodings, dialects and line ends, values from the file name,
composite keys, regexes, counters, aliases, prices with text around them; and every bad
input a clear error with nothing lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from spector.cli import main
from spector.errors import InputError
from spector.extract._csv import import_csv, import_files, import_jsonl
from spector.extract._mapping import parse_mapping
from spector.store import Store

NOW = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)


def _mapping(source=None, listing=None, csv=None):
    raw = {
        "source": {"market": "Test", **(source or {})},
        "listing": {"ref": "id", "vendor": "seller", "title": "name", **(listing or {})},
    }
    if csv is not None:
        raw["csv"] = csv
    return parse_mapping(raw, "test mapping")


def _listings(store, *columns):
    cols = ", ".join(columns)
    return store.con.execute(f"SELECT listing_ref, {cols} FROM listings ORDER BY 1").fetchall()


# -- encodings -------------------------------------------------------------------------
TEXT = "id,seller,name\n1,müller,Café crème 5€\n2,łukasz,Żubrówka\n"


@pytest.mark.parametrize(
    ("data", "encoding", "basis"),
    [
        (TEXT.encode("utf-8"), "utf-8", "valid UTF-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig", "byte order mark"),
        (TEXT.encode("utf-16"), "utf-16", "byte order mark"),
        (TEXT.replace("\n", "\r").encode("mac_roman", "replace"), "mac-roman", "records end"),
    ],
)
def test_the_encoding_is_found_and_reported(tmp_path, workspace, data, encoding, basis):
    path = tmp_path / "dump.csv"
    path.write_bytes(data)
    report = import_csv(workspace.store, path, _mapping(), now=NOW)
    assert (report.encoding, report.imported) == (encoding, 2)
    assert report.encoding_basis.startswith(basis)
    names = dict(workspace.store.con.execute("SELECT listing_ref, title FROM listings").fetchall())
    assert names["1"] == "Café crème 5€"  # Mac OS Roman has € (0xDB) too
    handles = workspace.store.con.execute("SELECT handle FROM vendor_accounts").fetchall()
    assert ("müller",) in handles


def test_charset_normalizer_decides_when_nothing_else_does(tmp_path, workspace):
    text = "id,seller,name\n" + "".join(
        f'{i},vendeur{i},"Très belle qualité, livraison rapide à Genève n°{i}"\n' for i in range(40)
    )
    path = tmp_path / "latin.csv"
    path.write_bytes(text.encode("cp1252"))  # LF line ends, not UTF-8
    report = import_csv(workspace.store, path, _mapping(), now=NOW)
    assert report.encoding_basis == "charset-normalizer"
    assert "é".encode("cp1252").decode(report.encoding) == "é"
    (title,) = workspace.store.con.execute(
        "SELECT title FROM listings WHERE listing_ref = '3'"
    ).fetchall()
    assert title == ("Très belle qualité, livraison rapide à Genève n°3",)


def test_a_wrong_encoding_given_names_file_line_byte_and_the_likely_one(
    shared_data, tmp_path, workspace
):
    path = shared_data / "markets/dnm-2017-sample/Jewels_&_gold_-_20170509.csv"
    mapping = _mapping(
        source={"encoding": "utf-8"},
        listing={"ref": "listing_title", "vendor": "listing_vendor", "title": "listing_title"},
    )
    before = workspace.store.counts()
    with pytest.raises(InputError) as caught:
        import_csv(workspace.store, path, mapping)
    message = str(caught.value)
    # record 2 (line 2: the file's lines end in CR) holds the first byte that is not UTF-8:
    # b"...BAB 44MM\xdc\xf3\x90Replica", 46 bytes after the 199-byte header and its CR
    assert message.startswith(f"{path}:2: byte 0xDC at offset 245 (line 2) is not utf-8")
    assert "expected text in utf-8, as the mapping's [source] encoding says" in message
    assert "the file reads as mac_roman" in message
    assert workspace.store.counts() == before  # nothing stored


# -- dialects and line ends ---------------------------------------------------------------
CR_FILE = (
    b'id,seller,name,notes\r1,ann,"two\nlines",x\r2,bob,plain,"a\r\nb"\r'
    b"3,cy,last,\nlf in an unquoted field"  # no terminator after the last record
)


@pytest.mark.parametrize(("line_end", "rows"), [("auto", 4), ("cr", 3)])
def test_cr_only_files_with_lf_inside_quoted_fields(tmp_path, workspace, line_end, rows):
    path = tmp_path / "mac.csv"
    path.write_bytes(CR_FILE)
    mapping = _mapping(
        source={"encoding": "mac_roman"},
        listing={"url": "notes"},
        csv={"line_end": line_end},
    )
    report = import_csv(workspace.store, path, mapping, now=NOW)
    assert (report.line_end, report.rows) == ("cr", rows)
    got = dict(workspace.store.con.execute("SELECT listing_ref, title FROM listings").fetchall())
    assert got["1"] == "two lines"  # the LF stayed inside its field (then folded to a space)
    assert got["3"] == "last"
    if line_end == "cr":  # the unquoted LF is text of the last record, not a record end
        (url,) = workspace.store.con.execute(
            "SELECT url FROM listings WHERE listing_ref = '3'"
        ).fetchall()
        assert url == ("lf in an unquoted field",)
        assert report.errors == 0
    else:  # auto: LF ends a record; "lf in an unquoted field" is a row of one field
        assert report.errors == 1


def test_an_explicit_line_end_keeps_other_breaks_as_text(tmp_path, workspace):
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"id;seller;name\r\n1;ann;'a;b'\r\n2;bob;stray\nbreak\r\n")
    mapping = _mapping(csv={"delimiter": ";", "quotechar": "'", "line_end": "crlf"})
    report = import_csv(workspace.store, path, mapping, now=NOW)
    assert (report.rows, report.imported, report.line_end) == (2, 2, "crlf")
    assert _listings(workspace.store, "title") == [("1", "a;b"), ("2", "stray break")]


def test_delimiter_quote_and_escape(tmp_path, workspace):
    path = tmp_path / "tabs.tsv"
    path.write_text('id\tseller\tname\n1\t ann\t"say \\"hi\\""\n', encoding="utf-8")
    mapping = _mapping(
        csv={
            "delimiter": "\t",
            "escapechar": "\\",
            "doublequote": False,
            "skip_initial_space": True,
        }
    )
    import_csv(workspace.store, path, mapping, now=NOW)
    assert _listings(workspace.store, "title") == [("1", 'say "hi"')]


# -- values from the file name, keys, regexes, counters, aliases, prices --------------------
def test_date_and_category_from_the_file_name(tmp_path, workspace):
    path = tmp_path / "Drugs_-_cannabis_-_20170425.csv"
    path.write_text("id,seller,name\n1,ann,Haze\n2,bob,Kush\n", encoding="utf-8")
    mapping = _mapping(
        source={
            "file_pattern": r"^(?P<top>[^-]+?)_-_(?P<sub>.+?)_-_(?P<date>\d{8})\.csv$",
            "observed_at": {"file": "date", "format": "%Y%m%d"},
        },
        listing={"category": [{"file": "top"}, {"file": "sub"}]},
    )
    report = import_csv(workspace.store, path, mapping, now=NOW)
    assert (report.time_basis, sorted(report.observed)) == ("file name", ["2017-04-25"])
    rows = _listings(workspace.store, "category", "first_seen")
    assert rows == [(r, "drugs.cannabis", datetime(2017, 4, 25)) for r in ("1", "2")]


def test_a_file_name_that_does_not_match_stops_the_run(tmp_path, workspace):
    good = tmp_path / "x_20170425.csv"
    bad = tmp_path / "x_latest.csv"
    for path in (good, bad):
        path.write_text("id,seller,name\n1,ann,Haze\n", encoding="utf-8")
    mapping = _mapping(
        source={"file_pattern": r"_(?P<date>\d{8})\.csv$", "observed_at": {"file": "date"}}
    )
    with pytest.raises(InputError, match=r"x_latest.csv: the file name does not match"):
        import_files(workspace.store, [good, bad], mapping)
    assert workspace.store.counts()["listings"] == 0  # the good file was not imported either


def test_composite_keys_regexes_and_numbered_repeats(tmp_path, workspace):
    path = tmp_path / "dump.csv"
    path.write_text(
        "shop,item,seller,name,link\n"
        "north,17,ann,Haze,http://x.onion/item.php?id=17&ref=a\n"
        "south,17,bob,Kush,http://y.onion/item.php?id=17\n"
        "north,18,ann,Haze,http://x.onion/item.php?id=18\n"
        "north,18,ann,Haze,http://x.onion/item.php?id=18\n",
        encoding="utf-8",
    )
    mapping = _mapping(
        listing={
            "ref": [
                "shop",
                {"column": "link", "pattern": r"(?P<host>\w+)\.onion/\S*[?&]id=(?P<value>\d+)"},
            ],
            "ref_join": "/",
            "ref_repeats": "numbered",
        }
    )
    report = import_csv(workspace.store, path, mapping, now=NOW)
    assert report.imported == 4
    assert [r[0] for r in _listings(workspace.store, "title")] == [
        "north/17",
        "north/18",
        "north/18 #2",  # the same key twice in one file: the second is another listing
        "south/17",  # item 17 of another shop is another listing
    ]
    again = import_csv(workspace.store, path, mapping, now=NOW)
    assert again.imported == 4
    assert workspace.store.counts()["listings"] == 4  # numbering is stable: idempotent


def test_sold_counters_stock_and_vendor_level(tmp_path, workspace):
    path = tmp_path / "dump.csv"
    path.write_text(
        "id,seller,name,detail,items\n"
        '1,ann,A,"Sold by ann - 1,204 sold since Mar 5, 2017 Vendor Level 4 Trust Level 5",'
        '"Quantity left: 1,285"\n'
        "2,bob,B,0 sold since 2016-12-01,Quantity left: Unlimited\n"
        "3,cy,C,12 sold,null\n"
        "4,dee,D,new listing,null\n",
        encoding="utf-8",
    )
    mapping = _mapping(
        source={"na": ["null", ""]},
        listing={
            "sold": "detail",
            "stock": {"column": "items", "pattern": r"Quantity left: (\d[\d,]*)"},
            "vendor_level": {"column": "detail", "pattern": r"(Vendor Level \d+)"},
        },
    )
    report = import_csv(workspace.store, path, mapping, now=NOW)
    assert (report.sold_total, report.with_sales, report.unresolved["sold"]) == (1216, 2, 1)
    assert _listings(workspace.store, "sold_count", "sold_since", "stock") == [
        ("1", 1204, datetime(2017, 3, 5), 1285),
        ("2", 0, datetime(2016, 12, 1), None),
        ("3", 12, None, None),
        ("4", None, None, None),
    ]
    levels = dict(
        workspace.store.con.execute("SELECT handle, level FROM vendor_accounts").fetchall()
    )
    assert levels == {"ann": "Vendor Level 4", "bob": None, "cy": None, "dee": None}


def test_category_aliases_map_market_names_onto_the_taxonomy(tmp_path, workspace):
    path = tmp_path / "dump.csv"
    path.write_text(
        "id,seller,name,top,sub\n"
        "1,ann,A,Jewels & Gold,Other\n"  # without the alias: drugs.other (the taxonomy's "other")
        "2,ann,B,jewels_&_gold,Gold\n"  # case, underscores and spacing do not matter
        "3,ann,C,Drugs & Chemicals,Cannabis & Hashish\n"
        "4,ann,D,Drugs & Chemicals,Stimulants\n"  # no alias: the taxonomy, inside the branch
        "5,ann,E,Weird Stuff,Other\n",  # no alias, no taxonomy name: unresolved
        encoding="utf-8",
    )
    mapping = _mapping(
        listing={
            "category": ["top", "sub"],
            "category_aliases": {
                "Jewels & Gold": "other",
                "Drugs & Chemicals": "drugs",
                "Cannabis & Hashish": "drugs.cannabis",
            },
        }
    )
    report = import_csv(workspace.store, path, mapping, now=NOW)
    assert _listings(workspace.store, "category") == [
        ("1", "other"),
        ("2", "other"),
        ("3", "drugs.cannabis"),
        ("4", "drugs.stimulants"),
        ("5", "drugs.other"),
    ]
    assert report.unresolved["category"] == 0


@pytest.mark.parametrize(
    ("text", "currency", "locale", "expected"),
    [
        ("Buy price USD 449.24 (0.3376 BTC)", "BTC", None, ("0.3376", "BTC", "449.24")),
        ("Buy price USD 449.24 (0.3376 BTC)", None, None, ("449.24", "USD", "449.24")),
        ("Purchase price: USD 11,000.00", "BTC", None, ("11000.00", "USD", "11000.00")),
        ("1.234,56 €", None, None, ("1234.56", "EUR", None)),
        ("ab 12,50", "EUR", None, ("12.50", "EUR", None)),
        ("0.5", "BTC", None, ("0.5", "BTC", None)),
        ("1.234", None, "de", ("1234", None, None)),
    ],
)
def test_prices_with_text_around_them(tmp_path, workspace, text, currency, locale, expected):
    path = tmp_path / "dump.jsonl"
    path.write_text(json.dumps({"id": "1", "seller": "a", "name": "n", "p": text}) + "\n")
    mapping = _mapping(
        source={"locale": locale} if locale else {},
        listing={"price": "p", **({"currency": currency} if currency else {})},
    )
    import_jsonl(workspace.store, path, mapping, now=NOW)
    ((_, price, cur, usd),) = _listings(workspace.store, "price", "currency", "price_usd")
    assert (price, cur, usd) == (
        Decimal(expected[0]),
        expected[1],
        Decimal(expected[2]) if expected[2] else None,
    )


# -- without a date column ----------------------------------------------------------------
def test_without_a_date_every_row_is_observed_at_one_moment(tmp_path, workspace, monkeypatch):
    path = tmp_path / "dump.csv"
    path.write_text(
        "id,seller,name\n" + "".join(f"{i},v{i % 7},t{i}\n" for i in range(300)), encoding="utf-8"
    )
    calls = []
    upsert = Store.upsert

    def counting(self, records, **kw):
        calls.append(kw["seen_at"])
        return upsert(self, records, **kw)

    monkeypatch.setattr(Store, "upsert", counting)
    report = import_csv(workspace.store, path, _mapping())
    assert report.time_basis == "import time"
    assert len(calls) == 1  # one write for the file, not one per row
    seen = workspace.store.con.execute("SELECT DISTINCT first_seen FROM listings").fetchall()
    assert seen == [(calls[0].astimezone(UTC).replace(tzinfo=None),)]


# -- bad inputs: a clear error, nothing lost --------------------------------------------
def test_a_column_the_mapping_names_missing_from_the_header(tmp_path, workspace):
    good = tmp_path / "a.csv"
    good.write_text("id,seller,name,price\n1,ann,A,5\n", encoding="utf-8")
    bad = tmp_path / "b.csv"
    bad.write_text("id,vendor,name,prices\n1,ann,A,5\n", encoding="utf-8")
    mapping = _mapping(listing={"price": "price"})
    with pytest.raises(InputError) as caught:
        import_files(workspace.store, [good, bad], mapping)
    assert str(caught.value) == (
        f"{bad}:1: the header lacks 'seller', 'price', which the mapping names (closest to "
        "'price': 'prices') (expected a header with these columns; it has: id, vendor, name, "
        "prices)"
    )
    assert workspace.store.counts()["listings"] == 0  # a.csv was not imported either


def test_some_rows_failing_are_counted_and_listed(tmp_path, capsys):
    path = tmp_path / "dump.csv"
    path.write_bytes(
        b"id,seller,name,price,day\r\n"
        b"1,ann,Good,5 USD,2017-01-02\r\n"
        b'2,bob,"Bad\r\nprice",lots,2017-01-02\r\n'  # the row starts on line 3, ends on 4
        b"3,cy,Bad day,5,2017-02-30\r\n"
        b"4,,No seller,5,2017-01-02\r\n"
        b"5,dee,Too,5,2017-01-02,many\r\n"
        b"6,eve,Negative,-5,2017-01-02\r\n"
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[source]\nmarket = "M"\nobserved_at = "day"\n'
        '[listing]\nref = "id"\nvendor = "seller"\ntitle = "name"\nprice = "price"\n',
        encoding="utf-8",
    )
    ws = str(tmp_path / "ws")
    main(["init", ws])
    capsys.readouterr()
    assert main(["import", "csv", str(path), "--mapping", str(mapping), "-w", ws]) == 0
    out = capsys.readouterr().out
    assert "imported 1 of 6 rows from dump.csv" in out
    assert "5 rows in `spector extract errors`" in out
    assert main(["extract", "errors", "--json", "-w", ws]) == 0
    errors = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(e["source"], e["ref"], e["reason"]) for e in errors] == [
        ("import:dump.csv", "row 3", "price 'lots' is not a number"),  # row 3 is on line 3
        ("import:dump.csv", "row 4", "date '2017-02-30' is not a date (line 5)"),
        ("import:dump.csv", "row 5", "no vendor: column 'seller' is empty (line 6)"),
        ("import:dump.csv", "row 6", "more fields than the header has (6 for 5) (line 7)"),
        ("import:dump.csv", "row 7", "price '-5' is out of range (0 to 10^12) (line 8)"),
    ]


def test_all_rows_failing_exits_2_and_keeps_the_errors(tmp_path, capsys):
    path = tmp_path / "dump.csv"
    path.write_text("id,seller,name,price\n1,ann,A,lots\n2,bob,B,many\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[source]\nmarket = "M"\n[listing]\nref = "id"\nvendor = "seller"\ntitle = "name"\n'
        'price = "price"\n',
        encoding="utf-8",
    )
    ws = str(tmp_path / "ws")
    main(["init", ws])
    capsys.readouterr()
    assert main(["import", "csv", str(path), "--mapping", str(mapping), "-w", ws]) == 2
    captured = capsys.readouterr()
    assert "imported 0 of 2 rows from dump.csv" in captured.out
    assert captured.err.strip() == (
        f"error: {path}: none of the 2 rows could be imported (row 2: price 'lots' is not a "
        "number) (expected rows the mapping can read); see `spector extract errors`"
    )
    assert main(["extract", "errors", "-w", ws]) == 0
    assert "2 extraction errors" in capsys.readouterr().out


def test_jsonl_files_in_one_run_from_the_cli(tmp_path, capsys):
    first = tmp_path / "a.jsonl"
    first.write_text(
        '{"id": 1, "seller": "ann", "name": "A", "sold": "3 sold since Mar 5, 2017"}\nnot json\n',
        encoding="utf-8",
    )
    second = tmp_path / "b.jsonl"
    second.write_text('{"id": 2, "seller": "bob", "name": "B"}\n', encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[source]\nmarket = "M"\n[listing]\nref = "id"\nvendor = "seller"\ntitle = "name"\n',
        encoding="utf-8",
    )
    ws = str(tmp_path / "ws")
    main(["init", ws])
    capsys.readouterr()
    args = ["import", "jsonl", str(first), str(second), "--mapping", str(mapping), "-w", ws]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("imported 1 of 2 lines from a.jsonl: 1 vendors, 1 listings")
    assert out[1].startswith("imported 1 of 1 lines from b.jsonl")
    assert out[2] == "imported 2 of 3 lines from 2 files; 1 lines in `spector extract errors`"
    assert main(["extract", "errors", "--json", "-w", ws]) == 0
    (error,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (error["source"], error["ref"]) == ("import:a.jsonl", "line 2")
    assert error["reason"].startswith("not JSON: Expecting value at column 1")
