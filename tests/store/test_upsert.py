"""Upserting records: provenance, merge rules, history, atomicity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spector.errors import UsageError
from spector.model import Feedback, Listing, Market, VendorAccount
from spector.store import Workspace

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
ALPHA = Market(
    name="Alpha", onions=("duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",)
)


def _listing(**kw):
    base = {
        "market_id": ALPHA.id,
        "listing_ref": "17",
        "title": "Stimulant A 5g",
        "price": Decimal("50"),
        "currency": "USD",
        "ships_to": ("EU",),
    }
    base.update(kw)
    return Listing(**base)


def _rows(ws, sql):
    return ws.store.con.execute(sql).fetchall()


def test_observing_twice_updates_last_seen_not_rows(workspace):
    counts = workspace.store.upsert([ALPHA, _listing()], source="capture:1", seen_at=T0)
    assert (counts.inserted, counts.updated) == (2, 0)
    later = T0 + timedelta(days=3)
    counts = workspace.store.upsert([_listing()], source="capture:2", seen_at=later)
    assert (counts.inserted, counts.updated) == (0, 1)
    assert _rows(workspace, "SELECT count(*), min(first_seen), max(last_seen) FROM listings") == [
        (1, T0.replace(tzinfo=None), later.replace(tzinfo=None))
    ]
    sources = _rows(
        workspace, "SELECT source FROM observations WHERE entity_table='listings' ORDER BY 1"
    )
    assert sources == [("capture:1",), ("capture:2",)]
    assert _rows(workspace, "SELECT source FROM listings") == [("capture:1",)]


def test_latest_value_wins_and_history_is_kept(workspace):
    workspace.store.upsert([_listing(price=Decimal("50"))], source="a", seen_at=T0)
    workspace.store.upsert([_listing(price=Decimal("45"))], source="b", seen_at=T0 + timedelta(1))
    # an older page seen late must not overwrite the newer price
    workspace.store.upsert([_listing(price=Decimal("60"))], source="c", seen_at=T0 - timedelta(1))
    assert _rows(workspace, "SELECT price FROM listings") == [(Decimal("45"),)]
    history = _rows(
        workspace,
        "SELECT value, source FROM statements WHERE prop = 'price' ORDER BY first_seen",
    )
    assert [(json.loads(v), s) for v, s in history] == [(60, "c"), (50, "a"), (45, "b")]
    assert _rows(workspace, "SELECT min(first_seen) FROM listings") == [
        ((T0 - timedelta(1)).replace(tzinfo=None),)
    ]


def test_a_missing_value_does_not_erase_a_known_one(workspace):
    bob = VendorAccount(market_id=ALPHA.id, handle="bob", profile_text="hello", rating=4.5)
    workspace.store.upsert([ALPHA, bob], source="profile page", seen_at=T0)
    # a listing page names the vendor, nothing else about it
    later = T0 + timedelta(days=1)
    workspace.store.upsert(
        [VendorAccount(market_id=ALPHA.id, handle="bob")], source="listing", seen_at=later
    )
    assert _rows(workspace, "SELECT profile_text, rating, last_seen FROM vendor_accounts") == [
        ("hello", 4.5, later.replace(tzinfo=None))
    ]
    workspace.store.upsert(
        [VendorAccount(market_id=ALPHA.id, handle="bob", rating=4.0)],
        source="profile page",
        seen_at=later,
    )
    assert _rows(workspace, "SELECT rating FROM vendor_accounts") == [(4.0,)]


def test_list_fields_grow_by_union(workspace):
    workspace.store.upsert([ALPHA, _listing(ships_to=("EU",))], source="a", seen_at=T0)
    workspace.store.upsert([_listing(ships_to=("GB", "US"))], source="b", seen_at=T0)
    mirror = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
    workspace.store.upsert([Market(name="Alpha", onions=(mirror,))], source="b", seen_at=T0)
    assert _rows(workspace, "SELECT ships_to FROM listings") == [(["EU", "GB", "US"],)]
    assert _rows(workspace, "SELECT onions FROM markets") == [(sorted([*ALPHA.onions, mirror]),)]


def test_same_call_same_id_keeps_the_last(workspace):
    counts = workspace.store.upsert(
        [_listing(title="first"), _listing(title="second")], source="a", seen_at=T0
    )
    assert counts.inserted == 1
    assert _rows(workspace, "SELECT title FROM listings") == [("second",)]


def test_unversioned_records_keep_no_statements(workspace):
    fb = Feedback(
        market_id=ALPHA.id,
        rating=5.0,
        text="fast",
        buyer="b***r",
        left_after=T0 - timedelta(days=6),
        left_before=T0 - timedelta(days=5),
    )
    workspace.store.upsert([fb, fb], source="a", seen_at=T0)
    assert _rows(workspace, "SELECT count(*) FROM feedback") == [(1,)]
    assert _rows(workspace, "SELECT count(*) FROM statements WHERE entity_table='feedback'") == [
        (0,)
    ]


def test_a_feedbacks_item_is_stored_and_kept_when_a_later_sighting_lacks_it(workspace):
    """The vendor's page names the item, the listing page does not: one row, with it."""
    named = Feedback(market_id=ALPHA.id, feedback_ref="F1", rating=5.0, item="Blotter H 25шт")
    plain = Feedback(market_id=ALPHA.id, feedback_ref="F1", rating=5.0)
    workspace.store.upsert([named], source="a", seen_at=T0)
    workspace.store.upsert([plain], source="a", seen_at=T0 + timedelta(days=1))
    assert _rows(workspace, "SELECT id, item FROM feedback") == [(named.id, "Blotter H 25шт")]


def test_a_failed_write_stores_nothing(workspace, monkeypatch):
    vendor = VendorAccount(market_id=ALPHA.id, handle="bob")
    original = workspace.store._observe

    def explode(rtype, staging):
        if rtype is VendorAccount:
            raise RuntimeError("disk full")
        return original(rtype, staging)

    monkeypatch.setattr(workspace.store, "_observe", explode)
    with pytest.raises(RuntimeError):
        workspace.store.upsert([ALPHA, vendor], source="a", seen_at=T0)
    counts = workspace.store.counts()
    assert counts["markets"] == counts["vendor_accounts"] == counts["observations"] == 0


def test_read_only_store_refuses_writes(tmp_path):
    Workspace.init(tmp_path / "ws").close()
    with Workspace.open(tmp_path / "ws") as ws, pytest.raises(UsageError, match="read-only"):
        ws.store.upsert([ALPHA], source="a")
