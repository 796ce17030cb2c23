"""What the scorer expects: the range's truth as records, field by field, with its scope.

A crawl of the range on its last day can see the listings live that day on markets not
closed by then, the vendor accounts selling them (a vendor's pages exist while it has a
live listing), those vendors' feedback left by then, and every forum post made by then.
That is the recall's scope (``KindTruth.want``). Everything the truth ever held for the
range's markets (``KindTruth.known``) is what precision accepts: a listing crawled on an
earlier day is real, not a false row.

Each expected record holds only the fields its family's pages show (``SHOWN``): a field a
site does not show is not scored (the index tests see that nothing is guessed). A price is
expected as shown: a holding listing's placeholder from its holding day on (the truth's
``price`` stays the real one its sales were made at); the escrow family's "N sold since"
counter is expected as the listing's sales up to the day, since its first day. Values are
in the store's terms (decimals, naive UTC datetimes, ISO codes); ids are resolved by the
comparison rules (``spector.sim._score_extract``), because they depend on the workspace's
market id.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from spector.errors import SelectorInvalid, UsageError
from spector.model import selector_kind
from spector.sim._world import EPOCH, placeholder

__all__ = [
    "KINDS",
    "SHOWN",
    "Expected",
    "KindTruth",
    "RangeTruth",
    "crawl_truth",
    "describe",
    "moment",
    "noun",
]

KINDS = ("listing", "vendor_account", "feedback", "post")
_LISTING_ALL = (
    "title",
    "price",
    "currency",
    "price_usd",
    "quantity",
    "unit",
    "ships_from",
    "ships_to",
    "category",
    "vendor",
)
_VENDOR_ALL = (
    "handle",
    "joined",
    "rating",
    "feedback_count",
    "sales_count",
    "profile_text",
    "pgp_fingerprints",
    "contacts",
)
_FEEDBACK_ALL = ("rating", "text", "buyer", "time", "vendor", "listing", "item")
# What each family's pages show, per record kind (see spector.sim._sites): the Cyrillic
# market shows no quantity or ships-to (they are in the title) and no contacts; the bot
# shop shows a bot's attributes and its own name as the seller, nothing of a vendor.
SHOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "listing": {
        "escrow": (*_LISTING_ALL, "sold_count", "sold_since"),  # "12 sold since Jan 5, 2023"
        "walletless": _LISTING_ALL,
        "hydra": tuple(f for f in _LISTING_ALL if f not in ("quantity", "unit", "ships_to")),
        "bots": tuple(f for f in _LISTING_ALL if f not in ("quantity", "unit", "ships_to")),
    },
    "vendor_account": {
        "escrow": _VENDOR_ALL,
        "walletless": _VENDOR_ALL,
        "hydra": tuple(f for f in _VENDOR_ALL if f != "contacts"),
        "bots": ("handle",),
    },
    "feedback": {"escrow": _FEEDBACK_ALL, "walletless": _FEEDBACK_ALL, "hydra": _FEEDBACK_ALL},
    "post": {"forum": ("text", "author", "thread_title", "board", "time", "media")},
}


def moment(day: int, second: int = 0) -> datetime:
    """The range's time of ``day`` (and ``second``) as the store keeps it: naive UTC."""
    return (EPOCH + timedelta(days=day, seconds=second)).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Expected:
    """One record the truth has in scope: its family and the values its pages show."""

    family: str
    values: dict[str, Any]


@dataclass
class KindTruth:
    """One record kind's truth. Keys are ``(range market id, the market's own key...)``:
    listing ref, handle folded, feedback id, (thread id, post id), order id."""

    kind: str
    want: dict[tuple[str, ...], Expected] = field(default_factory=dict)
    known: dict[tuple[str, ...], str] = field(default_factory=dict)  # key -> family
    accepted: dict[tuple[str, ...], str] = field(default_factory=dict)  # real, not of the kind
    # per family: what the calendar would show but a closed market does not
    excluded_closed: Counter[str] = field(default_factory=Counter)
    scope: str = ""


