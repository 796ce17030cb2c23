"""Media recognised by its bytes, its name and its declared type.

Spector never stores images, video or audio from a site that does not allow media (and
never from one flagged for abuse material): a site may serve a picture as
``application/octet-stream``, as ``text/html`` or with no type at all, so the declared
type is not enough. ``sniff`` reads the magic number at the head of a body (puremagic's
table of image, video and audio formats, with the weak two- and three-byte signatures
checked further so that a text beginning "BMW" is not a bitmap); ``embedded`` finds a
picture or a video hidden inside another body (a page with a JPEG appended to it).
"""

from __future__ import annotations

import re

import puremagic

__all__ = ["MEDIA_EXTENSIONS", "MEDIA_TYPES", "SNIFF_BYTES", "declared", "embedded", "sniff"]

SNIFF_BYTES = 1024  # how much of a body's head is read before deciding

_EXTENSIONS = (
    "jpg jpeg jpe jfif png apng gif webp bmp dib svg svgz ico cur tif tiff avif heic heif "
    "jxl jp2 psd mp4 m4v webm mkv avi mov qt flv wmv mpg mpeg ts 3gp mp3 ogg oga opus wav "
    "flac m4a aac css js woff woff2 ttf otf eot swf"
)
MEDIA_EXTENSIONS = frozenset(_EXTENSIONS.split(" "))
# Declared types never fetched without media = "allow" (style and scripts neither: a
# crawler for evidence does not run or render them).
MEDIA_TYPES = (
    "image/",
    "video/",
    "audio/",
    "font/",
    "text/css",
    "application/javascript",
    "text/javascript",
    "application/x-shockwave-flash",
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
)
_MEDIA_MIME = ("image/", "video/", "audio/")
_SVG_ROOT = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]{0,200}>\s*)?(?:<!--.{0,2000}?-->\s*)*"
    rb"(?:<!DOCTYPE\s+svg[^>]{0,500}>\s*)?<svg[\s>]",
    re.IGNORECASE | re.DOTALL,
)
# Signatures specific enough to mean a picture or video wherever they stand in a body:
# (what it is, bytes found fast with bytes.find, what must follow them).
_EMBEDDED = (
    ("PNG image", b"\x89PNG\r\n\x1a\n", re.compile(rb"")),
    ("JPEG image", b"\xff\xd8\xff", re.compile(rb"\xe0..JFIF\x00|\xe1..Exif\x00\x00|\xdb", re.S)),
    (
        "MPEG-4 video",
        b"ftyp",
        re.compile(rb"isom|iso2|mp41|mp42|avc1|M4V |qt  |heic|heix|avif|3gp[4-6]"),
    ),
    ("WebM video", b"\x1a\x45\xdf\xa3", re.compile(rb".{0,40}webm", re.S)),
)
_CANDIDATES = 10_000  # signature starts checked per kind, at most


def declared(content_type: str | None, disposition: str | None) -> str | None:
    """Why a response is media by what it says of itself (its type, its file name), or None."""
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype.startswith(MEDIA_TYPES):
        return f"declared type {ctype}"
    match = re.search(r"filename\*?\s*=\s*(?:[\w-]+'[\w-]*')?\"?([^\";]+)", disposition or "", re.I)
    if match:
        name = match[1].strip().lower()
        if "." in name and name.rsplit(".", 1)[1] in MEDIA_EXTENSIONS:
            return f"file name {name[-80:]}"
    return None


def sniff(head: bytes) -> str | None:
    """What media format ``head`` (the first bytes of a body, inflated) is, or None."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n\f")
    if not text:
        return None
    if text.startswith(b"<"):  # markup: only an SVG picture is media
        return "SVG image (image/svg+xml)" if _SVG_ROOT.match(head) else None
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    for match in matches:
        mime = (match.mime_type or "").lower()
        extension = match.extension.lstrip(".").lower()
        if not (mime.startswith(_MEDIA_MIME) or extension in MEDIA_EXTENSIONS):
            continue
        if match.confidence < 0.3 and not _strong_bitmap(head):
            continue
        if extension == "mp3" and not _id3(head):
            continue
        return f"{match.name} ({mime or extension})"
    return None


def embedded(body: bytes) -> str | None:
    """A picture or video signature anywhere in ``body``, or None."""
    for name, start, rest in _EMBEDDED:
        position = body.find(start)
        for _ in range(_CANDIDATES):
            if position < 0:
                break
            if rest.match(body, position + len(start)):
                return f"{name} embedded at byte {position}"
            position = body.find(start, position + 1)
    return None


def _strong_bitmap(head: bytes) -> bool:
    """ "BM" is two bytes: a real BMP also has zero reserved bytes and a known header size."""
    return (
        head.startswith(b"BM")
        and len(head) >= 18
        and head[6:10] == b"\0\0\0\0"
        and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124)
    )


def _id3(head: bytes) -> bool:
    """ "ID3" is three letters: a real tag goes on with version 2-4 and a zero revision."""
    return len(head) >= 5 and head[:3] == b"ID3" and head[3] in (2, 3, 4) and head[4] == 0
