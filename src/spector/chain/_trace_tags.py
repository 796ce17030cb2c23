"""The tracer's view of attribution tags: which categories it may stop at, and the
addresses of the services in them (through ``spector.chain._tags``, which propagates
tags over clusters)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from spector.chain._tags import CATEGORY_ALIASES
from spector.chain._tags_schema import concept_ids as schema_concept_ids
from spector.chain._trace_graph import has_table
from spector.errors import InputError

__all__ = [
    "ALIASES",
    "DEFAULT_TO_TAGS",
    "NodeTags",
    "check_categories",
    "node_tags",
    "services",
]

DEFAULT_TO_TAGS = ("exchange", "mixing_service", "market")
# the tags part's aliases (``mixer``), and plurals; ``mixing`` is a concept of its own
ALIASES = {**CATEGORY_ALIASES, "exchanges": "exchange", "markets": "market"}


def concept_ids() -> frozenset[str]:
    """GraphSense's concept ids (tagpack-tool's ``db/concepts.yaml``), as tags import
    reads them."""
    return frozenset(schema_concept_ids())


def check_categories(con: duckdb.DuckDBPyConnection, categories: Iterable[str]) -> list[str]:
    """``categories`` with aliases resolved (``mixer`` = ``mixing_service``), duplicates
    dropped, each checked against GraphSense's concepts and the categories the store's
    tags use: an unknown one is an ``InputError`` naming the closest known id."""
    known = set(concept_ids())
    if has_table(con, "chain_tags"):
        known |= {
            str(r[0])
            for r in con.execute(
                "SELECT DISTINCT category FROM chain_tags WHERE category IS NOT NULL"
            ).fetchall()
        }
    out: list[str] = []
    for raw in categories:
        name = raw.strip().lower()
        if not name:
            continue
        name = ALIASES.get(name, name)
        if name not in known:
            from difflib import get_close_matches

            close = get_close_matches(name, sorted(known | set(ALIASES)), n=1)
            raise InputError(
                f"unknown tag category {raw!r}",
                expected="a GraphSense concept id such as exchange, mixing_service (alias "
                "mixer), market",
                hint=f"did you mean {close[0]!r}?" if close else None,
            )
        if name not in out:
            out.append(name)
    return out


def services(con: duckdb.DuckDBPyConnection, categories: Sequence[str]) -> dict[str, Any]:
    """Every address whose own or cluster tags are in ``categories``, with its best tag
    (``TagRef``); empty when the store holds no tags."""
    if not categories or not has_table(con, "chain_tags"):
        return {}
    from spector.chain._tags import service_addresses

    return dict(service_addresses(con, list(categories)))


def node_tags(
    con: duckdb.DuckDBPyConnection, addresses: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each address's tags (own and its cluster's) as plain dicts for the result graph."""
    return NodeTags(con)(addresses)


class NodeTags:
    """``node_tags`` for many results over one store: the addresses that can have a tag
    at all (tagged ones and the members of clusters holding one) are found once, and
    each address's tags are asked of ``tags_for`` once and kept. The first call asks
    only for its own addresses; a second one (many results to come) asks for every
    address that can have a tag, in one query. A snapshot: tags imported after the
    first call are not seen."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._candidates: set[str] | None = None
        self._known: dict[str, list[dict[str, Any]]] = {}
        self._calls = 0

    def _tagged(self) -> set[str]:
        if self._candidates is None:
            from spector.chain._tags import has_clusters

            found: set[str] = set()
            if has_table(self.con, "chain_tags"):
                sql = "SELECT address FROM chain_tags WHERE address IS NOT NULL"
                if has_clusters(self.con):
                    sql += (
                        " UNION SELECT m.address FROM chain_tags t JOIN chain_clusters c "
                        "ON c.address = t.address JOIN chain_clusters m "
                        "ON m.cluster_id = c.cluster_id"
                    )
                found = {str(r[0]) for r in self.con.execute(sql).fetchall()}
            self._candidates = found
        return self._candidates

    def _fetch(self, addresses: list[str]) -> None:
        from spector.chain._tags import tags_for

        for address, refs in tags_for(self.con, addresses).items():
            self._known[address] = [
                {
                    "label": r.label,
                    "category": r.category,
                    "confidence": r.confidence,
                    "source": r.source,
                    "via": r.via,
                }
                for r in refs
            ]

    def __call__(self, addresses: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        self._calls += 1
        tagged = self._tagged()
        wanted = list(dict.fromkeys(a for a in addresses if a and a in tagged))
        new = [a for a in wanted if a not in self._known]
        if new:
            if self._calls > 1:
                new = sorted(tagged.difference(self._known))
            self._fetch(new)
        return {a: [dict(t) for t in self._known[a]] for a in wanted if self._known[a]}
