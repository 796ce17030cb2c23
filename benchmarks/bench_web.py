"""[J] The web app under load: 200 requests/s of mixed reads and writes, logged in.

A real uvicorn server on loopback, in a process of its own, serves ``create_app`` on a
copy of the demo workspace (``$SPECTOR_WEB_DEMO``, else ``spector demo --no-serve`` is
built once into a temporary folder) with a fresh case store on SQLite, then on
PostgreSQL (``$SPECTOR_TEST_POSTGRES_URL`` or ``.ci/postgres start``; a throw-away
database). The store is filled like the access matrix's (``tests/web/caseworld``: four
agencies, every distribution × handling of every record type).

The load generator (Python asyncio + httpx, in this process) is open-loop: request *i*
is due at ``i / rate`` seconds and its latency is measured from that moment, so a slow
answer delays nobody's clock (no coordinated omission). Eight analysts of the four
agencies are signed in with a session cookie; each write carries the page's CSRF token
(read from the dashboard's ``<meta name=csrf-token>``), as a browser's htmx would.

Mix, drawn with a fixed seed (endpoints missing from the app's OpenAPI schema are left
out and said so): 80 % reads — the case list, a case, the notices, the listings, the
actors, the markets, the dashboard, ``/me`` and the /cases page — and 20 % writes: a note,
a task or a selector (deconfliction query included) added to one of the user's own cases.

Peer, in the same run and at the same rate through the same generator: a bare
Starlette app with one route answering a static JSON body, on uvicorn in a process of
its own — what the server, the loopback and the generator cost by themselves.
Goal: p99 <= 50 ms, 0 errors. ``--seconds N`` (default 300) per backend.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SECONDS = 300.0
WARMUP_S = 5.0
DRAIN_S = 20.0
SERVICE_RUNS = 15
GOAL_MS = 50.0
SEED = 13
USERS = 8
READS = [  # (weight, name, method, path template)
    (14, "list cases", "GET", "/api/v1/cases"),
    (14, "one case", "GET", "/api/v1/cases/{case_id}"),
    (10, "notices", "GET", "/api/v1/notices"),
    (10, "listings", "GET", "/api/v1/listings"),
    (8, "actors", "GET", "/api/v1/actors"),
    (8, "markets", "GET", "/api/v1/markets"),
    (4, "dashboard", "GET", "/api/v1/dashboard"),
    (8, "me", "GET", "/api/v1/me"),
    (4, "cases page", "GET", "/cases"),
]
WRITES = [
    (8, "add note", "POST", "/api/v1/cases/{case_id}/notes"),
    (6, "add task", "POST", "/api/v1/cases/{case_id}/tasks"),
    (6, "add selector", "POST", "/api/v1/cases/{case_id}/selectors"),
]


def _option(flag: str, env: str, default: float) -> float:
    """``--flag N`` (or ``--flag=N``) from the command line, else ``$env``, else default."""
    argv = sys.argv
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return float(argv[i + 1])
        if arg.startswith(flag + "="):
            return float(arg.split("=", 1)[1])
    return float(os.environ.get(env, default))


def _seconds() -> float:
    """``--seconds N`` per backend (``python -m benchmarks web --seconds 60``)."""
    return _option("--seconds", "SPECTOR_BENCH_WEB_SECONDS", DEFAULT_SECONDS)


# Requests per second (``--rate N``; the goal is at 200).
RATE = _option("--rate", "SPECTOR_BENCH_WEB_RATE", 200.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the server processes -------------------------------------------------------------------


def _serve_app(ws: str, db: str, port: int, out: str) -> None:
    """Child: fill a fresh case store at ``db``, write who may sign in to ``out``, serve."""
    sys.path.insert(0, str(ROOT))
    from tests.web.caseworld import populate

    from spector.cases import create_agency, create_operation, init_instance, open_cases
    from spector.web import create_app

    store = open_cases(Path(ws), db)
    with store.session() as s:
        admin = init_instance(s, agency="BKA", country="DE", admin="admin", password="x" * 16)
        for name, country in (("Politie", "NL"), ("FBI", "US")):
            create_agency(s, admin, name=name, country=country)
        create_operation(s, admin, name="Range Sweep", agencies=["BKA", "Politie", "FBI"])
    store.close()
    app = create_app(Path(ws), db=db)
    world = populate(app.state.web)
    analysts = [a for a in world.actors if a.role == "analyst"]
    from spector.cases import can_read

    cases = world.of_table("cases")
    own = {a.username: [r.id for r in cases if r.agency == a.agency] for a in analysts}
    readable = {a.username: [r.id for r in cases if can_read(a.principal, r.obj)] for a in analysts}
    Path(out).write_text(
        json.dumps(
            {
                "users": [{"username": a.username, "token": a.token} for a in analysts],
                "own_cases": own,
                "cases": readable,
            }
        )
    )
    _run(app, port)


def _serve_peer(port: int) -> None:
    """Child: the peer, a bare Starlette route with a static JSON body."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    body = {"items": [{"id": i, "title": f"item {i}"} for i in range(10)], "next_cursor": None}

    async def static(_request: Any) -> JSONResponse:
        return JSONResponse(body)

    _run(Starlette(routes=[Route("/static", static)]), port)


