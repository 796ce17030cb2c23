"""What a resolution run writes, and the queries the CLI, packages and the web app read.

``write_run`` replaces, in one transaction, ``resolve_links`` (every candidate pair of
the run) and ``actor_accounts`` (every account with its actor) and ``resolve_accounts`` (what the
run knew of each account, for the target packages), brings the ``actors``
table to the run's actors (Actor records with source ``spector.resolve``: actor_ref is
the actor id, label its most used handle; actors of earlier runs that no longer exist
are removed from ``actors``, their history stays in ``statements``), and appends the
run's settings to ``resolve_runs``. On any error nothing of it is stored.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from spector.model import Actor
from spector.resolve._actors import actor_id_for

if TYPE_CHECKING:
    from spector.store import Workspace

__all__ = [
    "SOURCE",
    "RunRows",
    "account_facts",
    "actor_ids",
    "actor_members",
    "actor_rows",
    "facts_of",
    "facts_table",
    "write_run",
]

SOURCE = "spector.resolve"


@dataclass
class RunRows:
    """One run's rows: per account (``account_id``, ``kind``, ``market_id``, ``handle``,
    ``labels`` = its group), per candidate pair (``pairs`` as indices, ``scores``,
    ``linked``, ``evidence``, ``features`` as name -> column, ``decided``)."""

    account_id: Sequence[str]
    kind: Sequence[str]
    market_id: Sequence[str | None]
    handle: Sequence[str | None]
    labels: np.ndarray
    pairs: np.ndarray
    scores: np.ndarray
    linked: np.ndarray
    evidence: Sequence[Sequence[str]]
    features: dict[str, np.ndarray]
    decided: Sequence[str | None]
    run_at: datetime
    model: str
    threshold: float
    summary: dict[str, Any]
    facts: pa.Table | None = None  # ``facts_table``: what the run knew of each account


def actor_ids(account_id: Sequence[str], labels: np.ndarray) -> list[str]:
    """The actor id of each account, from its group label."""
    members: dict[int, list[str]] = {}
    for a, label in zip(account_id, labels.tolist(), strict=True):
        members.setdefault(int(label), []).append(a)
    ids = {label: actor_id_for(accs) for label, accs in members.items()}
    return [ids[int(label)] for label in labels.tolist()]


def _quote(name: str) -> str:
    """``name`` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def _register(
    ws: Workspace, name: str, table: pa.Table, sql: str, params: list[Any] | None = None
) -> None:
    ws.store.con.register(name, table)
    try:
        ws.store.con.execute(sql, params or [])
    finally:
        ws.store.con.unregister(name)


def write_run(ws: Workspace, rows: RunRows) -> list[str]:
    """Store ``rows`` (see the module docstring); returns the actor id of each account."""
    store = ws.store
    actors = actor_ids(rows.account_id, rows.labels)
    a = [rows.account_id[int(i)] for i in rows.pairs[:, 0].tolist()]
    b = [rows.account_id[int(j)] for j in rows.pairs[:, 1].tolist()]
    names = sorted(rows.features)
    links = pa.table({
        "a": pa.array(a, pa.string()),
        "b": pa.array(b, pa.string()),
        "score": pa.array(rows.scores.astype(np.float64)),
        "linked": pa.array(rows.linked.astype(bool)),
        "evidence": pa.array([list(e) for e in rows.evidence], pa.list_(pa.string())),
        **{f"f{k}": pa.array(np.asarray(rows.features[n], dtype=np.float64))
           for k, n in enumerate(names)},
        "decided": pa.array(list(rows.decided), pa.string()),
    })  # fmt: skip
    # JSON made by DuckDB, column-wise: the evidence list, the features as one object
    # (keys sorted).
    packed = ", ".join(f"{_quote(n)} := f{k}" for k, n in enumerate(names))
    features_sql = f"to_json(struct_pack({packed}))" if names else "'{}'"
    accounts = pa.table({
        "actor_id": pa.array(actors, pa.string()),
        "account_id": pa.array(list(rows.account_id), pa.string()),
        "kind": pa.array(list(rows.kind), pa.string()),
        "market_id": pa.array(list(rows.market_id), pa.string()),
        "handle": pa.array(list(rows.handle), pa.string()),
    })  # fmt: skip
    handles: dict[str, Counter[str]] = {}
    for actor, handle in zip(actors, rows.handle, strict=True):
        handles.setdefault(actor, Counter())[handle or ""] += 1
    records = [
        Actor(actor_ref=actor, label=min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] or None)
        for actor, c in sorted(handles.items())
    ]
    keep = pa.table({"actor_ref": pa.array(sorted(handles), pa.string())})
    facts = rows.facts if rows.facts is not None else facts_table(None)
    with store.transaction():
        store.con.execute("DELETE FROM resolve_links")
        store.con.execute("DELETE FROM actor_accounts")
        store.con.execute("DELETE FROM resolve_accounts")
        _register(ws, "_resolve_accounts", facts,
                  f"INSERT INTO resolve_accounts SELECT account_id, {_FACTS_JSON} "
                  "FROM _resolve_accounts")  # fmt: skip
        _register(ws, "_resolve_links", links,
                  f"INSERT INTO resolve_links SELECT a, b, score, linked, to_json(evidence), "
                  f"{features_sql}, decided, ?::TIMESTAMP FROM _resolve_links",
                  [rows.run_at])  # fmt: skip
        _register(ws, "_actor_accounts", accounts,
                  "INSERT INTO actor_accounts SELECT * FROM _actor_accounts")  # fmt: skip
        _register(ws, "_resolve_keep", keep,
                  "DELETE FROM actors WHERE source = 'spector.resolve' AND actor_ref NOT IN "
                  "(SELECT actor_ref FROM _resolve_keep)")  # fmt: skip
        store.con.execute(
            "INSERT INTO resolve_runs VALUES (?, ?, ?, ?)",
            [rows.run_at, rows.model, rows.threshold, json.dumps(rows.summary, sort_keys=True)],
        )
    if records:
        store.upsert(records, source=SOURCE, seen_at=rows.run_at)
    return actors


