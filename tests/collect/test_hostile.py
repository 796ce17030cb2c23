"""Hostile responses: bounded memory and time, recorded with a reason, the crawl goes on;
a body cut short keeps what was received, marked truncated, with the hash of what was
kept; look-alike hosts never reach the proxy, and no name is ever resolved here."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import socket
import zlib

import tomli_w
from aiohttp import web
from tests.collect.harness import onion
from tests.collect.hostile_site import HostileSites, captures, crawl, payload

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
    with HostileSites({HOST: hostile}) as sites:
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
    # what was received is kept, marked truncated, and its digest is of what was kept
    kept = captures(root)
    for path in ("/huge", "/bomb", "/truncated", "/slow"):
        assert kept[path]["truncated"] is True, path
        assert kept[path]["sha256"] == hashlib.sha256(payload(root, kept[path])).hexdigest()
    assert payload(root, kept["/truncated"]) == b"<html><body>only part"
    assert payload(root, kept["/huge"]) == (b"<p>" + b"x" * 65530 + b"</p>")[:CAP]
    slow = payload(root, kept["/slow"])
    assert slow == b"x" * len(slow)
    assert 1 <= len(slow) <= 8  # a byte every half second for the 3 s deadline
    bomb = payload(root, kept["/bomb"])  # gzip as transferred, cut where it inflated to CAP
    assert set(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(bomb)) == {0}
    assert all(kept[p]["truncated"] is False for p in ("/", "/ok", "/latin1", "/malformed"))
    bounds = summary["bounds"]["hostile"]
    assert bounds["max_body_bytes"] == {
        "max": CAP,
        "hits": 2,
        "example": bounds["max_body_bytes"]["example"],
    }
    assert bounds["deadline"]["hits"] == 1
    assert bounds["deadline"]["example"].endswith("/slow")
    assert bounds["max_depth"]["max"] == 12  # the redirect loop


EVIL = onion("evil")
LOOK_ALIKES = [f"x{HOST}", f"{HOST}.{EVIL}", f"{HOST.removesuffix('.onion')}.evil.onion", EVIL]


async def tricky(request: web.Request) -> web.Response:
    if request.path != "/":
        return web.Response(text="<html>ok</html>", content_type="text/html")
    links = [f"http://{h}/" for h in LOOK_ALIKES]
    links += [
        "http://127.0.0.1:9050/",
        "http://[::1]/",
        "http://localhost/",
        "https://example.com/",
    ]
    links += [f"http://{HOST}@{EVIL}/", f"//{EVIL}/x", "/fine"]
    body = "".join(f'<a href="{u}">{u}</a>' for u in links)
    return web.Response(
        text=f"<html><head><base href='http://{EVIL}/'></head><body>{body}</body></html>",
        content_type="text/html",
    )


def test_look_alike_hosts_never_reach_the_proxy_and_no_name_is_resolved(tmp_path, monkeypatch):
    real = socket.getaddrinfo
    lookups: list[str] = []

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            lookups.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    profile = {"site": {"name": "tricky", "hosts": [HOST], "start_urls": [f"http://{HOST}/"]}}
    with HostileSites({HOST: tricky, EVIL: tricky}) as sites:
        root, summary = crawl(tmp_path, [profile], sites)
        log = list(sites.log)
    assert lookups == []
    assert set(captures(root)) == {"/", "/fine"}
    # every request the proxy saw: a CONNECT, by name, to the site, on port 80
    assert log
    assert {(r.command, r.address_type, r.host, r.port) for r in log} == {
        ("connect", "name", HOST, 80)
    }
    state = state_for(root)
    try:
        refused = {r[0] for r in state.db.execute("SELECT url FROM refusals").fetchall()}
    finally:
        state.close()
    for host in LOOK_ALIKES:
        assert f"http://{host}/" in refused, host
    for host in LOOK_ALIKES:
        assert summary["refused"][f"host {host}"] >= 1, host
