"""A feedback whose listing was never seen is priced by the item title its row shows."""

from __future__ import annotations

import pytest

from spector.economics import estimate
from spector.economics._titles import normalise_title, parse_quantity, stem_words
from tests.economics.helpers import day, feedback, listing, market, vendor


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Blotter H 25шт", (25.0, "pcs")),
        ("Stimulant F 3.5g, premium", (3.5, "g")),
        ("Herbal 1,5 г", (1.5, "g")),
        ("Tablet B 10 pcs lab tested", (10.0, "pcs")),
        ("Cocaine 1kg", (1000.0, "g")),
        ("MDMA 250mg x 10", (0.25, "g")),  # the first quantity with a unit
        ("Service G 1шт", (1.0, "pcs")),
        ("Bot US Windows 10 (50 cookies)", None),  # "10 (" is no quantity
        ("Vendor 2023 special", None),
        ("0g", None),
        (None, None),
    ],
)
def test_quantities_are_read_from_titles(title, expected):
    assert parse_quantity(title) == expected


def test_titles_fold_case_and_space_and_stems_drop_the_quantity():
    assert normalise_title("  Blotter  H\t25шт ") == normalise_title("blotter h 25ШТ")
    assert stem_words("Blotter H 25шт") == stem_words("blotter h 5 шт") == {"blotter", "h"}
    assert stem_words("Tablet B 100pcs, lab tested") == {"tablet", "b", "lab", "tested"}


def _store(workspace, records, feedbacks, crawl=0, later=2):
    workspace.store.upsert(records, source="crawl", seen_at=day(crawl))
    workspace.store.upsert(feedbacks, source="crawl", seen_at=day(later))
    return estimate(workspace)


def test_a_gone_listing_is_found_by_its_title_and_priced_at_that_time(workspace):
    m = market()
    v = vendor(m, "north")
    x = listing(m, v, "1", "40", title="Blotter H 25pcs, premium", category="drugs.psychedelics")
    y = listing(m, v, "2", "12", title="Blotter C 5pcs", category="drugs.psychedelics")
    workspace.store.upsert([m, v, x, y], source="crawl", seen_at=day(0))
    later = listing(m, v, "1", "50", title="Blotter H 25pcs, premium",
                    category="drugs.psychedelics")  # fmt: skip
    workspace.store.upsert([later], source="crawl", seen_at=day(10))
    # seen on a later crawl, x gone by then: its row names the item, not the listing
    rows = [
        feedback(m, v, None, "a", 1, item="blotter  H 25PCS, premium"),
        feedback(m, v, None, "b", 11, item="Blotter H 25pcs, premium"),
    ]
    workspace.store.upsert(rows, source="crawl", seen_at=day(20))
    est = estimate(workspace)
    assert est.excluded["priced_by_title"] == 2
    assert est.excluded["priced_by_vendor_mean"] == 0
    assert est.totals["revenue_usd"] == pytest.approx(40 + 50)  # its price at each time
    (row,) = est.by_category
    assert row["category"] == "drugs.psychedelics"


def test_a_title_never_seen_is_priced_by_its_quantity_and_unit_price(workspace):
    m = market()
    v = vendor(m, "north")
    cats = {"category": "drugs.psychedelics"}
    xs = [
        listing(m, v, "1", "30", title="Blotter C 5шт", **cats),  # 6 a piece
        listing(m, v, "2", "80", title="Blotter D 10шт", **cats),  # 8 a piece
        listing(m, v, "3", "65", title="Blotter E 5шт", **cats),  # 13 a piece
        listing(m, v, "4", "90", title="Stimulant F 1г", category="drugs.stimulants"),
    ]
    est = _store(workspace, [m, v, *xs], [feedback(m, v, None, "a", 1, item="Blotter H 25шт")])
    assert est.excluded["priced_by_unit"] == 1
    assert est.totals["revenue_usd"] == pytest.approx(25 * 9.0)  # the mean per piece
    assert (est.totals["revenue_low"], est.totals["revenue_high"]) == pytest.approx((150, 325))
    assert {r["category"] for r in est.by_category} == {"drugs.psychedelics"}


def test_the_same_product_is_priced_before_its_category(workspace):
    m = market()
    v = vendor(m, "north")
    cats = {"category": "drugs.opioids"}
    xs = [
        listing(m, v, "1", "100", title="Medication O 10pcs", **cats),  # 10 a piece
        listing(m, v, "2", "40", title="Medication B 20pcs", **cats),  # 2 a piece
    ]
    est = _store(workspace, [m, v, *xs], [feedback(m, v, None, "a", 1, item="Medication B 5pcs")])
    assert est.excluded["priced_by_unit"] == 1
    assert est.totals["revenue_usd"] == pytest.approx(5 * 2.0)  # not the category's mean 6


def test_the_market_names_the_category_a_vendor_lacks(workspace):
    """The vendor sells no blotters: the market's listings say what a blotter is, and its
    per-piece price comes from the market's blotters, not the vendor's other goods."""
    m = market()
    v, w = vendor(m, "north"), vendor(m, "south")
    xs = [
        listing(m, v, "1", "54", title="Service F 1pcs", category="services"),
        listing(m, w, "2", "50", title="Blotter H 5pcs", category="drugs.psychedelics"),
        listing(m, w, "3", "120", title="Blotter A 10pcs", category="drugs.psychedelics"),
    ]
    est = _store(workspace, [m, v, w, *xs], [feedback(m, v, None, "a", 1, item="Blotter H 10шт")])
    assert est.excluded["priced_by_unit"] == 1
    assert est.totals["revenue_usd"] == pytest.approx(10 * 11.0)
    (top,) = est.by_vendor
    assert top["handle"] == "north"


