"""Attribution tags: what an address (and its cluster) is known to be, with the evidence.

Tags live in ``chain_tags`` (migration 0010): imported GraphSense TagPacks
(``_tags_import``), tags derived from Spector's own data (``_tags_derive``), exported as
TagPacks (``_tags_export``). This module answers the questions the tracer and the analyst
ask, over ``chain_tags`` and the clusters of ``chain_clusters(address, cluster_id)``:

- ``tags_for(con, addresses)``: each address's own tags (``via="address"``) and the tags of
  the other addresses of its cluster (``via="cluster:<id>"``), each tag once per address,
  best first (own before cluster, then confidence level, cluster definers, label).
  Without ``chain_clusters`` (not clustered yet) an address has only its own tags.
- ``service_addresses(con, categories)``: every address whose own or cluster tags are in
  those categories, with its best tag (highest confidence level; then own before cluster).
- ``conflicts(con)``: clusters (or unclustered addresses) whose tags disagree on the
  category or the label: shown, never resolved silently.

Categories are GraphSense concept ids; ``mixer`` is accepted for ``mixing_service``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from spector.errors import UsageError

__all__ = [
    "CATEGORY_ALIASES",
    "ORIGINS",
    "Conflict",
    "TagRef",
    "category_ids",
    "conflicts",
    "has_clusters",
    "list_tags",
    "service_addresses",
    "tags_for",
]

CATEGORY_ALIASES = {"mixer": "mixing_service", "mixers": "mixing_service"}
ORIGINS = ("tagpack", "web_crawl", "seized_data", "analyst")


@dataclass(frozen=True, slots=True)
class TagRef:
    """A tag as it applies to an address: its own (``via="address"``) or its cluster's
    (``via="cluster:<id>"``, ``address`` then names the tagged address it came from)."""

    label: str
    category: str | None
    confidence: str
    confidence_level: int
    source: str
    via: str
    actor: str | None = None
    is_cluster_definer: bool = False
    origin: str = "tagpack"
    address: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "category": self.category,
            "confidence": self.confidence,
            "confidence_level": self.confidence_level,
            "source": self.source,
            "via": self.via,
            "actor": self.actor,
            "is_cluster_definer": self.is_cluster_definer,
            "origin": self.origin,
            "address": self.address,
        }


def category_ids(categories: Iterable[str]) -> list[str]:
    """Categories as GraphSense concept ids (``mixer`` -> ``mixing_service``); UsageError
    for a name that is not a concept of GraphSense's taxonomy."""
    from spector.chain._tags_schema import concept_ids, suggest

    known = concept_ids()
    out: list[str] = []
    for raw in categories:
        name = CATEGORY_ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if name not in known:
            raise UsageError(
                f"unknown category {raw!r}{suggest(name, known)}",
                expected="a GraphSense concept id such as exchange, "
                "mixing_service (or mixer), market",
            )
        if name not in out:
            out.append(name)
    return out


def has_clusters(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``chain_clusters`` exists (the CLUSTER step has run its migration)."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
        "AND table_name = 'chain_clusters'"
    ).fetchone()
    return bool(row and row[0])


_REF_COLUMNS = (
    "t.label, t.category, t.confidence, t.confidence_level, t.source, t.actor, "
    "t.is_cluster_definer, t.origin, t.address"
)


def _ref(row: tuple[Any, ...], via: str) -> TagRef:
    return TagRef(
        row[0], row[1], row[2], int(row[3]), row[4], via, row[5], bool(row[6]), row[7], row[8]
    )


def _rank(ref: TagRef) -> tuple[object, ...]:
    return (
        ref.via != "address",
        -ref.confidence_level,
        not ref.is_cluster_definer,
        ref.label,
        ref.source,
        ref.address or "",
    )


def tags_for(con: duckdb.DuckDBPyConnection, addresses: Iterable[str]) -> dict[str, list[TagRef]]:
    """Own and cluster tags of each address (every asked address is a key; [] if none)."""
    asked = list(dict.fromkeys(addresses))
    out: dict[str, list[TagRef]] = {a: [] for a in asked}
    if not asked:
        return out
    con.register("_spector_asked", pa.table({"address": pa.array(asked, pa.string())}))
    try:
        rows = [
            (r[0], _ref(r[1:], "address"))
            for r in con.execute(
                f"SELECT q.address, {_REF_COLUMNS} FROM _spector_asked q "
                "JOIN chain_tags t ON t.address = q.address"
            ).fetchall()
        ]
        if has_clusters(con):
            rows += [
                (r[0], _ref(r[2:], f"cluster:{r[1]}"))
                for r in con.execute(
                    "WITH tagged AS (SELECT c.cluster_id, t.* FROM chain_tags t "
                    "JOIN chain_clusters c ON c.address = t.address) "
                    f"SELECT q.address, c.cluster_id, {_REF_COLUMNS} FROM _spector_asked q "
                    "JOIN chain_clusters c ON c.address = q.address "
                    "JOIN tagged t ON t.cluster_id = c.cluster_id AND t.address <> q.address"
                ).fetchall()
            ]
    finally:
        con.unregister("_spector_asked")
    for address, ref in sorted(rows, key=lambda r: (r[0], _rank(r[1]))):
        same = (ref.label, ref.category, ref.confidence, ref.source)
        if any((r.label, r.category, r.confidence, r.source) == same for r in out[address]):
            continue  # the same tag through another address of the cluster
        out[address].append(ref)
    return out


