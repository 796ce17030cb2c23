"""Import TagPacks and ActorPacks into the store (``chain_tags``, ``chain_tag_actors``,
``chain_tag_packs``).

Contract of ``import_packs(ws, files)``:
- Every file is read and validated before anything is stored. Without ``skip_bad`` the
  first file that breaks the schema raises its InputError (file, line, field) and nothing
  of the command is stored, from that file or any other. With ``skip_bad`` bad files are
  reported in ``ImportReport.bad`` and the good ones are imported.
- Each file is stored in its own transaction: all of its tags or none.
- A pack is known by its path below a ``packs/`` folder when it lies in one (as GraphSense
  names packs), else by its file name. Importing a pack again replaces what the previous
  import of that pack stored (no duplicates); two files of one command that are the same
  pack are a UsageError.
- Folders are read for ``*.yaml`` / ``*.yml`` files, recursively, in sorted order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from spector.chain._tags_read import PackRead, read_pack
from spector.errors import InputError, UsageError
from spector.model import make_id
from spector.store import Workspace

__all__ = [
    "TAG_SCHEMA",
    "ImportReport",
    "PackImport",
    "import_packs",
    "insert_arrow",
    "pack_files",
    "pack_name",
    "tag_arrow",
]


@dataclass(frozen=True, slots=True)
class PackImport:
    """What one file added: ``entries`` tags (TagPack) or actors (ActorPack)."""

    file: Path
    pack: str
    kind: str
    entries: int
    duplicates: int
    replaced: int  # rows the previous import of this pack had
    warnings: tuple[str, ...]

    @property
    def noun(self) -> str:
        return "tags" if self.kind == "tagpack" else "actors"


@dataclass
class ImportReport:
    imported: list[PackImport] = field(default_factory=list)
    bad: list[tuple[Path, str]] = field(default_factory=list)  # (file, the error's line)

    @property
    def tags(self) -> int:
        return sum(p.entries for p in self.imported if p.kind == "tagpack")

    def as_dict(self) -> dict[str, object]:
        return {
            "imported": [
                {
                    "file": str(p.file),
                    "pack": p.pack,
                    "kind": p.kind,
                    "entries": p.entries,
                    "duplicates": p.duplicates,
                    "replaced": p.replaced,
                    "warnings": list(p.warnings),
                }
                for p in self.imported
            ],
            "bad": [{"file": str(f), "error": e} for f, e in self.bad],
            "tags": self.tags,
        }


def pack_name(file: Path) -> str:
    """A pack's identity: its path below the last ``packs/`` folder, else its file name."""
    parts = file.resolve().parts
    if "packs" in parts[:-1]:
        cut = len(parts) - 1 - parts[::-1].index("packs")
        return "/".join(parts[cut + 1 :])
    return file.name


def pack_files(paths: Sequence[Path]) -> list[Path]:
    """The files to import: each file given, and the YAML files inside each folder given."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
            )
            if not found:
                raise InputError("no TagPacks (*.yaml) in this folder", where=path)
            out += found
        else:
            out.append(path)
    return out


def import_packs(
    ws: Workspace,
    paths: Sequence[Path],
    *,
    skip_bad: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate every file, then store each valid one; see the module docstring."""
    files = pack_files(paths)
    report = ImportReport()
    reads: list[PackRead] = []
    names: dict[tuple[str, str], Path] = {}
    for n, file in enumerate(files, start=1):
        if progress:
            progress(n - 1, len(files))
        try:
            read = read_pack(file)
        except InputError as exc:
            if not skip_bad:
                raise
            report.bad.append((file, exc.one_line()))
            continue
        key = (read.kind, pack_name(file))
        if key in names:
            raise UsageError(
                f"{names[key]} and {file} are the same pack {key[1]!r} (a pack is known by its "
                "file name, or its path below packs/)",
                hint="import them one at a time",
            )
        names[key] = file
        reads.append(read)
    if progress:
        progress(len(files), len(files))
    for read in reads:
        report.imported.append(_store(ws, read))
    return report


def _store(ws: Workspace, read: PackRead) -> PackImport:
    pack = pack_name(read.file)
    con = ws.store.con
    now = datetime.now(UTC).replace(tzinfo=None)
    with ws.store.transaction():
        if read.kind == "tagpack":
            row = con.execute(
                "SELECT count(*) FROM chain_tags WHERE origin = 'tagpack' AND pack = ?", [pack]
            ).fetchone()
            con.execute("DELETE FROM chain_tags WHERE origin = 'tagpack' AND pack = ?", [pack])
            insert_arrow(con, "chain_tags", _tag_table(read, pack, now))
        else:
            row = con.execute(
                "SELECT count(*) FROM chain_tag_actors WHERE pack = ?", [pack]
            ).fetchone()
            con.execute("DELETE FROM chain_tag_actors WHERE pack = ?", [pack])
            insert_arrow(con, "chain_tag_actors", _actor_table(read, pack))
        con.execute("DELETE FROM chain_tag_packs WHERE kind = ? AND pack = ?", [read.kind, pack])
        con.execute(
            "INSERT INTO chain_tag_packs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                pack,
                read.kind,
                str(read.file),
                read.sha256,
                read.title,
                read.creator,
                read.description,
                read.lastmod,
                json.dumps(read.header, default=str, sort_keys=True),
                read.entries,
                read.duplicates,
                now,
            ],
        )
    replaced = int(row[0]) if row else 0
    return PackImport(
        read.file, pack, read.kind, read.entries, read.duplicates, replaced, read.warnings
    )


