"""YAML of TagPacks and ActorPacks, read with the line of every value.

PyYAML composes the document into nodes (each with its position) and constructs Python
values from those same nodes, with the safe constructor GraphSense's own loader is based
on: dates become ``date``, no Python objects, no ``!include`` (an unknown tag is an error
naming its line). ``YamlDoc.line(path)`` gives the line of a value by its path of keys and
indexes, e.g. ``("tags", 3, "confidence")``: the line of the key when the path ends at a
mapping key, else of the value. A key given twice in one mapping is an error (GraphSense's
``UniqueKeyLoader`` refuses it too), as is a file over ``MAX_BYTES``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spector.errors import InputError

__all__ = ["MAX_BYTES", "KeyPath", "YamlDoc", "load_yaml"]

MAX_BYTES = 200 << 20  # GraphSense's tagpack-tool refuses files over 200 MB too

try:  # the C parser when PyYAML was built with libyaml; the same nodes and marks
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

KeyPath = Sequence[str | int]


@dataclass(frozen=True)
class YamlDoc:
    """A parsed file: its constructed ``data``, the composed ``node`` tree, and where it is."""

    file: Path
    data: Any
    node: yaml.Node | None
    sha256: str

    def line(self, path: KeyPath) -> int:
        """The 1-based line of the value at ``path`` (the deepest part of it that exists)."""
        node = self.node
        if node is None:
            return 1
        line = int(node.start_mark.line) + 1
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            key_node, node = found
            line = int((key_node or node).start_mark.line) + 1
        return line

    def where(self, path: KeyPath) -> str:
        """``file:line`` of the value at ``path``, for an error's ``where``."""
        return f"{self.file}:{self.line(path)}"


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return key, value
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        return None, node.value[part]
    return None


def load_yaml(file: Path) -> YamlDoc:
    """Read and parse ``file``; InputError naming file and line when it is not YAML."""
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise InputError(
                f"{size:,} bytes, too large for a TagPack",
                where=file,
                expected=f"at most {MAX_BYTES:,} bytes (split the pack)",
            )
        raw = file.read_bytes()
    except FileNotFoundError as exc:
        raise InputError("no such file", where=file) from exc
    except IsADirectoryError as exc:
        raise InputError("a folder, not a file", where=file) from exc
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=file) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", where=f"{file}:{line}", expected="YAML") from exc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_unique_keys(file, node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "not valid YAML"
        raise InputError(f"not valid YAML: {problem}", where=f"{file}:{line}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", where=file) from exc
    except RecursionError as exc:
        raise InputError("YAML nested too deeply", where=file) from exc
    finally:
        loader.dispose()
    return YamlDoc(file, data, node, hashlib.sha256(raw).hexdigest())


def _check_unique_keys(file: Path, root: yaml.Node) -> None:
    stack = [root]
    seen_nodes: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:  # an alias: checked where it was defined
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in keys:
                        raise InputError(
                            f"key {key.value!r} given twice in one mapping",
                            where=f"{file}:{key.start_mark.line + 1}",
                        )
                    keys.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
