"""A hostile test site behind a logging SOCKS5 server, all on loopback.

``HostileSites`` serves onion-named sites on a thread: each host is an aiohttp handler
(``async def handler(request) -> Response``) or a ``Raw`` handler that gets the client's
bytes itself (for what aiohttp will not send: no Content-Type, a body cut mid-way, a
server that accepts and never answers).

``LoggingSocks`` is the proxy in front of them. It logs every request a client makes —
CONNECT host:port, and the DNS-style ones (Tor's RESOLVE and RESOLVE_PTR, UDP ASSOCIATE,
BIND), with the address type (a name, or an IP the client resolved itself) — and, per
connection, when it opened and closed and how many bytes the client sent through it. It
connects only known onion names on port 80, and only to loopback; everything else is
refused and logged. ``silent=True`` makes it accept connections and never answer (a
stalled proxy); ``kill()`` makes it go away mid-crawl.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w
from aiohttp import web
from tests.collect.harness import stop_served
from warcio.archiveiterator import ArchiveIterator

from spector.collect import CrawlOptions, start_crawl
from spector.sim._socks import _pipe
from spector.store import Workspace

__all__ = [
    "HostileSites",
    "LoggingSocks",
    "Raw",
    "SocksRequest",
    "captures",
    "crawl",
    "payload",
    "read_request",
]

COMMANDS = {1: "connect", 2: "bind", 3: "udp_associate", 0xF0: "resolve", 0xF1: "resolve_ptr"}
ADDRESS_TYPES = {1: "ipv4", 3: "name", 4: "ipv6"}


@dataclass
class SocksRequest:
    """One SOCKS request, as the proxy saw it."""

    command: str  # connect, bind, udp_associate, resolve, resolve_ptr, or the code
    host: str
    port: int
    address_type: str  # name, ipv4, ipv6
    user: str
    reply: int = -1  # the SOCKS reply code sent (0: succeeded)
    opened: float = 0.0  # time.monotonic() of the request
    closed: float | None = None  # when the connection ended
    sent: int = 0  # bytes the client sent through the connection after the handshake


@dataclass(frozen=True)
class Raw:
    """A site answered byte by byte: ``handler(reader, writer, request_log)``."""

    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class LoggingSocks:
    def __init__(
        self, onions: set[str], upstream: tuple[str, int], raw: dict[str, Raw], *, silent: bool
    ) -> None:
        self.onions = onions
        self.upstream = upstream
        self.raw = raw
        self.silent = silent
        self.log: list[SocksRequest] = []
        self.greetings = 0
        self.open: set[asyncio.StreamWriter] = set()

    def connects(self, host: str | None = None) -> list[SocksRequest]:
        return [r for r in self.log if r.command == "connect" and (host is None or r.host == host)]

    async def close_all(self) -> None:
        writers = list(self.open)
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError, TimeoutError, ConnectionError):
                await asyncio.wait_for(writer.wait_closed(), 5)
        self.open.clear()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open.add(writer)
        entry = None
        try:
            self.greetings += 1
            if self.silent:
                await reader.read()  # accept, never answer, until the client gives up
                return
            entry = await self._request(reader, writer)
            if entry is not None and entry.reply == 0:
                await self._serve(entry, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            if entry is not None:
                entry.closed = time.monotonic()
            writer.close()
            self.open.discard(writer)

    async def _request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> SocksRequest | None:
        version, count = await reader.readexactly(2)
        if version != 5:
            raise ValueError("not SOCKS5")
        methods = await reader.readexactly(count)
        user = ""
        if 2 in methods:
            writer.write(b"\x05\x02")
            await writer.drain()
            _, length = await reader.readexactly(2)
            user = (await reader.readexactly(length)).decode("utf-8", "replace")
            await reader.readexactly((await reader.readexactly(1))[0])
            writer.write(b"\x01\x00")
        elif 0 in methods:
            writer.write(b"\x05\x00")
        else:
            writer.write(b"\x05\xff")
            await writer.drain()
            return None
        await writer.drain()
        _, command, _, kind = await reader.readexactly(4)
        if kind == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode("ascii")
        elif kind == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        elif kind == 4:
            host = (await reader.readexactly(16)).hex()
        else:
            raise ValueError(f"address type {kind}")
        port = int.from_bytes(await reader.readexactly(2), "big")
        entry = SocksRequest(
            COMMANDS.get(command, str(command)),
            host.lower(),
            port,
            ADDRESS_TYPES.get(kind, str(kind)),
            user,
            opened=time.monotonic(),
        )
        self.log.append(entry)
        if command != 1:
            entry.reply = 7  # command not supported: DNS goes nowhere
        elif kind != 3 or not entry.host.endswith(".onion"):
            entry.reply = 2  # not allowed: clearnet, or an address resolved by the client
        elif entry.host not in self.onions or port != 80:
            entry.reply = 4  # host unreachable
        else:
            entry.reply = 0
        writer.write(bytes([5, entry.reply, 0, 1, 127, 0, 0, 1, 0, 0]))
        await writer.drain()
        return entry

    async def _serve(
        self, entry: SocksRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        counted = _Counted(reader, entry)
        if entry.host in self.raw:
            await self.raw[entry.host].handler(counted, writer)  # type: ignore[arg-type]
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.open.add(up_writer)
        try:
            await asyncio.gather(_pipe(counted, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            self.open.discard(up_writer)


class _Counted:
    """A StreamReader that counts what the client sends (after the SOCKS handshake)."""

    def __init__(self, reader: asyncio.StreamReader, entry: SocksRequest) -> None:
        self.reader, self.entry = reader, entry

    async def read(self, n: int = -1) -> bytes:
        data = await self.reader.read(n)
        self.entry.sent += len(data)
        return data

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        data = await self.reader.readuntil(separator)
        self.entry.sent += len(data)
        return data


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """(method, path) of the HTTP request a raw site receives (its head is consumed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    return method, path


@dataclass
class HostileSites:
    """Sites (host -> aiohttp handler or Raw) behind a LoggingSocks, on a thread."""

    sites: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]] | Raw]
    silent: bool = False
    requests: list[tuple[float, str, str]] = field(default_factory=list)  # (time, host, path)

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.proxy: LoggingSocks | None = None
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        app = web.Application()

        async def dispatch(request: web.Request) -> web.StreamResponse:
            host = (request.host or "").split(":")[0]
            self.requests.append((time.monotonic(), host, request.path_qs))
            handler = self.sites.get(host)
            if handler is None or isinstance(handler, Raw):
                return web.Response(status=421)
            return await handler(request)

        app.router.add_route("*", "/{tail:.*}", dispatch)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        raw = {h: s for h, s in self.sites.items() if isinstance(s, Raw)}
        self.proxy = LoggingSocks(
            set(self.sites), ("127.0.0.1", http_port), raw, silent=self.silent
        )
        self.server = await asyncio.start_server(self.proxy.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def __enter__(self) -> HostileSites:
        self.thread.start()
        self.ready.wait(10)
        return self

    def kill(self) -> None:
        """The proxy goes away: no more connections, and those open are cut."""

        async def stop() -> None:
            self.server.close()
            if self.proxy is not None:
                await self.proxy.close_all()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)

    def __exit__(self, *exc: object) -> None:
        stop_served(self, timeout=15)

    @property
    def log(self) -> list[SocksRequest]:
        return self.proxy.log if self.proxy is not None else []

    @property
    def proxy_url(self) -> str:
        return f"socks5h://127.0.0.1:{self.port}"