def _run(app: Any, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        server_header=False, timeout_keep_alive=300,  # the generator keeps its connections
    )  # fmt: skip
    uvicorn.Server(config).run()


@contextmanager
def _process(args: list[str], port: int, timeout: float = 300.0) -> Any:
    """A child ``python -m benchmarks.bench_web ARGS``, up when ``port`` answers."""
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_web", *args],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"server did not listen on {port} within {timeout:.0f} s")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- the load generator ---------------------------------------------------------------------


@dataclass
class Result:
    """Latencies (s) per request name, error descriptions, how late the generator ran."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    seconds: float = 0.0
    max_lag: float = 0.0
    unanswered: int = 0

    def all(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _run_loop(coro: Any) -> Any:
    """Run the generator on uvloop when it is installed (uvicorn's own loop), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _request_bytes(host: str, method: str, url: str, kwargs: dict[str, Any]) -> bytes:
    """One HTTP/1.1 request, keep-alive, as bytes (built once, before the clock starts)."""
    from urllib.parse import urlencode

    params = kwargs.get("params")
    target = url + ("?" + urlencode(params) if params else "")
    headers = {"Host": host, "Accept": "application/json", **kwargs.get("headers", {})}
    body = b""
    if "json" in kwargs:
        body = json.dumps(kwargs["json"]).encode()
        headers["Content-Type"] = "application/json"
    if method != "GET":
        headers["Content-Length"] = str(len(body))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send ``request``, read one response (Content-Length framed, as our apps answer)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _load(
    base: str, plan: list[tuple[str, str, str, dict[str, Any]]], seconds: float
) -> Result:
    """Send ``plan`` (name, method, url, httpx-style kwargs) at RATE per second,
    open-loop, over raw keep-alive HTTP/1.1 connections (a pool that grows up to 64):
    the generator costs a few tens of microseconds a request, so it stays on time. The
    first WARMUP_S seconds are sent but not counted."""
    host_port = base.split("://", 1)[1]
    host, _, port = host_port.partition(":")
    requests = [(name, _request_bytes(host_port, m, u, kw)) for name, m, u, kw in plan]
    result = Result()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    slots = asyncio.Semaphore(64)
    start = time.perf_counter() + 0.1
    total = int((seconds + WARMUP_S) * RATE)
    tasks = []

    async def one(i: int, due: float) -> None:
        name, request = requests[i % len(requests)]
        async with slots:
            conn = idle.pop() if idle else await asyncio.open_connection(host, int(port))
            try:
                status, body = await asyncio.wait_for(_exchange(*conn, request), 30.0)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                conn[1].close()
                result.errors.append(f"{name}: {type(exc).__name__} {exc}")
                took = time.perf_counter() - due
            else:
                idle.append(conn)
                took = time.perf_counter() - due
                if status >= 400:
                    result.errors.append(f"{name}: {status} {body[:120]!r}")
        if due - start >= WARMUP_S:
            result.latencies[name].append(took)

    for i in range(total):
        due = start + i / RATE
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            result.max_lag = max(result.max_lag, -delay)
        tasks.append(asyncio.create_task(one(i, due)))
        result.sent += 1
    _, pending = await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in pending:  # an overloaded server: what is left is not waited for
        task.cancel()
    result.errors += [f"unanswered {DRAIN_S:.0f} s after the last was sent"] * len(pending)
    result.unanswered = len(pending)
    result.seconds = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    return result


def _plan(base: str, info: dict[str, Any], spec_paths: set[str]) -> tuple[list[Any], list[str]]:
    """The request mix for the app (see the module doc) and the names left out."""
    import httpx

    rng = random.Random(SEED)
    sessions = []
    for user in info["users"][:USERS]:
        cookie = {"Cookie": f"spector_session={user['token']}"}
        home = httpx.get(base + "/", headers=cookie, timeout=60.0)
        found = re.search(r'name="csrf-token" content="([^"]+)"', home.text)
        if found is None:
            raise RuntimeError(f"no CSRF token on the dashboard for {user['username']}")
        sessions.append((user["username"], cookie, found[1]))
    mix = READS + WRITES
    absent = [n for _, n, _, p in mix if p.startswith("/api/") and p not in spec_paths]
    mix = [m for m in mix if m[1] not in absent]
    weights = [w for w, *_ in mix]
    plan = []
    for i in range(4000):
        _, name, method, path = rng.choices(mix, weights)[0]
        username, cookie, csrf = sessions[i % len(sessions)]
        own = info["own_cases"][username]
        kwargs: dict[str, Any] = {"headers": dict(cookie)}
        if method == "GET":
            case_id = rng.choice(own if rng.random() < 0.5 else info["cases"][username])
            url = path.format(case_id=case_id)
            kwargs["params"] = {"limit": 50} if "{" not in path and path != "/cases" else {}
            if name in ("me", "dashboard"):
                kwargs.pop("params")
        else:
            case_id = rng.choice(own)
            url = path.format(case_id=case_id)
            kwargs["headers"]["X-CSRF-Token"] = csrf
            kwargs["json"] = _body(name, i)
        plan.append((name, method, url, kwargs))
    return plan, absent


def _body(name: str, i: int) -> dict[str, Any]:
    if name == "add note":
        return {"body": f"bench note {i}"}
    if name == "add task":
        return {"title": f"bench task {i}"}
    return {"kind": "handle", "value": f"bench-{secrets.token_hex(4)}", "target_id": None}


async def _resolve_targets(base: str, plan: list[Any]) -> None:
    """Selector writes need a target of the case: read each case's targets once."""
    import httpx

    targets: dict[str, int | None] = {}
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:
        for name, _, url, kwargs in plan:
            if name != "add selector":
                continue
            case_url = url.rsplit("/", 1)[0]
            if case_url not in targets:
                got = await client.get(case_url, headers=kwargs["headers"])
                found = (got.json().get("targets") or [{}]) if got.status_code == 200 else [{}]
                targets[case_url] = found[0].get("id")
            kwargs["json"]["target_id"] = targets[case_url]


def _service_times(base: str, plan: list[Any]) -> dict[str, float]:
    """Each request kind alone, one at a time (no load): the median, in ms."""
    import httpx

    seen: dict[str, list[Any]] = defaultdict(list)
    for item in plan:
        if len(seen[item[0]]) < SERVICE_RUNS:
            seen[item[0]].append(item)
    out = {}
    with httpx.Client(base_url=base, timeout=60.0) as client:
        for name, items in seen.items():
            took = []
            for _, method, url, kwargs in items:
                t0 = time.perf_counter()
                client.request(method, url, **kwargs)
                took.append(time.perf_counter() - t0)
            out[name] = statistics.median(took) * 1000
    return out


def _measure(ws: Path, db: str, seconds: float, label: str) -> list[str]:
    port, peer_port = _free_port(), _free_port()
    info_file = ws.parent / f"bench-web-{label}.json"
    lines = []
    t0 = time.perf_counter()
    with _process(["--serve", str(ws), db, str(port), str(info_file)], port):
        setup = time.perf_counter() - t0
        info = json.loads(info_file.read_text())
        base = f"http://127.0.0.1:{port}"
        import httpx

        spec = httpx.get(base + "/api/v1/openapi.json", timeout=60.0).json()
        plan, absent = _plan(base, info, set(spec["paths"]))
        asyncio.run(_resolve_targets(base, plan))
        alone = _service_times(base, plan)
        app = _run_loop(_load(base, plan, seconds))
    with _process(["--peer", str(peer_port)], peer_port):
        peer_plan = [("static", "GET", "/static", {})]
        peer = _run_loop(_load(f"http://127.0.0.1:{peer_port}", peer_plan, seconds))
    a50, a99 = _ms(app.all())
    p50, p99 = _ms(peer.all())
    n = len(app.all())
    mark = "✔" if a99 <= GOAL_MS and not app.errors else "✘"
    lines.append(
        f"{label}: server up in {setup:.1f} s; {n:,} requests counted over {seconds:.0f} s "
        f"at {RATE:.0f}/s (after {WARMUP_S:.0f} s warm-up), generator late by at most "
        f"{app.max_lag * 1000:.0f} ms"
        + (f"; left out (not in the API yet): {', '.join(absent)}" if absent else "")
    )
    lines.append(
        f"{label:10s} app  p50 {a50:6.2f} ms  p99 {a99:7.2f} ms  errors {len(app.errors)}  "
        f"| bare Starlette peer p50 {p50:5.2f} ms  p99 {p99:6.2f} ms  errors {len(peer.errors)}  "
        f"| ratio p50 {a50 / p50:5.1f}x  p99 {a99 / p99:5.1f}x  (goal p99 <= {GOAL_MS:.0f} ms, "
        f"0 errors {mark})"
    )
    weighted = [alone[k] for k, v in app.latencies.items() for _ in v if k in alone]
    capacity = 1000 / statistics.fmean(weighted) if weighted else 0.0
    lines.append(
        f"{label:10s} unanswered at the end {app.unanswered}; one request at a time, the mix "
        f"would allow about {capacity:.0f} requests/s from one server process"
    )
    for name in sorted(app.latencies, key=lambda k: -alone.get(k, 0.0)):
        s50, s99 = _ms(app.latencies[name])
        lines.append(
            f"{label:10s}   {name:13s} n {len(app.latencies[name]):6d}  p50 {s50:8.2f} ms  "
            f"p99 {s99:9.2f} ms  | alone p50 {alone.get(name, float('nan')):6.2f} ms"
        )
    for err in sorted(set(app.errors))[:5]:
        lines.append(f"{label:10s}   error: {err}")
    print("\n".join(lines), file=sys.stderr, flush=True)  # kept if a later backend fails
    return lines


def _demo() -> tuple[Path, Path | None]:
    """The demo workspace to copy, and a temporary folder to remove afterwards."""
    prebuilt = os.environ.get("SPECTOR_WEB_DEMO")
    if prebuilt:
        return Path(prebuilt), None
    tmp = Path(tempfile.mkdtemp(prefix="spector-bench-web-"))
    spector = Path(sys.executable).with_name("spector")
    subprocess.run(
        [str(spector), "demo", "--no-serve", "--seed", "7", "-w", str(tmp / "demo")],
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    return tmp / "demo", tmp


def run() -> list[str]:
    from benchmarks.bench_cases import _postgres_server, _postgres_url

    seconds = _seconds()
    template, made = _demo()
    lines = [
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
        f"{RATE:.0f} requests/s for {seconds:.0f} s per backend, {USERS} signed-in analysts"
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp) / "sqlite" / "ws"
            shutil.copytree(template, ws, symlinks=True)
            sqlite = f"sqlite:///{Path(tmp) / 'bench-cases.sqlite'}"
            lines += _measure(ws, sqlite, seconds, "sqlite")
            server, how = _postgres_server()
            if server is None:
                lines.append(f"postgresql: skipped — {how}")
                return lines
            ws = Path(tmp) / "pg" / "ws"
            shutil.copytree(template, ws, symlinks=True)
            with _postgres_url(server) as url:
                lines.append(f"postgresql: server from {how}")
                lines += _measure(ws, url, seconds, "postgresql")
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return lines


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        _serve_app(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1:2] == ["--peer"]:
        _serve_peer(int(sys.argv[2]))
    else:
        print("\n".join(run()))
