"""Golden files: a captured page of each family and kind, and the records it must give.

The pages and records were produced by tests/extract/make_golden.py, checked by eye and
frozen; a change to a template or a normaliser that alters any record fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.extract.make_golden import REFERENCE, as_json, page_url

from spector.extract._pages import PageError, records_of
from spector.extract._templates import template_for

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))


def test_every_family_and_kind_has_a_golden_page():
    assert {c.split("-")[0] for c in CASES} == {"escrow", "walletless", "hydra", "bots", "forum"}
    assert {c.split("-")[0] for c in CASES if c.endswith("-index")} == {
        "escrow",
        "walletless",
        "hydra",
        "bots",
    }
    assert len(CASES) == 16


@pytest.mark.parametrize("case", CASES)
def test_page_gives_its_golden_records(case):
    family = case.split("-")[0]
    frozen = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    html = (GOLDEN / f"{case}.html").read_text(encoding="utf-8")
    template = template_for(family)
    result = template.apply(frozen["path"], html)
    url = page_url(frozen["path"])
    records = records_of(result, template, "market-golden", "Golden Site", REFERENCE, url=url)
    assert as_json(records) == frozen["records"]


def test_a_truncated_page_gives_fewer_records_not_a_crash():
    html = (GOLDEN / "escrow-feedback.html").read_text(encoding="utf-8")
    frozen = json.loads((GOLDEN / "escrow-feedback.json").read_text(encoding="utf-8"))
    template = template_for("escrow")
    cut = html[: len(html) // 2]
    result = template.apply(frozen["path"], cut)
    records = records_of(result, template, "market-golden", "Golden Site", REFERENCE)
    assert 0 < len(records) < len(frozen["records"])


@pytest.mark.parametrize("family", ["escrow", "walletless", "hydra", "bots"])
def test_an_index_row_gives_what_its_listing_page_gives(family):
    """The row of the listing whose page is golden too: the same records (ids), and each
    field the row gives equals the listing page's; the listing page has the rest."""
    index = json.loads((GOLDEN / f"{family}-index.json").read_text(encoding="utf-8"))
    page = json.loads((GOLDEN / f"{family}-listing.json").read_text(encoding="utf-8"))
    full = {r["id"]: r for r in page["records"] if r["type"] in ("Listing", "VendorAccount")}
    rows = [r for r in index["records"] if r["id"] in full]
    assert {r["type"] for r in rows} == {"Listing", "VendorAccount"}
    for row in rows:
        given = {k: v for k, v in row.items() if v not in (None, [])}
        assert given == {k: full[row["id"]][k] for k in given}


@pytest.mark.parametrize("family", ["escrow", "walletless", "hydra", "bots"])
def test_a_cut_index_page_is_an_error_not_rows_that_may_be_cut(family):
    frozen = json.loads((GOLDEN / f"{family}-index.json").read_text(encoding="utf-8"))
    html = (GOLDEN / f"{family}-index.html").read_text(encoding="utf-8")
    template = template_for(family)
    # cut in the middle of the last row's last value ("USD 68.9" for "USD 68.92"): the
    # row would give a wrong value, so the page gives none
    last = list(re.finditer(r">([^<]+)</", html[: html.index('<nav class="pager">')]))[-1]
    cut = html[: (last.start(1) + last.end(1)) // 2]
    result = template.apply(frozen["path"], cut)
    assert result is not None
    assert result.items["listings"]
    with pytest.raises(PageError, match="without the end of its list"):
        records_of(result, template, "market-golden", "Golden Site", REFERENCE)


def test_an_index_row_without_its_link_is_an_error():
    frozen = json.loads((GOLDEN / "escrow-index.json").read_text(encoding="utf-8"))
    html = (GOLDEN / "escrow-index.html").read_text(encoding="utf-8")
    template = template_for("escrow")
    result = template.apply(frozen["path"], html.replace('href="/listing/', 'href="/offer/', 1))
    with pytest.raises(PageError, match="without a link to its listing"):
        records_of(result, template, "market-golden", "Golden Site", REFERENCE)
