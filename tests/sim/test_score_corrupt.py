"""A score that can fall: on a store that holds the whole truth exactly (score_store.py)
and the seized server's import, each corruption of stored records (a changed, blanked or
deleted value, a row the truth lacks, a row twice) lowers every figure it touches, and
no other figure moves."""
# ruff: noqa: E501  (the table of corruptions: one case to a line, read across)

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from tests.sim.score_store import perfect_store

from spector.extract._seized import import_seized
from spector.model import Feedback, Listing, Market, Order, Post, VendorAccount
from spector.sim import score
from spector.store import Workspace


@pytest.fixture(scope="module")
def store(tiny_range, tmp_path_factory):
    out, truth = tiny_range
    root = tmp_path_factory.mktemp("corrupt") / "ws"
    with Workspace.init(root) as ws:
        perfect_store(out, ws, truth)
        seized = truth["seized_export"]
        name = next(m["name"] for m in truth["markets"] if m["market_id"] == seized["market_id"])
        import_seized(ws.store, out / seized["folder"], name)
    return root


def _figures(node, path="x"):
    for key, value in node.items():
        if key in ("recall", "precision", "field_accuracy", "accuracy"):
            yield f"{path}.{key}", value
        elif isinstance(value, dict):
            yield from _figures(value, f"{path}.{key}")


def _field(kind, family, name):
    """The figures a wrong value of one field touches."""
    return {
        "x.field_accuracy",
        f"x.by_kind.{kind}.field_accuracy",
        f"x.by_kind.{kind}.fields.{name}.accuracy",
        f"x.by_family.{family}.field_accuracy",
        f"x.by_family.{family}.by_kind.{kind}.field_accuracy",
        f"x.by_family.{family}.by_kind.{kind}.fields.{name}.accuracy",
    }


def _of(kind, family, figure):
    """The figures a missing (recall) or a false (precision) row touches."""
    return {
        f"x.{figure}",
        f"x.by_kind.{kind}.{figure}",
        f"x.by_family.{family}.{figure}",
        f"x.by_family.{family}.by_kind.{kind}.{figure}",
    }


def _seized(kind, name):
    return {
        "x.seized.field_accuracy",
        f"x.seized.by_kind.{kind}.field_accuracy",
        f"x.seized.by_kind.{kind}.fields.{name}.accuracy",
    }


class Pick:
    """Ids of in-scope records of the tiny range, as the store names them."""

    def __init__(self, out, truth):
        self.day = truth["day"]
        self.markets = {m["market_id"]: m for m in truth["markets"]}
        self.ids = {
            mid: Market(name=m["name"], ref=f"onion:{m['onions'][0]}").id
            for mid, m in self.markets.items()
        }
        world = out / "world"
        self.listings = pq.read_table(world / "listings.parquet").to_pylist()
        self.accounts = {
            a["account_id"]: a for a in pq.read_table(world / "accounts.parquet").to_pylist()
        }
        self.feedback = pq.read_table(world / "feedback.parquet").to_pylist()
        self.posts = pq.read_table(world / "forum_posts.parquet").to_pylist()
        self.threads = {
            t["thread_id"]: t for t in pq.read_table(world / "forum_threads.parquet").to_pylist()
        }
        self.sales = pq.read_table(world / "sales.parquet").to_pylist()
        self.seized = truth["seized_export"]["market_id"]

    def family(self, mid):
        return self.markets[mid]["family"]

    def listing(self, family, n=0, **where):
        rows = [
            x
            for x in sorted(self.listings, key=lambda x: x["listing_id"])
            if self.family(x["market_id"]) == family
            and x["start_day"] <= self.day < x["end_day"]
            and all(x[k] == v for k, v in where.items())
        ]
        x = rows[n]
        return Listing(market_id=self.ids[x["market_id"]], listing_ref=x["ref"]).id

    def selling(self, family):
        return sorted(
            {
                x["account_id"]
                for x in self.listings
                if self.family(x["market_id"]) == family
                and x["start_day"] <= self.day < x["end_day"]
            }
        )

    def vendor(self, family, test=lambda a: True):
        a = next(self.accounts[i] for i in self.selling(family) if test(self.accounts[i]))
        return VendorAccount(market_id=self.ids[a["market_id"]], handle=a["handle"]).id

    def with_contacts(self):
        """(id, family) of a vendor with a contact shown (English-language families)."""
        for family in ("escrow", "walletless"):
            for i in self.selling(family):
                a = self.accounts[i]
                if a["contacts"]:
                    return VendorAccount(
                        market_id=self.ids[a["market_id"]], handle=a["handle"]
                    ).id, family
        raise AssertionError("no vendor with a contact in the range")

    def fb(self, family, n=1, live_listing=False, test=lambda f: True):
        live = {x["listing_id"] for x in self.listings if x["start_day"] <= self.day < x["end_day"]}
        sellers = set(self.selling(family))
        rows = [
            f
            for f in sorted(self.feedback, key=lambda f: f["feedback_id"])
            if f["account_id"] in sellers
            and f["day"] <= self.day
            and (not live_listing or f["listing_id"] in live)
            and test(f)
        ]
        return [
            Feedback(market_id=self.ids[f["market_id"]], feedback_ref=f["feedback_id"]).id
            for f in rows[:n]
        ]

    def post(self, n=0, media=False):
        p = [
            p for p in sorted(self.posts, key=lambda p: p["post_id"]) if bool(p["media"]) == media
        ][n]
        t = self.threads[p["thread_id"]]
        return Post(
            market_id=self.ids[t["market_id"]], thread_ref=t["thread_id"], post_ref=p["post_id"]
        ).id

    def order(self):
        s = sorted(
            (s for s in self.sales if s["market_id"] == self.seized), key=lambda s: s["sale_id"]
        )[0]
        return Order(market_id=self.ids[self.seized], order_ref=s["sale_id"]).id


