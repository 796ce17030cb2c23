"""URL rules of the crawler: canonical form, the allow-list, media, trap signatures.

Everything a page links to passes through ``Scope.admit`` before it may be fetched. It
refuses, and says why: other hosts (absolute, protocol-relative, via <base> or a
redirect), IP literals and ``localhost``, user-info tricks (``http://a.onion@b.onion/``),
schemes other than http(s), ports other than 80/443, abuse-listed hosts, media unless
the profile allows it, and paths the profile denies.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from spector.collect._profile import SiteProfile

__all__ = ["Refusal", "Scope", "canonical", "load_blocklist", "signature"]

MEDIA_EXTENSIONS = frozenset(
    {
        "jpg",
        "jpeg",
        "png",
        "gif",
        "webp",
        "bmp",
        "svg",
        "ico",
        "tif",
        "tiff",
        "avif",
        "heic",
        "mp4",
        "webm",
        "mkv",
        "avi",
        "mov",
        "m4v",
        "flv",
        "mp3",
        "ogg",
        "wav",
        "m4a",
        "css",
        "js",
        "woff",
        "woff2",
        "ttf",
        "otf",
        "eot",
        "swf",
    }
)


@dataclass(frozen=True, slots=True)
class Refusal:
    url: str
    reason: str


def canonical(url: str) -> str:
    """Lower-case scheme and host, no fragment, no default port, "/" for an empty path.

    Path and query keep their bytes: decoding %2F or %26 would change what the server
    sees. Dot segments are already resolved by ``urljoin``. Raises ValueError when the
    URL cannot be parsed (a bad port, say).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    port = parts.port  # may raise ValueError
    if parts.username is not None or "@" in parts.netloc:
        host = parts.netloc.lower()  # keep the trick visible: admit() refuses it
    netloc = host if port in (None, 80 if scheme == "http" else 443) else f"{host}:{port}"
    return urlunsplit(SplitResult(scheme, netloc, parts.path or "/", parts.query, ""))


def signature(url: str) -> str:
    """The URL's shape with numbers folded, to cap families of pages (calendars, pagers)."""
    parts = urlsplit(url)
    path = re.sub(r"\d+", "N", parts.path)
    keys = sorted(k.split("=", 1)[0] for k in parts.query.split("&") if k)
    return path + ("?" + "&".join(keys) if keys else "")


def load_blocklist(path: Path | None) -> frozenset[str]:
    """SHA-256 (hex) of host names that must never be fetched, one per line (Ahmia style)."""
    if path is None or not path.is_file():
        return frozenset()
    return frozenset(
        line.strip().lower() for line in path.read_text().splitlines() if len(line.strip()) == 64
    )


class Scope:
    """What one site's crawl may fetch."""

    def __init__(self, profile: SiteProfile, blocklist: frozenset[str] = frozenset()) -> None:
        self.profile = profile
        self.hosts = frozenset(profile.hosts)
        self.blocklist = blocklist

    def blocked(self, host: str) -> bool:
        return hashlib.sha256(host.encode()).hexdigest() in self.blocklist

    def resolve(self, base: str, href: str) -> str | Refusal:
        """The canonical absolute URL ``href`` points at from ``base``, or why not."""
        raw = href.strip()
        if not raw or raw.startswith(("#", "javascript:", "mailto:", "data:", "tel:")):
            return Refusal(raw, "not a web link")
        if "\\" in raw:
            return Refusal(raw, "backslash in URL (parser confusion trick)")
        try:
            return canonical(urljoin(base, raw))
        except ValueError as exc:
            return Refusal(raw, f"unparseable URL: {exc}")

    def admit(self, url: str) -> Refusal | None:
        """None when ``url`` (canonical, absolute) may be fetched; else the reason."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return Refusal(url, f"scheme {parts.scheme or 'none'} is not http(s)")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            return Refusal(url, "user-info in URL")
        host = parts.hostname or ""
        if self.blocked(host):
            return Refusal(url, "host is on the abuse blocklist")
        if host not in self.hosts:
            return Refusal(url, f"host {host or '(none)'} is not in the site's allow-list")
        if parts.port not in (None, 80, 443):
            return Refusal(url, f"port {parts.port}")
        if self.profile.media != "allow" and is_media(url):
            return Refusal(url, "media (the profile allows none)")
        path_query = parts.path + ("?" + parts.query if parts.query else "")
        if self.profile.denied(path_query):
            return Refusal(url, "denied by the profile")
        return None


def is_media(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return "." in path.rsplit("/", 1)[-1] and path.rsplit(".", 1)[-1] in MEDIA_EXTENSIONS
