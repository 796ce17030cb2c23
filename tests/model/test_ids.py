"""Identifiers are deterministic and never change between versions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from spector.model import Listing, Market, Post, VendorAccount, make_id

parts = st.lists(st.one_of(st.text(), st.integers(), st.none()), max_size=5)


@given(st.text(min_size=1), parts)
def test_same_inputs_same_id(kind, values):
    assert make_id(kind, *values) == make_id(kind, *list(values))


@given(parts, parts)
def test_different_parts_give_different_ids(a, b):
    norm = [("" if v is None else str(v)) for v in a]
    other = [("" if v is None else str(v)) for v in b]
    if norm != other:  # None and "" are the same part; 1 and "1" too
        assert make_id("x", *a) != make_id("x", *b)


def test_parts_do_not_run_together():
    assert make_id("x", "ab", "c") != make_id("x", "a", "bc")


def test_ids_are_frozen():
    # Frozen from the first release: ids are stored in workspaces and exchanged.
    assert make_id("market", "alpha") == "market-5c7b60d016965b84ca76b59a0935fcee549098da"


def test_record_ids_follow_their_keys():
    market = Market(name="Alpha Market")
    assert market.id == Market(name="Alpha Market", status="seized").id
    # A name is not folded: two clones that share a name but not an onion stay two.
    assert market.id != Market(name="ALPHA MARKET").id
    clone_a = Market(name="Alpha Market", ref="onion:a.onion", onions=("a.onion",))
    clone_b = Market(name="Alpha Market", ref="onion:b.onion", onions=("b.onion",))
    assert clone_a.id != clone_b.id != market.id
    assert clone_a.id == Market(name="Alpha", ref="onion:a.onion", onions=("c.onion",)).id
    assert market.id.startswith("market-")
    bob = VendorAccount(market_id=market.id, handle="Bob")
    assert bob.id == VendorAccount(market_id=market.id, handle="bob", rating=4.5).id
    assert bob.id != VendorAccount(market_id=Market(name="Beta").id, handle="Bob").id
    a = Listing(market_id=market.id, listing_ref="42", price=Decimal("1.50"))
    assert a.id == Listing(market_id=market.id, listing_ref="42", price=Decimal("9")).id


def test_decimal_and_datetime_parts_are_exact():
    t = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert make_id("f", Decimal("1.50")) == make_id("f", Decimal("1.5"))
    assert make_id("f", t) == make_id("f", datetime(2024, 5, 1, 12, tzinfo=UTC))
    assert make_id("f", t) != make_id("f", datetime(2024, 5, 1, 13, tzinfo=UTC))


def test_post_ids_follow_the_forum_thread_and_post():
    market = Market(name="Some Forum").id
    post = Post(market_id=market, thread_ref="T1", post_ref="P9", text="hello")
    assert post.id.startswith("post-")
    assert post.id == Post(market_id=market, thread_ref="T1", post_ref="P9", author="x").id
    assert post.id != Post(market_id=market, thread_ref="T2", post_ref="P9").id
    assert post.id != Post(market_id=Market(name="Other").id, thread_ref="T1", post_ref="P9").id


def test_a_feedbacks_item_is_not_part_of_its_id():
    """The listing page shows no item, the vendor's page does: one feedback, one id; and
    the id of a feedback without an item is what it was before ``item`` existed."""
    from spector.model import Feedback

    with_ref = Feedback(market_id="market-1", feedback_ref="F1")
    assert Feedback(market_id="market-1", feedback_ref="F1", item="Blotter H 25шт").id == (
        with_ref.id
    )
    plain = Feedback(market_id="market-1", vendor_id="v", rating=5.0, text="ok", buyer="b***r")
    named = Feedback(market_id="market-1", vendor_id="v", rating=5.0, text="ok", buyer="b***r",
                     item="Blotter H 25шт")  # fmt: skip
    assert named.id == plain.id == "feedback-35482181dacb646c00dc8273d272d322c9763cea"
