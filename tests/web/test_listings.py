"""Markets and listings: search, filters, sorting, keyset pages, detail pages, errors."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest

from tests.web.harness import WebClient

SORTS = ("title", "price_usd", "category", "ships_from", "vendor", "market",
         "first_seen", "last_seen")  # fmt: skip


def _sql(client: WebClient, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with client.app.state.web.workspace() as ws:
        return ws.store.con.execute(sql, params or []).fetchall()


def _all(client: WebClient, url: str) -> tuple[list[dict[str, Any]], int, int]:
    """Every item of a paged API list (items, the total it reported, pages read)."""
    items: list[dict[str, Any]] = []
    cursor, pages, total = None, 0, -1
    while True:
        sep = "&" if "?" in url else "?"
        response = client.get(url + (f"{sep}cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        total = body.get("total", total)
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, total, pages
        assert pages < 100


def _expected_order(items: list[dict[str, Any]], key: str, descending: bool) -> list[str]:
    present = [i for i in items if i[key] is not None]
    absent = [i for i in items if i[key] is None]
    present.sort(key=lambda i: (i[key], i["id"]), reverse=descending)
    absent.sort(key=lambda i: i["id"], reverse=descending)
    return [i["id"] for i in present + absent]


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_pages_through_every_listing_once_in_order(analyst: WebClient, sort: str):
    (count,) = _sql(analyst, "SELECT count(*) FROM listings")[0]
    for name in (sort, "-" + sort):
        items, total, pages = _all(analyst, f"/api/v1/listings?limit=7&sort={name}")
        ids = [i["id"] for i in items]
        assert len(ids) == len(set(ids)) == total == count
        assert pages == -(-count // 7)
        assert ids == _expected_order(items, sort, name.startswith("-"))


def test_listing_json_has_the_store_values(analyst: WebClient):
    lid, title, price_usd, market, handle = _sql(
        analyst,
        "SELECT l.id, l.title, CAST(l.price_usd AS DOUBLE), m.name, v.handle FROM listings l "
        "JOIN markets m ON m.id = l.market_id JOIN vendor_accounts v ON v.id = l.vendor_id "
        "ORDER BY l.id LIMIT 1",
    )[0]
    item = analyst.get(f"/api/v1/listings/{lid}").json()
    assert (item["title"], item["price_usd"], item["market"], item["vendor"]) == (
        title, price_usd, market, handle,
    )  # fmt: skip
    assert {"history", "sources", "feedback", "url", "feedback_count"} <= set(item)
    assert {h["prop"] for h in item["history"]} >= {"title", "price"}


FILTERS = [
    ("category=drugs", "l.category LIKE 'drugs.%' OR l.category = 'drugs'"),
    ("category=fraud.bots", "l.category = 'fraud.bots'"),
    ("ships_from=fr", "l.ships_from = 'FR'"),
    ("price_min=20&price_max=60", "l.price_usd BETWEEN 20 AND 60"),
    ("q=BLOTTER", "lower(l.title) LIKE '%blotter%'"),
    ("q=100%25", "l.title LIKE '%100\\%%' ESCAPE '\\'"),
    ("vendor=orbit_yufe", "v.handle ILIKE '%orbit_yufe%'"),
    ("category=drugs&ships_from=ES&price_max=100",
     "l.category LIKE 'drugs.%' AND l.ships_from = 'ES' AND l.price_usd <= 100"),
]  # fmt: skip


@pytest.mark.parametrize(("params", "where"), FILTERS)
def test_filters_find_what_sql_finds(analyst: WebClient, params: str, where: str):
    expected = {
        r[0]
        for r in _sql(
            analyst,
            "SELECT l.id FROM listings l LEFT JOIN vendor_accounts v ON v.id = l.vendor_id "
            f"WHERE {where}",
        )
    }
    items, total, _ = _all(analyst, f"/api/v1/listings?limit=5&{params}")
    assert {i["id"] for i in items} == expected
    assert total == len(expected)
    if params.startswith(("category=drugs", "ships_from", "price", "q=BL")):
        assert expected, "the demo should have listings for this filter"


def test_market_and_vendor_id_and_dates_filter(analyst: WebClient):
    market_id, vendor_id, first = _sql(
        analyst, "SELECT market_id, vendor_id, first_seen FROM listings ORDER BY id LIMIT 1"
    )[0]
    (n_market,) = _sql(analyst, "SELECT count(*) FROM listings WHERE market_id = ?", [market_id])[0]
    (n_vendor,) = _sql(analyst, "SELECT count(*) FROM listings WHERE vendor_id = ?", [vendor_id])[0]
    assert analyst.get(f"/api/v1/listings?market={market_id}").json()["total"] == n_market
    assert analyst.get(f"/api/v1/listings?vendor={vendor_id}").json()["total"] == n_vendor
    (count,) = _sql(analyst, "SELECT count(*) FROM listings")[0]
    day = first.date()
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    assert analyst.get(f"/api/v1/listings?seen_to={before}").json()["total"] == 0
    assert analyst.get(f"/api/v1/listings?seen_from={after}").json()["total"] == 0
    assert analyst.get(f"/api/v1/listings?seen_from={day}&seen_to={day}").json()["total"] == (
        _sql(analyst, "SELECT count(*) FROM listings WHERE CAST(first_seen AS DATE) <= ? "
             "AND CAST(last_seen AS DATE) >= ?", [day, day])[0][0]
    )  # fmt: skip
    assert count > 0


BAD = [
    ("price_min=abc", "price_min"),
    ("price_min=50&price_max=10", "price_min"),
    ("sort=colour", "sort"),
    ("category=drugz", "drugs"),
    ("ships_from=QQ", "ships_from"),
    ("seen_from=2024-13-01", "seen_from"),
    ("seen_from=2024-02-01&seen_to=2024-01-01", "seen_from"),
    ("cursor=!!!", "cursor"),
]


@pytest.mark.parametrize(("params", "named"), BAD)
def test_bad_input_is_400_naming_the_field(analyst: WebClient, params: str, named: str):
    page = analyst.get(f"/listings?{params}")
    assert page.status_code == 400
    assert named in unescape(page.text)
    if not params.startswith(("price_min=abc", "seen_from=2024-13")):  # typed in the API
        api = analyst.get(f"/api/v1/listings?{params}")
        assert api.status_code == 400
        assert named in api.json()["error"]["message"]


def test_a_cursor_of_another_sort_is_refused(analyst: WebClient):
    cursor = analyst.get("/api/v1/listings?limit=2&sort=title").json()["next_cursor"]
    response = analyst.get(f"/api/v1/listings?limit=2&sort=-price_usd&cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("cursor")
    markets = analyst.get(f"/api/v1/markets?cursor={cursor}")
    assert markets.status_code == 400


def test_unknown_ids_are_404(analyst: WebClient):
    for url in ("/api/v1/listings/listing-nope", "/api/v1/markets/market-nope"):
        response = analyst.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "NotFound"
    for url in ("/listings/listing-nope", "/markets/market-nope"):
        assert analyst.get(url).status_code == 404


def test_signed_out_is_401_and_a_redirect(web: WebClient):
    web.logout_cookies()
    for url in ("/api/v1/listings", "/api/v1/markets", "/api/v1/listings/x", "/api/v1/markets/x"):
        assert web.get(url).status_code == 401
    page = web.get("/listings?q=x")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")


def _rows(html: str) -> list[str]:
    return re.findall(r'<a href="/listings/([^"]+)">', html)


def test_listings_page_filters_sorts_and_pages(analyst: WebClient):
    (count,) = _sql(analyst, "SELECT count(*) FROM listings")[0]
    first = analyst.get("/listings?sort=price_usd")
    assert first.status_code == 200
    assert f"{count} listings found" in first.text
    seen = _rows(first.text)
    assert len(seen) == 50
    next_url = unescape(re.search(r'<a class="next" href="([^"]+)"', first.text)[1])
    assert "sort=price_usd" in next_url
    second = analyst.get(next_url)
    seen += _rows(second.text)
    assert 'class="next"' not in second.text
    assert len(seen) == len(set(seen)) == count
    api_ids, _, _ = _all(analyst, "/api/v1/listings?sort=price_usd&limit=500")
    assert seen == [i["id"] for i in api_ids]
    # the column we sort by links to the other direction
    assert 'aria-sort="ascending"><a href="/listings?sort=-price_usd"' in first.text


def test_listings_page_keeps_the_filters_in_the_form(analyst: WebClient):
    page = analyst.get("/listings?category=drugs.stimulants&ships_from=FR&price_max=100")
    assert '<option value="drugs.stimulants" selected>' in page.text
    assert '<option value="FR" selected>' in page.text
    assert 'name="price_max" inputmode="decimal" value="100"' in page.text
    (n,) = _sql(
        analyst,
        "SELECT count(*) FROM listings WHERE category = 'drugs.stimulants' AND ships_from = 'FR'"
        " AND price_usd <= 100",
    )[0]
    assert f"{n} listing" in page.text
    assert len(_rows(page.text)) == n
    sort_link = re.search(r'<a href="([^"]+sort=title)">Title', page.text)[1]
    assert unescape(sort_link) == (
        "/listings?category=drugs.stimulants&ships_from=FR&price_max=100&sort=title"
    )


def test_listing_page_shows_the_listing_and_its_feedback(analyst: WebClient):
    lid, title, url, text = _sql(
        analyst,
        "SELECT l.id, l.title, l.url, f.text FROM listings l JOIN feedback f "
        "ON f.listing_id = l.id ORDER BY l.id LIMIT 1",
    )[0]
    page = analyst.get(f"/listings/{lid}")
    assert page.status_code == 200
    html = unescape(page.text)
    assert title in html
    assert text in html
    assert url in html
    assert f'href="{url}' not in page.text  # a scraped URL is text, never a link
    assert "/vendors/vendor_account-" in page.text


def test_market_page_and_json(analyst: WebClient):
    market_id, name = _sql(analyst, "SELECT id, name FROM markets WHERE status = 'seized'")[0]
    (n,) = _sql(analyst, "SELECT count(*) FROM listings WHERE market_id = ?", [market_id])[0]
    (caps,) = _sql(
        analyst,
        "SELECT count(*) FROM captures c, markets m "
        "WHERE m.id = ? AND list_contains(m.onions, c.host)",
        [market_id],
    )[0]
    body = analyst.get(f"/api/v1/markets/{market_id}").json()
    assert (body["name"], body["listings"], body["captures"], body["status"]) == (
        name, n, caps, "seized",
    )  # fmt: skip
    assert sum(c["listings"] for c in body["categories"]) == n
    assert body["crawl"]
    assert body["crawl"][0]["site"] == name
    assert body["revenue"]["revenue_usd"] > 0
    assert body["top_vendors"]
    assert all(v["vendor_id"] for v in body["top_vendors"])
    page = analyst.get(f"/markets/{market_id}")
    assert page.status_code == 200
    assert name in page.text
    assert "seized" in page.text
    assert f'href="/listings?market={market_id}"' in page.text
    for onion in body["onions"]:
        assert onion in page.text
        assert f'href="http://{onion}' not in page.text


def test_markets_api_pages_to_the_end(analyst: WebClient):
    names = [r[0] for r in _sql(analyst, "SELECT name FROM markets ORDER BY name, id")]
    items, _, pages = _all(analyst, "/api/v1/markets?limit=2")
    assert [i["name"] for i in items] == names
    assert pages == -(-len(names) // 2)
    assert all("crawl" in i and "last_capture" in i for i in items)


XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'</textarea>"


def test_scraped_text_is_escaped_everywhere(web_rw: WebClient, logins):
    state = web_rw.app.state.web
    with state.writing() as ws:
        lid, vid, mid = ws.store.con.execute(
            "SELECT id, vendor_id, market_id FROM listings ORDER BY id LIMIT 1"
        ).fetchone()
        ws.store.con.execute("UPDATE listings SET title = ?, url = ? WHERE id = ?",
                             [XSS, "javascript:alert(3)", lid])  # fmt: skip
        ws.store.con.execute("UPDATE vendor_accounts SET handle = ? WHERE id = ?", [XSS, vid])
        ws.store.con.execute("UPDATE markets SET name = ? WHERE id = ?", [XSS, mid])
        ws.store.con.execute(
            "UPDATE feedback SET text = ? WHERE id = (SELECT min(id) FROM feedback)", [XSS]
        )
    assert web_rw.login("bka_analyst", logins["bka_analyst"]).status_code == 303
    for url in ("/listings", f"/listings/{lid}", f"/markets/{mid}", "/", "/listings?q=%3Cscript"):
        html = web_rw.get(url).text
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert 'href="javascript:' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    assert web_rw.get("/api/v1/listings?q=%3Cscript").json()["items"][0]["title"] == XSS
