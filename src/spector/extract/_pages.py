"""From a template's fields to records: prices, counters, ratings, countries, categories,
dates. Each field is normalised by its name (docs/templates.md lists the names).

The hooks a family needs beyond its template live here too (a bot's title is built from
its attributes; the bot shop sells under its own name; a listing index's rows are keyed
by the listing pages they link to, and take the category the page is for; a forum post
without an id of its own is numbered by its place in the thread).

A value a page shows but that cannot be read (a price without a number, a rating without
one) is a PageError: the layout changed, and nothing of the page is stored. A value the
page does not show stays None, so it erases nothing in the store.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from spector.errors import PageError, SelectorInvalid, UsageError
from spector.extract._dates import absolute_interval, resolve_relative, resolve_when
from spector.extract._selectors import _fingerprint
from spector.extract._templates import PageResult, Template
from spector.extract._values import (
    choose_price,
    parse_amounts,
    parse_count,
    parse_number,
    parse_plus_minus,
    parse_rating,
)
from spector.model import (
    Feedback,
    Listing,
    Post,
    Record,
    VendorAccount,
    resolve_category,
    resolve_country,
    resolve_currency,
    selector_kind,
)
from spector.model import category as taxonomy_category

__all__ = ["PageError", "records_of"]

Fields = dict[str, str | None]
_CRUMBS = re.compile(r"\s+/\s+|\s*[>»›]\s*")
_SINCE = re.compile(r"\b(?:since|from|seit|depuis|desde|с)\b\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Context:
    """What normalising a page's values needs: the template's conventions, the page's URL
    (when known) and when the page was seen (between ``seen_from`` and ``seen_to``)."""

    template: Template
    market_id: str
    site: str
    seen_from: datetime
    seen_to: datetime
    url: str | None = None

    def when(self, text: str | None) -> tuple[datetime | None, datetime | None]:
        t = self.template
        return resolve_when(
            text, self.seen_from, self.seen_to, locale=t.locale, date_order=t.date_order
        )

    def since(self, text: str | None) -> datetime | None:
        """The earliest moment a "member since" or "sold since" value allows (one timestamp
        column cannot hold the interval, and its lower bound is what a date stored as its
        first moment is too): a date's first moment ("March 2017": 2017-03-01); for a
        duration ("5 years, 10 months", shown truncated: 5 y 10 m or more, less than 5 y 11
        m), the page's earliest time less the longest it can mean."""
        if not text:
            return None
        relative = resolve_relative(text, self.seen_from, self.seen_to)
        if relative is not None:
            return relative[0]
        t = self.template
        shown = absolute_interval(text, locale=t.locale, date_order=t.date_order)
        return shown[0] if shown else None


def records_of(
    result: PageResult,
    template: Template,
    market_id: str,
    site: str,
    reference: datetime,
    seen_until: datetime | None = None,
    *,
    url: str | None = None,
) -> list[Record]:
    """Records a page shows. ``reference`` is the site's clock when the page was served;
    ``seen_until`` the latest it can have been, when that moment is only known to the day
    (a saved page's date): relative dates widen by the difference. ``url`` is the page's
    absolute URL (the capture's): a listing page's listing gets it, an index row the
    listing page it links to resolved against it; without it only absolute links are
    kept. PageError when the page shows a value that cannot be read."""
    if result.errors:
        raise PageError(result.errors[0])
    ctx = _Context(template, market_id, site, reference, seen_until or reference, url)
    f = result.fields
    out: list[Record] = []
    if result.kind == "listing":
        vendor, listing = _listing(f, ctx, url=_absolute(ctx.url, None))
        out += [vendor, listing]
        out += _feedback(result, ctx, vendor.id, listing.id)
    elif result.kind == "listing_index":
        out += _index(result, ctx)
    elif result.kind == "vendor":
        out.append(_vendor_page(f, ctx))
    elif result.kind == "feedback":
        handle = f.get("vendor") or unquote(f.get("handle") or "")
        if not handle:
            raise PageError("feedback page without its vendor")
        vendor = VendorAccount(market_id=market_id, handle=handle)
        out.append(vendor)
        out += _feedback(result, ctx, vendor.id, None)
    elif result.kind == "forum_thread":
        out += _posts(result, ctx)
    return out


