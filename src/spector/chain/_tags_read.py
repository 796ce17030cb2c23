"""Read one TagPack or ActorPack file and validate it as GraphSense does, line by line.

``read_pack(file)`` returns the pack's tags (or actors) ready to store, or raises ONE
InputError naming the file, the line and the field at fault. The checks are GraphSense's
(``TagPack.validate`` / ``ActorPack.validate`` of the installed tagpack-tool, with its
schema and taxonomies): first walked here field by field, so that the error can name the
line, then the library's own ``validate()`` runs on the same contents as a second check.
Spector adds one rule: a Bitcoin tag's address must decode with its checksum (GraphSense
only warns); it is stored in canonical form.

Header fields are inherited by the tags as GraphSense does (a tag's own field wins;
``network`` defaults to ``currency``; a pack without a confidence on every tag gets
GraphSense's lowest, ``unknown``, with a warning). Tags GraphSense counts as duplicates
(same address, currency, network, label and source) are stored once and counted.
A tag whose ``context`` carries ``{"spector": {"confidence": ID}}`` with an id of
Spector's extension that exports as the tag's confidence gets that id back (the round
trip of ``spector chain tags export``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from spector.chain._tags_schema import FieldChecker, GraphSense, confidences, graphsense
from spector.chain._tags_yaml import KeyPath, YamlDoc, load_yaml
from spector.errors import InputError, SelectorInvalid

__all__ = ["ActorRow", "PackRead", "TagRow", "read_pack"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True, slots=True)
class TagRow:
    """One tag with every field it has after inheritance."""

    address: str | None
    tx_hash: str | None
    currency: str
    network: str
    label: str
    category: str | None
    abuse: str | None
    concepts: tuple[str, ...]
    confidence: str
    confidence_level: int
    source: str
    actor: str | None
    is_cluster_definer: bool
    tag_type: str | None
    context: str | None
    lastmod: datetime | None
    line: int


@dataclass(frozen=True, slots=True)
class ActorRow:
    actor: str
    label: str
    uri: str
    categories: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    aliases: tuple[str, ...]
    context: str | None
    lastmod: datetime | None
    line: int


@dataclass(frozen=True)
class PackRead:
    """A validated pack: its header, and its tags (a TagPack) or actors (an ActorPack)."""

    file: Path
    kind: str  # tagpack | actorpack
    sha256: str
    title: str
    creator: str
    description: str | None
    lastmod: datetime | None
    header: dict[str, Any]
    tags: tuple[TagRow, ...]
    actors: tuple[ActorRow, ...]
    duplicates: int
    warnings: tuple[str, ...]

    @property
    def entries(self) -> int:
        return len(self.tags) if self.kind == "tagpack" else len(self.actors)


def read_pack(file: Path) -> PackRead:
    """Parse and validate ``file`` (a TagPack, or an ActorPack: a pack with ``actors``)."""
    doc = load_yaml(file)
    if not isinstance(doc.data, dict):
        raise InputError(
            f"not a TagPack or ActorPack: the file holds {_kind_of(doc.data)}",
            where=doc.where(()),
            expected="a mapping with title, creator and tags (or actors)",
        )
    contents, paths = _flatten(doc)
    from tagpack.utils import try_parse_date

    if "lastmod" in contents:  # GraphSense reads a quoted '2022-10-1' as a date too
        contents["lastmod"] = try_parse_date(contents["lastmod"])
    if "actors" in contents and "tags" not in contents:
        return _read_actorpack(doc, contents, paths)
    return _read_tagpack(doc, contents, paths)


def _kind_of(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _flatten(doc: YamlDoc) -> tuple[dict[str, Any], dict[str, KeyPath]]:
    """GraphSense's header rule: the fields of a ``header:`` mapping join the top level."""
    data: dict[Any, Any] = doc.data
    contents: dict[str, Any] = {}
    paths: dict[str, KeyPath] = {}
    for key, value in data.items():
        if key != "header":
            contents[str(key)] = value
            paths[str(key)] = (key,)
    if "header" in data:
        header = data["header"]
        if not isinstance(header, dict):
            raise InputError(
                "header: must be a mapping of header fields", where=doc.where(("header",))
            )
        for key, value in header.items():
            contents[str(key)] = value
            paths[str(key)] = ("header", key)
    return contents, paths


