"""The template language: each feature on a small page, and the schema's errors (file,
field, what was expected, the closest known key)."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spector.errors import PageError, TemplateError
from spector.extract._pages import records_of
from spector.extract._template_load import claim_template
from spector.extract._templates import parse_template, template_for
from spector.model import Feedback, Listing, VendorAccount

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

HEAD = """
[template]
family = "shop"
version = 3
"""


def _template(body: str, head: str = HEAD):
    return parse_template(textwrap.dedent(head) + textwrap.dedent(body), "shop.toml")


def _records(template, path: str, html: str, **kwargs):
    result = template.apply(path, html, **kwargs)
    assert result is not None
    return result, records_of(result, template, "m1", "Shop", NOW)


PAGE = """<html><head><title>Blue pills | Shop</title></head><body>
<div id="item"><h1>  Blue   pills </h1><h2 class="sub">100 pcs</h2>
<span class="price">Buy price USD 1,449.24 (0,3376 BTC)</span>
<form><input type="hidden" name="product_id" value="8812"></form>
<a class="buy" href="/cart/add?item=8812&amp;qty=1">buy</a>
<a class="seller" href="/u/kilo">kilo</a> <span class="lvl">Level 5</span>
<span class="fb">+62 | -0</span> <span class="score">98,5%</span>
<span class="tx">Transactions: 1 204</span> <span class="member">Member since Mar 5, 2017</span>
<p class="sold">12 sold since Mar 5, 2017 â€¦</p><p class="stock">Stock: 7</p>
<p class="ship">Ships from: Germany | Ships to: EU, UK</p>
</div>
<ul><li class="r"><i class="s on"></i><i class="s on"></i><i class="s on"></i><i class="s"></i>
<em>4.77 / 5.0</em> <b>3 days, 12 hours</b><q>good</q></li>
<li class="r"><i class="s on"></i><em>1 / 5</em><b>1 week</b><q>bad</q></li></ul>
</body></html>"""

SHOP = """
[[page]]
kind = "listing"
url = '^/item\\.php$'
query = { ref = "id" }
[page.fields]
title = { concat = ["#item h1", "#item h2.sub"], sep = " - " }
price = "span.price"
quantity = "h2.sub"
vendor = "a.seller"
vendor_level = "span.lvl"
vendor_feedback_counts = "span.fb"
vendor_feedback_score = "span.score"
vendor_transactions = "span.tx"
vendor_joined = { css = "span.member", regex = 'since (?P<vendor_joined>.+)$' }
sold = "p.sold"
stock = "p.stock"
x_shipping = { css = "p.ship", regex = 'from: (?P<ships_from>[^|]+) \\| \\w+ to: (?P<ships_to>.+)' }
x_product_id = "input[name=product_id]@value"
x_cart_item = { css = "a.buy@href", query = "item" }
[[page.items]]
name = "feedback"
each = "li.r"
[page.items.fields]
rating = { css = "i.s.on", count = true }
text = "q"
when = "b"
x_shown = "em"
"""


def test_every_field_kind_on_one_page():
    template = _template(SHOP, HEAD + 'currency = "USD"\n')
    result, records = _records(template, "/item.php?id=8812&cat=3", PAGE)
    vendor, listing, *feedback = records
    assert result.fields["x_product_id"] == "8812"  # a hidden input
    assert result.fields["x_cart_item"] == "8812"  # an id from a link's query string
    assert isinstance(listing, Listing)
    assert isinstance(vendor, VendorAccount)
    assert listing.listing_ref == "8812"  # from the page URL's query string
    assert listing.title == "Blue pills - 100 pcs"
    assert (listing.price, listing.currency, listing.price_usd) == (
        Decimal("1449.24"),
        "USD",
        Decimal("1449.24"),
    )
    assert (listing.quantity, listing.unit) == (Decimal("100"), "pcs")
    assert (listing.sold_count, listing.sold_since) == (12, datetime(2017, 3, 5, tzinfo=UTC))
    assert listing.stock == 7
    # named groups of one field's regex are fields of their own
    assert (result.fields["ships_from"], result.fields["ships_to"]) == ("Germany", "EU, UK")
    assert (listing.ships_from, listing.ships_to) == ("DE", ("EU", "GB"))
    assert vendor.handle == "kilo"
    assert vendor.level == "Level 5"
    assert (vendor.feedback_positive, vendor.feedback_negative) == (62, 0)
    assert vendor.feedback_score == 98.5
    assert vendor.transactions_count == 1204
    assert vendor.joined == datetime(2017, 3, 5, tzinfo=UTC)
    assert [f.rating for f in feedback] == [3.0, 1.0]  # icon elements counted
    assert all(isinstance(f, Feedback) for f in feedback)
    first = feedback[0]
    assert (first.left_after, first.left_before) == (
        datetime(2024, 4, 27, 23, 0, tzinfo=UTC),
        datetime(2024, 4, 28, 0, 0, tzinfo=UTC),
    )


def test_the_listing_currency_chooses_among_the_prices_shown():
    template = _template(SHOP, HEAD + 'currency = "BTC"\nlocale = "de"\n')
    _, records = _records(template, "/item.php?id=8812", PAGE)
    listing = records[1]
    # "0,3376 BTC" read with a decimal comma; the USD amount is price_usd
    assert (listing.price, listing.currency, listing.price_usd) == (
        Decimal("0.3376"),
        "BTC",
        Decimal("1449.24"),
    )


def test_fallbacks_take_the_first_selector_that_finds_a_value():
    template = _template(
        """
        [[page]]
        kind = "vendor"
        url = '^/u/(?P<handle>[^/]+)$'
        [page.fields]
        profile = { first = ["div.missing", "p.empty", "p.bio"] }
        x_first = { first = ["p.bio", "em"] }
        rating = { first = ["span.none", "em"], regex = '(?P<rating>[\\d.,]+)\\s*/' }
        """
    )
    html = '<p class="empty"> </p><p class="bio">Hi there</p><em>4.77 / 5.0 (12)</em>'
    result, (vendor,) = _records(template, "/u/kilo", html, trace=True)
    assert vendor.profile_text == "Hi there"  # empty text falls through to the next one
    assert result.fields["x_first"] == "Hi there"  # the first that finds one, not the last
    assert vendor.handle == "kilo"  # no field reads the handle: the URL's group stands
    assert vendor.rating == 4.77
    trace = {t.name: t for t in result.trace}
    assert trace["profile"].selector == "p.bio"
    assert trace["rating"].selector == "em"
    assert trace["rating"].raw == "4.77 / 5.0 (12)"


def test_star_glyphs_are_counted():
    template = _template(
        """
        [[page]]
        kind = "feedback"
        url = '^/reviews/(?P<handle>[^/]+)$'
        [page.fields]
        vendor = "h1"
        [[page.items]]
        name = "feedback"
        each = "li"
        [page.items.fields]
        rating = { css = "b", stars = "★⭐" }
        text = "p"
        """
    )
    html = (
        "<h1>kilo</h1><ul><li><b>★ ★ ★ ☆ ☆</b><p>ok</p></li>"
        "<li><b>⭐⭐⭐⭐⭐</b><p>top</p></li></ul>"
    )
    _, (_, *feedback) = _records(template, "/reviews/kilo", html)
    assert [f.rating for f in feedback] == [3.0, 5.0]


def test_a_regex_that_does_not_match_leaves_the_field_empty_and_says_why():
    template = _template(
        """
        [[page]]
        kind = "vendor"
        url = '^/u/(?P<handle>[^/]+)$'
        [page.fields]
        sales = { css = "p.sales", regex = 'Sales: (?P<sales>\\d+)' }
        """
    )
    result = template.apply("/u/kilo", '<p class="sales">Verkäufe: 12</p>', trace=True)
    (trace,) = result.trace
    assert trace.value is None
    assert "did not match 'Verkäufe: 12'" in trace.note
    assert result.errors == ()  # not required: the page still gives its records


def test_a_required_field_that_is_missing_fails_the_page():
    template = _template(
        """
        [[page]]
        kind = "vendor"
        url = '^/u/(?P<handle>[^/]+)$'
        [page.fields]
        rating = { css = "p.rating", required = true }
        """
    )
    result = template.apply("/u/kilo", "<p>moved</p>")
    assert result.errors == ("page: required field 'rating' not found (p.rating)",)
    with pytest.raises(PageError, match="required field 'rating'"):
        records_of(result, template, "m1", "Shop", NOW)


def test_a_page_kind_is_recognised_by_its_content_when_its_url_does_not_say():
    template = _template(
        """
        [[page]]
        kind = "listing"
        url = '^/p/(?P<ref>\\d+)$'
        detect = "div.product"
        [page.fields]
        ref = { css = "input[name=pid]@value" }
        title = "h1"
        vendor = "a.seller"
        price = "span.price"
        """
    )
    html = (
        '<div class="product"><h1>X</h1><input name="pid" value="77">'
        '<a class="seller">kilo</a><span class="price">1.234,56 €</span></div>'
    )
    assert template.apply("/saved/page.htm", "<p>a page of another kind</p>") is None
    _, (_, listing) = _records(template, "/saved/page.htm", html)
    assert (listing.listing_ref, listing.price, listing.currency) == (
        "77",
        Decimal("1234.56"),
        "EUR",
    )
    # a field that finds nothing leaves the URL's group; one that finds a value wins
    _, (_, by_url) = _records(template, "/p/12", html.replace('name="pid"', 'name="x"'))
    assert by_url.listing_ref == "12"


def test_lists_read_every_match_with_fallbacks():
    template = _template(
        """
        [[page]]
        kind = "vendor"
        url = '^/u/(?P<handle>[^/]+)$'
        lists = ["contacts"]
        [page.fields]
        contacts = { first = ["ul.none li", "ul.c li"], regex = '^(?P<contacts>\\w+:\\S+)' }
        """
    )
    html = '<ul class="c"><li>session:05' + "a" * 64 + " (DM me)</li><li>nothing here</li></ul>"
    result = template.apply("/u/kilo", html)
    assert result.fields["contacts"] == "session:05" + "a" * 64


def test_claims_by_host_and_by_page():
    by_host = _template(
        """
        [[page]]
        kind = "listing"
        url = '^/i/(?P<ref>\\d+)$'
        """,
        HEAD + 'hosts = ["4yjes6zfucnh7vcj.onion"]\n',
    )
    by_title = dataclasses.replace(
        by_host, family="other", hosts=(), detect_title=r"\| Shop$", detect_css="div#item"
    )
    assert claim_template("4YJES6ZFUCNH7VCJ.onion", None, [by_title, by_host]) is by_host
    assert claim_template("x.onion", PAGE, [by_host, by_title]) is by_title
    assert claim_template("x.onion", PAGE.replace('id="item"', ""), [by_host, by_title]) is None
    assert claim_template("x.onion", "<title>Other</title>", [by_host, by_title]) is None


def _error(body: str, head: str = HEAD) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        _template(body, head)
    assert caught.value.where == "shop.toml"
    return caught.value


def test_an_unknown_key_names_the_closest_known_one():
    error = _error(
        """
        [[page]]
        kind = "listing"
        url = '^/i/(?P<ref>\\d+)$'
        [page.fields]
        price = { css = "span.price", regx = '\\d+' }
        """
    )
    assert "page[1] (listing).fields.price: unknown key 'regx'" in str(error)
    assert "did you mean 'regex'?" in str(error)
    head = _error('[[page]]\nkind = "listing"\nurl = "^/"\n', HEAD + "hots = []\n")
    assert "template: unknown key 'hots'" in str(head)
    assert "did you mean 'hosts'?" in str(head)


def test_an_unknown_field_names_the_closest_field():
    error = _error(
        """
        [[page]]
        kind = "listing"
        url = '^/i/(?P<ref>\\d+)$'
        [page.fields]
        vendro = "a.seller"
        """
    )
    assert "page[1] (listing).fields: unknown field 'vendro'" in str(error)
    assert "did you mean 'vendor'?" in str(error)
    group = _error(
        """
        [[page]]
        kind = "listing"
        url = '^/i/(?P<rfe>\\d+)$'
        """
    )
    assert "url group: unknown field 'rfe'" in str(group)
    assert "did you mean 'ref'?" in str(group)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ('title = "div["', "fields.title: bad CSS selector 'div['"),
        ('title = { first = ["h1", "a:foo"] }', "fields.title: bad CSS selector 'a:foo'"),
        ('title = { css = "h1", regex = "(unclosed" }', "fields.title.regex: bad regex"),
        ('title = { css = "h1", regex = "(?P<nope>x)" }', "regex group: unknown field 'nope'"),
        ('title = { css = "h1", css2 = "h2" }', "unknown key 'css2'"),
        ('title = { sep = "-" }', "give exactly one of css, first or concat"),
        ('title = { css = "h1", count = true, stars = "*" }', "cannot be combined"),
        ("title = 3", "fields.title"),
    ],
)
def test_a_bad_field_is_an_error_naming_the_field(field, message):
    error = _error(
        f"""
