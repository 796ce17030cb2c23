"""Joint operations: the list, one operation (totals reconciled with the published
figures, through the access filter), and the [I] report (PNG, sandboxed HTML, PDF) made
per user and remade when the figures change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spector.web._ops_report import REPORT_CSP, report_folder
from tests.conftest import SHARED_DATA
from tests.web.harness import WebClient

SPECTOR_FILE = SHARED_DATA / "operations" / "spector-2023.json"
DRUGS_GAP = "drugs: 850 kg stated, 354 kg itemised (496 kg not itemised)"


def _login(client: WebClient, logins: dict[str, str], who: str = "bka_analyst") -> WebClient:
    client.logout_cookies()
    assert client.login(who, logins[who]).status_code == 303
    return client


def _as(client: WebClient, username: str) -> Any:
    from spector.cases._who_models import principal_of, user_by_name

    with client.app.state.web.session() as s:
        return principal_of(s, user_by_name(s, username).id)


def _import_spector(client: WebClient) -> None:
    """The published figures of Operation SpecTor (real data), imported by the admin (BKA)."""
    from spector.cases import import_operation

    admin = _as(client, "admin")
    with client.app.state.web.session() as s:
        import_operation(s, admin, SPECTOR_FILE)


def _follow(client: WebClient, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        sep = "&" if "?" in url else "?"
        page = client.get(url + (f"{sep}cursor={cursor}" if cursor else "")).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_operations_list_page_and_api(analyst: WebClient):
    page = analyst.get("/operations")
    assert page.status_code == 200
    assert '<a href="/operations/Range%20Sweep">Range Sweep</a>' in page.text
    assert "BKA, FBI, Politie" in page.text
    assert "member" in page.text
    items = analyst.get("/api/v1/operations").json()["items"]
    assert [(o["name"], o["agencies"], o["member"]) for o in items] == [
        ("Range Sweep", ["BKA", "FBI", "Politie"], True)
    ]
    assert analyst.get("/api/v1/operations?q=nothing-like-it").json()["items"] == []
    assert "No operation matches" in analyst.get("/operations?q=nothing-like-it").text


def test_operation_totals_are_the_access_filtered_ones(analyst: WebClient):
    from spector.cases import operation_totals

    with analyst.app.state.web.session() as s:
        expected = operation_totals(s, _as(analyst, "bka_analyst"), "Range Sweep")
    got = analyst.get("/api/v1/operations/Range%20Sweep/totals").json()
    assert got == expected
    assert got["arrests"] > 0
    detail = analyst.get("/api/v1/operations/Range%20Sweep").json()
    assert detail["totals"] == expected
    assert sum(a["count"] for a in detail["arrests"]) == expected["arrests"]
    assert len(detail["seizures"]) == sum(detail["seizure_records"].values())
    assert detail["timeline"] == sorted(detail["timeline"], key=lambda e: e["day"])
    page = analyst.get("/operations/Range%20Sweep").text
    assert (
        f'<span class="value">{expected["arrests"]}</span><span class="label">arrests</span>'
        in page
    )
    assert "Every published figure adds up" in page
    assert 'src="/operations/Range%20Sweep/report.png"' in page
    assert '<iframe class="report" sandbox="" src="/operations/Range%20Sweep/report.html"' in page


def test_spector_reconciliation_for_a_member_and_for_an_outsider(web_rw: WebClient, logins):
    _import_spector(web_rw)
    _login(web_rw, logins, "bka_analyst")  # BKA: the importing admin's agency, a member
    member = web_rw.get("/api/v1/operations/SpecTor").json()
    assert member["member"] is True
    assert member["totals"]["arrests"] == 288
    assert member["totals"]["firearms"] == 117
    assert member["totals"]["discrepancies"] == [DRUGS_GAP]
    drugs = next(r for r in member["reconciliation"] if r["figure"] == "Drugs")
    assert drugs == {"figure": "Drugs", "stated": "850 kg", "records": "354 kg",
                     "difference": "496 kg not itemised", "ok": False}  # fmt: skip
    page = web_rw.get("/operations/SpecTor").text
    assert DRUGS_GAP in page
    assert "496 kg not itemised" in page
    assert '<td>US</td><td class="num">153</td>' in page

    _login(web_rw, logins, "fbi_analyst")  # FBI is not in SpecTor's sharing group
    outsider = web_rw.get("/api/v1/operations/SpecTor").json()
    assert outsider["member"] is False
    assert outsider["totals"]["arrests"] == 0
    assert outsider["arrests"] == []
    assert (
        "arrests: 288 stated, 0 in the per-country records (288 not itemised)"
        in (outsider["totals"]["discrepancies"])
    )
    names = [o["name"] for o in _follow(web_rw, "/api/v1/operations?limit=1")]
    assert names == ["Range Sweep", "SpecTor"]


def test_hostile_operation_text_is_escaped_and_odd_names_route(web_rw: WebClient, logins):
    from spector.cases import create_operation

    with web_rw.app.state.web.session() as s:
        create_operation(
            s,
            _as(web_rw, "admin"),
            name="Op <b>/x?y#z",
            agencies=["BKA"],
            description="<script>alert(1)</script><img src=x onerror=alert(2)>",
        )
    _login(web_rw, logins)
    listing = web_rw.get("/operations").text
    assert 'href="/operations/Op%20%3Cb%3E%2Fx%3Fy%23z"' in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    assert "<script>alert" not in listing
    page = web_rw.get("/operations/Op%20%3Cb%3E%2Fx%3Fy%23z")
    assert page.status_code == 200
    assert "Operation Op &lt;b&gt;/x?y#z" in page.text
    assert "<img src=x" not in page.text
    api = web_rw.get("/api/v1/operations/Op%20%3Cb%3E%2Fx%3Fy%23z/totals")
    assert api.status_code == 200
    assert api.json()["arrests"] == 0


def test_unknown_operation_bad_cursor_and_signed_out(web: WebClient, logins):
    _login(web, logins)
    assert web.get("/operations/No%20Such%20Op").status_code == 404
    missing = web.get("/api/v1/operations/No%20Such%20Op")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFound"
    assert web.get("/api/v1/operations/No%20Such%20Op/totals").status_code == 404
    assert web.get("/operations/No%20Such%20Op/report.png").status_code == 404
    assert web.get("/api/v1/operations?cursor=WzEsMl0").status_code == 400  # [1,2]
    web.logout_cookies()
    assert web.get("/api/v1/operations").status_code == 401
    assert web.get("/api/v1/operations/Range%20Sweep/totals").status_code == 401
    assert web.get("/operations/Range%20Sweep").status_code == 303
    assert web.get("/operations/Range%20Sweep/report.pdf").status_code == 303


def _stamp(folder: Path) -> tuple[str, int]:
    return (folder / "view.sha256").read_text(), (folder / "report.png").stat().st_mtime_ns


def test_the_report_is_made_per_user_cached_and_remade_when_figures_change(
    web_rw: WebClient, logins
):
    from spector.cases import add_arrest

    _login(web_rw, logins)
    png = web_rw.get("/operations/Range%20Sweep/report.png")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    html = web_rw.get("/operations/Range%20Sweep/report.html")
    assert html.headers["content-security-policy"] == REPORT_CSP
    assert "sandbox" in REPORT_CSP
    assert "script-src" not in REPORT_CSP
    assert html.headers["x-frame-options"] == "SAMEORIGIN"
    assert "<script" not in html.text.lower()
    pdf = web_rw.get("/operations/Range%20Sweep/report.pdf")
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-disposition"] == 'attachment; filename="report-Range-Sweep.pdf"'

    analyst = _as(web_rw, "bka_analyst")
    folder = report_folder(web_rw.app.state.web.ws_root, analyst, "Range Sweep")
    before = _stamp(folder)
    totals = json.loads((folder / "totals.json").read_text())
    assert totals == web_rw.get("/api/v1/operations/Range%20Sweep/totals").json()
    web_rw.get("/operations/Range%20Sweep/report.png")
    assert _stamp(folder) == before  # nothing changed: the files are reused

    with web_rw.app.state.web.session() as s:
        add_arrest(s, analyst, "Range Sweep", country="FR", count=4, distribution="operation")
    again = web_rw.get("/operations/Range%20Sweep/report.png")
    assert again.status_code == 200
    assert _stamp(folder) != before
    remade = json.loads((folder / "totals.json").read_text())
    assert remade["arrests"] == totals["arrests"] + 4
    assert remade["arrests_by_country"]["FR"] == 4
    other = report_folder(web_rw.app.state.web.ws_root, _as(web_rw, "fbi_analyst"), "Range Sweep")
    assert other != folder
    assert not other.exists()


def test_operation_pages_link_their_stylesheet(analyst: WebClient):
    for path in ("/operations", "/operations/Range%20Sweep"):
        assert '<link rel="stylesheet" href="/static/ops.css">' in analyst.get(path).text
