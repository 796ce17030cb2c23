"""The CAPTCHA hand-off in real Chromium: a crawl of a training-range site (served on
loopback behind the range's SOCKS proxy) pauses at the site's login CAPTCHA; the analyst
sees the picture on /crawl/captchas, types what it shows, and the crawl resumes and
finishes; /crawl then shows the site crawled and no CAPTCHA waiting."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.e2e.conftest import serving
from tests.web.e2e.harness import LiveServer, Watch, login, shot, wait_until
from tests.web.harness import copy_demo


@pytest.fixture(scope="module")
def crange(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from spector.sim import generate

    out = tmp_path_factory.mktemp("e2e-range") / "tiny"
    truth = generate(7, "tiny", out)
    return out, truth


@pytest.fixture(scope="module")
def crawl_live(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    ws = copy_demo(demo_template, tmp_path_factory.mktemp("e2e-crawl") / "ws")
    with serving(ws) as server:
        server.ws = ws  # type: ignore[attr-defined]
        yield server


def test_captcha_answered_in_the_browser_resumes_the_crawl(
    page: Any,
    watch: Watch,
    crawl_live: LiveServer,
    crange: tuple[Path, dict[str, Any]],
    logins: dict[str, str],
) -> None:
    from spector.sim import RangeServer

    out, truth = crange
    ws: Path = crawl_live.ws  # type: ignore[attr-defined]
    market = next(m for m in truth["markets"] if m["family"] == "walletless")
    login(page, crawl_live.url, "bka_analyst", logins["bka_analyst"])
    with RangeServer(out) as rng:
        crawl = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from spector.cli import run; run()",
                "crawl",
                "start",
                str(out / market["profile"]),
                "--proxy",
                rng.proxy_url,
                "-w",
                str(ws),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def waiting() -> Any:
                if crawl.poll() is not None:
                    raise AssertionError(f"the crawl ended first: {crawl.communicate()}")
                page.goto(crawl_live.url + "/crawl/captchas")
                return page.locator("li.captcha form.captcha-answer").count()

            wait_until(waiting, timeout=120, every=0.5)
            item = page.locator("li.captcha").first
            assert market["name"] in item.text_content()
            img = item.locator("img.captcha")
            page.wait_for_function(
                "() => { const i = document.querySelector('img.captcha');"
                " return i.complete && i.naturalWidth > 0; }"
            )
            picture = page.request.get(crawl_live.url + img.get_attribute("src"))
            assert picture.headers["content-type"] == "image/png"
            answer = truth["captchas"][hashlib.sha256(picture.body()).hexdigest()]
            shot(page, "captcha-waiting")
            # the crawl's status page says the site waits for a person
            page.goto(crawl_live.url + "/crawl")
            assert market["name"] in page.locator("main").text_content()
            page.goto(crawl_live.url + "/crawl/captchas")
            page.locator("li.captcha input[name=answer]").first.fill(answer)
            with page.expect_navigation():
                page.locator("li.captcha form.captcha-answer button[type=submit]").first.click()
            assert page.locator(".flash.ok").count() == 1
            shot(page, "captcha-answered")
            stdout, stderr = crawl.communicate(timeout=180)
        finally:
            if crawl.poll() is None:
                crawl.kill()
                crawl.communicate()
    assert crawl.returncode == 0, stderr
    assert "crawl finished" in stdout
    sites = page.request.get(crawl_live.url + "/api/v1/crawl/sites").json()["items"]
    site = next(s for s in sites if s["site"] == market["name"])
    assert site["captcha"] is False
    assert site["queue"] == 0
    assert site["pages"] >= market["pages"]
    page.goto(crawl_live.url + "/crawl/captchas")
    assert page.locator("li.captcha form.captcha-answer").count() == 0
    page.goto(crawl_live.url + "/crawl")
    shot(page, "crawl-after-captcha")
    watch.assert_clean(page)
