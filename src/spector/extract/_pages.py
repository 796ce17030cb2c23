"""From a template's fields to records: prices, quantities, countries, categories, dates.

The hooks a family needs beyond its template live here too (a bot's title is built from
its attributes; the bot shop sells under its own name; a listing index's rows are keyed
by the listing pages they link to, and take the category the page is for; a forum post
without an id of its own is numbered by its place in the thread).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote, urlsplit

from spector.errors import PageError, SelectorInvalid, UsageError
from spector.extract._dates import resolve_relative
from spector.extract._selectors import _fingerprint
from spector.extract._templates import PageResult, Template
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

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _decimal(text: str | None, what: str) -> Decimal | None:
    if text is None:
        return None
    match = _NUMBER.search(text.replace("\u00a0", "").replace(" ", ""))
    if not match:
        raise PageError(f"{what} {text!r} holds no number")
    try:
        return Decimal(match[0].replace(",", "."))
    except InvalidOperation:
        raise PageError(f"{what} {text!r} is not a number") from None


def _price(text: str | None) -> tuple[Decimal | None, str | None]:
    if not text:
        return None, None
    amount = _decimal(text, "price")
    symbol = _NUMBER.sub(" ", text.replace("\u00a0", "")).split()
    currency = next((c.code for s in symbol if (c := resolve_currency(s))), None)
    return amount, currency


def _countries(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(
        sorted({c.code for part in re.split(r"[,;/]", text) if (c := resolve_country(part))})
    )


def _when(text: str | None, reference: datetime) -> tuple[datetime | None, datetime | None]:
    if not text:
        return None, None
    try:  # an absolute time, shown to the minute or only to the day
        moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        interval = resolve_relative(text, reference, reference)
        return interval if interval else (None, None)
    shown_to = timedelta(days=1) if len(text) <= len("2023-01-31") else timedelta(minutes=1)
    return moment, moment + shown_to


def _joined(text: str | None) -> datetime | None:
    if not text:
        return None
    for pattern, fmt in ((r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"), (r"\d{2}\.\d{2}\.\d{4}", "%d.%m.%Y")):
        match = re.search(pattern, text)
        if match:
            return datetime.strptime(match[0], fmt).replace(tzinfo=UTC)
    return None


def _ref_from_href(template: Template, href: str | None) -> str | None:
    if not href:
        return None
    matched = template.match(urlsplit(href).path)
    if matched and matched[0]["kind"] == "listing":
        return matched[1].get("ref")
    return None


def records_of(
    result: PageResult, template: Template, market_id: str, site: str, reference: datetime
) -> list[Record]:
    """Records a page shows. ``reference`` is the site's clock when the page was served."""
    f = result.fields
    family = template.family
    out: list[Record] = []
    if result.kind == "listing":
        vendor, listing = _listing(f, family, market_id, site)
        out += [vendor, listing]
        out += _feedback(result, template, market_id, vendor.id, listing.id, reference)
    elif result.kind == "listing_index":
        out += _index(result, template, market_id, site)
    elif result.kind == "vendor":
        handle = f.get("handle") or unquote(str(f.get("handle", "")))
        pgp = f.get("pgp")
        rating_text = f.get("rating") or ""
        numbers = _NUMBER.findall(rating_text)
        fingerprint = _fingerprint(pgp) if pgp else None
        contacts = []
        for line in (f.get("contacts") or "").splitlines():
            kind, _, value = line.partition(":")
            try:
                contacts.append(f"{kind.strip()}:{selector_kind(kind.strip()).normalise(value)}")
            except (SelectorInvalid, UsageError):  # an unknown kind or an invalid value
                continue
        out.append(
            VendorAccount(
                market_id=market_id,
                handle=str(handle),
                profile_text=f.get("profile"),
                pgp_fingerprints=(fingerprint,) if fingerprint else (),
                contacts=tuple(contacts),
                joined=_joined(f.get("joined")),
                rating=float(numbers[0].replace(",", ".")) if len(numbers) >= 2 else None,
                feedback_count=int(numbers[-1]) if numbers else None,
                sales_count=int(_decimal(f.get("sales"), "sales") or 0) if f.get("sales") else None,
            )
        )
    elif result.kind == "feedback":
        handle = f.get("vendor") or ""
        if not handle:
            raise PageError("feedback page without its vendor")
        vendor = VendorAccount(market_id=market_id, handle=handle)
        out.append(vendor)
        out += _feedback(result, template, market_id, vendor.id, None, reference)
    elif result.kind == "forum_thread":
        out += _posts(result, market_id, reference)
    return out


