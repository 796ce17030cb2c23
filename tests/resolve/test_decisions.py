"""Analyst decisions (confirm, reject, split): stored with who and when, respected by every
re-run, latest decision on a pair wins; bad ids change nothing."""

from __future__ import annotations

import pytest

from spector.errors import InputError, UsageError
from spector.resolve import _decisions as decide
from spector.resolve._run import resolve
from spector.store import Workspace
from tests.resolve.resolved import build_range, build_resolved, fresh_copy


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    root = tmp_path_factory.mktemp("dec")
    return build_resolved(root, build_range(root))


@pytest.fixture
def ws(resolved, tmp_path):
    with Workspace.open(fresh_copy(resolved, tmp_path / "ws"), write=True) as opened:
        yield opened


def _actor_of(ws, account: str) -> str:
    return ws.store.con.execute(
        "SELECT actor_id FROM actor_accounts WHERE account_id = ?", [account]
    ).fetchone()[0]


def _top_link(ws) -> tuple[str, str]:
    return ws.store.con.execute(
        "SELECT a, b FROM resolve_links WHERE linked ORDER BY score DESC, a, b LIMIT 1"
    ).fetchone()


def _singletons(ws, n: int = 2) -> list[str]:
    rows = ws.store.con.execute(
        "SELECT account_id FROM actor_accounts WHERE actor_id IN (SELECT actor_id FROM "
        "actor_accounts GROUP BY 1 HAVING count(*) = 1) AND kind = 'vendor' ORDER BY 1 LIMIT ?",
        [n],
    ).fetchall()
    return [r[0] for r in rows]


def test_reject_separates_a_linked_pair_and_every_rerun_keeps_it(ws):
    a, b = _top_link(ws)
    assert _actor_of(ws, a) == _actor_of(ws, b)
    d = decide.reject(ws, b, a, why="different people", who="analyst7")
    assert (d.kind, d.a, d.b, d.who, d.why) == ("reject", min(a, b), max(a, b), "analyst7",
                                                "different people")  # fmt: skip
    for _ in range(2):
        resolve(ws)
        assert _actor_of(ws, a) != _actor_of(ws, b)
        row = ws.store.con.execute(
            "SELECT linked, decided, evidence FROM resolve_links WHERE a = ? AND b = ?",
            [min(a, b), max(a, b)],
        ).fetchone()
        assert row[0] is False
        assert row[1] == "reject"
        assert "rejected by the analyst" in row[2]
    stored = ws.store.con.execute('SELECT kind, who, "at", why FROM resolve_decisions').fetchall()
    assert len(stored) == 1
    assert stored[0][0] == "reject"
    assert stored[0][1] == "analyst7"
    assert stored[0][2] is not None


def test_confirm_joins_two_unlinked_accounts_and_reruns_keep_it(ws):
    a, b = _singletons(ws)
    assert _actor_of(ws, a) != _actor_of(ws, b)
    decide.confirm(ws, a, b)
    result = resolve(ws)
    assert _actor_of(ws, a) == _actor_of(ws, b)
    assert result.decided_pairs == 1
    row = ws.store.con.execute(
        "SELECT linked, decided FROM resolve_links WHERE a = ? AND b = ?", [min(a, b), max(a, b)]
    ).fetchone()
    assert row == (True, "confirm")  # stored even though blocking never proposed it
    resolve(ws, threshold=0.99)
    assert _actor_of(ws, a) == _actor_of(ws, b)
    who = ws.store.con.execute("SELECT who FROM resolve_decisions").fetchone()[0]
    assert who == decide.default_who()


def test_latest_decision_on_a_pair_wins(ws):
    a, b = _singletons(ws)
    decide.confirm(ws, a, b)
    decide.reject(ws, a, b)
    resolve(ws)
    assert _actor_of(ws, a) != _actor_of(ws, b)
    decide.confirm(ws, a, b)
    resolve(ws)
    assert _actor_of(ws, a) == _actor_of(ws, b)


def test_split_takes_an_actor_apart_unless_confirmed(ws):
    a, b = _top_link(ws)
    actor = _actor_of(ws, a)
    members = decide.split(ws, actor, why="two people")
    assert a in members
    assert b in members
    assert len(members) >= 2
    resolve(ws)
    actors = {_actor_of(ws, m) for m in members}
    assert len(actors) == len(members)
    decide.confirm(ws, a, b)  # after the split: these two are one again, the rest apart
    resolve(ws)
    assert _actor_of(ws, a) == _actor_of(ws, b)
    others = [m for m in members if m not in (a, b)]
    assert all(_actor_of(ws, m) != _actor_of(ws, a) for m in others)


def test_unknown_ids_name_the_closest_and_change_nothing(ws):
    a, b = _top_link(ws)
    with pytest.raises(InputError, match=f"closest known: {a}"):
        decide.confirm(ws, a[:-1] + "x", b)
    handle = ws.store.con.execute(
        "SELECT handle FROM actor_accounts WHERE account_id = ?", [a]).fetchone()[0]  # fmt: skip
    with pytest.raises(InputError, match="is the handle of account"):
        decide.reject(ws, handle, b)
    with pytest.raises(UsageError, match="two different accounts"):
        decide.reject(ws, a, a)
    actor = _actor_of(ws, a)
    with pytest.raises(InputError, match=f"closest known: {actor}"):
        decide.split(ws, actor[:-2] + "zz")
    lone = _actor_of(ws, _singletons(ws, 1)[0])
    with pytest.raises(UsageError, match="one account only"):
        decide.split(ws, lone)
    assert ws.store.con.execute("SELECT count(*) FROM resolve_decisions").fetchone()[0] == 0


def test_decisions_are_exported_and_derived_tables_are_not(ws, tmp_path):
    from spector.store import export_parquet

    a, b = _top_link(ws)
    decide.reject(ws, a, b)
    rows = export_parquet(ws.store, tmp_path / "export")
    assert rows["resolve_decisions"] == 1
    assert "resolve_links" not in rows
    assert "actor_accounts" not in rows
    assert rows["actors"] > 0


def test_decisions_are_training_labels(ws):
    from spector.resolve._train import decision_set

    with pytest.raises(UsageError, match="no resolve decisions"):
        decision_set(ws)
    a, b = _top_link(ws)
    c, d = _singletons(ws)
    decide.reject(ws, a, b)
    decide.confirm(ws, c, d)
    labelled = decision_set(ws)
    ids = labelled.accounts.account_id
    pairs = zip(labelled.pairs.tolist(), labelled.labels, strict=True)
    got = {(ids[i], ids[j]): bool(y) for (i, j), y in pairs}
    assert got == {(min(a, b), max(a, b)): False, (min(c, d), max(c, d)): True}
    assert labelled.meta["pairs"] == 2
    assert labelled.truth is None
