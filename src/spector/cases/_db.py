"""The case store's database: which one (``resolve_url``), opening it (``CaseStore.open``:
connect, migrate to the newest schema) and the unit of work (``CaseStore.session``).

SQLite (a file in the workspace, the default) runs in WAL mode with foreign keys on and
a busy timeout, set on every connection. PostgreSQL is reached through psycopg 3;
``postgresql://`` and ``postgres://`` URLs are taken to mean ``postgresql+psycopg://``.
Every error a user can fix (a bad URL, an unreachable server, a store written by a
newer Spector) is one ``UserError`` naming the URL, never its password.
"""

from __future__ import annotations

import importlib
import re
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from spector.errors import ConflictError, SchemaTooNew, UsageError, UserError

__all__ = [
    "MODEL_MODULES",
    "SQLITE_BUSY_TIMEOUT_MS",
    "CaseStore",
    "import_models",
    "new_instance_identity",
    "open_cases",
    "redact",
    "resolve_url",
]

#: The modules that define case-store tables (each only defines models when imported).
MODEL_MODULES: tuple[str, ...] = (
    "spector.cases._who",
    "spector.cases._records",
    "spector.cases._audit",
    "spector.cases._evidence",
    "spector.cases._deconflict",
    "spector.cases._ops",
)

#: How long an SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000
_PG_CONNECT_TIMEOUT_S = 10
_PG_MIGRATION_LOCK = 0x5350_4543  # "SPEC": serialises concurrent first opens on a server
_MIGRATIONS = Path(__file__).with_name("migrations")


def import_models() -> list[str]:
    """Import every model module that exists, so ``Base.metadata`` holds every table.

    Returns the modules imported. A module that is not there (yet), or that needs
    another model module that is not there, is skipped; any other import error is raised.
    """
    found = []
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name not in MODEL_MODULES:
                raise
            continue
        found.append(name)
    return found


def new_instance_identity() -> dict[str, str]:
    """A new instance's identity: a random "instance_id" (UUID) and a random 32-byte
    "deconfliction_key" (hex). Made once, when a store is created (migration 0001_who)."""
    return {"instance_id": str(uuid.uuid4()), "deconfliction_key": secrets.token_bytes(32).hex()}


def redact(url: str | URL) -> str:
    """``url`` as text with its password replaced by ``***`` (also when it does not parse)."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def resolve_url(ws_root: Path | None, db: str | None) -> str:
    """The case store's URL: ``db`` (``--db``), else ``[cases] db`` in the workspace's
    spector.toml, else ``sqlite:///<ws_root>/cases.sqlite``.

    A relative SQLite path in spector.toml is taken relative to the workspace. With
    neither a workspace nor a URL: UsageError naming both ways to give one.
    """
    if db:
        return db
    if ws_root is None:
        raise UsageError(
            "no case store: neither --db URL nor a workspace was given",
            hint="pass --db URL (sqlite:///FILE or postgresql://...) or --workspace DIR",
        )
    from spector.store._config import CONFIG_NAME, read_config

    root = Path(ws_root)
    config_file = root / CONFIG_NAME
    configured = read_config(config_file).cases_db if config_file.is_file() else None
    if configured:
        return _anchor_sqlite(configured, root)
    return f"sqlite:///{root / 'cases.sqlite'}"


def _anchor_sqlite(url: str, root: Path) -> str:
    match = re.fullmatch(r"sqlite(\+pysqlite)?:///(.+)", url)
    if match is None or match[2].startswith(":memory:") or Path(match[2]).is_absolute():
        return url
    return f"sqlite:///{root / match[2]}"


def _parse(url: str) -> URL:
    """Parse and normalise a store URL: only SQLite and PostgreSQL (psycopg 3)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise UsageError(
            f"not a database URL: {redact(url)}",
            expected="sqlite:///FILE or postgresql://USER@HOST[:PORT]/DB",
        ) from exc
    name = parsed.drivername
    if name in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if name in ("sqlite", "sqlite+pysqlite"):
        if not parsed.database:
            raise UsageError(
                f"SQLite URL without a file: {redact(parsed)}", expected="sqlite:///FILE"
            )
        return parsed.set(drivername="sqlite")
    raise UsageError(
        f"unsupported database in {redact(parsed)}",
        expected="sqlite:///FILE, or postgresql:// / postgresql+psycopg:// (psycopg 3)",
    )


