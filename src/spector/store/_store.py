"""The analytic store: a DuckDB file holding the records every stage publishes.

Writing is by upsert of model records. Merge rules, derived from each table's schema so
every table follows them: rows are matched on the primary key; list columns grow by
union; ``first_seen``/``last_seen`` widen; ``source`` keeps the first source; every other
column takes the value of the latest observation that has one (by ``last_seen``: a page
that does not show a field does not erase it); a table without
``last_seen`` is immutable (a conflict keeps the stored row). Each write is one
transaction: on any error nothing of it is stored.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from spector.errors import UsageError
from spector.model import Record

__all__ = ["Store", "UpsertCounts", "utc_naive"]

_PROVENANCE = ("source", "first_seen", "last_seen")
_DECIMAL = pa.decimal128(24, 8)


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int
    updated: int

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(self.inserted + other.inserted, self.updated + other.updated)


def utc_naive(moment: datetime) -> datetime:
    """The store keeps UTC without a zone: aware times are converted, naive ones taken as UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


class Store:
    """The workspace's DuckDB connection with Spector's write and read operations."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, writable: bool) -> None:
        self.con = con
        self.path = path
        self.writable = writable

    def close(self) -> None:
        self.con.close()

    # -- reading ------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        row = self.con.execute("SELECT max(version) FROM spector_migrations").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def tables(self) -> list[str]:
        """The data tables, sorted (the migrations table is not one)."""
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
            "AND table_name <> 'spector_migrations' ORDER BY table_name"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per data table."""
        result = {}
        for table in self.tables():
            row = self.con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            result[table] = int(row[0]) if row else 0
        return result

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, DuckDB type) of each column of ``table``, in order."""
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def primary_key(self, table: str) -> list[str]:
        row = self.con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [table],
        ).fetchone()
        return [str(c) for c in row[0]] if row else []

    # -- writing ------------------------------------------------------------------------
    def upsert(
        self, records: Iterable[Record], *, source: str, seen_at: datetime | None = None
    ) -> UpsertCounts:
        """Store ``records`` as observed by ``source`` at ``seen_at`` (default: now).

        Idempotent: the same records from the same source change nothing but widen
        last_seen. All record types in one call are written in one transaction.
        """
        self._require_writable()
        seen = utc_naive(seen_at or datetime.now(UTC))
        by_type: dict[type[Record], dict[str, Record]] = {}
        for record in records:
            by_type.setdefault(type(record), {})[record.id] = record
        total = UpsertCounts(0, 0)
        with self.transaction():
            for rtype, batch in by_type.items():
                staging = _arrow_batch(rtype, list(batch.values()), source, seen)
                total += self._merge_arrow(rtype.TABLE, staging)
                self._observe(rtype, staging)
        return total

    def merge_table(self, table: str, staging: str) -> UpsertCounts:
        """Merge the rows of relation ``staging`` (same columns, by name) into ``table``."""
        key = self.primary_key(table)
        if not key:
            return self._merge_keyless(table, staging)
        join = " AND ".join(f's."{k}" = t."{k}"' for k in key)
        row = self.con.execute(
            f'SELECT count(*) FROM {staging} s JOIN "{table}" t ON {join}'
        ).fetchone()
        existing = int(row[0]) if row else 0
        total_row = self.con.execute(f"SELECT count(*) FROM {staging}").fetchone()
        total = int(total_row[0]) if total_row else 0
        self.con.execute(_merge_sql(table, self.columns(table), key, staging))
        return UpsertCounts(total - existing, existing)

    def _merge_keyless(self, table: str, staging: str) -> UpsertCounts:
        """A table without a key (tags, traces, decisions): add the rows it lacks,
        equal rows counting as already held."""
        listed = ", ".join(f'"{n}"' for n, _ in self.columns(table))
        fresh = f'SELECT {listed} FROM {staging} EXCEPT SELECT {listed} FROM "{table}"'
        total_row = self.con.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT * FROM {staging})"
        ).fetchone()
        new_row = self.con.execute(f"SELECT count(*) FROM ({fresh})").fetchone()
        total = int(total_row[0]) if total_row else 0
        added = int(new_row[0]) if new_row else 0
        self.con.execute(f'INSERT INTO "{table}" ({listed}) {fresh}')
        return UpsertCounts(added, total - added)

    def transaction(self) -> _Transaction:
        return _Transaction(self.con)

    def _require_writable(self) -> None:
        if not self.writable:
            raise UsageError("the workspace was opened read-only", where=self.path)

    def _merge_arrow(self, table: str, staging: pa.Table) -> UpsertCounts:
        self.con.register("_spector_staging", staging)
        try:
            return self.merge_table(table, "_spector_staging")
        finally:
            self.con.unregister("_spector_staging")

    def _observe(self, rtype: type[Record], staging: pa.Table) -> None:
        self.con.register("_spector_staging", staging)
        try:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE _spector_obs AS SELECT id AS entity_id, "
                f"'{rtype.TABLE}' AS entity_table, source, first_seen, last_seen "
                "FROM _spector_staging"
            )
            self.merge_table("observations", "_spector_obs")
            if rtype.VERSIONED:
                parts = [
                    f"SELECT id AS entity_id, '{rtype.TABLE}' AS entity_table, '{name}' AS prop, "
                    f'to_json("{name}")::VARCHAR AS value, source, first_seen, last_seen '
                    f'FROM _spector_staging WHERE "{name}" IS NOT NULL'
                    + (f' AND len("{name}") > 0' if name in rtype.UNION else "")
                    for name in _field_names(rtype)
                ]
                self.con.execute(
                    "CREATE OR REPLACE TEMP TABLE _spector_obs AS " + " UNION ALL ".join(parts)
                )
                self.merge_table("statements", "_spector_obs")
            self.con.execute("DROP TABLE _spector_obs")
        finally:
            self.con.unregister("_spector_staging")


class _Transaction:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __enter__(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")


def _merge_sql(
    table: str, columns: Sequence[tuple[str, str]], key: Sequence[str], staging: str
) -> str:
    names = [c for c, _ in columns]
    if not key:
        raise UsageError(f"table {table} has no primary key to merge on")
    listed = ", ".join(f'"{n}"' for n in names)
    insert = f'INSERT INTO "{table}" ({listed}) SELECT {listed} FROM {staging}'
    conflict = ", ".join(f'"{k}"' for k in key)
    if "last_seen" not in names:
        return f"{insert} ON CONFLICT ({conflict}) DO NOTHING"
    newer = f'excluded.last_seen >= "{table}".last_seen'
    sets = []
    for name, dtype in columns:
        col = f'"{name}"'
        if name in key or name == "source":
            continue
        if name == "first_seen":
            sets.append(f'{col} = least("{table}".{col}, excluded.{col})')
        elif name == "last_seen":
            sets.append(f'{col} = greatest("{table}".{col}, excluded.{col})')
        elif dtype.endswith("[]"):
            sets.append(
                f'{col} = list_sort(list_distinct(list_concat(coalesce("{table}".{col}, []), '
                f"coalesce(excluded.{col}, []))))"
            )
        else:
            sets.append(
                f"{col} = CASE WHEN {newer} AND excluded.{col} IS NOT NULL "
                f'OR "{table}".{col} IS NULL THEN excluded.{col} ELSE "{table}".{col} END'
            )
    return f"{insert} ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(sets)}"


def _field_names(rtype: type[Record]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(rtype))


_SCHEMAS: dict[type[Record], pa.Schema] = {}


def _arrow_schema(rtype: type[Record]) -> pa.Schema:
    if rtype not in _SCHEMAS:
        _SCHEMAS[rtype] = _build_arrow_schema(rtype)
    return _SCHEMAS[rtype]


def _build_arrow_schema(rtype: type[Record]) -> pa.Schema:
    hints = typing.get_type_hints(rtype)
    fields = [pa.field("id", pa.string(), nullable=False)]
    fields += [pa.field(n, _arrow_type(hints[n])) for n in _field_names(rtype)]
    fields += [
        pa.field("source", pa.string()),
        pa.field("first_seen", pa.timestamp("us")),
        pa.field("last_seen", pa.timestamp("us")),
    ]
    return pa.schema(fields)


def _arrow_type(hint: Any) -> pa.DataType:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return pa.list_(_arrow_type(args[0]))
    if args:  # Optional[X]
        return _arrow_type(args[0])
    mapping: dict[Any, pa.DataType] = {
        str: pa.string(),
        bool: pa.bool_(),
        int: pa.int64(),
        float: pa.float64(),
        Decimal: _DECIMAL,
        datetime: pa.timestamp("us"),
    }
    return mapping[hint]


def _arrow_batch(
    rtype: type[Record], records: Sequence[Record], source: str, seen: datetime
) -> pa.Table:
    schema = _arrow_schema(rtype)
    columns: list[list[Any]] = [[r.id for r in records]]
    for name in _field_names(rtype):
        values = [getattr(r, name) for r in records]
        if schema.field(name).type == pa.timestamp("us"):
            values = [utc_naive(v) if v is not None else None for v in values]
        elif isinstance(schema.field(name).type, pa.ListType):
            values = [sorted(set(v)) for v in values]
        columns.append(values)
    n = len(records)
    columns += [[source] * n, [seen] * n, [seen] * n]
    return pa.table(columns, schema=schema)
