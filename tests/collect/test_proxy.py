"""The proxy: only socks5h://HOST:PORT; a missing, silent or vanishing proxy stops the crawl
at once with one `error:` line (exit 2) and leaves it resumable; a server that accepts
and never answers fails that request within its timeout."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import tomli_w
from aiohttp import web
from tests.collect.harness import onion
from tests.collect.hostile_site import HostileSites, Raw, captures, crawl, payload, read_request

from spector.cli import main
from spector.collect import CrawlOptions, resume_crawl, start_crawl, state_for
from spector.collect._socks import ProxyAddress, parse_proxy
from spector.errors import ProxyError
from spector.store import Workspace

HOME, STALL = onion("proxy-home"), onion("proxy-stall")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_parse_proxy():
    assert parse_proxy("socks5h://127.0.0.1:9050") == ProxyAddress("127.0.0.1", 9050)
    assert parse_proxy("SOCKS5H://tor.local:9150/") == ProxyAddress("tor.local", 9150)
    with pytest.raises(ProxyError, match="DNS leak"):
        parse_proxy("socks5://127.0.0.1:9050")
    for bad in (
        "socks5h://127.0.0.1",
        "socks5h://127.0.0.1:x",
        "socks5h://:9050",
        "127.0.0.1:9050",
    ):
        with pytest.raises(ProxyError, match="socks5h://HOST:PORT"):
            parse_proxy(bad)


def _profile(tmp_path, host=HOME, **site) -> object:
    path = tmp_path / "p.toml"
    table = {"name": "p", "hosts": [host], "start_urls": [f"http://{host}/"], **site}
    path.write_text(tomli_w.dumps({"site": table}))
    return path


def test_a_missing_proxy_is_one_error_line_and_exit_2(tmp_path, capsys):
    Workspace.init(tmp_path / "ws").close()
    port = _free_port()  # nothing listens there
    args = ["crawl", "start", str(_profile(tmp_path)), "--proxy", f"socks5h://127.0.0.1:{port}"]
    assert main([*args, "-w", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert "\n" not in err
    assert f"no usable SOCKS proxy at socks5h://127.0.0.1:{port}" in err
    assert "start Tor" in err
    assert not (tmp_path / "ws" / "collect.sqlite").exists()  # no run was begun


@pytest.mark.timeout(60)  # without a greeting timeout this would hang for ever
def test_a_silent_proxy_stops_the_crawl(tmp_path):
    Workspace.init(tmp_path / "ws").close()
    with HostileSites({HOME: _pages}, silent=True) as sites:
        with pytest.raises(ProxyError, match="did not answer the greeting in time"):
            start_crawl(
                tmp_path / "ws",
                [_profile(tmp_path)],
                proxy=sites.proxy_url,
                options=CrawlOptions(probe_timeout=1.0),
            )
        assert sites.proxy is not None
        assert sites.proxy.greetings == 1


async def _pages(request: web.Request) -> web.Response:
    await asyncio.sleep(0.02)
    n = int(request.path.strip("/") or -1) + 1
    links = "".join(f'<a href="/{n * 5 + k}">x</a>' for k in range(5) if n * 5 + k < 60)
    return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")


def test_a_proxy_that_goes_away_stops_the_crawl_at_once_and_resume_finishes(tmp_path):
    root = tmp_path / "ws"
    Workspace.init(root).close()
    profile = _profile(tmp_path, concurrency=2)
    with HostileSites({HOME: _pages}) as sites:

        def kill_after(pages: int) -> None:
            while len(sites.requests) < pages:
                time.sleep(0.005)
            sites.kill()

        killer = threading.Thread(target=kill_after, args=(12,), daemon=True)
        killer.start()
        with pytest.raises(ProxyError, match=r"the crawl stopped.*spector crawl resume"):
            start_crawl(root, [profile], proxy=sites.proxy_url)
        killer.join(5)
    state = state_for(root)
    try:
        run = state.last_run()
        statuses = dict(
            state.db.execute("SELECT status, count(*) FROM frontier GROUP BY status").fetchall()
        )
    finally:
        state.close()
    assert run is not None
    assert run["status"] == "stopped"
    assert statuses.get("failed", 0) == 0  # nothing was given up: the rest waits for resume
    assert statuses.get("queued", 0) > 0
    before = captures(root)
    assert 0 < len(before) < 61
    assert all(c["record_type"] == "response" for c in before.values())
    with HostileSites({HOME: _pages}) as again:
        summary = resume_crawl(root, proxy=again.proxy_url)
    assert summary["failed"] == {}
    after = captures(root)
    assert set(after) == {"/", *(f"/{n}" for n in range(60))}


async def _stalling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _, path = await read_request(reader)
    if path == "/":
        page = b'<a href="/stall">s</a><a href="/stall-body">b</a>'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(page) + page)
        await writer.drain()
        return
    if path == "/stall-body":  # headers and a little body, then nothing
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n"
        writer.write(head + b"<html>" + b"y" * 94)
    await writer.drain()
    await reader.read()  # never answer (/stall) or never finish, until the client gives up


def test_a_stalled_header_read_fails_within_its_timeout(tmp_path):
    profile = {
        "site": {
            "name": "stall",
            "hosts": [STALL],
            "start_urls": [f"http://{STALL}/"],
            "timeout": 1.0,
        }
    }
    options = CrawlOptions(max_attempts=2)  # the overall deadline stays at 120 s
    with HostileSites({STALL: Raw(_stalling)}) as sites:
        root, summary = crawl(tmp_path, [profile], sites, options)
        log = [r for r in sites.log if r.command == "connect" and r.sent > 0]
    rows = captures(root)
    assert summary["failed"] == {}
    assert rows["/stall"]["record_type"] == "error"
    assert rows["/stall"]["reason"] == "no response headers within 1 s"
    # the body that stalled after 100 bytes: cut by the read timeout, its bytes kept
    assert rows["/stall-body"]["truncated"] is True
    assert payload(root, rows["/stall-body"]) == b"<html>" + b"y" * 94
    # every connection that carried a request ended about its timeout after it began:
    # /, two attempts at /stall, one at /stall-body (kept, not retried)
    assert len(log) >= 4
    for request in log:
        assert request.closed is not None
        lifetime = request.closed - request.opened
        assert lifetime < 3.0, lifetime  # not the 120 s deadline, not 60 s of httpx
    stalls = sorted(r.closed - r.opened for r in log)[-3:]
    assert all(life >= 0.9 for life in stalls), stalls  # they did wait their timeout
