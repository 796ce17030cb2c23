"""`spector serve` and the demo's serving, as real processes on loopback (the contract:
`GET /` answers a login page with the security headers, `GET /api/v1/cases` without a
token 401; the demo prints `UI: http://127.0.0.1:PORT/ (login: USER / PASSWORD)`)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.web.harness import copy_demo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )


def _wait_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 120.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    seen = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matching {pattern!r}; output:\n{''.join(seen)}")


def _wait_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def ws(demo_template: Path, tmp_path: Path) -> Path:
    return copy_demo(demo_template, tmp_path / "ws")


def test_spector_serve_answers_a_login_page_and_401_without_a_token(ws: Path):
    port = _free_port()
    spector = str(Path(sys.executable).with_name("spector"))
    proc = _start([spector, "serve", "--workspace", str(ws), "--port", str(port)])
    try:
        _wait_up(f"http://127.0.0.1:{port}/healthz")
        home = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True)
        assert home.status_code == 200
        assert 'name="password"' in home.text
        csp = home.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert home.headers["x-content-type-options"] == "nosniff"
        assert home.headers["referrer-policy"] == "no-referrer"
        cases = httpx.get(f"http://127.0.0.1:{port}/api/v1/cases")
        assert cases.status_code == 401
    finally:
        _stop(proc)
    assert proc.returncode in (0, -signal.SIGINT, 130)


def test_serve_refuses_a_port_in_use(ws: Path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        spector = str(Path(sys.executable).with_name("spector"))
        done = subprocess.run(
            [spector, "serve", "--workspace", str(ws), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert f"127.0.0.1:{port} is in use" in done.stderr


def test_the_demo_serves_and_its_printed_login_works(ws: Path):
    port = _free_port()
    code = (
        "import sys; from pathlib import Path; from spector.cli._demo_web import serve_demo; "
        f"serve_demo(Path({str(ws)!r}), port={port})"
    )
    proc = _start([sys.executable, "-c", code])
    try:
        found = _wait_line(proc, r"UI: (http://127\.0\.0\.1:(\d+)/) \(login: (\S+) / (\S+)\)")
        url, user, password = found[1], found[3], found[4]
        assert int(found[2]) == port
        _wait_up(url + "healthz")
        with httpx.Client(base_url=url) as client:
            form = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token is not None
            signed = client.post(
                "/login", data={"username": user, "password": password, "csrf": token[1]}
            )
            assert signed.status_code == 303
            assert client.get("/api/v1/me").json()["username"] == user
    finally:
        _stop(proc)
