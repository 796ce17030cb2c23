"""Tags an analyst sets by hand (origin ``analyst``), and takes back.

``add_tag`` checks what a TagPack's tag would be checked for (the category against
GraphSense's concept taxonomy, the confidence against its confidence taxonomy or
Spector's extension, a Bitcoin address's checksum) and stores one tag; adding the same
address and label again replaces it. ``remove_tags`` removes analyst tags only: imported
packs are replaced by importing them again, derived tags by deriving again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from spector.chain._tags import category_ids
from spector.chain._tags_import import insert_arrow, tag_arrow
from spector.chain._tags_schema import confidences, suggest
from spector.errors import SelectorInvalid, UsageError
from spector.model import decode_btc_address, make_id
from spector.store import Workspace

__all__ = ["AnalystTag", "add_tag", "remove_tags"]


@dataclass(frozen=True, slots=True)
class AnalystTag:
    address: str
    label: str
    category: str
    confidence: str = "manual_transaction"
    source: str = "analyst"
    why: str | None = None
    actor: str | None = None
    is_cluster_definer: bool = True


def add_tag(ws: Workspace, tag: AnalystTag) -> str:
    """Store ``tag``; returns the canonical address. UsageError on a bad value."""
    try:
        address = decode_btc_address(tag.address).address
    except SelectorInvalid as exc:
        raise UsageError(f"not a Bitcoin address: {tag.address!r} ({exc.reason})") from exc
    category = category_ids([tag.category])[0]
    known = confidences()
    if tag.confidence not in known:
        raise UsageError(
            f"unknown confidence {tag.confidence!r}{suggest(tag.confidence, known)}",
            expected="an id of `spector chain tags taxonomy`",
        )
    if not tag.label.strip():
        raise UsageError("the label is empty")
    now = datetime.now(UTC).replace(tzinfo=None)
    ref = f"analyst:{now.isoformat(timespec='seconds')}"
    context = {"spector": {"origin": "analyst", "why": tag.why}}
    row: dict[str, list[object]] = {
        "tag_id": [make_id("chain_tag", "analyst", address, tag.label)],
        "address": [address], "tx_hash": [None], "currency": ["BTC"], "network": ["BTC"],
        "label": [tag.label.strip()], "category": [category], "abuse": [None],
        "concepts": [[category]], "confidence": [tag.confidence],
        "confidence_level": [known[tag.confidence].level], "source": [tag.source],
        "actor": [tag.actor], "is_cluster_definer": [tag.is_cluster_definer], "tag_type": [None],
        "context": [json.dumps(context, sort_keys=True)], "lastmod": [now],
        "origin": ["analyst"], "origin_ref": [ref], "pack": [None], "pack_title": [None],
        "pack_creator": [None], "line": [None], "subject_table": [None], "subject_id": [None],
        "created_at": [now],
    }  # fmt: skip
    con = ws.store.con
    with ws.store.transaction():
        con.execute(
            "DELETE FROM chain_tags WHERE origin = 'analyst' AND address = ? AND label = ?",
            [address, tag.label.strip()],
        )
        insert_arrow(con, "chain_tags", tag_arrow(row))
    return address


def remove_tags(ws: Workspace, address: str, label: str | None = None) -> int:
    """Remove the analyst tags of ``address`` (of that ``label`` only, if given)."""
    try:
        address = decode_btc_address(address).address
    except SelectorInvalid:
        address = address.strip()
    sql = "FROM chain_tags WHERE origin = 'analyst' AND address = ?"
    params: list[object] = [address]
    if label is not None:
        sql += " AND label = ?"
        params.append(label)
    con = ws.store.con
    with ws.store.transaction():
        row = con.execute(f"SELECT count(*) {sql}", params).fetchone()
        con.execute(f"DELETE {sql}", params)
    return int(row[0]) if row else 0
