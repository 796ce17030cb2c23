"""Extraction on the training range: every listing, account, feedback and forum post in the
truth, field-exact; incremental; a changed layout is recorded as errors, nothing
half-written."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from tests.collect.harness import Human

from spector.collect import start_crawl
from spector.extract import _run
from spector.extract._rates import import_rates
from spector.extract._run import extract_captures
from spector.extract._templates import template_for
from spector.model import Listing, Post, VendorAccount
from spector.sim import EPOCH, RangeServer, generate, score
from spector.store import Workspace


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    base = tmp_path_factory.mktemp("extract")
    truth = generate(11, "tiny", base / "range")
    Workspace.init(base / "ws").close()
    with RangeServer(base / "range") as server, Human(base / "ws", truth["captchas"]):
        start_crawl(
            base / "ws",
            [base / "range" / m["profile"] for m in truth["markets"]],
            proxy=server.proxy_url,
        )
    return base, truth


def _ws_markets(con, truth):
    """Range market id -> the workspace's id of that market (found by its onion hosts)."""
    by_onion = {
        o: mid
        for mid, onions in con.execute("SELECT id, onions FROM markets").fetchall()
        for o in onions or []
    }
    return {m["market_id"]: by_onion[m["onions"][0]] for m in truth["markets"]}


def _world(base, name):
    return pq.read_table(base / "range" / "world" / f"{name}.parquet").to_pylist()


def test_range_extracts_field_exact(crawled):
    base, truth = crawled
    day = truth["day"]
    with Workspace.open(base / "ws", write=True) as ws:
        import_rates(ws.store, base / "range" / "world" / "rates.parquet")
        report = extract_captures(ws)
        assert report.errors == 0
        assert report.extracted > 50
        assert score(base / "range", ws)["extraction"]["recall"] == 1.0
        con = ws.store.con
        # home pages, member lists, login pages: crawled by design, counted, not reported
        assert report.skipped > 0
        assert (report.uncovered, report.unclaimed) == ({}, {})
        assert con.execute("SELECT count(*) FROM extraction_errors").fetchone() == (0,)
        family = {m["market_id"]: m["family"] for m in truth["markets"]}
        onions = {m["market_id"]: m["onions"] for m in truth["markets"]}
        item = {"escrow": "/listing/", "walletless": "/item/", "hydra": "/tovar/", "bots": "/bot/"}
        ws_market = _ws_markets(con, truth)
        accounts = {a["account_id"]: a for a in _world(base, "accounts")}
        live = [x for x in _world(base, "listings") if x["start_day"] <= day < x["end_day"]]
        for x in live:
            mid = ws_market[x["market_id"]]
            row = con.execute(
                "SELECT title, category, price, currency, quantity, unit, ships_from, ships_to, "
                "vendor_id, price_usd, url FROM listings WHERE id = ?",
                [Listing(market_id=mid, listing_ref=x["ref"]).id],
            ).fetchone()
            fam = family[x["market_id"]]
            # its listing page's URL (from the page, or from an index row's link)
            assert row[10] in {f"http://{o}{item[fam]}{x['ref']}" for o in onions[x["market_id"]]}
            shown = fam in ("escrow", "walletless")
            assert row[:4] == (
                x["title"],
                x["category"],
                x["shown_price"],  # a holding listing's placeholder, as its page shows it
                "RUB" if fam == "hydra" else "USD",
            )
            assert row[6] == x["ships_from"]
            if shown:
                assert (row[4], row[5], sorted(row[7])) == (
                    x["quantity"],
                    x["unit"],
                    sorted(x["ships_to"]),
                )
            # in USD: exact where the page shows USD; from the range's rouble rate on Hydra
            assert abs(row[9] - x["shown_price_usd"]) <= (Decimal("0.01") if fam == "hydra" else 0)
            vendor = accounts[x["account_id"]]
            assert row[8] == VendorAccount(market_id=mid, handle=vendor["handle"]).id
        sales = Counter(s["account_id"] for s in _world(base, "sales") if s["day"] <= day)
        feedback = [f for f in _world(base, "feedback") if f["day"] <= day]
        selling = {x["account_id"] for x in live if family[x["market_id"]] != "bots"}
        for aid in selling:
            a = accounts[aid]
            mid = ws_market[a["market_id"]]
            row = con.execute(
                "SELECT pgp_fingerprints, joined, sales_count, feedback_count, rating, "
                "profile_text FROM vendor_accounts WHERE id = ?",
                [VendorAccount(market_id=mid, handle=a["handle"]).id],
            ).fetchone()
            mine = [f for f in feedback if f["account_id"] == aid]
            assert row[0] == ([a["pgp_fingerprint"]] if a["pgp_fingerprint"] else [])
            assert row[1] == (EPOCH + timedelta(days=a["joined_day"])).replace(tzinfo=None)
            assert row[2] == sales[aid]
            assert row[3] == len(mine)
            if mine:
                assert row[4] == round(sum(f["rating"] for f in mine) / len(mine), 2)
            assert row[5] == a["profile_text"]
        for f in feedback:
            if f["account_id"] not in selling:
                continue
            mid = ws_market[f["market_id"]]
            row = con.execute(
                "SELECT rating, text, buyer, left_after, left_before FROM feedback "
                "WHERE market_id = ? AND feedback_ref = ?",
                [mid, f["feedback_id"]],
            ).fetchone()
            when = (EPOCH + timedelta(days=f["day"], seconds=f["second"])).replace(tzinfo=None)
            assert row[:3] == (f["rating"], f["text"], f["buyer_mask"])
            assert row[3] <= when < row[4], (family[f["market_id"]], row, when)
        # one feedback is one record, whether seen on a listing page or a feedback page
        assert con.execute("SELECT count(*) FROM feedback").fetchone()[0] == sum(
            1 for f in feedback if f["account_id"] in selling
        )


