"""The access matrix, generated: every endpoint × role × agency × distribution level.

Nothing here lists endpoints: ``apimap.discover()`` walks the routers the app mounts, and
the first test proves the live app serves exactly those. The case store is filled by
``caseworld.populate``: four agencies (one outside the demo's operation), a user per
agency × role, and for each agency every distribution level × handling code of every
record type, each record with a marker of its own.

- Without a valid token no API endpoint answers anything but 401, and no page anything
  but a redirect to the login page.
- An endpoint bound to a case-store record (``/cases/{case_id}``, ``/evidence/{id}``...)
  answers a read with 200 exactly when ``spector.cases.can_read`` says the caller may read
  it, 404 otherwise; a write is refused (403) to roles that write nothing and to other
  agencies that can read the record, hidden (404) from those that cannot, and let
  through to the owning agency's analysts and admins.
- Writes elsewhere (link decisions, CAPTCHA answers, new cases) are 403 for viewers and
  media reviewers.
- A list of a case-store table holds exactly the records the caller may read (cursor
  followed to the end); no response of any GET endpoint or page carries the marker of a
  record its caller may not read.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.apimap import API_PREFIX, Endpoint, app_endpoints, discover, fill, sample
from tests.web.caseworld import Actor, Record, World, populate
from tests.web.harness import WebClient, copy_demo, open_client

#: POSTs that check a record rather than change it: every reader may (re-hashing evidence).
CHECKS = ("verify",)
#: POSTs that end a record: run after the other writes, which they would refuse (409).
ENDS = ("close",)

ENDPOINTS = discover()
READS = [e for e in ENDPOINTS if not e.writes]
WRITES = sorted(
    (e for e in ENDPOINTS if e.writes), key=lambda e: (e.path.rsplit("/", 1)[-1] in ENDS, e.path)
)
READ_ROLES = frozenset({"admin", "analyst", "viewer", "liaison"})
NO_WRITE_ROLES = frozenset({"viewer", "media_reviewer"})
BOGUS_TOKEN = "spk_000000000000_" + "A" * 43
MAX_SHOWN = 40


def _pages() -> list[Endpoint]:
    """The areas' page routes (GET), bound like the API's."""
    from fastapi.routing import APIRoute

    from spector.web._app import AREAS
    from tests.web.apimap import _endpoint, owned_tables

    tables = owned_tables()
    out = set()
    for name in AREAS:
        for route in importlib.import_module(name).pages.routes:
            if (
                isinstance(route, APIRoute)
                and "GET" in (route.methods or ())
                and route.path not in ("/login", "/healthz")
            ):
                out.add(_endpoint("GET", route.path, tables))
    return sorted(out, key=lambda e: e.path)


PAGES = _pages()


_NONE = object()


def _properties(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    props: dict[str, Any] = schema.get("properties", {})
    return props


class Matrix:
    """The module's app, world, schema and the values found for path parameters."""

    def __init__(self, client: WebClient, world: World) -> None:
        self.client = client
        self.world = world
        self.spec: dict[str, Any] = client.get(f"{API_PREFIX}/openapi.json").json()
        self.reader = next(a for a in world.actors if a.agency == "BKA" and a.role == "analyst")
        self._values: dict[tuple[str, str], Any] = {}
        self._n = 0

    def call(
        self,
        actor: Actor | None,
        ep: Endpoint,
        url: str,
        *,
        page: bool = False,
        rec: Record | None = None,
    ) -> Any:
        headers: dict[str, str] = {}
        if actor is not None:
            if page:
                headers["Cookie"] = f"spector_session={actor.token}"
            else:
                headers.update(actor.headers)
        kwargs: dict[str, Any] = {"headers": headers, "params": self.query(ep)}
        if ep.writes:
            body = self.body(ep, rec)
            if body is not None:
                kwargs["json"] = body
        return self.client.request(ep.method, url, **kwargs)

    def operation(self, ep: Endpoint) -> dict[str, Any]:
        op: dict[str, Any] = self.spec["paths"].get(ep.path, {}).get(ep.method.lower(), {})
        return op

    def query(self, ep: Endpoint) -> dict[str, Any]:
        out = {}
        for param in self.operation(ep).get("parameters", []):
            if param.get("in") == "query" and param.get("required"):
                out[param["name"]] = sample(param.get("schema", {}), self.spec)
        return out

    def body(self, ep: Endpoint, rec: Record | None = None) -> Any:
        """The request body: the schema's sample, its fields set from the case store's
        vocabulary where a bare sample would be refused as input (see ``_hint``)."""
        content = self.operation(ep).get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return None
        schema = content["application/json"].get("schema", {})
        body = sample(schema, self.spec)
        if isinstance(body, dict):
            props = _properties(schema, self.spec)
            for name in props:
                hint = self._hint(ep, name, rec)
                if hint is not _NONE:
                    body[name] = hint
        return body

    def _hint(self, ep: Endpoint, name: str, rec: Record | None) -> Any:
        from spector.cases._evidence_models import CUSTODY_ACTIONS
        from spector.cases._records import TASK_STATUSES

        self._n += 1
        where = [s for s in ep.path.split("/") if s and "{" not in s][-1]
        if name == "kind":
            return {"targets": "person", "selectors": "handle", "evidence": "other"}.get(
                where, _NONE
            )
        if name == "target_id" and rec is not None:  # a target inside the bound case
            inside = [r.id for r in self.world.of_table("targets") if r.obj.case_id == rec.id]
            return inside[0] if inside else _NONE
        if name == "details" and where == "targets":  # a person: one detail at least
            return {"names": [f"Probe {self._n}"]}
        return {
            "value": f"mx-probe-{self._n}",
            "sha256": secrets.token_hex(32),
            "status": TASK_STATUSES[-1],
            "action": CUSTODY_ACTIONS[0],
            "at": "2026-01-02T03:04:05+00:00",
            "distribution": "all" if where == "share" else _NONE,
        }.get(name, _NONE)

    def value(self, ep: Endpoint, param: str, rec: Record | None = None) -> Any:
        """A value for ``param``: from the bound record, else the first item of the
        parameter's collection (the GET at the path before it), else None."""
        if rec is not None:
            if param == ep.bound_param:
                return rec.id
            if hasattr(rec.obj, param):
                return getattr(rec.obj, param)
        key = (ep.parent(param), param)
        if key not in self._values:
            self._values[key] = self._first(key[0], param)
        return self._values[key]

    def _first(self, collection: str, param: str) -> Any:
        if "{" in collection or not any(e.path == collection for e in READS):
            return None
        response = self.client.get(collection, headers=self.reader.headers)
        if response.status_code != 200:
            return None
        body = response.json()
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            return None
        item = items[0]
        for key in (param, param.removesuffix("_id"), "id", "name"):
            if item.get(key) is not None:
                return item[key]
        return None

    def url(self, ep: Endpoint, rec: Record | None = None) -> tuple[str, bool]:
        """The URL and whether every parameter got a real value."""
        values, real = {}, True
        for param in ep.params:
            found = self.value(ep, param, rec)
            real = real and found is not None
            values[param] = found if found is not None else "matrix-absent"
        return fill(ep.path, values), real

    def records(self, ep: Endpoint, *, one_handling: bool = False) -> list[Record]:
        recs = self.world.of_table(ep.binding or "")
        if one_handling:  # handling changes what is audited, not who may write
            recs = [r for r in recs if r.handling == "H0"]
        return recs


