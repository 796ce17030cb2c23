"""GraphSense's TagPack / ActorPack schemas and taxonomies, offline, and the field checks.

Everything comes from the installed ``tagpack-tool`` package, never re-typed here: the
schemas (``conf/tagpack_schema.yaml``, ``conf/actorpack_schema.yaml`` through its
``TagPackSchema`` / ``ActorPackSchema``), the taxonomies (``db/concepts.yaml``,
``db/confidence.csv``, ``db/countries.csv``, ``db/tag_types.csv`` through its ``Taxonomy``,
loaded from the package's own files: no remote fetch) and its type and taxonomy checks.

Spector adds confidence ids of its own (``data/confidence_extension.csv``) for the tags it
derives: a row is used only when GraphSense's taxonomy lacks that id (GraphSense's row
wins), and each names the GraphSense id it is written as in an exported pack
(``export_as``), so exported packs validate with GraphSense's own tool. Imported packs are
checked against GraphSense's taxonomy alone.

``FieldChecker`` runs one field through the library's checks and turns its
``ValidationError`` into an InputError naming file, line and field.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from spector.chain._tags_yaml import KeyPath, YamlDoc
from spector.errors import InputError

__all__ = [
    "Confidence",
    "FieldChecker",
    "GraphSense",
    "concept_ids",
    "confidences",
    "field_name",
    "graphsense",
    "suggest",
]

# The taxonomies GraphSense's schemas name, and the files of tagpack-tool that hold them.
_TAXONOMY_FILES = {
    "concept": "concepts.yaml",
    "confidence": "confidence.csv",
    "country": "countries.csv",
    "tag_type": "tag_types.csv",
}


@dataclass(frozen=True, slots=True)
class Confidence:
    """A confidence id with its level (0-100, higher is more reliable)."""

    id: str
    label: str
    description: str
    level: int
    graphsense: bool  # in GraphSense's taxonomy (else Spector's extension)
    export_as: str  # the GraphSense id an exported pack carries for it


@dataclass(frozen=True)
class GraphSense:
    """The schema objects and taxonomies of the installed tagpack-tool."""

    version: str
    tagpack_schema: Any  # tagpack.tagpack_schema.TagPackSchema
    actorpack_schema: Any  # tagpack.actorpack_schema.ActorPackSchema
    taxonomies: dict[str, Any]  # key -> tagpack.taxonomy.Taxonomy (loaded from local files)

    def concept_ids(self, key: str) -> list[str]:
        return list(self.taxonomies[key].concept_ids)

    def lowest_confidence(self) -> str:
        """The id GraphSense gives a pack whose tags lack a confidence (as its TagPack does:
        the last of the lowest-level rows)."""
        frame = self.tagpack_schema.confidences
        lowest = frame[frame.level == frame.level.min()]
        return str(lowest.index[-1])


def _db_file(name: str) -> Path:
    return Path(str(resources.files("tagpack.db").joinpath(name)))


def _quiet_git() -> None:
    # tagpack.tagpack imports GitPython, which fails to import without a git binary
    # unless told to stay quiet; Spector never uses its git features.
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


@cache
def confidences() -> dict[str, Confidence]:
    """GraphSense's confidence taxonomy and Spector's extension, by id (no pandas, no git)."""
    from tagpack.confidence import Confidence as GsConfidence

    scores = GsConfidence(str(_db_file("confidence.csv")))
    scores.load_from_local()
    out = {
        s.id: Confidence(s.id, s.label, s.description.strip(), int(s.level), True, s.id)
        for s in scores.scores
    }
    text = resources.files("spector.chain").joinpath("data", "confidence_extension.csv")
    for row in csv.DictReader(io.StringIO(text.read_text("utf-8"))):
        if row["id"] in out:
            continue
        if row["export_as"] not in out:
            raise RuntimeError(f"confidence extension {row['id']}: unknown {row['export_as']}")
        out[row["id"]] = Confidence(
            row["id"],
            row["label"],
            row["description"],
            int(row["level"]),
            False,
            row["export_as"],
        )
    return out


@cache
def concept_ids() -> frozenset[str]:
    """The ids of GraphSense's concept taxonomy (categories), read from tagpack-tool's
    ``db/concepts.yaml`` by the rule of its ``Taxonomy.load_from_local`` (entries of type
    ``concept``), without importing the rest of the tool: the tracer asks this often."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(_db_file("concepts.yaml").read_text("utf-8"), Loader=loader)  # noqa: S506
    return frozenset(
        str(v["id"])
        for v in data.values()
        if isinstance(v, dict) and str(v.get("type", "")).strip() == "concept"
    )


