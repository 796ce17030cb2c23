"""Spector's own tags (and, optionally, their clusters) as a GraphSense TagPack.

``export_pack(con)`` builds the pack of every tag Spector made itself (``web_crawl``,
``seized_data``, ``analyst``; imported packs are other people's and stay out). The pack
passes GraphSense's validation: a confidence id of Spector's extension is written as the
GraphSense id it maps to (``seized_data`` -> ``forensic_investigation``), and the tag's
``context`` keeps the original (``{"spector": {"confidence": "seized_data", ...}}``), so that
importing the pack again gives the same tags back.

With ``clusters=True`` every address of each cluster that holds one of those tags gets a
tag too: one per address and (label, category), from the best tag of that label in the
cluster, marked ``is_cluster_definer`` (as are the tags it came from), with the cluster and
the tagged address in its context. Requires ``chain_clusters``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml

from spector.chain._tags import has_clusters
from spector.chain._tags_schema import confidences
from spector.errors import InputError, UsageError

__all__ = ["OWN_ORIGINS", "dump_pack", "export_pack", "write_pack"]

OWN_ORIGINS = ("web_crawl", "seized_data", "analyst")

_OWN = """
SELECT address, label, category, confidence, source, actor, is_cluster_definer, lastmod,
       context, origin, origin_ref, tag_id
FROM chain_tags
WHERE address IS NOT NULL AND list_contains(?, origin)
ORDER BY label, address, origin_ref, tag_id
"""

_CLUSTERED = """
WITH own AS (
    SELECT c.cluster_id, t.* FROM chain_tags t JOIN chain_clusters c ON c.address = t.address
    WHERE list_contains(?, t.origin)
), best AS (
    SELECT * FROM own QUALIFY row_number() OVER (
        PARTITION BY cluster_id, label, category
        ORDER BY confidence_level DESC, source, address, tag_id) = 1
)
SELECT m.address, b.label, b.category, b.confidence, b.source, b.actor, b.lastmod, b.context,
       b.origin, b.origin_ref, b.cluster_id, b.address
FROM best b JOIN chain_clusters m ON m.cluster_id = b.cluster_id
WHERE NOT EXISTS (SELECT 1 FROM own o WHERE o.address = m.address AND o.label = b.label
                  AND o.category IS NOT DISTINCT FROM b.category)
ORDER BY b.label, m.address
"""


def _day(moment: Any) -> date | None:
    return moment.date() if isinstance(moment, datetime) else None


def _context(stored: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    try:
        context = json.loads(stored) if stored else {}
    except ValueError:
        context = {"text": stored}
    if not isinstance(context, dict):
        context = {"value": context}
    ours = context.get("spector")
    context["spector"] = {**(ours if isinstance(ours, dict) else {}), **extra}
    return context


def _tag(
    address: str,
    label: str,
    category: str | None,
    confidence: str,
    source: str,
    actor: str | None,
    definer: bool,
    lastmod: Any,
    context: dict[str, Any],
) -> dict[str, Any]:
    known = confidences()
    tag: dict[str, Any] = {"address": address, "label": label}
    if category:
        tag["category"] = category
    tag["confidence"] = known[confidence].export_as if confidence in known else confidence
    tag["source"] = source
    if actor:
        tag["actor"] = actor
    tag["is_cluster_definer"] = definer
    if (day := _day(lastmod)) is not None:
        tag["lastmod"] = day
    tag["context"] = context
    return tag


def _clustered(con: duckdb.DuckDBPyConnection) -> bool:
    if not has_clusters(con):
        return False
    row = con.execute("SELECT count(*) FROM (SELECT 1 FROM chain_clusters LIMIT 1)").fetchone()
    return bool(row and row[0])


def export_pack(
    con: duckdb.DuckDBPyConnection,
    *,
    clusters: bool = False,
    creator: str = "Spector",
    title: str = "Spector tags",
) -> dict[str, Any]:
    """The TagPack (a mapping, ready for YAML) of Spector's own tags; see the module doc."""
    if clusters and not _clustered(con):
        raise UsageError(
            "the chain is not clustered yet: there are no clusters to export",
            hint="run `spector chain cluster` first",
        )
    own = list(OWN_ORIGINS)
    tags = []
    for (
        address,
        label,
        category,
        confidence,
        source,
        actor,
        definer,
        lastmod,
        context,
        origin,
        origin_ref,
        _tag_id,
    ) in con.execute(_OWN, [own]).fetchall():
        extra = {"origin": origin, "origin_ref": origin_ref, "confidence": confidence}
        tags.append(
            _tag(
                address,
                label,
                category,
                confidence,
                source,
                actor,
                bool(definer) or clusters,
                lastmod,
                _context(context, extra),
            )
        )
    if clusters:
        for (
            address,
            label,
            category,
            confidence,
            source,
            actor,
            lastmod,
            context,
            origin,
            origin_ref,
            cluster_id,
            tagged,
        ) in con.execute(_CLUSTERED, [own]).fetchall():
            extra = {
                "origin": origin,
                "origin_ref": origin_ref,
                "confidence": confidence,
                "via": f"cluster:{cluster_id}",
                "tagged_address": tagged,
            }
            tags.append(
                _tag(
                    address,
                    label,
                    category,
                    confidence,
                    source,
                    actor,
                    True,
                    lastmod,
                    _context(context, extra),
                )
            )
    what = "and every address of their clusters " if clusters else ""
    return {
        "title": title,
        "creator": creator,
        "description": f"Attribution tags Spector derived from its own data {what}"
        "(crawled market pages, seized market databases, analysts' tags).",
        "lastmod": datetime.now(UTC).date(),
        "currency": "BTC",
        "network": "BTC",
        "tags": tags,
    }


try:
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Dumper = yaml.SafeDumper


def dump_pack(pack: dict[str, Any]) -> str:
    """The pack as YAML text (fields in the order GraphSense's packs use)."""
    return str(yaml.dump(pack, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000))


def write_pack(pack: dict[str, Any], out: Path) -> None:
    """Write the pack to ``out`` (whole or not at all: a temporary file is renamed)."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(dump_pack(pack), encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write: {exc.strerror}", where=out) from exc