def actor_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Every actor of the last run, largest first (then by id): actor_id, accounts
    (count), markets (names, sorted), handles (sorted), account_ids."""
    rows = ws.store.con.execute(
        "SELECT aa.actor_id, count(*) AS n, "
        "list_sort(list_distinct(list(coalesce(m.name, aa.market_id)))) AS markets, "
        "list_sort(list_distinct(list(aa.handle))) AS handles, "
        "list_sort(list(aa.account_id)) AS account_ids "
        "FROM actor_accounts aa LEFT JOIN markets m ON m.id = aa.market_id "
        "GROUP BY aa.actor_id ORDER BY n DESC, aa.actor_id"
    ).fetchall()
    return [
        {"actor_id": str(r[0]), "accounts": int(r[1]), "markets": [str(x) for x in r[2] if x],
         "handles": [str(x) for x in r[3] if x is not None],
         "account_ids": [str(x) for x in r[4]]}
        for r in rows
    ]  # fmt: skip


def actor_members(ws: Workspace, actor_id: str) -> list[dict[str, Any]]:
    """The accounts of ``actor_id`` (account_id, kind, market_id, market, handle), by id;
    [] when there is no such actor."""
    rows = ws.store.con.execute(
        "SELECT aa.account_id, aa.kind, aa.market_id, coalesce(m.name, aa.market_id), aa.handle "
        "FROM actor_accounts aa LEFT JOIN markets m ON m.id = aa.market_id "
        "WHERE aa.actor_id = ? ORDER BY aa.account_id",
        [actor_id],
    ).fetchall()
    keys = ("account_id", "kind", "market_id", "market", "handle")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def facts_of(accounts: Any, i: int) -> dict[str, Any]:
    """What a target package shows of account ``i`` of ``accounts``, JSON-ready."""
    return {
        "pgp": list(accounts.pgp[i]),
        "selectors": list(accounts.selectors[i]),
        "payto": list(accounts.payto[i]),
        "clusters": [int(c) for c in accounts.clusters[i]],
        "ships_from": accounts.ships_from[i],
        "listings": int(accounts.listings[i]),
        "categories": dict(sorted(accounts.categories[i].items())),
        "first_seen": _iso(accounts.first_seen[i]),
        "last_seen": _iso(accounts.last_seen[i]),
    }


_FACT_TYPES = {
    "categories": pa.map_(pa.string(), pa.int64()),
    "clusters": pa.list_(pa.int64()),
    "first_seen": pa.string(),
    "last_seen": pa.string(),
    "listings": pa.int64(),
    "payto": pa.list_(pa.string()),
    "pgp": pa.list_(pa.string()),
    "selectors": pa.list_(pa.string()),
    "ships_from": pa.string(),
}
# The facts of an account as one JSON object, keys sorted: the JSON ``facts_of`` gives.
_FACTS_JSON = "to_json(struct_pack(" + ", ".join(f"{k} := {k}" for k in _FACT_TYPES) + "))"


def facts_table(accounts: Any) -> pa.Table:
    """``facts_of`` of every account of ``accounts`` as columns (None: no rows), for
    ``write_run`` to turn into JSON in bulk."""
    if accounts is None:
        columns: dict[str, list[Any]] = {k: [] for k in ("account_id", *_FACT_TYPES)}
    else:
        columns = {
            "account_id": list(accounts.account_id),
            "categories": [sorted(c.items()) for c in accounts.categories],
            "clusters": [list(c) for c in accounts.clusters],
            "first_seen": [_iso(t) for t in accounts.first_seen],
            "last_seen": [_iso(t) for t in accounts.last_seen],
            "listings": [int(n) for n in accounts.listings.tolist()],
            "payto": [list(p) for p in accounts.payto],
            "pgp": [list(p) for p in accounts.pgp],
            "selectors": [list(p) for p in accounts.selectors],
            "ships_from": list(accounts.ships_from),
        }
    types = {"account_id": pa.string(), **_FACT_TYPES}
    return pa.table({k: pa.array(v, types[k]) for k, v in columns.items()})


def account_facts(ws: Workspace, account_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """account id -> its facts as the last run stored them ({} for an account it did not
    store, or before the first run)."""
    rows = ws.store.con.execute(
        "SELECT account_id, facts FROM resolve_accounts WHERE list_contains(?, account_id)",
        [list(account_ids)],
    ).fetchall()
    return {str(a): json.loads(f) for a, f in rows}
