"""spector.report's operation report: the four files are real and say what the records
say (both backends), strings from the store are escaped, and a missing PDF engine is one
clear error."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from spector.cases._base import Principal
from spector.cases._db import CaseStore
from spector.cases._ops import import_operation, operation_totals
from spector.cases._who import init_instance, principal_of
from spector.report import (
    REPORT_FILES,
    ReportData,
    ReportError,
    _operation,
    render_report,
    write_operation_report,
)
from spector.report._infographic import POSTER_DPI, POSTER_SIZE
from spector.report._operation import render_html
from tests.conftest import SHARED_DATA

SPECTOR = SHARED_DATA / "operations" / "spector-2023.json"
US_GAP = "arrests in US: 155 stated, 153 in the per-country records"
DRUGS_GAP = "drugs: 850 kg stated, 354 kg itemised (496 kg not itemised)"
HOSTILE = '<script>alert("x")</script> & co'


def pdf_pages(data: bytes) -> int:
    """Page objects in a PDF, looking inside its compressed object streams too."""
    chunks = [data]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            chunks.append(zlib.decompress(m.group(1)))
        except zlib.error:
            continue
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", b"".join(chunks)))


@pytest.fixture
def imported(store: CaseStore, tmp_path: Path) -> Principal:
    """SpecTor imported (with the article's "155 arrests in the US" stated, and a
    seizure whose description is markup) by Europol's admin."""
    data = json.loads(SPECTOR.read_text("utf-8"))
    data["stated_totals"]["arrests_by_country"] = {"US": 155}
    data["seizures"].append({"kind": "other", "description": HOSTILE, "count": 4})
    path = tmp_path / "spector-2023.json"
    path.write_text(json.dumps(data), "utf-8")
    with store.session() as s:
        admin = init_instance(s, agency="Europol (EC3)", country="EU", admin="admin",
                              password="correct horse battery staple")  # fmt: skip
        import_operation(s, admin, path)
        return principal_of(s, admin.user_id)


def test_the_four_files(store: CaseStore, imported: Principal, tmp_path: Path) -> None:
    out = tmp_path / "report"
    paths = write_operation_report(store, imported, "SpecTor", out)
    assert paths == {key: out / name for key, name in REPORT_FILES.items()}

    with store.session() as s:
        expected = operation_totals(s, imported, "SpecTor")
    assert json.loads(paths["totals"].read_text("utf-8")) == expected
    assert expected["discrepancies"] == [US_GAP, DRUGS_GAP]

    with Image.open(paths["png"]) as png:
        png.load()
        assert png.format == "PNG"
        assert png.size == (int(POSTER_SIZE[0] * POSTER_DPI), int(POSTER_SIZE[1] * POSTER_DPI))
        assert png.size[0] >= 1600
        colours = png.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None
        assert len(colours) > 50

    pdf = paths["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert pdf_pages(pdf) >= 1

    html = paths["html"].read_text("utf-8")
    for code, count in expected["arrests_by_country"].items():
        assert re.search(rf"<td>{code}</td><td class=\"num\">{count:,}</td>", html), code
    assert "<td>United States</td>" in html
    for sentence in expected["discrepancies"]:
        assert f"<li>{sentence}</li>" in html
    assert "Europol (EC3)" in html
    assert "Content-Security-Policy" in html
    assert html.count('src="data:image/svg+xml;base64,') == 5
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html


def test_a_user_outside_the_operation_gets_an_honest_empty_report(
    store: CaseStore, imported: Principal, tmp_path: Path
) -> None:
    from spector.cases._who import create_agency, create_user

    with store.session() as s:
        create_agency(s, imported, name="Interpol", country="INT")
        made = create_user(s, imported, agency="Interpol", username="iv",
                           password="correct horse battery staple", roles=["viewer"])  # fmt: skip
        outsider = principal_of(s, made.id)
        overview_totals = operation_totals(s, outsider, "SpecTor")
    data = ReportData(name="SpecTor", totals=overview_totals, stated={"arrests": 288})
    html = render_html(data)
    assert "arrests: 288 stated, 0 in the per-country records (288 not itemised)" in html
    assert "<td>US</td>" not in html


def test_strings_are_escaped_everywhere(tmp_path: Path) -> None:
    totals: dict[str, Any] = {
        "arrests": 1, "arrests_by_country": {"DE": 1}, "firearms": 0, "drugs_kg": 2,
        "drugs_kg_by_substance": {HOSTILE: 2}, "cash_crypto": [], "discrepancies": [HOSTILE],
    }  # fmt: skip
    data = ReportData(name=HOSTILE, totals=totals, source=HOSTILE, description=HOSTILE,
                      agencies=((HOSTILE, "DE"),), generated_for=HOSTILE)  # fmt: skip
    html = render_html(data)
    assert "<script" not in html
    assert html.count("&lt;script&gt;") >= 6
    footer = re.search(r"@bottom-left \{ content: \"([^\"]*)\"", html)
    assert footer is not None
    assert "<" not in footer.group(1)
    assert '"' not in footer.group(1)


def test_missing_pdf_engine_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pango(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "weasyprint":
            raise OSError(
                "cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared "
                "object file: No such file or directory"
            )
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)
    totals: dict[str, Any] = {
        "arrests": 0, "arrests_by_country": {}, "firearms": 0, "drugs_kg": 0,
        "drugs_kg_by_substance": {}, "cash_crypto": [], "discrepancies": [],
    }  # fmt: skip
    out = tmp_path / "report"
    with pytest.raises(
        ReportError, match=r"cannot load the system library libpango-1\.0-0"
    ) as caught:
        render_report(ReportData(name="Empty", totals=totals), out)
    assert caught.value.exit_code == 2
    assert "apt-get install" in str(caught.value)
    assert list(out.iterdir()) == []  # nothing half-written
    assert _operation.REPORT_FILES["pdf"] == "report.pdf"
