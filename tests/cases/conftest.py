"""Fixtures of the case store's tests: every test that takes ``case_url`` or ``store``
runs twice, on SQLite and on PostgreSQL (the second skips unless
$SPECTOR_TEST_POSTGRES_URL names a server where the user may create databases).

Password hashing uses cheap argon2id parameters here (the production ones cost 64 MiB
and ~50 ms per hash); tests of rehashing change them on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from spector.cases import _passwords
from spector.cases._db import CaseStore
from tests.cases.harness import (
    Instance,
    fresh_postgres,
    make_instance,
    migrated_template,
    run_main,
)

POSTGRES_ENV = "SPECTOR_TEST_POSTGRES_URL"
NO_POSTGRES = "no PostgreSQL: set SPECTOR_TEST_POSTGRES_URL (SQLite only)"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


@pytest.fixture(autouse=True)
def fast_hashing() -> Iterator[PasswordHasher]:
    """Cheap argon2id parameters for the test (restored afterwards)."""
    previous = _passwords.set_hasher(FAST_HASHER)
    yield FAST_HASHER
    _passwords.set_hasher(previous)


@pytest.fixture(scope="session")
def postgres_server() -> str | None:
    """$SPECTOR_TEST_POSTGRES_URL, or None."""
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str | None) -> Iterator[str | None]:
    """A migrated database to copy for each test's store (one per xdist worker)."""
    if postgres_server is None:
        yield None
        return
    with migrated_template(postgres_server) as name:
        yield name


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, postgres_server: str | None) -> str:
    """Each test that uses it runs on SQLite and on PostgreSQL (skipped without a server)."""
    if request.param == "postgresql" and postgres_server is None:
        pytest.skip(NO_POSTGRES)
    return str(request.param)


@pytest.fixture
def case_url(backend: str, tmp_path: Path, postgres_server: str | None) -> Iterator[str]:
    """The URL of a fresh, EMPTY case store (no schema yet) on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.sqlite'}"
        return
    assert postgres_server is not None
    with fresh_postgres(postgres_server) as url:
        yield url


@pytest.fixture
def store(
    backend: str, tmp_path: Path, postgres_server: str | None, postgres_template: str | None
) -> Iterator[CaseStore]:
    """A freshly created (migrated) case store on each backend, with its own instance key."""
    if backend == "sqlite":
        opened = CaseStore.open(f"sqlite:///{tmp_path / 'cases.sqlite'}")
        yield opened
        opened.close()
        return
    assert postgres_server is not None
    with fresh_postgres(postgres_server, template=postgres_template) as url:
        opened = CaseStore.open(url)
        yield opened
        opened.close()


@pytest.fixture
def instance(store: CaseStore) -> Instance:
    """The store populated by ``tests.cases.harness.make_instance``."""
    return make_instance(store)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``cli("cases", "agency", "list", ...) -> (exit code, stdout, stderr)`` of ``spector``."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run_main(*args)
        out, err = capsys.readouterr()
        return code, out, err

    return run
