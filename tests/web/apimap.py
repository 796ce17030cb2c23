"""The API's endpoints as the app declares them, for the generated checks.

``discover()`` walks the ``api`` router of every area module ``create_app`` mounts (the
very route objects the app serves), so an endpoint added to any ``_r_*.py`` is in the
access matrix and the benchmark without anyone listing it. ``app_endpoints(app)`` gives
the same from a live app's routes, to prove nothing is mounted past the areas.

An endpoint's *binding* says what its path names: the last path parameter whose
preceding literal segment is the table name of an Owned case-store model
(``/cases/{case_id}/notes`` is bound to ``cases``), ``notices`` for deconfliction
notices (addressed to one agency), or None (workspace data, operations by name, ...).

``sample(schema, spec)`` makes a minimal value for a JSON schema of the OpenAPI document
(examples and defaults first, then the first enum value, then the type), used to fill
required query parameters and request bodies.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Endpoint", "app_endpoints", "discover", "fill", "owned_tables", "sample"]

API_PREFIX = "/api/v1"
PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
CONVERTOR = re.compile(r"\{([^}:]+):[^}]*\}")
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def owned_tables() -> frozenset[str]:
    """Table names of every Owned model of the case store (importing all of its models)."""
    import spector.cases._deconflict
    import spector.cases._evidence
    import spector.cases._ops
    import spector.cases._records  # noqa: F401  (the models register on import)
    from spector.cases._access import owned_models

    return frozenset(m.__tablename__ for m in owned_models())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Endpoint:
    """One method of one API path (the path with its /api/v1 prefix)."""

    method: str
    path: str
    params: tuple[str, ...]
    binding: str | None
    bound_param: str | None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def writes(self) -> bool:
        return self.method not in SAFE

    def parent(self, param: str) -> str:
        """The path up to ``param``: its collection (``/api/v1/cases`` for case_id)."""
        return self.path.split("{" + param, 1)[0].rstrip("/")


def _endpoint(method: str, path: str, tables: frozenset[str]) -> Endpoint:
    path = CONVERTOR.sub(r"{\1}", path)  # /{name:path} is /{name} in the schema
    segments = path.strip("/").split("/")
    params: list[str] = []
    binding: str | None = None
    bound: str | None = None
    for i, seg in enumerate(segments):
        found = PARAM.fullmatch(seg)
        if found is None:
            continue
        params.append(found[1])
        before = segments[i - 1] if i else ""
        if before in tables or before == "notices":
            binding, bound = before, found[1]
    return Endpoint(method, path, tuple(params), binding, bound)


def _routes_of(routes: Any, prefix: str) -> list[tuple[str, str]]:
    """(method, prefix + path) of the API routes in ``routes``, included routers walked
    (FastAPI's ``iter_route_contexts``)."""
    from fastapi.routing import APIRoute, iter_route_contexts

    out = []
    for ctx in iter_route_contexts(routes):
        if isinstance(ctx.original_route, APIRoute) and ctx.path is not None:
            for method in sorted(ctx.methods or ()):
                if method != "HEAD":
                    out.append((method, prefix + ctx.path))
    return out


def discover() -> list[Endpoint]:
    """Every API endpoint of the area modules ``create_app`` mounts, sorted."""
    from spector.web._app import API_PREFIX as prefix
    from spector.web._app import AREAS

    tables = owned_tables()
    pairs: set[tuple[str, str]] = set()
    for name in AREAS:
        module = importlib.import_module(name)
        pairs.update(_routes_of(module.api.routes, prefix))
    return [_endpoint(m, p, tables) for p, m in sorted((p, m) for m, p in pairs)]


def app_endpoints(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route of ``app`` under /api/v1 (schema or not)."""
    return {
        (m, CONVERTOR.sub(r"{\1}", p))
        for m, p in _routes_of(app.routes, "")
        if p.startswith(API_PREFIX + "/")
    }


def fill(path: str, values: dict[str, Any]) -> str:
    """``path`` with its parameters replaced by ``values`` (URL-encoded, no safe chars)."""
    from urllib.parse import quote

    return PARAM.sub(lambda m: quote(str(values[m[1]]), safe=""), path)


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec.get("components", {}).get("schemas", {}).get(name, {})
    return schema


def sample(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> Any:
    """A minimal value that meets ``schema`` (see the module doc)."""
    schema = _resolve(schema, spec)
    for key in ("example", "default", "const"):
        if key in schema and schema[key] is not None:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o, spec).get("type") != "null"]
            return sample(options[0], spec, depth + 1) if options else None
    if "allOf" in schema:
        return sample(schema["allOf"][0], spec, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = schema.get("required", [])
        return {k: sample(props.get(k, {}), spec, depth + 1) for k in required} if depth < 6 else {}
    if kind == "array":
        n = int(schema.get("minItems", 0))
        return [sample(schema.get("items", {}), spec, depth + 1) for _ in range(n)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return "2026-01-01"
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        return "matrix probe"[: int(schema.get("maxLength", 12))].ljust(
            int(schema.get("minLength", 0)), "x"
        )
    return None
