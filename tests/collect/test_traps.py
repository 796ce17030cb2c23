"""Crawl bounds: max_pages holds, crawl traps without digits (endless /a/b/c…, session ids
in paths, a folder linking to itself) are bounded by the path-pattern cap and the path
rules, and every bound hit is reported (summary, state, `crawl status --json`, CLI)."""

from __future__ import annotations

import hashlib
import json
import random
import string

import tomli_w
from aiohttp import web
from tests.collect.harness import onion
from tests.collect.hostile_site import HostileSites, captures, crawl

from spector.cli import main
from spector.collect._urls import path_pattern
from spector.store import Workspace

TRAPS, PAGES = onion("traps"), onion("pages")
PATTERN_CAP = 12


def _html(*links: str) -> web.Response:
    body = "".join(f'<a href="{href}">{href}</a>' for href in links)
    return web.Response(text=f"<html><body>{body}</body></html>", content_type="text/html")


def _letters(seed: str, n: int) -> str:
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    return "".join(rng.choice(string.ascii_letters) for _ in range(n))


async def traps(request: web.Request) -> web.Response:
    path = request.path
    if path == "/":
        return _html("/a", f"/s/{_letters('first', 12)}/catalog", "/x/", "/ok")
    if path == "/a" or path.startswith("/a/"):  # endless: two new letter folders per page
        return _html(*(f"{path}/{_letters(path + n, 3).lower()}" for n in "12"))
    if path.startswith("/s/"):  # a fresh session id in every link, letters only
        return _html(*(f"/s/{_letters(path + p, 12)}/{p}" for p in ("catalog", "about")))
    if path.startswith("/x/"):
        return _html("x/")  # a relative link to a sub-folder of itself: /x/x/x/…
    return _html()


def test_traps_without_digits_are_bounded_and_reported(tmp_path, capsys):
    profile = {
        "site": {
            "name": "traps",
            "hosts": [TRAPS],
            "start_urls": [f"http://{TRAPS}/"],
            "max_per_pattern": PATTERN_CAP,
            "max_pages": 400,  # the last resort: a broken pattern cap stops here, and fails
        }
    }
    with HostileSites({TRAPS: traps}) as sites:
        root, summary = crawl(tmp_path, [profile], sites)
    fetched = list(captures(root))
    letters = [p for p in fetched if p == "/a" or p.startswith("/a/")]
    sessions = [p for p in fetched if p.startswith("/s/")]
    folders = [p for p in fetched if p.startswith("/x/")]
    assert "/ok" in fetched
    # /a then /a/xyz, /a/xyz/abc, … all of one pattern, at every depth
    assert {path_pattern(f"http://h{p}") for p in letters} == {"/a", "/a/a+"}
    assert len(letters) == 1 + PATTERN_CAP
    assert {path_pattern(f"http://h{p}") for p in sessions} == {"/s/a+"}
    assert len(sessions) == PATTERN_CAP
    assert folders == ["/x/", "/x/x/", "/x/x/x/"]  # a fourth x is a trap
    bounds = summary["bounds"]["traps"]
    assert bounds["max_per_pattern"]["max"] == PATTERN_CAP
    assert bounds["max_per_pattern"]["hits"] > 0
    assert bounds["repeated_segment"]["example"].endswith("/x/x/x/x/")
    assert "max_pages" not in bounds
    assert main(["crawl", "status", "--json", "-w", str(root)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["bounds"] == {"traps": bounds}


async def pages(request: web.Request) -> web.Response:
    if request.path == "/":
        return _html(*(f"/p/{n}" for n in range(50)))
    return _html("/")


def test_max_pages_is_enforced_and_reported(tmp_path, capsys):
    profile = tmp_path / "pages.toml"
    site = {"name": "pages", "hosts": [PAGES], "start_urls": [f"http://{PAGES}/"]}
    profile.write_text(tomli_w.dumps({"site": {**site, "max_pages": 10}}))
    Workspace.init(tmp_path / "ws").close()
    with HostileSites({PAGES: pages}) as sites:
        code = main(
            ["crawl", "start", str(profile), "--proxy", sites.proxy_url, "-w", str(tmp_path / "ws")]
        )
    out = capsys.readouterr().out
    assert code == 0
    fetched = captures(tmp_path / "ws")
    assert len(fetched) == 10
    assert set(fetched) == {"/", *(f"/p/{n}" for n in range(9))}
    assert "pages: bound max_pages = 10 hit 41 times" in " ".join(out.split())
    assert main(["crawl", "status", "--json", "-w", str(tmp_path / "ws")]) == 0
    bound = json.loads(capsys.readouterr().out)["bounds"]["pages"]["max_pages"]
    assert bound == {"max": 10, "hits": 41, "example": f"http://{PAGES}/p/9"}
