"""Lazy re-exports for a package's ``__init__`` (PEP 562), so that importing one module of
a package (its ``cli.py``, when the `spector` command starts) does not import the whole
package and what it needs (duckdb, pyarrow, numba, pydantic, aiohttp, bip_utils...).

A package lists what it re-exports once, as imports under ``if TYPE_CHECKING:`` (what type
checkers and readers see), and hands its own ``__name__`` and ``__file__`` to
``lazy_exports`` in the ``else:`` branch::

    if TYPE_CHECKING:
        from spector.store._workspace import Workspace, find_workspace
    else:
        __getattr__, __dir__ = lazy_exports(__name__, __file__)

``lazy_exports`` reads those imports from the file (``ast``, once, at import) and imports
a name's module the first time the name is asked for (``spector.store.Workspace``, ``from
spector.store import Workspace``); the value is then kept in the package as an eager
import's is. A registry that modules fill as they are imported must not rely on the
package importing them (``spector.model._selector_base`` imports its kinds' modules).
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, file: str
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` (whose ``__init__`` is ``file``):
    the names imported under its ``if TYPE_CHECKING:`` block, imported on first use.
    Raises ``ImportError`` at import if the block is missing or imports from outside."""
    where = _type_checking_imports(package, Path(file))
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> object:
        found = where.get(name)
        if found is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, original = found
        value = getattr(importlib.import_module(module), original)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__


def _type_checking_imports(package: str, file: Path) -> dict[str, tuple[str, str]]:
    """{name: (module, name in module)} of the ``from MODULE import NAME [as ALIAS]``
    lines under the first ``if TYPE_CHECKING:`` of ``file`` (modules of ``package`` only)."""
    tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
    block = next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ),
        None,
    )
    if block is None:
        raise ImportError(f"{file}: no `if TYPE_CHECKING:` block of lazy re-exports")
    where: dict[str, tuple[str, str]] = {}
    for node in block.body:
        if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
            raise ImportError(f"{file}:{node.lineno}: expected `from {package}.… import …`")
        if not node.module.startswith(package + "."):
            raise ImportError(f"{file}:{node.lineno}: {node.module} is not in {package}")
        for alias in node.names:
            where[alias.asname or alias.name] = (node.module, alias.name)
    return where
