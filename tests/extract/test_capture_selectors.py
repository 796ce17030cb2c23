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


def test_crawled_pages_in_real_markup_give_their_selectors_where_seen(tmp_path):
    import tomli_w
    from aiohttp import web
    from tests.collect.harness import OnionSites, onion, site_app
    from tests.extract.test_selectors_real_text import KEY, WRAPPINGS

    from spector.collect import decode, read_stored

    host = onion("vendor-profile-in-real-markup")
    profile_page = (
        "<html><body><p><b>Jabber:</b> greenleaf&#64;exploit.im</p>"
        '<p>Old shop: <a href="http://silkroadvb5piz3r.onion/">silkroadvb5piz3r.onion</a></p>'
        f"{WRAPPINGS['br and entities'](KEY.armored)}</body></html>"
    )
    notes = "Telegram - @greenleaf_rx\nNightgames and fastgrowing outgoing parcels.\n"

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/":
            return web.Response(
                text='<a href="/profile">p</a> <a href="/notes.txt">n</a>', content_type="text/html"
            )
        if request.path == "/profile":
            return web.Response(text=profile_page, content_type="application/xhtml+xml")
        if request.path == "/notes.txt":
            return web.Response(text=notes, content_type="text/plain")
        return web.Response(status=404)

    site = {"name": "Profiles", "family": "forum", "hosts": [host]}
    site["start_urls"] = [f"http://{host}/"]
    path = tmp_path / "site.toml"
    path.write_text(tomli_w.dumps({"site": site}))
    root = tmp_path / "ws"
    Workspace.init(root).close()
    with OnionSites({host: site_app(handler)}) as sites:
        start_crawl(root, [path], proxy=sites.proxy_url)
    with Workspace.open(root, write=True) as ws:
        kinds = scan_captures(ws)
        rows = ws.store.con.execute(
            "SELECT s.kind, s.value, s.char_start, s.char_end, c.warc_file, c.warc_offset, "
            "c.content_type FROM selector_sightings s JOIN captures c ON c.id = s.capture_id"
        ).fetchall()
    assert dict(kinds) == {"xmpp": 1, "onion_v2": 2, "pgp_fingerprint": 1, "telegram": 1}
    seen = {}
    for kind, value, start, end, warc, offset, ctype in rows:
        page = decode(read_stored(root / warc, offset).body, ctype)
        seen.setdefault((kind, value), []).append(page[start:end])
    assert seen[("xmpp", "greenleaf@exploit.im")] == ["greenleaf&#64;exploit.im"]
    assert seen[("onion_v2", "silkroadvb5piz3r.onion")] == ["silkroadvb5piz3r.onion"] * 2
    (block,) = seen[("pgp_fingerprint", KEY.fingerprint)]
    assert block.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----<br />")
    assert seen[("telegram", "greenleaf_rx")] == ["greenleaf_rx"]
