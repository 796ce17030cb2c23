"""Alembic migrations: empty -> heads on both backends, the migrated schema is exactly
the models' (every part's), and downgrade to base then upgrade again works."""

from __future__ import annotations

import re

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select

from spector.cases._base import Base
from spector.cases._db import _MIGRATIONS, MODEL_MODULES, CaseStore, alembic_config, import_models
from spector.cases._who import Instance


def _heads() -> set[str]:
    return set(ScriptDirectory(str(_MIGRATIONS)).get_heads())


def _current(store: CaseStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def _drift(store: CaseStore) -> list[object]:
    import_models()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_every_model_module_is_there() -> None:
    assert import_models() == list(MODEL_MODULES)


def test_the_chain_of_revisions_is_the_agreed_one() -> None:
    script = ScriptDirectory(str(_MIGRATIONS))
    down = {rev.revision: rev.down_revision for rev in script.walk_revisions()}
    assert down["0001_who"] is None
    assert down["0002_records"] == "0001_who"
    for head in ("0003_evidence_audit", "0004_deconflict", "0005_ops"):
        assert down[head] == "0002_records"
    assert _heads() == {"0003_evidence_audit", "0004_deconflict", "0005_ops"}


def test_empty_store_is_upgraded_to_every_head(case_url: str) -> None:
    engine = create_engine(case_url.replace("postgresql://", "postgresql+psycopg://"))
    assert inspect(engine).get_table_names() == []
    engine.dispose()
    with CaseStore.open(case_url) as store:
        assert _current(store) == _heads()
        tables = set(inspect(store.engine).get_table_names())
    assert {"agencies", "users", "user_roles", "api_tokens", "operations"} <= tables
    assert {"operation_agencies", "instance", "alembic_version"} <= tables


def test_migrated_schema_is_exactly_the_models(store: CaseStore) -> None:
    assert _drift(store) == []


def test_instance_identity_is_made_once_per_store(case_url: str) -> None:
    with CaseStore.open(case_url) as store, store.session() as s:
        first = {row.key: row.value for row in s.scalars(select(Instance))}
    with CaseStore.open(case_url) as store, store.session() as s:  # opening again keeps it
        again = {row.key: row.value for row in s.scalars(select(Instance))}
    assert first == again
    assert re.fullmatch(r"[0-9a-f]{64}", first["deconfliction_key"])
    assert re.fullmatch(r"[0-9a-f-]{36}", first["instance_id"])


def test_two_stores_have_different_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    keys = []
    for name in ("a", "b"):
        with CaseStore.open(f"sqlite:///{tmp_path / name}.sqlite") as store, store.session() as s:
            keys.append(s.get_one(Instance, "deconfliction_key").value)
    assert keys[0] != keys[1]


def test_downgrade_to_base_and_upgrade_again(store: CaseStore) -> None:
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    assert _current(store) == set()
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "heads")
    assert _current(store) == _heads()
    assert _drift(store) == []