def service_addresses(
    con: duckdb.DuckDBPyConnection, categories: Iterable[str]
) -> dict[str, TagRef]:
    """Address -> best tag, for every address whose own or cluster tags are in
    ``categories`` (GraphSense concept ids, or ``mixer``). The best tag of each cluster is
    chosen in SQL, so a large cluster with many tags costs one row per address."""
    wanted = category_ids(categories)
    if not wanted:
        return {}
    order = "t.confidence_level DESC, t.is_cluster_definer DESC, t.label, t.source, t.address"
    query = (
        f"SELECT t.address, NULL::BIGINT, {_REF_COLUMNS} FROM chain_tags t "
        "WHERE t.address IS NOT NULL AND list_contains($wanted, t.category) "
        f"QUALIFY row_number() OVER (PARTITION BY t.address ORDER BY {order}) = 1"
    )
    if has_clusters(con):
        query += (
            " UNION ALL (WITH best AS (SELECT c.cluster_id, t.* FROM chain_tags t "
            "JOIN chain_clusters c ON c.address = t.address WHERE list_contains($wanted, "
            f"t.category) QUALIFY row_number() OVER (PARTITION BY c.cluster_id ORDER BY {order})"
            f" = 1) SELECT m.address, t.cluster_id, {_REF_COLUMNS} FROM best t "
            "JOIN chain_clusters m ON m.cluster_id = t.cluster_id)"
        )
    best: dict[str, TagRef] = {}
    for row in con.execute(query, {"wanted": wanted}).fetchall():
        ref = _ref(row[2:], "address" if row[1] is None else f"cluster:{row[1]}")
        held = best.get(row[0])
        if held is None or _best_key(ref) < _best_key(held):
            best[row[0]] = ref
    return best


def _best_key(ref: TagRef) -> tuple[object, ...]:
    return (-ref.confidence_level, *_rank(ref))


@dataclass(frozen=True)
class Conflict:
    """Tags of one cluster (or of one unclustered address) that disagree."""

    group: str  # cluster:<id> or address:<address>
    kind: str  # category (different categories) or label (one category, different labels)
    size: int  # addresses in the cluster (1 for an address)
    tags: list[dict[str, Any]] = field(default_factory=list)  # label, category, ... per tag

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "kind": self.kind, "size": self.size, "tags": self.tags}


def conflicts(con: duckdb.DuckDBPyConnection) -> list[Conflict]:
    """Groups whose tags have more than one category, or more than one label (case
    ignored); category conflicts first, then by how many addresses carry the tags."""
    if has_clusters(con):
        grouped = (
            "SELECT coalesce('cluster:' || c.cluster_id, 'address:' || t.address) AS grp, "
            "coalesce(s.size, 1) AS size, t.* FROM chain_tags t "
            "LEFT JOIN chain_clusters c ON c.address = t.address "
            "LEFT JOIN (SELECT cluster_id, count(*) AS size FROM chain_clusters "
            "GROUP BY cluster_id) s ON s.cluster_id = c.cluster_id WHERE t.address IS NOT NULL"
        )
    else:
        grouped = (
            "SELECT 'address:' || t.address AS grp, 1 AS size, t.* FROM chain_tags t "
            "WHERE t.address IS NOT NULL"
        )
    rows = con.execute(
        f"WITH g AS ({grouped}), bad AS (SELECT grp, count(DISTINCT coalesce(category, '')) "
        "AS categories FROM g GROUP BY grp HAVING count(DISTINCT coalesce(category, '')) > 1 "
        "OR count(DISTINCT lower(label)) > 1) "
        "SELECT g.grp, any_value(g.size), any_value(bad.categories), g.label, g.category, "
        "g.confidence, max(g.confidence_level), count(DISTINCT g.address), "
        "min(g.address), any_value(g.source), any_value(g.origin) "
        "FROM g JOIN bad USING (grp) GROUP BY g.grp, g.label, g.category, g.confidence "
        "ORDER BY g.grp, max(g.confidence_level) DESC, g.label"
    ).fetchall()
    found: dict[str, Conflict] = {}
    for (
        grp,
        size,
        categories,
        label,
        category,
        confidence,
        level,
        count,
        first,
        source,
        origin,
    ) in rows:
        item = found.setdefault(
            grp, Conflict(grp, "category" if categories > 1 else "label", int(size))
        )
        item.tags.append(
            {
                "label": label,
                "category": category,
                "confidence": confidence,
                "confidence_level": int(level),
                "addresses": int(count),
                "example": first,
                "source": source,
                "origin": origin,
            }
        )
    return sorted(
        found.values(),
        key=lambda c: (c.kind != "category", -sum(t["addresses"] for t in c.tags), c.group),
    )


def list_tags(
    con: duckdb.DuckDBPyConnection,
    *,
    label: str | None = None,
    category: str | None = None,
    origin: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Stored tags (own tags only; ``tags_for`` adds the cluster's), filtered: ``label``
    is a case-insensitive substring, ``category`` a concept id (or ``mixer``)."""
    where, params = ["TRUE"], []
    if label:
        where.append("lower(label) LIKE '%' || lower(?) || '%'")
        params.append(label)
    if category:
        where.append("category = ?")
        params.append(category_ids([category])[0])
    if origin:
        if origin not in ORIGINS:
            raise UsageError(f"unknown tag origin {origin!r}", expected=" | ".join(ORIGINS))
        where.append("origin = ?")
        params.append(origin)
    sql = (
        "SELECT address, tx_hash, label, category, confidence, confidence_level, source, "
        "actor, is_cluster_definer, origin, origin_ref, pack, line FROM chain_tags "
        f"WHERE {' AND '.join(where)} ORDER BY label, address, origin_ref"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    names = (
        "address",
        "tx_hash",
        "label",
        "category",
        "confidence",
        "confidence_level",
        "source",
        "actor",
        "is_cluster_definer",
        "origin",
        "origin_ref",
        "pack",
        "line",
    )
    return [dict(zip(names, row, strict=True)) for row in con.execute(sql, params).fetchall()]