def test_without_a_quantity_or_an_item_the_vendor_mean_is_taken(workspace):
    m = market()
    v = vendor(m, "north")
    xs = [listing(m, v, "1", "10", title="Herbal A 1g"), listing(m, v, "2", "30", title="B 3g")]
    rows = [
        feedback(m, v, None, "a", 1, item="Mystery box"),
        feedback(m, v, None, "b", 1),  # no item shown
    ]
    est = _store(workspace, [m, v, *xs], rows)
    assert est.excluded["priced_by_vendor_mean"] == 2
    assert (est.excluded["priced_by_title"], est.excluded["priced_by_unit"]) == (0, 0)
    assert est.totals["revenue_usd"] == pytest.approx(2 * 20.0)


def test_a_namesake_listing_still_shown_is_not_the_feedbacks_own_counter(workspace):
    """A live listing of the same title would have been linked on the row: the feedback
    is of a gone listing of that name, a sale its counter does not hold."""
    m = market()
    v = vendor(m, "north")
    x = listing(m, v, "1", "10", title="Herbal A 1g", sold_count=5, sold_since=day(0))
    workspace.store.upsert([m, v, x], source="crawl", seen_at=day(0))
    gone = feedback(m, v, None, "a", 3, item="Herbal A 1g")  # inside x's window [0, 10]
    est = _store(workspace, [x], [gone], crawl=10, later=10)
    assert est.excluded["priced_by_title"] == 1
    assert est.excluded["counted_by_counters"] == 0
    assert est.totals["counter_sales"] == 5


def test_the_own_gone_listings_counter_holds_its_sale(workspace):
    m = market()
    v = vendor(m, "north")
    x = listing(m, v, "1", "10", title="Herbal A 1g", sold_count=5, sold_since=day(0))
    workspace.store.upsert([m, v, x], source="crawl", seen_at=day(5))
    # a later crawl: x gone; the row names it, left before x's counter was last seen
    gone = feedback(m, v, None, "a", 3, item="Herbal A 1g")
    workspace.store.upsert([gone], source="crawl", seen_at=day(9))
    est = estimate(workspace)
    assert est.excluded["counted_by_counters"] == 1
    assert est.excluded["priced_by_title"] == 0


def test_a_copy_that_names_the_item_lends_it_to_the_kept_row(workspace):
    m = market()
    v = vendor(m, "north")
    x = listing(m, v, "1", "40", title="Blotter H 25pcs", category="drugs.psychedelics")
    workspace.store.upsert([m, v, x], source="crawl", seen_at=day(0))
    same = {"text": "great", "buyer": "a***b"}
    workspace.store.upsert(  # with the market's id but no item: the row kept
        [feedback(m, v, None, "f1", 30, **same)], source="crawl", seen_at=day(31)
    )
    workspace.store.upsert(  # another source's copy without the id, naming the item
        [feedback(m, v, None, None, 30, item="Blotter H 25pcs", **same)],
        source="import",
        seen_at=day(31),
    )
    est = estimate(workspace)
    assert est.excluded["duplicates"] == 1
    assert est.excluded["priced_by_title"] == 1
    assert est.totals["revenue_usd"] == pytest.approx(40.0)


def test_a_vendors_other_product_yields_to_the_markets_closer_title(workspace):
    """The vendor sells "Medication O" (opioids); "Medication B" is a benzodiazepine on
    this market: priced at the market's benzodiazepines, not at the vendor's opioids."""
    m = market()
    v, w = vendor(m, "north"), vendor(m, "south")
    xs = [
        listing(m, v, "1", "100", title="Medication O 10pcs", category="drugs.opioids"),
        listing(m, w, "2", "40", title="Medication B 20pcs", category="drugs.benzodiazepines"),
    ]
    est = _store(
        workspace, [m, v, w, *xs], [feedback(m, v, None, "a", 1, item="Medication B 5pcs")]
    )
    assert est.excluded["priced_by_unit"] == 1
    assert est.totals["revenue_usd"] == pytest.approx(5 * 2.0)
    assert {r["category"] for r in est.by_category} == {"drugs.benzodiazepines"}


def test_of_two_listings_of_one_title_the_one_seen_nearest_the_date_prices_it(workspace):
    m = market()
    v = vendor(m, "north")
    first = listing(m, v, "1", "40", title="Herbal A 7g")
    workspace.store.upsert([m, v, first], source="crawl", seen_at=day(0))
    second = listing(m, v, "2", "55", title="Herbal A 7g")  # relisted, the first gone
    workspace.store.upsert([second], source="crawl", seen_at=day(10))
    rows = [feedback(m, v, None, "a", 1, item="Herbal A 7g"),
            feedback(m, v, None, "b", 12, item="Herbal A 7g")]  # fmt: skip
    workspace.store.upsert(rows, source="crawl", seen_at=day(20))
    est = estimate(workspace)
    assert est.excluded["priced_by_title"] == 2
    assert est.totals["revenue_usd"] == pytest.approx(40 + 55)
