"""Tags from our own data: vendors' pay-to addresses shown on pages (web_crawl, with the
capture) and markets' deposit addresses in seized orders (seized_data, with the import);
on records written by hand, and on the training range against its truth."""

from __future__ import annotations

import csv
import io
import json
from collections import deque
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import pyarrow.parquet as pq
import pytest
from tags_helpers import A1, A2, B1, D1, D2, F, Q, own_data, run, tag_rows

from spector.chain._tags_derive import derive_tags
from spector.chain._tags_import import import_packs


def test_vendor_payto_and_market_deposits(workspace):
    data = own_data(workspace)
    report = derive_tags(workspace)
    assert report.as_dict() == {
        "web_crawl": 3,
        "vendors": 2,
        "captures": 2,
        "shared": 1,
        "seized_data": 2,
        "markets": 1,
        "imports": 1,
        "replaced": 0,
    }
    rows = {(r["origin"], r["address"]): r for r in tag_rows(workspace.store.con)}
    assert set(rows) == {
        ("web_crawl", A1),
        ("web_crawl", A2),
        ("web_crawl", B1),
        ("seized_data", D1),
        ("seized_data", D2),
    }
    assert F not in {a for _, a in rows}
    assert Q not in {a for _, a in rows}
    alice_page, alice_again = data["pages"][0][0], data["pages"][1][0]
    a1 = rows["web_crawl", A1]
    assert (a1["label"], a1["category"], a1["confidence"], a1["confidence_level"]) == (
        "alice on Test Market",
        "user",
        "web_crawl",
        20,
    )
    # the capture it came from: the first one it was seen in; the context counts the rest
    assert (a1["origin_ref"], a1["source"]) == (alice_page.id, alice_page.url)
    context = json.loads(a1["context"])["spector"]
    assert (context["captures"], context["last_seen"]) == (2, alice_again.fetched_at.isoformat())
    assert (a1["subject_table"], a1["subject_id"]) == ("vendor_accounts", data["alice"].id)
    assert rows["web_crawl", B1]["subject_id"] == data["bob"].id  # from bob's listing page
    d1 = rows["seized_data", D1]
    assert (d1["label"], d1["category"], d1["confidence"], d1["confidence_level"]) == (
        "Test Market",
        "market",
        "seized_data",
        70,
    )
    assert (d1["origin_ref"], d1["subject_id"]) == ("seized:test-export", data["market"].id)
    assert json.loads(d1["context"])["spector"]["orders"] == 3
    assert all(r["is_cluster_definer"] for r in rows.values())


def test_derive_is_idempotent_and_leaves_packs_alone(workspace, shared_data):
    own_data(workspace)
    import_packs(workspace, [shared_data / "tags" / "hydra.yaml"])
    derive_tags(workspace)
    con = workspace.store.con
    before = sorted(r["tag_id"] for r in tag_rows(con))
    again = derive_tags(workspace)
    assert again.replaced == 5
    assert sorted(r["tag_id"] for r in tag_rows(con)) == before
    assert con.execute("SELECT count(*) FROM chain_tags WHERE origin = 'tagpack'").fetchone() == (
        117,
    )


