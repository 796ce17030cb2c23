"""Stores for scorer tests, built without the network.

``extract_in_process`` walks each market's site as a crawl does (from ``/``, following
links, as the range's profiles allow) by calling the site's renderer for a day, and runs
every page through the shipped templates and ``records_of``, as ``spector extract`` does
for captures. The records are merged as the store merges observations (the latest
non-null value wins, lists grow) and written in one upsert per market: at ``small`` scale
this takes seconds, where a real crawl and a page-by-page extraction take minutes.

``perfect_store`` writes the records a perfect extraction of the whole truth would give
(every listing, account, feedback and post ever made, vendors' counters as of the last
day), written straight from the world files: the scorer must give it 1.0 everywhere.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pyarrow.parquet as pq
from selectolax.lexbor import LexborHTMLParser

from spector.extract._pages import records_of
from spector.extract._rates import Rates, import_rates
from spector.extract._templates import template_for
from spector.model import Feedback, Listing, Market, Post, Record, VendorAccount, selector_kind
from spector.sim import EPOCH, load_range
from spector.sim._generate import armored, pgp_for
from spector.sim._sites import build_sites
from spector.sim._sites._base import site_now
from spector.store import Workspace, market_ref

SKIP = ("/logout", "/login", "/captcha/", "/_admin", "/calendar", "/media/")


def _merge(old: Record, new: Record) -> Record:
    """``new`` observed after ``old``: the store's rule, in memory."""
    changes = {}
    for f in dataclasses.fields(new):
        value = getattr(new, f.name)
        if f.name in type(new).UNION:
            changes[f.name] = tuple(sorted(set(getattr(old, f.name)) | set(value)))
        elif value is None:
            changes[f.name] = getattr(old, f.name)
    return dataclasses.replace(new, **changes)


def _market(ws: Workspace, m) -> Market:
    return Market(
        name=m.name,
        family=m.family,
        onions=tuple(m.onions),
        ref=market_ref(ws.store, name=m.name, onions=m.onions),
    )


def extract_in_process(
    out: Path, ws: Workspace, *, day: int | None = None, only: set[str] | None = None
) -> int:
    """Pages seen on ``day`` (default: the last) of every market (or of the ``only`` ones,
    by name) extracted into ``ws``; returns the number of pages. A market not open that
    day answers nothing, as the range's server does."""
    loaded = load_range(out)
    world = loaded.world
    day = int(loaded.truth["day"]) if day is None else day
    sites = build_sites(world, armored(pgp_for(world)))
    if not ws.store.con.execute("SELECT count(*) FROM rates").fetchone()[0]:
        import_rates(ws.store, out / "world" / "rates.parquet")
    rates = Rates(ws.store)
    seen_at = EPOCH + timedelta(days=day, hours=12)
    pages = 0
    for m in world.markets:
        if only is not None and m.name not in only:
            continue
        market = _market(ws, m)
        merged: dict[str, Record] = {}
        if day >= m.open_day and (m.close_day is None or day < m.close_day):
            template = template_for(m.family)
            site = sites[m.market_id]
            for path, html in _walk(site, m.onions[0], day):
                pages += 1
                result = template.apply(path, html) if template else None
                if result is None:
                    continue
                records = records_of(result, template, market.id, m.name, site_now(day))
                for r in rates.price(records, seen_at):
                    merged[r.id] = _merge(merged[r.id], r) if r.id in merged else r
        ws.store.upsert([market, *merged.values()], source=f"test:{m.name}", seen_at=seen_at)
    return pages


def _walk(site, host: str, day: int):
    """(path, html) of every page reachable from ``/`` on ``day``."""
    queue, seen = deque([("/", "")]), {("/", "")}
    while queue:
        path, raw = queue.popleft()
        page = site.render(path, dict(parse_qsl(raw)), day)
        if page.status != 200:
            continue
        yield path, page.body
        here = f"http://{host}{path}" + (f"?{raw}" if raw else "")
        for node in LexborHTMLParser(page.body).css("a[href]"):
            url = urlsplit(urljoin(here, node.attributes.get("href") or ""))
            if url.hostname != host or url.path.startswith(SKIP):
                continue
            key = (url.path, url.query)
            if key not in seen:
                seen.add(key)
                queue.append(key)


