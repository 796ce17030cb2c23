"""Logging in to a site: its form, its CAPTCHA handed to a human, the session cookie.

A site waiting for a human to solve its CAPTCHA pauses alone. The login page is parsed
off the event loop with the nesting bound, as every page is; the form must post to the
site itself and the CAPTCHA picture must come from it (the one picture ever fetched).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from spector.collect._fetch import FetchResult, fetch
from spector.collect._links import decode, login_form
from spector.collect._urls import Refusal
from spector.errors import LoginFailed

if TYPE_CHECKING:
    from spector.collect._crawler import Crawler, SiteCrawl

__all__ = ["log_in", "logged_out"]


def logged_out(site: SiteCrawl, result: FetchResult) -> bool:
    """Whether ``result`` says the session is gone: a redirect to the login page, or a
    password form on a page other than the login page."""
    flow = site.profile.login
    if flow is None:
        return False
    login_path = urlsplit(flow.url).path
    location = result.header("location") or ""
    if 300 <= (result.status or 0) < 400 and urlsplit(location).path == login_path:
        return True
    return urlsplit(result.url).path != login_path and b'type="password"' in result.body[:65536]


async def log_in(crawler: Crawler, site: SiteCrawl) -> None:
    """Log ``site`` in (once, whatever the number of workers asking); LoginFailed says why not."""
    async with site.login_lock:
        if site.logged_in:
            return
        flow = site.profile.login
        if flow is None:
            return
        login_path = urlsplit(flow.url).path
        loop = asyncio.get_running_loop()
        for _attempt in range(5):
            if crawler.state.stop_requested(crawler.run_id):
                raise LoginFailed("stop requested during login")
            page = await fetch_kept(crawler, site, flow.url, media=False)
            html = decode(page.body, page.content_type)
            form = await loop.run_in_executor(
                crawler.pool, login_form, html, flow.form, flow.captcha_image
            )
            if not form.found:
                raise LoginFailed(f"no login form matching {flow.form!r} at {flow.url}")
            data = dict(form.hidden)
            data[flow.username_field] = flow.username
            data[flow.password_field] = flow.password
            if flow.captcha_image and flow.captcha_field:
                data[flow.captcha_field] = await _captcha(crawler, site, page.url, form.captcha_src)
            action = site.scope.resolve(page.url, form.action or page.url)
            if isinstance(action, Refusal) or site.scope.admit_host(action) is not None:
                raise LoginFailed(f"login form posts outside the site: {action}")
            answer = await fetch(
                site.client,
                action,
                cap=site.profile.max_body_bytes,
                timeout=site.timeout,
                deadline=site.deadline,
                allow_media=False,
                method="POST",
                data=data,
            )
            crawler.state.add_capture(crawler.run_id, crawler.store(site, answer, dedupe=False))
            location = answer.header("location") or ""
            if answer.status in (301, 302, 303) and urlsplit(location).path != login_path:
                site.share_cookies()
                site.logged_in = True
                return
        raise LoginFailed("login failed 5 times (wrong CAPTCHA answers or credentials)")


async def fetch_kept(crawler: Crawler, site: SiteCrawl, url: str, *, media: bool) -> FetchResult:
    """Fetch ``url`` until it answers (retrying errors), keep it as evidence, return it."""
    result = None
    for attempt in range(crawler.options.max_attempts):
        result = await fetch(
            site.client,
            url,
            cap=site.profile.max_body_bytes,
            timeout=site.timeout,
            deadline=site.deadline,
            allow_media=media,
        )
        if result.proxy_down and await crawler.proxy_gone(site):
            break
        if result.error is None and (result.status or 0) < 500 and result.status != 429:
            crawler.state.add_capture(crawler.run_id, crawler.store(site, result, dedupe=False))
            return result
        await asyncio.sleep(
            crawler.retry_after(result) if result.status == 429 else min(30.0, 0.5 * 2**attempt)
        )
    why = (result.error or result.status) if result is not None else "no attempt"
    raise LoginFailed(f"{url} did not answer: {why}")


async def _captcha(crawler: Crawler, site: SiteCrawl, page_url: str, src: str | None) -> str:
    flow = site.profile.login
    if not src:
        raise LoginFailed(f"no CAPTCHA image matching {flow.captcha_image if flow else ''!r}")
    target = site.scope.resolve(page_url, src)
    if isinstance(target, Refusal) or site.scope.admit_host(target) is not None:
        raise LoginFailed(f"CAPTCHA image outside the site: {src}")
    image = await fetch_kept(crawler, site, target, media=True)  # the one picture we fetch
    folder = crawler.root / "captchas"
    folder.mkdir(exist_ok=True)
    name = f"{site.profile.name}|{time.time_ns()}"
    captcha_id = hashlib.sha256(name.encode()).hexdigest()[:12]
    path = folder / f"{captcha_id}.png"
    path.write_bytes(image.body)
    crawler.state.queue_captcha(captcha_id, site.profile.name, str(path))
    while (answer := crawler.state.captcha_answer(captcha_id)) is None:
        if crawler.state.stop_requested(crawler.run_id):
            raise LoginFailed("stop requested while waiting for a CAPTCHA")
        await asyncio.sleep(crawler.options.captcha_poll)
    crawler.state.use_captcha(captcha_id)
    return answer