def _entries(
    check: FieldChecker, contents: dict[str, Any], paths: dict[str, KeyPath], name: str
) -> list[dict[str, Any]]:
    for field in check.schema.mandatory_header_fields:
        if field not in contents:
            raise check.fail(
                (),
                f"missing mandatory header field {field!r}",
                expected="the fields " + ", ".join(check.schema.mandatory_header_fields),
            )
    entries = contents[name]
    if not isinstance(entries, list):
        raise check.fail(paths[name], f"must be a list, got {_kind_of(entries)}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise check.fail(
                (*paths[name], i), f"must be a mapping of fields, got {_kind_of(entry)}"
            )
    return entries


def _context(check: FieldChecker, path: KeyPath, value: Any) -> Any:
    """A mapping ``context`` is JSON text to GraphSense (its Tag and Actor convert it)."""
    if isinstance(value, dict):
        try:
            return json.dumps(value, default=str)
        except (TypeError, ValueError) as exc:
            raise check.fail(path, f"cannot be written as JSON: {exc}") from exc
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            if not isinstance(json.loads(value), dict):
                raise check.fail(path, "JSON context must be an object", expected="{...}")
    return value


def _read_tagpack(doc: YamlDoc, contents: dict[str, Any], paths: dict[str, KeyPath]) -> PackRead:
    gs = graphsense()
    schema = gs.tagpack_schema
    check = FieldChecker(doc, schema, gs)
    tags = _entries(check, contents, paths, "tags")
    for field, value in contents.items():  # (a header's context stays as written, as in GraphSense)
        check.allowed(paths[field], field, schema.all_fields, "the header")
        check.value(paths[field], field, value)
    inherited = {k: v for k, v in contents.items() if k in schema.tag_fields}
    defaulted = {"confidence"} if "confidence" not in contents else set()
    addresses: dict[int, str] = {}
    for i, tag in enumerate(tags):
        here: KeyPath = (*paths["tags"], i)
        fields = {**inherited, **tag}
        if fields.get("address") is None and fields.get("tx_hash") is None:
            raise check.fail(here, "a tag needs an address or a tx_hash")
        if fields.get("address") is not None and fields.get("tx_hash") is not None:
            raise check.fail(here, "address and tx_hash are mutually exclusive; both are set")
        for field in schema.mandatory_tag_fields:
            present = field in fields or field in defaulted
            if field == "network":
                present = present or "currency" in fields
            if not present:
                raise check.fail(
                    here, f"missing mandatory field {field!r} (in the tag or the header)"
                )
        for field, value in tag.items():
            check.allowed((*here, field), field, schema.tag_fields, "a tag")
            if field == "context":
                tag[field] = value = _context(check, (*here, field), value)
            check.value((*here, field), field, value)
        address = fields.get("address")
        if isinstance(address, str):
            addresses[i] = _address(
                check, (*here, "address") if "address" in tag else paths["address"], address, fields
            )
    tp, warnings = _graphsense_tagpack(doc, contents, gs)
    index = {id(t): i for i, t in enumerate(tags)}
    rows = tuple(
        _tag_row(
            tag.all_fields,
            addresses.get(index[id(tag.contents)]),
            doc.line((*paths["tags"], index[id(tag.contents)])),
        )
        for tag in tp.get_unique_tags()
    )
    return PackRead(
        doc.file,
        "tagpack",
        doc.sha256,
        str(contents["title"]),
        str(contents["creator"]),
        contents.get("description"),
        _moment(contents.get("lastmod")),
        {k: v for k, v in contents.items() if k != "tags"},
        rows,
        (),
        len(tags) - len(rows),
        warnings,
    )


def _address(check: FieldChecker, path: KeyPath, address: str, fields: dict[str, Any]) -> str:
    """A Bitcoin tag's address in canonical form; other currencies' as written."""
    from spector.model import decode_btc_address

    coin = str(fields.get("network") or fields.get("currency") or "").upper()
    if coin not in ("BTC", "XBT"):
        return address
    try:
        return decode_btc_address(address).address
    except SelectorInvalid as exc:
        raise check.fail(
            path,
            f"not a Bitcoin address: {exc.reason}",
            expected="a mainnet, testnet or regtest address with a valid checksum",
        ) from exc


