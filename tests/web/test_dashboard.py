"""The dashboard: markets with crawl status, notices of the user's agency, top actors,
revenue by category (chart spec + table), the estimate cache, roles."""

from __future__ import annotations

import math
from html import unescape
from typing import Any

import pytest

import spector.economics
from spector.cases import create_user, login
from tests.web.harness import WebClient


def _estimate(client: WebClient):
    from spector.economics import estimate

    with client.app.state.web.workspace() as ws:
        return estimate(ws)


def _sql(client: WebClient, sql: str) -> list[tuple[Any, ...]]:
    with client.app.state.web.workspace() as ws:
        return ws.store.con.execute(sql).fetchall()


def test_dashboard_json_has_every_part(analyst: WebClient):
    body = analyst.get("/api/v1/dashboard").json()
    assert set(body) == {"markets", "more_markets", "notices", "open_notices", "top_actors",
                         "revenue", "revenue_by_category"}  # fmt: skip
    names = sorted(r[0] for r in _sql(analyst, "SELECT name FROM markets"))
    assert sorted(m["name"] for m in body["markets"]) == names
    assert not body["more_markets"]
    counts = dict(_sql(analyst, "SELECT market_id, count(*) FROM listings GROUP BY market_id"))
    for m in body["markets"]:
        assert m["listings"] == counts.get(m["id"], 0)
        assert m["captures"] > 0
        assert m["last_capture"]
        assert [c["site"] for c in m["crawl"]] == [m["name"]]  # demo sites are named so
        assert m["crawl"][0]["run_state"] == "done"
        assert m["crawl"][0]["pages"] > 0
    e = _estimate(analyst)
    assert [r["category"] for r in body["revenue_by_category"]] == [
        r["category"] for r in e.by_category
    ]
    assert math.isclose(body["revenue"]["revenue_usd"], e.totals["revenue_usd"])
    assert body["revenue"]["rate_basis"] == e.rate_basis
    assert body["revenue"]["error"] is None


def test_top_actors_are_by_revenue_with_their_accounts(analyst: WebClient):
    actors = analyst.get("/api/v1/dashboard").json()["top_actors"]
    e = _estimate(analyst)
    best = max(e.by_actor, key=lambda r: r["revenue_usd"])
    assert actors[0]["actor_id"] == best["actor_id"]
    assert actors[0]["label"] == best["label"]
    assert actors[0]["accounts"] == best["accounts"]
    revenues = [a["revenue_usd"] or 0 for a in actors]
    assert revenues == sorted(revenues, reverse=True)
    assert len(actors) <= 10
    page = analyst.get("/")
    assert f'href="/actors/{best["actor_id"]}"' in page.text


def test_dashboard_page_shows_markets_crawl_notices_and_revenue(analyst: WebClient):
    page = analyst.get("/")
    assert page.status_code == 200
    html = unescape(page.text)
    for mid, name in _sql(analyst, "SELECT id, name FROM markets"):
        assert f'href="/markets/{mid}">{name}</a>' in html
    assert "run 1 done" in html
    # bka_analyst's agency (BKA) has the notice of the hit with Politie's selector
    assert "Politie case officer <politie_analyst@politie.example>" in html
    assert "held by\n      Politie" in html or "held by Politie" in " ".join(html.split())
    e = _estimate(analyst)
    top = e.by_category[0]
    assert f'href="/listings?category={top["category"]}">{top["category"]}</a>' in html
    assert f"{top['revenue_usd']:,.2f} USD" in html
    assert 'data-vega-src="/api/v1/charts/revenue-by-category"' in page.text
    assert '<link rel="stylesheet" href="/static/listings.css">' in page.text


def test_notices_are_the_users_agencys_only(web: WebClient, logins):
    web.logout_cookies()
    assert web.login("fbi_analyst", logins["fbi_analyst"]).status_code == 303
    body = web.get("/api/v1/dashboard").json()
    assert body["notices"] == []
    assert body["open_notices"] == 0
    assert "No deconfliction notices for your agency." in web.get("/").text
    web.logout_cookies()
    assert web.login("politie_analyst", logins["politie_analyst"]).status_code == 303
    notices = web.get("/api/v1/dashboard").json()["notices"]
    assert [n["other_agency"] for n in notices] == ["BKA"]
    assert notices[0]["contact"].startswith("BKA case officer")  # whom to call


