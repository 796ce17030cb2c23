"""Hostile responses: bounded memory and time, recorded with a reason, the crawl goes on."""

from __future__ import annotations

import asyncio
import gzip

import tomli_w
from aiohttp import web
from tests.collect.harness import OnionSites, onion, site_app

from spector.collect import CrawlOptions, state_for
from spector.collect._crawler import Crawler
from spector.collect._profile import load_profile
from spector.store import Workspace

HOST = onion("hostile")
CAP = 64 * 1024
LINKS = ["/huge", "/bomb", "/latin1", "/truncated", "/loop/1", "/slow", "/malformed", "/ok"]


async def hostile(request: web.Request) -> web.StreamResponse:
    path = request.path
    if path == "/":
        links = "".join(f'<a href="{u}">{u}</a>' for u in LINKS)
        return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")
    if path == "/huge":  # 50 MB announced and streamed
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(50 * 16):
            await response.write(b"<p>" + b"x" * 65530 + b"</p>")
        return response
    if path == "/bomb":  # 100 MB of zeros in a 100 kB gzip body
        body = gzip.compress(b"\0" * (100 << 20), compresslevel=9)
        return web.Response(
            body=body, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
        )
    if path == "/latin1":  # declares UTF-8, sends Latin-1 and nonsense bytes
        return web.Response(
            body="<a href='/ok2'>café ñ</a>".encode("latin-1") + b"\xff\xfe\x80",
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
    if path == "/truncated":
        response = web.StreamResponse(
            headers={"Content-Type": "text/html", "Content-Length": "100000"}
        )
        await response.prepare(request)
        await response.write(b"<html><body>only part")
        request.transport.close()
        return response
    if path.startswith("/loop/"):  # endless chain of redirects, each to a new URL
        n = int(path.rsplit("/", 1)[1])
        raise web.HTTPFound(f"/loop/{n + 1}")
    if path == "/slow":  # slow-loris: a byte every half second, for ever
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(10_000):
            await response.write(b"x")
            await asyncio.sleep(0.5)
        return response
    if path == "/malformed":
        return web.Response(
            text="<html><body><a href='/ok3'><div><<<>>>\0<table><a href=", content_type="text/html"
        )
    return web.Response(text=f"<html><body>{path}</body></html>", content_type="text/html")


def test_hostile_responses_are_bounded_and_recorded(tmp_path):
    profile = tmp_path / "hostile.toml"
    profile.write_text(
        tomli_w.dumps(
            {
                "site": {
                    "name": "hostile",
                    "hosts": [HOST],
                    "start_urls": [f"http://{HOST}/"],
                    "max_body_bytes": CAP,
                    "max_depth": 12,
                }
            }
        )
    )
    Workspace.init(tmp_path / "ws").close()
    root = tmp_path / "ws"
    with OnionSites({HOST: site_app(hostile)}) as sites:
        state = state_for(root)
        run_id = state.new_run(sites.proxy_url, [str(profile)], 0)
        options = CrawlOptions(proxy=sites.proxy_url, deadline=3.0, max_attempts=2)
        summary = asyncio.run(Crawler(root, [load_profile(profile)], options, state, run_id).run())
        state.close()
    assert summary["failed"] == {}
    with Workspace.open(root) as ws:
        rows = {
            r[0].split(".onion", 1)[1]: r[1:]
            for r in ws.store.con.execute(
                "SELECT url, status, reason, record_type, warc_file FROM captures"
            ).fetchall()
        }
    assert rows["/huge"][1] == "body cut at the size cap"
    assert rows["/bomb"][1] == "body cut at the size cap"
    assert rows["/truncated"][1] == "connection lost mid-body"
    assert rows["/slow"][1] == "body cut at the time limit"
    assert rows["/latin1"][0] == 200
    assert "/ok2" in rows  # its link was still read
    assert rows["/malformed"][0] == 200
    assert "/ok3" in rows
    loops = [p for p in rows if p.startswith("/loop/")]
    assert 1 < len(loops) <= 13  # the redirect chain ends at max_depth
    assert rows["/ok"][0] == 200  # the crawl went on
    for warc in (root / "warc").glob("*.warc.gz"):  # nothing stored past the cap
        assert warc.stat().st_size < 20 * CAP
