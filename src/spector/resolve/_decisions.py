"""The analyst's decisions on vendor resolution, kept in ``resolve_decisions`` and
applied by every run of `spector resolve`:

- ``confirm(ws, a, b)``: accounts a and b are one actor (always together);
- ``reject(ws, a, b)``: they are not (never together, not through other links either);
- ``split(ws, actor)``: the actor's accounts, as it holds them now, are taken apart:
  each joins nothing automatically from then on; only a confirm puts it with another.

Each decision is stored with who made it (default: the OS user) and when (UTC). On a
pair, the latest decision wins (a split counts as a reject of every pair of its
accounts at its time). A decision given an unknown account or actor raises InputError
naming the closest known id and changes nothing.
"""

from __future__ import annotations

import difflib
import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spector.errors import InputError, UsageError
from spector.resolve._actors import ActorDecisions

if TYPE_CHECKING:
    from spector.store import Workspace

__all__ = [
    "Decision",
    "actor_decisions",
    "confirm",
    "decisions",
    "default_who",
    "known_account",
    "pair_labels",
    "reject",
    "split",
]


@dataclass(frozen=True)
class Decision:
    kind: str
    a: str | None
    b: str | None
    actor_id: str | None
    who: str
    at: datetime
    why: str | None


def default_who() -> str:
    """The OS user running the command (``unknown`` when the system cannot say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def _known_accounts(ws: Workspace) -> dict[str, str | None]:
    """account id -> handle, from the last run's actor_accounts, else from the records."""
    con = ws.store.con
    rows = con.execute("SELECT account_id, handle FROM actor_accounts").fetchall()
    if not rows:
        from spector.resolve._accounts import load_accounts

        accounts = load_accounts(ws)
        return dict(zip(accounts.account_id, accounts.handle, strict=True))
    return {str(a): (str(h) if h is not None else None) for a, h in rows}


def _closest(value: str, known: list[str]) -> str | None:
    if not known:
        return None
    found = difflib.get_close_matches(value, known, n=1, cutoff=0.3)
    return found[0] if found else None


def known_account(
    ws: Workspace, account_id: str, known: dict[str, str | None] | None = None
) -> str:
    """``account_id`` if the workspace holds that account; InputError naming the closest
    known one (or the account of that handle) otherwise."""
    key = account_id.strip()
    held = known if known is not None else _known_accounts(ws)
    if key in held:
        return key
    by_handle = sorted(
        a for a, h in held.items() if h is not None and h.casefold() == key.casefold()
    )
    if by_handle:
        hint = f"{key!r} is the handle of account {by_handle[0]}"
        if len(by_handle) > 1:
            hint += f" (and {len(by_handle) - 1} more)"
        raise InputError(f"unknown account id {key!r}", expected="an account id", hint=hint)
    close = _closest(key, sorted(held))
    raise InputError(
        f"unknown account id {key!r}",
        expected="an account id of `spector actor list` / `actor show`",
        hint=f"closest known: {close}" if close else "the workspace holds no accounts",
    )


