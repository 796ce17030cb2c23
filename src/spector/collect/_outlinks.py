"""What a fetched page links to, worked out off the event loop.

Decoding, parsing (with the nesting bound) and checking every link against the site's
scope are CPU work on hostile input; the crawler runs ``outlinks`` on a thread pool, so
one page nested 100,000 deep or holding 100,000 links does not stall the fetches of every
other site. A thread is not enough for a big page: the nesting bound is Python code, and
while a worker thread runs it the event loop waits for the GIL at every step (a 1.5 MB
page nested 100,000 deep held other sites' requests back by half a second). Pages of
``BIG_PAGE`` characters or more are therefore parsed in a separate process, started the
first time one arrives.
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from spector.collect._links import MAX_NESTING, decode, page_links
from spector.collect._urls import Refusal, Scope

__all__ = ["HTML_TYPES", "Outlinks", "outlinks"]

HTML_TYPES = ("text/html", "application/xhtml+xml")
BIG_PAGE = 256 << 10  # characters: parsed in a process of its own, not on a thread

_parser: ProcessPoolExecutor | None = None
_parser_lock = threading.Lock()


def _links_of(html: str, limit: int) -> tuple[str | None, list[str], int]:
    """``page_links`` of ``html``: here for an ordinary page, in the parser process for
    a big one (the calling thread waits without holding the GIL)."""
    global _parser
    if len(html) < BIG_PAGE:
        return page_links(html, limit=limit)
    with _parser_lock:
        if _parser is None:
            # spawn, not fork: the crawler's process holds sockets and an event loop
            _parser = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            atexit.register(_parser.shutdown, cancel_futures=True)
        pool = _parser
    return pool.submit(page_links, html, limit=limit).result()


@dataclass
class Outlinks:
    targets: list[str] = field(default_factory=list)  # admitted, canonical, in page order
    refused: list[tuple[str, Refusal]] = field(default_factory=list)  # (what, why)
    nesting_cut: int = 0  # tags dropped by the nesting bound
    links_cut: int = 0  # links past max_links_per_page, not looked at


@dataclass(frozen=True)
class Page:
    """What ``outlinks`` needs of a response."""

    url: str
    status: int
    location: str | None
    content_type: str | None
    body: bytes


def outlinks(
    scope: Scope, page: Page, *, max_links: int, max_nesting: int = MAX_NESTING
) -> Outlinks:
    """The links of ``page`` that ``scope`` admits, and the refused ones with the reason.

    A redirect's Location counts as a link; so do <a>/<area> hrefs and meta refresh of
    an HTML body, resolved against its <base> when the base itself is admitted.
    """
    out = Outlinks()
    hrefs: list[str] = []
    base = page.url
    if page.location and 300 <= page.status < 400:
        hrefs.append(page.location)
    if (page.content_type or "").lower().startswith(HTML_TYPES) and page.body:
        declared, found, out.nesting_cut = _links_of(
            decode(page.body, page.content_type), max_nesting
        )
        if declared:
            target = scope.resolve(page.url, declared)
            refusal = target if isinstance(target, Refusal) else scope.admit(target)
            if refusal is None and isinstance(target, str):
                base = target
            else:
                out.refused.append(("<base>", refusal or Refusal(declared, "bad <base>")))
        hrefs += found
    if len(hrefs) > max_links:
        out.links_cut = len(hrefs) - max_links
        hrefs = hrefs[:max_links]
    targets = []
    for href in hrefs:
        target = scope.resolve(base, href)
        if isinstance(target, Refusal):
            out.refused.append(("link", target))
            continue
        refusal = scope.admit(target)
        if refusal is not None:
            out.refused.append(("link", refusal))
            continue
        targets.append(target)
    out.targets = list(dict.fromkeys(targets))
    return out
