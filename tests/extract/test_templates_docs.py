"""docs/templates.md names every field the template schema accepts, page kind by page kind
(its table is made from the schema's lists), and says how each name is read."""

from __future__ import annotations

import re
from pathlib import Path

from spector.extract._template_doc import BEGIN, END, field_table, with_field_table
from spector.extract._template_schema import ITEM_FIELDS, PAGE_FIELDS

DOC = Path(__file__).parents[2] / "docs" / "templates.md"
_NAME = re.compile(r"`([a-z_]+)`")


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _table_rows(text: str) -> dict[str, set[str]]:
    """Page kind -> every field name in its row of the generated table."""
    block = text[text.index(BEGIN) : text.index(END)]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            names = set(_NAME.findall(cells[1]))
            for item in cells[2].split(";"):  # "`feedback`: `buyer`, ..."
                names |= set(_NAME.findall(item.partition(":")[2]))
            rows[cells[0].strip("`")] = names
    return rows


def test_the_docs_hold_the_table_the_schema_makes():
    text = _doc()
    assert field_table() in text, (
        "docs/templates.md is out of date: "
        "python -m spector.extract._template_doc docs/templates.md"
    )
    assert with_field_table(text) == text


def test_the_table_names_every_field_of_every_page_kind_and_item():
    from spector.extract._template_schema import ITEMS_OF_KIND

    rows = _table_rows(_doc())
    assert set(rows) == set(PAGE_FIELDS)
    for kind, names in rows.items():
        items = set().union(*(ITEM_FIELDS[i] for i in ITEMS_OF_KIND[kind]))
        assert names == set(PAGE_FIELDS[kind]) | items, kind
    # the bot shop's listing fields, which an earlier table left out
    assert {"cookies", "logins", "os", "victim_country"} <= rows["listing"]


def test_every_field_name_says_how_it_is_read():
    text = _doc()
    start = text.index("| name | read as |")
    table = text[start : text.index("\n\n", start)]
    described = {n for line in table.splitlines() for n in _NAME.findall(line.split("|")[1])}
    names = set().union(*PAGE_FIELDS.values(), *ITEM_FIELDS.values())
    # a listing's vendor_X is its vendor's X: described once, by the vendor_… row
    base = {n.removeprefix("vendor_") if n.startswith("vendor_") else n for n in names}
    assert "vendor_" in table
    assert base - described == set()
