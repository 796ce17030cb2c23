"""`spector sim score`'s ``clustering`` figures: the workspace's clusters against the truth.

Owners are compared as ``(owner_kind, owner_id)`` of the range's
``chain/addresses.parquet``: a vendor *account* (not its actor), an exchange, a market,
the mixer, one coinjoin participant, one background wallet, one buyer, one mining pool.
Addresses the truth does not know (P2PK pseudo-addresses, real-chain addresses) are
counted as ``unknown`` and never scored.

- ``false_merge_rate``: of the merges in ``cluster_merges`` whose two addresses both have
  a known owner, the share joining two different owners. A merge row names the two
  addresses it joined (``address_a``, ``address_b``); rows marked ``held`` (the
  super-cluster guard), when the table has that column, were not applied and are left
  out. Also per heuristic and through the range's coinjoin and mixer transactions (by
  the truth's kind of the merge's txid), and, from ``chain_clusters``, the clusters
  holding more than one owner.
- ``recall``: per owner, the addresses found in its largest cluster over all its
  addresses in ``chain_clusters``; summed over owners (address-weighted), overall and per
  ``owner_kind``.
- ``coinjoin_precision`` / ``coinjoin_recall``: ``detect_mixing``'s transactions of
  every kind but ``chip`` against the truth's ``coinjoin`` transactions; its ``chip``
  transactions against ``mixer_split`` and ``mixer_out`` as ``chips``.
- ``change``: per change heuristic, ``change_outputs`` on top of the clusters as they are
  (outputs of transactions ``detect_mixing`` flags are skipped, as the clustering skips
  them): ``merges_added`` counts the outputs that join two clusters not yet joined (one
  after another, so a merge a previous output made is not counted twice) and
  ``false_merges`` those whose change address and the transaction's first input have
  different owners; ``precision`` is the share of all judged change outputs that truly
  belong to the owner of the transaction's first input. The super-cluster guard is not
  applied here (these figures say what the heuristic would add, not what a run kept).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["clustering_score", "registered", "table_columns"]

MIXER_KINDS = ("mixer_in", "mixer_split", "mixer_out")
CHIP_KINDS = ("mixer_split", "mixer_out")


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    """The columns of table or view ``name`` (empty if there is none)."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [name]
    ).fetchall()
    return {r[0] for r in rows}


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, table: pa.Table) -> Iterator[str]:
    """``table`` visible to SQL under a fresh name for the ``with`` block."""
    name = f"score_{uuid.uuid4().hex[:12]}"
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def clustering_score(
    con: duckdb.DuckDBPyConnection,
    chain_dir: Path,
    *,
    detect: Callable[..., pa.Table] | None = None,
    change: Callable[..., pa.Table] | None = None,
    heuristics: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The ``clustering`` figures of the workspace behind ``con`` against ``chain_dir``'s truth.

    ``detect`` and ``change`` default to ``spector.chain._coinjoin.detect_mixing`` and
    ``spector.chain._change.change_outputs`` (``heuristics``: its ``CHANGE_HEURISTICS``).
    Without ``chain_clusters`` every figure is None and ``scope`` says why.
    """
    addresses = pq.read_table(
        chain_dir / "addresses.parquet", columns=["address", "owner_kind", "owner_id"]
    )
    kinds = pq.read_table(chain_dir / "transactions.parquet", columns=["txid", "kind"])
    empty = {
        "false_merge_rate": None,
        "recall": None,
        "coinjoin_precision": None,
        "coinjoin_recall": None,
    }
    if not table_columns(con, "chain_clusters"):
        return {**empty, "scope": "no clusters in the workspace (run `spector chain cluster`)"}
    with registered(con, addresses) as truth, registered(con, kinds) as tx_kinds:
        result: dict[str, Any] = {**empty}
        result.update(_recall(con, truth))
        merges = _merges(con, truth, tx_kinds)
        result["counts"].update(merges.pop("_merge_counts"))
        result.update(merges)
        mixing = _mixing(con, tx_kinds, detect)
        flagged = mixing.pop("_flagged")
        result.update(mixing)
        result["change"] = _change(con, truth, change, heuristics, flagged)
    result["scope"] = (
        f"{result['counts']['addresses']:,} clustered addresses of "
        f"{result['counts']['owners']:,} owners (owner_kind + owner_id of the range's truth); "
        f"{result['counts']['merges']:,} merges with both owners known"
    )
    return result


def _merges(con: duckdb.DuckDBPyConnection, truth: str, tx_kinds: str) -> dict[str, Any]:
    cols = table_columns(con, "cluster_merges")
    if not cols:
        return {
            "by_heuristic": {},
            "_merge_counts": {"merge_rows": 0, "merges": 0, "false_merges": 0},
        }
    held = "WHERE NOT coalesce(m.held, false)" if "held" in cols else ""
    rows = con.execute(
        f"""
        SELECT m.heuristic,
               coalesce(k.kind, 'unknown') AS kind,
               count(*) AS rows,
               count(*) FILTER (a.owner_kind IS NOT NULL AND b.owner_kind IS NOT NULL) AS known,
               count(*) FILTER (a.owner_kind IS NOT NULL AND b.owner_kind IS NOT NULL
                                AND (a.owner_kind, a.owner_id) <> (b.owner_kind, b.owner_id))
                   AS false_merges
        FROM cluster_merges m
        LEFT JOIN {truth} a ON a.address = m.address_a
        LEFT JOIN {truth} b ON b.address = m.address_b
        LEFT JOIN {tx_kinds} k ON k.txid = m.txid
        {held}
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    by_heuristic: dict[str, dict[str, Any]] = {}
    through = {
        "coinjoin": {"merges": 0, "false_merges": 0},
        "mixer": {"merges": 0, "false_merges": 0},
    }
    total = known = false = 0
    for heuristic, kind, n, k, f in rows:
        part = by_heuristic.setdefault(heuristic, {"merges": 0, "false_merges": 0, "unknown": 0})
        part["merges"] += k
        part["false_merges"] += f
        part["unknown"] += n - k
        total, known, false = total + n, known + k, false + f
        group = "coinjoin" if kind == "coinjoin" else "mixer" if kind in MIXER_KINDS else None
        if group:
            through[group]["merges"] += n
            through[group]["false_merges"] += f
    for part in by_heuristic.values():
        part["false_merge_rate"] = _rate(part["false_merges"], part["merges"])
    impure = con.execute(
        f"""
        SELECT count(*), coalesce(sum(n), 0) FROM (
            SELECT c.cluster_id, count(*) AS n,
                   count(DISTINCT (t.owner_kind, t.owner_id)) AS owners
            FROM chain_clusters c JOIN {truth} t USING (address) GROUP BY c.cluster_id
        ) WHERE owners > 1
        """
    ).fetchall()[0]
    return {
        "false_merge_rate": _rate(false, known),
        "by_heuristic": by_heuristic,
        "through": through,
        "impure_clusters": {"clusters": int(impure[0]), "addresses": int(impure[1])},
        "_merge_counts": {"merge_rows": total, "merges": known, "false_merges": false},
    }


def _recall(con: duckdb.DuckDBPyConnection, truth: str) -> dict[str, Any]:
    rows = con.execute(
        f"""
        WITH per AS (
            SELECT t.owner_kind, t.owner_id, c.cluster_id, count(*) AS n
            FROM {truth} t JOIN chain_clusters c USING (address) GROUP BY ALL
        ), best AS (
            SELECT owner_kind, owner_id, max(n) AS largest, sum(n) AS total,
                   count(*) AS clusters
            FROM per GROUP BY ALL
        )
        SELECT owner_kind, count(*), sum(largest), sum(total), sum(clusters),
               count(*) FILTER (clusters = 1)
        FROM best GROUP BY owner_kind ORDER BY owner_kind
        """
    ).fetchall()
    clustered, unknown, missing = con.execute(
        f"""
        SELECT (SELECT count(*) FROM chain_clusters),
               (SELECT count(*) FROM chain_clusters c ANTI JOIN {truth} t USING (address)),
               (SELECT count(*) FROM {truth} t ANTI JOIN chain_clusters c USING (address))
        """
    ).fetchall()[0]
    by_kind = {}
    owners = found = total = 0
    for kind, n_owners, largest, addrs, clusters, whole in rows:
        by_kind[kind] = {
            "recall": _rate(int(largest), int(addrs)),
            "owners": int(n_owners),
            "addresses": int(addrs),
            "clusters": int(clusters),
            "owners_in_one_cluster": int(whole),
        }
        owners, found, total = owners + n_owners, found + int(largest), total + int(addrs)
    return {
        "recall": _rate(found, total),
        "recall_by_owner_kind": by_kind,
        "counts": {
            "addresses": int(clustered),
            "owners": int(owners),
            "unknown_addresses": int(unknown),
            "truth_addresses_not_clustered": int(missing),
        },
    }


def _mixing(
    con: duckdb.DuckDBPyConnection, tx_kinds: str, detect: Callable[..., pa.Table] | None
) -> dict[str, Any]:
    if detect is None:
        from spector.chain._coinjoin import detect_mixing

        detect = detect_mixing
    found = detect(con)
    with registered(con, found.select(["txid", "kind"])) as det:
        rows = con.execute(
            f"""
            SELECT d.kind AS detected, coalesce(k.kind, 'unknown') AS truth, count(*)
            FROM {det} d LEFT JOIN {tx_kinds} k USING (txid) GROUP BY ALL ORDER BY ALL
            """
        ).fetchall()
        truth_counts = dict(
            con.execute(
                f"SELECT kind, count(*) FROM {tx_kinds} WHERE kind IN "
                "('coinjoin', 'mixer_split', 'mixer_out') GROUP BY kind"
            ).fetchall()
        )
    confusion: dict[str, dict[str, int]] = {}
    for detected, kind, n in rows:
        confusion.setdefault(detected, {})[kind] = int(n)
    cj_found = sum(n for d, t in confusion.items() if d != "chip" for k, n in t.items())
    cj_true = sum(t.get("coinjoin", 0) for d, t in confusion.items() if d != "chip")
    chip = confusion.get("chip", {})
    chip_found = sum(chip.values())
    chip_true = sum(chip.get(k, 0) for k in CHIP_KINDS)
    cj_truth = int(truth_counts.get("coinjoin", 0))
    chip_truth = sum(int(truth_counts.get(k, 0)) for k in CHIP_KINDS)
    return {
        "coinjoin_precision": _rate(cj_true, cj_found),
        "coinjoin_recall": _rate(cj_true, cj_truth),
        "coinjoin_counts": {"detected": cj_found, "true": cj_true, "truth": cj_truth},
        "chips": {
            "precision": _rate(chip_true, chip_found),
            "recall": _rate(chip_true, chip_truth),
            "detected": chip_found,
            "true": chip_true,
            "truth": chip_truth,
            "scope": "detected 'chip' transactions against the truth's mixer_split + mixer_out",
        },
        "detected_by_kind": confusion,
        "_flagged": found.column("txid"),
    }


def _change(
    con: duckdb.DuckDBPyConnection,
    truth: str,
    change: Callable[..., pa.Table] | None,
    heuristics: tuple[str, ...] | None,
    flagged: pa.ChunkedArray | None,
) -> dict[str, dict[str, Any]]:
    if change is None or heuristics is None:
        from spector.chain import _change

        change = change or _change.change_outputs
        heuristics = heuristics if heuristics is not None else _change.CHANGE_HEURISTICS
    skip = pa.table({"txid": flagged if flagged is not None else pa.array([], pa.string())})
    base = dict(con.execute("SELECT address, cluster_id FROM chain_clusters").fetchall())
    out = {}
    with registered(con, skip) as skipped:
        for name in heuristics:
            judged = change(con, name).select(["txid", "address"])
            with registered(con, judged) as ch:
                rows = con.execute(
                    f"""
                    WITH first_in AS (
                        SELECT txid, arg_min(address, vin) AS input FROM inputs
                        WHERE NOT coinbase AND address IS NOT NULL
                          AND txid IN (SELECT txid FROM {ch}) GROUP BY txid
                    )
                    SELECT c.address, f.input,
                           ta.owner_kind IS NOT NULL AND tb.owner_kind IS NOT NULL,
                           (ta.owner_kind, ta.owner_id) = (tb.owner_kind, tb.owner_id)
                    FROM {ch} c JOIN first_in f USING (txid)
                    LEFT JOIN {truth} ta ON ta.address = c.address
                    LEFT JOIN {truth} tb ON tb.address = f.input
                    WHERE c.txid NOT IN (SELECT txid FROM {skipped}) AND c.address IS NOT NULL
                    ORDER BY c.txid, c.address
                    """
                ).fetchall()
            out[name] = _replay(rows, base)
    return out


def _replay(rows: list[tuple[str, str, bool, bool | None]], base: dict[str, int]) -> dict[str, Any]:
    """Apply judged change outputs on top of the clusters ``base``; count what they add."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    added = false = known = same_owner = 0
    for change_address, first_input, both_known, same in rows:
        a, b = base.get(change_address), base.get(first_input)
        if both_known:
            known += 1
            same_owner += bool(same)
        if a is None or b is None:
            continue
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        parent[max(ra, rb)] = min(ra, rb)
        added += 1
        false += bool(both_known and not same)
    return {
        "judged": len(rows),
        "merges_added": added,
        "false_merges": false,
        "false_merge_rate": _rate(false, added),
        "precision": _rate(same_owner, known),
    }