def _graphsense_tagpack(
    doc: YamlDoc, contents: dict[str, Any], gs: GraphSense
) -> tuple[Any, tuple[str, ...]]:
    """GraphSense's TagPack over the checked contents, and its validate() as a second check."""
    from tagpack import ValidationError
    from tagpack.tagpack import TagPack

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            tp = TagPack(str(doc.file), contents, gs.tagpack_schema, gs.taxonomies)
            tp.validate()
    except ValidationError as exc:
        raise InputError(
            str(exc).removeprefix("Schema Validation Error: ").split("\n")[0], where=doc.where(())
        ) from exc
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise InputError(
            f"GraphSense's TagPack cannot read this pack: {exc}", where=doc.where(())
        ) from exc
    return tp, _warnings(out.getvalue())


def _warnings(printed: str) -> tuple[str, ...]:
    lines = (_ANSI.sub("", line).strip() for line in printed.splitlines())
    return tuple(line for line in lines if line)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def _confidence(value: str, context: str | None) -> tuple[str, int]:
    """The stored confidence id and level; an exported extension id comes back."""
    known = confidences()
    if context:
        with contextlib.suppress(ValueError, AttributeError):
            ours = json.loads(context).get("spector", {}).get("confidence")
            if isinstance(ours, str) and ours in known and known[ours].export_as == value:
                return ours, known[ours].level
    return value, known[value].level


def _tag_row(fields: dict[str, Any], address: str | None, line: int) -> TagRow:
    context = fields.get("context")
    confidence, level = _confidence(str(fields["confidence"]), context)
    concepts = fields.get("concepts") or []
    return TagRow(
        address=address,
        tx_hash=fields.get("tx_hash"),
        currency=str(fields["currency"]),
        network=str(fields.get("network") or fields["currency"]),
        label=str(fields["label"]),
        category=fields.get("category"),
        abuse=fields.get("abuse"),
        concepts=tuple(str(c) for c in concepts),
        confidence=confidence,
        confidence_level=level,
        source=str(fields["source"]),
        actor=fields.get("actor"),
        is_cluster_definer=bool(fields.get("is_cluster_definer", False)),
        tag_type=fields.get("tag_type"),
        context=context,
        lastmod=_moment(fields.get("lastmod")),
        line=line,
    )


def _read_actorpack(doc: YamlDoc, contents: dict[str, Any], paths: dict[str, KeyPath]) -> PackRead:
    from tagpack import ValidationError
    from tagpack.actorpack import ActorPack

    gs = graphsense()
    schema = gs.actorpack_schema
    check = FieldChecker(doc, schema, gs)
    actors = _entries(check, contents, paths, "actors")
    if not actors:
        raise check.fail(paths["actors"], "no actors", expected="at least one actor")
    for field, value in contents.items():
        check.allowed(paths[field], field, schema.all_fields, "the header")
        check.value(paths[field], field, value)
    inherited = {k: v for k, v in contents.items() if k in schema.actor_fields}
    for i, actor in enumerate(actors):
        here: KeyPath = (*paths["actors"], i)
        for field in schema.mandatory_actor_fields:
            if field not in actor and field not in inherited:
                raise check.fail(
                    here, f"missing mandatory field {field!r} (in the actor or the header)"
                )
        for field, value in actor.items():
            check.allowed((*here, field), field, schema.actor_fields, "an actor")
            if field == "context":
                actor[field] = value = _context(check, (*here, field), value)
            check.value((*here, field), field, value)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            ap = ActorPack(str(doc.file), contents, schema, gs.taxonomies)
            ap.validate()
    except ValidationError as exc:
        raise InputError(
            "actors: " + str(exc).removeprefix("Schema Validation Error: ").replace("\n", " "),
            where=doc.where(paths["actors"]),
        ) from exc
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise InputError(
            f"GraphSense's ActorPack cannot read this pack: {exc}", where=doc.where(())
        ) from exc
    index = {id(a): i for i, a in enumerate(actors)}
    rows = []
    for actor in ap.get_unique_actors():
        f = actor.all_fields
        rows.append(
            ActorRow(
                str(f["id"]),
                str(f["label"]),
                str(f["uri"]),
                tuple(f["categories"]),
                tuple(f.get("jurisdictions") or ()),
                tuple(f.get("aliases") or ()),
                f.get("context"),
                _moment(f.get("lastmod")),
                doc.line((*paths["actors"], index[id(actor.contents)])),
            )
        )
    return PackRead(
        doc.file,
        "actorpack",
        doc.sha256,
        str(contents["title"]),
        str(contents["creator"]),
        contents.get("description"),
        _moment(contents.get("lastmod")),
        {k: v for k, v in contents.items() if k != "actors"},
        (),
        tuple(rows),
        len(actors) - len(rows),
        _warnings(out.getvalue()),
    )
