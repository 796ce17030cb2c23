"""The crawl: per-site workers over a shared frontier, logins with CAPTCHA hand-off,
politeness, retries, trap guards, WARC evidence and a capture index.

Each site has its own HTTP client (its own cookies, its own Tor circuit) and its own
workers; a site waiting for a human to solve its CAPTCHA pauses alone. Pages are
parsed on a thread pool, never on the event loop. The proxy going away stops the whole
crawl at once (a ``ProxyError``; the run can be resumed), and every bound hit is
counted in the summary (see ``spector.collect._bounds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from spector.collect._bounds import Admission
from spector.collect._fetch import TRUNCATED, FetchResult, fetch, make_client
from spector.collect._links import MAX_NESTING
from spector.collect._login import log_in, logged_out
from spector.collect._outlinks import Outlinks, Page, outlinks
from spector.collect._profile import SiteProfile
from spector.collect._publish import publish
from spector.collect._socks import parse_proxy, probe
from spector.collect._state import CaptureRow, CrawlState, FrontierItem
from spector.collect._tor import new_identity
from spector.collect._urls import Refusal, Scope
from spector.collect._warc import Archive
from spector.errors import InternalError, LoginFailed, ProxyError, SpectorError

__all__ = ["CrawlOptions", "Crawler"]


@dataclass
class CrawlOptions:
    proxy: str = "socks5h://127.0.0.1:9050"
    blocklist: frozenset[str] = frozenset()
    timeout: float = 60.0  # seconds for connection and headers, and between reads
    deadline: float = 120.0  # seconds for one whole exchange (slow-loris guard)
    max_attempts: int = 8
    signature_cap: int = 10_000  # pages of one URL shape, unless the profile caps it
    max_nesting: int = MAX_NESTING  # HTML elements deeper than this lose their tags
    parse_threads: int = 4
    probe_timeout: float = 10.0  # seconds the proxy has to answer a SOCKS greeting
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
    timeout: float
    deadline: float
    login_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # new URLs may be queued
    logged_in: bool = False
    failed: str | None = None
    failure_streak: int = 0

    @property
    def isolation(self) -> str:
        return _isolation(self.profile)

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
        self.proxy = parse_proxy(options.proxy)
        self.state = state
        self.run_id = run_id
        self.archive = Archive(root / "warc", f"spector-r{run_id}", options.warc_max_bytes)
        self.profiles = profiles
        self.rng = random.Random(options.seed)  # noqa: S311 - politeness jitter, not a secret
        self.since_publish = 0
        self.publishing: asyncio.Future[None] | None = None
        self.background: set[asyncio.Future[bool]] = set()
        self.handling: set[asyncio.Future[None]] = set()
        self.newnym_requests = 0
        self.admission = Admission(state, run_id, options.signature_cap)
        self.pool = ThreadPoolExecutor(options.parse_threads, thread_name_prefix="spector-parse")
        self.fatal: SpectorError | None = None  # stops every site: the proxy is gone, a bug
        self.proxy_lock = asyncio.Lock()

    @property
    def refused(self) -> dict[str, int]:
        return self.admission.refused

    async def run(self) -> dict[str, object]:
        """Crawl every site until its frontier is empty or a stop is requested.

        Raises ProxyError when the proxy goes away mid-crawl (the run is left stopped,
        to be resumed), after publishing what was captured."""
        self.state.requeue_active(self.run_id)
        self.archive.truncate_to_committed(self.state.warc_ends())
        sites = []
        for profile in self.profiles:
            timeout = profile.timeout or self.options.timeout
            site = SiteCrawl(
                profile,
                Scope(profile, self.options.blocklist),
                [
                    make_client(self.proxy, _isolation(profile), CLIENT_SHARE, timeout=timeout)
                    for _ in range(-(-profile.concurrency // CLIENT_SHARE))
                ],
                timeout=timeout,
                deadline=profile.deadline or self.options.deadline,
            )
            seeds = []
            for url in profile.start_urls:
                target = site.scope.resolve(url, url)
                refusal = target if isinstance(target, Refusal) else site.scope.admit(target)
                if refusal is not None:
                    self.admission.refuse(profile.name, refusal)
                    continue
                seeds.append(str(target))
            self.state.enqueue(self.run_id, profile.name, self.admission.seeds(profile, seeds))
            sites.append(site)
        try:
            await asyncio.gather(*(self._crawl_site(s) for s in sites))
        finally:
            await asyncio.gather(*self.handling, return_exceptions=True)
            for site in sites:
                for client in site.clients:
                    await client.aclose()
            if self.publishing is not None:
                await self.publishing
            await asyncio.gather(*self.background, return_exceptions=True)
            await asyncio.to_thread(self.pool.shutdown)
            publish(self.root, self.state, self.profiles, self.run_id)
        stopped = self.state.stop_requested(self.run_id)
        if self.fatal is not None:
            self.state.set_run(self.run_id, status="stopped")
            raise self.fatal
        self.state.set_run(self.run_id, status="stopped" if stopped else "done")
        return {
            "stopped": stopped,
            "failed": {s.profile.name: s.failed for s in sites if s.failed},
            "refused": dict(self.refused),
            "bounds": self.state.bounds(self.run_id),
            "newnym": self.newnym_requests,
        }

    # -- workers ------------------------------------------------------------------------
    async def _crawl_site(self, site: SiteCrawl) -> None:
        await asyncio.gather(*(self._worker(site, n) for n in range(site.profile.concurrency)))

    async def _worker(self, site: SiteCrawl, number: int) -> None:
        client = site.clients[number // CLIENT_SHARE]
        name = site.profile.name
        while site.failed is None and self.fatal is None:
            if self.state.stop_requested(self.run_id):
                return
            site.wake.clear()  # before claiming: a commit from now on wakes this worker
            item = self.state.claim(self.run_id, name)
            if item is None:
                pending, next_at = self.state.pending(self.run_id, name)
                if pending == 0:
                    site.wake.set()  # the others may be waiting for this very answer
                    return
                wait = 0.25 if next_at is None else max(0.01, min(1.0, next_at - time.time()))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await site.wake.wait()
                continue
            if site.profile.delay or site.profile.jitter:
                await asyncio.sleep(site.profile.delay + self.rng.uniform(0, site.profile.jitter))
            try:
                if site.profile.login is not None and not site.logged_in:
                    await log_in(self, site)
            except LoginFailed as exc:
                site.failed = str(exc)
                self.state.release(self.run_id, item.url)
                return
            result = await fetch(
                client,
                item.url,
                cap=site.profile.max_body_bytes,
                timeout=site.timeout,
                deadline=site.deadline,
                allow_media=site.profile.media == "allow",
            )
            if result.proxy_down and await self.proxy_gone(site):
                self.state.release(self.run_id, item.url)
                return
            # The page is handled while this worker's next request is on its way.
            task = asyncio.ensure_future(self._handle(site, item, result))
            self.handling.add(task)
            task.add_done_callback(self.handling.discard)

    async def proxy_gone(self, site: SiteCrawl) -> bool:
        """After a connection to the proxy failed: probe it; True (and the crawl stops)
        when it does not answer."""
        async with self.proxy_lock:
            if self.fatal is not None:
                return True
            try:
                await probe(self.proxy, site.profile.hosts[0], site.isolation)
            except ProxyError as exc:
                self.fatal = ProxyError(
                    f"the crawl stopped: {exc.what}",
                    hint="start Tor (its SocksPort) again, then `spector crawl resume`",
                )
                return True
        return False

    async def _handle(self, site: SiteCrawl, item: FrontierItem, result: FetchResult) -> None:
        """Store a fetched page, or schedule its retry; commit it with its links."""
        try:
            await self._handle_page(site, item, result)
        except Exception as exc:  # a bug: stop every site rather than wait on it for ever
            self.fatal = InternalError(f"handling {item.url} failed: {exc!r}")
            self.fatal.__cause__ = exc
        finally:
            site.wake.set()

    async def _handle_page(self, site: SiteCrawl, item: FrontierItem, result: FetchResult) -> None:
        if result.error is not None or (result.status or 0) >= 500 or result.status == 429:
            self._retry_or_fail(site, item, result)
            return
        if logged_out(site, result):
            site.logged_in = False
            self.state.release(self.run_id, item.url)
            return
        site.failure_streak = 0
        page = Page(
            result.url,
            result.status or 0,
            result.header("location"),
            result.content_type,
            result.body,
        )
        found: Outlinks = await asyncio.get_running_loop().run_in_executor(
            self.pool, self._outlinks, site.scope, page
        )
        capture = self.store(site, result)
        links = self.admission.links(
            site.profile, result.url, found, item.depth + 1, self.options.max_nesting
        )
        self.state.commit_capture(
            self.run_id, capture, item.url, final="done", links=links, site=site.profile.name
        )
        self._maybe_publish()

    def _outlinks(self, scope: Scope, page: Page) -> Outlinks:
        return outlinks(
            scope,
            page,
            max_links=scope.profile.max_links_per_page,
            max_nesting=self.options.max_nesting,
        )

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
                delay = self.retry_after(result)
            else:
                delay = min(60.0, 0.5 * 2**item.attempts)
            self.state.retry(self.run_id, item.url, delay, reason)
            return
        self.state.commit_capture(
            self.run_id,
            self.store(site, result),
            item.url,
            final="failed",
            links=[],
            site=site.profile.name,
            reason=reason,
        )

    @staticmethod
    def retry_after(result: FetchResult) -> float:
        try:
            return max(0.0, min(300.0, float(result.header("retry-after") or "1")))
        except ValueError:
            return 1.0

    # -- evidence -----------------------------------------------------------------------
    def store(self, site: SiteCrawl, result: FetchResult, *, dedupe: bool = True) -> CaptureRow:
        """The capture row of ``result``; its body goes to the WARC archive unless it
        was refused (media) or there was no response."""
        row = CaptureRow(
            url=result.url,
            host=urlsplit(result.url).hostname or "",
            site=site.profile.name,
            fetched_at=result.fetched_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            status=result.status,
            content_type=result.content_type,
            sha256=None,
            warc_file=None,
            warc_offset=None,
            warc_end=None,
            record_type="error",
            reason=result.error,
        )
        if result.status is None:
            return row
        if result.refused is not None:
            return replace(row, record_type="refused", reason=f"{result.refused}; body not kept")
        truncated = result.truncated if result.truncated in TRUNCATED else None
        name, profile = site.profile.name, site.profile
        if truncated == "length":
            self.admission.hit(name, "max_body_bytes", profile.max_body_bytes, result.url)
        elif truncated == "time":
            self.admission.hit(name, "deadline", int(site.deadline), result.url)
        previous = self.state.last_digest(result.url) if dedupe else None
        written, sha = self.archive.write(
            url=result.url,
            fetched_at=result.fetched_at,
            request_line=result.request_line,
            request_headers=result.request_headers,
            status_line=f"{result.status} {_reason(result.status)}",
            response_headers=result.headers,
            body=result.raw,
            truncated=truncated,
            previous=previous,
        )
        return replace(
            row,
            sha256=sha,
            warc_file=written.warc_file,
            warc_offset=written.offset,
            warc_end=written.end,
            record_type="revisit" if written.revisit else "response",
            reason=_CUT.get(result.truncated or ""),
            truncated=truncated is not None,
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


def _isolation(profile: SiteProfile) -> str:
    """The SOCKS username of a site: Tor gives each its own circuit."""
    return f"spector-{profile.name}"


_CUT = {
    "length": "body cut at the size cap",
    "time": "body cut at the time limit",
    "disconnect": "connection lost mid-body",
    "undecodable": "compressed body could not be inflated",
}


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
