"""The records every stage speaks: markets, accounts, listings, feedback, forum posts,
selectors.

Each record type maps to one table of the analytic store (``TABLE``); its ``id`` is
derived from the fields that identify it (``key()``), so observing the same thing twice
gives the same id. Timestamps are timezone-aware UTC. Fields listed in ``UNION`` are
sets that grow as more is observed (mirrors, keys, contacts); the other fields take the
value of the latest observation, and ``VERSIONED`` types keep every value they ever had.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from spector.model._ids import make_id

__all__ = [
    "Actor",
    "Capture",
    "Feedback",
    "Listing",
    "Market",
    "Order",
    "Post",
    "Record",
    "Selector",
    "SelectorSighting",
    "VendorAccount",
    "record_types",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """Base of all records. Subclasses set TABLE and implement ``key``."""

    TABLE: ClassVar[str]
    VERSIONED: ClassVar[bool] = False
    UNION: ClassVar[frozenset[str]] = frozenset()

    def key(self) -> tuple[object, ...]:
        raise NotImplementedError

    @property
    def id(self) -> str:
        return make_id(self.TABLE.removesuffix("s"), *self.key())


@dataclass(frozen=True, slots=True, kw_only=True)
class Market(Record):
    """A market (or forum, or shop), identified by what the investigator knows of it.

    ``ref`` is that identity: ``onion:<host>`` for a site known by its onion addresses (the
    first address it was known by; its mirrors are in ``onions`` and stay one market), or
    ``name:<name>`` for a market known only by a name given at import. Without a ``ref``
    the exact name is the identity. The name is never folded: two clone markets that
    share a name are two markets when their onions differ (``spector.store.market_ref``
    finds the market a set of onions or a name already belongs to).
    """

    TABLE: ClassVar[str] = "markets"
    VERSIONED: ClassVar[bool] = True
    UNION: ClassVar[frozenset[str]] = frozenset({"onions"})

    name: str
    family: str | None = None  # template family the extractor uses
    onions: tuple[str, ...] = ()  # normalised hosts (v3; v2 for archived data): all mirrors
    status: str = "unknown"  # active, seized, exit_scam, closed, unknown
    ref: str | None = None

    def key(self) -> tuple[object, ...]:
        return (self.ref or f"name:{self.name}",)


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorAccount(Record):
    """One vendor handle on one market (an Actor may own many)."""

    TABLE: ClassVar[str] = "vendor_accounts"
    VERSIONED: ClassVar[bool] = True
    UNION: ClassVar[frozenset[str]] = frozenset({"pgp_fingerprints", "contacts"})

    market_id: str
    handle: str
    profile_text: str | None = None
    pgp_fingerprints: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()  # "kind:value" of normalised selectors
    joined: datetime | None = None
    rating: float | None = None
    sales_count: int | None = None
    feedback_count: int | None = None
    ships_from: str | None = None  # ISO 3166-1 alpha-2 or a region code
    level: str | None = None  # the market's vendor level or rank, as shown ("Level 5")
    feedback_score: float | None = None  # the market's own feedback score, as shown
    feedback_positive: int | None = None  # "+62 | -0": 62
    feedback_negative: int | None = None  # "+62 | -0": 0
    transactions_count: int | None = None  # "Transactions: 1,234"

    def key(self) -> tuple[object, ...]:
        return (self.market_id, self.handle.casefold())


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing(Record):
    """An offer on a market; ``listing_ref`` is the market's own id or path for it."""

    TABLE: ClassVar[str] = "listings"
    VERSIONED: ClassVar[bool] = True
    UNION: ClassVar[frozenset[str]] = frozenset({"ships_to"})

    market_id: str
    listing_ref: str
    vendor_id: str | None = None
    title: str | None = None
    category: str | None = None  # code from the product taxonomy
    price: Decimal | None = None
    currency: str | None = None  # ISO 4217 or crypto ticker
    price_usd: Decimal | None = None
    quantity: Decimal | None = None
    unit: str | None = None
    ships_from: str | None = None
    ships_to: tuple[str, ...] = ()
    url: str | None = None
    sold_count: int | None = None  # the market's counter: "12 sold since Mar 5, 2017"
    sold_since: datetime | None = None  # the date that counter runs from, when shown
    stock: int | None = None  # items in stock, when shown

    def key(self) -> tuple[object, ...]:
        return (self.market_id, self.listing_ref)


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback(Record):
    """A buyer's feedback. The date is an interval when the page showed "5 days ago".
    ``item`` is the title of the item bought as the feedback row shows it (a vendor's
    "All feedback" page names it even when its listing is gone): what prices the sale
    when the listing was never seen. It is not part of the id.

    Its id is the market's own feedback id when the market shows one. Otherwise it is
    what stays the same each time the feedback is seen again (vendor, listing, buyer,
    rating, text, and ``nth``: 1 for the first such feedback on its page, 2 for an
    identical second one...), never the time: "5 days ago" moves between crawls.
    """

    TABLE: ClassVar[str] = "feedback"

    market_id: str
    vendor_id: str | None = None
    listing_id: str | None = None
    feedback_ref: str | None = None  # the market's own id, when it shows one
    rating: float | None = None
    text: str | None = None
    buyer: str | None = None  # as shown, usually masked ("b***r")
    left_after: datetime | None = None
    left_before: datetime | None = None
    nth: int = 1
    item: str | None = None  # the item's title as the feedback row shows it

    def key(self) -> tuple[object, ...]:
        if self.feedback_ref:
            return (self.market_id, self.feedback_ref)
        return (
            self.market_id,
            self.vendor_id,
            self.listing_id,
            self.buyer,
            self.rating,
            self.text,
            self.nth,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Post(Record):
    """A post in a forum thread. ``author_id`` is the id a ``VendorAccount`` of the same
    handle on the same market has, so a member and a vendor of one name link; the date is
    an interval (a day when the forum shows only the date, wider for "5 days ago")."""

    TABLE: ClassVar[str] = "posts"

    market_id: str
    thread_ref: str  # the forum's own id for the thread (from its URL)
    post_ref: str  # the forum's own id for the post, else "<page>.<position>" in the thread
    thread_title: str | None = None
    board: str | None = None
    author: str | None = None  # the handle as shown
    author_id: str | None = None
    posted_after: datetime | None = None
    posted_before: datetime | None = None
    text: str | None = None
    media: tuple[str, ...] = ()  # image / video link URLs as shown; never fetched

    def key(self) -> tuple[object, ...]:
        return (self.market_id, self.thread_ref, self.post_ref)


@dataclass(frozen=True, slots=True, kw_only=True)
class Order(Record):
    """An order from a market's own database (after a seizure): the sale, its amount and
    the address it was paid to."""

    TABLE: ClassVar[str] = "orders"

    market_id: str
    order_ref: str
    listing_id: str | None = None
    vendor_id: str | None = None
    buyer: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    amount_usd: Decimal | None = None
    payto_address: str | None = None
    created_at: datetime | None = None
    status: str | None = None

    def key(self) -> tuple[object, ...]:
        return (self.market_id, self.order_ref)


@dataclass(frozen=True, slots=True, kw_only=True)
class Selector(Record):
    """A normalised selector value of a registered kind (see ``selector_kind``)."""

    TABLE: ClassVar[str] = "selectors"

    kind: str
    value: str

    def key(self) -> tuple[object, ...]:
        return (self.kind, self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectorSighting(Record):
    """Where a selector was seen: in which record and capture, at which characters."""

    TABLE: ClassVar[str] = "selector_sightings"

    selector_id: str
    kind: str
    value: str
    entity_id: str | None = None
    capture_id: str | None = None
    char_start: int | None = None  # character offsets in the capture's text
    char_end: int | None = None

    def key(self) -> tuple[object, ...]:
        return (self.selector_id, self.entity_id, self.capture_id, self.char_start)


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor(Record):
    """A real person or group behind one or more vendor accounts."""

    TABLE: ClassVar[str] = "actors"
    VERSIONED: ClassVar[bool] = True

    actor_ref: str  # stable reference chosen by whoever drew the actor
    label: str | None = None
    notes: str | None = None

    def key(self) -> tuple[object, ...]:
        return (self.actor_ref,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture(Record):
    """One fetched URL as stored in the WARC archive (or why it could not be)."""

    TABLE: ClassVar[str] = "captures"

    url: str
    host: str
    site: str | None = None
    fetched_at: datetime
    status: int | None = None
    content_type: str | None = None
    sha256: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    record_type: str = "response"  # response, revisit, error, or refused (media: only the record)
    reason: str | None = None  # why a capture failed or was cut short
    truncated: bool = False  # the body was cut (size or time cap, dropped connection)
    source_file: str | None = None  # imported: the file the page came from
    source_sha256: str | None = None  # imported: SHA-256 of that file as read
    time_basis: str | None = None  # what fetched_at is: fetch, warc-date, observed-at, file-mtime

    def key(self) -> tuple[object, ...]:
        return (self.url, self.fetched_at, self.sha256)


def record_types() -> tuple[type[Record], ...]:
    """Every record type, in table order."""
    return (
        Market,
        VendorAccount,
        Listing,
        Feedback,
        Post,
        Order,
        Selector,
        SelectorSighting,
        Actor,
        Capture,
    )