def test_cli_derive(tmp_path, capsys):
    from spector.store import Workspace

    with Workspace.init(tmp_path / "ws") as ws:
        own_data(ws)
    code, out, _ = run(capsys, "chain", "tags", "derive", "-w", str(tmp_path / "ws"))
    assert code == 0
    assert out == (
        "derived 5 tags: 3 web_crawl (pay-to addresses of 2 vendor accounts, from 2 captures "
        "(1 addresses shown for several vendors left out)), 2 seized_data (deposit addresses "
        "of 1 markets, from 1 seized imports); 0 earlier derived tags replaced\n"
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from spector.sim._generate import generate

    out = tmp_path_factory.mktemp("range") / "tiny"
    truth = generate(7, "tiny", out)
    owners = {
        r["address"]: r for r in pq.read_table(out / "chain" / "addresses.parquet").to_pylist()
    }
    return out, truth, owners


def test_seized_orders_give_the_markets_deposit_addresses(tiny, workspace):
    from spector.extract._seized import import_seized

    out, truth, owners = tiny
    seized = truth["seized_export"]
    name = next(m["name"] for m in truth["markets"] if m["market_id"] == seized["market_id"])
    import_seized(workspace.store, out / seized["folder"], name)
    report = derive_tags(workspace)
    rows = tag_rows(workspace.store.con, "origin = 'seized_data'")
    with (out / seized["folder"] / "orders.csv").open(encoding="utf-8") as handle:
        payto = {r["payto_address"] for r in csv.DictReader(handle) if r["payto_address"]}
    assert report.seized_data == len(rows) == len(payto) > 0
    assert {r["address"] for r in rows} == payto
    assert {r["label"] for r in rows} == {name}
    # the range's truth: each is an address of that market
    assert {
        (owners[r["address"]]["owner_kind"], owners[r["address"]]["owner_id"]) for r in rows
    } == {("market", seized["market_id"])}


def _walletless_warc(out, path):
    """Every page of the range's walletless market reachable from its home page, rendered
    in-process and written as another crawler's WARC (what `spector import pages` reads)."""
    from selectolax.lexbor import LexborHTMLParser
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from spector.sim import EPOCH, load_range
    from spector.sim._generate import armored, pgp_for
    from spector.sim._sites import build_sites

    loaded = load_range(out)
    world, day = loaded.world, int(loaded.truth["day"])
    market = next(m for m in world.markets if m.family == "walletless")
    site = build_sites(world, armored(pgp_for(world)))[market.market_id]
    host = market.onions[0]
    when = (EPOCH + timedelta(days=day, hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        queue, seen = deque(["/"]), {"/"}
        while queue:
            here = queue.popleft()
            page = site.render(here, {}, day)
            if page.status != 200:
                continue
            url = f"http://{host}{here}"
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", page.content_type)], protocol="HTTP/1.1"
            )
            writer.write_record(
                writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(body := page.body.encode()),
                    length=len(body),
                    http_headers=headers,
                    warc_headers_dict={"WARC-Date": when},
                )
            )
            for node in LexborHTMLParser(page.body).css("a[href]"):
                link = urlsplit(urljoin(url, node.attributes.get("href") or ""))
                if (
                    link.hostname == host
                    and not link.query
                    and link.path not in seen
                    and not (link.path.startswith(("/logout", "/login", "/captcha")))
                ):
                    seen.add(link.path)
                    queue.append(link.path)
    return market, world


def test_payto_addresses_on_imported_pages_become_vendor_tags(tiny, workspace, tmp_path):
    from spector.collect import ImportOptions, import_pages
    from spector.extract._captures import scan_captures
    from spector.extract._rates import import_rates
    from spector.extract._run import extract_captures

    out, _, owners = tiny
    market, world = _walletless_warc(out, tmp_path / "pages.warc.gz")
    import_pages(
        workspace,
        [tmp_path / "pages.warc.gz"],
        ImportOptions(market=market.name, template="walletless"),
    )
    import_rates(workspace.store, out / "world" / "rates.parquet")
    assert extract_captures(workspace, processes=1).errors == 0
    scan_captures(workspace)
    report = derive_tags(workspace)
    rows = tag_rows(workspace.store.con, "origin = 'web_crawl'")
    accounts = {a.btc_payto: a for a in world.accounts if a.market_id == market.market_id}
    assert report.web_crawl == len(rows) >= 5
    for r in rows:
        account = accounts[r["address"]]  # a vendor's pay-to address, nothing else
        assert r["label"] == f"{account.handle} on {market.name}"
        assert r["source"].endswith(f"/store/{account.handle}")  # its vendor page
        vendor = workspace.store.con.execute(
            "SELECT handle FROM vendor_accounts WHERE id = ?", [r["subject_id"]]
        ).fetchone()
        assert vendor == (account.handle,)
        if r["address"] in owners:  # used on chain: the range's truth agrees
            assert owners[r["address"]]["owner_id"] == account.account_id
    assert report.shared == 0
