"""spector.toml: the marker and settings of a workspace."""

from __future__ import annotations

import difflib
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
_CASES_KEYS = ("db", "correlation_limit")
CORRELATION_LIMIT = 20  # MISP's default: a value in more cases than this is "noisy"


@dataclass(frozen=True, slots=True)
class WorkspaceConfig:
    name: str
    created: str
    engine: str = "duckdb"
    format: int = WORKSPACE_FORMAT
    cases_db: str | None = None  # [cases] db: the case store's URL (default: cases.sqlite)
    correlation_limit: int = CORRELATION_LIMIT  # [cases] correlation_limit

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
    cases_db, correlation_limit = _cases(_table(data, "cases", path, required=False), path)
    return WorkspaceConfig(
        name=name,
        created=str(ws.get("created", "")),
        engine=engine,
        format=fmt,
        cases_db=cases_db,
        correlation_limit=correlation_limit,
    )


def _cases(table: dict[str, Any], path: Path) -> tuple[str | None, int]:
    """The optional [cases] table: ``db`` (a URL) and ``correlation_limit`` (int >= 1)."""
    for key in table:
        if key not in _CASES_KEYS:
            close = difflib.get_close_matches(key, _CASES_KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            raise ConfigError(
                f"unknown key {key!r} in [cases]",
                where=path,
                expected=" or ".join(_CASES_KEYS),
                hint=hint,
            )
    db = table.get("db")
    if db is not None and (not isinstance(db, str) or not db.strip()):
        raise ConfigError(
            "[cases] db is not a URL string",
            where=path,
            expected='"sqlite:///FILE" or "postgresql://USER@HOST/DB"',
        )
    limit = table.get("correlation_limit", CORRELATION_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(
            f"[cases] correlation_limit = {limit!r}", where=path, expected="a whole number >= 1"
        )
    return (db.strip() if db else None), limit


def _table(data: dict[str, Any], key: str, path: Path, *, required: bool = True) -> dict[str, Any]:
    value = data.get(key, None if required else {})
    if not isinstance(value, dict):
        raise ConfigError(f"missing table [{key}]", where=path)
    return value
