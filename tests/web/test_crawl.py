"""The crawl area: runs and per-site status, the CAPTCHA queue (answered from the web,
seen by the crawler's CrawlState), and captures (escaped source, inert preview)."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from spector.collect._state import CrawlState
from spector.collect._warc import Archive
from spector.web._security import PREVIEW_CSP
from tests.web.harness import WebClient

VIEWER_PASSWORD = "viewer password 12345"


def _state(client: WebClient) -> CrawlState:
    return CrawlState(client.app.state.web.ws_root / "collect.sqlite")


def _follow(client: WebClient, url: str) -> list[dict[str, Any]]:
    """Every item of a paged API list, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        sep = "&" if "?" in url else "?"
        page = client.get(url + (f"{sep}cursor={cursor}" if cursor else "")).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def _login(client: WebClient, logins: dict[str, str], who: str = "bka_analyst") -> WebClient:
    client.logout_cookies()
    assert client.login(who, logins[who]).status_code == 303
    return client


def _add_viewer(client: WebClient) -> None:
    from spector.cases import create_user
    from spector.cases._who_models import principal_of, user_by_name

    with client.app.state.web.session() as s:
        admin = principal_of(s, user_by_name(s, "admin").id)
        create_user(
            s,
            admin,
            agency="BKA",
            username="bka_viewer",
            password=VIEWER_PASSWORD,
            roles=["viewer"],
        )


def _queue(client: WebClient, captcha_id: str, site: str = "Quartz Bazaar") -> Path:
    """A CAPTCHA waiting in the copy's collect.sqlite, its picture one of the demo's."""
    root = client.app.state.web.ws_root
    picture = root / "captchas" / f"{captcha_id}.png"
    shutil.copy(next((root / "captchas").glob("*.png")), picture)
    state = _state(client)
    try:
        state.queue_captcha(captcha_id, site, str(picture))
    finally:
        state.close()
    return picture


# -- runs and sites -----------------------------------------------------------------------


def test_crawl_page_shows_the_run_and_every_site(analyst: WebClient):
    page = analyst.get("/crawl")
    assert page.status_code == 200
    state = _state(analyst)
    try:
        run = state.last_run()
        assert run is not None
        sites = state.site_status(run["run_id"])
    finally:
        state.close()
    assert f"Run {run['run_id']}" in page.text
    for s in sites:
        cell = rf'<td><a href="/captures\?site=[^"]+">{re.escape(s["site"])}</a></td>\s*'
        row = re.search(cell + rf'<td class="num">{s["pages"]:,}</td>', page.text)
        assert row, s["site"]
    assert analyst.get("/crawl/status").text.count("<tr>") == len(sites) + 1


def test_sites_api_agrees_with_crawl_state_and_pages(analyst: WebClient):
    state = _state(analyst)
    try:
        run = state.last_run()
        assert run is not None
        expected = state.site_status(run["run_id"])
    finally:
        state.close()
    items = _follow(analyst, "/api/v1/crawl/sites?limit=2")
    assert [i["site"] for i in items] == [s["site"] for s in expected]
    for got, want in zip(items, expected, strict=True):
        assert {k: got[k] for k in want} == want
        assert got["captures"] >= got["pages"]
    assert any(i["bounds"] for i in items)  # the range's calendars hit the caps bound
    assert analyst.get("/api/v1/crawl/sites?run=99").status_code == 404


def test_runs_api_pages_newest_first(web_rw: WebClient, logins):
    state = _state(web_rw)
    try:
        for _ in range(3):
            state.new_run("socks5h://127.0.0.1:9", ["/x/extra.toml"], pid=0)
    finally:
        state.close()
    _login(web_rw, logins)
    runs = _follow(web_rw, "/api/v1/crawl/runs?limit=1")
    assert [r["run_id"] for r in runs] == [4, 3, 2, 1]
    assert runs[0]["state"] == "interrupted"  # recorded as running, no such process
    assert runs[0]["profiles"] == ["extra"]
    assert runs[-1]["pages"] > 0
    page = web_rw.get("/crawl?limit=2")
    assert 'rel="next"' in page.text
    assert "interrupted" in page.text


def test_a_workspace_never_crawled_has_empty_lists(web_rw: WebClient, logins):
    (web_rw.app.state.web.ws_root / "collect.sqlite").unlink()
    for extra in ("-wal", "-shm"):
        (web_rw.app.state.web.ws_root / f"collect.sqlite{extra}").unlink(missing_ok=True)
    _login(web_rw, logins)
    assert "No crawl in this workspace yet" in web_rw.get("/crawl").text
    for url in ("/api/v1/crawl/runs", "/api/v1/crawl/sites", "/api/v1/captchas"):
        assert web_rw.get(url).json() == {"items": [], "next_cursor": None}
    assert web_rw.get("/api/v1/captchas/abc").status_code == 404


