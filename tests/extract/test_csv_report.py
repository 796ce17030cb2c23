"""What an import tells its user: values that did not resolve (how many, which, what to
add to the mapping), and the mapping's country aliases that resolve them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from spector.cli import main
from spector.extract._csv import import_csv
from spector.extract._mapping import parse_mapping

NOW = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
DUMP = (
    "id,seller,name,from,to,cat\n"
    "1,ann,A,Österreich,Deutschland,Drugs\n"
    "2,bob,B,Schweiz,Österreich & Germany,Jewels\n"
    "3,cy,C,Österreich,Worldwide,Drugs\n"
    "4,dee,D,Germany,EU,Jewels\n"
    "5,eve,E,Österreich,Mars,Spaceships\n"
    "6,fay,F,Liechtenstein,Nowhere,Drugs\n"
)
MAPPING = (
    '[source]\nmarket = "M"\n'
    '[listing]\nref = "id"\nvendor = "seller"\ntitle = "name"\nships_from = "from"\n'
    'ships_to = "to"\ncategory = "cat"\n'
)


def _run(tmp_path, capsys, mapping_text, *extra):
    dump = tmp_path / "dump.csv"
    dump.write_text(DUMP, encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(mapping_text, encoding="utf-8")
    ws = str(tmp_path / "ws")
    if not (tmp_path / "ws").exists():
        main(["init", ws])
    capsys.readouterr()
    assert main(["import", "csv", str(dump), "--mapping", str(mapping), "-w", ws, *extra]) == 0
    return capsys.readouterr().out


def test_unresolved_values_are_shown_with_examples_and_the_remedy(tmp_path, capsys):
    out = _run(tmp_path, capsys, MAPPING).splitlines()
    assert out[0].startswith("imported 6 of 6 rows from dump.csv: 6 vendors, 6 listings")
    assert out[1:] == [
        "  unresolved category (stored as no value): 3, e.g. 'Jewels' ×2, 'Spaceships'; add "
        "them to [listing] category_aliases",
        "  unresolved country (stored as no value): 7, e.g. 'Österreich' ×4, 'Schweiz', "
        "'Mars'; add them to [listing] country_aliases",  # Liechtenstein is in the taxonomy
    ]
    report = json.loads(_run(tmp_path, capsys, MAPPING, "--json"))
    assert report["unresolved"] == {"category": 3, "country": 7}
    assert report["unresolved_examples"] == {
        "category": ["Jewels", "Spaceships"],
        "country": ["Österreich", "Schweiz", "Mars"],
    }


def test_country_aliases_in_the_mapping_resolve_them(tmp_path, workspace):
    dump = tmp_path / "dump.csv"
    dump.write_text(DUMP, encoding="utf-8")
    raw = {
        "source": {"market": "M"},
        "listing": {
            "ref": "id",
            "vendor": "seller",
            "title": "name",
            "ships_from": "from",
            "ships_to": "to",
            "country_aliases": {
                "österreich": "AT",  # case and spacing as a person writes them
                "Schweiz": "che",  # alpha-3, any case
                "Mars": "WW",  # a region code
            },
        },
    }
    report = import_csv(workspace.store, dump, parse_mapping(raw, "m"), now=NOW)
    rows = workspace.store.con.execute(
        "SELECT listing_ref, ships_from, ships_to FROM listings ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("1", "AT", ["DE"]),
        ("2", "CH", ["AT", "DE"]),
        ("3", "AT", ["WW"]),
        ("4", "DE", ["EU"]),
        ("5", "AT", ["WW"]),
        ("6", "LI", []),
    ]
    assert dict(report.unresolved) == {"country": 1}
    assert report.unresolved_examples() == {"country": [("Nowhere", 1)]}


def test_examples_are_bounded_and_cut():
    from spector.extract._csv import ImportReport

    report = ImportReport(file="f")
    for i in range(1500):
        report.note_unresolved("country", f"place {i}")
    report.note_unresolved("country", "place 3")  # counted: already kept
    report.note_unresolved("country", "place 1499")  # counted in the total only
    report.note_unresolved("sold", "x" * 200)
    assert report.unresolved == {"country": 1502, "sold": 1}
    assert len(report.unresolved_values["country"]) == 1000
    assert report.unresolved_examples()["country"][0] == ("place 3", 2)
    ((cut, n),) = report.unresolved_examples()["sold"]
    assert (len(cut), cut[-1], n) == (80, "…", 1)
