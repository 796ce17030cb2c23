"""The workspace: a folder holding spector.toml, the analytic store and the evidence."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import TracebackType

import duckdb

from spector.errors import (
    NotAWorkspace,
    SchemaTooNew,
    StoreCorrupt,
    WorkspaceExists,
    WorkspaceLocked,
)
from spector.store._config import CONFIG_NAME, WorkspaceConfig, read_config, write_config
from spector.store._migrations import MIGRATIONS_TABLE, applied_versions, apply_pending, migrations
from spector.store._store import Store

__all__ = ["STORE_NAME", "SUBDIRS", "Workspace", "find_workspace"]

STORE_NAME = "store.duckdb"
SUBDIRS = ("warc", "parquet", "reports")
ENV_VAR = "SPECTOR_WORKSPACE"


def find_workspace(explicit: Path | None = None, start: Path | None = None) -> Path:
    """The workspace to use: ``explicit``, else $SPECTOR_WORKSPACE, else the nearest folder
    at or above ``start`` (default: the current folder) that holds spector.toml."""
    if explicit is None and os.environ.get(ENV_VAR):
        explicit = Path(os.environ[ENV_VAR])
    if explicit is not None:
        path = explicit.expanduser().resolve()
        if not (path / CONFIG_NAME).is_file():
            raise NotAWorkspace(
                f"not a Spector workspace (no {CONFIG_NAME})",
                where=path,
                hint=f"run `spector init {explicit}` first",
            )
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise NotAWorkspace(
        f"no Spector workspace here or above (no {CONFIG_NAME})",
        where=here,
        hint="run `spector init DIR` or pass --workspace DIR",
    )


class Workspace:
    """An open workspace. Use as a context manager; ``store`` is the analytic store.

    Opening checks, before anything is written: the config parses, store.duckdb is a
    DuckDB file of Spector's, its schema is not newer than this code, and no other process
    holds the write lock. Pending migrations are then applied (even for read-only use).
    """

    def __init__(self, root: Path, config: WorkspaceConfig, store: Store) -> None:
        self.root = root
        self.config = config
        self.store = store

    # -- layout -------------------------------------------------------------------------
    @property
    def store_path(self) -> Path:
        return self.root / STORE_NAME

    @property
    def warc_dir(self) -> Path:
        return self.root / "warc"

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def range_dir(self) -> Path:
        return self.root / "range"

    # -- life cycle ---------------------------------------------------------------------
    @classmethod
    def init(cls, root: Path, name: str | None = None) -> Workspace:
        """Create a workspace in ``root`` (made if missing) and open it for writing."""
        root = root.expanduser().resolve()
        if (root / CONFIG_NAME).exists():
            raise WorkspaceExists("already a Spector workspace", where=root)
        if (root / STORE_NAME).exists():
            raise WorkspaceExists(
                f"holds a {STORE_NAME} but no {CONFIG_NAME}",
                where=root,
                hint="choose an empty folder",
            )
        root.mkdir(parents=True, exist_ok=True)
        for sub in SUBDIRS:
            (root / sub).mkdir(exist_ok=True)
        con = duckdb.connect(str(root / STORE_NAME))
        apply_pending(con)
        con.close()
        write_config(root / CONFIG_NAME, WorkspaceConfig.new(name or root.name))
        return cls.open(root, write=True)

    @classmethod
    def open(cls, root: Path, *, write: bool = False) -> Workspace:
        """Open the workspace at ``root``; see the class docstring for what is checked."""
        root = root.expanduser().resolve()
        if not (root / CONFIG_NAME).is_file():
            raise NotAWorkspace(f"not a Spector workspace (no {CONFIG_NAME})", where=root)
        config = read_config(root / CONFIG_NAME)
        path = root / STORE_NAME
        if not path.is_file():
            raise StoreCorrupt(
                f"{STORE_NAME} is missing", where=root, hint="restore it from a backup"
            )
        pending = _check_store(path)
        if pending:
            con = _connect(path, read_only=False)
            apply_pending(con)
            con.close()
        con = _connect(path, read_only=not write)
        return cls(root, config, Store(con, path, writable=write))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_LOCK_PID = re.compile(r"PID (\d+)")


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = _LOCK_PID.search(text)
            holder = f" (PID {pid[1]})" if pid else ""
            raise WorkspaceLocked(
                f"another process{holder} holds the store's lock",
                where=path,
                hint="wait for it to finish or stop it",
            ) from exc
        raise StoreCorrupt(
            f"not a readable DuckDB file: {_first_line(text)}",
            where=path,
            hint="restore it from a backup or export/import into a new workspace",
        ) from exc
    except duckdb.Error as exc:
        raise StoreCorrupt(
            f"cannot open: {_first_line(str(exc))}",
            where=path,
            hint="restore it from a backup",
        ) from exc


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _check_store(path: Path) -> bool:
    """Read-only checks; True when migrations are pending. Raises before anything is written."""
    con = _connect(path, read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
            ).fetchall()
        }
        if tables and MIGRATIONS_TABLE not in tables:
            raise StoreCorrupt(
                "a DuckDB file that is not a Spector store (no migrations table)",
                where=path,
                hint="point --workspace at a Spector workspace",
            )
        done = applied_versions(con)
    except duckdb.Error as exc:
        raise StoreCorrupt(f"unreadable: {_first_line(str(exc))}", where=path) from exc
    finally:
        con.close()
    known = {m.version for m in migrations()}
    newest = max(known)
    if done and max(done) > newest:
        raise SchemaTooNew(
            f"schema version {max(done)} is newer than this Spector's ({newest})",
            where=path,
            hint="upgrade spector; nothing was changed",
        )
    return bool(known - set(done))
