"""Opening workspaces: the layout, and every bad case refused with nothing modified."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from spector.errors import (
    ConfigError,
    NotAWorkspace,
    SchemaTooNew,
    StoreCorrupt,
    WorkspaceExists,
    WorkspaceLocked,
)
from spector.store import Workspace, find_workspace, migrations


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _closed_workspace(tmp_path: Path) -> Path:
    with Workspace.init(tmp_path / "ws") as ws:
        return ws.root


def test_init_lays_out_the_workspace(tmp_path):
    root = _closed_workspace(tmp_path)
    for name in ("spector.toml", "store.duckdb", "warc", "parquet", "reports"):
        assert (root / name).exists(), name
    with Workspace.open(root) as ws:
        assert ws.store.schema_version == max(m.version for m in migrations())
        assert ws.config.name == "ws"
        assert ws.store.counts()["markets"] == 0


def test_migrations_are_recorded_once(tmp_path):
    root = _closed_workspace(tmp_path)
    for _ in range(2):
        Workspace.open(root, write=True).close()
    con = duckdb.connect(str(root / "store.duckdb"), read_only=True)
    rows = con.execute("SELECT version, checksum FROM spector_migrations").fetchall()
    con.close()
    assert rows == [(m.version, m.checksum) for m in migrations()]


def test_init_refuses_an_existing_workspace(tmp_path):
    root = _closed_workspace(tmp_path)
    with pytest.raises(WorkspaceExists):
        Workspace.init(root)


def test_find_walks_up_and_honours_explicit(tmp_path, monkeypatch):
    monkeypatch.delenv("SPECTOR_WORKSPACE", raising=False)
    root = _closed_workspace(tmp_path)
    deep = root / "reports" / "a"
    deep.mkdir()
    assert find_workspace(start=deep) == root
    with pytest.raises(NotAWorkspace, match="run `spector init"):
        find_workspace(tmp_path / "nowhere")
    with pytest.raises(NotAWorkspace, match="--workspace"):
        find_workspace(start=tmp_path)


def test_not_a_workspace(tmp_path):
    with pytest.raises(NotAWorkspace) as info:
        Workspace.open(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_malformed_config_names_line_and_changes_nothing(tmp_path):
    root = _closed_workspace(tmp_path)
    (root / "spector.toml").write_text('[workspace]\nformat = 1\nname = "x\n')
    before = _digest(root / "store.duckdb")
    with pytest.raises(ConfigError, match=r"spector\.toml:3"):
        Workspace.open(root)
    assert _digest(root / "store.duckdb") == before


def test_config_with_an_unknown_engine(tmp_path):
    root = _closed_workspace(tmp_path)
    (root / "spector.toml").write_text(
        '[workspace]\nformat = 1\nname = "x"\n[engine]\ndefault = "oracle"\n'
    )
    with pytest.raises(ConfigError, match="duckdb or spark"):
        Workspace.open(root)


def test_corrupted_store_is_refused_untouched(tmp_path):
    root = _closed_workspace(tmp_path)
    store = root / "store.duckdb"
    store.write_bytes(b"\x00garbage" * 1000)
    before = _digest(store)
    with pytest.raises(StoreCorrupt, match=r"store\.duckdb"):
        Workspace.open(root, write=True)
    assert _digest(store) == before


def test_foreign_duckdb_is_refused_untouched(tmp_path):
    root = _closed_workspace(tmp_path)
    store = root / "store.duckdb"
    store.unlink()
    con = duckdb.connect(str(store))
    con.execute("CREATE TABLE payroll (name VARCHAR)")
    con.close()
    before = _digest(store)
    with pytest.raises(StoreCorrupt, match="not a Spector store"):
        Workspace.open(root, write=True)
    assert _digest(store) == before


def test_newer_schema_is_refused_untouched(tmp_path):
    root = _closed_workspace(tmp_path)
    store = root / "store.duckdb"
    con = duckdb.connect(str(store))
    con.execute("INSERT INTO spector_migrations (version, name, checksum) VALUES (999, 'x', 'x')")
    con.close()
    before = _digest(store)
    with pytest.raises(SchemaTooNew, match="999"):
        Workspace.open(root, write=True)
    assert _digest(store) == before


def test_second_writer_is_told_who_holds_the_lock(tmp_path):
    root = _closed_workspace(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from spector.store import Workspace
                from pathlib import Path
                ws = Workspace.open(Path({str(root)!r}), write=True)
                print("ready", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WorkspaceLocked, match=f"PID {holder.pid}"):
            Workspace.open(root, write=True)
    finally:
        holder.communicate("", timeout=30)
    Workspace.open(root, write=True).close()  # free again
