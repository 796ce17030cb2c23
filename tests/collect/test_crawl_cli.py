"""The crawl CLI across processes: a crawl waits on a CAPTCHA that another process lists
and solves; status and stop work from another terminal; bad profiles are one-line errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

from spector.cli import main
from spector.sim import RangeServer, ServeOptions


def _spector(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from spector.cli import run; run()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start(profile: Path, proxy: str, ws_root: Path) -> subprocess.Popen:
    return _spector("crawl", "start", str(profile), "--proxy", proxy, "-w", str(ws_root))


def _answer(truth, waiting) -> str:
    """What the person reading the picture types (looked up in the range's truth)."""
    return truth["captchas"][hashlib.sha256(Path(waiting["image_path"]).read_bytes()).hexdigest()]


def _wait_for_captcha(capsys, ws_root, crawl: subprocess.Popen, limit=120.0):
    """The CAPTCHAs ``crawl`` is waiting on; fails with its output when it ends first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert main(["captcha", "list", "--json", "-w", str(ws_root)]) == 0
        lines = capsys.readouterr().out.splitlines()
        if lines:
            return [json.loads(x) for x in lines]
        if crawl.poll() is not None:
            stdout, stderr = crawl.communicate()
            raise AssertionError(
                f"the crawl ended (exit {crawl.returncode}) without asking for a CAPTCHA:\n"
                f"{stdout}\n{stderr}"
            )
        time.sleep(0.1)
    raise AssertionError("no CAPTCHA was queued")


def _end(crawl: subprocess.Popen) -> None:
    """Kill ``crawl`` if a failed assertion left it running (no process or pipe outlives a test)."""
    if crawl.poll() is None:
        crawl.kill()
    crawl.communicate()


def test_captcha_is_solved_from_another_process(tiny, ws_root, capsys):
    out, truth = tiny
    market = next(m for m in truth["markets"] if m["family"] == "walletless")
    with RangeServer(out) as server:
        crawl = _start(out / market["profile"], server.proxy_url, ws_root)
        try:
            (waiting,) = _wait_for_captcha(capsys, ws_root, crawl)
            assert set(waiting) == {"id", "site", "image_path"}
            assert waiting["site"] == market["name"]
            picture = Path(waiting["image_path"]).read_bytes()
            assert picture.startswith(b"\x89PNG")
            answer = truth["captchas"][hashlib.sha256(picture).hexdigest()]
            assert main(["captcha", "solve", waiting["id"], answer, "-w", str(ws_root)]) == 0
            stdout, stderr = crawl.communicate(timeout=120)
        finally:
            _end(crawl)
    assert crawl.returncode == 0, stderr
    assert "crawl finished" in stdout
    capsys.readouterr()
    assert main(["crawl", "status", "--json", "-w", str(ws_root)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "done"
    assert status["sites"][0]["pages"] >= market["pages"]


def test_stop_then_resume(tiny, ws_root, capsys):
    out, truth = tiny
    market = next(m for m in truth["markets"] if m["family"] == "escrow")
    with RangeServer(out, ServeOptions(day=truth["day"], latency=2.0)) as server:
        crawl = _start(out / market["profile"], server.proxy_url, ws_root)
        try:
            (waiting,) = _wait_for_captcha(capsys, ws_root, crawl)
            answer = _answer(truth, waiting)
            main(["captcha", "solve", waiting["id"], answer, "-w", str(ws_root)])
            # stop at once: with a 2 s round trip per request the login's POST and the
            # start page alone take 4 s, the site's 37 pages at 8 at a time 14 s or more
            # (waiting for the first page raced the crawl on a loaded machine: twice the
            # whole site was in before the stop)
            assert main(["crawl", "stop", "-w", str(ws_root)]) == 0
            stdout, stderr = crawl.communicate(timeout=60)
        finally:
            _end(crawl)
        assert "crawl stopped" in stdout, stderr
        capsys.readouterr()
        assert main(["crawl", "status", "--json", "-w", str(ws_root)]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["status"] == "stopped"
        assert status["sites"][0]["queue"] > 0, status  # stopped with the site to come
        resumed = _spector("crawl", "resume", "-w", str(ws_root))
        try:
            # a new session needs a new login
            (waiting,) = _wait_for_captcha(capsys, ws_root, resumed)
            answer = _answer(truth, waiting)
            main(["captcha", "solve", waiting["id"], answer, "-w", str(ws_root)])
            stdout, stderr = resumed.communicate(timeout=120)
        finally:
            _end(resumed)
    assert "crawl finished" in stdout, stderr
    capsys.readouterr()
    main(["crawl", "status", "--json", "-w", str(ws_root)])
    site = json.loads(capsys.readouterr().out)["sites"][0]
    assert site["queue"] == 0
    assert site["pages"] >= market["pages"]


def test_bad_profiles_are_one_line_errors(tmp_path, ws_root, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nname = "x"\nhosts = ["not-an-onion.com"]\nstart_urls = []\n')
    assert main(["crawl", "start", str(bad), "-w", str(ws_root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "not a valid v3 onion" in err
    assert str(bad) in err
    broken = tmp_path / "broken.toml"
    broken.write_text("[site\n")
    assert main(["crawl", "start", str(broken), "-w", str(ws_root)]) == 2
    assert "malformed TOML" in capsys.readouterr().err
    assert main(["crawl", "resume", "-w", str(ws_root)]) == 2
    assert "no crawl to resume" in capsys.readouterr().err
    assert main(["captcha", "solve", "nope", "ABCDE", "-w", str(ws_root)]) == 2
    assert "no waiting CAPTCHA" in capsys.readouterr().err