def _vendor_details(f: Fields, prefix: str, ctx: _Context) -> dict[str, Any]:
    """VendorAccount fields a page shows under ``prefix`` ("" on a vendor page, "vendor_"
    on a listing page): rating, level, feedback score and counts, sales, member since."""
    locale = ctx.template.locale
    rating_text = f.get(f"{prefix}rating")
    rating, count = parse_rating(rating_text, "vendor rating", locale=locale)
    if f.get(f"{prefix}feedback_count"):
        count = parse_count(f[f"{prefix}feedback_count"], "feedback count")
    positive = parse_count(f.get(f"{prefix}feedback_positive"), "positive feedback")
    negative = parse_count(f.get(f"{prefix}feedback_negative"), "negative feedback")
    split = parse_plus_minus(f.get(f"{prefix}feedback_counts"), "feedback counts")
    if split is not None:
        positive, negative = split
    score = parse_number(f.get(f"{prefix}feedback_score"), "feedback score", locale=locale)
    details: dict[str, Any] = {
        "rating": rating,
        "feedback_count": count,
        "feedback_positive": positive,
        "feedback_negative": negative,
        "feedback_score": float(score) if score is not None else None,
        "level": f.get(f"{prefix}level") or None,
        "sales_count": parse_count(f.get(f"{prefix}sales"), "sales")
        if f.get(f"{prefix}sales")
        else None,
        "transactions_count": parse_count(f.get(f"{prefix}transactions"), "transactions"),
        "joined": ctx.since(f.get(f"{prefix}joined")),
    }
    return details


def _vendor_page(f: Fields, ctx: _Context) -> VendorAccount:
    handle = unquote(f.get("handle") or "")
    if not handle:
        raise PageError("vendor page without its handle")
    pgp = f.get("pgp")
    fingerprint = _fingerprint(pgp) if pgp else None
    contacts = []
    for line in (f.get("contacts") or "").splitlines():
        kind, _, value = line.partition(":")
        try:
            contacts.append(f"{kind.strip()}:{selector_kind(kind.strip()).normalise(value)}")
        except (SelectorInvalid, UsageError):  # an unknown kind or an invalid value
            continue
    ships_from = c.code if (c := resolve_country(f.get("ships_from") or "")) else None
    return VendorAccount(
        market_id=ctx.market_id,
        handle=handle,
        profile_text=f.get("profile"),
        pgp_fingerprints=(fingerprint,) if fingerprint else (),
        contacts=tuple(contacts),
        ships_from=ships_from,
        **_vendor_details(f, "", ctx),
    )


