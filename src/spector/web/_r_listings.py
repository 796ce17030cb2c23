"""Markets and listings: pages (/listings, /listings/{id}, /markets/{id}) and the API
(/api/v1/markets, /api/v1/markets/{id}, /api/v1/listings, /api/v1/listings/{id}).

The queries are ``spector.store``'s browse functions; the JSON keys are theirs. Every
list is keyset-paged (``cursor``). Scraped values (titles, handles, URLs) are shown as
escaped text only: a listing's URL is never a link.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from spector.errors import NotFound
from spector.web._api import Cursor, Limit, Page, UtcTime, decode_cursor, encode_cursor
from spector.web._auth import ApiUser, PageUser, state_of
from spector.web._overview import attach_crawl, cached_estimate, crawl_status
from spector.web._pages import render

__all__ = ["ListingItem", "MarketItem", "api", "market_rows", "pages"]

pages = APIRouter()
api = APIRouter(tags=["listings"])

PAGE_SIZE = 50
Text = Annotated[str | None, Query(max_length=200)]


# -- models -------------------------------------------------------------------------------
class CrawlSite(BaseModel):
    """The newest crawl run's status of one crawl site of a market."""

    site: str
    run_id: int
    run_state: str
    pages: int
    errors: int
    queue: int
    rate_per_min: int
    captcha: bool
    last_capture_at: str | None = None


class MarketItem(BaseModel):
    id: str
    name: str
    family: str | None = None
    status: str | None = None
    ref: str | None = None
    onions: list[str]
    first_seen: UtcTime
    last_seen: UtcTime
    listings: int
    vendors: int
    captures: int
    last_capture: UtcTime | None = None
    sites: list[str]
    crawl: list[CrawlSite]


class CategoryCount(BaseModel):
    category: str | None = None
    listings: int
    vendors: int
    median_price_usd: float | None = None


class CountryCount(BaseModel):
    ships_from: str | None = None
    listings: int


class MarketRevenue(BaseModel):
    sales: float
    sales_low: float
    sales_high: float
    revenue_usd: float
    revenue_low: float
    revenue_high: float
    feedback: int
    counter_sales: int


class VendorRevenue(BaseModel):
    vendor_id: str
    handle: str | None = None
    actor_id: str | None = None
    sales: float
    revenue_usd: float
    revenue_low: float
    revenue_high: float


class MarketDetail(MarketItem):
    categories: list[CategoryCount]
    ships_from: list[CountryCount]
    revenue: MarketRevenue | None = None
    top_vendors: list[VendorRevenue]


class ListingItem(BaseModel):
    id: str
    market_id: str
    market: str | None = None
    listing_ref: str
    vendor_id: str | None = None
    vendor: str | None = None
    title: str | None = None
    category: str | None = None
    price: float | None = None
    currency: str | None = None
    price_usd: float | None = None
    quantity: float | None = None
    unit: str | None = None
    ships_from: str | None = None
    ships_to: list[str]
    sold_count: int | None = None
    stock: int | None = None
    first_seen: UtcTime
    last_seen: UtcTime


class ListingPage(Page[ListingItem]):
    """A page of listings and how many the search finds in all."""

    total: int


class HistoryValue(BaseModel):
    prop: str
    value: str
    first_seen: UtcTime
    last_seen: UtcTime
    sources: int


class Sighting(BaseModel):
    source: str
    first_seen: UtcTime
    last_seen: UtcTime


class ListingFeedback(BaseModel):
    id: str
    rating: float | None = None
    text: str | None = None
    buyer: str | None = None
    item: str | None = None
    left_after: UtcTime | None = None
    left_before: UtcTime | None = None


class ListingDetail(ListingItem):
    url: str | None = None
    source: str
    history: list[HistoryValue]
    sources: list[Sighting]
    feedback: list[ListingFeedback]
    feedback_count: int


# -- shared with the dashboard ---------------------------------------------------------------
def market_rows(
    request: Request, *, after: list[Any] | None, limit: int
) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """Markets with their crawl status, one page (the store's ``markets`` + ``crawl``)."""
    from spector.store import markets

    state = state_of(request)
    with state.workspace() as ws:
        found = markets(ws.store, after=after, limit=limit)
    attach_crawl(found.rows, crawl_status(state.ws_root))
    return found.rows, found.next_key


def _market_detail(request: Request, market_id: str) -> dict[str, Any]:
    from spector.store import market_detail

    state = state_of(request)
    with state.workspace() as ws:
        row = market_detail(ws.store, market_id)
        if row is None:
            raise NotFound(f"no market {market_id!r}", hint="see the dashboard for the markets")
        result = cached_estimate(state, ws)
    attach_crawl([row], crawl_status(state.ws_root))
    row["revenue"], row["top_vendors"] = None, []
    if result.estimate is not None:
        for r in result.estimate.by_market:
            if r.get("market_id") == market_id:
                row["revenue"] = {k: r[k] for k in MarketRevenue.model_fields}
        row["top_vendors"] = [
            {k: v.get(k) for k in VendorRevenue.model_fields}
            for v in result.estimate.by_vendor
            if v.get("market_id") == market_id
        ][:10]
    return row


def _query(**values: Any) -> Any:
    from spector.store import listing_query

    return listing_query(**values)