def _listing(
    f: dict[str, str | None], family: str, market_id: str, site: str, what: str = "listing page"
) -> tuple[VendorAccount, Listing]:
    """The listing a listing page (or a row of an index) shows, and its vendor. A field the
    page does not show stays None (an empty ships-to), so it erases nothing in the store."""
    handle = site if family == "bots" else f.get("vendor")
    if not handle:
        raise PageError(f"{what} without a vendor")
    vendor = VendorAccount(market_id=market_id, handle=handle)
    price, currency = _price(f.get("price"))
    quantity, unit = None, None
    if f.get("quantity"):
        quantity = _decimal(f["quantity"], "quantity")
        unit = (f["quantity"] or "").split()[-1]
    title = f.get("title")
    category = resolve_category((f.get("category") or "").split(" / "))
    ships_from = c.code if (c := resolve_country(f.get("ships_from") or "")) else None
    if family == "bots":
        attributes = [f.get(n) for n in ("victim_country", "os", "cookies", "logins")]
        if not all(attributes):
            raise PageError(f"{what} without the bot's country, OS, cookie and login counts")
        country, os_name, cookies, logins = attributes
        title = f"Bot {country} {os_name} ({cookies} cookies, {logins} logins)"
        category, ships_from = "fraud.bots", country
    listing = Listing(
        market_id=market_id,
        listing_ref=str(f["ref"]),
        vendor_id=vendor.id,
        title=title,
        category=category,
        price=price,
        currency=currency,
        price_usd=price if currency == "USD" else None,
        quantity=quantity,
        unit=unit,
        ships_from=ships_from,
        ships_to=_countries(f.get("ships_to")),
    )
    return vendor, listing


def _index(result: PageResult, template: Template, market_id: str, site: str) -> list[Record]:
    """The listings a listing index (a category's, a city's, the stock list) shows, one per
    row, keyed by the ref of the listing page its row links to, so they are the records its
    listing page gives. A row carries only the fields its template reads, which are those
    the index shows as the listing page does; the page's category (from its URL, when that
    is a code of the taxonomy) goes to each row.

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
        ref = _ref_from_href(template, row.get("link"))
        if not ref:
            shown = row.get("title") or row.get("link") or "?"
            raise PageError(f"listing index row without a link to its listing: {shown!r}")
        vendor, listing = _listing(
            {**row, "ref": ref}, template.family, market_id, site, "listing index row"
        )
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


def _posts(result: PageResult, market_id: str, reference: datetime) -> list[Record]:
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
    pager = _NUMBER.search(f.get("page") or "")
    page = int(pager[0]) if pager else 1
    out: list[Record] = []
    for position, item in enumerate(items, start=1):
        author = item.get("author")
        if not author:
            if not item.get("text"):
                continue
            raise PageError(f"post {item.get('ref') or position} without an author")
        after, before = _when(item.get("when"), reference)
        out.append(
            Post(
                market_id=market_id,
                thread_ref=thread_ref,
                post_ref=item.get("ref") or f"{page}.{position}",
                thread_title=title,
                board=f.get("board"),
                author=author,
                author_id=VendorAccount(market_id=market_id, handle=author).id,
                posted_after=after,
                posted_before=before,
                text=item.get("text"),
                media=tuple((item.get("media") or "").splitlines()),
            )
        )
    return out


def _feedback(
    result: PageResult,
    template: Template,
    market_id: str,
    vendor_id: str,
    listing_id: str | None,
    reference: datetime,
) -> list[Record]:
    out: list[Record] = []
    seen: Counter[tuple[object, ...]] = Counter()
    for item in result.items.get("feedback", []):
        after, before = _when(item.get("when"), reference)
        ref = _ref_from_href(template, item.get("listing"))
        listing = listing_id or (Listing(market_id=market_id, listing_ref=ref).id if ref else None)
        rating = _NUMBER.search(item.get("rating") or "")
        feedback = Feedback(
            market_id=market_id,
            vendor_id=vendor_id,
            listing_id=listing,
            feedback_ref=item.get("ref"),
            rating=float(rating[0]) if rating else None,
            text=item.get("text"),
            buyer=item.get("buyer"),
            left_after=after,
            left_before=before,
        )
        # Identical feedback without an id (two "5/5 thanks" by one masked buyer) are told
        # apart by their order on the page, never by their relative time.
        seen[feedback.key()] += 1
        out.append(dataclasses.replace(feedback, nth=seen[feedback.key()]))
    return out
