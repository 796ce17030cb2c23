"""Serving the range: onion sites behind a SOCKS5 proxy, as a crawler meets them."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import urllib.parse

import pytest

from spector.sim._range import RangeServer
from spector.sim._server import ServeOptions


@pytest.fixture(scope="module")
def served(tiny_range):
    out, truth = tiny_range
    with RangeServer(out) as server:
        yield server, truth


def curl(server, url, *extra):
    return subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "20",
            "--socks5-hostname",
            f"127.0.0.1:{server.socks_port}",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_curl_fetches_the_login_page_of_every_family(served):
    server, truth = served
    families = set()
    for market in truth["markets"]:
        for onion in market["onions"]:
            result = curl(server, f"http://{onion}/login")
            assert result.returncode == 0, result.stderr
            body, status = result.stdout.rsplit("\n", 1)
            assert status == "200"
            assert market["name"] in body
            assert 'id="captcha"' in body
        families.add(market["family"])
    assert families == {"escrow", "hydra", "walletless", "bots", "forum"}


def test_proxy_refuses_clearnet_and_unknown_onions(served):
    server, _ = served
    assert curl(server, "http://example.com/").returncode != 0
    assert curl(server, "http://127.0.0.1:80/").returncode != 0
    unknown = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
    assert curl(server, f"http://{unknown}/").returncode != 0
    assert server.proxy.stats["refused_clearnet"] >= 2
    assert server.proxy.stats["unknown_onion"] >= 1


def _login(server, truth, market, jar, onion=None):
    onion = onion or market["onions"][0]
    page = curl(server, f"http://{onion}/login", "-c", jar, "-b", jar).stdout
    cid = re.search(r'name="cid" value="([^"]+)"', page)[1]
    image = subprocess.run(
        [
            "curl",
            "-sS",
            "--socks5-hostname",
            f"127.0.0.1:{server.socks_port}",
            "-b",
            jar,
            f"http://{onion}/captcha/{cid}.png",
        ],
        capture_output=True,
        check=True,
    ).stdout
    answer = truth["captchas"][hashlib.sha256(image).hexdigest()]  # the "human" reads it
    form = urllib.parse.urlencode(
        {
            "username": market["login"]["username"],
            "password": market["login"]["password"],
            "captcha": answer,
            "cid": cid,
            "next": "/",
        }
    )
    return curl(server, f"http://{onion}/login", "-c", jar, "-b", jar, "--data", form)


def test_login_with_captcha_then_pages_and_day_changes(served, tmp_path):
    server, truth = served
    market = next(m for m in truth["markets"] if m["family"] == "escrow")
    onion = market["onions"][-1]  # a mirror serves the same site
    jar = str(tmp_path / "jar")
    assert curl(server, f"http://{onion}/").stdout.endswith("302")  # login first
    assert _login(server, truth, market, jar, onion).stdout.endswith("302")
    home = curl(server, f"http://{onion}/", "-b", jar).stdout
    assert home.endswith("200")
    assert "Categories" in home
    trap = curl(server, f"http://{onion}/calendar?month=2031-07", "-b", jar).stdout
    assert "/calendar?month=2031-08" in trap
    server.set_day(0)
    early = curl(server, f"http://{onion}/", "-b", jar).stdout
    server.set_day(truth["day"])
    assert early != home


def test_wrong_captcha_is_refused(served, tmp_path):
    server, truth = served
    market = truth["markets"][0]
    onion = market["onions"][0]
    jar = str(tmp_path / "jar")
    page = curl(server, f"http://{onion}/login", "-c", jar).stdout
    cid = re.search(r'name="cid" value="([^"]+)"', page)[1]
    form = urllib.parse.urlencode(
        {
            "username": market["login"]["username"],
            "password": market["login"]["password"],
            "captcha": "WRONG",
            "cid": cid,
        }
    )
    result = curl(server, f"http://{onion}/login", "-b", jar, "--data", form).stdout
    assert "Wrong captcha" in result
    assert result.endswith("200")


def test_sessions_expire_and_rate_limits_apply(tiny_range, tmp_path):
    out, truth = tiny_range
    options = ServeOptions(day=truth["day"], session_requests=3, rate_per_second=0.001, burst=2)
    with RangeServer(out, options) as server:
        market = next(m for m in truth["markets"] if m["family"] == "bots")
        jar = str(tmp_path / "jar")
        _login(server, truth, market, jar)
        onion = market["onions"][0]
        codes = [curl(server, f"http://{onion}/bots", "-b", jar).stdout[-3:] for _ in range(3)]
        assert codes == ["200", "200", "429"]
        assert "Retry-After: 1" in curl(server, f"http://{onion}/bots", "-b", jar, "-i").stdout
        server.options.rate_per_second = 0
        codes = [curl(server, f"http://{onion}/bots", "-b", jar).stdout[-3:] for _ in range(2)]
        assert codes == ["200", "302"]  # the third counted request: expired, back to login


def test_malformed_socks_and_http_are_survived(served):
    server, truth = served
    with socket.create_connection(("127.0.0.1", server.socks_port), timeout=5) as s:
        s.sendall(b"\x04\x01garbage")
        assert s.recv(10) == b""  # closed on us
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=5) as s:
        s.sendall(b"NONSENSE / HTTP/9.9\r\n\x00\x01\r\n\r\n")
        assert b" 400 Bad Request" in s.recv(100)
    assert server.proxy.stats["malformed"] >= 1
    onion = truth["markets"][0]["onions"][0]
    assert curl(server, f"http://{onion}/login").stdout.endswith("200")  # still serving


def test_serve_command_prints_ready_and_stops_on_sigterm(tiny_range):
    import signal
    import sys

    out, truth = tiny_range
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from spector.cli import run; run()",
            "sim",
            "serve",
            str(out),
            "--socks-port",
            "0",
            "--day",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"ready socks5h://127\.0\.0\.1:\d+", line), line
        port = int(line.rsplit(":", 1)[1])
        onion = truth["markets"][0]["onions"][0]
        result = subprocess.run(
            ["curl", "-sS", "--socks5-hostname", f"127.0.0.1:{port}", f"http://{onion}/login"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert truth["markets"][0]["name"] in result.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