def _set(table, change):
    return f"UPDATE {table} SET {change} WHERE id = ?"


def _cases(p: Pick, merged: bool):
    """(what is done, SQL, parameters, the figures it must lower). When the seized import
    went into the crawled market (``merged``), that market's records are the seized
    server's too: a wrong value there is wrong in both scores."""
    assert p.family(p.seized) == "escrow"

    def also(kind, name):
        return _seized(kind, name) if merged else set()

    contact, contact_family = p.with_contacts()
    rated = p.vendor(
        "walletless", lambda a: any(f["account_id"] == a["account_id"] for f in p.feedback)
    )
    lowercase = p.vendor("hydra", lambda a: a["handle"] != a["handle"].upper())
    keyed = p.vendor("hydra", lambda a: a["pgp_fingerprint"] is not None)
    shift = "left_after = left_after + INTERVAL 2 DAY, left_before = left_before + INTERVAL 2 DAY"
    earlier = "posted_after = posted_after - INTERVAL 1 DAY, posted_before = posted_before - INTERVAL 1 DAY"
    made_up = (
        "INSERT INTO listings (id, market_id, listing_ref, title, source, first_seen, last_seen) "
        "SELECT 'listing-made-up', market_id, 'B999999', 'Bot XX', 'test', first_seen, last_seen "
        "FROM listings WHERE id = ?"
    )
    twice = (
        "INSERT INTO vendor_accounts SELECT * REPLACE ('vendor_account-twice' AS id) "
        "FROM vendor_accounts WHERE id = ?"
    )
    nobody = "'vendor_account-nobody'"
    return [
        # listings: every field a family shows
        ("price changed", _set("listings", "price = price + 1"), [p.listing("escrow")], _field("listing", "escrow", "price") | also("listing", "price")),
        ("title blanked", _set("listings", "title = NULL"), [p.listing("hydra")], _field("listing", "hydra", "title")),
        ("currency changed", _set("listings", "currency = 'EUR'"), [p.listing("walletless")], _field("listing", "walletless", "currency")),
        ("USD price off by 1", _set("listings", "price_usd = price_usd - 1"), [p.listing("hydra")], _field("listing", "hydra", "price_usd")),
        ("quantity changed", _set("listings", "quantity = quantity * 10"), [p.listing("walletless")], _field("listing", "walletless", "quantity")),
        ("unit changed", _set("listings", "unit = 'kg'"), [p.listing("walletless", unit="g")], _field("listing", "walletless", "unit")),
        ("ships-to blanked", _set("listings", "ships_to = []"), [p.listing("escrow")], _field("listing", "escrow", "ships_to")),
        ("ships-from changed", _set("listings", "ships_from = 'ZZ'"), [p.listing("bots")], _field("listing", "bots", "ships_from")),
        ("category changed", _set("listings", "category = 'drugs'"), [p.listing("bots")], _field("listing", "bots", "category")),
        ("sold counter changed", _set("listings", "sold_count = sold_count + 1"), [p.listing("escrow")], _field("listing", "escrow", "sold_count")),
        ("sold-since moved", _set("listings", "sold_since = sold_since - INTERVAL 1 DAY"), [p.listing("escrow", 2)], _field("listing", "escrow", "sold_since")),
        ("vendor changed", _set("listings", f"vendor_id = {nobody}"), [p.listing("escrow", 1)], _field("listing", "escrow", "vendor") | also("listing", "vendor")),
        # vendor accounts
        ("rating changed", _set("vendor_accounts", "rating = rating + 0.5"), [rated], _field("vendor_account", "walletless", "rating")),
        ("handle's case changed", _set("vendor_accounts", "handle = upper(handle)"), [lowercase], _field("vendor_account", "hydra", "handle")),
        ("join date moved", _set("vendor_accounts", "joined = joined + INTERVAL 1 DAY"), [p.vendor("escrow")], _field("vendor_account", "escrow", "joined") | also("vendor_account", "joined")),
        ("sales counter changed", _set("vendor_accounts", "sales_count = sales_count + 1"), [p.vendor("hydra")], _field("vendor_account", "hydra", "sales_count")),
        ("feedback counter blanked", _set("vendor_accounts", "feedback_count = NULL"), [p.vendor("escrow")], _field("vendor_account", "escrow", "feedback_count")),
        ("profile blanked", _set("vendor_accounts", "profile_text = ''"), [p.vendor("walletless")], _field("vendor_account", "walletless", "profile_text")),
        ("key lost", _set("vendor_accounts", "pgp_fingerprints = []"), [keyed], _field("vendor_account", "hydra", "pgp_fingerprints")),
        ("contact lost", _set("vendor_accounts", "contacts = []"), [contact], _field("vendor_account", contact_family, "contacts")),
        # feedback
        ("rating turned", _set("feedback", "rating = 6 - rating"), p.fb("hydra", test=lambda f: f["rating"] != 3), _field("feedback", "hydra", "rating")),
        ("text blanked", _set("feedback", "text = NULL"), p.fb("escrow"), _field("feedback", "escrow", "text")),
        ("buyer changed", _set("feedback", "buyer = 'x***y'"), p.fb("walletless"), _field("feedback", "walletless", "buyer")),
        ("time moved", _set("feedback", shift), p.fb("hydra"), _field("feedback", "hydra", "time")),
        ("time left open", _set("feedback", "left_before = NULL"), p.fb("escrow"), _field("feedback", "escrow", "time")),
        ("feedback's vendor changed", _set("feedback", f"vendor_id = {nobody}"), p.fb("walletless"), _field("feedback", "walletless", "vendor")),
        ("feedback's listing lost", _set("feedback", "listing_id = NULL"), p.fb("escrow", live_listing=True), _field("feedback", "escrow", "listing")),
        ("feedback's item renamed", _set("feedback", "item = item || ' x'"), p.fb("hydra"), _field("feedback", "hydra", "item")),
        # posts
        ("post text changed", _set("posts", "text = text || '!'"), [p.post()], _field("post", "forum", "text")),
        ("author changed", _set("posts", "author = 'someone'"), [p.post()], _field("post", "forum", "author")),
        ("thread title changed", _set("posts", "thread_title = 'x'"), [p.post()], _field("post", "forum", "thread_title")),
        ("board blanked", _set("posts", "board = NULL"), [p.post()], _field("post", "forum", "board")),
        ("post day moved", _set("posts", earlier), [p.post()], _field("post", "forum", "time")),
        ("media lost", _set("posts", "media = []"), [p.post(media=True)], _field("post", "forum", "media")),
        # rows missing, made up, twice, without their key
        ("listing deleted", "DELETE FROM listings WHERE id = ?", [p.listing("bots")], _of("listing", "bots", "recall")),
        ("vendor deleted", "DELETE FROM vendor_accounts WHERE id = ?", [p.vendor("hydra")], _of("vendor_account", "hydra", "recall")),
        ("feedback deleted", "DELETE FROM feedback WHERE id IN (SELECT unnest(?::VARCHAR[]))", [p.fb("walletless", 5)], _of("feedback", "walletless", "recall")),
        ("post deleted", "DELETE FROM posts WHERE id = ?", [p.post(1)], _of("post", "forum", "recall")),
        ("listing the truth lacks", made_up, [p.listing("bots")], _of("listing", "bots", "precision")),
        ("vendor stored twice", twice, [p.vendor("escrow")], _of("vendor_account", "escrow", "precision")),
        ("feedback without its id", _set("feedback", "feedback_ref = NULL"), p.fb("hydra"), _of("feedback", "hydra", "recall") | _of("feedback", "hydra", "precision")),
        # the seized server's orders
        ("order amount changed", _set("orders", "amount = amount * 2"), [p.order()], _seized("order", "amount")),
        ("pay-to address blanked", _set("orders", "payto_address = NULL"), [p.order()], _seized("order", "payto_address")),
        ("order buyer changed", _set("orders", "buyer = 'buyer0'"), [p.order()], _seized("order", "buyer")),
        ("order day moved", _set("orders", "created_at = created_at + INTERVAL 1 DAY"), [p.order()], _seized("order", "created_at")),
        ("order deleted", "DELETE FROM orders WHERE id = ?", [p.order()], {"x.seized.recall", "x.seized.by_kind.order.recall"}),
    ]  # fmt: skip


