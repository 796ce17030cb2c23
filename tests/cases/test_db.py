"""The case store's database: URL resolution, connection settings, sessions, errors."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Integer, String, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from spector.cases._db import SQLITE_BUSY_TIMEOUT_MS, CaseStore, open_cases, redact, resolve_url
from spector.cases._who import Agency, Instance, User
from spector.errors import ConfigError, ConflictError, SchemaTooNew, UsageError, UserError
from spector.store import Workspace

# --- URL resolution -------------------------------------------------------------------


def test_db_option_wins(tmp_path: Path) -> None:
    assert resolve_url(tmp_path, "sqlite:///elsewhere.db") == "sqlite:///elsewhere.db"
    assert resolve_url(None, "postgresql://u@h/d") == "postgresql://u@h/d"


def test_default_is_the_workspace_file(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        root = ws.root
    assert resolve_url(root, None) == f"sqlite:///{root / 'cases.sqlite'}"


def _with_cases_table(root: Path, body: str) -> None:
    config = root / "spector.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[cases]\n" + body, "utf-8")


def test_spector_toml_names_the_store(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        root = ws.root
    _with_cases_table(root, 'db = "postgresql://spector@db.example/cases"\n')
    assert resolve_url(root, None) == "postgresql://spector@db.example/cases"
    assert resolve_url(root, "sqlite:///x.db") == "sqlite:///x.db"  # --db still wins


def test_relative_sqlite_in_spector_toml_is_in_the_workspace(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        root = ws.root
    _with_cases_table(root, 'db = "sqlite:///shared/cases.db"\n')
    assert resolve_url(root, None) == f"sqlite:///{root / 'shared/cases.db'}"


def test_spector_toml_unknown_key_names_the_closest(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        root = ws.root
    _with_cases_table(root, "correlation_limt = 5\n")
    with pytest.raises(ConfigError, match=r"unknown key 'correlation_limt'.*'correlation_limit'"):
        resolve_url(root, None)


def test_no_workspace_and_no_db_names_both(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        resolve_url(None, None)
    assert "--db" in str(err.value)
    assert "--workspace" in str(err.value)


def test_open_cases_makes_the_workspace_file(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        root = ws.root
    with open_cases(root) as store:
        assert store.dialect == "sqlite"
    assert (root / "cases.sqlite").is_file()


# --- connection settings --------------------------------------------------------------


def test_sqlite_every_connection_has_wal_foreign_keys_busy_timeout(tmp_path: Path) -> None:
    # two connections at once: both are set up, not only the first
    with (
        CaseStore.open(f"sqlite:///{tmp_path / 'c.sqlite'}") as store,
        store.engine.connect() as one,
        store.engine.connect() as two,
    ):
        for conn in (one, two):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    # WAL is a property of the file: a plain sqlite3 connection sees it too
    raw = sqlite3.connect(tmp_path / "c.sqlite")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_foreign_keys_are_enforced(store: CaseStore) -> None:
    with (
        pytest.raises(ConflictError, match="conflicts with what is stored"),
        store.session() as s,
    ):
        s.add(User(agency_id=999, username="ghost", password_hash="x"))
    with store.session() as s:
        assert s.scalar(select(User)) is None


def test_session_rolls_back_on_error(store: CaseStore) -> None:
    with pytest.raises(RuntimeError), store.session() as s:  # noqa: PT012  (the whole unit)
        s.add(Agency(name="BKA", country="DE"))
        s.flush()
        raise RuntimeError("boom")
    with store.session() as s:
        assert s.scalar(select(Agency)) is None
    with store.session() as s:
        s.add(Agency(name="BKA", country="DE"))
    with store.session(readonly=True) as s:
        assert s.scalars(select(Agency.name)).all() == ["BKA"]


def test_sqlite_writer_session_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with CaseStore.open(f"sqlite:///{path}") as store:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with store.session(readonly=True) as s:
            s.scalar(select(Agency))
            other.execute("BEGIN IMMEDIATE")  # a reader does not block writers
            other.execute("ROLLBACK")
        with store.session() as s:
            s.scalar(select(Agency))  # only reads, yet the write lock is taken at BEGIN
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.close()


def test_postgresql_readonly_session_refuses_writes(store: CaseStore) -> None:
    if store.dialect != "postgresql":
        pytest.skip("READ ONLY transactions are PostgreSQL's")
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="read-only"), store.session(readonly=True) as s:
        s.execute(text("INSERT INTO instance VALUES ('x', 'y')"))


def test_postgresql_url_without_driver_means_psycopg(case_url: str) -> None:
    if not case_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL URL")
    plain = case_url.replace("postgresql+psycopg://", "postgresql://")
    with CaseStore.open(plain) as store:
        assert store.engine.url.drivername == "postgresql+psycopg"
        with store.session() as s:
            assert len(s.get_one(Instance, "deconfliction_key").value) == 64


class _Other(DeclarativeBase):
    pass


class _Versioned(_Other):
    __tablename__ = "w_test_versioned"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


def test_concurrent_edit_is_a_conflict(store: CaseStore) -> None:
    _Other.metadata.create_all(store.engine)
    with store.session() as s:
        s.add(_Versioned(id=1, body="first"))
    with store.session() as s:
        row = s.get_one(_Versioned, 1)  # read at version 1, kept after the session
    with store.session() as other:
        other.get_one(_Versioned, 1).body = "theirs"
    row.body = "mine"  # stale: the version moved on
    with pytest.raises(ConflictError, match="changed by someone else"), store.session() as s:
        s.add(row)
    with store.session() as s:
        assert s.get_one(_Versioned, 1).body == "theirs"


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql://root:hunter2secret@db.example/cases", "unsupported database"),
        ("sqlite://", "SQLite URL without a file"),
    ],
)
def test_bad_url_is_one_clear_error_without_the_password(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        CaseStore.open(url)
    assert "hunter2secret" not in str(err.value)


def test_unreachable_server_names_the_url_not_the_password() -> None:
    url = "postgresql://spector:hunter2secret@127.0.0.1:1/cases"
    with pytest.raises(UserError) as err:
        CaseStore.open(url)
    text_ = str(err.value)
    assert "cannot use the case store postgresql+psycopg://spector:***@127.0.0.1:1/cases" in text_
    assert "hunter2secret" not in text_


def test_sqlite_in_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        CaseStore.open(f"sqlite:///{tmp_path / 'nope' / 'c.sqlite'}")
    assert not (tmp_path / "nope").exists()


def test_redact() -> None:
    assert redact("postgresql://u:pw@h/d") == "postgresql://u:***@h/d"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"


def test_store_from_a_newer_spector_is_refused_untouched(case_url: str) -> None:
    CaseStore.open(case_url).close()
    engine = create_engine(case_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alembic_version VALUES ('0099_future')"))
    with pytest.raises(SchemaTooNew, match="0099_future"):
        CaseStore.open(case_url)
    with engine.connect() as conn:
        versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    assert "0099_future" in versions


def test_concurrent_first_opens_migrate_once(case_url: str) -> None:
    errors: list[BaseException] = []
    stores: list[CaseStore] = []

    def open_one() -> None:
        try:
            stores.append(CaseStore.open(case_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "concurrent opens hang"
    assert errors == []
    with stores[0].session() as s:
        keys = s.scalars(select(Instance.key)).all()
    for st in stores:
        st.close()
    assert sorted(keys) == ["deconfliction_key", "instance_id"]