@pytest.fixture(scope="module")
def matrix(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    ws = copy_demo(demo_template, tmp_path_factory.mktemp("matrix") / "ws")
    with open_client(ws) as client:
        world = populate(client.app.state.web)
        yield Matrix(client, world)


def _ids(endpoints: list[Endpoint]) -> list[str]:
    return [e.id for e in endpoints]


def _report(problems: list[str], what: str) -> None:
    if problems:
        shown = "\n".join(problems[:MAX_SHOWN])
        more = f"\n... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise AssertionError(f"{len(problems)} {what}:\n{shown}{more}")


def _who(actor: Actor) -> str:
    return f"{actor.agency}/{actor.role}"


def _rec(rec: Record) -> str:
    op = f"@{rec.operation}" if rec.operation else ""
    return f"{rec.table} {rec.id} ({rec.agency} {rec.distribution}{op} {rec.handling})"


def _leak(matrix: Matrix, actor: Actor, response: Any) -> str | None:
    if response.status_code != 200:
        return None
    found = matrix.world.leaks(actor, response.text)
    return f"shows {sorted(found)[:5]} it may not read" if found else None


# --- the generated list is the app's ----------------------------------------------------


def test_the_generated_list_is_every_endpoint_the_app_serves(matrix: Matrix):
    served = app_endpoints(matrix.client.app) - {("GET", f"{API_PREFIX}/openapi.json")}
    assert served == {(e.method, e.path) for e in ENDPOINTS}
    documented = {
        (m.upper(), p) for p, ops in matrix.spec["paths"].items() for m in ops if m != "parameters"
    }
    assert documented == served, "an API route is left out of the OpenAPI schema"
    assert ("GET", f"{API_PREFIX}/me") in documented


def test_every_record_type_and_level_is_in_the_world(matrix: Matrix):
    from spector.cases import DISTRIBUTIONS, HANDLING_CODES

    world = matrix.world
    for table in {r.table for r in world.records}:
        cells = {(r.agency, r.distribution, r.handling) for r in world.of_table(table)}
        handlings = set(HANDLING_CODES) - ({"H3"} if table in ("arrests", "seizures") else set())
        want = {(a, d, h) for a in world.agencies for d in DISTRIBUTIONS for h in handlings}
        assert cells == want, table
    assert {(a.agency, a.role) for a in world.actors} == {
        (agency, role) for agency in world.agencies for role in ("admin", "analyst", "viewer",
                                                                  "liaison", "media_reviewer")
    }  # fmt: skip
    # the "operation" level differs from "all": Guardia is outside Range Sweep
    guardia = next(a for a in world.actors if a.agency == "Guardia" and a.role == "analyst")
    from spector.cases import can_read

    sweep = [
        r for r in world.records if r.operation == "Range Sweep" and r.distribution == "operation"
    ]
    assert sweep
    assert not any(can_read(guardia.principal, r.obj) for r in sweep)
    assert world.notices, "the shared handle made no deconfliction notices"


# --- nothing without a session ------------------------------------------------------------


@pytest.mark.parametrize("ep", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_no_endpoint_answers_without_a_valid_token(matrix: Matrix, ep: Endpoint):
    url, _ = matrix.url(ep, (matrix.records(ep) or [None])[0])
    problems = []
    for label, headers in (
        ("no token", {}),
        ("a forged token", {"Authorization": f"Bearer {BOGUS_TOKEN}"}),
        ("not bearer", {"Authorization": "Basic YWRtaW46YWRtaW4="}),
        ("a forged cookie", {"Cookie": f"spector_session={BOGUS_TOKEN}"}),
    ):
        kwargs: dict[str, Any] = {"headers": headers, "params": matrix.query(ep)}
        if ep.writes and "Cookie" in headers:
            kwargs["headers"] = {**headers, "X-CSRF-Token": "x"}
        response = matrix.client.request(ep.method, url, **kwargs)
        want = 403 if ep.writes and "Cookie" in headers else 401
        if response.status_code != want:
            problems.append(f"{label}: {response.status_code}, expected {want}")
    _report(problems, f"answers of {ep.id} without a valid token")


@pytest.mark.parametrize("ep", PAGES, ids=_ids(PAGES))
def test_no_page_is_shown_without_a_session(matrix: Matrix, ep: Endpoint):
    url, _ = matrix.url(ep, (matrix.records(ep) or [None])[0])
    for headers in ({}, {"Cookie": f"spector_session={BOGUS_TOKEN}"}):
        response = matrix.client.get(url, headers=headers)
        if url == "/":  # the front door answers with the sign-in form, and nothing else
            assert response.status_code == 200, (url, headers, response.status_code)
            assert 'name="password"' in response.text
            assert "<h1>Dashboard</h1>" not in response.text
            continue
        assert response.status_code == 303, (url, headers, response.status_code)
        assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("ep", WRITES, ids=_ids(WRITES))
def test_a_session_write_without_csrf_is_refused(matrix: Matrix, ep: Endpoint):
    owner = next(a for a in matrix.world.actors if a.role == "admin" and a.agency == "BKA")
    url, _ = matrix.url(ep, (matrix.records(ep) or [None])[0])
    response = matrix.client.request(
        ep.method, url, headers={"Cookie": f"spector_session={owner.token}"},
        json=matrix.body(ep), params=matrix.query(ep),
    )  # fmt: skip
    assert response.status_code == 403, response.text
    assert "CSRF" in response.json()["error"]["message"]


# --- reads ----------------------------------------------------------------------------------


def _read_problems(matrix: Matrix, ep: Endpoint, *, page: bool) -> list[str]:
    from spector.cases import can_read

    matrix.world.refresh(matrix.client.app.state.web)
    problems = []
    world = matrix.world
    if ep.binding == "notices":
        for actor in world.actors:
            for nid, agency_id in sorted(world.notices.items()):
                values = {p: matrix.value(ep, p) for p in ep.params}
                url = fill(ep.path, {**values, ep.bound_param: nid})
                own = agency_id == actor.principal.agency_id and actor.role in READ_ROLES
                want = 200 if own else 404
                got = matrix.call(actor, ep, url, page=page).status_code
                if got != want:
                    problems.append(f"{_who(actor)} notice {nid}: {got}, expected {want}")
        return problems
    if ep.binding is not None:
        for rec in matrix.records(ep):
            url, _ = matrix.url(ep, rec)
            for actor in world.actors:
                response = matrix.call(actor, ep, url, page=page)
                want = 200 if can_read(actor.principal, rec.obj) else 404
                got = response.status_code
                if got != want:
                    problems.append(f"{_who(actor)} {_rec(rec)}: {got}, expected {want}")
                elif leak := _leak(matrix, actor, response):
                    problems.append(f"{_who(actor)} {_rec(rec)}: {leak}")
        return problems
    url, real = matrix.url(ep)
    real = real and not matrix.query(ep)  # a sampled search term may well be refused
    for actor in world.actors:
        response = matrix.call(actor, ep, url, page=page)
        got = response.status_code
        if got >= 500 or got == 401:
            problems.append(f"{_who(actor)} {url}: {got}, expected an answer")
        elif real and got != 200 and actor.role in READ_ROLES:
            problems.append(f"{_who(actor)} {url}: {got}, expected 200 (every user reads it)")
        elif leak := _leak(matrix, actor, response):
            problems.append(f"{_who(actor)} {url}: {leak}")
    return problems


@pytest.mark.parametrize("ep", READS, ids=_ids(READS))
def test_api_reads_follow_the_access_filter(matrix: Matrix, ep: Endpoint):
    _report(_read_problems(matrix, ep, page=False), f"wrong answers of {ep.id}")


@pytest.mark.parametrize("ep", PAGES, ids=_ids(PAGES))
def test_pages_follow_the_access_filter(matrix: Matrix, ep: Endpoint):
    _report(_read_problems(matrix, ep, page=True), f"wrong pages of {ep.path}")


def _list_tables() -> list[Endpoint]:
    from tests.web.apimap import owned_tables

    tables = owned_tables() | {"notices"}
    return [e for e in READS if not e.params and e.path.rsplit("/", 1)[-1] in tables]


LISTS = _list_tables()


def _all_items(matrix: Matrix, actor: Actor, path: str) -> list[dict[str, Any]] | str:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        response = matrix.client.get(path, headers=actor.headers, params=params)
        if response.status_code != 200:
            return f"{response.status_code} {response.text[:200]}"
        body = response.json()
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items
    return "the cursor never ended"


@pytest.mark.parametrize("ep", LISTS, ids=_ids(LISTS))
def test_lists_hold_exactly_what_the_caller_may_read(matrix: Matrix, ep: Endpoint):
    from sqlalchemy import select

    from spector.cases import DeconflictionNotice, can_read
    from spector.cases._access import owned_models

    table = ep.path.rsplit("/", 1)[-1]
    state = matrix.client.app.state.web
    problems = []
    for actor in matrix.world.actors:
        got = _all_items(matrix, actor, ep.path)
        if isinstance(got, str):
            problems.append(f"{_who(actor)}: {got}")
            continue
        with state.session(readonly=True) as s:  # the truth, read past the web layer
            if table == "notices":
                rows = s.scalars(select(DeconflictionNotice)).all()
                want = {n.id for n in rows if n.agency_id == actor.principal.agency_id}
                if actor.role not in READ_ROLES:
                    want = set() if not got else want
            else:
                model = next(m for m in owned_models() if m.__tablename__ == table)  # type: ignore[attr-defined]
                want = {r.id for r in s.scalars(select(model)) if can_read(actor.principal, r)}
        ids = [item.get("id") for item in got]
        if len(ids) != len(set(ids)):
            problems.append(f"{_who(actor)}: an item twice across pages")
        if set(ids) != want:
            extra, missing = sorted(set(ids) - want), sorted(want - set(ids))
            problems.append(f"{_who(actor)}: extra {extra[:8]}, missing {missing[:8]}")
    _report(problems, f"wrong lists of {ep.id}")


# --- writes ---------------------------------------------------------------------------------


def _write_want(
    ep: Endpoint, actor: Actor, readable: bool, own: bool, closed: bool = False
) -> tuple[set[int], str]:
    """Acceptable statuses for ``actor`` writing through ``ep`` into a bound record
    (``closed``: in a case closed by an earlier write: a 409 refuses as well as a 403)."""
    refused = {403, 409} if closed else {403}
    if ep.path.rsplit("/", 1)[-1] in CHECKS:
        return ({200}, "a reader checking it") if readable else ({404}, "a record it cannot read")
    if ep.binding == "notices":
        if actor.role not in ("liaison", "analyst", "admin"):
            return {403}, "a role that acknowledges nothing"
        return ({200, 201, 204}, "its agency's notice") if own else ({404}, "another agency's")
    if actor.role in NO_WRITE_ROLES or actor.role == "liaison":
        if actor.role == "liaison" and own and ep.path.endswith(("/share", "/distribution")):
            return set(range(200, 300)) | {400, 409, 422}, "a liaison sharing its own"
        return (refused, "a role that writes nothing") if readable else ({403, 404}, "hidden")
    if not readable:
        return {404}, "a record it cannot read"
    if not own:
        return refused, "another agency's record"
    return set(range(200, 300)) | {400, 409, 422}, "its agency's record"


def _closed_cases(matrix: Matrix) -> Any:
    cases = {r.id: r.obj for r in matrix.world.of_table("cases")}

    def closed(rec: Record) -> bool:
        case = rec.obj if rec.table == "cases" else cases.get(getattr(rec.obj, "case_id", None))
        return getattr(case, "status", None) == "closed"

    return closed


@pytest.mark.parametrize("ep", WRITES, ids=_ids(WRITES))
def test_writes_follow_roles_and_ownership(matrix: Matrix, ep: Endpoint):
    from spector.cases import can_read

    world = matrix.world
    world.refresh(matrix.client.app.state.web)
    closed = _closed_cases(matrix)
    problems = []
    if ep.binding == "notices":
        for nid, agency_id in sorted(world.notices.items()):
            values = {p: matrix.value(ep, p) for p in ep.params}
            url = fill(ep.path, {**values, ep.bound_param: nid})
            for actor in world.actors:
                want, why = _write_want(ep, actor, True, agency_id == actor.principal.agency_id)
                got = matrix.call(actor, ep, url).status_code
                if got not in want:
                    problems.append(
                        f"{_who(actor)} notice {nid} ({why}): {got}, expected {sorted(want)}"
                    )
    elif ep.binding is not None:
        let_through = 0
        for rec in matrix.records(ep, one_handling=True):
            url, _ = matrix.url(ep, rec)
            # the refused first: a write let through (closing a case) changes what follows
            wants = {
                a.username: _write_want(
                    ep, a, can_read(a.principal, rec.obj), rec.agency == a.agency, closed(rec)
                )
                for a in world.actors
            }
            order = sorted(world.actors, key=lambda a: bool({200, 201} & wants[a.username][0]))
            for actor in order:
                want, why = wants[actor.username]
                got = matrix.call(actor, ep, url, rec=rec).status_code
                let_through += 200 <= got < 300
                if got not in want:
                    problems.append(
                        f"{_who(actor)} {_rec(rec)} ({why}): {got}, expected {sorted(want)}"
                    )
        if not let_through:
            problems.append("no write was let through: the matrix's request body is refused")
    else:
        url, real = matrix.url(ep)
        for actor in world.actors:
            got = matrix.call(actor, ep, url).status_code
            if actor.role in NO_WRITE_ROLES:
                want = {403} if real else {403, 404}
                if got not in want:
                    problems.append(
                        f"{_who(actor)} (writes nothing): {got}, expected {sorted(want)}"
                    )
            elif got >= 500 or got == 401 or (actor.writes and got == 403):
                problems.append(f"{_who(actor)}: {got}, expected the write to be let through")
    _report(problems, f"wrong answers of {ep.id}")