def test_every_corruption_lowers_what_it_touches_and_nothing_else(store, tiny_range):
    out, truth = tiny_range
    pick = Pick(out, truth)
    with Workspace.open(store, write=True) as ws:
        first = score(out, ws)["extraction"]
        base = dict(_figures(first))
        merged = first["seized"]["matched"] != "by name (a market without onions)"
        assert {k: v for k, v in base.items() if v not in (1.0, None)} == {}
        assert sum(1 for v in base.values() if v == 1.0) > 150
        checked = 0
        for what, sql, params, touched in _cases(pick, merged):
            ws.store.con.execute("BEGIN TRANSACTION")
            try:
                changed = ws.store.con.execute(sql, params).fetchone()
                after = dict(_figures(score(out, ws)["extraction"]))
            finally:
                ws.store.con.execute("ROLLBACK")
            assert changed is not None, what
            assert changed[0] > 0, what  # the statement hit a row
            moved = {k for k in base if after[k] != base[k]}
            assert moved == touched, what
            assert all(after[k] < base[k] for k in moved), what
            checked += 1
        assert checked == 46
        assert dict(_figures(score(out, ws)["extraction"])) == base  # all rolled back


def test_the_figures_count_what_was_wrong(store, tiny_range):
    out, truth = tiny_range
    pick = Pick(out, truth)
    hydra = pick.fb("hydra", 3)
    with Workspace.open(store, write=True) as ws:
        ws.store.con.execute("BEGIN TRANSACTION")
        try:
            ws.store.con.execute(
                "UPDATE feedback SET rating = 0 WHERE id IN (SELECT unnest(?::VARCHAR[]))", [hydra]
            )
            result = score(out, ws)["extraction"]
        finally:
            ws.store.con.execute("ROLLBACK")
    fb = result["by_kind"]["feedback"]
    rating = fb["fields"]["rating"]
    assert rating["scored"] - rating["correct"] == 3
    assert rating["accuracy"] == round(rating["correct"] / rating["scored"], 6)
    assert len(rating["wrong"]) == 3
    assert {w["got"] for w in rating["wrong"]} == {"0.0"}
    assert fb["counts"]["fields_scored"] - fb["counts"]["fields_correct"] == 3
    assert result["counts"]["fields_scored"] - result["counts"]["fields_correct"] == 3
