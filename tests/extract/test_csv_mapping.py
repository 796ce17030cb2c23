"""Mapping files are validated as a schema: each mistake is an error naming the key."""

from __future__ import annotations

import pytest

from spector.cli import main
from spector.errors import ConfigError
from spector.extract._mapping import load_mapping, parse_mapping, ready_mappings

BASE = {
    "source": {"market": "M"},
    "listing": {"ref": "id", "vendor": "seller", "title": "name"},
}


def _with(table: str, **keys: object) -> dict[str, object]:
    raw = {k: dict(v) for k, v in BASE.items()}
    raw.setdefault(table, {}).update(keys)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            _with("listing", prise="p"),
            r"\[listing\] unknown key 'prise' \(did you mean 'price'\?\)",
        ),
        (
            _with("listing", ref=["id", {"colum": "b"}]),
            r"\[listing\] ref\[1\]: unknown key 'colum' \(did you mean 'column'\?\)",
        ),
        (
            _with("source", observed_at={"file": "date", "formt": "%Y"}),
            r"\[source\] observed_at: unknown key 'formt' \(did you mean 'format'\?\)",
        ),
        ({**BASE, "lisitng": {}}, r"unknown table 'lisitng' \(did you mean 'listing'\?\)"),
        (
            _with("csv", delimter=";"),
            r"\[csv\] unknown key 'delimter' \(did you mean 'delimiter'\?\)",
        ),
        (_with("source", na="NA"), r"\[source\] na: expected a list, got str"),
        (_with("listing", vendor=3), r"\[listing\] vendor: expected a column name or a table"),
        (_with("csv", doublequote="yes"), r"\[csv\] doublequote: expected true or false, got str"),
        (_with("csv", delimiter=";;"), r"\[csv\] delimiter: ';;': string should have at most 1"),
        (_with("csv", line_end="mac"), r"\[csv\] line_end: 'mac' is not one of 'auto', 'cr'"),
        (
            _with("listing", ref={"column": "id", "pattern": "(unclosed"}),
            r"\[listing\] ref\[0\]: pattern '\(unclosed' does not compile: missing \)",
        ),
        (
            _with("listing", ref={"column": "id", "value": "x"}),
            r"ref\[0\]: a value needs exactly one of column, file, value or row = true "
            r"\(got column, value\)",
        ),
        (
            _with("listing", category_aliases={"Jewels & Gold": "jewelry"}),
            r"\[listing\] category_aliases: 'Jewels & Gold' = 'jewelry' is not a taxonomy code",
        ),
        (
            _with("listing", category_aliases={"Drugs": "drug"}),
            r"is not a taxonomy code \(did you mean drugs",
        ),
        (_with("listing", currency="BTX"), r"\[listing\] currency 'BTX' is not in the taxonomy"),
        (
            _with("listing", country_aliases={"Österreich": "AU2"}),
            r"\[listing\] country_aliases: 'Österreich' = 'AU2' is not a country code",
        ),
        (
            _with("listing", country_aliase={"Österreich": "AT"}),
            r"unknown key 'country_aliase' \(did you mean 'country_aliases'\?\)",
        ),
        (
            _with("source", encoding="mac_romann"),
            r"\[source\] encoding 'mac_romann' is not a codec Python knows \(did you mean "
            r"mac_roman",
        ),
        (
            _with("listing", title={"file": "date"}),
            r"\[listing\] title: file = 'date' is not a named group of \[source\] file_pattern "
            r"\(known: name, stem\)",
        ),
        (
            _with("source", file_pattern="(?P<day>\\d{8})", observed_at={"file": "date"}),
            r"\[source\] observed_at: file = 'date' is not a named group .* \(known: day, name",
        ),
        (
            {"source": {"market": "M"}, "listing": {"vendor": "v", "title": "t"}},
            r"\[listing\] lacks 'ref'",
        ),
        ({"listing": BASE["listing"]}, r"the mapping lacks a \[source\] table"),
        (_with("source", market=""), r"\[source\] market: '': string should have at least 1"),
        (_with("feedback", column="fb", format="evolution"), r"\[feedback\] format: 'evolution'"),
    ],
)
def test_each_mistake_names_its_key(raw, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_mapping(raw, "my-mapping.toml")
    assert caught.value.where == "my-mapping.toml"


def test_a_correct_mapping_reads_its_shorthands():
    mapping = parse_mapping(
        _with(
            "listing",
            ref=["shop", {"column": "item", "pattern": "#(\\d+)"}],
            category="cat",
            price={"column": "price", "fallback": "price2"},
            currency="btc",
        ),
        "m.toml",
    )
    assert [v.column for v in mapping.listing.ref] == ["shop", "item"]
    assert [v.column for v in mapping.listing.category] == ["cat"]  # one value: a path of one
    assert mapping.listing.currency == "BTC"
    assert mapping.columns() == ["shop", "item", "cat", "seller", "name", "price", "price2"]


def test_ready_mappings_and_a_near_miss():
    assert {"agora-2014", "dnm-2017"} <= set(ready_mappings())
    for name in ready_mappings():
        assert load_mapping(name).source.market  # every shipped mapping passes the schema
    with pytest.raises(ConfigError, match=r"no mapping called 'dnm-2071'.*did you mean 'dnm-2017'"):
        load_mapping("dnm-2071")


def test_a_bad_mapping_file_is_one_error_line_and_exit_2(tmp_path, capsys):
    mapping = tmp_path / "mine.toml"
    mapping.write_text(
        '[source]\nmarket = "M"\n[csv]\ndelimiter = ";;"\n'
        '[listing]\nref = "id"\nvendor = "seller"\ntitel = "name"\n',
        encoding="utf-8",
    )
    dump = tmp_path / "dump.csv"
    dump.write_text("id,seller,name\n1,a,b\n", encoding="utf-8")
    main(["init", str(tmp_path / "ws")])
    capsys.readouterr()
    code = main(["import", "csv", str(dump), "--mapping", str(mapping), "-w", str(tmp_path / "ws")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(f"error: {mapping}: ")
    assert "[listing] unknown key 'titel' (did you mean 'title'?)" in err[0]
    assert "[csv] delimiter: ';;'" in err[0]  # every table's problem, in one line
