"""spector.toml: the marker and settings of a workspace."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from spector.errors import ConfigError

__all__ = ["CONFIG_NAME", "WORKSPACE_FORMAT", "WorkspaceConfig", "read_config", "write_config"]

CONFIG_NAME = "spector.toml"
WORKSPACE_FORMAT = 1
_ENGINES = ("duckdb", "spark")


@dataclass(frozen=True, slots=True)
class WorkspaceConfig:
    name: str
    created: str
    engine: str = "duckdb"
    format: int = WORKSPACE_FORMAT

    @classmethod
    def new(cls, name: str) -> WorkspaceConfig:
        return cls(name=name, created=datetime.now(UTC).replace(microsecond=0).isoformat())


def write_config(path: Path, config: WorkspaceConfig) -> None:
    data = {
        "workspace": {"format": config.format, "name": config.name, "created": config.created},
        "engine": {"default": config.engine},
    }
    path.write_text(
        "# Spector workspace. Edit with care: `spector status` checks this file.\n"
        + tomli_w.dumps(data),
        encoding="utf-8",
    )


def read_config(path: Path) -> WorkspaceConfig:
    """Parse and check spector.toml; a ConfigError names the file, line and problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        # Python < 3.14 keeps line and column only in the message text.
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{found[1]}:{found[2]}" if found else str(path)
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(
            f"malformed TOML: {msg}", where=where, hint="fix the file or re-create the workspace"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", where=path, expected="a TOML file"
        ) from exc
    ws = _table(data, "workspace", path)
    fmt = ws.get("format")
    if not isinstance(fmt, int):
        raise ConfigError("[workspace] format is missing or not a number", where=path)
    if fmt > WORKSPACE_FORMAT:
        raise ConfigError(
            f"workspace format {fmt} is newer than this Spector understands ({WORKSPACE_FORMAT})",
            where=path,
            hint="upgrade spector",
        )
    name = ws.get("name")
    if not isinstance(name, str):
        raise ConfigError("[workspace] name is missing or not a string", where=path)
    engine = _table(data, "engine", path, required=False).get("default", "duckdb")
    if engine not in _ENGINES:
        raise ConfigError(
            f"[engine] default = {engine!r}", where=path, expected=" or ".join(_ENGINES)
        )
    return WorkspaceConfig(name=name, created=str(ws.get("created", "")), engine=engine, format=fmt)


def _table(data: dict[str, Any], key: str, path: Path, *, required: bool = True) -> dict[str, Any]:
    value = data.get(key, None if required else {})
    if not isinstance(value, dict):
        raise ConfigError(f"missing table [{key}]", where=path)
    return value