def _search(request: Request, query: Any, cursor: str | None, limit: int) -> tuple[Any, int]:
    from spector.store import count_listings, search_listings

    after = decode_cursor(cursor)
    with state_of(request).workspace() as ws:
        found = search_listings(ws.store, query, after=after, limit=limit)
        total = count_listings(ws.store, query)
    return found, total


def _listing(request: Request, listing_id: str) -> dict[str, Any]:
    from spector.store import listing_detail

    with state_of(request).workspace() as ws:
        row = listing_detail(ws.store, listing_id)
    if row is None:
        raise NotFound(f"no listing {listing_id!r}", hint="search the listings at /listings")
    return row


# -- API ----------------------------------------------------------------------------------
@api.get("/markets", response_model=Page[MarketItem], summary="Markets and their crawl status")
def api_markets(request: Request, user: ApiUser, limit: Limit = 100, cursor: Cursor = None) -> Any:
    rows, key = market_rows(request, after=decode_cursor(cursor), limit=limit)
    return {"items": rows, "next_cursor": encode_cursor(key) if key else None}


@api.get("/markets/{market_id}", response_model=MarketDetail, summary="One market")
def api_market(request: Request, user: ApiUser, market_id: str) -> Any:
    return _market_detail(request, market_id)


@api.get("/listings", response_model=ListingPage, summary="Search listings")
def api_listings(
    request: Request,
    user: ApiUser,
    q: Text = None,
    category: Text = None,
    ships_from: Annotated[str | None, Query(max_length=3)] = None,
    vendor: Text = None,
    market: Text = None,
    price_min: Annotated[float | None, Query(ge=0, lt=1e15, description="USD")] = None,
    price_max: Annotated[float | None, Query(ge=0, lt=1e15, description="USD")] = None,
    seen_from: date | None = None,
    seen_to: date | None = None,
    sort: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = PAGE_SIZE,
    cursor: Cursor = None,
) -> Any:
    """Listings by the filters (see ``spector.store.ListingQuery``), ``sort`` one of
    title, price_usd, category, ships_from, vendor, market, first_seen, last_seen ('-'
    first: descending; default -last_seen)."""
    query = _query(
        q=q, category=category, ships_from=ships_from, vendor=vendor, market=market,
        price_min=price_min, price_max=price_max, seen_from=seen_from, seen_to=seen_to,
        sort=sort,
    )  # fmt: skip
    found, total = _search(request, query, cursor, limit)
    next_cursor = encode_cursor(found.next_key) if found.next_key else None
    return {"items": found.rows, "next_cursor": next_cursor, "total": total}


@api.get("/listings/{listing_id}", response_model=ListingDetail, summary="One listing")
def api_listing(request: Request, user: ApiUser, listing_id: str) -> Any:
    return _listing(request, listing_id)


# -- pages --------------------------------------------------------------------------------
SORT_COLUMNS = (
    ("Title", "title"),
    ("Market", "market"),
    ("Vendor", "vendor"),
    ("Category", "category"),
    ("Price (USD)", "price_usd"),
    ("Ships from", "ships_from"),
    ("First seen", "first_seen"),
    ("Last seen", "last_seen"),
)


@pages.get("/listings", response_class=HTMLResponse, include_in_schema=False)
def listings_page(
    request: Request,
    user: PageUser,
    q: Text = None,
    category: Text = None,
    ships_from: Text = None,
    vendor: Text = None,
    market: Text = None,
    price_min: Text = None,
    price_max: Text = None,
    seen_from: Text = None,
    seen_to: Text = None,
    sort: Text = None,
    cursor: Cursor = None,
) -> HTMLResponse:
    from spector.store import listing_facets

    query = _query(
        q=q, category=category, ships_from=ships_from, vendor=vendor, market=market,
        price_min=price_min, price_max=price_max, seen_from=seen_from, seen_to=seen_to,
        sort=sort,
    )  # fmt: skip
    found, total = _search(request, query, cursor, PAGE_SIZE)
    with state_of(request).workspace() as ws:
        facets = listing_facets(ws.store)
    filters = dict(query.filters)
    here = urlencode(filters)
    next_url = None
    if found.next_key:
        params = {**filters, "sort": query.sort, "cursor": encode_cursor(found.next_key)}
        next_url = "/listings?" + urlencode(params)
    context = {
        "rows": found.rows,
        "total": total,
        "filters": filters,
        "sort": query.sort,
        "sort_base": "/listings?" + (here + "&" if here else ""),
        "columns": SORT_COLUMNS,
        "facets": facets,
        "next_url": next_url,
        "first_url": "/listings?" + urlencode({**filters, "sort": query.sort}) if cursor else None,
    }
    return render(request, "listings/list.html", context)


@pages.get("/listings/{listing_id}", response_class=HTMLResponse, include_in_schema=False)
def listing_page(request: Request, user: PageUser, listing_id: str) -> HTMLResponse:
    return render(request, "listings/listing.html", {"l": _listing(request, listing_id)})


@pages.get("/markets/{market_id}", response_class=HTMLResponse, include_in_schema=False)
def market_page(request: Request, user: PageUser, market_id: str) -> HTMLResponse:
    row = _market_detail(request, market_id)
    listings_url = "/listings?" + urlencode({"market": market_id})
    return render(request, "listings/market.html", {"m": row, "listings_url": listings_url})
