"""The candidate pairs the web app shows with their evidence, the analyst's latest
decision on each, and a decision recorded and applied at once.

Lists follow ``_browse``'s conventions: ``after`` is the last row's ``cursor``, up to
``limit + 1`` rows come back (one more says there is a next page).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from spector.errors import NotFound, UsageError
from spector.resolve._browse import closest_actor, first, rows_of

if TYPE_CHECKING:
    from spector.store import Workspace

__all__ = ["APPLY_AUTO_ACCOUNTS", "decide", "latest_decisions", "links_page", "pair_link"]

# A decision made in the web app re-runs resolution at once (as `spector resolve
# confirm` does) up to this many accounts; above, it is recorded and the next
# `spector resolve` applies it (a run over 100,000 accounts takes minutes).
APPLY_AUTO_ACCOUNTS = 20_000


def latest_decisions(
    ws: Workspace, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(a, b) sorted -> the latest confirm/reject recorded on the pair: kind, who, at
    (ISO), why. Pairs without one are left out (splits are not pair decisions here)."""
    wanted = sorted({(min(a, b), max(a, b)) for a, b in pairs})
    if not wanted:
        return {}
    rows = ws.store.con.execute(
        'SELECT d.a, d.b, arg_max(d.kind, (d."at", d.rowid)), arg_max(d.who, (d."at", d.rowid)), '
        'max(d."at"), arg_max(d.why, (d."at", d.rowid)) FROM resolve_decisions d '
        "WHERE d.kind IN ('confirm', 'reject') AND list_contains(?, d.a || '|' || d.b) "
        "GROUP BY d.a, d.b",
        [[f"{a}|{b}" for a, b in wanted]],
    ).fetchall()
    return {
        (str(a), str(b)): {"kind": k, "who": w, "at": t.isoformat(timespec="seconds"), "why": y}
        for a, b, k, w, t, y in rows
    }


_LINKS = """
SELECT * FROM (
  SELECT l.a, l.b, l.score, l.linked, l.evidence, l.features, l.decided,
         xa.handle AS a_handle, coalesce(ma.name, xa.market_id) AS a_market, xa.actor_id AS a_actor,
         xb.handle AS b_handle, coalesce(mb.name, xb.market_id) AS b_market, xb.actor_id AS b_actor
  FROM resolve_links l
  LEFT JOIN actor_accounts xa ON xa.account_id = l.a LEFT JOIN markets ma ON ma.id = xa.market_id
  LEFT JOIN actor_accounts xb ON xb.account_id = l.b LEFT JOIN markets mb ON mb.id = xb.market_id
)
"""


