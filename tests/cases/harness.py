"""Test helpers every part of [I] shares: fresh databases, and a ready instance.

``make_instance(store)`` builds three agencies (BKA DE, Politie NL, FBI US), the joint
operation "SpecTor" of BKA and Politie (the FBI stays outside it), and users for every
role; it returns their principals by name. ``fresh_postgres(url)`` makes a throw-away
PostgreSQL database next to the one ``url`` names and drops it afterwards. Nothing is
shared between tests (safe under pytest-xdist).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import typer
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from spector.cases._base import Principal
from spector.cases._db import CaseStore, new_instance_identity
from spector.cases._who import (
    Instance as InstanceRow,
)
from spector.cases._who import (
    create_agency,
    create_operation,
    create_user,
    init_instance,
    principal_of,
)

__all__ = [
    "AGENCIES",
    "OPERATION",
    "PASSWORD",
    "USERS",
    "Instance",
    "cases_only_app",
    "fresh_postgres",
    "make_instance",
    "migrated_template",
    "run_main",
]

PASSWORD = "correct horse battery staple"
OPERATION = "SpecTor"
#: name -> country; the first one's admin bootstraps the instance.
AGENCIES = {"BKA": "DE", "Politie": "NL", "FBI": "US"}
#: username -> (agency, roles). "admin" is made by init_instance (admin + analyst).
USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("BKA", ("admin", "analyst")),
    "bka_analyst": ("BKA", ("analyst",)),
    "bka_viewer": ("BKA", ("viewer",)),
    "bka_liaison": ("BKA", ("liaison",)),
    "bka_media": ("BKA", ("media_reviewer",)),
    "nl_analyst": ("Politie", ("analyst",)),
    "nl_viewer": ("Politie", ("viewer",)),
    "nl_liaison": ("Politie", ("liaison",)),
    "fbi_admin": ("FBI", ("admin",)),
    "fbi_analyst": ("FBI", ("analyst",)),
    "fbi_viewer": ("FBI", ("viewer",)),
}


@dataclass
class Instance:
    """A populated store: ``instance["nl_analyst"]`` is that user's Principal."""

    store: CaseStore
    agencies: dict[str, int]  # name -> id
    operation_id: int
    users: dict[str, Principal] = field(default_factory=dict)
    operation: str = OPERATION

    def __getitem__(self, username: str) -> Principal:
        return self.users[username]

    def agency_of(self, username: str) -> str:
        return USERS[username][0]


def make_instance(store: CaseStore) -> Instance:
    """Populate an empty ``store`` (see the module docstring); every password is PASSWORD."""
    with store.session() as s:
        admin = init_instance(s, agency="BKA", country="DE", admin="admin", password=PASSWORD)
        ids = {"BKA": admin.agency_id}
        for name, country in AGENCIES.items():
            if name not in ids:
                ids[name] = create_agency(s, admin, name=name, country=country).id
        user_ids = {"admin": admin.user_id}
        for username, (agency, roles) in USERS.items():
            if username == "admin":
                continue
            user = create_user(
                s,
                admin,
                agency=agency,
                username=username,
                password=PASSWORD,
                roles=roles,
                display_name=username.replace("_", " ").title(),
                email=f"{username}@{agency.lower()}.example",
            )
            user_ids[username] = user.id
        op = create_operation(s, admin, name=OPERATION, agencies=["BKA", "Politie"])
        users = {name: principal_of(s, uid) for name, uid in user_ids.items()}
        return Instance(store=store, agencies=ids, operation_id=op.id, users=users)


@contextmanager
def fresh_postgres(url: str, *, template: str | None = None) -> Iterator[str]:
    """A new database on the server of ``url`` (its URL), dropped afterwards.

    Empty, or a copy of the database ``template`` (made by ``migrated_template``) with a
    new instance identity of its own, so that no two stores share a key.
    """
    base = make_url(url).set(drivername="postgresql+psycopg")
    name = f"spector_t_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    fresh = base.set(database=name)
    try:
        with admin.connect() as conn:
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        if template:
            engine = create_engine(fresh)
            with engine.begin() as conn:
                for key, value in new_instance_identity().items():
                    conn.execute(
                        update(InstanceRow).where(InstanceRow.key == key).values(value=value)
                    )
            engine.dispose()
        yield fresh.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_template(url: str) -> Iterator[str]:
    """A database migrated to the newest schema, to copy with ``fresh_postgres(template=)``
    (copying is faster than migrating); dropped afterwards. Yields its name."""
    with fresh_postgres(url) as template_url:
        CaseStore.open(template_url).close()
        yield str(make_url(template_url).database)


_CASES_ONLY: list[typer.Typer] = []


def cases_only_app() -> typer.Typer:
    """The `spector` root with only the `cases` group (building every stage's commands
    costs a second per call; this one is built once per process)."""
    if not _CASES_ONLY:
        import spector.cli as root
        from spector.cases.cli import register

        app = typer.Typer(
            no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
        )
        app.callback()(root._root)
        register(app, None)  # type: ignore[arg-type]  (the group needs no shared groups)
        _CASES_ONLY.append(app)
    return _CASES_ONLY[0]


def run_main(*args: str) -> int:
    """Run ``spector ARGS`` in-process through ``spector.cli.main`` (its error handling:
    one ``error:`` line, exit 2) with only the `cases` group. Returns the exit code; read
    the output with capsys (see the ``cli`` fixture)."""
    import spector.cli as root

    real = root.build_app
    root.build_app = cases_only_app
    try:
        return root.main(list(args))
    finally:
        root.build_app = real
