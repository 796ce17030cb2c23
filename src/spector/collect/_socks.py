"""SOCKS5h to Tor as an httpx transport: names resolve at the proxy, every step of the
handshake has a timeout, every failure closes its socket and says whose failure it was.

httpcore's own SOCKS code reads the proxy's answers without a timeout (a proxy that
accepts and never answers holds a request until the crawl's overall deadline, for every
retry), lets ``socksio.ProtocolError`` escape on a malformed answer, and leaves the
socket open when a request is cancelled mid-handshake. Here the handshake is ours:

* ``ProxyUnreachable`` (an ``httpcore.ConnectError``): the proxy itself cannot be used —
  nothing listens, it does not answer the greeting in time, it is not SOCKS5, it refuses
  our credentials. The crawl stops: nothing can be fetched without it.
* ``SocksRefused`` (an ``httpcore.ProxyError``): the proxy works but cannot reach the
  site (Tor's reply codes, onion-service errors included). That URL is retried later.

The username sent is the site's isolation token: Tor gives each distinct SOCKS username
its own circuit (IsolateSOCKSAuth), so sites are never linked by a shared circuit.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from spector.errors import ProxyError

__all__ = [
    "ProxyAddress",
    "ProxyUnreachable",
    "SocksBackend",
    "SocksRefused",
    "SocksTransport",
    "parse_proxy",
    "probe",
]

_REPLIES = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired (Tor: the circuit timed out)",
    0x07: "command not supported",
    0x08: "address type not supported",
    # Tor's extended errors (ExtendedErrors on the SocksPort)
    0xF0: "onion service descriptor not found",
    0xF1: "onion service descriptor is invalid",
    0xF2: "onion service introduction failed",
    0xF3: "onion service rendezvous failed",
    0xF4: "onion service needs client authorization",
    0xF5: "onion service client authorization is wrong",
    0xF6: "invalid onion address",
    0xF7: "onion service introduction timed out",
}


class ProxyUnreachable(httpcore.ConnectError):
    """The SOCKS proxy itself cannot be used (down, silent, not SOCKS5, refuses us)."""


class SocksRefused(httpcore.ProxyError):
    """The proxy answered but will not, or cannot, reach the requested host."""


@dataclass(frozen=True, slots=True)
class ProxyAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"socks5h://{self.host}:{self.port}"


def parse_proxy(url: str) -> ProxyAddress:
    """``socks5h://HOST:PORT`` as an address; anything else is a ProxyError.

    ``socks5://`` is refused: by convention it tells a client to resolve host names
    itself, which asks this machine's DNS for every site crawled (a leak outside Tor).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    expected = "socks5h://HOST:PORT (Tor's SocksPort, names resolved by Tor)"
    if scheme == "socks5":
        raise ProxyError(
            f"proxy {url!r} is socks5://, which resolves host names on this machine (a DNS leak)",
            expected=expected,
        )
    if scheme != "socks5h":
        raise ProxyError(f"proxy {url!r} is not a SOCKS5h proxy", expected=expected)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.username or parts.path not in ("", "/"):
        raise ProxyError(f"proxy {url!r} is not HOST:PORT", expected=expected)
    return ProxyAddress(parts.hostname, port)