def test_bad_cursor_and_signed_out(web: WebClient, logins):
    _login(web, logins)
    bad = web.get("/api/v1/crawl/runs?cursor=%%%")
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("cursor")
    assert web.get("/api/v1/crawl/sites?cursor=WyJ4IiwxXQ").status_code == 400  # ["x",1]
    web.logout_cookies()
    assert web.get("/api/v1/crawl/runs").status_code == 401
    assert web.get("/api/v1/captchas").status_code == 401
    assert web.get("/crawl/captchas").status_code == 303


# -- CAPTCHAs -----------------------------------------------------------------------------


def test_answering_a_captcha_on_the_page_reaches_the_crawler(web_rw: WebClient, logins):
    picture = _queue(web_rw, "aaaa00001111")
    _login(web_rw, logins)
    page = web_rw.get("/crawl/captchas")
    assert "aaaa00001111" in page.text
    assert 'src="/api/v1/captchas/aaaa00001111/image"' in page.text
    assert 'action="/crawl/captchas/aaaa00001111"' in page.text
    assert "waiting" in web_rw.get("/crawl").text  # the site's CAPTCHA column
    image = web_rw.get("/api/v1/captchas/aaaa00001111/image")
    assert image.headers["content-type"] == "image/png"
    assert image.content == picture.read_bytes()

    done = web_rw.post(
        "/crawl/captchas/aaaa00001111", data={"answer": "  K7QX2 ", "csrf": web_rw.csrf}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/crawl/captchas?answered=aaaa00001111"
    state = _state(web_rw)
    try:
        assert state.captcha_answer("aaaa00001111") == "K7QX2"  # what the crawler polls
        assert all(c["id"] != "aaaa00001111" for c in state.pending_captchas())
    finally:
        state.close()
    after = web_rw.get("/crawl/captchas?answered=aaaa00001111")
    assert "Answered CAPTCHA" in after.text
    assert 'action="/crawl/captchas/aaaa00001111"' not in after.text
    again = web_rw.post("/api/v1/captchas/aaaa00001111/answer", json={"answer": "X"},
                        headers={"X-CSRF-Token": web_rw.csrf})  # fmt: skip
    assert again.status_code == 409
    assert web_rw.get("/api/v1/captchas/aaaa00001111").json()["status"] == "solved"


def test_api_answer_bad_input_unknown_and_csrf(web_rw: WebClient, logins):
    _queue(web_rw, "bbbb00002222")
    _login(web_rw, logins)
    token = {"X-CSRF-Token": web_rw.csrf}
    url = "/api/v1/captchas/bbbb00002222/answer"
    assert web_rw.post(url, json={"answer": "   "}, headers=token).status_code == 400
    assert web_rw.post(url, json={"answer": "x" * 65}, headers=token).status_code == 400
    assert web_rw.post(url, json={"answer": "ab\x00c"}, headers=token).status_code == 400
    assert web_rw.post(url, json={"answer": "ABC"}).status_code == 403  # no CSRF header
    missing = web_rw.post("/api/v1/captchas/nope/answer", json={"answer": "A"}, headers=token)
    assert missing.status_code == 404
    form = web_rw.post("/crawl/captchas/bbbb00002222", data={"answer": "", "csrf": web_rw.csrf})
    assert form.status_code == 400
    assert "answer: empty" in form.text
    ok = web_rw.post(url, json={"answer": "ABC"}, headers=token)
    assert ok.status_code == 200
    assert ok.json()["status"] == "solved"
    assert "answer" not in ok.json()  # the answer is never given back


def test_a_viewer_sees_the_queue_but_may_not_answer(web_rw: WebClient):
    _queue(web_rw, "cccc00003333")
    _add_viewer(web_rw)
    web_rw.logout_cookies()
    assert web_rw.login("bka_viewer", VIEWER_PASSWORD).status_code == 303
    page = web_rw.get("/crawl/captchas")
    assert "cccc00003333" in page.text
    assert 'action="/crawl/captchas/cccc00003333"' not in page.text
    assert "Only an analyst or an admin may answer" in page.text
    form = web_rw.post("/crawl/captchas/cccc00003333", data={"answer": "AB", "csrf": web_rw.csrf})
    assert form.status_code == 403
    api = web_rw.post("/api/v1/captchas/cccc00003333/answer", json={"answer": "AB"},
                      headers={"X-CSRF-Token": web_rw.csrf})  # fmt: skip
    assert api.status_code == 403
    assert api.json()["error"]["type"] == "AccessDenied"
    assert web_rw.get("/api/v1/captchas/cccc00003333").json()["status"] == "pending"


def test_captcha_list_pages_and_filters(web_rw: WebClient, logins):
    for i in range(5):
        _queue(web_rw, f"dddd0000{i:04d}", site=f"Site {i}")
    _login(web_rw, logins)
    waiting = _follow(web_rw, "/api/v1/captchas?limit=2")
    assert [c["id"] for c in waiting] == [f"dddd0000{i:04d}" for i in range(5)]
    every = _follow(web_rw, "/api/v1/captchas?status=all&limit=3")
    assert len(every) == 5 + 5  # and the demo's five, used
    assert {c["status"] for c in every} == {"pending", "used"}
    assert len(_follow(web_rw, "/api/v1/captchas?status=used")) == 5
    assert web_rw.get("/api/v1/captchas?status=nonsense").status_code == 422
    page = web_rw.get("/crawl/captchas?limit=2")
    assert page.text.count('class="card captcha"') == 2
    assert 'rel="next"' in page.text


def test_captcha_pictures_are_served_from_the_captchas_folder_only(web_rw: WebClient, logins):
    root = web_rw.app.state.web.ws_root
    secret = root / "spector.toml"
    state = _state(web_rw)
    try:
        state.queue_captcha("eeee00004444", "X", str(secret))  # not in captchas/
        state.queue_captcha("ffff00005555", "X", str(root / "captchas" / "../spector.toml"))
    finally:
        state.close()
    (root / "captchas" / "gggg00006666.png").write_bytes(b"<svg onload=alert(1)>")
    state = _state(web_rw)
    try:
        state.queue_captcha("gggg00006666", "X", str(root / "captchas" / "gggg00006666.png"))
    finally:
        state.close()
    _login(web_rw, logins)
    for cid in ("eeee00004444", "ffff00005555"):
        assert web_rw.get(f"/api/v1/captchas/{cid}/image").status_code == 404
        assert web_rw.get(f"/api/v1/captchas/{cid}").json()["has_image"] is False
    assert web_rw.get("/api/v1/captchas/gggg00006666/image").status_code == 400  # not a PNG


# -- captures -----------------------------------------------------------------------------

HOSTILE = (
    "<!doctype html><html><head><title>x</title>"
    '<meta http-equiv="refresh" content="0;url=http://evil.example/r">'
    '<base href="http://evil.example/"><link rel="stylesheet" href="http://evil.example/s.css">'
    "<style>@import url(http://evil.example/i.css); body{background:url(http://evil.example/b.png)}"
    "</style></head><body onload=\"alert('onload')\">"
    "<h1>Vendor <b>PAYLOAD-TEXT</b></h1><script>alert('script')</script>"
    '<img src="http://evil.example/p.png" onerror="alert(1)">'
    '<a href="javascript:alert(2)">click</a><svg onload="alert(3)"><image href="x"/></svg>'
    '<iframe src="http://evil.example/f"></iframe><video src="v.mp4"></video>'
    '<form action="http://evil.example/post"><input name="q"></form>'
    "<textarea></textarea><p style=\"background:url('http://evil.example/a.png')\">end</p>"
    "</body></html>"
)


def _add_capture(client: WebClient, capture_id: str, body: bytes, content_type: str) -> None:
    """A capture in the copy's store whose WARC record holds ``body``."""
    root = client.app.state.web.ws_root
    url = f"http://hostile.example/{capture_id}"
    written, sha = Archive(root / "warc", "webtest").write(
        url=url, fetched_at=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC),
        request_line="GET / HTTP/1.1", request_headers=[("Host", "hostile.example")],
        status_line="200 OK", response_headers=[("Content-Type", content_type)], body=body,
    )  # fmt: skip
    with client.app.state.web.writing() as ws:
        ws.store.con.execute(
            "INSERT INTO captures (id, url, host, site, fetched_at, status, content_type, "
            "sha256, warc_file, warc_offset, record_type, source, first_seen, last_seen) "
            "VALUES (?, ?, 'hostile.example', 'Hostile <Site>', TIMESTAMP '2031-01-02 03:04:05', "
            "200, ?, ?, ?, ?, 'response', 'test', now(), now())",
            [capture_id, url, content_type, sha, f"warc/{written.warc_file}", written.offset],
        )


