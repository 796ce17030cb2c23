"""Agencies, users, roles, passwords, API tokens, operations: the rules and the errors.

Every refused action is one clear error and writes nothing (no row, no audit entry).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import func, select

from spector.cases import _passwords
from spector.cases._audit import AuditEntry, verify
from spector.cases._base import utcnow
from spector.cases._db import CaseStore
from spector.cases._who import (
    Agency,
    ApiToken,
    OperationAgency,
    User,
    agency_by_name,
    authenticate,
    create_agency,
    create_operation,
    create_user,
    init_instance,
    instance_value,
    issue_token,
    join_operation,
    list_tokens,
    list_users,
    login,
    principal_of,
    revoke_token,
    revoke_user,
)
from spector.errors import AccessDenied, AuthError, ConflictError, NotFound, UsageError
from tests.cases.harness import PASSWORD, Instance, make_instance


def _counts(store: CaseStore) -> dict[str, int]:
    with store.session(readonly=True) as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Agency, User, ApiToken, OperationAgency, AuditEntry)
        }


def _refused(
    store: CaseStore, error: type[Exception], match: str, act: Callable[..., object]
) -> None:
    """``act(session)`` raises ``error`` matching ``match`` and leaves the store as it was."""
    before = _counts(store)
    with pytest.raises(error, match=match), store.session() as s:
        act(s)
    assert _counts(store) == before


# --- bootstrap, agencies ----------------------------------------------------------------


def test_init_instance_makes_the_first_agency_and_admin(store: CaseStore) -> None:
    with store.session() as s:
        p = init_instance(s, agency="BKA", country="de", admin="Alice", password=PASSWORD)
    assert p.username == "alice"
    assert p.roles == {"admin", "analyst"}
    with store.session() as s:
        assert agency_by_name(s, "bka").country == "DE"
        assert login(s, "alice", PASSWORD).user_id == p.user_id
    _refused(
        store,
        ConflictError,
        "set up already",
        lambda s: init_instance(s, agency="NCA", country="GB", admin="bob", password=PASSWORD),
    )


def test_init_instance_checks_its_input(store: CaseStore) -> None:
    _refused(
        store,
        UsageError,
        "too short",
        lambda s: init_instance(s, agency="BKA", country="DE", admin="alice", password="short"),
    )
    _refused(
        store,
        UsageError,
        "unknown country",
        lambda s: init_instance(s, agency="BKA", country="XX", admin="alice", password=PASSWORD),
    )


def test_instance_values(store: CaseStore) -> None:
    with store.session() as s:
        assert len(bytes.fromhex(instance_value(s, "deconfliction_key"))) == 32
        with pytest.raises(NotFound, match="no instance setting 'nope'"):
            instance_value(s, "nope")


def test_harness_instance(instance: Instance) -> None:
    assert instance["nl_analyst"].operations == {instance.operation_id}
    assert instance["bka_viewer"].operations == {instance.operation_id}
    assert instance["fbi_analyst"].operations == frozenset()
    assert instance["bka_media"].roles == {"media_reviewer"}
    assert instance["fbi_admin"].agency_id == instance.agencies["FBI"]


@pytest.mark.parametrize("code", ["EU", "INT", "gb", "US"])
def test_agency_countries(instance: Instance, code: str) -> None:
    with instance.store.session() as s:
        agency = create_agency(s, instance["admin"], name="Agency " + code, country=code)
    assert agency.country == code.upper()


@pytest.mark.parametrize("code", ["XX", "DEU", "WW", "", "Germany"])
def test_agency_invalid_country(instance: Instance, code: str) -> None:
    _refused(
        instance.store,
        UsageError,
        "unknown country code",
        lambda s: create_agency(s, instance["admin"], name="Europol", country=code),
    )


def test_country_name_instead_of_code_gets_a_hint(instance: Instance) -> None:
    _refused(
        instance.store,
        UsageError,
        r"'UK'.*did you mean 'GB' \(United Kingdom",
        lambda s: create_agency(s, instance["admin"], name="NCA", country="UK"),
    )


def test_agency_rules(instance: Instance) -> None:
    store = instance.store
    _refused(
        store,
        AccessDenied,
        "only an admin may create agencies",
        lambda s: create_agency(s, instance["bka_analyst"], name="NCA", country="GB"),
    )
    _refused(
        store,
        ConflictError,
        "agency 'Politie' exists already",
        lambda s: create_agency(s, instance["admin"], name="politie", country="NL"),
    )
    _refused(
        store,
        UsageError,
        "agency name",
        lambda s: create_agency(s, instance["admin"], name="  ", country="NL"),
    )


def test_unknown_agency_names_close_matches(instance: Instance) -> None:
    with instance.store.session() as s:
        with pytest.raises(NotFound, match=r"no agency 'Polite'.*did you mean 'Politie'"):
            agency_by_name(s, "Polite")
        assert agency_by_name(s, "POLITIE").name == "Politie"


# --- users, passwords -------------------------------------------------------------------


def _new_user(p: object, **kw: object) -> Callable[..., object]:
    args: dict[str, object] = {
        "agency": "Politie",
        "username": "nl_new",
        "password": PASSWORD,
        "roles": ["analyst"],
    }
    args.update(kw)
    return lambda s: create_user(s, p, **args)  # type: ignore[arg-type]


def test_create_user_and_its_hash(instance: Instance) -> None:
    with instance.store.session() as s:
        user = create_user(
            s,
            instance["admin"],
            agency="politie",
            username="NL_New",
            password="a much longer secret",
            roles=["viewer", "liaison"],
            email="new@politie.example",
        )
        assert user.username == "nl_new"
        assert user.password_hash.startswith("$argon2id$")
        assert "a much longer secret" not in user.password_hash
        assert principal_of(s, user.id).roles == {"viewer", "liaison"}
        assert login(s, "nl_new", "a much longer secret").agency_id == instance.agencies["Politie"]


def test_create_user_errors(instance: Instance) -> None:
    store, admin = instance.store, instance["admin"]
    _refused(store, AccessDenied, "only an admin", _new_user(instance["bka_analyst"]))
    _refused(store, NotFound, r"no agency 'Politi'.*'Politie'", _new_user(admin, agency="Politi"))
    _refused(store, ConflictError, "'nl_analyst' exists", _new_user(admin, username="NL_Analyst"))
    _refused(store, UsageError, r"too short \(11", _new_user(admin, password="x" * 11))
    _refused(store, UsageError, "password is empty", _new_user(admin, password=" " * 12))
    _refused(
        store, UsageError, r"unknown role 'analist'.*'analyst'", _new_user(admin, roles=["analist"])
    )
    _refused(store, UsageError, "at least one role", _new_user(admin, roles=[]))
    _refused(store, UsageError, "username", _new_user(admin, username="bad name"))
    _refused(store, UsageError, "e-mail", _new_user(admin, email="not-an-address"))


def test_login_refusals_look_alike(instance: Instance) -> None:
    with instance.store.session() as s:
        revoke_user(s, instance["admin"], "nl_viewer")
    messages = set()
    for username, password in [
        ("nl_analyst", "wrong password!"),
        ("nobody", PASSWORD),
        ("nl_viewer", PASSWORD),
    ]:
        with pytest.raises(AuthError) as err, instance.store.session() as s:
            login(s, username, password)
        messages.add(str(err.value).replace(repr(username), "U"))
    assert len(messages) == 1


class _Counting(PasswordHasher):
    calls: list[str]

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.calls.append(str(hash))
        return super().verify(hash, password)


def test_unknown_username_costs_one_verification(instance: Instance) -> None:
    counting = _Counting(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
    counting.calls = []
    previous = _passwords.set_hasher(counting)
    try:
        with pytest.raises(AuthError), instance.store.session() as s:
            login(s, "nobody", PASSWORD)
    finally:
        _passwords.set_hasher(previous)
    assert len(counting.calls) == 1
    assert counting.calls[0].startswith("$argon2id$")


def test_login_rehashes_when_the_parameters_change(instance: Instance) -> None:
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1, type=Type.ID)
    with instance.store.session() as s:
        old = s.get_one(User, instance["nl_analyst"].user_id).password_hash
    assert "m=8,t=1,p=1" in old
    previous = _passwords.set_hasher(stronger)
    try:
        with instance.store.session() as s:
            login(s, "nl_analyst", PASSWORD)
        with instance.store.session() as s:
            new = s.get_one(User, instance["nl_analyst"].user_id).password_hash
            assert "m=16,t=2,p=1" in new
            login(s, "nl_analyst", PASSWORD)  # the new hash verifies
            assert s.get_one(User, instance["nl_analyst"].user_id).password_hash == new
    finally:
        _passwords.set_hasher(previous)


def test_revoke_user(instance: Instance) -> None:
    store, admin = instance.store, instance["admin"]
    with store.session() as s:
        token = issue_token(s, instance["nl_analyst"])
    _refused(
        store,
        AccessDenied,
        "only an admin may revoke",
        lambda s: revoke_user(s, instance["nl_analyst"], "nl_viewer"),
    )
    _refused(store, UsageError, "cannot revoke itself", lambda s: revoke_user(s, admin, "admin"))
    _refused(
        store,
        NotFound,
        r"no user 'nl_analist'.*'nl_analyst'",
        lambda s: revoke_user(s, admin, "nl_analist"),
    )
    with store.session() as s:
        revoke_user(s, admin, "nl_analyst")
    _refused(store, ConflictError, "revoked already", lambda s: revoke_user(s, admin, "nl_analyst"))
    with pytest.raises(AuthError), store.session() as s:
        login(s, "nl_analyst", PASSWORD)
    with pytest.raises(AuthError, match="revoked"), store.session() as s:
        authenticate(s, token)
    with pytest.raises(AuthError), store.session() as s:
        principal_of(s, instance["nl_analyst"].user_id)
    with store.session() as s:
        rows = {u["username"]: u for u in list_users(s, admin, agency="Politie")}
    assert rows["nl_analyst"]["active"] is False
    assert rows["nl_viewer"]["active"] is True
    assert "password_hash" not in rows["nl_analyst"]


# --- tokens ------------------------------------------------------------------------------


def test_token_round_trip_stores_only_its_hash(instance: Instance) -> None:
    with instance.store.session() as s:
        token = issue_token(s, instance["nl_viewer"], label="laptop", days=7)
    assert token.startswith("spk_")
    assert len(token.split("_", 2)[2]) == 43
    prefix = token.split("_")[1]
    with instance.store.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
        assert row is not None
        assert row.last_used_at is None
        assert row.digest == hashlib.sha256(token.encode()).hexdigest()
        secret = token.split("_", 2)[2]
        assert all(secret not in str(getattr(row, c.key)) for c in ApiToken.__table__.columns)
        assert timedelta(days=6, hours=23) < row.expires_at - row.created_at <= timedelta(days=7)
    with instance.store.session() as s:
        p = authenticate(s, token)
    assert p == instance["nl_viewer"]
    with instance.store.session() as s:
        assert s.scalar(select(ApiToken.last_used_at).where(ApiToken.prefix == prefix)) is not None


def _forge(token: str) -> str:
    _head, secret = token.rsplit("_", 1)[0], token.split("_", 2)[2]
    return f"spk_{token.split('_')[1]}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"


def test_forged_malformed_expired_revoked_tokens(instance: Instance) -> None:
    store = instance.store
    with store.session() as s:
        token = issue_token(s, instance["nl_analyst"])
        other = issue_token(s, instance["nl_analyst"], days=1)
    cases = {
        "not a Spector API token": ["", "Bearer x", token[:-1], token + "x"],
        "unknown API token": [_forge(token), "spk_000000000000_" + token.split("_", 2)[2]],
    }
    for message, tokens in cases.items():
        for bad in tokens:
            with pytest.raises(AuthError, match=message), store.session() as s:
                authenticate(s, bad)
    with store.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.prefix == other.split("_")[1]))
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(AuthError, match="expired on"), store.session() as s:
        authenticate(s, other)
    with store.session() as s:
        revoke_token(s, instance["nl_analyst"], token.split("_")[1])
    with pytest.raises(AuthError, match="was revoked"), store.session() as s:
        authenticate(s, token)


def test_token_rules(instance: Instance) -> None:
    store = instance.store
    with store.session() as s:
        mine = issue_token(s, instance["bka_viewer"])  # anyone may issue its own
        theirs = issue_token(s, instance["admin"], username="nl_viewer")  # admin for another
        assert authenticate(s, theirs).username == "nl_viewer"
    _refused(
        store,
        AccessDenied,
        "only an admin may issue tokens for other",
        lambda s: issue_token(s, instance["bka_analyst"], username="nl_viewer"),
    )
    for days in (0, 367, -1):
        _refused(
            store,
            UsageError,
            "token lifetime",
            lambda s, d=days: issue_token(s, instance["bka_viewer"], days=d),
        )
    # another user's token: invisible to a non-admin, revocable by an admin
    _refused(
        store,
        NotFound,
        "no API token",
        lambda s: revoke_token(s, instance["bka_analyst"], mine.split("_")[1]),
    )
    with store.session() as s:
        revoke_token(s, instance["bka_viewer"], mine)  # the whole token works too
        revoke_token(s, instance["admin"], theirs.split("_")[1])
    _refused(
        store,
        ConflictError,
        "revoked already",
        lambda s: revoke_token(s, instance["bka_viewer"], mine.split("_")[1]),
    )
    with store.session() as s:
        own = list_tokens(s, instance["bka_viewer"])
        assert [t["state"] for t in own] == ["revoked"]
        assert own[0]["user"] == "bka_viewer"
        assert len(list_tokens(s, instance["admin"], all_users=True)) == 2
        with pytest.raises(AccessDenied):
            list_tokens(s, instance["bka_viewer"], all_users=True)


def test_revoked_users_token_cannot_be_issued(instance: Instance) -> None:
    with instance.store.session() as s:
        revoke_user(s, instance["admin"], "fbi_viewer")
    _refused(
        instance.store,
        NotFound,
        "no user 'ghost'",
        lambda s: issue_token(s, instance["admin"], username="ghost"),
    )
    _refused(
        instance.store,
        AuthError,
        "revoked",
        lambda s: issue_token(s, instance["admin"], username="fbi_viewer"),
    )


# --- operations ----------------------------------------------------------------------------


def test_operations_are_sharing_groups(instance: Instance) -> None:
    store, admin = instance.store, instance["admin"]
    with store.session() as s:
        op = create_operation(s, admin, name="Dark HunTor", agencies=["FBI", "bka", "FBI"])
        assert principal_of(s, instance["fbi_analyst"].user_id).operations == {op.id}
        assert principal_of(s, instance["bka_analyst"].user_id).operations == {
            op.id,
            instance.operation_id,
        }
        assert principal_of(s, instance["nl_analyst"].user_id).operations == {instance.operation_id}
    with store.session() as s:
        join_operation(s, admin, "spector", "FBI")
        assert principal_of(s, instance["fbi_viewer"].user_id).operations == {
            op.id,
            instance.operation_id,
        }


def test_operation_errors(instance: Instance) -> None:
    store, admin = instance.store, instance["admin"]
    _refused(
        store,
        AccessDenied,
        "only an admin may create operations",
        lambda s: create_operation(s, instance["nl_liaison"], name="X", agencies=["BKA"]),
    )
    _refused(
        store,
        NotFound,
        r"no agency 'FBl'.*'FBI'",
        lambda s: create_operation(s, admin, name="X", agencies=["BKA", "FBl"]),
    )
    _refused(
        store,
        UsageError,
        "has no agency",
        lambda s: create_operation(s, admin, name="X", agencies=[]),
    )
    _refused(
        store,
        ConflictError,
        "operation .SpecTor. exists already",
        lambda s: create_operation(s, admin, name="SPECTOR", agencies=["BKA"]),
    )
    _refused(
        store,
        ConflictError,
        "in operation 'SpecTor' already",
        lambda s: join_operation(s, admin, "SpecTor", "Politie"),
    )
    _refused(
        store,
        NotFound,
        r"no operation 'Spektor'.*'SpecTor'",
        lambda s: join_operation(s, admin, "Spektor", "FBI"),
    )
    _refused(
        store,
        AccessDenied,
        "only an admin",
        lambda s: join_operation(s, instance["fbi_analyst"], "SpecTor", "FBI"),
    )


# --- audit -------------------------------------------------------------------------------


def test_every_change_is_audited(store: CaseStore) -> None:
    inst = make_instance(store)
    with store.session() as s:
        token = issue_token(s, inst["nl_analyst"])
        revoke_token(s, inst["nl_analyst"], token)
        revoke_user(s, inst["admin"], "fbi_viewer")
        join_operation(s, inst["admin"], "SpecTor", "FBI")
        login(s, "bka_viewer", PASSWORD)
    with store.session(readonly=True) as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.table_name, AuditEntry.user_id).order_by(
                AuditEntry.seq
            )
        ).all()
        report = verify(s)
    assert report.ok, report.problems
    kinds = [(action, table) for action, table, _ in rows]
    assert kinds.count(("create", "agencies")) == 3
    assert kinds.count(("create", "users")) == 11
    assert kinds.count(("create", "operations")) == 1
    assert kinds[-5:] == [
        ("token", "api_tokens"),
        ("revoke", "api_tokens"),
        ("revoke", "users"),
        ("update", "operations"),
        ("login", "users"),
    ]
    assert rows[-5][2] == inst["nl_analyst"].user_id
    assert rows[-3][2] == inst["admin"].user_id