def _countries(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(
        sorted({c.code for part in re.split(r"[,;/]", text) if (c := resolve_country(part))})
    )


def _ref_from_href(template: Template, href: str | None, base: str | None) -> str | None:
    """The ref of the listing page ``href`` links to (resolved against the page's URL
    ``base`` when known, so "../item/8" is read as /item/8), when it is one."""
    if not href:
        return None
    parts = urlsplit(urljoin(base, href) if base else href)
    matched = template.match(f"{parts.path}?{parts.query}" if parts.query else parts.path)
    if matched and matched[0]["kind"] == "listing":
        return matched[1].get("ref")
    return None


def _sold(f: Fields, ctx: _Context) -> tuple[int | None, datetime | None]:
    """(count, since) of "12 sold since Mar 5, 2017" (or of sold_count and sold_since)."""
    count = parse_count(f.get("sold_count"), "sold count")
    since = ctx.since(f.get("sold_since"))
    text = f.get("sold")
    if text:
        count = parse_count(text, "sold counter")
        after = _SINCE.split(text, maxsplit=1)
        if len(after) == 2:
            since = ctx.since(re.sub(r"[^\w\s,./:-].*$", "", after[1]).strip()) or since
    return count, since


def _price(f: Fields, ctx: _Context) -> tuple[Any, str | None, Any]:
    """(price, currency, price_usd) of a listing: every amount its price shows, one per
    currency; the listing currency's (the template's ``currency``) or the first is the
    price, the USD one (or a price_usd field) is price_usd."""
    locale, listing_currency = ctx.template.locale, ctx.template.currency
    written = f.get("currency")
    shown = resolve_currency(written) if written else None
    default = shown.code if shown else listing_currency
    amounts = parse_amounts(f.get("price"), locale=locale, currency=default)
    price, currency, usd = choose_price(amounts, listing_currency)
    if f.get("price_usd"):
        usd_amounts = parse_amounts(f["price_usd"], locale=locale, currency="USD")
        usd = next((a.value for a in usd_amounts if a.currency == "USD"), usd)
    if currency == "USD":
        usd = price
    return price, currency, usd


def _absolute(base: str | None, link: str | None) -> str | None:
    """``link`` (the page's own URL when None) as an absolute URL without its fragment,
    resolved against ``base``; None when there is no base and the link is relative."""
    target = urljoin(base, link) if base and link else (link or base)
    if not target:
        return None
    parts = urlsplit(target)
    return urldefrag(target).url if parts.scheme and parts.netloc else None


def _listing(
    f: Fields, ctx: _Context, what: str = "listing page", *, url: str | None = None
) -> tuple[VendorAccount, Listing]:
    """The listing a listing page (or a row of an index) shows, at ``url``, and its
    vendor. A field the page does not show stays None (an empty ships-to), so it erases
    nothing in the store."""
    family = ctx.template.family
    handle = ctx.site if family == "bots" else f.get("vendor")
    if not handle:
        raise PageError(f"{what} without a vendor")
    ref = f.get("ref")
    if not ref:
        raise PageError(f"{what} without its listing id (ref)")
    vendor = VendorAccount(
        market_id=ctx.market_id, handle=handle, **_vendor_details(f, "vendor_", ctx)
    )
    price, currency, price_usd = _price(f, ctx)
    quantity, unit = None, None
    if f.get("quantity"):
        quantity = parse_number(f["quantity"], "quantity", locale=ctx.template.locale)
        words = re.sub(r"^[^\d]*[\d.,\s\u00a0]*\d", "", f["quantity"] or "").split()
        unit = words[0] if words else None
    title = f.get("title")
    category = resolve_category(_CRUMBS.split(f.get("category") or ""))
    ships_from = c.code if (c := resolve_country(f.get("ships_from") or "")) else None
    if family == "bots":
        attributes = [f.get(n) for n in ("victim_country", "os", "cookies", "logins")]
        if not all(attributes):
            raise PageError(f"{what} without the bot's country, OS, cookie and login counts")
        country, os_name, cookies, logins = attributes
        title = f"Bot {country} {os_name} ({cookies} cookies, {logins} logins)"
        category, ships_from = "fraud.bots", country
    sold_count, sold_since = _sold(f, ctx)
    listing = Listing(
        market_id=ctx.market_id,
        listing_ref=ref,
        vendor_id=vendor.id,
        title=title,
        category=category,
        price=price,
        currency=currency,
        price_usd=price_usd,
        quantity=quantity,
        unit=unit,
        ships_from=ships_from,
        ships_to=_countries(f.get("ships_to")),
        url=url,
        sold_count=sold_count,
        sold_since=sold_since,
        stock=parse_count(f.get("stock"), "stock", strict=False),
    )
    return vendor, listing


def _index(result: PageResult, ctx: _Context) -> list[Record]:
    """The listings a listing index (a category's, a city's, the stock list) shows, one per
    row, keyed by the ref of the listing page its row links to (or the row's own ref), so
    they are the records its listing page gives (its url is that page's). A row carries
    only the fields its template reads, which are those the index shows as the listing
    page does; the page's category (from its URL, when that is a code of the taxonomy)
    goes to each row.

    A page without the end of its list (a page cut short: its last row could be cut mid-
    value), without rows, or with a row that does not link to a listing means the layout
    changed: PageError, and nothing of the page is stored."""
    f = result.fields
    if "list_end" in f and not f["list_end"]:
        raise PageError("listing index without the end of its list (cut short, or changed)")
    rows = result.items.get("listings", [])
    if not rows:
        raise PageError("listing index without listings")
    page_category = _taxonomy_code(f.get("category_code"))
    out: dict[str, Record] = {}
    for row in rows:
        ref = row.get("ref") or _ref_from_href(ctx.template, row.get("link"), ctx.url)
        if not ref:
            shown = row.get("title") or row.get("link") or "?"
            raise PageError(f"listing index row without a link to its listing: {shown!r}")
        link = _absolute(ctx.url, row.get("link")) if row.get("link") else None
        vendor, listing = _listing({**row, "ref": ref}, ctx, "listing index row", url=link)
        if page_category:
            listing = dataclasses.replace(listing, category=page_category)
        out.setdefault(vendor.id, vendor)
        out[listing.id] = listing
    return list(out.values())


def _taxonomy_code(code: str | None) -> str | None:
    """A category code shown by a page (in its URL), when it is one of the taxonomy's."""
    if not code:
        return None
    try:
        return taxonomy_category(unquote(code)).code
    except UsageError:
        return None


def _posts(result: PageResult, ctx: _Context) -> list[Record]:
    """The posts of one page of a thread. A page without its title or without any post, or
    a post without its author, means the layout changed: PageError. A post with neither
    author nor text is what is left of a cut page, and is skipped."""
    f = result.fields
    thread_ref, title = f.get("thread_ref"), f.get("thread_title")
    if not thread_ref or not title:
        raise PageError("forum thread page without its thread id or title")
    items = result.items.get("posts", [])
    if not items:
        raise PageError("forum thread page without posts")
    pager = re.search(r"\d+", f.get("page") or "")
    page = int(pager[0]) if pager else 1
    out: list[Record] = []
    for position, item in enumerate(items, start=1):
        author = item.get("author")
        if not author:
            if not item.get("text"):
                continue
            raise PageError(f"post {item.get('ref') or position} without an author")
        after, before = ctx.when(item.get("when"))
        out.append(
            Post(
                market_id=ctx.market_id,
                thread_ref=thread_ref,
                post_ref=item.get("ref") or f"{page}.{position}",
                thread_title=title,
                board=f.get("board"),
                author=author,
                author_id=VendorAccount(market_id=ctx.market_id, handle=author).id,
                posted_after=after,
                posted_before=before,
                text=item.get("text"),
                media=tuple((item.get("media") or "").splitlines()),
            )
        )
    return out


def _feedback(
    result: PageResult, ctx: _Context, vendor_id: str, listing_id: str | None
) -> list[Record]:
    out: list[Record] = []
    seen: Counter[tuple[object, ...]] = Counter()
    for item in result.items.get("feedback", []):
        after, before = ctx.when(item.get("when"))
        ref = _ref_from_href(ctx.template, item.get("listing"), ctx.url)
        listing = listing_id or (
            Listing(market_id=ctx.market_id, listing_ref=ref).id if ref else None
        )
        rating, _ = parse_rating(item.get("rating") or None, "feedback rating")
        feedback = Feedback(
            market_id=ctx.market_id,
            vendor_id=vendor_id,
            listing_id=listing,
            feedback_ref=item.get("ref"),
            rating=rating,
            text=item.get("text"),
            buyer=item.get("buyer"),
            left_after=after,
            left_before=before,
            item=item.get("item") or None,
        )
        # Identical feedback without an id (two "5/5 thanks" by one masked buyer) are told
        # apart by their order on the page, never by their relative time.
        key = feedback.key()
        seen[key] += 1
        out.append(feedback if seen[key] == 1 else dataclasses.replace(feedback, nth=seen[key]))
    return out