def crawl(
    tmp_path: Path,
    profiles: list[dict[str, Any]],
    sites: HostileSites,
    options: CrawlOptions | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Write ``profiles`` (TOML tables) to files and crawl them through ``sites``'s proxy
    into a fresh workspace; return the workspace and the crawl summary."""
    root = tmp_path / "ws"
    if not root.exists():
        Workspace.init(root).close()
    paths = []
    for profile in profiles:
        path = tmp_path / f"{profile['site']['name']}.toml"
        path.write_text(tomli_w.dumps(profile))
        paths.append(path)
    summary = start_crawl(root, paths, proxy=sites.proxy_url, options=options)
    return root, summary


def captures(root: Path, host: str | None = None) -> dict[str, dict[str, Any]]:
    """The published captures (of ``host`` only, if given) by URL path and query (the
    last one of each)."""
    fields = ("url", "status", "record_type", "reason", "sha256", "warc_file", "warc_offset")
    with Workspace.open(root) as ws:
        rows = ws.store.con.execute(
            f"SELECT {', '.join(fields)}, truncated FROM captures ORDER BY fetched_at"
        ).fetchall()
    out = {}
    for row in rows:
        item = dict(zip((*fields, "truncated"), row, strict=True))
        parts = urlsplit(item["url"])
        if host is not None and parts.hostname != host:
            continue
        out[parts.path + ("?" + parts.query if parts.query else "")] = item
    return out


def payload(root: Path, capture: dict[str, Any]) -> bytes:
    """The payload of a capture's WARC record, as transferred."""
    with (root / capture["warc_file"]).open("rb") as handle:
        handle.seek(capture["warc_offset"])
        record = next(iter(ArchiveIterator(handle)))
        return bytes(record.raw_stream.read())