[[page]]
kind = "listing"
url = '^/i/(?P<ref>\\d+)$'
[page.fields]
{field}
"""
    )
    assert message in str(error)


@pytest.mark.parametrize(
    ("body", "head", "message"),
    [
        ('[[page]]\nkind = "lisitng"\nurl = "^/"\n', HEAD, "page[1] (lisitng).kind"),
        ('[[page]]\nurl = "^/"\n', HEAD, "page[1]: 'kind' missing"),
        ('[[page]]\nkind = "listing"\n', HEAD, "give url"),
        ('[[page]]\nkind = "listing"\nurl = "(^/"\n', HEAD, "url: bad regex"),
        ('[[page]]\nkind = "listing"\ndetect = "div["\n', HEAD, "detect: bad CSS selector"),
        ("", HEAD, "the file: 'page' missing"),
        ('[[page]]\nkind = "listing"\nurl = "^/"\n', "[template]\nversion = 1\n", "family"),
        ('[[page]]\nkind = "listing"\nurl = "^/"\n', HEAD + 'locale = "xx"\n', "locale"),
        ('[[page]]\nkind = "listing"\nurl = "^/"\n', HEAD + 'encoding = "utf-9"\n', "encoding"),
        ('[[page]]\nkind = "listing"\nurl = "^/"\n', HEAD + 'currency = "DOGE"\n', "currency"),
        ('[[page]]\nkind = "listing"\nurl = "^/"\n', HEAD + 'hosts = ["a b"]\n', "hosts"),
        (
            '[[page]]\nkind = "vendor"\nurl = "^/"\n[[page.items]]\nname = "posts"\neach = "li"\n',
            HEAD,
            "a vendor page has no items named 'posts'",
        ),
        ('[[page]]\nkind = "listing"\nurl = "^/"\nlists = ["title"]\n', HEAD, "lists: 'title'"),
    ],
)
def test_a_bad_template_is_an_error_naming_the_place(body, head, message):
    assert message in str(_error(body, head))


def test_bad_toml_and_bad_encoding_are_template_errors():
    with pytest.raises(TemplateError, match=r"shop\.toml: not TOML: .*line 1"):
        parse_template("[template\n", "shop.toml")
    with pytest.raises(TemplateError, match=r"shop\.toml: not UTF-8 at byte 5"):
        parse_template(b"# caf\xc3 \xe9\n[template]\n", "shop.toml")


def test_a_page_built_in_code_is_checked_too():
    escrow = template_for("escrow")
    pages = tuple(
        {**p, "fields": {**p.get("fields", {}), "title": "h1["}} if p["kind"] == "listing" else p
        for p in escrow.pages
    )
    with pytest.raises(TemplateError, match=r"page\[1\] \(listing\)\.fields\.title: bad CSS"):
        dataclasses.replace(escrow, pages=pages)


def test_every_built_in_template_loads_and_names_its_kinds():
    from spector.extract._templates import builtin_templates

    found, skipped = builtin_templates()
    assert skipped == ()
    assert set(found) == {"bots", "drugmarket", "escrow", "forum", "hydra", "walletless"}
    assert found["drugmarket"].kinds == ("listing",)
    assert found["drugmarket"].hosts == ("4yjes6zfucnh7vcj.onion",)
    assert found["escrow"].kinds == ("listing", "vendor", "feedback", "listing_index")


def test_the_template_encoding_reads_pages_that_declare_none():
    template = _template(
        """
        [[page]]
        kind = "vendor"
        url = '^/u/(?P<handle>[^/]+)$'
        [page.fields]
        profile = "p"
        """,
        HEAD + 'encoding = "cp1251"\n',
    )
    body = "<p>Магазин</p>".encode("cp1251")
    assert template.decode(body, "text/html") == "<p>Магазин</p>"
    # a charset the page or its response declares comes first
    utf8 = '<meta charset="utf-8"><p>Магазин</p>'.encode()
    assert template.decode(utf8, None).endswith("<p>Магазин</p>")
    assert template.decode("<p>Магазин</p>".encode(), "text/html; charset=utf-8") == (
        "<p>Магазин</p>"
    )


def test_member_since_as_a_duration_is_the_earliest_moment_it_allows():
    """ "5 years, 10 months" is 5 y 10 m or more and less than 5 y 11 m: joined keeps the
    interval's lower bound, as a date keeps its first moment ("Member since Mar 5, 2017"
    is 2017-03-05 00:00 in test_every_field_kind_on_one_page)."""
    template = _template(
        """
        [[page]]
        kind = "vendor"
        url = '^/u/(?P<handle>[^/]+)$'
        [page.fields]
        joined = { css = "p.member", regex = 'for (?P<joined>.+)$' }
        feedback_counts = "span.fb"
        """
    )
    html = '<p class="member">Member for 5 years, 10 months</p><span class="fb">+1,204 | -3</span>'
    _, (vendor,) = _records(template, "/u/kilo", html)
    # five years and eleven months before the page, the earlier of 30-day months and
    # calendar months
    assert vendor.joined == min(
        NOW - timedelta(days=5 * 365 + 11 * 30), datetime(2018, 6, 1, 12, 0, tzinfo=UTC)
    )
    assert (vendor.feedback_positive, vendor.feedback_negative) == (1204, 3)
    # a page saved some time on 2019-09-11 (the reviewer's case): not 2013-11-17, the
    # latest moment (5 y 10 m of 30-day months before the day ended), but the earliest
    result = template.apply("/u/kilo", html)
    day = datetime(2019, 9, 11, tzinfo=UTC)
    (saved,) = records_of(result, template, "m1", "Shop", day, day + timedelta(days=1))
    assert saved.joined == datetime(2013, 10, 11, tzinfo=UTC)  # calendar: 5 y 11 m before


def test_a_month_shown_is_its_first_day_as_member_since():
    template = _template(
        """
        [[page]]
        kind = "vendor"
        url = '^/u/(?P<handle>[^/]+)$'
        [page.fields]
        joined = { css = "p.member", regex = 'since (?P<joined>.+)$' }
        """
    )
    _, (vendor,) = _records(template, "/u/kilo", '<p class="member">Member since March 2017</p>')
    assert vendor.joined == datetime(2017, 3, 1, tzinfo=UTC)


# The template versions that stored no Listing.url: a store they extracted re-extracts
# (and gets its urls) only if the shipped version is newer.
_BEFORE_URL = {"bots": 2, "drugmarket": 1, "escrow": 2, "hydra": 2, "walletless": 2}


def test_templates_with_listings_are_newer_than_those_that_stored_no_url():
    from spector.extract._templates import builtin_templates

    found, _ = builtin_templates()
    with_listings = {f for f, t in found.items() if {"listing", "listing_index"} & set(t.kinds)}
    assert with_listings == set(_BEFORE_URL)
    assert {f: found[f].version > v for f, v in _BEFORE_URL.items()} == dict.fromkeys(
        _BEFORE_URL, True
    )


def test_a_listing_gets_its_page_url_and_an_index_row_its_link():
    template = _template(
        """
        [[page]]
        kind = "listing"
        url = '^/item/(?P<ref>\\d+)$'
        [page.fields]
        vendor = "a.seller"
        [[page]]
        kind = "listing_index"
        url = '^/shop/list$'
        [[page.items]]
        name = "listings"
        each = "li"
        [page.items.fields]
        link = "a.item@href"
        vendor = "a.seller"
        """
    )
    page = "http://shop.onion/item/7?tab=reviews"
    result = template.apply("/item/7", '<a class="seller">kilo</a>')
    _, listing = records_of(result, template, "m1", "Shop", NOW, url=page)
    assert listing.url == page
    rows = (
        '<li><a class="item" href="../item/8#top">8</a><a class="seller">kilo</a></li>'
        '<li><a class="item" href="http://mirror.onion/item/9">9</a><a class="seller">kilo</a>'
    )
    result = template.apply("/shop/list", rows)
    at = "http://shop.onion/shop/list?page=2"
    listings = [
        r for r in records_of(result, template, "m1", "Shop", NOW, url=at) if isinstance(r, Listing)
    ]
    assert [(x.listing_ref, x.url) for x in listings] == [
        ("8", "http://shop.onion/item/8"),  # relative, resolved against the page's URL
        ("9", "http://mirror.onion/item/9"),
    ]
    # without the page's URL a relative link is no URL (and "../item/8" is no listing
    # page it can tell); an absolute one still is
    with pytest.raises(PageError, match=r"without a link to its listing: '\.\./item/8#top'"):
        records_of(result, template, "m1", "Shop", NOW)
    result = template.apply("/shop/list", rows.replace("../item/8#top", "/item/8"))
    listings = [
        r for r in records_of(result, template, "m1", "Shop", NOW) if isinstance(r, Listing)
    ]
    assert [x.url for x in listings] == [None, "http://mirror.onion/item/9"]