@cache
def graphsense() -> GraphSense:
    """The installed tagpack-tool's schemas and taxonomies (loaded once, offline)."""
    _quiet_git()
    from tagpack import get_version
    from tagpack.actorpack_schema import ActorPackSchema
    from tagpack.tagpack_schema import TagPackSchema
    from tagpack.taxonomy import Taxonomy

    taxonomies = {}
    for key, name in _TAXONOMY_FILES.items():
        taxonomy = Taxonomy(key, str(_db_file(name)))
        taxonomy.load_from_local()
        taxonomies[key] = taxonomy
    return GraphSense(str(get_version()), TagPackSchema(), ActorPackSchema(), taxonomies)


def suggest(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known word, else ``""``."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def field_name(path: KeyPath) -> str:
    """``tags[3].confidence`` for ``("tags", 3, "confidence")``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class FieldChecker:
    """Checks fields of one document with a GraphSense schema object; errors name the line."""

    def __init__(self, doc: YamlDoc, schema: Any, gs: GraphSense) -> None:
        self.doc = doc
        self.schema = schema
        self.gs = gs

    def fail(self, path: KeyPath, what: str, expected: str | None = None) -> InputError:
        name = field_name(path)
        return InputError(
            f"{name}: {what}" if name else what, where=self.doc.where(path), expected=expected
        )

    def allowed(self, path: KeyPath, field: str, known: Mapping[str, Any], place: str) -> None:
        if field not in known:
            raise self.fail(
                path,
                f"field not allowed in {place}{suggest(field, known)}",
                expected="a field of GraphSense's schema: " + ", ".join(known),
            )

    def value(self, path: KeyPath, field: str, value: Any) -> None:
        """The checks GraphSense's validate() runs on one field: not empty, no NUL
        characters, its type, its taxonomy."""
        from tagpack import ValidationError

        if value is None:
            raise self.fail(path, "empty value", expected="a value (or leave the field out)")
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and "\x00" in text:
                raise self.fail(path, "contains a NUL character")
        try:
            self.schema.check_type(field, value)
        except ValidationError as exc:
            message = str(exc).removeprefix("Schema Validation Error: ")
            kind = self.schema.field_definition(field)["type"]
            raise self.fail(
                path, f"{message}, got {_short(value)}", expected=_TYPE_WORDS.get(kind, kind)
            ) from exc
        taxonomy = self.schema.field_taxonomy(field)
        if not taxonomy:
            return
        keys = [taxonomy] if isinstance(taxonomy, str) else list(taxonomy)
        known = [c for key in keys for c in self.gs.concept_ids(key)]
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if item not in known:
                where = [*path, i] if isinstance(value, list) else path
                names = "/".join(keys)
                expected = (
                    "one of " + ", ".join(known)
                    if len(known) <= 20
                    else f"an id of GraphSense's {names} taxonomy (`spector chain tags taxonomy`)"
                )
                raise self.fail(
                    where,
                    f"{item!r} is not in the {names} taxonomy{suggest(str(item), known)}",
                    expected=expected,
                )
        try:  # and the library's own check, in case it knows more than the loop above
            self.schema.check_taxonomies(field, value, self.gs.taxonomies)
        except ValidationError as exc:
            raise self.fail(path, str(exc).removeprefix("Schema Validation Error: ")) from exc


_TYPE_WORDS = {
    "text": "non-empty text",
    "boolean": "true or false",
    "datetime": "a date (YYYY-MM-DD)",
    "list": "a list",
    "json_text": "JSON text or a mapping",
}