def insert_arrow(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    """Append the rows of ``data`` to ``table`` (columns by name)."""
    con.register("_spector_tags", data)
    try:
        names = ", ".join(f'"{n}"' for n in data.column_names)
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _spector_tags")
    finally:
        con.unregister("_spector_tags")


def _tag_table(read: PackRead, pack: str, now: datetime) -> pa.Table:
    tags = read.tags
    column: dict[str, Iterable[object]] = {
        "tag_id": [
            make_id("chain_tag", "tagpack", pack, t.line, t.address, t.tx_hash, t.label)
            for t in tags
        ],
        "address": [t.address for t in tags],
        "tx_hash": [t.tx_hash for t in tags],
        "currency": [t.currency for t in tags],
        "network": [t.network for t in tags],
        "label": [t.label for t in tags],
        "category": [t.category for t in tags],
        "abuse": [t.abuse for t in tags],
        "concepts": [list(t.concepts) for t in tags],
        "confidence": [t.confidence for t in tags],
        "confidence_level": [t.confidence_level for t in tags],
        "source": [t.source for t in tags],
        "actor": [t.actor for t in tags],
        "is_cluster_definer": [t.is_cluster_definer for t in tags],
        "tag_type": [t.tag_type for t in tags],
        "context": [t.context for t in tags],
        "lastmod": [t.lastmod for t in tags],
        "origin": ["tagpack"] * len(tags),
        "origin_ref": [pack] * len(tags),
        "pack": [pack] * len(tags),
        "pack_title": [read.title] * len(tags),
        "pack_creator": [read.creator] * len(tags),
        "line": [t.line for t in tags],
        "subject_table": [None] * len(tags),
        "subject_id": [None] * len(tags),
        "created_at": [now] * len(tags),
    }
    return tag_arrow(column)


TAG_SCHEMA = pa.schema(
    [
        ("tag_id", pa.string()),
        ("address", pa.string()),
        ("tx_hash", pa.string()),
        ("currency", pa.string()),
        ("network", pa.string()),
        ("label", pa.string()),
        ("category", pa.string()),
        ("abuse", pa.string()),
        ("concepts", pa.list_(pa.string())),
        ("confidence", pa.string()),
        ("confidence_level", pa.int32()),
        ("source", pa.string()),
        ("actor", pa.string()),
        ("is_cluster_definer", pa.bool_()),
        ("tag_type", pa.string()),
        ("context", pa.string()),
        ("lastmod", pa.timestamp("us")),
        ("origin", pa.string()),
        ("origin_ref", pa.string()),
        ("pack", pa.string()),
        ("pack_title", pa.string()),
        ("pack_creator", pa.string()),
        ("line", pa.int64()),
        ("subject_table", pa.string()),
        ("subject_id", pa.string()),
        ("created_at", pa.timestamp("us")),
    ]
)


def tag_arrow(columns: Mapping[str, Iterable[object]]) -> pa.Table:
    """Rows for ``chain_tags`` as an Arrow table of its schema (columns by name)."""
    return pa.table(
        {f.name: pa.array(list(columns[f.name]), f.type) for f in TAG_SCHEMA}, schema=TAG_SCHEMA
    )


def _actor_table(read: PackRead, pack: str) -> pa.Table:
    actors = read.actors
    return pa.table(
        {
            "actor": pa.array([a.actor for a in actors], pa.string()),
            "pack": pa.array([pack] * len(actors), pa.string()),
            "label": pa.array([a.label for a in actors], pa.string()),
            "uri": pa.array([a.uri for a in actors], pa.string()),
            "categories": pa.array([list(a.categories) for a in actors], pa.list_(pa.string())),
            "jurisdictions": pa.array(
                [list(a.jurisdictions) for a in actors], pa.list_(pa.string())
            ),
            "aliases": pa.array([list(a.aliases) for a in actors], pa.list_(pa.string())),
            "context": pa.array([a.context for a in actors], pa.string()),
            "lastmod": pa.array([a.lastmod for a in actors], pa.timestamp("us")),
            "line": pa.array([a.line for a in actors], pa.int64()),
        }
    )