@dataclass
class RangeTruth:
    day: int
    families: dict[str, str]  # range market id -> family
    closed: dict[str, tuple[str, int]]  # range market id -> (fate, close day)
    kinds: dict[str, KindTruth]
    scope: str


def _read(world: Path, name: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    return pq.read_table(world / f"{name}.parquet", columns=columns).to_pylist()  # type: ignore[no-any-return]


def _contact(value: str) -> str:
    """A contact as the store keeps it: "kind:value", normalised by its selector kind."""
    kind, _, raw = value.partition(":")
    try:
        return f"{kind}:{selector_kind(kind).normalise(raw)}"
    except (SelectorInvalid, UsageError):
        return value


def _usd(usd: Decimal, price: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """A listing's USD price and how far a conversion may be off: exact when the page shows
    USD; else half a unit of the shown price (the truth's USD was rounded into it) and a
    cent for the rate's rounding."""
    if currency == "USD" or not price:
        return usd, Decimal(0)
    return usd, Decimal("0.01") + usd / price / 2


@dataclass
class _World:
    """The truth files as the scorer reads them, once."""

    folder: Path
    day: int
    markets: dict[str, dict[str, Any]]
    families: dict[str, str]
    closed: dict[str, tuple[str, int]]
    accounts: dict[str, dict[str, Any]]
    listings: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    sale_days: dict[str, list[int]]  # account id -> sorted days of its sales
    listing_sale_days: dict[str, list[int]]  # listing id -> sorted days of its sales

    def live(self, x: dict[str, Any]) -> bool:
        return bool(x["start_day"] <= self.day < x["end_day"])


def _load(out: Path, truth: dict[str, Any]) -> _World:
    world = out / "world"
    day = int(truth["day"])
    markets = {m["market_id"]: m for m in truth["markets"]}
    sale_days: dict[str, list[int]] = defaultdict(list)
    listing_sale_days: dict[str, list[int]] = defaultdict(list)
    for s in _read(world, "sales", ["account_id", "listing_id", "day"]):
        sale_days[s["account_id"]].append(s["day"])
        listing_sale_days[s["listing_id"]].append(s["day"])
    for days in (*sale_days.values(), *listing_sale_days.values()):
        days.sort()
    return _World(
        folder=world,
        day=day,
        markets=markets,
        families={mid: m["family"] for mid, m in markets.items()},
        closed={
            mid: (m["fate"], int(m["close_day"]))
            for mid, m in markets.items()
            if m["close_day"] is not None and day >= m["close_day"]
        },
        accounts={a["account_id"]: a for a in _read(world, "accounts")},
        listings=_read(world, "listings"),
        feedback=_read(world, "feedback"),
        sale_days=sale_days,
        listing_sale_days=listing_sale_days,
    )


def crawl_truth(out: Path, truth: dict[str, Any]) -> RangeTruth:
    """The truth of what a crawl can see on the range's last day (see the module doc)."""
    w = _load(out, truth)
    listings, selling, live_ids = _listing_truth(w)
    # vendors a closed market would show by the calendar: outside the scope, counted
    closed_sellers = {
        x["account_id"] for x in w.listings if w.live(x) and x["market_id"] in w.closed
    } - selling
    kinds = {
        "listing": listings,
        "vendor_account": _vendor_truth(w, selling, closed_sellers),
        "feedback": _feedback_truth(w, selling, closed_sellers, live_ids),
        "post": _posts(w.folder, w.day, w.families, w.closed),
    }
    names = _closed_names(w.closed, w.markets)
    for kind, kt in kinds.items():
        excluded = sum(kt.excluded_closed.values())
        kt.scope = describe(kind, len(kt.want), len(kt.known), w.day, excluded, names)
    parts = [f"{noun(k, len(kt.want))} of {len(kt.known):,}" for k, kt in kinds.items()]
    scope = f"what a crawl sees on day {w.day}, the range's last: " + ", ".join(parts)
    if w.closed:
        scope += f"; closed markets not counted: {names}"
    return RangeTruth(
        day=w.day,
        families=w.families,
        closed=w.closed,
        kinds=kinds,
        scope=scope,
    )


def _listing_truth(w: _World) -> tuple[KindTruth, set[str], set[str]]:
    """Listings live on the day on markets still open; (their truth, the accounts selling
    them, their listing ids)."""
    lt = KindTruth("listing")
    selling: set[str] = set()
    live_ids: set[str] = set()
    for x in w.listings:
        mid, fam = x["market_id"], w.families[x["market_id"]]
        key = (mid, x["ref"])
        lt.known[key] = fam
        if not w.live(x):
            continue
        if mid in w.closed:
            lt.excluded_closed[fam] += 1
            continue
        live_ids.add(x["listing_id"])
        selling.add(x["account_id"])
        currency = w.markets[mid]["currency"]
        price, usd = x["price"], x["price_usd"]
        holding = x.get("holding_day")
        if holding is not None and w.day >= holding:  # the placeholder is what pages show
            price, usd = placeholder(currency)
        values = {
            "title": x["title"],
            "price": price,
            "currency": currency,
            "price_usd": _usd(usd, price, currency),
            "quantity": x["quantity"],
            "unit": x["unit"],
            "ships_from": x["ships_from"],
            "ships_to": sorted(x["ships_to"]),
            "category": x["category"],
            "vendor": w.accounts[x["account_id"]]["handle"],
            "sold_count": bisect_right(w.listing_sale_days.get(x["listing_id"], []), w.day),
            "sold_since": moment(x["start_day"]),
        }
        lt.want[key] = Expected(fam, {f: values[f] for f in SHOWN["listing"][fam]})
    return lt, selling, live_ids


def _vendor_truth(w: _World, selling: set[str], closed_sellers: set[str]) -> KindTruth:
    """The accounts selling on the day, with their counters as their pages show them."""
    mine: dict[str, list[int]] = defaultdict(list)  # account -> ratings left by the day
    for f in w.feedback:
        if f["day"] <= w.day:
            mine[f["account_id"]].append(f["rating"])
    vt = KindTruth("vendor_account")
    for aid, a in w.accounts.items():
        mid, fam = a["market_id"], w.families[a["market_id"]]
        key = (mid, a["handle"].casefold())
        vt.known[key] = fam
        if aid in closed_sellers:
            vt.excluded_closed[fam] += 1
        if aid not in selling:
            continue
        ratings = mine.get(aid, [])
        values = {
            "handle": a["handle"],
            "joined": moment(a["joined_day"]),
            # as the page shows it: the mean to two decimals, none without feedback
            "rating": float(f"{sum(ratings) / len(ratings):.2f}") if ratings else None,
            "feedback_count": len(ratings),
            "sales_count": bisect_right(w.sale_days.get(aid, []), w.day),
            "profile_text": a["profile_text"],
            "pgp_fingerprints": [a["pgp_fingerprint"]] if a["pgp_fingerprint"] else [],
            "contacts": sorted(_contact(c) for c in a["contacts"] or []),
        }
        vt.want[key] = Expected(fam, {f: values[f] for f in SHOWN["vendor_account"][fam]})
    for m in _read(w.folder, "forum_members", ["market_id", "name"]):  # real, not vendors
        vt.accepted[(m["market_id"], m["name"].casefold())] = w.families[m["market_id"]]
    return vt


def _feedback_truth(
    w: _World, selling: set[str], closed_sellers: set[str], live_ids: set[str]
) -> KindTruth:
    """Feedback left by the day for the accounts selling then (their pages list it)."""
    refs = {x["listing_id"]: x["ref"] for x in w.listings}
    titles = {x["listing_id"]: x["title"] for x in w.listings}
    ft = KindTruth("feedback")
    for f in w.feedback:
        mid, fam = f["market_id"], w.families[f["market_id"]]
        key = (mid, f["feedback_id"])
        ft.known[key] = fam
        if f["day"] > w.day:
            continue
        if f["account_id"] in closed_sellers:
            ft.excluded_closed[fam] += 1
        if f["account_id"] not in selling:
            continue
        when = moment(f["day"], f["second"])
        values = {
            "rating": float(f["rating"]),
            "text": f["text"],
            "buyer": f["buyer_mask"],
            "time": (when, when),
            "vendor": w.accounts[f["account_id"]]["handle"],
            "listing": refs[f["listing_id"]],
            "item": titles[f["listing_id"]],  # the vendor's feedback page names the item
        }
        shown = SHOWN["feedback"][fam]
        if f["listing_id"] not in live_ids:  # an ended listing is named, not linked
            shown = tuple(s for s in shown if s != "listing")
        ft.want[key] = Expected(fam, {s: values[s] for s in shown})
    return ft


def _posts(
    world: Path, day: int, families: dict[str, str], closed: dict[str, tuple[str, int]]
) -> KindTruth:
    threads = {
        t["thread_id"]: t for t in pq.read_table(world / "forum_threads.parquet").to_pylist()
    }
    names = {
        m["member_id"]: m["name"] for m in _read(world, "forum_members", ["member_id", "name"])
    }
    pt = KindTruth("post")
    for p in _read(
        world, "forum_posts", ["post_id", "thread_id", "member_id", "day", "text", "media"]
    ):
        t = threads[p["thread_id"]]
        mid, fam = t["market_id"], families[t["market_id"]]
        key = (mid, t["thread_id"], p["post_id"])
        pt.known[key] = fam
        if p["day"] > day or t["day"] > day:
            continue
        if mid in closed:
            pt.excluded_closed[fam] += 1
            continue
        values = {
            "text": p["text"],
            "author": names[p["member_id"]],
            "thread_title": t["title"],
            "board": t["board"],
            "time": (moment(p["day"]), moment(p["day"] + 1)),  # shown to the day
            "media": sorted(p["media"] or []),
        }
        pt.want[key] = Expected(fam, {f: values[f] for f in SHOWN["post"][fam]})
    return pt


_NOUN = {
    "order": ("order", "orders"),
    "listing": ("listing", "listings"),
    "vendor_account": ("vendor account", "vendor accounts"),
    "feedback": ("feedback", "feedback"),
    "post": ("post", "posts"),
}
_WHAT = {
    "listing": "live on day {day}",
    "vendor_account": "with a live listing on day {day}",
    "feedback": "on those vendors' pages by day {day}",
    "post": "shown on day {day}",
}
_EVER = {
    "listing": "ever made",
    "vendor_account": "ever opened",
    "feedback": "ever left",
    "post": "ever made",
}


def noun(kind: str, n: int) -> str:
    one, many = _NOUN[kind]
    return f"{n:,} {one if n == 1 else many}"


def describe(kind: str, want: int, ever: int, day: int, excluded: int = 0, closed: str = "") -> str:
    """The scope of one kind in words and numbers: "50 listings live on day 29 of 95 ever
    made", and what closed markets would have added."""
    text = f"{noun(kind, want)} {_WHAT[kind].format(day=day)} of {ever:,} {_EVER[kind]}"
    if excluded:
        text += (
            f"; {excluded:,} more on {closed or 'closed markets'} not counted (closed by day {day})"
        )
    return text


def _closed_names(closed: dict[str, tuple[str, int]], markets: dict[str, Any]) -> str:
    return ", ".join(
        f"{markets[mid]['name']} ({fate.replace('_', ' ')} on day {d})"
        for mid, (fate, d) in sorted(closed.items(), key=lambda i: markets[i[0]]["name"])
    )
