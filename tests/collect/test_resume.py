"""A crawl killed with kill -9 resumes with `crawl resume`: no capture lost, none repeated,
and no record in the WARC files that the index does not know."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from urllib.parse import urlsplit

from tests.collect.harness import Human
from warcio.archiveiterator import ArchiveIterator

from spector.collect import resume_crawl
from spector.sim import RangeServer, ServeOptions
from spector.store import Workspace


def _committed(root) -> int:
    try:
        db = sqlite3.connect(root / "collect.sqlite", timeout=5)
        try:
            return db.execute("SELECT count(*) FROM captures").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


def test_kill_9_then_resume_loses_and_repeats_nothing(tiny, ws_root):
    out, truth = tiny
    options = ServeOptions(day=truth["day"], latency=0.1)
    profiles = [str(out / m["profile"]) for m in truth["markets"]]
    with RangeServer(out, options) as server, Human(ws_root, truth["captchas"]):
        crawl = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from spector.cli import run; run()",
                "crawl",
                "start",
                *profiles,
                "--proxy",
                server.proxy_url,
                "--workspace",
                str(ws_root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 120
            while _committed(ws_root) < 60 and time.monotonic() < deadline and crawl.poll() is None:
                time.sleep(0.05)
            assert crawl.poll() is None, "the crawl ended before it could be killed"
            os.kill(crawl.pid, signal.SIGKILL)
        finally:
            crawl.wait(30)
            crawl.stderr.close()
        killed_at = _committed(ws_root)
        assert killed_at >= 60
        summary = resume_crawl(ws_root)
    assert summary["failed"] == {}
    db = sqlite3.connect(ws_root / "collect.sqlite")
    rows = db.execute(
        "SELECT url, site, status, sha256, warc_file, warc_offset, record_type FROM captures"
    ).fetchall()
    assert {r[0] for r in db.execute("SELECT DISTINCT run_id FROM captures")} == {1}
    db.close()
    pages = [
        r
        for r in rows
        if urlsplit(r[0]).path not in ("/login",)
        and not urlsplit(r[0]).path.startswith(("/captcha/", "/calendar"))
    ]
    urls = [r[0] for r in pages]
    assert len(urls) == len(set(urls)), "a page was captured twice"
    assert len(urls) == sum(m["pages"] for m in truth["markets"]), "a page was lost"
    # the WARC files hold exactly the indexed records, at the indexed offsets
    indexed = {(r[4], r[5]): r for r in rows if r[4]}
    found = {}
    for warc in sorted((ws_root / "warc").glob("*.warc.gz")):
        with warc.open("rb") as handle:
            iterator = ArchiveIterator(handle, check_digests="raise")
            for record in iterator:
                if record.rec_type in ("response", "revisit"):
                    found[(warc.name, iterator.get_record_offset())] = (
                        record.rec_headers.get_header("WARC-Target-URI")
                    )
    assert set(found) == set(indexed)
    assert all(found[key] == indexed[key][0] for key in found)
    with Workspace.open(ws_root) as ws:
        published = ws.store.con.execute("SELECT count(*) FROM captures").fetchone()[0]
    assert published == len(rows)
