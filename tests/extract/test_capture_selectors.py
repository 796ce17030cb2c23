"""Selectors from crawled pages: what the range shows is what the store holds, with where."""

from __future__ import annotations

import pyarrow.parquet as pq
from tests.collect.harness import Human

from spector.collect import start_crawl
from spector.extract._captures import scan_captures
from spector.sim import RangeServer, generate
from spector.store import Workspace


def test_walletless_payto_addresses_and_keys_are_found(tmp_path):
    out = tmp_path / "range"
    truth = generate(7, "tiny", out)
    market = next(m for m in truth["markets"] if m["family"] == "walletless")
    root = tmp_path / "ws"
    Workspace.init(root).close()
    with RangeServer(out) as server, Human(root, truth["captchas"]):
        start_crawl(root, [out / market["profile"]], proxy=server.proxy_url)
    with Workspace.open(root, write=True) as ws:
        first = scan_captures(ws)
        counts = ws.store.counts()
        again = scan_captures(ws)
        assert ws.store.counts() == counts  # idempotent
        found = set(ws.store.con.execute("SELECT kind, value FROM selectors").fetchall())
        sightings = ws.store.con.execute(
            "SELECT count(*) FROM selector_sightings WHERE capture_id IS NOT NULL "
            "AND char_end > char_start"
        ).fetchone()[0]
    assert first == again
    assert sightings == counts["selector_sightings"] > 0
    listings = pq.read_table(out / "world" / "listings.parquet").to_pylist()
    live = {
        x["account_id"]
        for x in listings
        if x["market_id"] == market["market_id"] and x["start_day"] <= truth["day"] < x["end_day"]
    }
    accounts = [
        a
        for a in pq.read_table(out / "world" / "accounts.parquet").to_pylist()
        if a["account_id"] in live
    ]
    assert accounts
    for account in accounts:
        assert ("btc_address", account["btc_payto"]) in found
        assert ("xmr_address", account["xmr_payto"]) in found
        if account["pgp_fingerprint"]:
            assert ("pgp_fingerprint", account["pgp_fingerprint"]) in found
