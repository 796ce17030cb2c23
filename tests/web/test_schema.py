"""schemathesis against the app's own OpenAPI schema, in-process, with a bearer token.

Every operation of /api/v1/openapi.json gets generated requests (valid and invalid
parameters and bodies) as the demo's BKA analyst; each answer must be no 500, carry a
status code the schema documents, a declared content type, and a body that conforms to
the operation's ``response_model`` (or to the error body). Not checked: that every
schema-valid request is accepted (schemathesis's ``positive_data_acceptance``): a cursor
that is a string but not ours, an id that is a number but of nothing, a kind the store does
not know are rightly a 400 or 404. The app runs on a copy of
the demo workspace with the access-matrix world added, so ids in the generated requests
hit real records of every distribution.

Kept under about a minute: ``EXAMPLES`` per operation (``SPECTOR_SCHEMA_EXAMPLES``
raises it for a deeper run), positive and negative data, no shrinking.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.web.apimap import Endpoint, discover
from tests.web.caseworld import populate
from tests.web.harness import copy_demo

EXAMPLES = int(os.environ.get("SPECTOR_SCHEMA_EXAMPLES", "12"))


def _without_lifespan(app: Any) -> Any:
    """``app`` as an ASGI app that answers lifespan events itself: schemathesis's client
    would otherwise run the app's shutdown (closing its stores) between requests."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]  # startup / shutdown
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await app(scope, receive, send)

    return wrapped


@pytest.fixture(scope="module")
def served(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, str]]:
    """The app on a copy of the demo and the token of an analyst who owns records of
    every distribution."""
    from spector.web import create_app

    ws = copy_demo(demo_template, tmp_path_factory.mktemp("schema") / "ws")
    app = create_app(ws)
    try:
        world = populate(app.state.web)
        actor = next(a for a in world.actors if a.agency == "BKA" and a.role == "analyst")
        yield app, actor.token
    finally:
        app.state.web.close()


@pytest.fixture(scope="module")
def api_schema(served: tuple[Any, str]) -> Any:
    app, _ = served
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", _without_lifespan(app))


ENDPOINTS = discover()


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.id for e in ENDPOINTS])
def test_the_api_keeps_to_its_schema(api_schema: Any, served: tuple[Any, str], ep: Endpoint):
    """Positive and negative cases of one operation (one pytest test per operation:
    ``apimap.discover()`` names them at collection, before any app exists)."""
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    _, token = served
    operation = api_schema[ep.path][ep.method]
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, excluded_checks=[positive_data_acceptance]
        )

    run()


def test_the_schema_is_openapi_3_with_bearer_auth(served: tuple[Any, str]) -> None:
    import httpx
    from anyio.from_thread import start_blocking_portal

    app, _ = served

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get("/api/v1/openapi.json")

    with start_blocking_portal() as portal:
        spec = portal.call(get).json()
    assert spec["openapi"].startswith("3.")
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert "/api/v1/cases" in spec["paths"]
