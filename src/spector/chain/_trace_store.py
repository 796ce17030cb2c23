"""Saved traces: kept in the workspace under a name, listed, shown and exported.

``save`` writes a result (a trace's or a path search's ``as_dict()``) to
``chain_traces`` with its graph in ``chain_trace_nodes`` / ``chain_trace_edges``
(migration 0011); ``load`` gives back exactly the dict that was saved. ``export``
writes the graph as JSON, GraphML (Gephi, yEd, networkx read it) or a pair of CSV files
``nodes.csv`` / ``edges.csv`` (the shape Gephi's spreadsheet import, Maltego's and
i2's CSV imports take: one row per entity, one row per link).
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from spector.errors import InputError, UsageError
from spector.store import Workspace

__all__ = ["FORMATS", "delete", "export", "list_traces", "load", "save"]

FORMATS = ("json", "graphml", "csv")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(
            f"trace name {name!r} is not allowed",
            expected="letters, digits, '.', '_' or '-', at most 80, starting "
            "with a letter or digit",
        )


def _exists(ws: Workspace, name: str) -> bool:
    row = ws.store.con.execute(
        "SELECT count(*) FROM chain_traces WHERE name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def save(ws: Workspace, name: str, result: dict[str, Any], *, replace: bool = False) -> None:
    """Keep ``result`` under ``name``; an existing name is an error unless ``replace``."""
    _check_name(name)
    con = ws.store.con
    if _exists(ws, name) and not replace:
        raise UsageError(
            f"a trace named {name!r} is already saved",
            hint="choose another name, or pass --replace",
        )
    nodes = result.get("nodes", [])
    edges = result.get("edges", [])
    con.execute("BEGIN TRANSACTION")
    try:
        for table, column in (
            ("chain_traces", "name"),
            ("chain_trace_nodes", "trace"),
            ("chain_trace_edges", "trace"),
        ):
            con.execute(f"DELETE FROM {table} WHERE {column} = ?", [name])
        con.execute(
            "INSERT INTO chain_traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                result.get("kind", "trace"),
                result.get("source", ""),
                result.get("target"),
                result.get("policy"),
                result.get("direction"),
                int(result.get("hops", 0)),
                result.get("to_tags"),
                result.get("total_sat"),
                result.get("traced_share"),
                len(nodes),
                len(edges),
                json.dumps(result, sort_keys=True),
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        if nodes:
            con.executemany(
                "INSERT INTO chain_trace_nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        name,
                        n["id"],
                        n["type"],
                        n.get("cluster_id"),
                        n.get("roles", []),
                        n.get("service"),
                        n.get("category"),
                        json.dumps(n.get("tags", [])),
                        n.get("amount_in_sat"),
                    ]
                    for n in nodes
                ],
            )
        if edges:
            con.executemany(
                "INSERT INTO chain_trace_edges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        name,
                        e["from"],
                        e["to"],
                        e["txid"],
                        e["amount_sat"],
                        _time(e.get("time")),
                        e["rule"],
                        e.get("hop"),
                        e.get("weight", 1.0),
                    ]
                    for e in edges
                ],
            )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def list_traces(ws: Workspace) -> list[dict[str, Any]]:
    """Every saved trace, newest first, without its graph."""
    cur = ws.store.con.execute(
        "SELECT name, kind, source, target, policy, direction, hops, to_tags, total_sat, "
        "traced_share, node_count AS nodes, edge_count AS edges, created_at FROM chain_traces "
        "ORDER BY created_at DESC, name"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def load(ws: Workspace, name: str) -> dict[str, Any]:
    """The result saved as ``name``, as it was saved."""
    row = ws.store.con.execute("SELECT result FROM chain_traces WHERE name = ?", [name]).fetchone()
    if row is None:
        known = [str(r["name"]) for r in list_traces(ws)]
        from difflib import get_close_matches

        close = get_close_matches(name, known, n=1)
        raise InputError(
            f"no saved trace named {name!r}",
            hint=f"did you mean {close[0]!r}?"
            if close
            else "`spector chain traces list` shows the saved ones",
        )
    value: dict[str, Any] = json.loads(row[0])
    return value


def delete(ws: Workspace, name: str) -> None:
    """Forget the trace saved as ``name``."""
    load(ws, name)  # raises for an unknown name
    con = ws.store.con
    con.execute("BEGIN TRANSACTION")
    for table, column in (
        ("chain_traces", "name"),
        ("chain_trace_nodes", "trace"),
        ("chain_trace_edges", "trace"),
    ):
        con.execute(f"DELETE FROM {table} WHERE {column} = ?", [name])
    con.execute("COMMIT")


# -- exports ---------------------------------------------------------------------------

_NODE_COLUMNS = (
    "id",
    "type",
    "cluster_id",
    "roles",
    "service",
    "category",
    "tags",
    "amount_in_sat",
)
_EDGE_COLUMNS = ("from", "to", "txid", "amount_sat", "time", "rule", "hop", "weight")


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return "; ".join(
                f"{t.get('label')} ({t.get('category')}, {t.get('confidence')})" for t in value
            )
        return ";".join(str(v) for v in value)
    return str(value)


def _graphml(result: dict[str, Any]) -> str:
    """GraphML 1.0: one key per attribute, typed; lists flattened to text."""
    types = {
        "cluster_id": "long",
        "amount_in_sat": "long",
        "amount_sat": "long",
        "hop": "long",
        "weight": "double",
    }
    keys: list[str] = ['  <key id="label" for="node" attr.name="label" attr.type="string"/>']
    for col in _NODE_COLUMNS[1:]:
        keys.append(
            f'  <key id="n_{col}" for="node" attr.name="{col}" '
            f'attr.type="{types.get(col, "string")}"/>'
        )
    for col in _EDGE_COLUMNS[2:]:
        keys.append(
            f'  <key id="e_{col}" for="edge" attr.name="{col}" '
            f'attr.type="{types.get(col, "string")}"/>'
        )
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
        *keys,
        '  <graph id="trace" edgedefault="directed">',
    ]
    for n in result.get("nodes", []):
        label = n.get("service") or n["id"]
        lines.append(f"    <node id={quoteattr(n['id'])}>")
        lines.append(f'      <data key="label">{escape(str(label))}</data>')
        for col in _NODE_COLUMNS[1:]:
            if n.get(col) not in (None, [], ""):
                lines.append(f'      <data key="n_{col}">{escape(_flat(n[col]))}</data>')
        lines.append("    </node>")
    for i, e in enumerate(result.get("edges", [])):
        lines.append(
            f'    <edge id="e{i}" source={quoteattr(e["from"])} target={quoteattr(e["to"])}>'
        )
        for col in _EDGE_COLUMNS[2:]:
            if e.get(col) is not None:
                lines.append(f'      <data key="e_{col}">{escape(_flat(e[col]))}</data>')
        lines.append("    </edge>")
    lines += ["  </graph>", "</graphml>", ""]
    return "\n".join(lines)


def _csv_pair(result: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    nodes_path, edges_path = folder / "nodes.csv", folder / "edges.csv"
    with nodes_path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "Id",
                "Label",
                "Type",
                "ClusterId",
                "Roles",
                "Service",
                "Category",
                "Tags",
                "AmountInSat",
            ]
        )
        for n in result.get("nodes", []):
            out.writerow(
                [
                    n["id"],
                    n.get("service") or n["id"],
                    n["type"],
                    *(_flat(n.get(c)) for c in _NODE_COLUMNS[2:]),
                ]
            )
    with edges_path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(
            ["Source", "Target", "TxId", "AmountSat", "AmountBTC", "Time", "Rule", "Hop", "Weight"]
        )
        for e in result.get("edges", []):
            out.writerow(
                [
                    e["from"],
                    e["to"],
                    e["txid"],
                    e["amount_sat"],
                    f"{e['amount_sat'] / 1e8:.8f}",
                    e.get("time") or "",
                    e["rule"],
                    _flat(e.get("hop")),
                    _flat(e.get("weight")),
                ]
            )
    return [nodes_path, edges_path]


def export(ws: Workspace, name: str, fmt: str, out: Path) -> list[Path]:
    """Write the trace saved as ``name`` to ``out`` (a file; for ``csv`` a folder that
    gets nodes.csv and edges.csv); returns the files written."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}", expected=" | ".join(FORMATS))
    result = load(ws, name)
    if fmt == "csv":
        if out.exists() and not out.is_dir():
            raise InputError(
                "the CSV export writes two files into a folder; this is a file", where=out
            )
        return _csv_pair(result, out)
    if out.is_dir():
        raise InputError(f"is a folder; give the {fmt} file to write", where=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    else:
        out.write_text(_graphml(result), encoding="utf-8")
    return [out]
