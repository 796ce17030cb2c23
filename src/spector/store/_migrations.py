"""Versioned schema migrations: SQL files applied in order, each once, recorded in a table."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import duckdb

__all__ = ["MIGRATIONS_TABLE", "Migration", "applied_versions", "apply_pending", "migrations"]

MIGRATIONS_TABLE = "spector_migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@cache
def migrations() -> tuple[Migration, ...]:
    """Every migration shipped with Spector, by version. Stages add files to migrations/."""
    found = []
    for entry in resources.files("spector.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return tuple(found)


def applied_versions(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The versions recorded in the store; [] when the table does not exist yet."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'",
        [MIGRATIONS_TABLE],
    ).fetchone()
    if not exists or not exists[0]:
        return []
    rows = con.execute(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version").fetchall()
    return [int(r[0]) for r in rows]


def apply_pending(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply every migration not yet recorded, each in its own transaction; return them."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,"
        "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    done = set(applied_versions(con))
    applied = []
    for migration in migrations():
        if migration.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES (?, ?, ?)",
                [migration.version, migration.name, migration.checksum],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        applied.append(migration)
    return applied