def test_capture_list_filters_sorts_and_pages(analyst: WebClient):
    everything = _follow(analyst, "/api/v1/captures?limit=37")
    with analyst.app.state.web.workspace() as ws:
        total = ws.store.con.execute("SELECT count(*) FROM captures").fetchone()[0]
        cobalt = ws.store.con.execute(
            "SELECT url FROM captures WHERE site = 'Cobalt Hub' ORDER BY url, id"
        ).fetchall()
    assert len(everything) == total
    assert len({c["id"] for c in everything}) == total
    stamps = [c["fetched_at"] for c in everything]
    assert stamps == sorted(stamps, reverse=True)
    by_url = _follow(analyst, "/api/v1/captures?site=Cobalt%20Hub&sort=url&limit=7")
    assert [c["url"] for c in by_url] == [r[0] for r in cobalt]
    assert _follow(analyst, "/api/v1/captures?q=LOGIN&limit=100")[0]["url"].endswith("/login")
    assert analyst.get("/api/v1/captures?sort=sha256").status_code == 422
    assert analyst.get("/api/v1/captures?sort=url&cursor=WzEsMl0").status_code == 400  # [1,2]
    page = analyst.get("/captures?site=Cobalt+Hub&limit=5")
    assert page.text.count('<td class="scraped mono">') == 5
    assert '<option value="Cobalt Hub" selected>' in page.text
    assert 'href="/captures?site=Cobalt+Hub&amp;sort=url"' in page.text  # a sortable column