def perfect_store(out: Path, ws: Workspace, truth: dict) -> None:
    """Every record of the truth, exact, as a perfect extraction of the range would store
    them (see the module doc); markets are known by their onions, as a crawl knows them."""
    world = out / "world"

    def read(name):
        return pq.read_table(world / f"{name}.parquet").to_pylist()

    day = truth["day"]
    markets = {m["market_id"]: m for m in truth["markets"]}
    ids = {}
    records: list[Record] = []
    for m in truth["markets"]:
        market = Market(
            name=m["name"],
            family=m["family"],
            onions=tuple(m["onions"]),
            ref=f"onion:{m['onions'][0]}",
        )
        ids[m["market_id"]] = market.id
        records.append(market)
    at = lambda d, s=0: EPOCH + timedelta(days=d, seconds=s)  # noqa: E731
    feedback = read("feedback")
    sales = read("sales")
    accounts = {a["account_id"]: a for a in read("accounts")}
    for aid, a in accounts.items():
        mine = [f for f in feedback if f["account_id"] == aid and f["day"] <= day]
        contacts = []
        for c in a["contacts"] or []:
            kind, _, value = c.partition(":")
            contacts.append(f"{kind}:{selector_kind(kind).normalise(value)}")
        records.append(
            VendorAccount(
                market_id=ids[a["market_id"]],
                handle=a["handle"],
                profile_text=a["profile_text"],
                pgp_fingerprints=(a["pgp_fingerprint"],) if a["pgp_fingerprint"] else (),
                contacts=tuple(contacts),
                joined=at(a["joined_day"]),
                rating=float(f"{sum(f['rating'] for f in mine) / len(mine):.2f}") if mine else None,
                feedback_count=len(mine),
                sales_count=sum(1 for s in sales if s["account_id"] == aid and s["day"] <= day),
            )
        )
    listings = {x["listing_id"]: x for x in read("listings")}
    sold: dict[str, int] = {}  # listing -> its sales by the day ("N sold since", escrow)
    for s in sales:
        if s["day"] <= day:
            sold[s["listing_id"]] = sold.get(s["listing_id"], 0) + 1
    for x in listings.values():
        seller = accounts[x["account_id"]]
        counter = markets[x["market_id"]]["family"] == "escrow"
        records.append(
            Listing(
                market_id=ids[x["market_id"]],
                listing_ref=x["ref"],
                vendor_id=VendorAccount(market_id=ids[x["market_id"]], handle=seller["handle"]).id,
                title=x["title"],
                category=x["category"],
                price=x["shown_price"],  # a holding listing's placeholder, as shown
                currency=markets[x["market_id"]]["currency"],
                price_usd=x["shown_price_usd"],
                quantity=x["quantity"],
                unit=x["unit"],
                ships_from=x["ships_from"],
                ships_to=tuple(x["ships_to"]),
                sold_count=sold.get(x["listing_id"], 0) if counter else None,
                sold_since=at(x["start_day"]) if counter else None,
            )
        )
    for f in feedback:
        mid = ids[f["market_id"]]
        when = at(f["day"], f["second"])
        records.append(
            Feedback(
                market_id=mid,
                vendor_id=VendorAccount(
                    market_id=mid, handle=accounts[f["account_id"]]["handle"]
                ).id,
                listing_id=Listing(market_id=mid, listing_ref=listings[f["listing_id"]]["ref"]).id,
                feedback_ref=f["feedback_id"],
                rating=float(f["rating"]),
                text=f["text"],
                buyer=f["buyer_mask"],
                left_after=when - timedelta(minutes=1),
                left_before=when + timedelta(minutes=1),
                item=listings[f["listing_id"]]["title"],
            )
        )
    threads = {t["thread_id"]: t for t in read("forum_threads")}
    names = {m["member_id"]: m["name"] for m in read("forum_members")}
    for p in read("forum_posts"):
        t = threads[p["thread_id"]]
        mid = ids[t["market_id"]]
        records.append(
            Post(
                market_id=mid,
                thread_ref=t["thread_id"],
                post_ref=p["post_id"],
                thread_title=t["title"],
                board=t["board"],
                author=names[p["member_id"]],
                author_id=VendorAccount(market_id=mid, handle=names[p["member_id"]]).id,
                posted_after=at(p["day"]),
                posted_before=at(p["day"] + 1),
                text=p["text"],
                media=tuple(p["media"] or ()),
            )
        )
    ws.store.upsert(records, source="test:perfect", seen_at=at(day, 43200))