def test_forum_posts_extract_field_exact(crawled):
    base, truth = crawled
    day = truth["day"]
    forum = next(m for m in truth["markets"] if m["family"] == "forum")
    with Workspace.open(base / "ws") as ws:
        mid = _ws_markets(ws.store.con, truth)[forum["market_id"]]
    threads = {t["thread_id"]: t for t in _world(base, "forum_threads") if t["day"] <= day}
    members = {m["member_id"]: m["name"] for m in _world(base, "forum_members")}
    posts = [p for p in _world(base, "forum_posts") if p["day"] <= day]
    assert any(p["media"] for p in posts)
    assert any(len([q for q in posts if q["thread_id"] == t]) > 10 for t in threads)  # paged
    with Workspace.open(base / "ws", write=True) as ws:
        assert extract_captures(ws).errors == 0  # or nothing new, when the test above ran first
        con = ws.store.con
        assert score(base / "range", ws)["extraction"]["by_kind"]["post"]["recall"] == 1.0
        for p in posts:
            thread = threads[p["thread_id"]]
            row = con.execute(
                "SELECT thread_title, board, author, author_id, text, media, posted_after, "
                "posted_before FROM posts WHERE id = ?",
                [Post(market_id=mid, thread_ref=p["thread_id"], post_ref=p["post_id"]).id],
            ).fetchone()
            author = members[p["member_id"]]
            assert row[:5] == (
                thread["title"],
                thread["board"],
                author,
                VendorAccount(market_id=mid, handle=author).id,
                p["text"],
            )
            assert row[5] == sorted(p["media"])  # link URLs as shown, as text
            shown = (EPOCH + timedelta(days=p["day"])).replace(tzinfo=None)
            assert (row[6], row[7]) == (shown, shown + timedelta(days=1))
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == len(posts)


def test_extract_is_incremental_and_versioned(crawled, monkeypatch):
    base, _ = crawled
    with Workspace.open(base / "ws", write=True) as ws:
        extract_captures(ws)
        counts = ws.store.counts()
        assert extract_captures(ws).extracted == 0
        assert ws.store.counts() == counts
        real = template_for

        def bumped(family):
            found = real(family)
            return dataclasses.replace(found, version=found.version + 1) if found else None

        monkeypatch.setattr(_run, "template_for", bumped)
        again = extract_captures(ws)
        assert again.extracted > 50  # a new template version re-extracts its pages
        counts.pop("extracted_captures")
        after = ws.store.counts()
        after.pop("extracted_captures")
        assert {k: v for k, v in after.items() if k not in ("observations", "statements")} == {
            k: v for k, v in counts.items() if k not in ("observations", "statements")
        }


