"""A SOCKS5 proxy that stands in for Tor's SocksPort on the range.

Like Tor it resolves names remotely (socks5h): a CONNECT to a known ``.onion`` name is
connected to the range's HTTP server; every other name, and every IP address, is
refused. Username/password authentication (RFC 1929) is accepted with any credentials,
as Tor does for IsolateSOCKSAuth. Malformed requests are logged and the connection
closed; the proxy keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

__all__ = ["SocksProxy"]

log = logging.getLogger("spector.sim.socks")

_SUCCEEDED, _FAILURE, _NOT_ALLOWED, _HOST_UNREACHABLE, _CMD_UNSUPPORTED, _ATYP_UNSUPPORTED = (
    0,
    1,
    2,
    4,
    7,
    8,
)


class SocksProxy:
    def __init__(self, onions: set[str], target: tuple[str, int]) -> None:
        self.onions = onions
        self.target = target
        self.stats: Counter[str] = Counter()
        self.credentials: Counter[str] = Counter()  # SOCKS usernames seen (circuit isolation)
        self.open: set[asyncio.StreamWriter] = set()  # closed on shutdown

    async def close_all(self) -> None:
        """Close every connection still open (the server is stopping)."""
        writers = list(self.open)
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 5)
        self.open.clear()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open.add(writer)
        try:
            await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, _Malformed) as exc:
            self.stats["malformed"] += 1
            log.warning("socks: dropped connection: %s", exc)
        finally:
            writer.close()
            self.open.discard(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readexactly(2), 30)
        if head[0] != 5:
            raise _Malformed(f"version {head[0]}, expected 5")
        methods = await reader.readexactly(head[1])
        if 2 in methods:
            writer.write(b"\x05\x02")
            await writer.drain()
            sub = await reader.readexactly(2)
            if sub[0] != 1:
                raise _Malformed("bad username/password sub-negotiation version")
            user = await reader.readexactly(sub[1])
            plen = (await reader.readexactly(1))[0]
            await reader.readexactly(plen)
            self.credentials[user.decode("utf-8", "replace")] += 1
            writer.write(b"\x01\x00")
        elif 0 in methods:
            writer.write(b"\x05\x00")
        else:
            writer.write(b"\x05\xff")
            await writer.drain()
            raise _Malformed("no acceptable authentication method")
        await writer.drain()
        ver, cmd, _, atyp = await reader.readexactly(4)
        if ver != 5:
            raise _Malformed(f"request version {ver}")
        if atyp == 3:
            length = (await reader.readexactly(1))[0]
            host = (await reader.readexactly(length)).decode("ascii", "replace").lower()
        elif atyp == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        elif atyp == 4:
            host = (await reader.readexactly(16)).hex()
        else:
            await self._reply(writer, _ATYP_UNSUPPORTED)
            raise _Malformed(f"address type {atyp}")
        port = int.from_bytes(await reader.readexactly(2), "big")
        if cmd != 1:
            await self._reply(writer, _CMD_UNSUPPORTED)
            self.stats["refused_command"] += 1
            return
        if atyp != 3 or not host.endswith(".onion"):
            self.stats["refused_clearnet"] += 1
            log.warning("socks: refused non-onion destination %s:%s", host, port)
            await self._reply(writer, _NOT_ALLOWED)
            return
        if host not in self.onions or port != 80:
            self.stats["unknown_onion"] += 1
            await self._reply(writer, _HOST_UNREACHABLE)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            await self._reply(writer, _FAILURE)
            return
        self.stats["connects"] += 1
        self.open.add(up_writer)
        try:
            await self._reply(writer, _SUCCEEDED)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            self.open.discard(up_writer)

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
        writer.write(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
        await writer.drain()


class _Malformed(Exception):
    pass


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        if not writer.is_closing():
            writer.close()
