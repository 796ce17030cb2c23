"""Media is recognised by its bytes, its name and its declared type, and is not stored
(only a record that it was refused) unless the site allows media."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io

import pytest
from aiohttp import web
from PIL import Image
from tests.collect.harness import onion
from tests.collect.hostile_site import HostileSites, Raw, captures, crawl, payload, read_request
from warcio.archiveiterator import ArchiveIterator

from spector.collect._media import declared, embedded, sniff

SITE, BARE = onion("media-site"), onion("media-bare")


def picture(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, kind)
    return out.getvalue()


# The boxes a real file starts with: MPEG-4 (ftyp) and WebM (an EBML header, DocType webm).
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + b"\0" * 64
WEBM = (
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
    b"\x42\x82\x84webm\x42\x87\x81\x04\x42\x85\x81\x02" + b"\0" * 64
)
PNG, JPEG = picture("PNG"), picture("JPEG")
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9"></svg>'
PAGE = b"<!DOCTYPE html><html><body><p>hello</p></body></html>"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (picture("GIF"), "image/gif"),
        (picture("WEBP"), "image/webp"),
        (picture("BMP"), "bmp"),
        (picture("TIFF"), "image/tiff"),
        (MP4, "video/mp4"),
        (WEBM, "video/webm"),
        (SVG, "image/svg+xml"),
        (b"\xef\xbb\xbf  " + SVG, "image/svg+xml"),
    ],
)
def test_media_is_recognised_by_its_bytes(data, kind):
    found = sniff(data[:1024])
    assert found is not None
    assert kind in found


@pytest.mark.parametrize(
    "data",
    [
        PAGE,
        b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'><svg></svg></html>",
        b'{"listing": 1, "price": "0.1 BTC"}',
        b"BMW for sale, 2 keys, no papers",  # "BM" is a bitmap's two-byte signature
        b"ID3 tags are the metadata of an MP3",  # so is "ID3" for MP3
        b"%PDF-1.4\n% a vendor's guide",
        b"",
    ],
)
def test_pages_and_text_are_not_media(data):
    assert sniff(data) is None
    assert embedded(data) is None


def test_media_hidden_in_a_page_is_found():
    assert embedded(PAGE + JPEG).startswith("JPEG image embedded at byte")
    assert embedded(b"<html>" * 100 + PNG).startswith("PNG image embedded at byte 600")
    assert "MPEG-4" in embedded(b"garbage" + MP4)


def test_declared_type_and_name():
    assert declared("image/png", None) == "declared type image/png"
    assert declared("video/mp4; codecs=avc1", None) == "declared type video/mp4"
    assert declared("application/octet-stream", 'attachment; filename="Clip.MP4"') == (
        "file name clip.mp4"
    )
    assert declared("application/octet-stream", "attachment; filename*=UTF-8''a%20b.jpg")
    assert declared("text/html; charset=utf-8", None) is None
    assert declared("application/octet-stream", "attachment; filename=keys.asc") is None


# What the site serves: (body, headers). Media in every disguise, and three controls.
SERVED = {
    "/octet": (PNG, {"Content-Type": "application/octet-stream"}),
    "/as-html": (JPEG, {"Content-Type": "text/html; charset=utf-8"}),
    "/webp-text": (picture("WEBP"), {"Content-Type": "text/plain"}),
    "/gzipped": (gzip.compress(PNG), {"Content-Type": "text/html", "Content-Encoding": "gzip"}),
    "/svg": (SVG, {"Content-Type": "text/html"}),
    "/appended": (PAGE + JPEG, {"Content-Type": "text/html"}),
    "/named": (
        b"\x13\x37" * 400,
        {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": "inline; filename=a.mp4",
        },
    ),
    "/declared": (b"not really a picture", {"Content-Type": "image/jpeg"}),
    "/page": (PAGE, {"Content-Type": "text/html"}),
    "/data.json": (b'{"a": [1, 2, 3]}', {"Content-Type": "application/json"}),
    "/bmw": (b"BMW for sale, 2 keys, no papers", {"Content-Type": "text/plain"}),
}
BARE_SERVED = {"/mp4": MP4, "/webm": WEBM, "/png": PNG, "/text": b"plain words, no type"}
WHY = {
    "/octet": "by its bytes",
    "/as-html": "by its bytes",
    "/webp-text": "by its bytes",
    "/gzipped": "by its bytes",
    "/svg": "by its bytes",
    "/appended": "embedded",
    "/named": "file name a.mp4",
    "/declared": "declared type image/jpeg",
    "/mp4": "by its bytes",
    "/webm": "by its bytes",
    "/png": "by its bytes",
}


async def media_site(request: web.Request) -> web.Response:
    if request.path == "/":
        links = "".join(f'<a href="{p}">{p}</a>' for p in SERVED)
        links += "".join(f'<a href="http://{BARE}{p}">{p}</a>' for p in BARE_SERVED)
        return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")
    body, headers = SERVED[request.path]
    return web.Response(body=body, headers=headers)


async def bare_site(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers with no Content-Type at all (aiohttp always sends one)."""
    _, path = await read_request(reader)
    body = BARE_SERVED[path]
    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    writer.write(body)
    await writer.drain()


def _profile(media: str) -> dict:
    return {
        "site": {
            "name": "media",
            "hosts": [SITE, BARE],
            "start_urls": [f"http://{SITE}/"],
            "media": media,
        }
    }


def _crawl(tmp_path, media: str):
    with HostileSites({SITE: media_site, BARE: Raw(bare_site)}) as sites:
        root, _ = crawl(tmp_path, [_profile(media)], sites)
    return root, captures(root)


def test_media_in_any_disguise_is_refused_and_not_stored(tmp_path):
    root, rows = _crawl(tmp_path, "none")
    for path, why in WHY.items():
        row = rows[path]
        assert row["record_type"] == "refused", path
        assert why in row["reason"], (path, row["reason"])
        assert row["reason"].startswith("media refused")
        assert row["sha256"] is None
        assert row["warc_file"] is None
    for path in ("/page", "/data.json", "/bmw", "/text"):
        row = rows[path]
        assert row["record_type"] == "response", path
        assert payload(root, row) == (SERVED.get(path, (BARE_SERVED.get(path), None))[0])
    # nothing in the evidence is a picture or a video: not one signature in any record
    for warc in (root / "warc").glob("*.warc.gz"):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                data = record.content_stream().read()
                assert embedded(data) is None, record.rec_headers.get_header("WARC-Target-URI")
                assert sniff(data[:1024]) is None
        assert embedded(gzip.decompress(warc.read_bytes())) is None


def test_a_site_that_allows_media_keeps_it(tmp_path):
    root, rows = _crawl(tmp_path, "allow")
    for path in WHY:
        row = rows[path]
        assert row["record_type"] == "response", path
        served = SERVED[path][0] if path in SERVED else BARE_SERVED[path]
        assert payload(root, row) == served
        assert row["sha256"] == hashlib.sha256(served).hexdigest()
