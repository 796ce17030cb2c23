"""The crawl: per-site workers over a shared frontier, logins with CAPTCHA hand-off,
politeness, retries, trap guards, WARC evidence and a capture index.

Each site has its own HTTP client (its own cookies, its own Tor circuit) and its own
workers; a site waiting for a human to solve its CAPTCHA pauses alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from spector.collect._fetch import FetchResult, fetch, make_client
from spector.collect._links import decode, page_links
from spector.collect._profile import SiteProfile
from spector.collect._publish import publish
from spector.collect._state import CaptureRow, CrawlState, FrontierItem
from spector.collect._tor import new_identity
from spector.collect._urls import Refusal, Scope, canonical, signature
from spector.collect._warc import Archive
from spector.errors import LoginFailed

__all__ = ["CrawlOptions", "Crawler"]

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class CrawlOptions:
    proxy: str = "socks5h://127.0.0.1:9050"
    blocklist: frozenset[str] = frozenset()
    deadline: float = 120.0  # seconds for one whole exchange (slow-loris guard)
    max_attempts: int = 8
    signature_cap: int = 10_000  # pages of one URL shape, unless the profile caps it
    publish_every: int = 500
    warc_max_bytes: int = 1 << 30
    captcha_poll: float = 0.5
    seed: int = 0  # jitter only
    tor_control: str | None = None  # HOST:PORT of Tor's ControlPort: NEWNYM on failure streaks
    tor_password: str | None = None
    newnym_after: int = 10  # consecutive failed fetches of a site before asking for new circuits


CLIENT_SHARE = 16  # workers per HTTP client: httpcore's pool scans all its connections per event


@dataclass
class SiteCrawl:
    """One site's crawl. Its clients share one SOCKS identity (one Tor circuit) and, after
    each login, one session cookie; several small pools beat one large one."""

    profile: SiteProfile
    scope: Scope
    clients: list[httpx.AsyncClient]
    login_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    logged_in: bool = False
    failed: str | None = None
    failure_streak: int = 0

    @property
    def client(self) -> httpx.AsyncClient:
        """The client logins use; its cookies are copied to the others."""
        return self.clients[0]

    def share_cookies(self) -> None:
        for other in self.clients[1:]:
            other.cookies = self.client.cookies


class Crawler:
    def __init__(
        self,
        root: Path,
        profiles: list[SiteProfile],
        options: CrawlOptions,
        state: CrawlState,
        run_id: int,
    ) -> None:
        self.root = root
        self.options = options
        self.state = state
        self.run_id = run_id
        self.archive = Archive(root / "warc", f"spector-r{run_id}", options.warc_max_bytes)
        self.profiles = profiles
        self.rng = random.Random(options.seed)  # noqa: S311 - politeness jitter, not a secret
        self.since_publish = 0
        self.publishing: asyncio.Future[None] | None = None
        self.background: set[asyncio.Future[bool]] = set()
        self.newnym_requests = 0
        self.refused: dict[str, int] = {}
        # pages admitted per (site, URL shape): rebuilt from the frontier on resume
        self.shapes: dict[tuple[str, str], int] = {}
        for site_name, url in state.frontier_urls(run_id):
            key = (site_name, signature(url))
            self.shapes[key] = self.shapes.get(key, 0) + 1

    async def run(self) -> dict[str, object]:
        """Crawl every site until its frontier is empty or a stop is requested."""
        self.state.requeue_active(self.run_id)
        self.archive.truncate_to_committed(self.state.warc_ends())
        sites = []
        for profile in self.profiles:
            site = SiteCrawl(
                profile,
                Scope(profile, self.options.blocklist),
                [
                    make_client(self.options.proxy, f"spector-{profile.name}", CLIENT_SHARE)
                    for _ in range(-(-profile.concurrency // CLIENT_SHARE))
                ],
            )
            seeds = []
            for url in profile.start_urls:
                target = site.scope.resolve(url, url)
                refusal = target if isinstance(target, Refusal) else site.scope.admit(target)
                if refusal is not None:
                    self._refuse(site, refusal)
                    continue
                seeds.append((str(target), 0))
            self.state.enqueue(self.run_id, profile.name, seeds)
            sites.append(site)
        try:
            await asyncio.gather(*(self._crawl_site(s) for s in sites))
        finally:
            for site in sites:
                for client in site.clients:
                    await client.aclose()
            if self.publishing is not None:
                await self.publishing
            await asyncio.gather(*self.background, return_exceptions=True)
            publish(self.root, self.state, self.profiles, self.run_id)
        stopped = self.state.stop_requested(self.run_id)
        self.state.set_run(self.run_id, status="stopped" if stopped else "done")
        return {
            "stopped": stopped,
            "failed": {s.profile.name: s.failed for s in sites if s.failed},
            "refused": dict(self.refused),
            "newnym": self.newnym_requests,
        }

    # -- workers ------------------------------------------------------------------------
    async def _crawl_site(self, site: SiteCrawl) -> None:
        await asyncio.gather(*(self._worker(site, n) for n in range(site.profile.concurrency)))

    async def _worker(self, site: SiteCrawl, number: int) -> None:
        client = site.clients[number // CLIENT_SHARE]
        name = site.profile.name
        while site.failed is None:
            if self.state.stop_requested(self.run_id):
                return
            item = self.state.claim(self.run_id, name)
            if item is None:
                pending, next_at = self.state.pending(self.run_id, name)
                if pending == 0:
                    return
                wait = 0.05 if next_at is None else max(0.05, min(1.0, next_at - time.time()))
                await asyncio.sleep(wait)
                continue
            if site.profile.delay or site.profile.jitter:
                await asyncio.sleep(site.profile.delay + self.rng.uniform(0, site.profile.jitter))
            try:
                if site.profile.login is not None and not site.logged_in:
                    await self._login(site)
            except LoginFailed as exc:
                site.failed = str(exc)
                self.state.release(self.run_id, item.url)
                return
            result = await fetch(
                client,
                item.url,
                cap=site.profile.max_body_bytes,
                deadline=self.options.deadline,
                allow_media=site.profile.media == "allow",
            )
            # Handle the page after this worker's next request is on its way: with many
            # workers answered at once, handling them in line would delay every next fetch.
            asyncio.get_running_loop().call_soon(self._handle, site, item, result)

    def _handle(self, site: SiteCrawl, item: FrontierItem, result: FetchResult) -> None:
        """Store a fetched page, or schedule its retry; commit it with its links."""
        profile = site.profile
        if result.error is not None or (result.status or 0) >= 500 or result.status == 429:
            self._retry_or_fail(site, item, result)
            return
        if self._logged_out(site, result):
            site.logged_in = False
            self.state.release(self.run_id, item.url)
            return
        site.failure_streak = 0
        capture = self._store(site, result)
        links = self._links(site, item, result)
        self.state.commit_capture(
            self.run_id, capture, item.url, final="done", links=links, site=profile.name
        )
        self._maybe_publish()

    def _retry_or_fail(self, site: SiteCrawl, item: FrontierItem, result: FetchResult) -> None:
        reason = result.error or f"HTTP {result.status}"
        site.failure_streak += 1
        if self.options.tor_control and site.failure_streak >= self.options.newnym_after:
            site.failure_streak = 0
            self.newnym_requests += 1
            task = asyncio.ensure_future(
                asyncio.to_thread(new_identity, self.options.tor_control, self.options.tor_password)
            )
            self.background.add(task)
            task.add_done_callback(self.background.discard)
        if item.attempts + 1 < self.options.max_attempts:
            if result.status == 429:
                delay = _retry_after(result.header("retry-after"))
            else:
                delay = min(60.0, 0.5 * 2**item.attempts)
            self.state.retry(self.run_id, item.url, delay, reason)
            return
        capture = (
            self._store(site, result) if result.status is not None else _error_row(site, result)
        )
        self.state.commit_capture(
            self.run_id,
            capture,
            item.url,
            final="failed",
            links=[],
            site=site.profile.name,
            reason=reason,
        )

    # -- evidence -----------------------------------------------------------------------
    def _store(self, site: SiteCrawl, result: FetchResult, *, dedupe: bool = True) -> CaptureRow:
        if result.status is None:
            return _error_row(site, result)
        previous = self.state.last_digest(result.url) if dedupe else None
        written, sha = self.archive.write(
            url=result.url,
            fetched_at=result.fetched_at,
            request_line=result.request_line,
            request_headers=result.request_headers,
            status_line=f"{result.status} {_reason(result.status)}",
            response_headers=result.headers,
            body=result.raw,
            truncated=result.truncated
            if result.truncated in ("length", "time", "disconnect")
            else None,
            previous=previous,
        )
        return CaptureRow(
            url=result.url,
            host=urlsplit(result.url).hostname or "",
            site=site.profile.name,
            fetched_at=_iso(result),
            status=result.status,
            content_type=result.content_type,
            sha256=sha,
            warc_file=written.warc_file,
            warc_offset=written.offset,
            warc_end=written.end,
            record_type="revisit" if written.revisit else "response",
            reason=_truncation_reason(result),
        )

    def _links(
        self, site: SiteCrawl, item: FrontierItem, result: FetchResult
    ) -> list[tuple[str, int]]:
        hrefs: list[str] = []
        base = result.url
        location = result.header("location")
        if location and 300 <= (result.status or 0) < 400:
            hrefs.append(location)
        if (result.content_type or "").lower().startswith(HTML_TYPES) and result.body:
            declared, found = page_links(decode(result.body, result.content_type))
            if declared:
                target = site.scope.resolve(result.url, declared)
                refusal = target if isinstance(target, Refusal) else site.scope.admit(target)
                if refusal is None and isinstance(target, str):
                    base = target
                else:
                    self._refuse(site, refusal or Refusal(declared, "bad <base>"), what="<base>")
            hrefs += found
        depth = item.depth + 1
        out = []
        for href in hrefs:
            target = site.scope.resolve(base, href)
            if isinstance(target, Refusal):
                self._refuse(site, target)
                continue
            refusal = site.scope.admit(target)
            if refusal is not None:
                self._refuse(site, refusal)
                continue
            if depth > site.profile.max_depth:
                self._refuse(site, Refusal(target, "deeper than max_depth"))
                continue
            out.append(target)
        return self._capped(site, out, depth)

    def _capped(self, site: SiteCrawl, urls: list[str], depth: int) -> list[tuple[str, int]]:
        """Drop URLs already in the frontier, and those past their shape's cap."""
        fresh = self.state.unseen(self.run_id, list(dict.fromkeys(urls)))
        kept = []
        for url in fresh:
            sig = signature(url)
            cap = next(
                (n for pattern, n in site.profile.caps.items() if re.search(pattern, url)),
                self.options.signature_cap,
            )
            key = (site.profile.name, sig)
            if self.shapes.get(key, 0) >= cap:
                self._refuse(site, Refusal(url, f"more than {cap} pages shaped {sig}"))
                continue
            self.shapes[key] = self.shapes.get(key, 0) + 1
            kept.append((url, depth))
        return kept

    def _refuse(self, site: SiteCrawl, refusal: Refusal, what: str = "link") -> None:
        key = (
            refusal.reason.split(" is not")[0] if "allow-list" in refusal.reason else refusal.reason
        )
        self.refused[key] = self.refused.get(key, 0) + 1
        self.state.refuse(
            self.run_id, site.profile.name, refusal.url[:500], f"{what}: {refusal.reason}"
        )

    def _maybe_publish(self) -> None:
        """Publish now and then, on a thread: the store's write must not stall the fetches."""
        self.since_publish += 1
        if self.since_publish < self.options.publish_every:
            return
        if self.publishing is not None and not self.publishing.done():
            return
        self.since_publish = 0
        self.publishing = asyncio.ensure_future(asyncio.to_thread(self._publish_on_thread))

    def _publish_on_thread(self) -> None:
        state = CrawlState(self.state.path)  # SQLite connections stay on their thread
        try:
            publish(self.root, state, self.profiles, self.run_id, wait=False)
        finally:
            state.close()

    # -- login --------------------------------------------------------------------------
    def _logged_out(self, site: SiteCrawl, result: FetchResult) -> bool:
        flow = site.profile.login
        if flow is None:
            return False
        login_path = urlsplit(canonical(f"http://{site.profile.hosts[0]}{flow.url}")).path
        location = result.header("location") or ""
        if 300 <= (result.status or 0) < 400 and urlsplit(location).path == login_path:
            return True
        return urlsplit(result.url).path != login_path and b'type="password"' in result.body[:65536]

    async def _login(self, site: SiteCrawl) -> None:
        async with site.login_lock:
            if site.logged_in:
                return
            flow = site.profile.login
            assert flow is not None  # noqa: S101 - only called for profiles with a login
            host = site.profile.hosts[0]
            for _attempt in range(5):
                if self.state.stop_requested(self.run_id):
                    raise LoginFailed("stop requested during login")
                page = await self._fetch_kept(site, f"http://{host}{flow.url}", media=False)
                tree = HTMLParser(decode(page.body, page.content_type))
                form = tree.css_first(flow.form)
                if form is None:
                    raise LoginFailed(f"no login form matching {flow.form!r} at {flow.url}")
                data = {
                    n.attributes["name"] or "": n.attributes.get("value") or ""
                    for n in form.css("input[type=hidden][name]")
                }
                data[flow.username_field] = flow.username
                data[flow.password_field] = flow.password
                if flow.captcha_image and flow.captcha_field:
                    data[flow.captcha_field] = await self._captcha(
                        site, tree, page.url, flow.captcha_image
                    )
                action = site.scope.resolve(page.url, form.attributes.get("action") or page.url)
                if isinstance(action, Refusal) or urlsplit(action).hostname not in site.scope.hosts:
                    raise LoginFailed(f"login form posts outside the site: {action}")
                answer = await fetch(
                    site.client,
                    action,
                    cap=site.profile.max_body_bytes,
                    deadline=self.options.deadline,
                    allow_media=False,
                    method="POST",
                    data=data,
                )
                self.state.add_capture(self.run_id, self._store(site, answer, dedupe=False))
                location = answer.header("location") or ""
                if answer.status in (301, 302, 303) and urlsplit(location).path != flow.url:
                    site.share_cookies()
                    site.logged_in = True
                    return
            raise LoginFailed("login failed 5 times (wrong CAPTCHA answers or credentials)")

    async def _fetch_kept(self, site: SiteCrawl, url: str, *, media: bool) -> FetchResult:
        for attempt in range(self.options.max_attempts):
            result = await fetch(
                site.client,
                url,
                cap=site.profile.max_body_bytes,
                deadline=self.options.deadline,
                allow_media=media,
            )
            if result.error is None and (result.status or 0) < 500 and result.status != 429:
                self.state.add_capture(self.run_id, self._store(site, result, dedupe=False))
                return result
            await asyncio.sleep(
                _retry_after(result.header("retry-after"))
                if result.status == 429
                else min(30.0, 0.5 * 2**attempt)
            )
        raise LoginFailed(f"{url} did not answer: {result.error or result.status}")

    async def _captcha(
        self, site: SiteCrawl, tree: HTMLParser, page_url: str, selector: str
    ) -> str:
        node = tree.css_first(selector)
        src = node.attributes.get("src") if node is not None else None
        if not src:
            raise LoginFailed(f"no CAPTCHA image matching {selector!r}")
        target = site.scope.resolve(page_url, src)
        if isinstance(target, Refusal) or urlsplit(target).hostname not in site.scope.hosts:
            raise LoginFailed(f"CAPTCHA image outside the site: {src}")
        image = await self._fetch_kept(site, target, media=True)  # the one picture we fetch
        folder = self.root / "captchas"
        folder.mkdir(exist_ok=True)
        captcha_id = hashlib.sha256(f"{site.profile.name}|{time.time_ns()}".encode()).hexdigest()[
            :12
        ]
        path = folder / f"{captcha_id}.png"
        path.write_bytes(image.body)
        self.state.queue_captcha(captcha_id, site.profile.name, str(path))
        while (answer := self.state.captcha_answer(captcha_id)) is None:
            if self.state.stop_requested(self.run_id):
                raise LoginFailed("stop requested while waiting for a CAPTCHA")
            await asyncio.sleep(self.options.captcha_poll)
        self.state.use_captcha(captcha_id)
        return answer


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, min(300.0, float(value or "1")))
    except ValueError:
        return 1.0


def _iso(result: FetchResult) -> str:
    return result.fetched_at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _truncation_reason(result: FetchResult) -> str | None:
    return {
        "length": "body cut at the size cap",
        "time": "body cut at the time limit",
        "disconnect": "connection lost mid-body",
        "media": "media content type refused; body not fetched",
        "undecodable": "compressed body could not be inflated",
    }.get(result.truncated or "")


def _error_row(site: SiteCrawl, result: FetchResult) -> CaptureRow:
    return CaptureRow(
        result.url,
        urlsplit(result.url).hostname or "",
        site.profile.name,
        _iso(result),
        result.status,
        result.content_type,
        None,
        None,
        None,
        None,
        "error",
        result.error,
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