def test_capture_page_shows_escaped_source_and_an_inert_preview(web_rw: WebClient, logins):
    _add_capture(web_rw, "capture-hostile", HOSTILE.encode(), "text/html; charset=utf-8")
    _login(web_rw, logins)
    page = web_rw.get("/captures/capture-hostile")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#39;script&#39;)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    assert "onerror=" not in page.text.replace("onerror=&#34;", "")
    assert 'href="http://hostile.example' not in page.text  # the URL is text, not a link
    assert "Hostile &lt;Site&gt;" in page.text
    assert '<iframe class="preview" sandbox="" src="/captures/capture-hostile/preview"' in page.text

    preview = web_rw.get("/captures/capture-hostile/preview")
    assert preview.headers["content-security-policy"] == PREVIEW_CSP
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    html = preview.text.lower()
    assert "payload-text" in html
    assert "<textarea>" in html
    for banned in ("<script", "<img", "<svg", "<iframe", "<video", "<meta", "<base", "<link",
                   "onload", "onerror", "javascript:", "href=", "src=", "action=", "url(",
                   "@import", "evil.example"):  # fmt: skip
        assert banned not in html, banned


def test_media_captures_are_never_shown(web_rw: WebClient, logins):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    _add_capture(web_rw, "capture-picture", png, "image/png")
    _login(web_rw, logins)
    page = web_rw.get("/captures/capture-picture")
    assert "media and other binary payloads from captures are never shown" in page.text
    assert "<img" not in page.text
    assert "<iframe" not in page.text
    preview = web_rw.get("/captures/capture-picture/preview")
    assert "No preview" in preview.text
    assert "<img" not in preview.text
    api = web_rw.get("/api/v1/captures/capture-picture").json()
    assert api["payload"] == {"size": 72, "html": False, "charset": "utf-8", "note": None,
                              "text": None, "text_truncated": False}  # fmt: skip


def test_capture_api_detail_and_unknown(analyst: WebClient):
    first = analyst.get("/api/v1/captures?site=Golden%20Hub&q=/login&sort=fetched_at").json()[
        "items"
    ][0]
    detail = analyst.get(f"/api/v1/captures/{first['id']}").json()
    assert detail["url"] == first["url"]
    assert detail["payload"]["html"] is True
    assert detail["payload"]["text"].startswith("<!DOCTYPE html>")
    assert detail["payload"]["size"] == len(detail["payload"]["text"].encode())
    assert analyst.get("/api/v1/captures/capture-nope").status_code == 404
    assert analyst.get("/captures/capture-nope").status_code == 404


@pytest.mark.parametrize("path", ["/crawl", "/crawl/captchas", "/captures"])
def test_pages_link_the_stylesheet_and_have_no_inline_script(analyst: WebClient, path: str):
    text = analyst.get(path).text
    assert '<link rel="stylesheet" href="/static/crawl.css">' in text
    assert re.search(r"<script(?![^>]*\bsrc=)", text) is None
