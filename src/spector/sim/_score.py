"""`spector sim score`: what a workspace found, compared with the range's truth.

The scorer reads only the workspace's published tables and the range's truth files.
Each stage adds its metrics here under its own key (see the issue's contract):
``extraction.*``, ``chain.*``, ``clustering.*`` and ``tracing.*`` (the chain's clusters
and traces against its ownership truth: ``spector.sim._score_chain`` and
``_score_chain_trace``), ``linking.*`` (the workspace's actors, pairwise against the
range's persons, impostors their own: ``spector.sim._score_link``) and ``revenue.*`` (the
economics estimate per market and vendor against the sales a crawl could know of:
``spector.sim._score_revenue``); a stage the workspace has not run gives None figures and
a ``scope`` saying so.

``extraction`` scores listings, vendor accounts, feedback and forum posts field by field
(``spector.sim._score_extract``) against what a crawl can see on the range's last day
(``spector.sim._score_truth``); its ``seized`` part scores the seized server's import
against the export's truth (``spector.sim._score_seized``). Workspace markets are matched
to the range's by their onion hosts (a crawled site); the seized market, imported by
name, by its name (a market without onions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from spector.sim._range import read_truth
from spector.sim._score_extract import KindRows, Tally, figures, read_rows, tally_kind
from spector.sim._score_link import linking_score
from spector.sim._score_revenue import revenue_score
from spector.sim._score_seized import SEIZED_KINDS, seized_truth
from spector.sim._score_truth import KINDS, KindTruth, crawl_truth, describe, noun
from spector.store import Store, Workspace

__all__ = ["score"]

SEIZED_SOURCE = "SELECT entity_id FROM observations WHERE source LIKE 'seized:%'"


def score(out: Path, ws: Workspace) -> dict[str, Any]:
    truth = read_truth(out)
    day = int(truth["day"])
    result: dict[str, Any] = {
        "range": {
            "seed": truth["seed"],
            "scale": truth["scale"],
            "day": day,
            "counts": truth["counts"],
        }
    }
    result["extraction"] = _extraction(out, ws.store, truth)
    result["chain"] = _chain(out, ws)
    result["clustering"], result["tracing"] = _follow(out, ws)
    result["linking"] = linking_score(out, ws)
    result["revenue"] = revenue_score(out, ws)
    return result


def _follow(out: Path, ws: Workspace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Clusters and traces against the chain's ownership truth (``spector.sim._score_chain``
    and ``_score_chain_trace`` define each figure); None figures with a ``scope`` saying
    what is missing when the range has no chain or the workspace has not clustered it."""
    from spector.sim._score_chain import clustering_score, table_columns
    from spector.sim._score_chain_trace import tracing_score

    keys = ("false_merge_rate", "recall", "coinjoin_precision", "coinjoin_recall")
    none = dict.fromkeys(keys)
    if not (out / "chain" / "addresses.parquet").is_file():
        why = "the range has no chain"
        return {**none, "scope": why}, {"traced_share": None, "by_policy": {}, "scope": why}
    from spector.chain._query import ensure_views

    ensure_views(ws)
    con = ws.store.con
    if (
        not table_columns(con, "txs")
        or not con.execute("SELECT count(*) FROM txs").fetchall()[0][0]
    ):
        why = "no chain in the workspace (run `spector chain ingest`)"
        return {**none, "scope": why}, {"traced_share": None, "by_policy": {}, "scope": why}
    clustered = (
        table_columns(con, "chain_clusters")
        and con.execute("SELECT count(*) FROM chain_clusters").fetchall()[0][0]
    )
    if not clustered:
        clustering = {**none, "scope": "no clusters in the workspace (run `spector chain cluster`)"}
    else:
        clustering = clustering_score(con, out / "chain")
    tagged = (
        table_columns(con, "chain_tags")
        and con.execute("SELECT count(*) FROM chain_tags").fetchall()[0][0]
    )
    if not tagged:
        why = "no tags in the workspace (run `spector chain tags import`)"
        tracing: dict[str, Any] = {"traced_share": None, "by_policy": {}, "scope": why}
    else:
        tracing = tracing_score(ws, out)
    return clustering, tracing


def _chain(out: Path, ws: Workspace) -> dict[str, Any]:
    """Ingestion: the range's transactions found at their heights with their fees, every
    input resolved, every hop of every sale's payment path found as an output."""
    folder = out / "chain"
    if not (folder / "transactions.parquet").is_file():
        return {"recall": None}
    from spector.chain._query import ensure_views

    ensure_views(ws)
    con = ws.store.con
    truth = pq.read_table(folder / "transactions.parquet").to_pylist()
    got = {
        r[0]: (int(r[1]), r[2]) for r in con.execute("SELECT txid, height, fee FROM txs").fetchall()
    }
    if not got:
        return {"recall": None}
    found = [t for t in truth if got.get(t["txid"], (None,))[0] == t["block_height"]]
    paid = [t for t in found if t["kind"] != "coinbase"]
    fees_exact = sum(1 for t in paid if got[t["txid"]][1] == t["fee_sat"])
    inputs = con.execute(
        "SELECT count(*), count(value) FROM inputs WHERE NOT coinbase"
    ).fetchone() or (0, 0)
    hops = {
        (p["txid"], p["address"]) for p in pq.read_table(folder / "sale_paths.parquet").to_pylist()
    }
    seen = set(
        con.execute(
            "SELECT DISTINCT txid, address FROM outputs WHERE (txid, address) IN "
            "(SELECT unnest(?), unnest(?))",
            [[h[0] for h in hops], [h[1] for h in hops]],
        ).fetchall()
    ) if hops else set()  # fmt: skip
    return {
        "recall": round(len(found) / len(truth), 6) if truth else None,
        "transactions": len(truth),
        "fee_exact": round(fees_exact / len(paid), 6) if paid else None,
        "inputs_resolved": round(inputs[1] / inputs[0], 6) if inputs[0] else None,
        "sale_hops_found": round(len(seen) / len(hops), 6) if hops else None,
    }


