"""Parquet export and import of every table: the exchange format (and Spark's input).

An export folder holds one ``TABLE.parquet`` per table and ``manifest.json`` with the
schema version, row counts and SHA-256 of each file. Import checks all of it first,
then merges every table in one transaction with the store's merge rules: importing the
same export twice changes nothing, and a bad export changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb

from spector.errors import InputError, SchemaTooNew
from spector.store._store import Store, UpsertCounts

__all__ = ["MANIFEST", "export_parquet", "import_parquet"]

MANIFEST = "manifest.json"
_FORMAT = "spector-parquet"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sql_string(text: str | Path) -> str:
    """``text`` as a single-quoted SQL string literal (for paths DuckDB cannot bind)."""
    return "'" + str(text).replace("'", "''") + "'"


# The chain's rows are Parquet files already (the workspace's chain/ folder); these
# tables list those files and blocks (with paths that mean nothing elsewhere) and the
# unspent outputs derived from them; the clusters are derived from the chain too (and
# rebuilt by `spector chain cluster`), all but the analyst's decisions; so are the
# resolution's links and actors (rebuilt by `spector resolve`, which keeps its decisions).
NOT_EXPORTED = frozenset(
    {
        "chain_index", "chain_files", "chain_utxo", "chain_clusters", "chain_pseudo_addresses",
        "cluster_addresses", "cluster_merges", "cluster_held", "cluster_skipped",
        "cluster_blocks", "cluster_state",
        "resolve_links", "actor_accounts", "resolve_accounts", "resolve_runs",  # `spector resolve`
    }
)  # fmt: skip


def export_parquet(store: Store, folder: Path) -> dict[str, int]:
    """Write every table (but the chain's catalogue, see NOT_EXPORTED) to ``folder``
    (created if missing); return rows per table."""
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Any] = {}
    for table in store.tables():
        if table in NOT_EXPORTED:
            continue
        target = folder / f"{table}.parquet"
        order = ", ".join(f'"{k}"' for k in store.primary_key(table)) or "ALL"
        store.con.execute(
            f'COPY (SELECT * FROM "{table}" ORDER BY {order}) TO {sql_string(target)} '
            "(FORMAT PARQUET, COMPRESSION ZSTD)"
        )
        row = store.con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        tables[table] = {
            "file": target.name,
            "rows": int(row[0]) if row else 0,
            "sha256": _sha256(target),
        }
    manifest = {"format": _FORMAT, "schema_version": store.schema_version, "tables": tables}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {name: int(info["rows"]) for name, info in tables.items()}


def import_parquet(store: Store, folder: Path) -> dict[str, UpsertCounts]:
    """Merge an export made by ``export_parquet`` into ``store``; all or nothing."""
    manifest = _read_manifest(folder)
    if int(manifest["schema_version"]) > store.schema_version:
        raise SchemaTooNew(
            f"export has schema version {manifest['schema_version']}, "
            f"this store {store.schema_version}",
            where=folder / MANIFEST,
            hint="upgrade spector before importing",
        )
    known = set(store.tables())
    files: dict[str, Path] = {}
    for table, info in sorted(manifest["tables"].items()):
        if table not in known:
            raise InputError(f"table {table!r} does not exist in this store", where=folder)
        path = folder / str(info["file"])
        if not path.is_file():
            raise InputError("file listed in the manifest is missing", where=path)
        if _sha256(path) != info["sha256"]:
            raise InputError(
                "SHA-256 does not match the manifest", where=path, expected=str(info["sha256"])
            )
        files[table] = path
    result = {}
    with store.transaction():
        for table, path in files.items():
            staging = "_spector_import"
            try:
                store.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {staging} AS "
                    f"SELECT * FROM read_parquet({sql_string(path)})"
                )
            except duckdb.Error as exc:
                raise InputError(f"unreadable Parquet: {exc}", where=path) from exc
            _check_columns(store, table, staging, path)
            result[table] = store.merge_table(table, staging)
            store.con.execute(f"DROP TABLE {staging}")
    return result


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(f"no {MANIFEST}", where=folder, expected="a folder from `export parquet`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(
            f"malformed JSON: {exc}", where=f"{path}:{line}" if line else path
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise InputError("not a Spector Parquet manifest", where=path, expected=f"format {_FORMAT}")
    if not isinstance(manifest.get("tables"), dict) or "schema_version" not in manifest:
        raise InputError("manifest lacks tables or schema_version", where=path)
    return manifest


def _check_columns(store: Store, table: str, staging: str, path: Path) -> None:
    want = {name for name, _ in store.columns(table)}
    rows = store.con.execute(f"DESCRIBE {staging}").fetchall()
    have = {str(r[0]) for r in rows}
    if have != want:
        missing, extra = sorted(want - have), sorted(have - want)
        raise InputError(
            f"columns differ from table {table}: missing {missing}, unexpected {extra}",
            where=path,
        )
