"""URLs of imported pages: host kinds, and the URL a mirror tool saved a page under.

A wget ``--mirror`` writes ``<host>[:port]/<path>``: a directory URL as ``index.html``,
the query after ``?`` (``@`` with ``--restrict-file-names=windows``, ``%3F`` when
escaped), and with ``--adjust-extension`` an ``.html`` suffix on pages whose URL did not
end in one. HTTrack writes ``<host>[_port]/<path>`` with hashed names for URLs with a
query, and says where each page came from in its ``hts-cache/new.txt`` log and in a
``<!-- Mirrored from HOST/PATH by HTTrack ... -->`` comment. Browsers that save a page
write ``<!-- saved from url=(NNNN)URL -->``. This module reads all of those.

Host kinds: a v3 onion (checksum verified), a v2 onion (16 characters: accepted for
imported and archived data only, and marked historical, since Tor no longer routes
them), an IP address or ``localhost``, and a DNS name.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from spector.errors import SelectorInvalid
from spector.model import selector_kind

__all__ = [
    "DYNAMIC_SUFFIXES",
    "HostKind",
    "host_folder",
    "host_kind",
    "httrack_source",
    "mirror_path_url",
    "page_links",
    "saved_from_url",
]

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_PORT = re.compile(r"(?P<host>.+?)[:+_](?P<port>\d{1,5})")
# Folder names taken as a mirror's host folder when they are not onions or IPs: a DNS
# name whose last label is a common TLD. A home folder named "john.doe" is not a host.
_TLDS = frozenset(
    {"com", "net", "org", "info", "biz", "io", "co", "me", "to", "cc", "tv", "ws", "su", "ru"}
    | {"ua", "de", "uk", "nl", "fr", "se", "ch", "at", "be", "it", "es", "pl", "cz", "eu"}
    | {"us", "ca", "au", "br", "in", "cn", "jp", "kr", "tw", "hk", "sg", "li", "lu", "is"}
    | {"no", "dk", "fi", "ee", "lv", "lt", "ro", "bg", "hu", "sk", "si", "hr", "rs", "gr"}
    | {"pt", "ie", "nz", "za", "mx", "ar", "cl", "onion", "i2p"}
)
DYNAMIC_SUFFIXES = (".php", ".asp", ".aspx", ".jsp", ".cgi", ".pl", ".cfm", ".py", ".shtml", ".do")
_HTTRACK = re.compile(rb"<!--\s*Mirrored from\s+(\S+)\s+by HTTrack", re.IGNORECASE)
_SAVED_FROM = re.compile(rb"<!--\s*saved from url=\(\d+\)\s*(\S+?)\s*-->", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HostKind:
    """What a URL's host is. ``onion`` is the normalised address for onion hosts (the
    market's identity); ``historical`` is the selector kind's mark (v2 onions)."""

    kind: str  # onion, onion_v2, ip, dns
    onion: str | None = None
    historical: bool = False


def host_kind(host: str) -> HostKind:
    """Classify a URL's host name (lower case, no port); raises ValueError saying why a
    host is not acceptable (a malformed onion, an empty name, bad characters). Onions are
    checked by their selector kinds: ``onion`` (v3, checksum verified) and ``onion_v2``
    (16 characters, historical: accepted for imported and archived data only)."""
    host = host.lower().rstrip(".")
    if not host:
        raise ValueError("no host name")
    if host.endswith(".onion"):
        label = host.removesuffix(".onion").rsplit(".", 1)[-1]
        name = "onion_v2" if len(label) == 16 else "onion"
        kind = selector_kind(name)
        try:
            onion = kind.normalise(label + ".onion")
        except SelectorInvalid as exc:
            what = "v2 onion" if name == "onion_v2" else "onion"
            raise ValueError(f"not a valid {what} address: {exc.reason}") from exc
        return HostKind(name, onion, kind.historical)
    if host == "localhost":
        return HostKind("ip")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return HostKind("ip")
    if not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise ValueError(f"{host!r} is not a host name")
    return HostKind("dns")


def host_folder(name: str, *, httrack: bool = False) -> str | None:
    """The ``host[:port]`` a mirror folder called ``name`` stands for, or None when the
    name does not look like a host. HTTrack writes a port as ``_PORT`` (``httrack``), wget
    as ``:PORT`` (``+PORT`` on Windows). Raises ValueError for a folder named like an
    onion that is not a valid onion address."""
    name = name.lower()
    host, port = name, None
    match = _PORT.fullmatch(name)
    if match and (name[len(match["host"])] != "_" or httrack):
        host, port = match["host"], match["port"]
    if host.endswith(".onion"):
        host_kind(host)  # raises for a malformed onion
    else:
        try:
            kind = host_kind(host)
        except ValueError:
            return None
        if kind.kind == "dns" and ("." not in host or host.rsplit(".", 1)[-1] not in _TLDS):
            return None
    return f"{host}:{port}" if port else host


def mirror_path_url(base: str, relative: str, *, linked: frozenset[str] = frozenset()) -> str:
    """The URL a mirror saved as ``relative`` (a POSIX path below the folder that ``base``
    is the URL of). ``linked`` holds the paths (with query) other pages of the mirror link
    to: a file ``1.html`` is taken for ``/1`` when pages link to ``/1`` and never to
    ``/1.html`` (wget's ``--adjust-extension`` added the suffix)."""
    parts = PurePosixPath(relative).parts
    folders, name = list(parts[:-1]), parts[-1]
    name = re.sub(r"(\.html?)\.\d+$", r"\1", name)  # wget's numbered copies: index.html.1
    path_part, query = _split_query(name)
    if query is not None:
        query = re.sub(r"\.html?$", "", query)  # --adjust-extension appended it to the query
    elif path_part.lower().endswith((".html", ".htm")):
        stem = path_part.rsplit(".", 1)[0]
        if stem.lower().endswith(DYNAMIC_SUFFIXES):
            path_part = stem
    if query is None and path_part.lower() in ("index.html", "index.htm"):
        path_part = ""  # wget saves a directory URL as its index.html
    prefix = base if base.endswith("/") else base + "/"
    segments = [*folders, path_part]
    path = "/".join(quote(s, safe="!$&'()*+,;=:@~%-._") for s in segments)
    url = prefix + path + (f"?{quote(query, safe='!$&()*+,;=:@/?~%-._')}" if query else "")
    if query is None and path_part and path_part.lower().endswith(".html") and linked:
        stripped = url[: -len(".html")]
        if _path_query(stripped) in linked and _path_query(url) not in linked:
            return stripped
    return url


def _split_query(name: str) -> tuple[str, str | None]:
    if "?" in name:
        path, _, query = name.partition("?")
        return path, query
    lowered = name.lower()
    if "%3f" in lowered:
        at = lowered.index("%3f")
        return name[:at], name[at + 3 :]
    at = name.find("@")
    if at > 0 and "=" in name[at:]:
        return name[:at], name[at + 1 :]
    return name, None


def _path_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def page_links(url: str, hrefs: list[str]) -> set[str]:
    """Paths (with query) of the same-host links among ``hrefs`` of the page at ``url``."""
    host = urlsplit(url).netloc
    found = set()
    for href in hrefs:
        try:
            target = urlsplit(urljoin(url, href.strip()))
        except ValueError:
            continue
        if target.netloc == host and target.scheme in ("http", "https"):
            found.add(target.path + (f"?{target.query}" if target.query else ""))
    return found


def httrack_source(head: bytes) -> str | None:
    """The URL in HTTrack's ``Mirrored from`` comment (HTTrack leaves out ``http://``)."""
    match = _HTTRACK.search(head)
    return _absolute(match[1].decode("latin-1")) if match else None


def saved_from_url(head: bytes) -> str | None:
    """The URL in a browser's ``<!-- saved from url=(NNNN)URL -->`` comment."""
    match = _SAVED_FROM.search(head)
    if not match:
        return None
    url = match[1].decode("latin-1")
    return url if url.lower().startswith(("http://", "https://")) else None


def _absolute(text: str) -> str:
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        return text
    parts = urlsplit("http://" + text)
    return urlunsplit(parts._replace(path=parts.path or "/"))
