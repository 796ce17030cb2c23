"""``linking.*`` of `spector sim score`: the workspace's actors against the range's truth.

Truth: two accounts are the same person when they have the same ``actor_id`` in
``world/accounts.parquet`` (vendor accounts) or ``world/forum_members.parquet`` (a forum
member whose ``actor_id`` is set is that actor; one without is a person of its own, keyed
by its ``member_id``). An impostor (``impostor_of`` set) has an actor of its own
(``impostor-<n>``), so a resolver that merges it with the vendor it copies makes a false
pair. The bot shop's operator account is its own actor.

Prediction: two workspace accounts are linked when they share an ``actor_id`` in the
workspace's ``actor_accounts`` table (written by `spector resolve`).

Matching: a workspace account is mapped to a truth account through its market (the
workspace market whose onions are the range market's; a market without onions, such as a
seized import, by its name) and its handle, case-folded: a vendor account to the range
market's vendor of that handle, a forum member (``kind = 'member'``) to the forum's
member of that name. Workspace accounts that map to nothing are counted (``unmatched``)
and left out; so are truth accounts the workspace never saw: linking is scored over the
accounts the workspace holds.

Figures (pairwise over the matched accounts, each unordered pair once):

- ``precision``: predicted pairs (same workspace actor) that are true pairs (same actor
  in truth), ``true_pairs / predicted_pairs``;
- ``recall``: true pairs that are predicted, ``true_pairs / truth_pairs``;
- ``f1``: their harmonic mean;
- ``impostors_merged``: impostor accounts the workspace holds that sit in one actor with
  an account of the vendor they copy; ``impostors``: how many the range has (and
  ``impostors_in_workspace``).

When the workspace has not run resolution (no ``actor_accounts`` rows) every figure is
None and ``scope`` says so.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow.parquet as pq

from spector.sim._range import read_truth
from spector.store import Workspace

__all__ = ["TruthAccount", "linking_score", "match_markets", "truth_accounts"]

KEYS = ("precision", "recall", "f1", "impostors_merged")


def match_markets(con: duckdb.DuckDBPyConnection, truth: dict[str, Any]) -> dict[str, str]:
    """Workspace market id -> range market id: by onion host (a crawled site), else, for a
    workspace market without onions, by the range market's name (an import by name)."""
    by_onion = {o: m["market_id"] for m in truth["markets"] for o in m["onions"]}
    by_name = {m["name"]: m["market_id"] for m in truth["markets"]}
    matched: dict[str, str] = {}
    for mid, name, onions in con.execute(
        "SELECT id, name, onions FROM markets ORDER BY id"
    ).fetchall():
        found = next((by_onion[o] for o in onions or [] if o in by_onion), None)
        if found is None and not onions:
            found = by_name.get(name)
        if found is not None:
            matched[mid] = found
    return matched


class TruthAccount(NamedTuple):
    """One account of the range's truth."""

    account_id: str
    actor_id: str
    impostor_of: str | None  # the actor it impersonates


def truth_accounts(out: Path) -> dict[tuple[str, str, str], TruthAccount]:
    """(kind, range market id, handle case-folded) -> the truth account, for every vendor
    account (kind "vendor") and forum member (kind "member") of the range."""
    world = out / "world"
    accounts = pq.read_table(world / "accounts.parquet")
    has_impostors = "impostor_of" in accounts.column_names
    result: dict[tuple[str, str, str], TruthAccount] = {}
    for a in accounts.to_pylist():
        copied = a["impostor_of"] if has_impostors else None
        key = ("vendor", a["market_id"], a["handle"].casefold())
        result[key] = TruthAccount(a["account_id"], a["actor_id"], copied)
    for m in pq.read_table(world / "forum_members.parquet").to_pylist():
        key = ("member", m["market_id"], m["name"].casefold())
        result[key] = TruthAccount(m["member_id"], m["actor_id"] or m["member_id"], None)
    return result


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _none(scope: str, **extra: Any) -> dict[str, Any]:
    return {**dict.fromkeys(KEYS), **extra, "scope": scope}


def linking_score(out: Path, ws: Workspace) -> dict[str, Any]:
    """The ``linking`` part of the score (see the module doc)."""
    truth = read_truth(out)
    world_accounts = truth_accounts(out)
    impostors = sum(1 for t in world_accounts.values() if t.impostor_of)
    con = ws.store.con
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'actor_accounts'"
    ).fetchone()
    rows = (
        con.execute(
            "SELECT actor_id, account_id, kind, market_id, handle FROM actor_accounts "
            "ORDER BY account_id"
        ).fetchall()
        if present and present[0]
        else []
    )
    if not rows:
        return _none(
            "no actors in the workspace (run `spector resolve`)",
            impostors=impostors,
        )
    markets = match_markets(con, truth)
    items: list[tuple[str, TruthAccount]] = []  # (predicted actor, truth account)
    unmatched = 0
    for actor_id, _account, kind, market_id, handle in rows:
        rmid = markets.get(market_id)
        t = (
            world_accounts.get(
                ("member" if kind == "member" else "vendor", rmid, handle.casefold())
            )
            if rmid is not None and handle
            else None
        )
        if t is None:
            unmatched += 1
            continue
        items.append((actor_id, t))
    predicted = Counter(p for p, _ in items)
    actual = Counter(t.actor_id for _, t in items)
    both = Counter((p, t.actor_id) for p, t in items)
    predicted_pairs = sum(_pairs(n) for n in predicted.values())
    truth_pairs = sum(_pairs(n) for n in actual.values())
    true_pairs = sum(_pairs(n) for n in both.values())
    precision = true_pairs / predicted_pairs if predicted_pairs else None
    recall = true_pairs / truth_pairs if truth_pairs else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall
        else (0.0 if precision == 0 or recall == 0 else None)
    )
    # impostors merged: in one workspace actor with an account of the actor they copy
    actors_in: dict[str, set[str]] = defaultdict(set)  # predicted actor -> truth actors
    for p, t in items:
        actors_in[p].add(t.actor_id)
    held = [(p, t) for p, t in items if t.impostor_of]
    merged = sum(1 for p, t in held if t.impostor_of in actors_in[p])
    false_pairs = predicted_pairs - true_pairs
    accounts_seen = len({t.account_id for _, t in items})
    scope = (
        f"pairs of the {len(items):,} workspace accounts matched to the range's truth "
        f"({accounts_seen:,} of its {len(world_accounts):,} vendor accounts and forum members; "
        f"{unmatched:,} workspace accounts matched none and are not scored): "
        f"{predicted_pairs:,} pairs linked, {truth_pairs:,} pairs the same person; "
        f"{impostors:,} impostors in the range, {len(held):,} in the workspace, "
        f"{merged:,} merged with the vendor they copy"
    )
    return {
        "precision": _round(precision),
        "recall": _round(recall),
        "f1": _round(f1),
        "impostors_merged": merged,
        "impostors": impostors,
        "impostors_in_workspace": len(held),
        "pairs": {
            "predicted": predicted_pairs,
            "truth": truth_pairs,
            "true": true_pairs,
            "false": false_pairs,
            "missed": truth_pairs - true_pairs,
        },
        "accounts": {
            "matched": len(items),
            "unmatched": unmatched,
            "truth": len(world_accounts),
            "actors_predicted": len(predicted),
            "actors_truth": len(actual),
        },
        "scope": scope,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
