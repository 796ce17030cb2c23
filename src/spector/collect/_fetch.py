"""One HTTP exchange through the SOCKS proxy, bounded in size and time.

The body is streamed and cut at the profile's cap; a compressed body is inflated with a
bounded decompressor (a bomb cannot grow past the cap); a server that trickles bytes
(slow-loris) meets an overall deadline. Media content types are refused before their
body is read, unless the profile allows media.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

__all__ = ["USER_AGENT", "FetchResult", "fetch", "make_client"]

# What Tor Browser sends, so a crawl does not stand out from its visitors.
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
MEDIA_TYPES = (
    "image/",
    "video/",
    "audio/",
    "font/",
    "text/css",
    "application/javascript",
    "text/javascript",
    "application/x-shockwave-flash",
)


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
    truncated: str | None = None  # WARC-Truncated reason: length, time
    error: str | None = None  # no usable response: why

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")


def make_client(
    proxy: str, isolation: str, concurrency: int, *, timeout: float = 60.0
) -> httpx.AsyncClient:
    """A client whose every connection goes through ``proxy`` (socks5h: names resolve
    remotely). ``isolation`` becomes the SOCKS username, so Tor gives each site its own
    circuit (IsolateSOCKSAuth)."""
    url = httpx.URL(proxy)
    if url.scheme not in ("socks5", "socks5h"):
        raise ValueError(f"proxy must be socks5h://HOST:PORT, got {proxy}")
    # Tor isolates circuits by SOCKS credentials; the password is not a secret.
    proxied = url.copy_with(scheme="socks5", username=isolation, password="spector")  # noqa: S106
    return httpx.AsyncClient(
        proxy=httpx.Proxy(proxied),
        follow_redirects=False,
        trust_env=False,  # never pick up HTTP_PROXY and the like from the environment
        timeout=httpx.Timeout(timeout, connect=timeout),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
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
    deadline: float,
    allow_media: bool,
    method: str = "GET",
    data: dict[str, str] | None = None,
) -> FetchResult:
    result = FetchResult(url, datetime.now(UTC))
    try:
        await asyncio.wait_for(
            _exchange(client, url, cap, allow_media, method, data, result), deadline
        )
    except TimeoutError:
        if result.status is None:
            result.error = f"no response within {deadline:.0f} s"
        else:
            result.truncated = "time"
    except httpx.HTTPError as exc:
        if result.status is None:
            result.error = f"{type(exc).__name__}: {exc}"[:300]
        else:
            result.truncated = "disconnect"
    return result


async def _exchange(
    client: httpx.AsyncClient,
    url: str,
    cap: int,
    allow_media: bool,
    method: str,
    data: dict[str, str] | None,
    result: FetchResult,
) -> None:
    request = client.build_request(method, url, data=data)
    target = request.url.raw_path.decode("ascii", "replace")
    result.request_line = f"{method} {target} HTTP/1.1"
    result.request_headers = [(k, v) for k, v in request.headers.items()]
    response = await client.send(request, stream=True)
    try:
        result.status = response.status_code
        result.headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
        ]
        ctype = (response.headers.get("content-type") or "").lower()
        if not allow_media and ctype.startswith(MEDIA_TYPES):
            result.truncated = "media"
            return
        raw = bytearray()
        inflater = _inflater(response.headers.get("content-encoding", ""))
        body = bytearray()
        async for chunk in response.aiter_raw():
            raw += chunk[: cap - len(raw)] if len(raw) + len(chunk) > cap else chunk
            if inflater is None:
                body = raw
            elif len(body) < cap:
                try:
                    body += inflater.decompress(chunk, cap - len(body))
                except zlib.error:
                    inflater = None
                    result.truncated = "undecodable"
            if len(raw) >= cap or len(body) >= cap:
                result.truncated = "length"
                break
        result.raw = bytes(raw)
        result.body = bytes(body)
    finally:
        await response.aclose()


def _inflater(encoding: str) -> zlib._Decompress | None:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    return None
