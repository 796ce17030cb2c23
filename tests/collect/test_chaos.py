"""The range at its worst: 5xx, 429 with Retry-After, sessions that expire (a new CAPTCHA
each time), slow responses. The crawl still captures every page, asks Tor for new
circuits when failures pile up, and rotates its WARC files by size."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from urllib.parse import urlsplit

from tests.collect.harness import Human
from warcio.archiveiterator import ArchiveIterator

from spector.collect import CrawlOptions, start_crawl
from spector.sim import RangeServer, ServeOptions
from spector.sim._range import settle
from spector.store import Workspace

SKIP = re.compile(r"^/(logout|calendar|media/|login|captcha/)")


class FakeControlPort:
    """Speaks just enough of Tor's control protocol for stem: PROTOCOLINFO, AUTHENTICATE,
    SIGNAL. Records the commands."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            command = line.decode().strip()
            self.commands.append(command)
            if command.startswith("PROTOCOLINFO"):
                writer.write(
                    b"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=HASHEDPASSWORD\r\n"
                    b'250-VERSION Tor="0.4.8.10"\r\n250 OK\r\n'
                )
            elif command.startswith("AUTHENTICATE"):
                ok = '"hunter2"' in command
                writer.write(b"250 OK\r\n" if ok else b"515 Authentication failed\r\n")
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> FakeControlPort:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            # Close the listener, then end every connection still open (stem may keep
            # one), so that no socket or task outlives the loop.
            self.server.close()
            await self.server.wait_closed()
            await settle()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def test_crawl_survives_a_hostile_range(tiny, ws_root):
    out, truth = tiny
    chaos = ServeOptions(
        day=truth["day"],
        error_share=0.15,
        session_requests=25,
        rate_per_second=40.0,
        burst=6,
        slow_share=0.02,
        slow_latency=0.3,
    )
    markets = [m for m in truth["markets"] if m["family"] in ("escrow", "hydra")]
    options = CrawlOptions(
        max_attempts=12, newnym_after=3, tor_password="hunter2", warc_max_bytes=40_000
    )
    with (
        RangeServer(out, chaos) as server,
        FakeControlPort() as tor,
        Human(ws_root, truth["captchas"]) as human,
    ):
        options.tor_control = f"127.0.0.1:{tor.port}"
        summary = start_crawl(
            ws_root, [out / m["profile"] for m in markets], proxy=server.proxy_url, options=options
        )
        stats = dict(server.app.stats)
    assert summary["failed"] == {}
    assert stats["injected_5xx"] > 0
    assert stats["expired"] > 0
    assert human.solved > len(markets)  # expired sessions meant new logins
    assert summary["newnym"] > 0
    assert any(c == "SIGNAL NEWNYM" for c in tor.commands)
    with Workspace.open(ws_root) as ws:
        rows = ws.store.con.execute(
            "SELECT url, site, status, warc_file FROM captures WHERE status = 200"
        ).fetchall()
    for market in markets:
        got = {r[0] for r in rows if r[1] == market["name"] and not SKIP.match(urlsplit(r[0]).path)}
        assert len(got) == market["pages"], market["name"]
    files = sorted((ws_root / "warc").glob("*.warc.gz"))
    # rotated by size: a file is closed once it reaches the limit (how many files that
    # makes depends on how many retries the injected failures caused)
    assert len(files) >= 2
    for warc in files[:-1]:
        assert warc.stat().st_size >= options.warc_max_bytes
    for warc in files:
        with warc.open("rb") as handle:
            assert sum(1 for _ in ArchiveIterator(handle, check_digests="raise")) >= 2
