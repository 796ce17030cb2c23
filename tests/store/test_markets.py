"""A market's identity: its onion addresses, or the name it was given at import; never its
name folded to lower case."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from spector.model import Feedback, Market, VendorAccount
from spector.store import market_ref

A1 = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"
A2 = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
B1 = "xmh57jrknzkhv6y3ls3ubitzfqnkrwxhopf5aygthi7d6rplyvk3noyd.onion"


def _site(store, name, *hosts):
    market = Market(name=name, onions=hosts, ref=market_ref(store, name=name, onions=hosts))
    store.upsert([market], source="test")
    return market


def test_clone_markets_with_one_name_stay_two(workspace):
    store = workspace.store
    first = _site(store, "Alpha Market", A1)
    clone = _site(store, "Alpha Market", B1)
    assert first.id != clone.id
    assert store.con.execute("SELECT count(*) FROM markets").fetchone() == (2,)
    # Imported by name, the name alone no longer says which: a market of its own.
    assert market_ref(store, name="Alpha Market") == "name:Alpha Market"


def test_one_markets_mirrors_stay_one(workspace):
    store = workspace.store
    first = _site(store, "Alpha", A1)
    # A later profile lists a new mirror first and the known address second.
    again = _site(store, "Alpha (mirror list of 2024)", A2, A1)
    assert again.id == first.id
    (onions,) = store.con.execute("SELECT onions FROM markets").fetchone()
    assert sorted(onions) == sorted([A1, A2])
    # Now the new mirror alone is enough to say which market it is.
    assert market_ref(store, name="whatever", onions=[A2]) == f"onion:{A1}"


def test_an_import_by_name_joins_the_one_market_of_that_name(workspace):
    store = workspace.store
    crawled = _site(store, "Cobalt Hub", A1)
    assert market_ref(store, name="Cobalt Hub") == f"onion:{A1}"
    assert Market(name="Cobalt Hub", ref=market_ref(store, name="Cobalt Hub")).id == crawled.id
    # Case matters: "COBALT HUB" is not the crawled market.
    assert market_ref(store, name="COBALT HUB") == "name:COBALT HUB"


def test_feedback_without_an_id_keeps_its_id_when_its_relative_time_moves():
    vendor = VendorAccount(market_id="market-x", handle="v").id
    monday = Feedback(market_id="market-x", vendor_id=vendor, rating=5.0, text="ok", buyer="b*r")
    t = datetime(2024, 3, 1, tzinfo=UTC)
    seen_monday = Feedback(**{**_fields(monday), "left_after": t, "left_before": t})
    seen_friday = Feedback(
        **{**_fields(monday), "left_after": t + timedelta(days=4), "left_before": t}
    )
    assert seen_monday.id == seen_friday.id
    second = Feedback(**{**_fields(monday), "nth": 2})
    assert second.id != monday.id


def _fields(record):
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
