"""The vocabulary every stage speaks: records, identifiers, selector kinds, taxonomies."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.model._contact_kinds import onion_address_from_key, onion_public_key
    from spector.model._crypto_kinds import BtcAddress, decode_btc_address
    from spector.model._ids import make_id
    from spector.model._records import (
        Actor,
        Capture,
        Feedback,
        Listing,
        Market,
        Order,
        Post,
        Record,
        Selector,
        SelectorSighting,
        VendorAccount,
        record_types,
    )
    from spector.model._selector_base import (
        SelectorKind,
        all_selector_kinds,
        register,
        selector_kind,
    )
    from spector.model._taxonomy import (
        Category,
        Country,
        Currency,
        categories,
        category,
        countries,
        country,
        currencies,
        currency,
        resolve_category,
        resolve_country,
        resolve_currency,
    )
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "Actor",
    "BtcAddress",
    "Capture",
    "Category",
    "Country",
    "Currency",
    "Feedback",
    "Listing",
    "Market",
    "Order",
    "Post",
    "Record",
    "Selector",
    "SelectorKind",
    "SelectorSighting",
    "VendorAccount",
    "all_selector_kinds",
    "categories",
    "category",
    "countries",
    "country",
    "currencies",
    "currency",
    "decode_btc_address",
    "make_id",
    "onion_address_from_key",
    "onion_public_key",
    "record_types",
    "register",
    "resolve_category",
    "resolve_country",
    "resolve_currency",
    "selector_kind",
]
