"""The actors area: actor and account lists, an actor's package with the evidence of its
links, decisions (confirm / reject) from the API and the pages, the link chart."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from typing import Any

import pytest

from spector.resolve import actor_package, actor_rows
from spector.resolve._browse_graph import NODE_KINDS
from tests.web.harness import WebClient

XASA = "actor-dceb0b191af0"  # three accounts, one PGP key, fifteen clusters
CEKAKA = "actor-8d90a8cabf46"  # three accounts; its wallet paid exchanges directly
XASA_QB = "vendor_account-6c101de57d89fd36b001448f5f8c71cbfe680a45"  # 'xasa' on Quartz Bazaar
XASA_UNDERSCORE = "vendor_account-696946ee547f673f2ec02edcdd076581b0ba1989"  # 'xasa_', alone


def _all(client: WebClient, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a cursor list, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def _read(client: WebClient, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with client.app.state.web.workspace() as ws:
        return ws.store.con.execute(sql, params or []).fetchall()


def _viewer(client: WebClient, logins: dict[str, str]) -> None:
    """Sign ``client`` in as a new BKA viewer."""
    from spector.cases._who import create_user, login

    with client.app.state.web.session() as s:
        admin = login(s, "admin", logins["admin"])
        create_user(s, admin, agency="BKA", username="bka_viewer", password="viewer-password-1",
                    roles=["viewer"])  # fmt: skip
    client.logout_cookies()
    assert client.login("bka_viewer", "viewer-password-1").status_code == 303


# -- lists -------------------------------------------------------------------------------
def test_actor_list_pages_to_the_end_in_the_stage_order(analyst: WebClient):
    with analyst.app.state.web.workspace() as ws:
        expected = actor_rows(ws)
    items = _all(analyst, "/api/v1/actors", limit=4)
    assert [i["actor_id"] for i in items] == [r["actor_id"] for r in expected]
    first = items[0]
    stage = expected[0]
    for key in ("accounts", "markets", "handles", "account_ids"):
        assert first[key] == stage[key]
    assert {"label", "first_seen", "last_seen", "revenue_usd", "kinds"} <= set(first)


def test_actor_list_sorts_by_label_and_revenue(analyst: WebClient):
    by_label = _all(analyst, "/api/v1/actors", sort="label", limit=5)
    labels = [(i["label"] or "").lower() for i in by_label]
    assert labels == sorted(labels)
    assert len(by_label) == len({i["actor_id"] for i in by_label})
    down = _all(analyst, "/api/v1/actors", sort="-label", limit=5)
    assert [(i["label"] or "").lower() for i in down] == sorted(labels, reverse=True)
    money = _all(analyst, "/api/v1/actors", sort="-revenue", limit=3)
    values = [i["revenue_usd"] if i["revenue_usd"] is not None else -1 for i in money]
    assert values == sorted(values, reverse=True)
    assert values[0] > 0  # the demo's economics estimate gives revenue to its top actor


def test_actor_list_filters(analyst: WebClient):
    found = _all(analyst, "/api/v1/actors", q="XASA")
    assert found
    assert all(any("xasa" in (h or "").lower() for h in i["handles"]) for i in found)
    assert XASA in {i["actor_id"] for i in found}
    by_account = _all(analyst, "/api/v1/actors", q=XASA_QB)
    assert [i["actor_id"] for i in by_account] == [XASA]
    market = _all(analyst, "/api/v1/actors", market="Cobalt Hub")
    assert market
    assert all("Cobalt Hub" in i["markets"] for i in market)
    members = _all(analyst, "/api/v1/actors", kind="member")
    assert members
    assert all("member" in i["kinds"] for i in members)
    big = _all(analyst, "/api/v1/actors", min_accounts=3)
    held = _read(analyst, "SELECT actor_id FROM actor_accounts GROUP BY 1 HAVING count(*) >= 3")
    assert sorted(i["actor_id"] for i in big) == sorted(r[0] for r in held)


def test_actor_list_refuses_bad_input(analyst: WebClient):
    response = analyst.get("/api/v1/actors", params={"sort": "acounts"})
    assert response.status_code == 400
    assert "'accounts'" in response.json()["error"]["hint"]
    assert analyst.get("/api/v1/actors", params={"cursor": "!!"}).status_code == 400
    other = analyst.get("/api/v1/actors", params={"limit": 2}).json()["next_cursor"]
    wrong = analyst.get("/api/v1/actors", params={"cursor": other, "sort": "label"})
    assert wrong.status_code == 400  # a cursor of the accounts sort (a number) is not a label
    assert analyst.get("/api/v1/actors", params={"kind": "robot"}).status_code == 422
    assert analyst.get("/actors", params={"sort": "nope"}).status_code == 400


def test_actor_list_page(analyst: WebClient):
    page = analyst.get("/actors", params={"limit": 3})
    assert page.status_code == 200
    top = _all(analyst, "/api/v1/actors")[:3]
    ids = re.findall(r'href="/actors/(actor-[0-9a-f]+)"', page.text)
    assert ids == [t["actor_id"] for t in top]
    next_link = re.search(r'class="next" href="([^"]+)"', page.text)
    assert next_link is not None
    second = analyst.get(html.unescape(next_link[1]))
    assert re.findall(r'href="/actors/(actor-[0-9a-f]+)"', second.text)[0] not in ids
    assert 'aria-sort="descending"' in page.text  # the default sort, -accounts
    filtered = analyst.get("/actors", params={"q": "cek"})
    assert "cek4ka" in filtered.text
    assert "orbit_yufe" not in filtered.text


def test_account_list_pages_to_the_end(analyst: WebClient):
    items = _all(analyst, "/api/v1/vendor-accounts", limit=7)
    vendors = _read(analyst, "SELECT id FROM vendor_accounts")
    members = _read(analyst, "SELECT account_id FROM actor_accounts WHERE kind = 'member'")
    assert sorted(i["account_id"] for i in items) == sorted(r[0] for r in vendors + members)
    handles = [(i["handle"] or "").lower() for i in items]
    assert handles == sorted(handles)
    busy = _all(analyst, "/api/v1/vendor-accounts", sort="-listings", kind="vendor", limit=4)
    counts = [i["listings"] for i in busy]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > 0
    assert all(i["kind"] == "vendor" for i in busy)
    mine = _all(analyst, "/api/v1/vendor-accounts", actor=XASA)
    assert len(mine) == 3
    assert {i["actor_id"] for i in mine} == {XASA}
    page = analyst.get("/vendors", params={"q": "xasa"})
    assert page.status_code == 200
    assert f"/vendors/{XASA_QB}" in page.text


# -- an actor ----------------------------------------------------------------------------
def test_actor_api_is_the_package_plus_label_and_exchanges(analyst: WebClient):
    body = analyst.get(f"/api/v1/actors/{XASA}").json()
    with analyst.app.state.web.workspace() as ws:
        package = actor_package(ws, XASA)
    assert set(body) == set(package) | {"label", "exchanges"}
    for key in (
        "accounts",
        "links",
        "keys",
        "addresses",
        "selectors",
        "chain_clusters",
        "timeline",
    ):
        assert body[key] == package[key], key
    assert body["label"] == "Xasa"
    assert len(body["accounts"]) == 3
    assert body["revenue_usd"] == package["revenue_usd"]
    assert body["revenue_usd"] > 0


def test_unknown_actor_is_404_with_the_closest(analyst: WebClient):
    response = analyst.get("/api/v1/actors/actor-dceb0b191af1")
    assert response.status_code == 404
    assert XASA in response.json()["error"]["hint"]
    assert analyst.get("/actors/actor-nope").status_code == 404
    assert analyst.get("/api/v1/actors/actor-nope/links").status_code == 404
    assert analyst.get("/api/v1/actors/actor-nope/graph").status_code == 404
    assert analyst.get("/api/v1/vendor-accounts/vendor_account-nope").status_code == 404


def _independent_exchanges(client: WebClient, clusters: list[int]) -> dict[str, int]:
    """exchange -> satoshis the clusters paid it directly, computed in Python."""
    from spector.chain._query import ensure_views

    with client.app.state.web.workspace() as ws:
        ensure_views(ws)
        con = ws.store.con
        cluster_of = dict(con.execute("SELECT address, cluster_id FROM chain_clusters").fetchall())
        tagged: dict[int, str] = {}
        for address, key in con.execute(
            "SELECT address, coalesce(actor, label) FROM chain_tags WHERE category = 'exchange'"
        ).fetchall():
            if address in cluster_of:
                tagged[cluster_of[address]] = key
        spends = defaultdict(set)
        for txid, address in con.execute("SELECT txid, address FROM inputs").fetchall():
            spends[txid].add(cluster_of.get(address))
        paid: dict[str, int] = defaultdict(int)
        for txid, address, value in con.execute(
            "SELECT txid, address, value FROM outputs"
        ).fetchall():
            if not spends[txid] & set(clusters):
                continue
            to = cluster_of.get(address)
            if to in tagged and to not in clusters:
                paid[tagged[to]] += value
    return dict(paid)


def test_actor_exchanges_are_what_its_wallets_paid(analyst: WebClient):
    body = analyst.get(f"/api/v1/actors/{CEKAKA}").json()
    clusters = [c["cluster_id"] for c in body["chain_clusters"]]
    assert clusters
    got: dict[str, int] = defaultdict(int)
    for row in body["exchanges"]:
        assert row["cluster_id"] in clusters
        if row["via"] == "paid":
            got[row["exchange"]] += row["value_sat"]
    assert dict(got) == _independent_exchanges(analyst, clusters)
    assert set(got) == {"exchange-a", "exchange-b"}
    page = analyst.get(f"/actors/{CEKAKA}").text
    assert "Exchange A" in page
    assert "Exchange B" in page


def test_actor_page_shows_every_link_with_evidence_and_buttons(analyst: WebClient):
    page = analyst.get(f"/actors/{XASA}")
    assert page.status_code == 200
    links = _all(analyst, f"/api/v1/actors/{XASA}/links", limit=4)
    assert links
    assert len(links) == len({(x["a"], x["b"]) for x in links})
    scores = [x["score"] for x in links]
    assert scores == sorted(scores, reverse=True)
    drawn = [x for x in links if x["linked"]]
    assert len(drawn) == 3
    assert all(x["a_actor"] == x["b_actor"] == XASA for x in drawn)
    for link in links:
        for sentence in link["evidence"]:
            assert html.escape(sentence, quote=False) in page.text.replace("&#39;", "'")
    assert page.text.count('name="kind" value="confirm"') == len(links)
    assert 'data-graph-src="/api/v1/actors/actor-dceb0b191af0/graph"' in page.text
    assert 'data-graph-expand="/api/v1/graph/expand?node="' in page.text
    within = _all(analyst, f"/api/v1/actors/{XASA}/links", within=True)
    assert {(x["a"], x["b"]) for x in within} == {(x["a"], x["b"]) for x in drawn}
    undrawn = _all(analyst, f"/api/v1/actors/{XASA}/links", linked=False)
    assert len(undrawn) == len(links) - 3


def test_vendor_page_and_api(analyst: WebClient):
    body = analyst.get(f"/api/v1/vendor-accounts/{XASA_QB}").json()
    assert body["handle"] == "xasa"
    assert body["actor_id"] == XASA
    assert len(body["actor_accounts"]) == 2
    assert body["facts"]["pgp"] == body["pgp"]
    assert body["listings"] == len(body["recent_listings"]) == 3
    page = analyst.get(f"/vendors/{XASA_QB}")
    assert page.status_code == 200
    assert html.escape(body["profile_text"], quote=False) in page.text
    assert f'href="/actors/{XASA}"' in page.text
    for listing in body["recent_listings"]:
        assert f'href="/listings/{listing["id"]}"' in page.text
    links = _all(analyst, f"/api/v1/vendor-accounts/{XASA_QB}/links")
    assert links
    assert all(XASA_QB in (x["a"], x["b"]) for x in links)


# -- the chart ---------------------------------------------------------------------------
def _check_elements(body: dict[str, Any]) -> dict[str, dict[str, str]]:
    nodes = {n["data"]["id"]: n["data"] for n in body["nodes"]}
    assert len(nodes) == len(body["nodes"])
    for node_id, data in nodes.items():
        assert data["kind"] in NODE_KINDS
        assert node_id.startswith(data["kind"] + ":")
    edge_ids = [e["data"]["id"] for e in body["edges"]]
    assert len(edge_ids) == len(set(edge_ids))
    for edge in body["edges"]:
        assert edge["data"]["source"] in nodes
        assert edge["data"]["target"] in nodes
    return nodes


def test_actor_graph_has_accounts_keys_addresses_clusters_exchanges(analyst: WebClient):
    package = analyst.get(f"/api/v1/actors/{CEKAKA}").json()
    nodes = _check_elements(analyst.get(f"/api/v1/actors/{CEKAKA}/graph").json())
    kinds = {d["kind"] for d in nodes.values()}
    assert kinds == {"actor", "account", "btc", "cluster", "exchange"}  # cekaka shows no PGP key
    assert {f"account:{a['account_id']}" for a in package["accounts"]} <= set(nodes)
    assert {f"cluster:{c['cluster_id']}" for c in package["chain_clusters"]} <= set(nodes)
    assert {f"exchange:{x['exchange']}" for x in package["exchanges"]} <= set(nodes)
    xasa = _check_elements(analyst.get(f"/api/v1/actors/{XASA}/graph").json())
    assert "pgp:BE1AFC1A9506842FD053155AC743FCFB3F4253BC" in xasa


@pytest.mark.parametrize(
    "node",
    [
        f"account:{XASA_QB}",
        "pgp:BE1AFC1A9506842FD053155AC743FCFB3F4253BC",
        "exchange:exchange-a",
        f"actor:{XASA}",
    ],
)
def test_expand_answers_the_node_and_its_neighbours(analyst: WebClient, node: str):
    response = analyst.get("/api/v1/graph/expand", params={"node": node})
    assert response.status_code == 200
    nodes = _check_elements(response.json())
    assert node in nodes
    assert len(nodes) > 1
    assert any(node in (e["data"]["source"], e["data"]["target"]) for e in response.json()["edges"])


def test_expand_of_a_key_finds_every_account_showing_it(analyst: WebClient):
    fp = "BE1AFC1A9506842FD053155AC743FCFB3F4253BC"
    nodes = _check_elements(
        analyst.get("/api/v1/graph/expand", params={"node": f"pgp:{fp}"}).json()
    )
    holders = _read(
        analyst, "SELECT id FROM vendor_accounts WHERE list_contains(pgp_fingerprints, ?)", [fp]
    )
    assert {n for n in nodes if n.startswith("account:")} == {f"account:{r[0]}" for r in holders}


def test_expand_of_a_cluster_and_an_address(analyst: WebClient):
    package = analyst.get(f"/api/v1/actors/{CEKAKA}").json()
    cluster = package["chain_clusters"][0]
    nodes = _check_elements(
        analyst.get(
            "/api/v1/graph/expand", params={"node": f"cluster:{cluster['cluster_id']}"}
        ).json()
    )
    inside = _read(  # every known pay-to address (of any account) in the cluster
        analyst,
        "SELECT DISTINCT p.address FROM (SELECT unnest(CAST(json_extract(facts, '$.payto') AS "
        "VARCHAR[])) AS address FROM resolve_accounts) p JOIN chain_clusters c USING (address) "
        "WHERE c.cluster_id = ?",
        [cluster["cluster_id"]],
    )
    assert inside
    assert {f"btc:{r[0]}" for r in inside} == {n for n in nodes if n.startswith("btc:")}
    assert set(cluster["addresses"]) & {r[0] for r in inside}
    assert {f"exchange:{x['exchange']}" for x in package["exchanges"]
            if x["cluster_id"] == cluster["cluster_id"]} <= set(nodes)  # fmt: skip
    address = cluster["addresses"][0]
    nodes = _check_elements(
        analyst.get("/api/v1/graph/expand", params={"node": f"btc:{address}"}).json()
    )
    assert f"cluster:{cluster['cluster_id']}" in nodes
    assert any(n.startswith("account:") for n in nodes)


def test_expand_refuses_bad_and_unknown_nodes(analyst: WebClient):
    for node, status in (("robot:1", 400), ("cluster:x", 400), ("account:nope", 404),
                         ("cluster:999999999", 404), ("exchange:nowhere", 404),
                         ("pgp:00", 404), ("btc:1nowhere", 404)):  # fmt: skip
        response = analyst.get("/api/v1/graph/expand", params={"node": node})
        assert response.status_code == status, (node, response.text)
        assert response.json()["error"]["message"]


# -- decisions ---------------------------------------------------------------------------
def _actor_of(client: WebClient, account: str) -> str:
    return _read(client, "SELECT actor_id FROM actor_accounts WHERE account_id = ?", [account])[0][
        0
    ]


def test_confirm_through_the_api_joins_the_accounts(web_rw: WebClient, logins):
    web_rw.login("bka_analyst", logins["bka_analyst"])
    assert _actor_of(web_rw, XASA_QB) != _actor_of(web_rw, XASA_UNDERSCORE)
    response = web_rw.post(
        "/api/v1/links/confirm",
        json={"a": XASA_UNDERSCORE, "b": XASA_QB, "why": "same <b>seller</b>"},
        headers={"X-CSRF-Token": web_rw.csrf},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "confirm"
    assert body["who"] == "bka_analyst"
    assert body["applied"] is True
    assert sorted((body["a"], body["b"])) == sorted((XASA_QB, XASA_UNDERSCORE))
    now = _actor_of(web_rw, XASA_QB)
    assert body["actors"] == [now, now]
    assert _actor_of(web_rw, XASA_UNDERSCORE) == now
    links = _all(web_rw, f"/api/v1/vendor-accounts/{XASA_QB}/links")
    pair = next(x for x in links if {x["a"], x["b"]} == {XASA_QB, XASA_UNDERSCORE})
    assert pair["decided"] == "confirm"
    assert pair["linked"]
    assert not pair["pending"]
    assert pair["decision"]["who"] == "bka_analyst"
    assert pair["decision"]["why"] == "same <b>seller</b>"
    page = web_rw.get(f"/vendors/{XASA_QB}").text
    assert "same &lt;b&gt;seller&lt;/b&gt;" in page
    assert "same <b>seller" not in page


def test_reject_without_applying_is_pending(web_rw: WebClient, logins):
    web_rw.login("bka_analyst", logins["bka_analyst"])
    a, b = sorted([XASA_QB, "vendor_account-e0d73a441e04ac29b561a907b9f23b7bb4bff89f"])
    response = web_rw.post("/api/v1/links/reject", json={"a": a, "b": b, "apply": False},
                           headers={"X-CSRF-Token": web_rw.csrf})  # fmt: skip
    body = response.json()
    assert response.status_code == 200
    assert body["applied"] is False
    assert "next `spector resolve`" in body["line"]
    pair = next(
        x for x in _all(web_rw, f"/api/v1/actors/{XASA}/links") if (x["a"], x["b"]) == (a, b)
    )
    assert pair["decision"]["kind"] == "reject"
    assert pair["pending"]
    assert pair["linked"]
    again = web_rw.post("/api/v1/links/reject", json={"a": a, "b": b},
                        headers={"X-CSRF-Token": web_rw.csrf})  # fmt: skip
    assert again.json()["applied"] is True
    assert _actor_of(web_rw, a) != _actor_of(web_rw, b)


def test_decisions_refuse_bad_input(web_rw: WebClient, logins):
    web_rw.login("bka_analyst", logins["bka_analyst"])
    headers = {"X-CSRF-Token": web_rw.csrf}
    unknown = web_rw.post("/api/v1/links/confirm", json={"a": XASA_QB, "b": "vendor_account-6c1"},
                          headers=headers)  # fmt: skip
    assert unknown.status_code == 400
    assert "closest known" in unknown.json()["error"]["hint"]
    same = web_rw.post("/api/v1/links/confirm", json={"a": XASA_QB, "b": XASA_QB}, headers=headers)
    assert same.status_code == 400
    extra = web_rw.post("/api/v1/links/confirm", json={"a": XASA_QB, "b": XASA_UNDERSCORE, "x": 1},
                        headers=headers)  # fmt: skip
    assert extra.status_code == 422
    no_csrf = web_rw.post("/api/v1/links/confirm", json={"a": XASA_QB, "b": XASA_UNDERSCORE})
    assert no_csrf.status_code == 403
    assert _read(web_rw, "SELECT count(*) FROM resolve_decisions")[0][0] == 0


def test_the_decision_form_swaps_the_row_for_htmx(web_rw: WebClient, logins):
    web_rw.login("bka_analyst", logins["bka_analyst"])
    form = {"a": XASA_QB, "b": XASA_UNDERSCORE, "kind": "confirm", "why": "<i>x</i>",
            "back": f"/actors/{XASA}", "csrf": web_rw.csrf}  # fmt: skip
    row = web_rw.post("/actors/links/decide", data=form, headers={"HX-Request": "true"})
    assert row.status_code == 200, row.text
    text = row.text.strip()
    assert text.startswith("<tr")
    assert text.endswith("</tr>")
    assert "<html" not in text
    assert "decided-confirmed" in text
    assert "&lt;i&gt;x&lt;/i&gt;" in text
    now = _actor_of(web_rw, XASA_QB)
    assert f'href="/actors/{now}"' in text
    plain = web_rw.post(
        "/actors/links/decide", data=dict(form, kind="reject", back="//evil.example")
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == "/"
    assert _actor_of(web_rw, XASA_QB) != _actor_of(web_rw, XASA_UNDERSCORE)


def test_a_viewer_reads_but_may_not_decide(web_rw: WebClient, logins):
    _viewer(web_rw, logins)
    page = web_rw.get(f"/actors/{XASA}")
    assert page.status_code == 200
    assert "evidence" in page.text
    assert 'name="kind" value="confirm"' not in page.text
    assert "/actors/links/decide" not in page.text
    api = web_rw.post("/api/v1/links/confirm", json={"a": XASA_QB, "b": XASA_UNDERSCORE},
                      headers={"X-CSRF-Token": web_rw.csrf})  # fmt: skip
    assert api.status_code == 403
    assert api.json()["error"]["type"] == "AccessDenied"
    data = {"a": XASA_QB, "b": XASA_UNDERSCORE, "kind": "confirm", "csrf": web_rw.csrf}
    form = web_rw.post("/actors/links/decide", data=data)
    assert form.status_code == 403
    assert _read(web_rw, "SELECT count(*) FROM resolve_decisions")[0][0] == 0


def test_signed_out_is_401_and_login_redirect(web: WebClient):
    web.logout_cookies()
    assert web.get("/api/v1/actors").status_code == 401
    assert web.get(f"/api/v1/actors/{XASA}/graph").status_code == 401
    assert (
        web.post("/api/v1/links/confirm", json={"a": XASA_QB, "b": XASA_UNDERSCORE}).status_code
        == 401
    )
    assert web.get("/actors").status_code == 303


# -- hostile text ------------------------------------------------------------------------
PAYLOAD = (
    '<script>alert(1)</script><img src=x onerror=alert(2)></textarea><a href="javascript:alert(3)">'
)


def test_scraped_handles_and_profiles_are_escaped(web_rw: WebClient, logins):
    with web_rw.app.state.web.writing() as ws:
        ws.store.con.execute("UPDATE vendor_accounts SET handle = ?, profile_text = ? WHERE id = ?",
                             [PAYLOAD, PAYLOAD, XASA_QB])  # fmt: skip
        ws.store.con.execute(
            "UPDATE actor_accounts SET handle = ? WHERE account_id = ?", [PAYLOAD, XASA_QB]
        )
    web_rw.login("bka_analyst", logins["bka_analyst"])
    for url in (f"/vendors/{XASA_QB}", f"/actors/{XASA}", "/actors?q=script", "/vendors?q=script"):
        page = web_rw.get(url)
        assert page.status_code == 200, url
        for raw in ("<script>alert", "<img src=x", 'href="javascript:', "</textarea>"):
            assert raw not in page.text, (url, raw)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, url
    graph = web_rw.get(f"/api/v1/actors/{XASA}/graph").json()
    assert any(PAYLOAD in n["data"]["label"] for n in graph["nodes"])  # JSON: data, drawn as text