def _link_rows(ws: Workspace, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    decided = latest_decisions(ws, [(r["a"], r["b"]) for r in rows])
    for row in rows:
        row["score"] = round(float(row["score"]), 4)
        row["linked"] = bool(row["linked"])
        row["evidence"] = json.loads(row["evidence"])
        row["features"] = json.loads(row["features"])
        row["decision"] = decided.get((min(row["a"], row["b"]), max(row["a"], row["b"])))
        row["pending"] = row["decision"] is not None and row["decision"]["kind"] != row["decided"]
    return rows


def links_page(
    ws: Workspace,
    *,
    actor_id: str | None = None,
    account_id: str | None = None,
    linked: bool | None = None,
    within: bool = False,
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The candidate pairs of the last run touching the accounts of ``actor_id`` (or the
    one account ``account_id``), best score first (then a, b): a, b, score, linked,
    evidence (sentences), features, decided (the decision the run applied), a_/b_handle,
    a_/b_market, a_/b_actor, decision (the latest recorded: kind, who, at, why, or
    None), pending (a decision the run has not applied yet) and ``cursor``.
    ``linked`` keeps only drawn (True) or undrawn (False) pairs; ``within`` only pairs
    with both accounts in the actor. NotFound for an unknown actor or account."""
    con = ws.store.con
    if actor_id is not None:
        ids = [str(r[0]) for r in con.execute(
            "SELECT account_id FROM actor_accounts WHERE actor_id = ?", [actor_id.strip()]
        ).fetchall()]  # fmt: skip
        if not ids:
            raise NotFound(f"no actor {actor_id.strip()!r}", hint=closest_actor(con, actor_id))
    elif account_id is not None:
        ids = [account_id.strip()]
    else:
        raise UsageError("links_page: give actor_id or account_id")
    join = "AND" if within else "OR"
    where = [f"(list_contains(?, a) {join} list_contains(?, b))"]
    params: list[Any] = [ids, ids]
    if linked is not None:
        where.append("linked = ?")
        params.append(bool(linked))
    if after is not None:
        if len(after) != 3 or not isinstance(after[0], int | float) or isinstance(after[0], bool):
            raise UsageError("cursor: not a cursor of this list", hint="start again without it")
        where.append("(score < ? OR (score = ? AND (a > ? OR (a = ? AND b > ?))))")
        params += [after[0], after[0], str(after[1]), str(after[1]), str(after[2])]
    rows = rows_of(con, _LINKS + f" WHERE {' AND '.join(where)} ORDER BY score DESC, a, b LIMIT ?",
                 [*params, int(limit) + 1])  # fmt: skip
    for row in rows:
        row["cursor"] = [row["score"], row["a"], row["b"]]
    return _link_rows(ws, rows)


def pair_link(ws: Workspace, a: str, b: str) -> dict[str, Any] | None:
    """The pair (a, b) as ``links_page`` gives it (in either order), None when the last
    run did not score it."""
    x, y = sorted((a.strip(), b.strip()))
    rows = rows_of(ws.store.con, _LINKS + " WHERE (a = ? AND b = ?) OR (a = ? AND b = ?)",
                 [x, y, y, x])  # fmt: skip
    return _link_rows(ws, rows)[0] if rows else None


def decide(
    ws: Workspace,
    kind: str,
    a: str,
    b: str,
    *,
    why: str | None,
    who: str,
    apply: bool | None = None,
) -> dict[str, Any]:
    """Record a confirm or reject of accounts ``a`` and ``b`` (``spector.resolve``'s
    ``confirm`` / ``reject``) and, when ``apply`` (default: at most
    ``APPLY_AUTO_ACCOUNTS`` accounts and a run before), re-run resolution with the last
    run's settings. Returns what `spector resolve confirm --json` prints (kind, a, b,
    who, at, why, actors: the actor of each account now) plus applied and line (the
    run's summary line, or why it did not run)."""
    from spector.resolve._decisions import confirm, reject
    from spector.resolve._run import last_settings, resolve

    if kind not in ("confirm", "reject"):
        raise UsageError(f"unknown decision {kind!r}", expected="confirm or reject")
    record = confirm if kind == "confirm" else reject
    decision = record(ws, a, b, why=why, who=who)
    settings = last_settings(ws)
    con = ws.store.con
    if apply is None:
        held = first(con.execute("SELECT count(*) FROM actor_accounts"))
        apply = settings is not None and int(held[0] if held else 0) <= APPLY_AUTO_ACCOUNTS
    if apply and settings is not None:
        line = resolve(ws, threshold=settings[0], model=settings[1]).line()
        applied = True
    else:
        applied = False
        line = ("recorded (applied by the first `spector resolve`)" if settings is None
                else "recorded (applied by the next `spector resolve`)")  # fmt: skip
    actors = dict(con.execute(
        "SELECT account_id, actor_id FROM actor_accounts WHERE list_contains(?, account_id)",
        [[decision.a, decision.b]],
    ).fetchall())  # fmt: skip
    return {
        "kind": kind, "a": decision.a, "b": decision.b, "who": decision.who,
        "at": decision.at.isoformat(timespec="seconds"), "why": decision.why,
        "actors": [actors.get(decision.a), actors.get(decision.b)],
        "applied": applied, "line": line,
    }  # fmt: skip
