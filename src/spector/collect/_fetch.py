"""One HTTP exchange through the SOCKS proxy, bounded in size and time.

* Connection, SOCKS handshake and response headers must come within ``timeout`` seconds
  (a server that accepts and never answers fails that request then, not at the crawl's
  overall deadline); each read of the body, too, waits at most ``timeout``.
* The whole exchange has a ``deadline`` (a server trickling bytes, slow-loris, is cut).
* The body is streamed and cut at the profile's cap; a compressed body is inflated with a
  bounded decompressor (a bomb cannot grow past the cap).
* A body cut by the size cap, the deadline or a dropped connection keeps the bytes
  received, marked ``truncated`` (the WARC record says so, and its digest is theirs).
* Media is refused unless the profile allows it: by declared type or file name before
  the body is read, by its magic number once its first bytes are in, and by a picture
  or video signature anywhere in the body. A refused body is not kept at all.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from spector.collect import _media
from spector.collect._socks import ProxyAddress, ProxyUnreachable, SocksTransport, parse_proxy

__all__ = ["USER_AGENT", "FetchResult", "fetch", "make_client"]

# What Tor Browser sends, so a crawl does not stand out from its visitors.
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
TRUNCATED = ("length", "time", "disconnect")  # WARC-Truncated values a capture may carry


@dataclass
class FetchResult:
    url: str
    fetched_at: datetime
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    request_line: str = ""
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes = b""  # the body as transferred (possibly compressed)
    body: bytes = b""  # the body inflated, at most the cap
    truncated: str | None = None  # length, time, disconnect; or undecodable
    refused: str | None = None  # why the body was not kept (media)
    error: str | None = None  # no usable response: why
    proxy_down: bool = False  # the error was the proxy's, not the site's

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")


def make_client(
    proxy: str | ProxyAddress, isolation: str, concurrency: int, *, timeout: float = 60.0
) -> httpx.AsyncClient:
    """A client whose every connection goes through ``proxy`` (socks5h: names resolve at
    the proxy). ``isolation`` becomes the SOCKS username, so Tor gives each site its own
    circuit (IsolateSOCKSAuth). ``timeout`` bounds connecting and each read."""
    address = proxy if isinstance(proxy, ProxyAddress) else parse_proxy(proxy)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        transport=SocksTransport(address, isolation, limits),
        follow_redirects=False,
        trust_env=False,  # never pick up HTTP_PROXY and the like from the environment
        timeout=httpx.Timeout(timeout),
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
            "Accept-Language": "en-US,en;q=0.5",
            "Accept-Encoding": "gzip, deflate",
        },
    )


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    cap: int,
    timeout: float,
    deadline: float,
    allow_media: bool,
    method: str = "GET",
    data: dict[str, str] | None = None,
) -> FetchResult:
    """Fetch ``url``; never raises for what the network or the site does (see the
    result's ``error``, ``truncated`` and ``refused``)."""
    result = FetchResult(url, datetime.now(UTC))
    loop = asyncio.get_running_loop()
    started = loop.time()
    request = client.build_request(method, url, data=data)
    target = request.url.raw_path.decode("ascii", "replace")
    result.request_line = f"{method} {target} HTTP/1.1"
    result.request_headers = [(k, v) for k, v in request.headers.items()]
    try:
        async with asyncio.timeout(min(timeout, deadline)):
            response = await client.send(request, stream=True)
    except TimeoutError:
        result.error = f"no response headers within {min(timeout, deadline):g} s"
        return result
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
        result.proxy_down = isinstance(exc.__cause__, ProxyUnreachable)
        return result
    body = _Body(cap, response.headers.get("content-encoding", ""), allow_media)
    try:
        result.status = response.status_code
        result.headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
        ]
        if not allow_media:
            said = _media.declared(result.content_type, result.header("content-disposition"))
            if said:
                result.refused = f"media refused by its {said}"
                return result
        async with asyncio.timeout_at(started + deadline):
            async for chunk in response.aiter_raw():
                if not body.add(chunk):
                    break
    except TimeoutError:
        body.truncated = "time"
    except httpx.TimeoutException:
        body.truncated = "time"  # the body stalled for longer than ``timeout``
    except httpx.HTTPError:
        body.truncated = "disconnect"
    finally:
        await response.aclose()
    if result.refused is None:
        body.finish()
        result.raw, result.body = bytes(body.raw), bytes(body.inflated)
        result.truncated, result.refused = body.truncated, body.refused
    return result


class _Body:
    """The body as it streams in: cut at the cap, inflated within the cap, sniffed."""

    def __init__(self, cap: int, encoding: str, allow_media: bool) -> None:
        self.cap = cap
        self.allow_media = allow_media
        self.raw = bytearray()
        self.inflated = bytearray()
        self.inflater = _inflater(encoding)
        self.sniffed = allow_media  # nothing to sniff when media is allowed
        self.truncated: str | None = None
        self.refused: str | None = None

    def add(self, chunk: bytes) -> bool:
        """Take one chunk; False when no more is wanted (cap reached, media found)."""
        self.raw += chunk[: self.cap - len(self.raw)]
        if self.inflater is None:
            self.inflated = self.raw
        elif len(self.inflated) < self.cap:
            try:
                self.inflated += self.inflater.decompress(chunk, self.cap - len(self.inflated))
            except zlib.error:
                self.inflater = None
                self.truncated = "undecodable"
        if not self.sniffed and len(self.inflated) >= _media.SNIFF_BYTES:
            self._sniff()
            if self.refused:
                return False
        if len(self.raw) >= self.cap or len(self.inflated) >= self.cap:
            self.truncated = "length"
            return False
        return True

    def finish(self) -> None:
        """Decide on the whole body: sniff a short one's head, look for media hidden
        inside; a refused body is dropped."""
        if not self.allow_media:
            if not self.sniffed:
                self._sniff()
            if self.refused is None and (found := _media.embedded(bytes(self.inflated))):
                self.refused = f"media refused: {found}"
        if self.refused is not None:
            self.raw, self.inflated = bytearray(), bytearray()

    def _sniff(self) -> None:
        self.sniffed = True
        found = _media.sniff(bytes(self.inflated[: _media.SNIFF_BYTES]))
        if found:
            self.refused = f"media refused by its bytes: {found}"


def _inflater(encoding: str) -> zlib._Decompress | None:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    return None
