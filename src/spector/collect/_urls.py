"""URL rules of the crawler: canonical form, the allow-list, media, trap signatures.

Everything a page links to passes through ``Scope.admit`` before it may be fetched. It
refuses, and says why: other hosts (absolute, protocol-relative, via <base> or a
redirect), look-alike hosts (the check is an exact match of the whole host name, never
a suffix or a prefix), IP literals and ``localhost``, user-info tricks
(``http://a.onion@b.onion/``), schemes other than http(s), ports other than 80/443,
abuse-listed hosts, media unless the profile allows it, paths the profile denies, and
paths shaped like crawl traps (too many segments, one segment repeated).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from spector.collect._media import MEDIA_EXTENSIONS
from spector.errors import ConfigError

if TYPE_CHECKING:
    from spector.collect._profile import SiteProfile

__all__ = [
    "MAX_URL_LENGTH",
    "Refusal",
    "Scope",
    "canonical",
    "load_blocklist",
    "path_pattern",
    "signature",
]

MAX_URL_LENGTH = 2048  # what servers and browsers commonly accept
MAX_SEGMENT_REPEATS = 3  # /a/x/x/x/x: a relative link resolved against itself (Heritrix: 2)


@dataclass(frozen=True, slots=True)
class Refusal:
    url: str
    reason: str
    bound: str | None = None  # the crawl bound that refused it (None: a rule, not a bound)
    limit: int = 0  # that bound's value


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
    return path + _query_keys(parts.query)


def path_pattern(url: str) -> str:
    """The URL's path pattern: every segment after the first folded to its character
    classes (letters "a", digits "N", other characters kept), runs of equal folded
    segments written once with "+", query keys kept.

    Crawl traps without digits collapse into one pattern: an endless ``/a/b/c/d…`` is
    ``/a/a+`` at every depth, session ids in paths (``/s/QhvXkPz/catalog``) are
    ``/s/a+`` whatever their letters. The first segment stays literal (digits folded):
    it is usually the route (``/listing``, ``/vendor``), so a site's page families keep
    their own patterns.
    """
    parts = urlsplit(url)
    segments = parts.path.split("/")[1:]
    if not segments:
        return "/" + _query_keys(parts.query)
    first = re.sub(r"\d+", "N", segments[0])
    if len(first) > 24 or not re.fullmatch(r"[\w.~-]*", first):
        first = _fold(first)  # a token, not a route name
    folded: list[str] = []
    for segment in segments[1:]:
        shape = _fold(segment)
        if folded and folded[-1] == shape + "+":
            continue
        folded.append(shape + "+")
    return "/" + "/".join([first, *folded]) + _query_keys(parts.query)


def _fold(segment: str) -> str:
    shape = re.sub(r"\d+", "N", re.sub(r"[A-Za-z]+", "a", segment))
    return shape[:40]


def _query_keys(query: str) -> str:
    keys = sorted(k.split("=", 1)[0] for k in query.split("&") if k)
    return "?" + "&".join(keys) if keys else ""


def load_blocklist(path: Path | None) -> frozenset[str]:
    """Hosts that must never be fetched: one per line, as the host name itself, its
    SHA-256 (64 hex) or its MD5 (32 hex, as in Ahmia's list of banned onions).

    Blank lines and ``#`` comments are skipped. A missing file, or a line that is none
    of these, is a ConfigError naming the file and line.
    """
    if path is None:
        return frozenset()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("blocklist file does not exist", where=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read blocklist: {exc}", where=path) from exc
    entries = set()
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if not re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{64}|[a-z0-9.-]+\.onion", entry):
            raise ConfigError(
                f"blocklist line {entry[:80]!r}",
                where=f"{path}:{number}",
                expected="an onion host, its SHA-256 (64 hex) or its MD5 (32 hex)",
            )
        entries.add(entry)
    return frozenset(entries)


def blocked(host: str, blocklist: frozenset[str]) -> bool:
    """Whether ``host`` is on ``blocklist`` (by name, SHA-256 or MD5)."""
    if not blocklist:
        return False
    data = host.encode()
    return (
        host in blocklist
        or hashlib.sha256(data).hexdigest() in blocklist
        or hashlib.md5(data, usedforsecurity=False).hexdigest() in blocklist
    )


class Scope:
    """What one site's crawl may fetch."""

    def __init__(self, profile: SiteProfile, blocklist: frozenset[str] = frozenset()) -> None:
        self.profile = profile
        self.hosts = frozenset(profile.hosts)
        self.blocklist = blocklist | profile.blocked

    def blocked(self, host: str) -> bool:
        return blocked(host, self.blocklist)

    def resolve(self, base: str, href: str) -> str | Refusal:
        """The canonical absolute URL ``href`` points at from ``base``, or why not."""
        raw = href.strip()
        if not raw or raw.startswith(("#", "javascript:", "mailto:", "data:", "tel:")):
            return Refusal(raw, "not a web link")
        if "\\" in raw:
            return Refusal(raw, "backslash in URL (parser confusion trick)")
        if len(raw) > MAX_URL_LENGTH:
            return Refusal(
                raw[:200], f"URL longer than {MAX_URL_LENGTH}", "max_url_length", MAX_URL_LENGTH
            )
        try:
            return canonical(urljoin(base, raw))
        except ValueError as exc:
            return Refusal(raw, f"unparseable URL: {exc}")

    def admit_host(self, url: str) -> Refusal | None:
        """None when ``url``'s scheme, host and port are the site's; else the reason.

        The host must equal one of the profile's hosts exactly: ``xHOST.onion`` and
        ``HOST.onion.evil.onion`` are other hosts.
        """
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
        try:
            port = parts.port
        except ValueError:
            return Refusal(url, "unparseable port")
        if port not in (None, 80, 443):
            return Refusal(url, f"port {port}")
        return None

    def admit(self, url: str) -> Refusal | None:
        """None when ``url`` (canonical, absolute) may be fetched; else the reason."""
        refusal = self.admit_host(url)
        if refusal is not None:
            return refusal
        if len(url) > MAX_URL_LENGTH:
            return Refusal(
                url[:200], f"URL longer than {MAX_URL_LENGTH}", "max_url_length", MAX_URL_LENGTH
            )
        parts = urlsplit(url)
        if self.profile.media != "allow" and is_media(url):
            return Refusal(url, "media (the profile allows none)")
        path_query = parts.path + ("?" + parts.query if parts.query else "")
        if self.profile.denied(path_query):
            return Refusal(url, "denied by the profile")
        segments = [s for s in parts.path.split("/") if s]
        most = self.profile.max_path_segments
        if len(segments) > most:
            return Refusal(url, f"more than {most} path segments", "max_path_segments", most)
        counts: dict[str, int] = {}
        for segment in segments:
            counts[segment] = counts.get(segment, 0) + 1
            if counts[segment] > MAX_SEGMENT_REPEATS:
                return Refusal(
                    url,
                    f"path repeats a segment more than {MAX_SEGMENT_REPEATS} times",
                    "repeated_segment",
                    MAX_SEGMENT_REPEATS,
                )
        return None


def is_media(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return "." in path.rsplit("/", 1)[-1] and path.rsplit(".", 1)[-1] in MEDIA_EXTENSIONS
