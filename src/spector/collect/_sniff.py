"""What a payload is, by its bytes as well as its name and declared type.

Imports keep pages (HTML) only. Media is never stored (DESIGN: no images or video unless a
site is allowed; imported data has no such permission), whatever its name or declared
type says: an image served as ``text/html`` is still an image, and a page with a picture
appended to it is not stored either (``spector.collect._media`` knows the formats, for
the crawler as for imports). Style sheets, scripts,
fonts and other files are not pages either.
"""

from __future__ import annotations

import re
import zlib

from spector.collect._media import embedded
from spector.collect._media import sniff as media_format

__all__ = ["MAX_PAGE_BYTES", "embedded", "gunzip_head", "is_html", "payload_kind"]

MAX_PAGE_BYTES = 64 << 20  # a page larger than this is not a page (or a decompression bomb)

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MEDIA_TYPES = ("image/", "video/", "audio/")
_MEDIA_EXT = frozenset(
    {"jpg", "jpeg", "png", "gif", "webp", "bmp", "svg", "ico", "tif", "tiff", "avif", "heic"}
    | {"heif", "jxl", "mp4", "webm", "mkv", "avi", "mov", "m4v", "flv", "wmv", "mpg", "mpeg"}
    | {"3gp", "mp3", "ogg", "oga", "ogv", "wav", "m4a", "flac", "opus"}
)
_HTML_ELEMENTS = (
    "!doctype html|html|head|body|title|meta|link|script|style|iframe|frameset|h[1-6]|div"
    "|font|table|a|b|br|p|center|form|span|ul|ol|noscript|base|img|pre|hr|nav|header|main"
)
_HTML_START = re.compile(
    rb"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:" + _HTML_ELEMENTS.encode() + rb")[\s/>]",
    re.IGNORECASE | re.DOTALL,
)
_HTML_INSIDE = re.compile(rb"<(?:html|body|head)[\s>]", re.IGNORECASE)
_PAGE_EXT = (".html", ".htm", ".xhtml", ".shtml", ".php", ".asp", ".aspx", ".jsp", ".cgi")


def is_html(head: bytes, name: str = "") -> bool:
    """Whether ``head`` (the first bytes of a payload) is an HTML document.

    It is when it starts (after a byte-order mark, white space, an XML declaration and
    comments) with an HTML tag, as the WHATWG sniffing rules say; or, for a file named
    like a page, when an ``<html>``, ``<head>`` or ``<body>`` tag follows some text (a
    PHP warning printed before the page, say) and the bytes are not binary.
    """
    text = _as_utf8(head)
    if _HTML_START.match(text):
        return True
    return (
        name.lower().split("?", 1)[0].endswith(_PAGE_EXT)
        and b"\x00" not in text
        and _HTML_INSIDE.search(text) is not None
    )


def _as_utf8(head: bytes) -> bytes:
    if head.startswith(b"\xef\xbb\xbf"):
        return head[3:]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be"
        return head[2 : len(head) & ~1].decode(codec, "replace").encode("utf-8")
    return head


def payload_kind(head: bytes, content_type: str | None, name: str = "") -> str:
    """``page``, ``media`` or ``other`` for a payload whose first bytes are ``head``,
    declared as ``content_type`` (may be None), found under ``name`` (a URL path or file
    name). Media wins over every other sign; then a declared HTML type or HTML bytes make
    a page."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    extension = name.lower().split("?", 1)[0].rsplit("/", 1)[-1].rpartition(".")[2]
    if declared.startswith(_MEDIA_TYPES) or extension in _MEDIA_EXT:
        return "media"
    if media_format(head) is not None:
        return "media"
    if declared in _HTML_TYPES or is_html(head, name):
        return "page"
    return "other"


def gunzip_head(data: bytes, size: int = 65536) -> bytes | None:
    """The first ``size`` bytes that gzip'd ``data`` decompresses to, or None when it is
    not gzip (or not even its first block decompresses)."""
    if not data.startswith(b"\x1f\x8b"):
        return None
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, size)
    except zlib.error:
        return None
