"""Crawling every family of the training range through its SOCKS proxy, with login and
CAPTCHA hand-off: every page captured, WARC files readable, digests matching the index."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

from tests.collect.harness import Human
from warcio.archiveiterator import ArchiveIterator

from spector.cli import main
from spector.collect import start_crawl, state_for
from spector.sim import generate_world
from spector.sim._generate import armored, pgp_for
from spector.sim._sites import build_sites
from spector.store import Workspace

SKIP = re.compile(r"^/(logout|calendar|media/|login|captcha/)")


def _truth_urls(truth):
    """Every crawlable URL of every site on the truth's day, by walking the sites."""
    world = generate_world(truth["seed"], truth["scale"])
    sites = build_sites(world, armored(pgp_for(world)))
    urls = {}
    for m in truth["markets"]:
        site, host = sites[m["market_id"]], m["onions"][0]
        seen, queue = {"/"}, ["/"]
        while queue:
            parts = urlsplit(queue.pop())
            page = site.render(parts.path, dict(parse_qsl(parts.query)), truth["day"])
            for href in re.findall(r'href="([^"]+)"', page.body):
                href = unescape(href)
                if not SKIP.match(href) and href not in seen:
                    seen.add(href)
                    queue.append(href)
        urls[m["name"]] = {f"http://{host}{u}" for u in seen}
        assert len(urls[m["name"]]) == m["pages"]
    return urls


def _captures(root):
    with Workspace.open(root) as ws:
        return ws.store.con.execute(
            "SELECT url, site, status, sha256, warc_file, warc_offset, record_type FROM captures"
        ).fetchall()


def test_every_page_of_every_family_is_captured(served, ws_root):
    server, out, truth = served
    profiles = [out / m["profile"] for m in truth["markets"]]
    with Human(ws_root, truth["captchas"]) as human:
        summary = start_crawl(ws_root, profiles, proxy=server.proxy_url)
    assert summary["failed"] == {}
    assert human.solved == len(truth["markets"])  # one login per site
    want = _truth_urls(truth)
    rows = _captures(ws_root)
    for name, urls in want.items():
        got = {
            r[0]
            for r in rows
            if r[1] == name and r[2] == 200 and not SKIP.match(urlsplit(r[0]).path)
        }
        assert got == urls, name
    # each page once: no URL captured twice in one crawl (logins aside)
    pages = [r[0] for r in rows if not SKIP.match(urlsplit(r[0]).path)]
    assert len(pages) == len(set(pages))
    # nothing left the allow-list, and no media was fetched
    assert server.app.stats["media"] == 0
    assert server.proxy.stats["refused_clearnet"] == server.proxy.stats["unknown_onion"] == 0
    # one circuit per site: the SOCKS username isolates each site
    assert len(server.proxy.credentials) == len(truth["markets"])


def test_warc_records_match_the_index_and_recrawl_is_a_revisit(served, ws_root):
    server, out, truth = served
    profile = out / next(m for m in truth["markets"] if m["family"] == "bots")["profile"]
    with Human(ws_root, truth["captchas"]):
        start_crawl(ws_root, [profile], proxy=server.proxy_url)
        start_crawl(ws_root, [profile], proxy=server.proxy_url)
    rows = _captures(ws_root)
    checked = 0
    for url, _, status, sha, warc_file, offset, record_type in rows:
        if warc_file is None:
            continue
        with (ws_root / warc_file).open("rb") as handle:
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle, check_digests="raise")))
        assert record.rec_headers.get_header("WARC-Target-URI") == url
        assert record.rec_type == record_type
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        assert digest == "sha256:" + base64.b32encode(bytes.fromhex(sha)).decode()
        if record_type == "response":
            assert hashlib.sha256(record.content_stream().read()).hexdigest() == sha
            assert record.http_headers.get_statuscode() == str(status)
        checked += 1
    assert checked == len(rows)
    revisits = [r for r in rows if r[6] == "revisit"]
    pages = {r[0] for r in rows if r[2] == 200 and not SKIP.match(urlsplit(r[0]).path)}
    assert len(revisits) >= len(pages)  # the second crawl found every page unchanged
    for warc in (ws_root / "warc").glob("*.warc.gz"):  # every file reads to its end
        with warc.open("rb") as handle:
            assert sum(1 for _ in ArchiveIterator(handle, check_digests="raise")) > 0


def test_captures_list_json_contract(served, ws_root, capsys):
    server, out, truth = served
    profile = out / next(m for m in truth["markets"] if m["family"] == "forum")["profile"]
    with Human(ws_root, truth["captchas"]):
        start_crawl(ws_root, [profile], proxy=server.proxy_url)
    assert main(["captures", "list", "--json", "-w", str(ws_root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(_captures(ws_root))
    for line in lines:
        item = json.loads(line)
        for key in ("url", "host", "status", "sha256", "warc_file", "warc_offset", "fetched_at"):
            assert key in item
        assert item["host"] in urlsplit(item["url"]).netloc
    state = state_for(ws_root)
    try:
        refusals = dict(state.db.execute("SELECT url, reason FROM refusals").fetchall())
    finally:
        state.close()
    assert any("/logout" in u for u in refusals)  # seen, never followed
