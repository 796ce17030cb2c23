"""The chain area: search, blocks, transactions, addresses, clusters with why-merged,
saved traces (list, result, edges table, Cytoscape elements) and running a trace."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.harness import WebClient, copy_demo, open_client

EVIL = '<script>alert("tag")</script><img src=x onerror=alert(1)>'
TRACE = "web-trace"
PATH = "web-path"


def _prepare(ws_root: Path) -> dict[str, Any]:
    """On a copy of the demo: a hostile tag on a vendor's address, a saved trace from
    that address and a saved path search; what the tests need to know about them."""
    from spector.chain._trace import trace
    from spector.chain._trace_path import path
    from spector.chain._trace_store import save
    from spector.store import Workspace

    ws = Workspace.open(ws_root, write=True)
    try:
        con = ws.store.con
        source = con.execute(
            "SELECT t.address FROM chain_tags t JOIN chain_clusters c USING (address) "
            "WHERE t.category = 'user' ORDER BY t.address LIMIT 1"
        ).fetchall()[0][0]
        con.execute(
            "CREATE TEMP TABLE evil AS SELECT * FROM chain_tags WHERE address = ? LIMIT 1",
            [source],
        )
        con.execute("UPDATE evil SET tag_id = 'evil-tag', label = ?", [EVIL])
        con.execute("INSERT INTO chain_tags SELECT * FROM evil")
        result = trace(ws, source, hops=6).as_dict()
        save(ws, TRACE, result)
        save(ws, PATH, path(ws, [source], ["category:exchange"], hops=8))
        big = con.execute(
            "SELECT cluster_id, count(*) FROM chain_clusters GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
        ).fetchall()[0]
        members = [
            r[0]
            for r in con.execute(
                "SELECT c.address FROM chain_clusters c JOIN cluster_addresses a USING (address) "
                "WHERE c.cluster_id = ? ORDER BY a.address_id",
                [big[0]],
            ).fetchall()
        ]
        other = con.execute(
            "SELECT address FROM chain_clusters WHERE cluster_id <> ? ORDER BY address LIMIT 1",
            [big[0]],
        ).fetchall()[0][0]
        txid = con.execute(
            "SELECT txid FROM txs WHERE input_count > 1 AND output_count > 1 ORDER BY height, idx "
            "LIMIT 1"
        ).fetchall()[0][0]
    finally:
        ws.close()
    return {"source": source, "trace": result, "cluster": big[0], "size": big[1],
            "members": members, "other": other, "txid": txid}  # fmt: skip


@pytest.fixture(scope="module")
def world(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = copy_demo(demo_template, tmp_path_factory.mktemp("chain") / "ws")
    info = _prepare(root)
    info["root"] = root
    return info


@pytest.fixture(scope="module")
def client(world: dict[str, Any], logins: dict[str, str]) -> Iterator[WebClient]:
    """Signed in as bka_analyst, on the prepared copy; ``client.viewer`` is a bearer token
    of a BKA viewer."""
    from sqlalchemy import select

    from spector.cases import create_user, issue_token, principal_of
    from spector.cases._who_models import User

    with open_client(world["root"]) as c:
        with c.app.state.web.session() as s:
            admin = principal_of(s, s.scalar(select(User.id).where(User.username == "admin")))
            create_user(s, admin, agency="BKA", username="chain_viewer",
                        password="viewer password 1", roles=["viewer"])  # fmt: skip
            c.viewer = issue_token(s, admin, username="chain_viewer", days=1)  # type: ignore[attr-defined]
        assert c.login("bka_analyst", logins["bka_analyst"]).status_code == 303
        yield c


def _all(client: WebClient, url: str, limit: int, **headers: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    sep = "&" if "?" in url else "?"
    for _ in range(1000):
        page = client.get(
            f"{url}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""), headers=headers
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ran out")


def _bearer(client: WebClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.viewer}"}  # type: ignore[attr-defined]


# -- search, blocks, transactions -------------------------------------------------------


def test_search_box_goes_to_the_right_page(client: WebClient, world):
    cases = {
        "100": "/chain/block/100",
        f"cluster:{world['cluster']}": f"/chain/cluster/{world['cluster']}",
        world["txid"].upper(): f"/chain/tx/{world['txid']}",
        f" {world['source']} ": f"/chain/address/{world['source']}",
    }
    for q, where in cases.items():
        response = client.get("/chain", params={"q": q})
        assert response.status_code == 303, q
        assert response.headers["location"] == where
        api = client.get("/api/v1/chain/search", params={"q": q}).json()
        assert api["url"] == where
    bad = client.get("/chain", params={"q": "<b>not a thing</b>"})
    assert bad.status_code == 400
    assert "&lt;b&gt;not a thing&lt;/b&gt;" in bad.text
    assert "<b>not a thing" not in bad.text
    assert client.get("/chain", params={"q": "ab" * 32}).status_code == 404
    assert client.get("/api/v1/chain/search", params={"q": "ab" * 32}).status_code == 404


def test_chain_home_shows_status_and_largest_clusters(client: WebClient, world):
    page = client.get("/chain")
    assert page.status_code == 200
    assert "regtest" in page.text
    assert 'name="q"' in page.text
    assert f'href="/chain/cluster/{world["cluster"]}"' in page.text
    assert f'href="/chain/traces/{TRACE}"' in page.text
    status = client.get("/api/v1/chain/status").json()
    assert status["network"] == "regtest"
    assert status["blocks"] == status["tip_height"] + 1
    assert status["tables"]["txs"]["rows"] > 0


def test_block_page_and_its_transactions(client: WebClient):
    head = client.get("/api/v1/chain/block/102").json()
    assert head["height"] == 102
    assert len(head["hash"]) == 64
    assert client.get(f"/api/v1/chain/block/{head['hash']}").json()["height"] == 102
    txs = _all(client, "/api/v1/chain/block/102/txs", 1)
    assert [t["idx"] for t in txs] == list(range(head["tx_count"]))
    assert txs[0]["coinbase"] is True
    page = client.get("/chain/block/102")
    assert all(f'href="/chain/tx/{t["txid"]}"' in page.text for t in txs)
    assert client.get("/api/v1/chain/block/999999").status_code == 404
    assert client.get("/api/v1/chain/block/xyz").status_code == 400
    assert client.get("/chain/block/999999").status_code == 404
    assert client.get("/api/v1/chain/block/" + "9" * 30).status_code == 400  # not a BIGINT
    assert client.get("/api/v1/chain/block/%C2%B2").status_code == 400  # a digit, not ASCII
    huge = "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwXQ"  # [1e22] as a cursor
    assert client.get(f"/api/v1/chain/block/102/txs?cursor={huge}").status_code == 400


def test_tx_page_and_api(client: WebClient, world):
    from spector.chain._query import tx

    body = client.get(f"/api/v1/chain/tx/{world['txid']}").json()
    assert body["txid"] == world["txid"]
    assert len(body["inputs"]) == body["input_count"]
    assert len(body["outputs"]) == body["output_count"]
    assert sum(o["value"] for o in body["outputs"]) == body["output_value"]
    assert body["input_value"] - body["output_value"] == body["fee"]
    assert all(i["cluster_id"] is not None for i in body["inputs"] if i["address"])
    with client.app.state.web.workspace() as ws:
        assert set(tx(ws, world["txid"])) <= set(body)  # the stage's keys, and more
    page = client.get(f"/chain/tx/{world['txid']}")
    for o in body["outputs"]:
        assert f"{o['value'] / 1e8:,.8f}" in page.text
        if o["address"]:
            assert f'href="/chain/address/{o["address"]}"' in page.text
    for i in body["inputs"]:
        assert f'href="/chain/cluster/{i["cluster_id"]}"' in page.text
    assert client.get("/api/v1/chain/tx/" + "0" * 64).status_code == 404
    assert client.get("/api/v1/chain/tx/nothex").json()["error"]["type"] == "InputError"
    assert client.get("/chain/tx/" + "0" * 64).status_code == 404


# -- addresses -------------------------------------------------------------------------


def test_address_movements_page_through_to_the_total(client: WebClient, world):
    info = client.get(f"/api/v1/chain/address/{world['source']}").json()
    assert info["received"] - info["spent"] == info["balance"]
    moves = _all(client, f"/api/v1/chain/address/{world['source']}/movements", 3)
    assert len(moves) == info["output_count"] + info["input_count"]
    keys = [(m["height"], m["txid"], m["direction"], m["n"]) for m in moves]
    assert len(set(keys)) == len(keys)
    assert keys == sorted(keys, key=lambda k: (-k[0], k[1], k[2], k[3]))
    assert sum(m["value"] for m in moves if m["direction"] == "received") == info["received"]
    assert info["cluster_id"] is not None
    bad = client.get(f"/api/v1/chain/address/{world['source']}/movements?cursor=WzFd")
    assert bad.status_code == 400


def test_address_page_escapes_hostile_tags(client: WebClient, world):
    page = client.get(f"/chain/address/{world['source']}")
    assert page.status_code == 200
    assert html.escape(EVIL, quote=False) in page.text.replace("&#34;", '"')
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert 'href="/chain/cluster/' in page.text
    tags = client.get(f"/api/v1/chain/address/{world['source']}").json()["tags"]
    assert EVIL in [t["label"] for t in tags]


def test_address_errors(client: WebClient):
    assert client.get("/api/v1/chain/address/notanaddress").status_code == 400
    unused = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"  # valid, never paid
    assert client.get(f"/api/v1/chain/address/{unused}").status_code == 404
    assert client.get(f"/chain/address/{unused}").status_code == 404


# -- clusters --------------------------------------------------------------------------


def test_cluster_members_page_through_to_the_size(client: WebClient, world):
    ref = world["cluster"]
    info = client.get(f"/api/v1/chain/cluster/{ref}").json()
    assert info["cluster_id"] == ref
    assert info["size"] == world["size"]
    assert client.get(f"/api/v1/chain/cluster/cluster:{ref}").json()["cluster_id"] == ref
    by_member = client.get(f"/api/v1/chain/cluster/{world['members'][-1]}").json()
    assert by_member["cluster_id"] == ref
    members = _all(client, f"/api/v1/chain/cluster/{ref}/members", 7)
    assert [m["address"] for m in members] == world["members"]
    ids = [m["address_id"] for m in members]
    assert ids == sorted(set(ids))
    page = client.get(f"/chain/cluster/{ref}")
    assert page.status_code == 200
    assert f"Cluster {ref}" in page.text
    assert page.text.count('href="/chain/address/') >= min(50, world["size"])
    nxt = re.search(r'href="([^"]+)" rel="next"', page.text)
    assert (nxt is not None) == (world["size"] > 50)
    if nxt is not None:
        second = client.get(html.unescape(nxt[1]))
        assert world["members"][50] in second.text
        assert world["members"][49] not in second.text


def test_largest_clusters_are_in_size_order(client: WebClient, world):
    rows = _all(client, "/api/v1/chain/clusters", 50)
    sizes = [(-r["size"], r["cluster_id"]) for r in rows]
    assert sizes == sorted(sizes)
    assert len({r["cluster_id"] for r in rows}) == len(rows)
    assert rows[0]["cluster_id"] == world["cluster"]
    assert rows[0]["size"] == world["size"]
    assert (
        sum(r["size"] for r in rows)
        == client.get("/api/v1/chain/status").json()["tables"]["addresses"]["rows"]
    )


def test_cluster_errors(client: WebClient):
    assert client.get("/api/v1/chain/cluster/999999999").status_code == 404
    assert client.get("/api/v1/chain/cluster/%3Cx%3E").status_code == 400
    assert client.get("/chain/cluster/999999999").status_code == 404


def test_why_merged_walks_from_a_to_b(client: WebClient, world):
    a, b = world["members"][0], world["members"][-1]
    body = client.get("/api/v1/chain/why-merged", params={"a": a, "b": b}).json()
    assert body["a"] == a
    assert body["b"] == b
    assert body["cluster_id"] == world["cluster"]
    steps = body["merges"]
    assert steps, "two members of a cluster are linked by at least one merge"
    here = a
    for step in steps:  # each merge shares an address with the one before
        assert here in step["addresses"]
        here = next(x for x in step["addresses"] if x != here)
    assert here == b
    page = client.get(f"/chain/cluster/{world['cluster']}", params={"a": a, "b": b})
    assert page.status_code == 200
    path = page.text.split('class="merge-path"', 1)[1].split("</ol>", 1)[0]
    assert path.count("<li>") == len(steps)
    assert all(f"/chain/tx/{s['txid']}" in path for s in steps if s["txid"])
    same = client.get("/api/v1/chain/why-merged", params={"a": a, "b": a}).json()
    assert same["merges"] == []


def test_why_merged_refuses_two_clusters(client: WebClient, world):
    a = world["members"][0]
    response = client.get("/api/v1/chain/why-merged", params={"a": a, "b": world["other"]})
    assert response.status_code == 400
    assert "not one cluster" in response.json()["error"]["message"]
    page = client.get(f"/chain/cluster/{world['cluster']}", params={"a": a, "b": world["other"]})
    assert page.status_code == 400
    assert "not one cluster" in page.text
    assert 'id="why-merged"' in page.text  # the form stays, with the message
    unused = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    assert client.get("/api/v1/chain/why-merged", params={"a": a, "b": unused}).status_code == 404
    assert client.get("/api/v1/chain/why-merged", params={"a": a}).status_code == 422


# -- saved traces ----------------------------------------------------------------------


def test_traces_list_pages_filters_and_sorts(client: WebClient):
    rows = _all(client, "/api/v1/chain/traces", 1)
    assert {r["name"] for r in rows} >= {TRACE, PATH}
    assert len(rows) == len({r["name"] for r in rows})
    names = [r["name"] for r in _all(client, "/api/v1/chain/traces?sort=name", 1)]
    assert names == sorted(names)
    totals = [r["total_sat"] or -1 for r in _all(client, "/api/v1/chain/traces?sort=-total", 1)]
    assert totals == sorted(totals, reverse=True)
    only = client.get("/api/v1/chain/traces", params={"kind": "path"}).json()["items"]
    assert [r["name"] for r in only] == [PATH]
    found = client.get("/api/v1/chain/traces", params={"q": "WEB-TR"}).json()["items"]
    assert [r["name"] for r in found] == [TRACE]
    assert client.get("/api/v1/chain/traces?sort=size").status_code == 400
    assert client.get("/api/v1/chain/traces?cursor=!!").status_code == 400
    page = client.get("/chain/traces", params={"kind": "path"})
    assert f'href="/chain/traces/{PATH}"' in page.text
    assert f'/chain/traces/{TRACE}"' not in page.text


def test_trace_result_and_edges_table(client: WebClient, world):
    saved = world["trace"]
    body = client.get(f"/api/v1/chain/traces/{TRACE}").json()
    assert body["source"] == world["source"]
    assert body["total_sat"] == saved["total_sat"]
    assert body["edges"] == saved["edges"]
    assert body["reached"] == saved["reached"]
    edges = _all(client, f"/api/v1/chain/traces/{TRACE}/edges", 2)
    assert edges == saved["edges"]  # the stored order: time, txid, from, to
    page = client.get(f"/chain/traces/{TRACE}")
    assert page.status_code == 200
    table = page.text.split('class="trace-edges"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == len(saved["edges"]) + 1  # + the header
    for e in saved["edges"]:
        assert f"{e['amount_sat'] / 1e8:,.8f}" in table
    for r in saved["reached"]:
        assert html.escape(r["label"]) in page.text
    graph = re.search(
        r'<div class="cy" data-graph-src="([^"]+)" data-graph-layout="([^"]+)"', page.text
    )
    assert graph
    assert graph[1] == f"/api/v1/chain/traces/{TRACE}/graph"
    assert graph[2] == "breadthfirst"
    path_page = client.get(f"/chain/traces/{PATH}")
    assert path_page.status_code == 200
    assert "Path search" in path_page.text
    assert client.get("/api/v1/chain/traces/nope").status_code == 404
    assert client.get("/api/v1/chain/traces/nope/edges").status_code == 404
    assert client.get("/chain/traces/nope").status_code == 404


def test_trace_graph_is_the_flow_with_amounts(client: WebClient, world):
    saved = world["trace"]
    g = client.get(f"/api/v1/chain/traces/{TRACE}/graph").json()
    assert g["truncated"] is False
    ids = {n["data"]["id"] for n in g["nodes"]}
    assert ids == {n["id"] for n in saved["nodes"]}
    assert len(g["edges"]) == len(saved["edges"]) == g["edge_count"]
    for e in g["edges"]:
        assert e["data"]["source"] in ids
        assert e["data"]["target"] in ids
        assert e["data"]["label"] == f"{e['data']['amount_sat'] / 1e8:.8f} BTC"
    assert sum(e["data"]["amount_sat"] for e in g["edges"]) == sum(
        e["amount_sat"] for e in saved["edges"]
    )
    kinds = {n["data"]["id"]: n["data"]["kind"] for n in g["nodes"]}
    assert kinds[world["source"]] == "source"
    for r in saved["reached"]:
        for a in r["addresses"]:
            if a in kinds:
                assert kinds[a] == "service"
    assert len({e["data"]["id"] for e in g["edges"]}) == len(g["edges"])


def test_trace_graph_keeps_the_largest_flows_when_cut():
    from spector.chain._browse import trace_elements

    nodes = [{"id": "s", "roles": ["source"]}] + [{"id": f"n{i}", "roles": []} for i in range(9)]
    edges = [
        {"from": "s", "to": f"n{i}", "txid": f"t{i}", "amount_sat": (i + 1) * 100, "rule": "fifo"}
        for i in range(9)
    ]
    g = trace_elements({"nodes": nodes, "edges": edges}, max_nodes=4)
    assert g["truncated"] is True
    assert g["node_count"] == 10
    assert g["edge_count"] == 9
    assert {n["data"]["id"] for n in g["nodes"]} == {"s", "n8", "n7", "n6"}
    assert [e["data"]["amount_sat"] for e in g["edges"]] == [900, 800, 700]


# -- who may do what -------------------------------------------------------------------


def test_a_viewer_reads_but_may_not_run_a_trace(client: WebClient, world):
    viewer = _bearer(client)
    assert client.get(f"/api/v1/chain/traces/{TRACE}/graph", headers=viewer).status_code == 200
    assert client.get(f"/api/v1/chain/tx/{world['txid']}", headers=viewer).status_code == 200
    body = {"name": "viewer-try", "source": [world["source"]]}
    refused = client.post("/api/v1/chain/traces", json=body, headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "AccessDenied"
    names = [r["name"] for r in _all(client, "/api/v1/chain/traces", 50)]
    assert "viewer-try" not in names


def test_signed_out_pages_redirect_and_api_refuses(client: WebClient, world, logins):
    client.logout_cookies()
    try:
        assert client.get(f"/chain/traces/{TRACE}").status_code == 303
        assert client.get(f"/api/v1/chain/traces/{TRACE}").status_code == 401
        assert client.get("/api/v1/chain/why-merged?a=x&b=y").status_code == 401
    finally:
        assert client.login("bka_analyst", logins["bka_analyst"]).status_code == 303


def test_an_analyst_runs_and_saves_a_trace(web_rw: WebClient, logins, world):
    web_rw.login("bka_analyst", logins["bka_analyst"])
    body = {"name": "api-run", "source": [world["source"]], "hops": 3, "policy": "fifo"}
    made = web_rw.post("/api/v1/chain/traces", json=body, headers={"X-CSRF-Token": web_rw.csrf})
    assert made.status_code == 201, made.text
    row = made.json()
    assert row["name"] == "api-run"
    assert row["policy"] == "fifo"
    assert row["hops"] == 3
    again = web_rw.post("/api/v1/chain/traces", json=body, headers={"X-CSRF-Token": web_rw.csrf})
    assert again.status_code == 400
    assert "already saved" in again.json()["error"]["message"]
    bad = {**body, "name": "../etc"}
    assert web_rw.post("/api/v1/chain/traces", json=bad,
                       headers={"X-CSRF-Token": web_rw.csrf}).status_code == 400  # fmt: skip
    listing = web_rw.get("/chain/traces")
    assert 'action="/chain/traces"' in listing.text  # the form, for an analyst
    form = {"csrf": web_rw.csrf, "name": "form-run", "source": world["source"],
            "policy": "haircut", "direction": "forward", "hops": "2"}  # fmt: skip
    response = web_rw.post("/chain/traces", data=form)
    assert response.status_code == 303
    assert response.headers["location"] == "/chain/traces/form-run"
    shown = web_rw.get("/chain/traces/form-run")
    assert shown.status_code == 200
    assert world["source"] in shown.text
    assert web_rw.post("/chain/traces", data={**form, "csrf": "wrong"}).status_code == 403