class SocksBackend(httpcore.AsyncNetworkBackend):
    """Connects through the SOCKS5 proxy; see the module's docstring for its errors."""

    # Tor reads the SOCKS password only as part of the isolation key: it is no secret.
    def __init__(self, proxy: ProxyAddress, username: str, password: str = "spector") -> None:  # noqa: S107
        self.proxy = proxy
        self.username = username.encode()[:255]
        self.password = password.encode()[:255]
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            stream = await self._inner.connect_tcp(
                self.proxy.host, self.proxy.port, timeout=timeout, socket_options=socket_options
            )
        except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise ProxyUnreachable(f"cannot connect to the proxy {self.proxy}: {reason}") from exc
        try:
            await self._handshake(stream, host, port, deadline)
        except BaseException:
            with contextlib.suppress(Exception):
                await stream.aclose()
            raise
        return stream

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def _handshake(
        self, stream: httpcore.AsyncNetworkStream, host: str, port: int, deadline: float | None
    ) -> None:
        await self.greet(stream, deadline)
        await self.connect(stream, host, port, deadline)

    async def greet(self, stream: httpcore.AsyncNetworkStream, deadline: float | None) -> None:
        """The greeting and the username/password sub-negotiation (RFC 1928, 1929)."""
        proxy = self.proxy
        await _write(stream, b"\x05\x01\x02", deadline, proxy)  # one method: username/password
        version, method = await _read(stream, 2, deadline, proxy, "the greeting")
        if version != 5:
            raise ProxyUnreachable(f"{proxy} is not a SOCKS5 proxy (it answered version {version})")
        if method != 2:
            raise ProxyUnreachable(
                f"{proxy} refused username/password authentication (method {method:#x}), "
                "which circuit isolation needs"
            )
        user, password = self.username, self.password
        request = bytes([1, len(user)]) + user + bytes([len(password)]) + password
        await _write(stream, request, deadline, proxy)
        _, status = await _read(stream, 2, deadline, proxy, "the authentication")
        if status != 0:
            raise ProxyUnreachable(f"{proxy} refused the credentials (status {status})")

    async def connect(
        self, stream: httpcore.AsyncNetworkStream, host: str, port: int, deadline: float | None
    ) -> None:
        """The CONNECT request, by name (ATYP 3: the proxy resolves it), and its reply."""
        proxy = self.proxy
        name = host.encode("ascii", "strict")
        if not 0 < len(name) < 256:
            raise SocksRefused(f"host name of {len(name)} bytes cannot be sent over SOCKS5")
        connect = b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big")
        await _write(stream, connect, deadline, proxy)
        try:
            version, reply, _, kind = await _read(stream, 4, deadline, proxy, "the CONNECT")
            if version != 5:
                raise ProxyUnreachable(f"{proxy} sent a malformed CONNECT reply")
            length = {1: 4, 4: 16}.get(kind)
            if length is None:
                if kind != 3:
                    raise ProxyUnreachable(f"{proxy} sent a reply with address type {kind}")
                length = (await _read(stream, 1, deadline, proxy, "the CONNECT"))[0]
            await _read(stream, length + 2, deadline, proxy, "the CONNECT")  # bound address
        except _Closed as exc:
            raise SocksRefused(f"{proxy} closed the connection to {host}:{port}") from exc
        if reply != 0:
            why = _REPLIES.get(reply, f"reply code {reply:#x}")
            raise SocksRefused(f"the proxy could not reach {host}:{port}: {why}")


class _Closed(ProxyUnreachable):
    pass


async def _write(
    stream: httpcore.AsyncNetworkStream, data: bytes, deadline: float | None, proxy: ProxyAddress
) -> None:
    try:
        await stream.write(data, timeout=_left(deadline))
    except (httpcore.WriteError, httpcore.WriteTimeout) as exc:
        raise ProxyUnreachable(f"{proxy} stopped taking data: {type(exc).__name__}") from exc


async def _read(
    stream: httpcore.AsyncNetworkStream,
    count: int,
    deadline: float | None,
    proxy: ProxyAddress,
    step: str,
) -> bytes:
    data = b""
    while len(data) < count:
        try:
            chunk = await stream.read(count - len(data), timeout=_left(deadline))
        except httpcore.ReadTimeout as exc:
            if step == "the CONNECT":  # the proxy is there; reaching the site takes time
                raise httpcore.ConnectTimeout(f"no answer to {step} in time") from exc
            raise ProxyUnreachable(f"{proxy} did not answer {step} in time") from exc
        except httpcore.ReadError as exc:
            raise _Closed(f"{proxy} closed the connection during {step}") from exc
        if not chunk:
            raise _Closed(f"{proxy} closed the connection during {step}")
        data += chunk
    return data


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class SocksTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on ``SocksBackend``.

    httpx offers no argument for a network backend, so the pool it builds is replaced by
    an ``httpcore.AsyncConnectionPool`` given ours (httpx's request and response mapping,
    exception translation included, is kept as it is).
    """

    def __init__(self, proxy: ProxyAddress, username: str, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=SocksBackend(proxy, username),
        )


async def probe(proxy: ProxyAddress, host: str, username: str, timeout: float = 10.0) -> None:
    """Raise ProxyError unless a SOCKS5 proxy answers at ``proxy`` within ``timeout``.

    The probe greets the proxy, then asks for ``host`` (a site about to be crawled, port
    80) and waits a moment for the answer before closing: whether, or how soon, the site
    answers is the crawl's business (Tor may take a while to reach an onion service).
    """
    backend = SocksBackend(proxy, username)
    deadline = time.monotonic() + timeout
    try:
        stream = await backend._inner.connect_tcp(proxy.host, proxy.port, timeout=timeout)
    except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ProxyError(
            f"no usable SOCKS proxy at {proxy}: cannot connect: {reason}", hint=_START
        ) from exc
    try:
        await backend.greet(stream, deadline)
        with contextlib.suppress(SocksRefused, httpcore.ConnectTimeout):
            await backend.connect(stream, host, 80, min(deadline, time.monotonic() + 2.0))
    except ProxyUnreachable as exc:
        raise ProxyError(f"no usable SOCKS proxy at {proxy}: {exc}", hint=_START) from exc
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()


_START = "start Tor (its SocksPort) or pass --proxy socks5h://HOST:PORT"
