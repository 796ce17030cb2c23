"""Links out of a fetched page: <a>/<area> hrefs, <base>, meta refresh, Location.

Only navigation links are followed. Images, scripts, style sheets, frames, media and
form actions are never taken as links (forms may be orders or payments).
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser as HTMLParser

__all__ = ["charset_of", "decode", "page_links"]

_REFRESH = re.compile(r"url\s*=\s*['\"]?([^'\";]+)", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*['\"]?([\w.:-]+)", re.IGNORECASE)


def charset_of(content_type: str | None, body: bytes) -> str:
    for text in (content_type or "", body[:2048].decode("ascii", "replace")):
        match = _CHARSET.search(text)
        if match:
            return match[1].lower()
    return "utf-8"


def decode(body: bytes, content_type: str | None) -> str:
    """Text of a page: its declared charset if Python knows it, else UTF-8; never raises."""
    charset = charset_of(content_type, body)
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def page_links(html: str) -> tuple[str | None, list[str]]:
    """(the <base href> if any, the navigation links in document order)."""
    tree = HTMLParser(html)
    base_node = tree.css_first("base[href]")
    base = base_node.attributes.get("href") if base_node is not None else None
    links = []
    for node in tree.css("a[href], area[href]"):
        href = node.attributes.get("href")
        if href:
            links.append(href)
    for node in tree.css("meta[http-equiv]"):
        if (node.attributes.get("http-equiv") or "").lower() == "refresh":
            match = _REFRESH.search(node.attributes.get("content") or "")
            if match:
                links.append(match[1].strip())
    return base, links