def test_a_changed_layout_is_recorded_and_the_batch_goes_on(crawled, monkeypatch, tmp_path):
    base, truth = crawled
    import shutil

    shutil.copytree(base / "ws", tmp_path / "ws")
    real = template_for

    def moved(family):
        found = real(family)
        if family != "escrow":
            return found
        pages = tuple(
            {**p, "fields": {**p.get("fields", {}), "vendor": "span.seller"}}
            if p["kind"] == "listing"
            else p
            for p in found.pages
        )
        return dataclasses.replace(found, version=found.version + 7, pages=pages)

    monkeypatch.setattr(_run, "template_for", moved)
    with Workspace.open(tmp_path / "ws", write=True) as ws:
        report = extract_captures(ws)
        errors = ws.store.con.execute(
            "SELECT ref, reason FROM extraction_errors WHERE stage = 'template'"
        ).fetchall()
    escrow = next(m for m in truth["markets"] if m["family"] == "escrow")
    assert report.errors == len(errors) > 0
    assert all("/listing/" in url and "without a vendor" in why for url, why in errors)
    assert all(escrow["onions"][0] in url for url, _ in errors)
    assert report.extracted > 0  # the other pages and families went on


def test_a_thread_page_whose_layout_changed_is_an_error_and_the_batch_goes_on(
    crawled, monkeypatch, tmp_path
):
    base, truth = crawled
    import shutil

    shutil.copytree(base / "ws", tmp_path / "ws")
    real = template_for

    def moved(family):  # the forum now marks its posts <div class="message">
        found = real(family)
        if family != "forum":
            return found
        pages = tuple(
            {**p, "items": [{**i, "each": "div.message"} for i in p["items"]]}
            if p["kind"] == "forum_thread"
            else p
            for p in found.pages
        )
        return dataclasses.replace(found, pages=pages)

    monkeypatch.setattr(_run, "template_for", moved)
    with Workspace.open(tmp_path / "ws", write=True) as ws:
        con = ws.store.con
        for table in ("posts", "extracted_captures", "extraction_errors"):
            con.execute(f"DELETE FROM {table}")
        report = extract_captures(ws)
        errors = con.execute(
            "SELECT ref, reason FROM extraction_errors WHERE stage = 'template'"
        ).fetchall()
        threads = con.execute(
            "SELECT count(*) FROM captures WHERE url LIKE '%/thread/%' AND status = 200 "
            "AND record_type = 'response'"
        ).fetchone()[0]
        posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    forum = next(m for m in truth["markets"] if m["family"] == "forum")
    assert report.errors == len(errors) == threads > 0
    assert all("/thread/" in url and "without posts" in why for url, why in errors)
    assert all(forum["onions"][0] in url for url, _ in errors)
    assert posts == 0  # nothing of a failed page is stored
    assert report.extracted > 50  # the other families went on


def test_parallel_extraction_gives_the_same_store(crawled, tmp_path):
    import shutil

    base, _ = crawled
    shutil.copytree(base / "ws", tmp_path / "serial")
    shutil.copytree(base / "ws", tmp_path / "parallel")
    tables = ("listings", "vendor_accounts", "feedback", "posts")
    dumps = []
    for name, processes in (("serial", 1), ("parallel", 2)):
        with Workspace.open(tmp_path / name, write=True) as ws:
            ws.store.con.execute("DELETE FROM extracted_captures")
            for table in tables:
                ws.store.con.execute(f"DELETE FROM {table}")
            report = extract_captures(ws, processes=processes, min_parallel=1)
            assert report.errors == 0
            dumps.append(
                {
                    t: sorted(
                        ws.store.con.execute(
                            f"SELECT * EXCLUDE (source, first_seen, last_seen) FROM {t}"
                        ).fetchall()
                    )
                    for t in tables
                }
            )
    assert dumps[0] == dumps[1]
    assert all(dumps[0][t] for t in tables)


# -- listing index pages ------------------------------------------------------------------
# What a row of each family's index shows exactly as the listing page does (the rest of a
# listing is on its own page only): escrow and walletless categories show title, price
# and vendor (the category is the page's), Hydra's cities title, price and shop, the bot
# shop's stock list every attribute of a bot.
INDEX_FIELDS = {
    "escrow": {"title", "category", "price", "currency", "price_usd", "vendor_id"},
    "walletless": {"title", "category", "price", "currency", "price_usd", "vendor_id"},
    "hydra": {"title", "price", "currency", "price_usd", "vendor_id"},
    "bots": {"title", "category", "price", "currency", "price_usd", "vendor_id", "ships_from"},
}
LISTING_COLUMNS = (
    "title",
    "category",
    "price",
    "currency",
    "price_usd",
    "quantity",
    "unit",
    "ships_from",
    "ships_to",
    "vendor_id",
)
RECORD_TABLES = ("listings", "vendor_accounts", "feedback", "posts")