def test_revenue_chart_is_a_vega_lite_v5_spec_with_the_table_data(analyst: WebClient):
    spec = analyst.get("/api/v1/charts/revenue-by-category").json()
    assert spec["$schema"] == "https://vega.github.io/schema/vega-lite/v5.json"
    values = spec["data"]["values"]
    e = _estimate(analyst)
    assert len(values) == len(e.by_category)
    assert math.isclose(sum(v["revenue_usd"] for v in values), e.totals["revenue_usd"], abs_tol=0.1)
    assert all(v["revenue_low"] <= v["revenue_usd"] <= v["revenue_high"] for v in values)
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["bar", "rule"]
    order = spec["layer"][0]["encoding"]["y"]["sort"]
    assert order == [v["category"] for v in sorted(values, key=lambda v: -v["revenue_usd"])]
    assert "tooltip" not in str(spec)  # vega-tooltip would inject a <style>: CSP


def test_the_estimate_is_cached_until_the_store_changes(web_rw: WebClient, logins, monkeypatch):
    calls: list[int] = []
    real = spector.economics.estimate

    def counting(ws, **kwargs):
        calls.append(1)
        return real(ws, **kwargs)

    monkeypatch.setattr(spector.economics, "estimate", counting)
    assert web_rw.login("bka_analyst", logins["bka_analyst"]).status_code == 303
    first = web_rw.get("/api/v1/dashboard").json()["revenue"]["revenue_usd"]
    web_rw.get("/api/v1/charts/revenue-by-category")
    web_rw.get("/")
    assert len(calls) == 1
    with web_rw.app.state.web.writing() as ws:  # feedback taken back (a re-extraction)
        ws.store.con.execute(
            "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback ORDER BY id LIMIT 30)"
        )
    second = web_rw.get("/api/v1/dashboard").json()["revenue"]["revenue_usd"]
    assert len(calls) == 2
    assert not math.isclose(second, first)
    web_rw.get("/")
    assert len(calls) == 2


def test_an_empty_workspace_dashboard_says_so(web_rw: WebClient, logins):
    with web_rw.app.state.web.writing() as ws:
        for table in ("listings", "feedback", "markets", "actor_accounts", "vendor_accounts"):
            ws.store.con.execute(f"DELETE FROM {table}")
    assert web_rw.login("bka_analyst", logins["bka_analyst"]).status_code == 303
    page = web_rw.get("/")
    assert page.status_code == 200
    assert "No markets in this workspace yet" in page.text
    assert "No actors yet" in page.text
    body = web_rw.get("/api/v1/dashboard").json()
    assert body["markets"] == []
    assert body["revenue_by_category"] == []
    assert web_rw.get("/api/v1/charts/revenue-by-category").json()["data"]["values"] == []


@pytest.fixture
def viewer(web_rw: WebClient, logins) -> WebClient:
    with web_rw.app.state.web.session() as s:
        admin = login(s, "admin", logins["admin"])
        create_user(s, admin, agency="BKA", username="bka_viewer", password="viewer pass 1234",
                    roles=["viewer"])  # fmt: skip
    assert web_rw.login("bka_viewer", "viewer pass 1234").status_code == 303
    return web_rw


def test_a_viewer_reads_the_dashboard_and_listings(viewer: WebClient):
    assert viewer.get("/").status_code == 200
    assert viewer.get("/listings").status_code == 200
    assert viewer.get("/api/v1/dashboard").json()["notices"]  # the agency's notices
    # nothing on these pages writes: no form but search and sign-out
    for url in ("/", "/listings"):
        assert 'method="post"' not in viewer.get(url).text.replace(
            '<form class="logout" method="post"', ""
        )


def test_signed_out_gets_401_and_the_login_page(web: WebClient):
    web.logout_cookies()
    assert web.get("/api/v1/dashboard").status_code == 401
    assert web.get("/api/v1/charts/revenue-by-category").status_code == 401
    front = web.get("/")  # the front door shows the sign-in form itself
    assert front.status_code == 200
    assert 'name="password"' in front.text
    assert "Revenue by category" not in front.text
