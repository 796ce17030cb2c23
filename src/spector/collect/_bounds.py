"""Which admitted links enter the frontier, and every crawl bound that says no.

Bounds, each counted per site and reported (crawl summary, ``crawl status --json``,
the state's ``bounds`` table) whenever it is hit:

=====================  ==============================================================
``max_pages``          URLs of the site in the frontier (start URLs included)
``max_depth``          links followed from a start URL
``caps``               pages whose URL matches one of the profile's cap patterns
``signature_cap``      pages of one URL shape, numbers folded (calendars, pagers)
``max_per_pattern``    pages of one path pattern (traps without digits: ``/a/b/c…``,
                       session ids in paths)
``max_path_segments``  segments in a path; ``repeated_segment``: one segment 4 times
``max_url_length``     characters in a URL
``max_links_per_page`` links taken from one page
``max_nesting``        HTML nesting depth (deeper tags are dropped before parsing)
``max_body_bytes``     bytes of one body (kept, marked truncated); ``deadline``: seconds
=====================  ==============================================================
"""

from __future__ import annotations

import re

from spector.collect._outlinks import Outlinks
from spector.collect._profile import SiteProfile
from spector.collect._state import CrawlState
from spector.collect._urls import Refusal, path_pattern, signature

__all__ = ["Admission"]


class Admission:
    """The frontier's gatekeeper for one run; its counts are rebuilt from the frontier
    when a run is resumed, so a bound holds across restarts."""

    def __init__(self, state: CrawlState, run_id: int, signature_cap: int) -> None:
        self.state = state
        self.run_id = run_id
        self.signature_cap = signature_cap
        self.refused: dict[str, int] = {}  # reason -> links refused (the crawl summary)
        self.pages: dict[str, int] = {}  # site -> URLs in the frontier
        self.shapes: dict[tuple[str, str], int] = {}  # (site, signature) -> URLs
        self.patterns: dict[tuple[str, str], int] = {}  # (site, path pattern) -> URLs
        for site, url in state.frontier_urls(run_id):
            self._count(site, url)

    def _count(self, site: str, url: str) -> None:
        self.pages[site] = self.pages.get(site, 0) + 1
        for table, key in ((self.shapes, signature(url)), (self.patterns, path_pattern(url))):
            table[(site, key)] = table.get((site, key), 0) + 1

    # -- what enters the frontier --------------------------------------------------------
    def seeds(self, profile: SiteProfile, urls: list[str]) -> list[tuple[str, int]]:
        """The start URLs to enqueue (at depth 0), within the bounds."""
        batch = _Batch()
        kept = self._enter(profile, urls, 0, batch)
        self.flush(profile.name, batch)
        return kept

    def links(
        self, profile: SiteProfile, url: str, page: Outlinks, depth: int, max_nesting: int
    ) -> list[tuple[str, int]]:
        """The links of the page at ``url`` to enqueue at ``depth``; the page's refusals
        and bound hits are recorded in one transaction each."""
        batch = _Batch()
        for what, refusal in page.refused:
            batch.refuse(self, refusal, what)
        if page.nesting_cut:
            batch.hit("max_nesting", max_nesting, url)
        if page.links_cut:
            batch.hit("max_links_per_page", profile.max_links_per_page, url, page.links_cut)
        if depth > profile.max_depth:
            for target in page.targets:
                refusal = Refusal(target, "deeper than max_depth", "max_depth", profile.max_depth)
                batch.refuse(self, refusal, "link")
            kept: list[tuple[str, int]] = []
        else:
            kept = self._enter(profile, page.targets, depth, batch)
        self.flush(profile.name, batch)
        return kept

    def _enter(
        self, profile: SiteProfile, urls: list[str], depth: int, batch: _Batch
    ) -> list[tuple[str, int]]:
        name = profile.name
        kept = []
        for url in self.state.unseen(self.run_id, list(dict.fromkeys(urls))):
            refusal = self._bounded(profile, url)
            if refusal is not None:
                batch.refuse(self, refusal, "link")
                continue
            self._count(name, url)
            kept.append((url, depth))
        return kept

    def _bounded(self, profile: SiteProfile, url: str) -> Refusal | None:
        name = profile.name
        most = profile.max_pages
        if self.pages.get(name, 0) >= most:
            return Refusal(url, f"max_pages ({most}) reached", "max_pages", most)
        shape = signature(url)
        cap, bound = next(
            ((n, "caps") for pattern, n in profile.caps.items() if re.search(pattern, url)),
            (self.signature_cap, "signature_cap"),
        )
        if self.shapes.get((name, shape), 0) >= cap:
            return Refusal(url, f"more than {cap} pages shaped {shape}", bound, cap)
        pattern, most = path_pattern(url), profile.max_per_pattern
        if self.patterns.get((name, pattern), 0) >= most:
            return Refusal(
                url, f"more than {most} pages of path pattern {pattern}", "max_per_pattern", most
            )
        return None

    # -- recording -----------------------------------------------------------------------
    def refuse(self, site: str, refusal: Refusal, what: str = "link") -> None:
        batch = _Batch()
        batch.refuse(self, refusal, what)
        self.flush(site, batch)

    def hit(self, site: str, bound: str, maximum: int, example: str) -> None:
        """A bound hit outside link admission (a body cut at the size or time cap)."""
        batch = _Batch()
        batch.hit(bound, maximum, example)
        self.flush(site, batch)

    def flush(self, site: str, batch: _Batch) -> None:
        self.state.refuse_many(self.run_id, site, batch.refusals)
        self.state.bound_hit(self.run_id, site, batch.hits)
        batch.refusals, batch.hits = [], {}


class _Batch:
    """Refusals and bound hits of one page, written together."""

    def __init__(self) -> None:
        self.refusals: list[tuple[str, str]] = []
        self.hits: dict[str, tuple[int, int, str]] = {}

    def refuse(self, admission: Admission, refusal: Refusal, what: str) -> None:
        reason = refusal.reason
        key = reason.split(" is not")[0] if "allow-list" in reason else reason
        if refusal.bound is not None:
            key = f"bound {refusal.bound}"
            self.hit(refusal.bound, refusal.limit, refusal.url)
        admission.refused[key] = admission.refused.get(key, 0) + 1
        self.refusals.append((refusal.url[:500], f"{what}: {reason}"))

    def hit(self, bound: str, maximum: int, example: str, count: int = 1) -> None:
        _, hits, first = self.hits.get(bound, (maximum, 0, example))
        self.hits[bound] = (maximum, hits + count, first)