def _insert(ws: Workspace, rows: list[tuple[Any, ...]]) -> None:
    with ws.store.transaction():
        ws.store.con.executemany(
            'INSERT INTO resolve_decisions (kind, a, b, actor_id, who, "at", why) '
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _pair(ws: Workspace, kind: str, a: str, b: str, why: str | None, who: str | None) -> Decision:
    known = _known_accounts(ws)
    key_a, key_b = known_account(ws, a, known), known_account(ws, b, known)
    if key_a == key_b:
        raise UsageError(f"both accounts are {key_a}", expected="two different accounts")
    key_a, key_b = sorted((key_a, key_b))
    decision = Decision(kind, key_a, key_b, None, (who or default_who()).strip() or "unknown",
                        _now(), (why or "").strip() or None)  # fmt: skip
    _insert(ws, [(decision.kind, key_a, key_b, None, decision.who, decision.at, decision.why)])
    return decision


def confirm(ws: Workspace, a: str, b: str, *, why: str | None = None,
            who: str | None = None) -> Decision:  # fmt: skip
    """Record that accounts ``a`` and ``b`` are one actor."""
    return _pair(ws, "confirm", a, b, why, who)


def reject(ws: Workspace, a: str, b: str, *, why: str | None = None,
           who: str | None = None) -> Decision:  # fmt: skip
    """Record that accounts ``a`` and ``b`` are never one actor."""
    return _pair(ws, "reject", a, b, why, who)


def split(ws: Workspace, actor_id: str, *, why: str | None = None,
          who: str | None = None) -> list[str]:  # fmt: skip
    """Record that the accounts of ``actor_id`` (as the last run drew it) are taken
    apart; returns them. InputError for an unknown actor (naming the closest)."""
    key = actor_id.strip()
    con = ws.store.con
    members = [
        str(r[0])
        for r in con.execute(
            "SELECT account_id FROM actor_accounts WHERE actor_id = ? ORDER BY account_id", [key]
        ).fetchall()
    ]
    if not members:
        known = [str(r[0]) for r in con.execute(
            "SELECT DISTINCT actor_id FROM actor_accounts ORDER BY 1").fetchall()]  # fmt: skip
        close = _closest(key, known)
        raise InputError(
            f"unknown actor id {key!r}",
            expected="an actor id of `spector actor list`",
            hint=f"closest known: {close}" if close else "run `spector resolve` first",
        )
    if len(members) == 1:
        raise UsageError(f"actor {key} holds one account only; there is nothing to split")
    now, person = _now(), (who or default_who()).strip() or "unknown"
    reason = (why or "").strip() or None
    _insert(ws, [("split", m, None, key, person, now, reason) for m in members])
    return members


def decisions(ws: Workspace) -> list[Decision]:
    """Every decision, oldest first (ties in the order they were recorded)."""
    rows = ws.store.con.execute(
        'SELECT kind, a, b, actor_id, who, "at", why FROM resolve_decisions ORDER BY "at", rowid'
    ).fetchall()
    return [Decision(*row) for row in rows]


def _pair_states(ws: Workspace) -> tuple[dict[tuple[str, str], str], set[str]]:
    """(a, b) sorted -> 'confirm' | 'reject' by the latest decision on the pair, and the
    accounts split off their actors."""
    states: dict[tuple[str, str], str] = {}
    split_off: set[str] = set()
    pending: dict[tuple[str | None, datetime], list[str]] = {}

    def flush() -> None:
        for members in pending.values():
            split_off.update(members)
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    states[(members[x], members[y])] = "reject"
        pending.clear()

    for d in decisions(ws):
        if d.kind == "split" and d.a is not None:
            pending.setdefault((d.actor_id, d.at), []).append(d.a)
            continue
        flush()
        if d.a is not None and d.b is not None and d.kind in ("confirm", "reject"):
            states[(min(d.a, d.b), max(d.a, d.b))] = d.kind
    flush()
    return states, split_off


def actor_decisions(
    ws: Workspace, account_ids: list[str]
) -> tuple[ActorDecisions, dict[tuple[int, int], str]]:
    """The decisions over accounts indexed as in ``account_ids`` (decisions on accounts
    no longer held are left out), and (i, j) -> kind for the decided pairs."""
    index = {a: k for k, a in enumerate(account_ids)}
    states, split_off = _pair_states(ws)
    decided: dict[tuple[int, int], str] = {}
    for (a, b), kind in states.items():
        if a in index and b in index:
            i, j = sorted((index[a], index[b]))
            decided[(i, j)] = kind
    return (
        ActorDecisions(
            confirms=frozenset(p for p, k in decided.items() if k == "confirm"),
            rejects=frozenset(p for p, k in decided.items() if k == "reject"),
            split=frozenset(index[a] for a in split_off if a in index),
        ),
        decided,
    )


def pair_labels(ws: Workspace, account_ids: list[str]) -> dict[tuple[int, int], bool]:
    """(i, j) -> True (confirmed) / False (rejected or split apart): training labels."""
    _, decided = actor_decisions(ws, account_ids)
    return {pair: kind == "confirm" for pair, kind in decided.items()}
