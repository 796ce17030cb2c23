"""What every simulated site shares: page model, layout, pagination, the calendar trap."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from html import escape
from urllib.parse import quote

from spector.sim._world import EPOCH, SimAccount, SimFeedback, SimListing, SimMarket, World

__all__ = ["Page", "Site", "SiteIndex", "days_ago", "e", "moment", "pages_of", "q", "site_now"]


def e(value: object) -> str:
    """Escape for HTML text and attributes."""
    return escape(str(value), quote=True)


def q(value: str) -> str:
    """Quote a path segment."""
    return quote(value, safe="")


def moment(day: int, second: int = 0) -> datetime:
    return EPOCH + timedelta(days=day, seconds=second)


def site_now(day: int) -> datetime:
    """The sites' clock on simulated ``day``: its last second (sent as the HTTP Date)."""
    return moment(day, 86399)


def days_ago(day: int, f: SimFeedback) -> int:
    """Whole days between a feedback and the sites' clock: what "N days ago" says."""
    return (site_now(day) - moment(f.day, f.second)).days


def pages_of(count: int, per_page: int) -> int:
    """Pages a paginated list needs (an empty list still has its first page)."""
    return max(1, math.ceil(count / per_page))


@dataclass
class Page:
    status: int
    body: str
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SiteIndex:
    """One market's objects, indexed for rendering."""

    market: SimMarket
    accounts: list[SimAccount]
    listings: list[SimListing]
    feedback: list[SimFeedback]
    sale_days: dict[str, list[int]]  # account id -> sorted days of its sales
    listing_sale_days: dict[str, list[int]] = field(default_factory=dict)  # by listing id

    def sales_until(self, account_id: str, day: int) -> int:
        return bisect.bisect_right(self.sale_days.get(account_id, []), day)

    def sold_until(self, listing_id: str, day: int) -> int:
        """Sales of a listing up to and including ``day`` (what "N sold" says that day)."""
        return bisect.bisect_right(self.listing_sale_days.get(listing_id, []), day)

    @cached_property
    def account_by_handle(self) -> dict[str, SimAccount]:
        return {a.handle.casefold(): a for a in self.accounts}

    @cached_property
    def account_by_id(self) -> dict[str, SimAccount]:
        return {a.account_id: a for a in self.accounts}

    @cached_property
    def listing_by_id(self) -> dict[str, SimListing]:
        return {x.listing_id: x for x in self.listings}

    @cached_property
    def listing_by_ref(self) -> dict[str, SimListing]:
        return {x.ref: x for x in self.listings}

    @cached_property
    def feedback_by_listing(self) -> dict[str, list[SimFeedback]]:
        out: dict[str, list[SimFeedback]] = {}
        for f in sorted(self.feedback, key=lambda f: (-f.day, -f.second, f.feedback_id)):
            out.setdefault(f.listing_id, []).append(f)
        return out

    @cached_property
    def feedback_by_account(self) -> dict[str, list[SimFeedback]]:
        out: dict[str, list[SimFeedback]] = {}
        for f in sorted(self.feedback, key=lambda f: (-f.day, -f.second, f.feedback_id)):
            out.setdefault(f.account_id, []).append(f)
        return out

    def live_listings(self, day: int) -> list[SimListing]:
        return [x for x in self.listings if x.start_day <= day < x.end_day]

    def live_accounts(self, day: int) -> list[SimAccount]:
        return [a for a in self.accounts if a.joined_day <= day]

    def feedback_for_listing(self, listing_id: str, day: int) -> list[SimFeedback]:
        return [f for f in self.feedback_by_listing.get(listing_id, []) if f.day <= day]

    def feedback_for_account(self, account_id: str, day: int) -> list[SimFeedback]:
        return [f for f in self.feedback_by_account.get(account_id, []) if f.day <= day]


class Site:
    """A market's web site after login. Subclasses implement routes and page counting.

    ``render(path, query, day)`` returns a Page (404 for unknown paths). ``page_count(day)``
    is the number of distinct crawlable URLs reachable from ``/`` on that day, not counting
    the login, logout, CAPTCHA, calendar (a crawl trap) and media URLs.
    """

    family: str = ""
    lang = "en"

    def __init__(self, world: World, index: SiteIndex, pgp: Callable[[SimAccount], str | None]):
        self.world = world
        self.index = index
        self.market = index.market
        self.pgp = pgp

    def render(self, path: str, query: dict[str, str], day: int) -> Page:
        raise NotImplementedError

    def page_count(self, day: int) -> int:
        raise NotImplementedError

    # -- shared pieces ------------------------------------------------------------------
    def layout(self, title: str, body: str, day: int, nav: str = "") -> Page:
        month = moment(day).strftime("%Y-%m")
        html = (
            f'<!DOCTYPE html><html lang="{self.lang}"><head><meta charset="utf-8">'
            f"<title>{e(title)} | {e(self.market.name)}</title></head><body>"
            f'<header class="top"><a class="brand" href="/">{e(self.market.name)}</a> {nav} '
            f'<a href="/calendar?month={month}">calendar</a> '
            f'<a class="logout" href="/logout">logout</a></header>'
            f'<main id="content">{body}</main>'
            f'<footer><span class="day">day {day}</span></footer></body></html>'
        )
        return Page(200, html)

    def pager(self, base: str, page: int, total: int, param: str = "page") -> str:
        sep = "&" if "?" in base else "?"
        links = []
        if page > 1:  # page 1 is the bare URL, so each page has exactly one address
            prev = base if page == 2 else f"{base}{sep}{param}={page - 1}"
            links.append(f'<a class="prev" href="{prev}">prev</a>')
        links.append(f'<span class="pageno">{page}/{total}</span>')
        if page < total:
            links.append(f'<a class="next" href="{base}{sep}{param}={page + 1}">next</a>')
        return f'<nav class="pager">{" ".join(links)}</nav>'

    @staticmethod
    def page_number(query: dict[str, str], total: int, param: str = "page") -> int | None:
        """The page asked for, or None when it does not exist (a 404)."""
        raw = query.get(param, "1")
        if not raw.isdigit() or not 1 <= int(raw) <= total:
            return None
        if param in query and int(raw) == 1:
            return None  # page 1 lives at the bare URL only
        return int(raw)

    def not_found(self, day: int) -> Page:
        page = self.layout("Not found", "<p>Page not found.</p>", day)
        page.status = 404
        return page
