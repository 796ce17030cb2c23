"""CSV imports: the real Agora 2014 sample, garbage rows, feedback and dates."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime

import pytest

from spector.cli import main
from spector.errors import ConfigError
from spector.extract._csv import agora_feedback as _agora_feedback
from spector.extract._csv import import_csv, load_mapping
from spector.extract._dates import resolve_relative
from spector.model import resolve_category

AGORA = "markets/agora-2014-01-01.csv"


def test_agora_sample_imports_with_its_vendor_and_row_counts(shared_data, workspace):
    path = shared_data / AGORA
    report = import_csv(workspace.store, path, load_mapping("agora-2014")).as_dict()
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    pages = {re.search(r"__(.+)\.html$", r["list"])[1] for r in rows}
    assert report["rows"] == len(rows) == 7986  # MANIFEST: 7986 data rows
    assert report["vendors"] == 261  # MANIFEST: 261 distinct vendors
    assert report["errors"] == 0
    assert report["listings"] == len(pages)
    counts = workspace.store.counts()
    assert counts["vendor_accounts"] == 261
    # feedback is counted as stored: one feedback on a page saved on four days is one
    sightings = sum(len(_agora_feedback(r["feedback"])) for r in rows)
    assert report["feedback"] == counts["feedback"] == 2298
    assert report["feedback"] + report["feedback_seen_again"] == sightings == 3184
    assert counts["listings"] == len(pages)
    assert counts["markets"] == 1
    # a page saved on several days is one listing seen from the first day to the last
    ((first, last),) = workspace.store.con.execute(
        "SELECT min(first_seen), max(last_seen) FROM listings"
    ).fetchall()
    assert (first.date().isoformat(), last.date().isoformat()) == ("2014-01-01", "2014-01-26")
    spread = workspace.store.con.execute(
        "SELECT count(*) FROM listings WHERE first_seen < last_seen"
    ).fetchone()[0]
    assert spread > 0
    again = import_csv(workspace.store, path, load_mapping("agora-2014")).as_dict()
    assert again["rows"] == report["rows"]
    assert workspace.store.counts() == counts  # idempotent


def test_agora_feedback_blocks_and_dates():
    cell = (
        "\r\n    Feedbacks:\r\n    \r\n                    5/5\r\n                    superb"
        " communication\r\n                    \r\n\r\n                    5 days ago\r\n"
        "                    anon [0 deals]\r\n                    4/5\r\n\r\n"
        "                    2 weeks ago\r\n                    b***r\r\n"
    )
    assert _agora_feedback(cell) == [
        ("5", "superb communication", "5 days ago", "anon [0 deals]"),
        ("4", "", "2 weeks ago", "b***r"),
    ]
    assert _agora_feedback("Feedbacks:\r\n No feedbacks found.\r\n") == []
    day = datetime(2014, 1, 9, tzinfo=UTC)
    after, before = resolve_relative("5 days ago", day, day.replace(day=10))
    assert (after.day, before.day) == (3, 5)  # between 5 and 6 days before some time on the 9th
    assert resolve_relative("3 недели назад", day, day) is not None
    assert resolve_relative("no date here", day, day) is None


def test_garbage_rows_are_recorded_and_the_rest_imported(tmp_path, workspace, capsys):
    path = tmp_path / "dump.csv"
    path.write_text(
        "list,date,vendor,product,price,cat,subcat,subsubcat,feedback,from,to\n"
        "2014-01-01__ok1.html,2014-01-01,alice,Item one,0.5,Drugs,Cannabis,Weed,,USA,Worldwide\n"
        "2014-01-01__bad.html,2014-01-01,bob,Item two,lots,Drugs,NA,NA,,UK,NA\n"
        "2014-01-01__x.html,2014-13-45,carol,Item three,1,Services,NA,NA,,NA,NA\n"
        "2014-01-01__y.html,2014-01-01,,No vendor,1,Data,NA,NA,,NA,NA\n"
        "2014-01-01__z.html,2014-01-01,dave,Too many,1,Data,NA,NA,,NA,NA,extra,fields\n"
        "2014-01-01__ok2.html,2014-01-01,alice,Item four,0.25,Information,Guides,NA,,UK only,EU\n",
        encoding="utf-8",
    )
    report = import_csv(workspace.store, path, load_mapping("agora-2014")).as_dict()
    assert (report["rows"], report["imported"], report["errors"]) == (6, 2, 4)
    listings = dict(
        workspace.store.con.execute("SELECT listing_ref, category FROM listings").fetchall()
    )
    assert listings == {"ok1": "drugs.cannabis", "ok2": "digital"}
    (ships,) = workspace.store.con.execute(
        "SELECT ships_from FROM listings WHERE listing_ref = 'ok2'"
    ).fetchone()
    assert ships == "GB"
    workspace.close()
    assert main(["extract", "errors", "--json", "-w", str(workspace.root)]) == 0
    errors = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(e["ref"], e["reason"].split()[0]) for e in errors] == [
        ("row 3", "price"),
        ("row 4", "date"),
        ("row 5", "no"),
        ("row 6", "more"),
    ]


def test_unknown_mapping_names_the_known_ones():
    with pytest.raises(ConfigError, match="agora-2014"):
        load_mapping("nonesuch")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (["Drugs", "Cannabis", "Weed"], "drugs.cannabis"),
        (["Services", "Other"], "services"),
        (["Drugs", "Other"], "drugs.other"),
        (["Information", "Guides"], "digital"),
        (["Forgeries", "Physical documents"], "counterfeit.documents"),
        (["NA"], None),
    ],
)
def test_market_category_paths_map_onto_the_taxonomy(path, code):
    assert resolve_category(path) == code


def test_import_csv_cli(shared_data, tmp_path, capsys):
    main(["init", str(tmp_path / "ws")])
    capsys.readouterr()
    args = ["import", "csv", str(shared_data / AGORA), "--mapping", "agora-2014"]
    assert main([*args, "-w", str(tmp_path / "ws")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(
        "imported 7,986 of 7,986 rows from agora-2014-01-01.csv: 261 vendors, 3,322 listings, "
        "2,298 feedback (886 seen again); utf-8 (mapping)"
    )
    assert main(["status", "-w", str(tmp_path / "ws"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tables"]["feedback"] == 2298
    assert main([*args, "--json", "-w", str(tmp_path / "ws")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["vendors"], report["feedback"], report["feedback_seen_again"]) == (
        261,
        2298,
        886,
    )


def test_jsonl_import_with_the_same_mapping(tmp_path, workspace):
    from spector.extract._csv import import_jsonl

    path = tmp_path / "dump.jsonl"
    path.write_text(
        '{"list": "x__a1.html", "date": "2014-01-02", "vendor": "eve", "product": "Thing",'
        ' "price": 0.1, "cat": "Drugs", "subcat": "Cannabis", "subsubcat": "NA",'
        ' "feedback": "", "from": "Germany", "to": "EU"}\n'
        "not json at all\n"
        '["a list"]\n'
        '{"list": "x__a2.html", "date": "2014-01-02", "vendor": "eve", "product": "Other",'
        ' "price": "0.2", "cat": "Services", "subcat": "NA", "subsubcat": "NA",'
        ' "feedback": "", "from": "NA", "to": "NA"}\n',
        encoding="utf-8",
    )
    report = import_jsonl(workspace.store, path, load_mapping("agora-2014")).as_dict()
    assert (report["rows"], report["imported"], report["errors"], report["vendors"]) == (4, 2, 2, 1)
    rows = workspace.store.con.execute(
        "SELECT listing_ref, price, ships_from FROM listings ORDER BY 1"
    ).fetchall()
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [
        ("a1", "0.10000000", "DE"),
        ("a2", "0.20000000", None),
    ]


def test_rates_price_in_usd_with_the_last_rate_on_or_before(tmp_path, workspace):
    from decimal import Decimal

    from spector.errors import InputError
    from spector.extract._rates import Rates, import_rates

    path = tmp_path / "rates.csv"
    path.write_text("date,currency,usd_per_unit\n2014-01-01,BTC,800\n2014-01-09,BTC,900\n")
    assert import_rates(workspace.store, path) == 2
    rates = Rates(workspace.store)
    at = datetime(2014, 1, 8, 23, tzinfo=UTC)
    assert rates.usd(Decimal("0.5"), "BTC", at) == Decimal("400.00")
    assert rates.usd(Decimal("0.5"), "BTC", datetime(2014, 1, 20, tzinfo=UTC)) == Decimal("450.00")
    assert rates.usd(Decimal("0.5"), "BTC", datetime(2013, 12, 1, tzinfo=UTC)) is None
    assert rates.usd(Decimal("3"), "XMR", at) is None
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")
    with pytest.raises(InputError, match="missing columns"):
        import_rates(workspace.store, bad)
