"""The workspace and its analytic store (DuckDB + Parquet), with versioned migrations."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
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
    "STORE_NAME",
    "Migration",
    "Store",
    "UpsertCounts",
    "Workspace",
    "WorkspaceConfig",
    "export_parquet",
    "find_workspace",
    "import_parquet",
    "market_ref",
    "migrations",
    "read_config",
    "sql_string",
    "utc_naive",
]
