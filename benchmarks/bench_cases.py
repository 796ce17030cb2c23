"""[I] Case store speed: list, read and add-selector-with-deconfliction, in process.

A store of nine agencies (one joint operation of all nine), 100 cases per agency, 10
targets per case and 100,000 selectors in all (about 11 per target), seeded by bulk
insert (not through the API one by one). Cases are distributed a third each "agency",
"operation" and "all"; targets and selectors inherit. 1 % of the values are held by two
agencies (a hit), five values by 30 cases each (noisy). The acting user is an analyst of
the first agency, a member of the operation.

Operations, each in its own session (a transaction, as one request of the web API):

- ``list``: a page (50) of a case's selectors the user may read (``list_selectors``,
  through ``select_visible``), for a random readable case;
- ``read``: one selector by id (``get_visible``), for a random readable selector;
- ``add-selector``: ``add_selector`` on one of the user's own targets, committed: the
  canonical form, the keyed hash, the access checks, the audit entries and the
  deconfliction query; half of the values hit another agency's (two notices made).

Peer, in the same run: the same queries as raw SQL without the access filter, checks or
audit (``SELECT ... JOIN targets WHERE case_id``; ``SELECT ... WHERE id``; an INSERT, the
digest lookup and, on a hit, two notice INSERTs), committed the same way. The ratio is
the cost of the filter and of everything else the API does. Goal: p99 <= 20 ms.

PostgreSQL: the server of $SPECTOR_TEST_POSTGRES_URL (a throw-away database is made and
dropped), else one started with ``.ci/postgres start``; when neither works the
PostgreSQL half says why and is skipped.
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
N_SELECTORS = 100_000
N_AGENCIES = 9
CASES_PER_AGENCY = 100
TARGETS_PER_CASE = 10
PAGE = 50
RUNS = {"list": 400, "read": 400, "add-selector": 300}
WARMUP = 20
GOAL_MS = 20.0
SEED = 12
COUNTRIES = ["DE", "NL", "US", "GB", "FR", "AT", "AU", "CA", "CH"]


def _ms(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples`` (seconds), in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _timed(fn: Callable[[int], object], runs: int) -> list[float]:
    for i in range(WARMUP):
        fn(i)
    out = []
    for i in range(runs):
        start = time.perf_counter()
        fn(WARMUP + i)
        out.append(time.perf_counter() - start)
    return out


class Seeded:
    """The seeded store and what the measurements pick from."""

    def __init__(self, store, principal, own_targets, readable_cases, readable_selectors,
                 hit_values, seconds):  # fmt: skip
        self.store = store
        self.p = principal
        self.own_targets = own_targets
        self.readable_cases = readable_cases
        self.readable_selectors = readable_selectors
        self.hit_values = hit_values
        self.seconds = seconds


def seed(store) -> Seeded:
    """Nine agencies and 100,000 selectors, bulk-inserted (see the module doc)."""
    from spector.cases._deconflict import Selector, digest, instance_key
    from spector.cases._records import Case, Target
    from spector.cases._who import (
        create_agency,
        create_operation,
        create_user,
        init_instance,
        principal_of,
    )

    start = time.perf_counter()
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    with store.session() as s:
        admin = init_instance(s, agency="A0", country="DE", admin="admin", password="x" * 12)
        agencies = [admin.agency_id]
        users = [admin.user_id]
        for i in range(1, N_AGENCIES):
            agencies.append(create_agency(s, admin, name=f"A{i}", country=COUNTRIES[i]).id)
        for i in range(len(agencies)):
            user = create_user(
                s, admin, agency=f"A{i}", username=f"analyst{i}", password="x" * 12,
                roles=["analyst"], display_name=f"Analyst {i}", email=f"analyst{i}@a{i}.example",
            )  # fmt: skip
            users.append(user.id)
        op = create_operation(s, admin, name="Bench", agencies=[f"A{i}" for i in range(9)])
        key = instance_key(s)
    owned = {
        "handling": "H0",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    dists = ("agency", "operation", "all")
    cases, targets, case_agency, case_dist = [], [], {}, {}
    case_id = target_id = 0
    for a, agency_id in enumerate(agencies):
        for c in range(CASES_PER_AGENCY):
            case_id += 1
            dist = dists[c % 3]
            case_agency[case_id], case_dist[case_id] = a, dist
            cases.append(
                {**owned, "id": case_id, "agency_id": agency_id, "distribution": dist,
                 "operation_id": op.id if dist == "operation" else None,
                 "created_by": users[a + 1], "officer_id": users[a + 1],
                 "reference": f"2026-{c:04d}", "title": f"case {a}/{c}", "status": "open"}
            )  # fmt: skip
            for _ in range(TARGETS_PER_CASE):
                target_id += 1
                targets.append(
                    {**owned, "id": target_id, "agency_id": agency_id, "distribution": dist,
                     "operation_id": op.id if dist == "operation" else None,
                     "created_by": users[a + 1], "case_id": case_id, "kind": "actor",
                     "ref": f"actor-{target_id:012x}", "label": f"target {target_id}"}
                )  # fmt: skip
    rows = []
    hit_values: list[str] = []
    noisy_values = [f"noisy-{i}" for i in range(5)]
    for i in range(N_SELECTORS):
        t = targets[i % len(targets)]
        if i < 150:  # five noisy values, 30 cases each
            value, noisy = noisy_values[i % 5], True
        elif i % 100 == 0:  # a hit: rows i and i + N/2 are in different agencies' cases
            value, noisy = f"shared-{i % (N_SELECTORS // 2) // 100}", False
            if i < N_SELECTORS // 2:
                hit_values.append(value)
        else:
            value, noisy = f"handle-{i}", False
        rows.append(
            {**owned, "agency_id": t["agency_id"], "distribution": t["distribution"],
             "operation_id": t["operation_id"], "created_by": t["created_by"],
             "target_id": t["id"], "kind": "handle", "value": value,
             "digest": digest(key, "handle", value), "noisy": noisy}
        )  # fmt: skip
    with store.session() as s:
        s.execute(insert(Case), cases)
        s.execute(insert(Target), targets)
        for i in range(0, len(rows), 10_000):
            s.execute(insert(Selector), rows[i : i + 10_000])
    if store.dialect == "postgresql":  # the explicit ids left the sequences behind
        with store.engine.begin() as conn:
            for table in ("cases", "targets"):
                conn.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
            conn.execute(text("ANALYZE"))
    with store.session() as s:
        p = principal_of(s, users[1])
        readable = {c for c, a in case_agency.items() if a == 0 or case_dist[c] != "agency"}
        own_targets = [t["id"] for t in targets if t["agency_id"] == p.agency_id]
        ids = s.scalars(
            select(Selector.id).where(
                Selector.target_id.in_(
                    select(Target.id).where(Target.case_id.in_(sorted(readable)[:200]))
                )
            )
        ).all()
    rng.shuffle(ids)
    return Seeded(store, p, own_targets, sorted(readable), ids, hit_values,
                  time.perf_counter() - start)  # fmt: skip


def measure(seeded: Seeded) -> dict[str, tuple[list[float], list[float]]]:
    """op -> (API samples, peer samples), in seconds."""
    from spector.cases._access import get_visible
    from spector.cases._deconflict import Selector, add_selector, digest, list_selectors

    store, p, rng = seeded.store, seeded.p, random.Random(SEED + 1)
    cases = [rng.choice(seeded.readable_cases) for _ in range(RUNS["list"] + WARMUP)]
    sels = seeded.readable_selectors
    add_values = [
        rng.choice(seeded.hit_values) if i % 2 else f"new-{secrets.token_hex(6)}"
        for i in range(RUNS["add-selector"] + WARMUP)
    ]
    peer_values = [v if i % 2 else f"peer-{secrets.token_hex(6)}" for i, v in enumerate(add_values)]
    targets = [rng.choice(seeded.own_targets) for _ in add_values]
    used: set[tuple[int, str]] = set()

    def api_list(i: int) -> object:
        with store.session(readonly=True) as s:
            return list_selectors(s, p, case_id=cases[i], limit=PAGE)

    def api_read(i: int) -> object:
        with store.session(readonly=True) as s:
            return get_visible(s, p, Selector, sels[i % len(sels)])

    def api_add(i: int) -> object:
        target, value = targets[i], add_values[i]
        if (target, value) in used:  # a value once per target, or it is a no-op
            value = f"{value}-{i}"
        used.add((target, value))
        with store.session() as s:
            return add_selector(s, p, target, "handle", value)

    key = None
    with store.session(readonly=True) as s:
        from spector.cases._deconflict import instance_key

        key = instance_key(s)
    list_sql = text(
        "SELECT s.* FROM selectors s JOIN targets t ON t.id = s.target_id "
        "WHERE t.case_id = :c ORDER BY s.id LIMIT :n"
    )
    read_sql = text("SELECT * FROM selectors WHERE id = :id")
    insert_sql = text(
        "INSERT INTO selectors (agency_id, distribution, handling, version, created_at, "
        "updated_at, created_by, target_id, kind, value, digest, noisy) VALUES (:a, 'agency', "
        "'H0', 1, :now, :now, :u, :t, 'handle', :v, :d, false) RETURNING id"
    )
    holders_sql = text(
        "SELECT s.id, s.agency_id, t.case_id FROM selectors s "
        "JOIN targets t ON t.id = s.target_id WHERE s.digest = :d"
    )
    notice_sql = text(
        "INSERT INTO deconfliction_notices (agency_id, selector_id, digest, counterpart, "
        "other_agency_id, other_selector_id, kind, created_at) "
        "VALUES (:a, :s, :d, :c, :oa, :os, 'handle', :now)"
    )

    def peer_list(i: int) -> object:
        with store.engine.connect() as conn:
            return conn.execute(list_sql, {"c": cases[i], "n": PAGE}).all()

    def peer_read(i: int) -> object:
        with store.engine.connect() as conn:
            return conn.execute(read_sql, {"id": sels[i % len(sels)]}).one()

    def peer_add(i: int) -> object:
        value = peer_values[i]
        d = digest(key, "handle", f"{value}-peer{i}" if i % 2 else value)
        now = datetime.now(UTC).replace(tzinfo=None) if store.dialect == "sqlite" else None
        now = now or datetime.now(UTC)
        with store.engine.begin() as conn:
            new = conn.execute(
                insert_sql,
                {"a": p.agency_id, "u": p.user_id, "t": targets[i], "v": value, "d": d, "now": now},
            ).scalar_one()
            rows = conn.execute(holders_sql, {"d": d}).all()
            other = next((r for r in rows if r.agency_id != p.agency_id), None)
            if other is not None:
                for a, sid, oa, osid in (
                    (p.agency_id, new, other.agency_id, other.id),
                    (other.agency_id, other.id, p.agency_id, new),
                ):
                    conn.execute(
                        notice_sql,
                        {"a": a, "s": sid, "d": d, "c": f"peer:{i}:{oa}", "oa": oa,
                         "os": osid, "now": now},
                    )  # fmt: skip
        return new

    return {
        "list": (_timed(api_list, RUNS["list"]), _timed(peer_list, RUNS["list"])),
        "read": (_timed(api_read, RUNS["read"]), _timed(peer_read, RUNS["read"])),
        "add-selector": (
            _timed(api_add, RUNS["add-selector"]),
            _timed(peer_add, RUNS["add-selector"]),
        ),
    }


@contextmanager
def _sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'cases.sqlite'}"


def _postgres_server() -> tuple[str | None, str]:
    """A server URL and how it was found, or None and why not."""
    url = os.environ.get("SPECTOR_TEST_POSTGRES_URL")
    if url:
        return url, "$SPECTOR_TEST_POSTGRES_URL"
    script = ROOT / ".ci" / "postgres"
    try:
        out = subprocess.run(
            [str(script), "start"], capture_output=True, text=True, timeout=600, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"no $SPECTOR_TEST_POSTGRES_URL and `.ci/postgres start` failed: {exc}"
    for line in out.splitlines():
        if line.startswith("export SPECTOR_TEST_POSTGRES_URL="):
            return line.split("=", 1)[1].strip(), "`.ci/postgres start`"
    return None, "`.ci/postgres start` printed no URL"


@contextmanager
def _postgres_url(server: str) -> Iterator[str]:
    base = make_url(server).set(drivername="postgresql+psycopg")
    name = f"spector_bench_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _lines(backend: str, url: str) -> list[str]:
    from spector.cases._db import CaseStore

    store = CaseStore.open(url)
    try:
        seeded = seed(store)
        lines = [
            f"{backend}: seeded {N_SELECTORS:,} selectors of {N_AGENCIES} agencies "
            f"({N_AGENCIES * CASES_PER_AGENCY:,} cases, "
            f"{N_AGENCIES * CASES_PER_AGENCY * TARGETS_PER_CASE:,} targets) "
            f"in {seeded.seconds:.1f} s"
        ]
        for op, (api, peer) in measure(seeded).items():
            a50, a99 = _ms(api)
            p50, p99 = _ms(peer)
            mark = "✔" if a99 <= GOAL_MS else "✘"
            lines.append(
                f"{backend:10s} {op:13s} p50 {a50:6.2f} ms  p99 {a99:6.2f} ms  | raw SQL peer "
                f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  | ratio p50 {a50 / p50:4.1f}x "
                f"p99 {a99 / p99:4.1f}x  (goal p99 <= {GOAL_MS:.0f} ms {mark})"
            )
        return lines
    finally:
        store.close()


def run() -> list[str]:
    lines = [
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
        f"runs per op: {RUNS} after {WARMUP} warm-up"
    ]
    with _sqlite_url() as url:
        lines += _lines("sqlite", url)
    server, how = _postgres_server()
    if server is None:
        lines.append(f"postgresql: skipped — {how}")
        return lines
    with _postgres_url(server) as url:
        lines += [f"postgresql: server from {how}", *_lines("postgresql", url)]
    return lines