def _set_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the lock.

    Switching a new file's journal mode does not wait on the busy timeout (SQLite answers
    "database is locked" at once when another connection is opening the same new file), so
    concurrent first opens retry here for as long as the busy timeout would have waited.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise UserError(
                f"cannot open the case store {redact(url)}: folder {folder} does not exist",
                hint="create the folder or pass another --db",
            )
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # The driver's own transaction handling is off: SQLAlchemy emits BEGIN below, so
        # transactions (and DDL in migrations, SAVEPOINTs) behave as documented.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _set_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; fsync at checkpoints
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # "IMMEDIATE" takes the write lock at once: a migration, or a writer that must not
        # fail half-way with SQLITE_BUSY after reading.
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = _PG_CONNECT_TIMEOUT_S
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True)


@cache
def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(_MIGRATIONS))


def alembic_config(connection: Connection) -> Any:
    """An Alembic Config for the package's migrations, bound to ``connection`` (no .ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


class CaseStore:
    """An open case store. ``open`` connects and migrates; ``session`` is a unit of work.

    Use as a context manager or call ``close``. Thread-safe as SQLAlchemy engines are;
    each ``session()`` is for one thread.
    """

    def __init__(self, url: URL, engine: Engine) -> None:
        self.url = url.render_as_string(hide_password=False)
        self.engine = engine
        self._display = redact(url)
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._readonly = (
            engine.execution_options(postgresql_readonly=True)
            if engine.dialect.name == "postgresql"
            else engine
        )

    def __repr__(self) -> str:
        return f"CaseStore({self._display})"

    @property
    def safe_url(self) -> str:
        """The URL with its password replaced by ``***`` (for messages and output)."""
        return self._display

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    @classmethod
    def open(cls, url: str) -> CaseStore:
        """Connect to ``url``, create the schema or upgrade it to the newest ("heads").

        Idempotent; concurrent first opens are serialised (an advisory lock on
        PostgreSQL, the write lock on SQLite). UserError when the URL is bad, the server
        cannot be reached, or the store was written by a newer Spector.
        """
        parsed = _parse(url)
        engine = (
            _sqlite_engine(parsed) if parsed.drivername == "sqlite" else (_postgres_engine(parsed))
        )
        store = cls(parsed, engine)
        try:
            store._migrate()
        except DBAPIError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise UserError(
                f"cannot use the case store {store._display}: {reason}",
                hint="check the URL, that the server runs and the user may connect",
            ) from exc
        except BaseException:
            engine.dispose()
            raise
        return store

    def _migrate(self) -> None:
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        script = _script()
        heads = set(script.get_heads())
        with self.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        if current == heads:
            return
        known = {rev.revision for rev in script.walk_revisions()}
        unknown = sorted(current - known)
        if unknown:
            raise SchemaTooNew(
                f"the case store {self._display} has schema revision {', '.join(unknown)}, "
                "which this Spector does not know",
                hint="upgrade spector; nothing was changed",
            )
        writer = self.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        with writer as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            command.upgrade(alembic_config(conn), "heads")

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session: committed when the block ends, rolled back on any error.

        On SQLite a session takes the write lock when it begins (BEGIN IMMEDIATE), so a
        writer waits its turn (up to the busy timeout) instead of failing half-way;
        ``readonly=True`` skips that (readers never block in WAL mode) and, on
        PostgreSQL, makes the transaction READ ONLY. A concurrent change caught by the
        optimistic lock, or a unique value written by someone else at the same time,
        becomes a ConflictError.
        """
        s = Session(self._readonly if readonly else self._writer, expire_on_commit=False)
        try:
            yield s
            s.commit()
        except StaleDataError as exc:
            s.rollback()
            raise ConflictError(
                "the record was changed by someone else since it was read",
                hint="read it again and retry",
            ) from exc
        except IntegrityError as exc:
            s.rollback()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise ConflictError(
                f"the change conflicts with what is stored: {reason}",
                hint="a record with that name or value may exist already",
            ) from exc
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def close(self) -> None:
        """Close every pooled connection. The store is not usable afterwards."""
        self.engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cases(ws_root: Path | None = None, db: str | None = None) -> CaseStore:
    """Open the case store of a workspace, or the one at ``db`` (see ``resolve_url``)."""
    return CaseStore.open(resolve_url(ws_root, db))
