"""The table of field names by page kind in docs/templates.md, made from the schema's own
lists (``PAGE_FIELDS``, ``ITEMS_OF_KIND``, ``ITEM_FIELDS``) so that it names every field a
template may give and no other. tests/extract/test_templates_docs.py checks the docs hold
it; ``python -m spector.extract._template_doc docs/templates.md`` rewrites it there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from spector.extract._template_schema import ITEM_FIELDS, ITEMS_OF_KIND, KINDS, PAGE_FIELDS

__all__ = ["BEGIN", "END", "field_table", "with_field_table"]

BEGIN = "<!-- field table: generated from spector/extract/_template_schema.py -->"
END = "<!-- end of the generated field table -->"
_RECORDS = {
    "listing": "VendorAccount, Listing, Feedback",
    "listing_index": "VendorAccount, Listing",
    "vendor": "VendorAccount",
    "feedback": "VendorAccount, Feedback",
    "forum_thread": "Post",
}


def _names(names: frozenset[str]) -> str:
    # the listing's vendor fields last, so the listing's own come first
    ordered = sorted(names, key=lambda n: (n.startswith("vendor_"), n))
    return ", ".join(f"`{n}`" for n in ordered)


def field_table() -> str:
    """The markdown table: each page kind, its fields, its items with theirs, and the
    records it gives (between the BEGIN and END markers)."""
    lines = [
        BEGIN,
        "| page kind | fields | items: their fields | records |",
        "|---|---|---|---|",
    ]
    for kind in KINDS:
        items = "; ".join(
            f"`{item}`: {_names(ITEM_FIELDS[item])}" for item in sorted(ITEMS_OF_KIND[kind])
        )
        lines.append(
            f"| `{kind}` | {_names(PAGE_FIELDS[kind])} | {items or '-'} | {_RECORDS[kind]} |"
        )
    lines.append(END)
    return "\n".join(lines)


def with_field_table(text: str) -> str:
    """``text`` (docs/templates.md) with its generated table replaced by the current one;
    ValueError when it has no BEGIN ... END block."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no generated field table ({BEGIN} ... {END})")
    return text[:start] + field_table() + text[end + len(END) :]


if __name__ == "__main__":
    doc = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/templates.md")
    doc.write_text(with_field_table(doc.read_text(encoding="utf-8")), encoding="utf-8")