def _extraction(out: Path, store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Listings, vendor accounts, feedback and posts of the crawled markets, field by field,
    per kind and per family; and the seized server's records (``seized``)."""
    rt = crawl_truth(out, truth)
    market_of_onion = {o: m["market_id"] for m in truth["markets"] for o in m["onions"]}
    matched: dict[str, str] = {}  # workspace market id -> range market id
    others = 0
    for mid, onions in store.con.execute("SELECT id, onions FROM markets ORDER BY id").fetchall():
        found = next((market_of_onion[o] for o in onions or [] if o in market_of_onion), None)
        if found:
            matched[mid] = found
        else:
            others += 1
    rows = {kind: read_rows(store, kind, matched) for kind in KINDS}
    result = _assemble(rt.kinds, rows, rt.families, rt.scope, by_family=True, day=rt.day)
    result["markets"] = {
        m["name"]: {
            "family": m["family"],
            "closed": (
                f"{rt.closed[m['market_id']][0]} on day {rt.closed[m['market_id']][1]}"
                if m["market_id"] in rt.closed
                else None
            ),
            "workspace_markets": sum(1 for r in matched.values() if r == m["market_id"]),
        }
        for m in truth["markets"]
    }
    result["unmatched_workspace_markets"] = others  # no onion of the range: not scored here
    result["seized"] = _seized(out, store, truth, matched)
    return result


def _seized(
    out: Path, store: Store, truth: dict[str, Any], crawled: dict[str, str]
) -> dict[str, Any] | None:
    """The seized server's records: those of the workspace market imported under the seized
    market's name (one without onions); if the import went into the crawled market, the
    records a seized source observed there."""
    st = seized_truth(out, truth)
    if st is None:
        return None
    named = {
        mid: st.market_id
        for mid, ref, onions in store.con.execute(
            "SELECT id, ref, onions FROM markets WHERE name = ?", [st.name]
        ).fetchall()
        if ref == f"name:{st.name}" or (ref is None and not onions)
    }
    only, how = None, "by name (a market without onions)"
    if not named:
        named = {w: r for w, r in crawled.items() if r == st.market_id}
        only, how = SEIZED_SOURCE, "the crawled market's records a seized import observed"
    rows = {kind: read_rows(store, kind, named, only) for kind in SEIZED_KINDS}
    result = _assemble(st.kinds, rows, {st.market_id: st.family}, st.scope, by_family=False)
    result["market"] = st.name
    result["workspace_markets"] = len(named)
    result["matched"] = how
    return result


def _assemble(
    kinds: dict[str, KindTruth],
    rows: dict[str, KindRows],
    families: dict[str, str],
    scope: str,
    *,
    by_family: bool,
    day: int = 0,
) -> dict[str, Any]:
    total = Tally()
    per_family: dict[str, dict[str, Tally]] = {}
    by_kind = {}
    for kind, kt in kinds.items():
        t, fams = tally_kind(kt, rows[kind], families)
        by_kind[kind] = figures(t, kt.scope)
        total.add(_prefixed(t, kind))
        for fam, ft in fams.items():
            per_family.setdefault(fam, {})[kind] = ft
    result = _summary(total, scope)
    result["by_kind"] = by_kind
    if by_family:
        result["by_family"] = {}
        for fam, tallies in sorted(per_family.items()):
            ft_total = Tally()
            for kind, t in tallies.items():
                ft_total.add(_prefixed(t, kind))
            parts = [f"{noun(k, t.truth)} of {t.truth_ever:,}" for k, t in tallies.items()]
            result["by_family"][fam] = {
                **_summary(ft_total, f"{fam}: " + ", ".join(parts)),
                "by_kind": {
                    k: figures(t, describe(k, t.truth, t.truth_ever, day, t.excluded_closed))
                    for k, t in tallies.items()
                },
            }
    return result


def _summary(t: Tally, scope: str) -> dict[str, Any]:
    out = figures(t, scope, examples=False)
    out.pop("fields")  # per field: in by_kind
    return out


def _prefixed(t: Tally, kind: str) -> Tally:
    """``t`` with its fields named ``kind.field``, to add tallies of several kinds."""
    copy = Tally()
    copy.add(t)
    copy.fields = {f"{kind}.{name}": f for name, f in t.fields.items()}
    return copy
