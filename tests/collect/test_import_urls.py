"""The URL a mirror tool saved a page under, host kinds (v2 onions: historical), and what a
payload is by its bytes."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from spector.collect._import_urls import (
    host_folder,
    host_kind,
    httrack_source,
    mirror_path_url,
    saved_from_url,
)
from spector.collect._sniff import gunzip_head, is_html, payload_kind
from spector.model import onion_address_from_key

V3 = onion_address_from_key(hashlib.sha256(b"urls").digest())
BASE = "http://dreamxyzabcdefgh.onion/"


def test_host_kinds():
    assert host_kind(V3).kind == "onion"
    assert host_kind(f"www.{V3}").onion == V3  # a subdomain is the same service
    v2 = host_kind("DreamXYZabcdefgh.onion")
    assert (v2.kind, v2.onion, v2.historical) == ("onion_v2", "dreamxyzabcdefgh.onion", True)
    assert host_kind(V3).historical is False
    assert host_kind("127.0.0.1").kind == "ip"
    assert host_kind("example.com").kind == "dns"
    bad_checksum = V3[:10] + ("a" if V3[10] != "a" else "b") + V3[11:]
    with pytest.raises(ValueError, match="not a valid onion"):
        host_kind(bad_checksum)
    with pytest.raises(ValueError, match="v2 onion"):
        host_kind("dream1yzabcdefgh.onion")  # 1 is not base32
    with pytest.raises(ValueError, match="not a valid onion"):
        host_kind("short.onion")
    with pytest.raises(ValueError, match="not a host name"):
        host_kind("bad_name!.com")


def test_host_folders():
    assert host_folder("dreamxyzabcdefgh.onion") == "dreamxyzabcdefgh.onion"
    assert host_folder(V3) == V3
    assert host_folder("127.0.0.1:8080") == "127.0.0.1:8080"  # wget
    assert host_folder("127.0.0.1+8080") == "127.0.0.1:8080"  # wget, Windows names
    assert host_folder("127.0.0.1_8080", httrack=True) == "127.0.0.1:8080"
    assert host_folder("127.0.0.1_8080") is None
    assert host_folder("forum.example.com") == "forum.example.com"
    for not_a_host in ("john.doe", "2014-01-01", "listing", "v1.2", "index.html"):
        assert host_folder(not_a_host) is None, not_a_host
    with pytest.raises(ValueError, match="not a valid onion"):
        host_folder("x" * 56 + ".onion")  # named as an onion, and not one


@pytest.mark.parametrize(
    ("saved", "url"),
    [
        ("index.html", BASE),
        ("board/index.html", BASE + "board/"),
        ("index.html.1", BASE),  # wget's second copy
        ("item.php@id=3.html", BASE + "item.php?id=3"),
        ("item.php?id=3.html", BASE + "item.php?id=3"),
        ("item.php%3Fid=3.html", BASE + "item.php?id=3"),
        ("item.php%3fid=3", BASE + "item.php?id=3"),
        ("view?id=9", BASE + "view?id=9"),
        ("user/@bob.html", BASE + "user/@bob.html"),  # an @ with no query after it
        ("show.php.html", BASE + "show.php"),  # --adjust-extension on a script's URL
        ("about.html", BASE + "about.html"),
        ("a page.html", BASE + "a%20page.html"),
        ("q.php@a=1&b=x%2Fy.html", BASE + "q.php?a=1&b=x%2Fy"),
    ],
)
def test_mirror_names_back_to_urls(saved, url):
    assert mirror_path_url(BASE, saved) == url


def test_links_tell_an_added_html_suffix():
    linked = frozenset({"/listing/7", "/about.html"})
    assert mirror_path_url(BASE, "listing/7.html", linked=linked) == BASE + "listing/7"
    assert mirror_path_url(BASE, "about.html", linked=linked) == BASE + "about.html"
    both = frozenset({"/x", "/x.html"})  # both linked: the file is what it says
    assert mirror_path_url(BASE, "x.html", linked=both) == BASE + "x.html"


def test_comments_that_say_where_a_page_came_from():
    head = (
        b"<html>\n<!-- Mirrored from dreamxyzabcdefgh.onion/vendor?id=7 by HTTrack Website "
        b"Copier/3.x [XR&CO'2014], Tue, 01 Dec 2015 09:22:21 GMT -->"
    )
    assert httrack_source(head) == BASE + "vendor?id=7"
    assert httrack_source(head.replace(b"dreamxyz", b"https://dreamxyz")) == (
        "https://dreamxyzabcdefgh.onion/vendor?id=7"
    )
    assert httrack_source(b"<html><body>Mirrored from nowhere</body></html>") is None
    saved = b"<!-- saved from url=(0032)http://dreamxyzabcdefgh.onion/a -->"
    assert saved_from_url(saved) == BASE + "a"
    assert saved_from_url(b"<!-- saved from url=(0014)about:internet -->") is None


def test_what_a_payload_is():
    png = b"\x89PNG\r\n\x1a\n" + bytes(40)
    assert payload_kind(png, "text/html", "/index.html") == "media"  # bytes win
    assert payload_kind(b"<html><body>x", "application/octet-stream") == "page"
    assert payload_kind(b"<html>", "image/jpeg") == "media"  # and the declared type
    assert payload_kind(b"<html>", None, "/logo.jpg") == "media"  # and the name
    assert payload_kind(b"body{color:red}", "text/css", "/s.css") == "other"
    assert payload_kind(b'{"a": 1}', "application/json") == "other"
    assert is_html(b"\xef\xbb\xbf  <?xml version='1.0'?>\n<!-- c -->\n<!DOCTYPE html><html>")
    assert is_html("<html><body>ü</body>".encode("utf-16"))
    assert is_html(b"Warning: mysql_connect() failed\n<html><body>", "index.php")
    assert not is_html(b"Warning: mysql_connect() failed\n<html><body>", "notes.txt")
    assert not is_html(b"just text")
    assert gunzip_head(gzip.compress(b"WARC/1.0\r\n")) == b"WARC/1.0\r\n"
    assert gunzip_head(b"WARC/1.0") is None
