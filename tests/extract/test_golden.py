"""Golden files: a captured page of each family and kind, and the records it must give.

The pages and records were produced by tests/extract/make_golden.py, checked by eye and
frozen; a change to a template or a normaliser that alters any record fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.extract.make_golden import REFERENCE, as_json

from spector.extract._pages import records_of
from spector.extract._templates import template_for

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))


def test_every_family_and_kind_has_a_golden_page():
    assert {c.split("-")[0] for c in CASES} == {"escrow", "walletless", "hydra", "bots", "forum"}
    assert len(CASES) == 12


@pytest.mark.parametrize("case", CASES)
def test_page_gives_its_golden_records(case):
    family = case.split("-")[0]
    frozen = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    html = (GOLDEN / f"{case}.html").read_text(encoding="utf-8")
    template = template_for(family)
    result = template.apply(frozen["path"], html)
    records = records_of(result, template, "market-golden", "Golden Site", REFERENCE)
    assert as_json(records) == frozen["records"]


def test_a_truncated_page_gives_fewer_records_not_a_crash():
    html = (GOLDEN / "escrow-feedback.html").read_text(encoding="utf-8")
    frozen = json.loads((GOLDEN / "escrow-feedback.json").read_text(encoding="utf-8"))
    template = template_for("escrow")
    cut = html[: len(html) // 2]
    result = template.apply(frozen["path"], cut)
    records = records_of(result, template, "market-golden", "Golden Site", REFERENCE)
    assert 0 < len(records) < len(frozen["records"])
