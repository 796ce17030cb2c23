"""Zero requests outside the allow-list under a battery of leak tricks served by a test site."""

from __future__ import annotations

import socket

import pytest
import tomli_w
from aiohttp import web
from tests.collect.harness import OnionSites, onion, site_app

from spector.collect import start_crawl
from spector.errors import ProxyError
from spector.store import Workspace

HOME, EVIL, MIRROR = onion("home"), onion("evil"), onion("mirror")

TRICKS = f"""<!DOCTYPE html><html><head>
<base href="http://{EVIL}/">
<meta http-equiv="refresh" content="0; url=http://{EVIL}/refresh">
<link rel="stylesheet" href="/style.css"><script src="/app.js"></script>
</head><body>
<a href="/page2">relative, resolved against a hostile base: must not go to evil</a>
<a href="http://{EVIL}/absolute">absolute</a>
<a href="//{EVIL}/protocol-relative">protocol-relative</a>
<a href="http://{HOME}@{EVIL}/userinfo">user-info</a>
<a href="http://{HOME}\\@{EVIL}/backslash">backslash</a>
<a href="http://{EVIL}#{HOME}">fragment</a>
<a href="http://127.0.0.1:9050/">loopback</a><a href="http://localhost/">localhost</a>
<a href="http://93.184.216.34/">ip</a><a href="https://example.com/">clearnet</a>
<a href="file:///etc/passwd">file</a><a href="ftp://{HOME}/x">ftp</a>
<a href="http://{HOME}:8080/port">port</a>
<a href="/media/photo.jpg">image link</a><a href="/download?id=7">disguised image</a>
<img src="/img/inline.png"><video src="/v/clip.mp4"></video><iframe src="http://{EVIL}/frame"></iframe>
<form action="http://{EVIL}/order" method="post"><input name="x"></form>
<a href="/redirect-out">redirect out</a><a href="/redirect-in">redirect in</a>
<a href="/logout">logout</a>
<a href="http://{MIRROR}/via-mirror">a mirror in the allow-list</a>
</body></html>"""


def _home(request: web.Request, media_hits: list[str]) -> web.Response:
    path = request.path
    if path == "/":
        return web.Response(text=TRICKS, content_type="text/html")
    if path == "/redirect-out":
        raise web.HTTPFound(f"http://{EVIL}/redirected")
    if path == "/redirect-in":
        raise web.HTTPFound("/landing")
    if path == "/download":
        return web.Response(body=b"\x89PNG fake", content_type="image/png")
    if path.startswith(("/img/", "/v/", "/media/")) or path.endswith((".css", ".js")):
        media_hits.append(path)
        return web.Response(body=b"media", content_type="application/octet-stream")
    return web.Response(text=f"<html><body>{path}</body></html>", content_type="text/html")


def test_no_request_leaves_the_allow_list(tmp_path, monkeypatch):
    evil_hits: list[str] = []
    media_hits: list[str] = []

    async def home(request):
        return _home(request, media_hits)

    async def evil(request):
        evil_hits.append(request.path)
        return web.Response(text="gotcha")

    home_app = site_app(home)
    apps = {HOME: home_app, MIRROR: home_app, EVIL: site_app(evil)}
    # Any name resolved on this machine is a leak: only loopback connections are allowed.
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            lookups.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    profile = tmp_path / "home.toml"
    profile.write_text(
        tomli_w.dumps(
            {"site": {"name": "home", "hosts": [HOME, MIRROR], "start_urls": [f"http://{HOME}/"]}}
        )
    )
    Workspace.init(tmp_path / "ws").close()
    with OnionSites(apps) as sites:
        summary = start_crawl(tmp_path / "ws", [profile], proxy=sites.proxy_url)
        connects = sites.proxy.stats
    assert evil_hits == []
    assert media_hits == []
    assert lookups == []
    assert connects["refused_clearnet"] == 0
    assert connects["unknown_onion"] == 0
    with Workspace.open(tmp_path / "ws") as ws:
        urls = {r[0] for r in ws.store.con.execute("SELECT url FROM captures").fetchall()}
        reasons = ws.store.con.execute("SELECT url, reason FROM captures").fetchall()
        kinds = dict(ws.store.con.execute("SELECT url, record_type FROM captures").fetchall())
    assert urls == {
        f"http://{HOME}/",
        f"http://{HOME}/page2",
        f"http://{HOME}/redirect-out",
        f"http://{HOME}/redirect-in",
        f"http://{HOME}/landing",
        f"http://{HOME}/download?id=7",
        f"http://{MIRROR}/via-mirror",
    }
    assert (
        dict(reasons)[f"http://{HOME}/download?id=7"]
        == "media refused by its declared type image/png; body not kept"
    )
    assert kinds[f"http://{HOME}/download?id=7"] == "refused"
    refused = summary["refused"]
    for reason in (
        "host",
        "user-info",
        "backslash in URL (parser confusion trick)",
        "scheme ftp is not http(s)",
        "scheme file is not http(s)",
        "port 8080",
        "media (the profile allows none)",
        "denied by the profile",
    ):
        assert any(key.startswith(reason) for key in refused), (reason, refused)


@pytest.mark.parametrize(
    "proxy",
    [
        "http://127.0.0.1:8080",
        "socks4://127.0.0.1:9050",
        "socks5://127.0.0.1:9050",  # resolves names locally: a DNS leak
        "socks5h://127.0.0.1",  # no port
        "socks5h://user:pw@127.0.0.1:9050",  # the credentials are the isolation token's
    ],
)
def test_only_a_socks5h_proxy_is_accepted(tmp_path, proxy):
    profile = tmp_path / "p.toml"
    profile.write_text(
        tomli_w.dumps({"site": {"name": "x", "hosts": [HOME], "start_urls": [f"http://{HOME}/"]}})
    )
    Workspace.init(tmp_path / "ws").close()
    with pytest.raises(ProxyError, match="socks5h://HOST:PORT"):
        start_crawl(tmp_path / "ws", [profile], proxy=proxy)
    assert not (tmp_path / "ws" / "collect.sqlite").exists()  # refused before any run began
