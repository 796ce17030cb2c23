"""The workspace and its analytic store (DuckDB + Parquet), with versioned migrations."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.store._browse import (
        LISTING_SORTS,
        Found,
        ListingQuery,
        count_listings,
        economics_fingerprint,
        listing_detail,
        listing_facets,
        listing_query,
        market_detail,
        markets,
        search_listings,
    )
    from spector.store._config import CONFIG_NAME, WorkspaceConfig, read_config
    from spector.store._markets import market_ref
    from spector.store._migrations import Migration, migrations
    from spector.store._parquet import export_parquet, import_parquet, sql_string
    from spector.store._store import Store, UpsertCounts, utc_naive
    from spector.store._workspace import STORE_NAME, Workspace, find_workspace
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "CONFIG_NAME",
    "LISTING_SORTS",
    "STORE_NAME",
    "Found",
    "ListingQuery",
    "Migration",
    "Store",
    "UpsertCounts",
    "Workspace",
    "WorkspaceConfig",
    "count_listings",
    "economics_fingerprint",
    "export_parquet",
    "find_workspace",
    "import_parquet",
    "listing_detail",
    "listing_facets",
    "listing_query",
    "market_detail",
    "market_ref",
    "markets",
    "migrations",
    "read_config",
    "search_listings",
    "sql_string",
    "utc_naive",
]