INDEX_URL = r"^[a-z]+://[^/]+/((c|category|city)/[^/?]+|bots)([?].*)?$"


def _hold_back(ws, pages: str) -> None:
    """Set aside the captures of listing index pages (``pages="indexes"``) or of all the
    other pages (``"others"``), as if the crawl had not fetched them; _restore puts them
    back."""
    which = {"indexes": "", "others": "NOT"}[pages]
    ws.store.con.execute(
        f"CREATE TABLE held AS SELECT * FROM captures WHERE {which} regexp_matches(url, ?)",
        [INDEX_URL],
    )
    ws.store.con.execute(f"DELETE FROM captures WHERE {which} regexp_matches(url, ?)", [INDEX_URL])


def _restore(ws) -> None:
    ws.store.con.execute("INSERT INTO captures SELECT * FROM held")
    ws.store.con.execute("DROP TABLE held")


def _fresh(base, target):
    """A copy of the crawled workspace with nothing extracted yet."""
    import shutil

    shutil.copytree(base / "ws", target)
    with Workspace.open(target, write=True) as ws:
        for table in (*RECORD_TABLES, "extracted_captures", "extraction_errors"):
            ws.store.con.execute(f"DELETE FROM {table}")
    return target


def _dump(ws):
    return {
        t: sorted(
            ws.store.con.execute(
                f"SELECT * EXCLUDE (source, first_seen, last_seen) FROM {t}"
            ).fetchall()
        )
        for t in RECORD_TABLES
    }


def test_index_pages_alone_give_the_listings_they_show_field_exact(crawled, tmp_path):
    base, truth = crawled
    day = truth["day"]
    _fresh(base, tmp_path / "ws")
    with Workspace.open(tmp_path / "ws", write=True) as ws:
        import_rates(ws.store, base / "range" / "world" / "rates.parquet")
        _hold_back(ws, "others")
        con = ws.store.con
        indexes = con.execute(
            "SELECT count(*) FROM captures WHERE record_type = 'response' AND status = 200"
        ).fetchone()[0]
        report = extract_captures(ws)
        assert report.errors == 0
        assert report.extracted == indexes > 4  # each index page, and no other page
        family = {m["market_id"]: m["family"] for m in truth["markets"]}
        ws_market = _ws_markets(con, truth)
        accounts = {a["account_id"]: a for a in _world(base, "accounts")}
        live = [x for x in _world(base, "listings") if x["start_day"] <= day < x["end_day"]]
        assert {family[x["market_id"]] for x in live} == set(INDEX_FIELDS)
        for x in live:
            fam = family[x["market_id"]]
            mid = ws_market[x["market_id"]]
            row = con.execute(
                f"SELECT {', '.join(LISTING_COLUMNS)} FROM listings WHERE id = ?",
                [Listing(market_id=mid, listing_ref=x["ref"]).id],
            ).fetchone()
            assert row is not None, (fam, x["ref"])  # every live listing is on an index
            got = dict(zip(LISTING_COLUMNS, row, strict=True))
            vendor = accounts[x["account_id"]]
            want = {
                **{k: x[k] for k in ("title", "category", "ships_from")},
                "price": x["shown_price"],
                "price_usd": x["shown_price_usd"],
                "currency": "RUB" if fam == "hydra" else "USD",
                "vendor_id": VendorAccount(market_id=mid, handle=vendor["handle"]).id,
            }
            for column in LISTING_COLUMNS:
                if column not in INDEX_FIELDS[fam]:  # not shown: not guessed either
                    assert got[column] in (None, []), (fam, column, got[column])
                elif column == "price_usd" and fam == "hydra":  # the range's rouble rate
                    assert abs(got[column] - x["shown_price_usd"]) <= Decimal("0.01")
                else:
                    assert got[column] == want[column], (fam, column)
        # vendors: their handles only (the rest is on their own pages)
        assert (
            con.execute(
                "SELECT count(*) FROM vendor_accounts WHERE profile_text IS NOT NULL "
                "OR joined IS NOT NULL OR rating IS NOT NULL OR len(pgp_fingerprints) > 0"
            ).fetchone()[0]
            == 0
        )
        live_ids = {
            Listing(market_id=ws_market[x["market_id"]], listing_ref=x["ref"]).id for x in live
        }
        assert {r[0] for r in con.execute("SELECT id FROM listings").fetchall()} == live_ids


