"""Two English-language market families.

(a) ``escrow``: a classic escrow market — categories, listing pages, vendor profiles with
PGP keys, paginated feedback with absolute dates; listing pages count their sales as the
2017 markets did: "12 sold since Jan 5, 2023" (the listing's sales up to the day served,
since the day it went up).
(c) ``walletless``: a Monopoly-style market — each vendor shows its own pay-to BTC and XMR
addresses; reviews carry relative dates ("5 days ago").
"""

from __future__ import annotations

from decimal import Decimal

from spector.model import category
from spector.sim._sites._base import Page, Site, days_ago, e, moment, pages_of, q
from spector.sim._world import SimAccount, SimFeedback, SimListing

__all__ = ["EscrowSite", "WalletlessSite", "relative_en"]

PER_PAGE = 20
FEEDBACK_PER_PAGE = 25


def relative_en(days: int) -> str:
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    if days < 60:
        return f"{days // 7} weeks ago"
    return f"{days // 30} months ago"


class EscrowSite(Site):
    family = "escrow"
    cat_path, item_path, vendor_path, fb_suffix, page_param = (
        "/c/",
        "/listing/",
        "/vendor/",
        "/feedback",
        "page",
    )
    sold_counter = True

    # -- routing ------------------------------------------------------------------------
    def render(self, path: str, query: dict[str, str], day: int) -> Page:
        if path == "/":
            return self.home(day)
        if path.startswith(self.cat_path):
            return self.category_page(path.removeprefix(self.cat_path), query, day)
        if path.startswith(self.item_path):
            listing = self.index.listing_by_ref.get(path.removeprefix(self.item_path))
            if listing is None or not listing.start_day <= day < listing.end_day:
                return self.not_found(day)
            return self.listing_page(listing, day)
        if path.startswith(self.vendor_path):
            rest = path.removeprefix(self.vendor_path)
            handle, _, tail = rest.partition("/")
            account = self._vendor(handle, day)
            if account is None:
                return self.not_found(day)
            if tail == "":
                return self.vendor_page(account, day)
            if "/" + tail == self.fb_suffix:
                return self.feedback_page(account, query, day)
        return self.not_found(day)

    def page_count(self, day: int) -> int:
        live = self.index.live_listings(day)
        cats: dict[str, int] = {}
        for x in live:
            cats[x.category] = cats.get(x.category, 0) + 1
        vendors = {x.account_id for x in live}
        count = 1 + sum(pages_of(n, PER_PAGE) for n in cats.values()) + len(live)
        for aid in vendors:
            fb = self.index.feedback_for_account(aid, day)
            count += 1 + pages_of(len(fb), FEEDBACK_PER_PAGE)
        return count

    def _vendor(self, handle: str, day: int) -> SimAccount | None:
        from urllib.parse import unquote

        account = self.index.account_by_handle.get(unquote(handle).casefold())
        if account is None or account.handle != unquote(handle):
            return None
        live = any(x.account_id == account.account_id for x in self.index.live_listings(day))
        return account if live else None

    # -- pages --------------------------------------------------------------------------
    def home(self, day: int) -> Page:
        cats = sorted({x.category for x in self.index.live_listings(day)})
        items = "".join(
            f'<li><a href="{self.cat_path}{c}">{e(category(c).label)}</a></li>' for c in cats
        )
        return self.layout("Home", f'<h1>Categories</h1><ul class="categories">{items}</ul>', day)

    def category_page(self, code: str, query: dict[str, str], day: int) -> Page:
        rows = sorted(
            (x for x in self.index.live_listings(day) if x.category == code),
            key=lambda x: int(x.ref) if x.ref.isdigit() else x.ref,
        )
        total = pages_of(len(rows), PER_PAGE)
        page = self.page_number(query, total, self.page_param)
        if not rows or page is None:
            return self.not_found(day)
        chunk = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
        items = "".join(self.listing_row(x, day) for x in chunk)
        body = (
            f"<h1>{e(category(code).label)}</h1>"
            f'<table class="listings">{items}</table>'
            + self.pager(f"{self.cat_path}{code}", page, total, self.page_param)
        )
        return self.layout(category(code).label, body, day)

    def listing_row(self, x: SimListing, day: int) -> str:
        vendor = self.index.account_by_id[x.account_id]
        _, usd = x.shown(day, self.market.currency)
        return (
            f'<tr class="listing"><td><a class="title" href="{self.item_path}{x.ref}">{e(x.title)}</a></td>'
            f'<td class="price">USD {usd}</td>'
            f'<td><a class="vendor" href="{self.vendor_path}{q(vendor.handle)}">{e(vendor.handle)}</a></td></tr>'
        )

    def listing_page(self, x: SimListing, day: int) -> Page:
        vendor = self.index.account_by_id[x.account_id]
        _, usd = x.shown(day, self.market.currency)
        btc = (usd / self.world.btc_usd[min(day, len(self.world.btc_usd) - 1)]).quantize(
            Decimal("0.00000001")
        )
        cat = category(x.category)
        crumbs = " / ".join(e(category(c).label) for c in _lineage(cat.code))
        fb = self.index.feedback_for_listing(x.listing_id, day)[:10]
        body = (
            f'<article class="listing" data-ref="{e(x.ref)}"><h1>{e(x.title)}</h1>'
            f'<p class="crumbs">{crumbs}</p>'
            f'<dl><dt>Price</dt><dd class="price">USD {usd}</dd>'
            f'<dt>In BTC</dt><dd class="price-btc">{btc} BTC</dd>'
            f'<dt>Quantity</dt><dd class="qty">{x.quantity} {e(x.unit)}</dd>'
            f'<dt>Ships from</dt><dd class="from">{e(x.ships_from)}</dd>'
            f'<dt>Ships to</dt><dd class="to">{e(", ".join(x.ships_to))}</dd>'
            + self.sold(x, day)
            + f'<dt>Vendor</dt><dd><a class="vendor" href="{self.vendor_path}{q(vendor.handle)}">'
            f"{e(vendor.handle)}</a></dd></dl>"
            f'<h2>Recent feedback</h2><ul class="feedback">'
            + "".join(self.feedback_item(f, day, link=False) for f in fb)
            + "</ul></article>"
        )
        return self.layout(x.title, body, day)

    def sold(self, x: SimListing, day: int) -> str:
        """The listing's sales counter (this family only)."""
        if not self.sold_counter:
            return ""
        since = moment(x.start_day)
        count = self.index.sold_until(x.listing_id, day)
        return (
            f'<dt>Sold</dt><dd class="sold">{count} sold since '
            f"{since:%b} {since.day}, {since.year}</dd>"
        )

    def vendor_page(self, a: SimAccount, day: int) -> Page:
        fb = self.index.feedback_for_account(a.account_id, day)
        rating = f"{sum(f.rating for f in fb) / len(fb):.2f}" if fb else "none"
        listings = [x for x in self.index.live_listings(day) if x.account_id == a.account_id]
        key = self.pgp(a)
        contacts = "".join(
            f'<li class="contact">{e(c.replace(":", ": ", 1))}</li>' for c in a.contacts
        )
        body = (
            f'<section class="vendor"><h1 class="handle">{e(a.handle)}</h1>'
            f'<p class="joined">Member since {moment(a.joined_day):%Y-%m-%d}</p>'
            f'<p class="rating">Rating {rating} ({len(fb)} feedback)</p>'
            f'<p class="sales">Sales: {self.index.sales_until(a.account_id, day)}</p>'
            f'<div class="profile">{e(a.profile_text)}</div>'
            + (f'<ul class="contacts">{contacts}</ul>' if contacts else "")
            + self.payto_block(a)
            + (f'<pre class="pgp">{e(key)}</pre>' if key else "")
            + '<h2>Listings</h2><table class="listings">'
            + "".join(self.listing_row(x, day) for x in listings)
            + f'</table><a class="all-feedback" href="{self.vendor_path}{q(a.handle)}{self.fb_suffix}">'
            "All feedback</a></section>"
        )
        return self.layout(a.handle, body, day)

    def payto_block(self, a: SimAccount) -> str:
        return ""

    def feedback_page(self, a: SimAccount, query: dict[str, str], day: int) -> Page:
        fb = self.index.feedback_for_account(a.account_id, day)
        total = pages_of(len(fb), FEEDBACK_PER_PAGE)
        page = self.page_number(query, total, self.page_param)
        if page is None:
            return self.not_found(day)
        chunk = fb[(page - 1) * FEEDBACK_PER_PAGE : page * FEEDBACK_PER_PAGE]
        base = f"{self.vendor_path}{q(a.handle)}{self.fb_suffix}"
        body = (
            f'<h1>Feedback for <a class="vendor" href="{self.vendor_path}{q(a.handle)}">{e(a.handle)}</a></h1>'
            f'<ul class="feedback">{"".join(self.feedback_item(f, day, link=True) for f in chunk)}</ul>'
            + self.pager(base, page, total, self.page_param)
        )
        return self.layout(f"Feedback {a.handle}", body, day)

    def feedback_item(self, f: SimFeedback, day: int, *, link: bool) -> str:
        listing = self.index.listing_by_id[f.listing_id] if link else None
        about = ""
        if listing is not None:
            live = listing.start_day <= day < listing.end_day
            about = (
                f'<a class="item" href="{self.item_path}{listing.ref}">{e(listing.title)}</a>'
                if live
                else f'<span class="item">{e(listing.title)}</span>'
            )
        return (
            f'<li class="fb" data-id="{e(f.feedback_id)}"><span class="rating">{f.rating}/5</span> '
            f'<span class="text">{e(f.text)}</span> <span class="buyer">{e(f.buyer_mask)}</span> '
            f"{about} {self.when(f, day)}</li>"
        )

    def when(self, f: SimFeedback, day: int) -> str:
        return f'<time datetime="{moment(f.day, f.second):%Y-%m-%dT%H:%M}">{moment(f.day, f.second):%Y-%m-%d %H:%M}</time>'


class WalletlessSite(EscrowSite):
    family = "walletless"
    cat_path, item_path, vendor_path, fb_suffix, page_param = (
        "/category/",
        "/item/",
        "/store/",
        "/reviews",
        "p",
    )
    sold_counter = False

    def payto_block(self, a: SimAccount) -> str:
        return (
            '<div class="payto"><h2>Pay the vendor directly</h2>'
            f'<p>BTC: <code class="btc">{e(a.btc_payto or "")}</code></p>'
            f'<p>XMR: <code class="xmr">{e(a.xmr_payto or "")}</code></p></div>'
        )

    def when(self, f: SimFeedback, day: int) -> str:
        return f'<span class="when">{relative_en(days_ago(day, f))}</span>'


def _lineage(code: str) -> list[str]:
    parts = code.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]
