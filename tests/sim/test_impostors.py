"""Impostors in the range's truth: how many, whom they copy, what they copy and what not;
every row the world had before them is as it was; genuine key-rotating vendors stay
distinguishable from them by the signals the module names."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confusable_homoglyphs import confusables
from rapidfuzz import fuzz

from spector.sim import _world, generate_world
from spector.sim._generate import pgp_for, world_digest
from spector.sim._impostors import CONFUSABLE, SCAM_FEEDBACK

# The fields each row had before impostors, holding prices and sold counters, and the
# digests of those rows then (commit bca5b97's generator). Contacts are left out: one
# telegram handle per actor since (the rng draws the same numbers).
FIELDS = {
    "accounts": [
        "account_id",
        "market_id",
        "actor_id",
        "handle",
        "variant",
        "pgp_secret",
        "joined_day",
        "profile_text",
        "btc_payto",
        "xmr_payto",
    ],
    "listings": [
        "listing_id",
        "market_id",
        "account_id",
        "ref",
        "title",
        "category",
        "price",
        "price_usd",
        "quantity",
        "unit",
        "ships_from",
        "ships_to",
        "start_day",
        "end_day",
        "extra",
    ],
    "sales": [
        "sale_id",
        "listing_id",
        "market_id",
        "account_id",
        "buyer_id",
        "day",
        "amount_usd",
        "amount_sat",
    ],
    "feedback": [
        "feedback_id",
        "market_id",
        "listing_id",
        "account_id",
        "sale_id",
        "day",
        "second",
        "rating",
        "text",
        "buyer_mask",
    ],
}
BEFORE = {
    (7, "tiny"): {
        "accounts": (23, "a80ae4a437275e77"),
        "listings": (95, "a859bdb2e765f502"),
        "sales": (333, "2612eaf51dd04d5d"),
        "feedback": (188, "189b1cfd24ea941c"),
    },
    (11, "tiny"): {
        "accounts": (27, "79534f4e6e6d38fd"),
        "listings": (114, "1ce86a81ec3a2b23"),
        "sales": (421, "8f3e3bda5d4cc084"),
        "feedback": (284, "76f97aa21786f489"),
    },
    (3, "small"): {
        "accounts": (306, "59d2da9db6d389dd"),
        "listings": (2184, "319cf45eecf51389"),
        "sales": (17627, "53b515f2637dec3d"),
        "feedback": (12478, "a940b9a78cac5997"),
    },
}


@pytest.fixture(scope="module")
def small():
    return generate_world(3, "small")


def _digest(rows, names) -> str:
    d = hashlib.sha256()
    for r in rows:
        d.update(
            json.dumps({n: getattr(r, n) for n in names}, sort_keys=True, default=str).encode()
        )
    return d.hexdigest()[:16]


def _english(x):
    """A listing's title as an English market writes it (a Hydra shop's: "Blotter D 5шт")."""
    return x.title.rsplit(" ", 1)[0] + f" {x.quantity}{x.unit}" if x.extra.get("city") else x.title


def _impostors(world):
    return [a for a in world.accounts if a.impostor_of]


@pytest.mark.parametrize(("seed", "scale"), list(BEFORE))
def test_every_row_the_world_had_is_as_it_was(seed, scale, small):
    world = small if (seed, scale) == (3, "small") else generate_world(seed, scale)
    for table, (n, digest) in BEFORE[(seed, scale)].items():
        rows = getattr(world, table)
        assert len(rows) > n, table  # impostors' rows come after
        assert _digest(rows[:n], FIELDS[table]) == digest, table
        assert not any(getattr(r, "impostor_of", None) for r in rows[:n])
        assert {r.account_id for r in rows[n:]} <= {a.account_id for a in _impostors(world)}


def test_impostors_are_appended_after_every_row(monkeypatch, small):
    monkeypatch.setattr("spector.sim._impostors.add_impostors", lambda world: [])
    plain = generate_world(3, "small")
    for table in ("accounts", "listings", "sales", "feedback", "members", "posts"):
        before, after = getattr(plain, table), getattr(small, table)
        assert after[: len(before)] == before, table  # every field, holding flags too
    assert world_digest(plain) != world_digest(small)
    monkeypatch.undo()
    assert world_digest(generate_world(3, "small")) == world_digest(small)  # deterministic


@pytest.mark.parametrize(("seed", "scale", "count"), [(7, "tiny", 1), (11, "tiny", 1)])
def test_one_impostor_per_ten_actors_copying_the_most_popular(seed, scale, count, small):
    for world, want in ((generate_world(seed, scale), count), (small, 15)):
        found = _impostors(world)
        assert len(found) == want == max(1, round(len(world.actors) / 10))
        ranked = sorted(world.actors, key=lambda a: (-a.popularity, a.actor_id))
        assert {a.impostor_of for a in found} == {a.actor_id for a in ranked[:want]}
        assert [a.actor_id for a in found] == [f"impostor-{n}" for n in range(want)]


def test_the_truth_files_name_them(tiny_range):
    out, truth = tiny_range
    table = pq.read_table(out / "world" / "accounts.parquet")
    assert table.schema.field("impostor_of").type == pa.string()
    rows = table.to_pylist()
    marked = [a for a in rows if a["impostor_of"]]
    assert truth["counts"]["impostors"] == len(marked) == 1
    assert marked[0]["actor_id"] == "impostor-0"
    actors = {a["actor_id"] for a in pq.read_table(out / "world" / "actors.parquet").to_pylist()}
    assert marked[0]["impostor_of"] in actors
    assert marked[0]["actor_id"] not in actors  # its own person, not a range actor
    assert all(a["impostor_of"] is None for a in rows if a is not marked[0])


def test_they_copy_handle_and_text_but_not_key_contact_or_country(small):
    world = small
    keys = pgp_for(world)
    by_actor = defaultdict(list)
    for a in world.accounts:
        by_actor[a.actor_id].append(a)
    actors = {a.actor_id: a for a in world.actors}
    listings = defaultdict(list)
    for x in world.listings:
        listings[x.account_id].append(x)
    hows = set()
    for imp in _impostors(world):
        actor = actors[imp.impostor_of]
        mine_listed = listings[imp.account_id]
        # the account copied: one of the actor's on another market, holding every title
        sources = [
            a
            for a in by_actor[imp.impostor_of]
            if a.market_id != imp.market_id
            and {x.title for x in mine_listed} <= {_english(x) for x in listings[a.account_id]}
        ]
        assert sources, imp.handle
        how = imp.variant.removeprefix("impostor:")
        hows.add(how)
        handles = {a.handle for a in sources}
        if how == "same":
            assert imp.handle in handles
        elif how == "confusable":
            assert imp.handle not in handles
            assert confusables.is_confusable(imp.handle, preferred_aliases=["latin"])
            latin = {v: k for k, v in CONFUSABLE.items()}
            assert "".join(latin.get(c, c) for c in imp.handle) in handles
        else:
            assert any(imp.handle.startswith(h) and imp.handle != h for h in handles)
        on_market = [a for a in world.accounts if a.market_id == imp.market_id]
        assert sum(a.handle.casefold() == imp.handle.casefold() for a in on_market) == 1
        assert max(fuzz.ratio(imp.profile_text, a.profile_text) for a in sources) > 80
        # its own key; never one of the vendor's (nor anyone else's)
        mine = keys(imp)
        assert mine is not None
        others = {k.fingerprint for a in world.accounts if a is not imp and (k := keys(a))}
        assert mine.fingerprint not in others
        assert imp.contacts == []
        assert world.market(imp.market_id).family in ("escrow", "walletless")
        closes = [world.market(a.market_id).close_day for a in sources]
        late = world.days * 3 // 5
        assert any(imp.joined_day > (c if c is not None else late - 1) for c in closes)
        originals = {}
        for a in sources:
            for x in listings[a.account_id]:
                originals.setdefault(_english(x), []).append(x)
        assert 2 <= len(mine_listed) <= 4
        assert len({x.ships_from for x in mine_listed}) == 1
        for x in mine_listed:
            assert x.ships_from != actor.ships_from
            assert x.category in {o.category for o in originals[x.title]}
            assert x.price_usd <= max(o.price_usd for o in originals[x.title]) * 6 / 10
            assert x.start_day >= imp.joined_day
    assert {"same", "confusable"} <= hows


def test_they_sell_a_little_and_are_rated_one_star(small):
    world = small
    ids = {a.account_id for a in _impostors(world)}
    sales = [s for s in world.sales if s.account_id in ids]
    feedback = [f for f in world.feedback if f.account_id in ids]
    assert 2 * len(ids) <= len(sales) <= 5 * len(ids)
    assert {f.sale_id for f in feedback} <= {s.sale_id for s in sales}
    ones = [f for f in feedback if f.rating == 1]
    assert len(ones) > len(feedback) / 2
    assert all(f.text in SCAM_FEEDBACK for f in feedback if f.rating < 3)
    genuine = [f for f in world.feedback if f.account_id not in ids and f.sale_id]
    assert sum(f.rating == 1 for f in genuine) < len(genuine) / 10


def test_rotating_vendors_keep_the_signals_impostors_lack(small):
    """A genuine vendor with a key per account still ships from one country, shows one
    contact everywhere it shows one, and prices at its categories' levels."""
    world = small
    markets = {m.market_id: m for m in world.markets}
    listings = defaultdict(list)
    for x in world.listings:
        listings[x.account_id].append(x)
    rotating = [a for a in world.actors if a.pgp_policy == "rotate"]
    by_actor = defaultdict(list)
    for a in world.accounts:
        by_actor[a.actor_id].append(a)
    keys = pgp_for(world)
    checked = 0
    for actor in rotating:
        accounts = by_actor[actor.actor_id]
        if len(accounts) < 2:
            continue
        assert len({keys(a).fingerprint for a in accounts}) == len(accounts)
        english = [
            x
            for a in accounts
            if markets[a.market_id].family != "hydra"
            for x in listings[a.account_id]
        ]
        assert {x.ships_from for x in english} <= {actor.ships_from}
        assert {x.category for a in accounts for x in listings[a.account_id]} <= set(
            actor.categories
        )
        contacts = {c for a in accounts for c in a.contacts}
        assert len(contacts) <= 1
        checked += 1
    assert checked > 5
    with_contacts = [a for a in by_actor.values() if sum(bool(x.contacts) for x in a) > 1]
    assert with_contacts  # the same handle on several markets, so the test means something
    assert all(len({c for x in a for c in x.contacts}) == 1 for a in with_contacts)


def test_the_confusables_are_unicodes():
    for latin, cyrillic in CONFUSABLE.items():
        found = confusables.is_confusable(cyrillic, preferred_aliases=["latin"])
        assert found, cyrillic
        assert latin in {h["c"] for h in found[0]["homoglyphs"]}, (latin, cyrillic)
        assert found[0]["alias"] == "CYRILLIC"


def test_a_world_without_english_markets_has_no_impostors(monkeypatch):
    plan = dict(_world.SCALES["tiny"].markets)
    plan.update(escrow=0, walletless=0)
    scale = _world.Scale(**{**_world.SCALES["tiny"].__dict__, "name": "tiny", "markets": plan})
    monkeypatch.setitem(_world.SCALES, "tiny", scale)
    world = generate_world(7, "tiny")
    assert _impostors(world) == []