@pytest.mark.parametrize("indexes_later", [False, True], ids=["crawled", "indexes-refetched"])
def test_index_and_listing_pages_in_any_order_give_what_listing_pages_give(
    crawled, tmp_path, indexes_later
):
    """The store's merge (latest non-null value wins) cannot be turned by index pages: the
    fields an index gives are those its listing page gives, and equal; it fills nothing the
    listing page leaves empty. Index pages only widen when a listing was seen. A crawl
    fetches an index before the listings it links to; with ``indexes_later`` the index
    pages were fetched again after every other page (so their values are the latest)."""
    base, _ = crawled
    runs = {  # the runs of `spector extract`, each on the captures of the pages it names
        "without indexes": ["no indexes"],
        "indexes first": ["indexes only", "all"],
        "indexes last": ["no indexes", "all"],
        "together": ["all"],
    }
    held = {"no indexes": "indexes", "indexes only": "others"}
    dumps, seen = {}, {}
    for label, steps in runs.items():
        target = _fresh(base, tmp_path / label.replace(" ", "-"))
        with Workspace.open(target, write=True) as ws:
            import_rates(ws.store, base / "range" / "world" / "rates.parquet")
            if indexes_later:
                ws.store.con.execute(
                    "UPDATE captures SET fetched_at = fetched_at + (SELECT max(fetched_at) - "
                    "min(fetched_at) + INTERVAL 1 MINUTE FROM captures) "
                    "WHERE regexp_matches(url, ?)",
                    [INDEX_URL],
                )
            for step in steps:
                if step in held:
                    _hold_back(ws, held[step])
                report = extract_captures(ws)
                assert report.errors == 0
                assert report.extracted > 4
                if step in held:
                    _restore(ws)
            dumps[label] = _dump(ws)
            seen[label] = {
                i: (a, b)
                for i, a, b in ws.store.con.execute(
                    "SELECT id, first_seen, last_seen FROM listings"
                ).fetchall()
            }
    assert all(dumps["without indexes"][t] for t in RECORD_TABLES)
    for label in ("indexes first", "indexes last", "together"):
        assert dumps[label] == dumps["without indexes"], label
        # an index page is an observation too: the time a listing was seen only widens
        for listing_id, (first, last) in seen["without indexes"].items():
            wider = seen[label][listing_id]
            assert wider[0] <= first
            assert wider[1] >= last
        assert any(seen[label][i] != s for i, s in seen["without indexes"].items())


def test_an_index_page_whose_layout_changed_is_an_error_and_the_batch_goes_on(
    crawled, monkeypatch, tmp_path
):
    base, truth = crawled
    _fresh(base, tmp_path / "ws")
    real = template_for

    def moved(family):  # the Cyrillic market now marks its index rows <li class="item">
        found = real(family)
        if family != "hydra":
            return found
        pages = tuple(
            {**p, "items": [{**i, "each": "ul.tovary li.item"} for i in p["items"]]}
            if p["kind"] == "listing_index"
            else p
            for p in found.pages
        )
        return dataclasses.replace(found, pages=pages)

    monkeypatch.setattr(_run, "template_for", moved)
    hydra = next(m for m in truth["markets"] if m["family"] == "hydra")
    with Workspace.open(tmp_path / "ws", write=True) as ws:
        import_rates(ws.store, base / "range" / "world" / "rates.parquet")
        report = extract_captures(ws)
        con = ws.store.con
        errors = con.execute(
            "SELECT ref, reason FROM extraction_errors WHERE stage = 'template'"
        ).fetchall()
        cities = con.execute(
            "SELECT count(*) FROM captures WHERE url LIKE '%/city/%' AND status = 200 "
            "AND record_type = 'response'"
        ).fetchone()[0]
        recall = score(base / "range", ws)["extraction"]["recall"]
    assert report.errors == len(errors) == cities > 0  # one error per index page
    assert all("/city/" in url and "without listings" in why for url, why in errors)
    assert all(hydra["onions"][0] in url for url, _ in errors)
    assert report.extracted > 50  # the listing pages and the other families went on
    assert recall == 1.0
