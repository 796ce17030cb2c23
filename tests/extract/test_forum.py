"""Forum threads: posts with their thread, author, date, text and media links; selectors in
post text become sightings; a thread page whose layout changed is an extraction error and
the batch goes on, with nothing of that page stored."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import tomli_w
from aiohttp import web
from tests.collect.harness import OnionSites, onion, site_app
from tests.extract.make_golden import REFERENCE

from spector.collect import decode, read_stored, start_crawl
from spector.extract._captures import scan_captures
from spector.extract._dates import resolve_relative
from spector.extract._pages import PageError, records_of
from spector.extract._run import extract_captures
from spector.extract._templates import template_for
from spector.model import Post, VendorAccount, selector_kind
from spector.store import Workspace

GOLDEN = Path(__file__).parent / "golden"
PAGE1 = (GOLDEN / "forum-thread.html").read_text(encoding="utf-8")
PAGE2 = (GOLDEN / "forum-thread-page2.html").read_text(encoding="utf-8")
PATH = json.loads((GOLDEN / "forum-thread.json").read_text(encoding="utf-8"))["path"]
BTC = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
ONION = onion("planted in a post")


def _posts(html: str) -> list[Post]:
    template = template_for("forum")
    result = template.apply(PATH, html)
    records = records_of(result, template, "market-golden", "Golden Site", REFERENCE)
    assert all(isinstance(r, Post) for r in records)
    return records  # type: ignore[return-value]


def test_posts_without_ids_of_their_own_are_numbered_by_page_and_place():
    bare = [re.sub(r' id="P[0-9a-f]+"', "", page) for page in (PAGE1, PAGE2)]
    first, second = _posts(bare[0]), _posts(bare[1])
    assert [p.post_ref for p in first] == [f"1.{i}" for i in range(1, 11)]
    assert [p.post_ref for p in second] == ["2.1", "2.2"]
    assert len({p.id for p in first + second}) == 12
    # the same page seen again gives the same records
    assert _posts(bare[0]) == first


def test_an_author_links_to_a_vendor_of_the_same_handle_on_the_same_market():
    post = _posts(PAGE1)[0]
    shouted = VendorAccount(market_id="market-golden", handle=post.author.upper())
    assert post.author_id == shouted.id
    assert post.author_id != VendorAccount(market_id="market-other", handle=post.author).id


def test_dates_keep_what_the_page_shows():
    day = _posts(PAGE1)[0]
    assert day.posted_before - day.posted_after == timedelta(days=1)  # "2023-01-26"
    first_time = re.search(r"<time>[^<]*</time>", PAGE1)[0]
    minute = _posts(PAGE1.replace(first_time, "<time>2023-01-26T14:05</time>", 1))[0]
    assert minute.posted_before - minute.posted_after == timedelta(minutes=1)
    relative = _posts(PAGE1.replace(first_time, "<time>3 days ago</time>", 1))[0]
    assert (relative.posted_after, relative.posted_before) == resolve_relative(
        "3 days ago", REFERENCE, REFERENCE
    )
    unreadable = _posts(PAGE1.replace(first_time, "<time>long ago</time>", 1))[0]
    assert (unreadable.posted_after, unreadable.posted_before) == (None, None)


def test_media_links_are_kept_as_text_in_page_order_and_paragraphs_as_lines():
    post = re.search(r'<article class="post".*?</article>', PAGE1)[0]
    rich = re.sub(
        r"<p>.*</p>",
        '<p>first  para</p><p>second</p><video controls><source src="/media/a.webm"></video>'
        '<img src="/media/b.png" alt="x"><img alt="no source">',
        post,
    )
    got = _posts(PAGE1.replace(post, rich, 1))[0]
    assert got.text == "first para\nsecond"
    assert got.media == ("/media/a.webm", "/media/b.png")


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ('class="post"', 'class="message"', "without posts"),
        ('class="author"', 'class="poster"', "without an author"),
        ("h1>", "h2>", "without its thread id or title"),
    ],
)
def test_a_changed_layout_is_a_page_error(old, new, reason):
    with pytest.raises(PageError, match=reason):
        _posts(PAGE1.replace(old, new))


def test_a_cut_thread_page_gives_fewer_posts_or_an_error_never_a_crash():
    counts = set()
    for end in range(0, len(PAGE1), 7):
        try:
            posts = _posts(PAGE1[:end])
        except PageError:
            continue
        assert all(p.author and p.thread_title for p in posts)
        counts.add(len(posts))
    assert counts >= {1, 5, 9}
    assert max(counts) <= 10


# -- end to end: crawled, extracted, scanned ---------------------------------------------

HOST = onion("forum-extraction")


def _forum_site(planted: str):
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/":
            links = '<a href="/thread/T1">one</a> <a href="/thread/T2">two</a>'
            return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")
        if request.path == "/thread/T1":
            return web.Response(text=planted, content_type="text/html")
        if request.path == "/thread/T2":  # this thread's page moved to a new layout
            return web.Response(
                text=PAGE2.replace('class="author"', 'class="poster"'), content_type="text/html"
            )
        return web.Response(status=404)

    return handler


def test_crawled_thread_posts_selectors_and_a_changed_page(tmp_path):
    assert selector_kind("btc_address").validate(BTC)
    text = re.search(r'<article class="post".*?<p>(.*?)</p>', PAGE1)[1]
    said = f"{text} Pay {BTC} or find me at {ONION} now."
    planted = PAGE1.replace(f"<p>{text}</p>", f"<p>{said}</p>", 1)
    profile = tmp_path / "forum.toml"
    site = {"name": "Test Forum", "family": "forum", "hosts": [HOST]}
    site["start_urls"] = [f"http://{HOST}/"]
    profile.write_text(tomli_w.dumps({"site": site}))
    root = tmp_path / "ws"
    Workspace.init(root).close()
    with OnionSites({HOST: site_app(_forum_site(planted))}) as sites:
        start_crawl(root, [profile], proxy=sites.proxy_url)
    with Workspace.open(root, write=True) as ws:
        con = ws.store.con
        urls = [u for (u,) in con.execute("SELECT url FROM captures").fetchall()]
        assert not [u for u in urls if "/media/" in u]  # media links are never fetched
        report = extract_captures(ws)
        assert (report.extracted, report.errors) == (1, 1)
        errors = con.execute("SELECT ref, reason FROM extraction_errors").fetchall()
        assert len(errors) == 1
        assert errors[0][0].endswith("/thread/T2")
        assert "without an author" in errors[0][1]
        (market,) = con.execute("SELECT id FROM markets WHERE name = 'Test Forum'").fetchone()
        rows = con.execute(
            "SELECT thread_ref, post_ref, author, text, media FROM posts ORDER BY post_ref"
        ).fetchall()
        assert {r[0] for r in rows} == {"T1"}  # nothing of the changed page
        assert len(rows) == 10
        assert con.execute("SELECT count(DISTINCT market_id) FROM posts").fetchone() == (1,)
        assert con.execute("SELECT market_id FROM posts LIMIT 1").fetchone() == (market,)
        said_row = next(r for r in rows if r[3] == said)
        assert said_row[4] == []
        assert sorted(m for r in rows for m in r[4]) == sorted(
            re.findall(r'src="(/media/[^"]+)"', PAGE1)
        )

        kinds = scan_captures(ws)
        assert kinds["btc_address"] >= 1
        assert kinds["onion"] >= 1
        sightings = con.execute(
            "SELECT s.kind, s.value, s.char_start, s.char_end, c.warc_file, c.warc_offset, "
            "c.content_type FROM selector_sightings s JOIN captures c ON c.id = s.capture_id "
            "WHERE c.url LIKE '%/thread/T1'"
        ).fetchall()
        found = {(kind, value) for kind, value, *_ in sightings}
        assert ("btc_address", BTC) in found
        assert ("onion", selector_kind("onion").normalise(ONION)) in found
        for kind, _, start, end, warc, offset, ctype in sightings:
            if kind not in ("btc_address", "onion"):
                continue
            page = decode(read_stored(root / warc, offset).body, ctype)
            assert page[start:end] in said  # where it was seen: inside the post's text
