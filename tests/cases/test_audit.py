"""The audit log: a chain of real actions, then tampered with by raw SQL, as someone with
the database's password would; every edit, deletion, reordering and truncation is found.
Runs on SQLite and PostgreSQL (the ``instance`` fixture)."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from spector.cases import _audit, _evidence, _records
from spector.cases._audit import GENESIS, AuditEntry, entry_hash, parse_anchor, verify
from spector.errors import AccessDenied, UsageError
from tests.cases.harness import Instance


def _build(inst: Instance) -> int:
    """Real actions of two agencies; returns the number of entries in the log."""
    with inst.store.session() as s:
        bka = _records.open_case(s, inst["bka_analyst"], title="Vendor 'gh0st' (PGP)")
        _records.add_target(
            s, inst["bka_analyst"], bka.id, kind="person", details={"names": ["suspect A"]}
        )
        _records.add_note(s, inst["bka_analyst"], bka.id, body="first buy on 2023-04-01")
        nl = _records.open_case(
            s,
            inst["nl_analyst"],
            title="Shop 'Dutch Bazaar'",
            handling="H2",
        )
        _records.add_note(s, inst["nl_analyst"], nl.id, body="restricted source")
        ev = _evidence.add_evidence(
            s, inst["bka_analyst"], bka.id, kind="device", sha256="c" * 64, origin="phone"
        )
        _evidence.add_custody(
            s, inst["bka_analyst"], ev.id, action="collected", where="Wiesbaden",
            at=datetime(2023, 5, 2, 9, 30), tz="Europe/Berlin", to_person="KHK Meier",
        )  # fmt: skip
    with inst.store.session() as s:
        _records.case_view(s, inst["nl_analyst"], nl.id)  # a read of an H2 record
        return int(s.scalar(text("SELECT count(*) FROM audit_log")) or 0)


@pytest.fixture
def built(instance: Instance) -> tuple[Instance, int]:
    return instance, _build(instance)


APPEND_ONLY = ("audit_log", "custody_events")


def unprotect(inst: Instance) -> None:
    """Remove the append-only triggers, as the database's owner can: what is left to
    catch tampering is the hash chain (and the anchor)."""
    with inst.store.engine.begin() as conn:
        for table in APPEND_ONLY:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for verb in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))


def _sql(inst: Instance, statement: str, **params: object) -> None:
    unprotect(inst)
    with inst.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _verify(inst: Instance, anchor: tuple[int, str] | None = None) -> _audit.AuditReport:
    with inst.store.session(readonly=True) as s:
        return verify(s, anchor=anchor)


def _head(inst: Instance) -> tuple[int, str]:
    with inst.store.session(readonly=True) as s:
        return _audit.head(s)


def _entry(inst: Instance, seq: int) -> AuditEntry:
    with inst.store.session(readonly=True) as s:
        e = s.get(AuditEntry, seq)
        assert e is not None
        s.expunge(e)
        return e


def test_intact_log_verifies_and_head_names_the_last_entry(built: tuple[Instance, int]) -> None:
    inst, n = built
    assert n >= 20  # the instance's users and agencies, the cases, targets, notes, a read
    report = _verify(inst)
    assert report.ok, report.problems
    assert report.entries == n
    last = _entry(inst, n)
    assert (report.head_seq, report.head_hash) == (n, last.hash) == _head(inst)
    assert _entry(inst, 1).prev_hash == GENESIS
    for seq in (2, n):
        assert _entry(inst, seq).prev_hash == _entry(inst, seq - 1).hash
    # The restricted read is in the log, with who read it.
    with inst.store.session(readonly=True) as s:
        reads = [e for e in _audit.entries(s, inst["admin"], limit=None) if e.action == "read"]
    assert reads
    assert all(e.user_id == inst["nl_analyst"].user_id for e in reads)


def test_hash_is_sha256_of_the_canonical_encoding(built: tuple[Instance, int]) -> None:
    inst, n = built
    e = _entry(inst, n)
    import hashlib
    import json

    body = {
        "seq": e.seq,
        "at": e.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "user_id": e.user_id,
        "agency_id": e.agency_id,
        "action": e.action,
        "table_name": e.table_name,
        "record_id": e.record_id,
        "detail": e.detail,
        "prev_hash": e.prev_hash,
    }
    text_ = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text_.encode()).hexdigest() == e.hash


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("detail", '{"handling":"H0"}'),
        ("user_id", 999),
        ("action", "read"),
        ("record_id", "42"),
        ("at", datetime(2020, 1, 1, tzinfo=UTC)),
    ],
)
def test_an_edited_entry_is_found(built: tuple[Instance, int], column: str, value: object) -> None:
    inst, _ = built
    if column == "at" and inst.store.engine.dialect.name == "sqlite":
        value = "2020-01-01 00:00:00.000000"
    _sql(inst, f"UPDATE audit_log SET {column} = :v WHERE seq = 7", v=value)
    report = _verify(inst)
    assert not report.ok
    assert len(report.problems) == 1
    assert report.problems[0].startswith("entry 7 was edited: its content hashes to ")


def test_a_deleted_entry_and_a_deleted_run_are_found(built: tuple[Instance, int]) -> None:
    inst, _ = built
    _sql(inst, "DELETE FROM audit_log WHERE seq = 5")
    _sql(inst, "DELETE FROM audit_log WHERE seq BETWEEN 10 AND 12")
    assert _verify(inst).problems == [
        "entry 5 is missing (deleted from the log)",
        "entries 10-12 are missing (deleted from the log)",
    ]


def test_swapped_entries_are_found_out_of_order(built: tuple[Instance, int]) -> None:
    inst, _ = built
    _sql(inst, "UPDATE audit_log SET seq = -1 WHERE seq = 8")
    _sql(inst, "UPDATE audit_log SET seq = 8 WHERE seq = 9")
    _sql(inst, "UPDATE audit_log SET seq = 9 WHERE seq = -1")
    assert _verify(inst).problems == [
        "entry 8 is out of order: it was written as entry 9",
        "entry 9 is out of order: it was written as entry 8",
    ]


def test_truncation_is_found_by_the_head(built: tuple[Instance, int]) -> None:
    inst, n = built
    _sql(inst, "DELETE FROM audit_log WHERE seq > :k", k=n - 3)
    report = _verify(inst)
    assert report.problems == [
        f"the log was truncated: the head names entry {n}, the log ends at entry {n - 3} "
        f"(entries {n - 2}-{n} are missing)"
    ]


def test_truncation_with_the_head_rewound_is_found_by_the_anchor(
    built: tuple[Instance, int],
) -> None:
    inst, n = built
    anchor = _head(inst)
    keep = _entry(inst, n - 3)
    _sql(inst, "DELETE FROM audit_log WHERE seq > :k", k=n - 3)
    _sql(inst, "UPDATE audit_head SET seq = :s, hash = :h", s=keep.seq, h=keep.hash)
    # Without the anchor the chain is consistent: a plain hash chain cannot see this.
    assert _verify(inst).ok
    report = _verify(inst, anchor=anchor)
    assert report.problems == [
        f"anchor {n}:{anchor[1][:16]}... is not in the log: entry {n} is missing "
        f"(the log ends at entry {n - 3}: it was truncated)"
    ]
    # An anchor taken before the cut is still in the chain: it passes.
    assert _verify(inst, anchor=(keep.seq, keep.hash)).ok


def test_a_rewritten_tail_is_found_only_by_the_anchor(built: tuple[Instance, int]) -> None:
    """Edit entry 6 and recompute every hash after it and the head (no secret is needed):
    the chain is consistent again; the anchor kept outside the store catches it."""
    inst, n = built
    anchor = _head(inst)
    _sql(inst, "UPDATE audit_log SET detail = :d WHERE seq = 6", d='{"forged":true}')
    prev = _entry(inst, 5).hash
    for seq in range(6, n + 1):
        e = _entry(inst, seq)
        digest = entry_hash(
            seq=e.seq,
            at=e.at,
            user_id=e.user_id,
            agency_id=e.agency_id,
            action=e.action,
            table_name=e.table_name,
            record_id=e.record_id,
            detail=e.detail,
            prev_hash=prev,
        )
        _sql(
            inst,
            "UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s",
            p=prev,
            h=digest,
            s=seq,
        )
        prev = digest
    _sql(inst, "UPDATE audit_head SET hash = :h", h=prev)
    assert _verify(inst).ok
    problems = _verify(inst, anchor=anchor).problems
    assert len(problems) == 1
    assert problems[0].startswith(f"anchor {n}:{anchor[1][:16]}... does not match: entry {n} now")


def test_a_tampered_or_missing_head_is_found(built: tuple[Instance, int]) -> None:
    inst, n = built
    _sql(inst, "UPDATE audit_head SET hash = :h", h="f" * 64)
    assert _verify(inst).problems == [
        f"the audit head was tampered with: it names hash {'f' * 16}... for entry {n}, "
        f"which hashes to {_entry(inst, n).hash[:16]}..."
    ]
    _sql(inst, "UPDATE audit_head SET seq = :s", s=n - 1)
    assert _verify(inst).problems == [
        f"the audit head was tampered with: it names entry {n - 1}, the log ends at entry {n}"
    ]
    _sql(inst, "DELETE FROM audit_head")
    assert _verify(inst).problems == ["the audit head (table audit_head, id 1) is missing"]


def test_a_replaced_entry_is_found(built: tuple[Instance, int]) -> None:
    """An entry forged whole (hash recomputed for its own content) breaks the link."""
    inst, _ = built
    e = _entry(inst, 6)
    forged = entry_hash(
        seq=6,
        at=e.at,
        user_id=e.user_id,
        agency_id=e.agency_id,
        action="read",
        table_name=e.table_name,
        record_id=e.record_id,
        detail=e.detail,
        prev_hash=e.prev_hash,
    )
    _sql(inst, "UPDATE audit_log SET action = 'read', hash = :h WHERE seq = 6", h=forged)
    problems = _verify(inst).problems
    assert len(problems) == 1
    assert problems[0].startswith("entry 7 does not follow entry 6: it names ")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET detail = NULL WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
        "UPDATE custody_events SET note = 'x'",
        "DELETE FROM custody_events",
        "TRUNCATE audit_log",
    ],
)
def test_the_database_refuses_to_change_the_log(
    built: tuple[Instance, int], statement: str
) -> None:
    inst, n = built
    if statement.startswith("TRUNCATE") and inst.store.engine.dialect.name == "sqlite":
        statement = "DELETE FROM audit_log WHERE seq > 1"  # SQLite has no TRUNCATE
    with pytest.raises(DBAPIError, match="append-only"), inst.store.engine.begin() as conn:
        conn.execute(text(statement))
    report = _verify(inst)
    assert report.ok
    assert report.entries == n


def test_the_orm_refuses_to_change_or_delete_an_entry(built: tuple[Instance, int]) -> None:
    inst, _ = built
    with inst.store.session() as s:
        e = s.get(AuditEntry, 3)
        assert e is not None
        e.detail = "{}"
        with pytest.raises(PermissionError, match="audit entry 3 is append-only"):
            s.flush()
        s.rollback()
        s.delete(s.get(AuditEntry, 4))
        with pytest.raises(PermissionError, match="audit entry 4 is append-only"):
            s.flush()
        s.rollback()
    assert _verify(inst).ok


def test_concurrent_writers_do_not_fork_the_chain(built: tuple[Instance, int]) -> None:
    inst, n = built
    errors: list[BaseException] = []

    def write(user: str) -> None:
        try:
            for i in range(8):
                with inst.store.session() as s:
                    _audit.log(s, inst[user], "read", "cases", i, {"by": user})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(u,))
        for u in ("admin", "nl_analyst", "fbi_analyst", "bka_analyst")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = _verify(inst)
    assert report.ok, report.problems
    assert report.entries == n + 32


def test_who_reads_the_log(built: tuple[Instance, int]) -> None:
    inst, n = built
    with inst.store.session(readonly=True) as s:
        everything = _audit.entries(s, inst["admin"], limit=None)
        assert len(everything) == n
        assert [e.seq for e in everything] == list(range(n, 0, -1))
        nl = _audit.entries(s, inst["nl_analyst"], limit=None)
        politie = inst.agencies["Politie"]
        assert nl
        assert all(e.agency_id == politie for e in nl)
        assert {e.seq for e in nl} == {e.seq for e in everything if e.agency_id == politie}
        assert len(_audit.entries(s, inst["admin"], limit=3)) == 3
        for user in ("bka_viewer", "bka_media"):
            with pytest.raises(AccessDenied, match="may not read the audit log"):
                _audit.entries(s, inst[user])


def test_anchor_syntax() -> None:
    assert parse_anchor(f"12:{'A' * 64}") == (12, "a" * 64)
    for bad in ("12", f"x:{'a' * 64}", "12:abc", f"12:{'g' * 64}"):
        with pytest.raises(UsageError, match="expected SEQ:HASH"):
            parse_anchor(bad)


def test_detail_is_canonical_json() -> None:
    when = datetime(2023, 5, 2, 7, 30, tzinfo=UTC) + timedelta(microseconds=5)
    assert _audit.canonical({"b": 1, "a": when, "c": {"z", "y"}}) == (
        '{"a":"2023-05-02T07:30:00.000005Z","b":1,"c":["y","z"]}'
    )
    with pytest.raises(TypeError, match="not JSON-able"):
        _audit.canonical({"x": object()})


def test_log_many_writes_the_entries_log_would_in_one_chain(built: tuple[Instance, int]) -> None:
    inst, n = built
    p = inst["nl_analyst"]
    items = [("cases", 1000 + k, {"handling": "H2"}) for k in range(5)]
    with inst.store.session() as s:
        _audit.log_many(s, p, "read", items)
        _audit.log(s, p, "read", "cases", 2000, None)  # and a single entry after them
    report = _verify(inst)
    assert report.ok, report.problems
    assert report.entries == n + 6
    written = [_entry(inst, seq) for seq in range(n + 1, n + 7)]
    assert [e.record_id for e in written] == ["1000", "1001", "1002", "1003", "1004", "2000"]
    assert all(e.user_id == p.user_id and e.action == "read" for e in written)
    for before, after in itertools.pairwise(written):
        assert after.prev_hash == before.hash
    assert _head(inst) == (n + 6, written[-1].hash)
