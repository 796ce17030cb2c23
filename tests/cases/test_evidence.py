"""Evidence items (hashes from files, folders, [C]'s WARC captures, [D]'s seized dumps)
and their chain of custody, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from spector.cases import _audit, _records
from spector.cases._evidence import (
    CustodyEvent,
    Evidence,
    add_custody,
    add_evidence,
    custody_chain,
    evidence_view,
    list_evidence,
    verify_evidence,
)
from spector.collect._import import ImportOptions, import_pages
from spector.errors import AccessDenied, InputError, NotFound, UsageError
from spector.extract._seized import import_seized
from spector.store import Workspace
from tests.cases.harness import Instance

HOST = "fcs7sczxgehrbff23fgvjewwvx2inu5mbfgqucf4szzaqpvgjr3y4dad.onion"  # a valid v3 onion
PAGE = b"<html><body><h1>Vendor gh0st</h1><p>PGP key below</p></body></html>"
OTHER = b"<html><body><h1>Listing 7</h1></body></html>"


def _case(inst: Instance, user: str = "bka_analyst", **kw: object) -> int:
    with inst.store.session() as s:
        return _records.open_case(s, inst[user], title="Vendor gh0st", **kw).id  # type: ignore[arg-type]


def _count(inst: Instance, model: type) -> int:
    with inst.store.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _audit_rows(inst: Instance, action: str) -> list[_audit.AuditEntry]:
    with inst.store.session(readonly=True) as s:
        return [e for e in _audit.entries(s, inst["admin"], limit=None) if e.action == action]


# --- files and folders ----------------------------------------------------------------


def test_file_is_hashed_streamed_and_verify_finds_a_change(
    instance: Instance, tmp_path: Path
) -> None:
    case_id = _case(instance)
    dump = tmp_path / "server.img"
    data = bytes(range(256)) * (5 * 4096 + 17)  # 5 MiB and a bit: several read blocks
    dump.write_bytes(data)
    with instance.store.session() as s:
        ev = add_evidence(
            s,
            instance["bka_analyst"],
            case_id,
            kind="device",
            path=dump,
            origin="image of the seized laptop (dd, write blocker)",
        )
        ev_id = ev.id
    assert ev.sha256 == hashlib.sha256(data).hexdigest()
    assert ev.size == len(data)
    assert ev.path == str(dump.resolve())
    assert ev.distribution == "agency"
    assert ev.handling == "H0"
    [hashed] = _audit_rows(instance, "hash")
    assert hashed.record_id == str(ev_id)
    assert ev.sha256 in (hashed.detail or "")
    with instance.store.session() as s:
        check = verify_evidence(s, instance["bka_analyst"], ev_id)
    assert check.matches
    assert check.actual == ev.sha256
    dump.write_bytes(data[:-1] + b"\x00")
    with instance.store.session() as s:
        check = verify_evidence(s, instance["bka_analyst"], ev_id)
    assert not check.matches
    assert check.problems == (
        f"{dump.resolve()} now hashes to {check.actual}, recorded {ev.sha256}",
    )
    verified = _audit_rows(instance, "verify")
    assert [('"matches":false' in (e.detail or "")) for e in verified] == [True, False]


def test_an_edited_stored_hash_is_caught_by_the_audit_record(
    instance: Instance, tmp_path: Path
) -> None:
    case_id = _case(instance)
    f = tmp_path / "export.csv"
    f.write_bytes(b"order,btc\n1,0.5\n")
    with instance.store.session() as s:
        ev_id = add_evidence(
            s, instance["bka_analyst"], case_id, kind="export", path=f, origin="orders"
        ).id
    # Someone swaps the file and edits the stored hash to match it.
    f.write_bytes(b"order,btc\n1,0.05\n")
    new = hashlib.sha256(f.read_bytes()).hexdigest()
    with instance.store.engine.begin() as conn:
        conn.execute(text("UPDATE evidence SET sha256 = :h WHERE id = :i"), {"h": new, "i": ev_id})
    with instance.store.session() as s:
        check = verify_evidence(s, instance["bka_analyst"], ev_id)
    assert not check.matches
    assert check.actual == new
    assert len(check.problems) == 1
    assert "differs from the one the audit log recorded" in check.problems[0]


def test_hash_fields_never_change_through_the_orm(instance: Instance, tmp_path: Path) -> None:
    case_id = _case(instance)
    with instance.store.session() as s:
        ev_id = add_evidence(
            s, instance["bka_analyst"], case_id, kind="other", sha256="ab" * 32, origin="x"
        ).id
    with instance.store.session() as s:
        ev = s.get(Evidence, ev_id)
        assert ev is not None
        ev.sha256 = "cd" * 32
        with pytest.raises(PermissionError, match=f"evidence {ev_id}: sha256 cannot change"):
            s.flush()
        s.rollback()
    with instance.store.session() as s:  # other fields may change (versioned by A's rules)
        ev = s.get(Evidence, ev_id)
        assert ev is not None
        ev.description = "held by the prosecutor"


def test_folder_hash_is_the_sha256sum_manifest(instance: Instance, tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    (folder / "db").mkdir(parents=True)
    (folder / "users.csv").write_bytes(b"user_id,username\n1,gh0st\n")
    (folder / "db" / "orders.csv").write_bytes(b"order_id\n1\n")
    (folder / "B.txt").write_bytes("Ümlaut\n".encode())
    case_id = _case(instance)
    with instance.store.session() as s:
        ev = add_evidence(
            s, instance["bka_analyst"], case_id, kind="seized_dump", path=folder, origin="srv"
        )
    assert ev.size == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    if shutil.which("sha256sum") and shutil.which("find"):
        shell = (
            "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum"
        )
        out = subprocess.run(
            ["sh", "-c", shell], cwd=folder, capture_output=True, text=True, check=True
        )
        assert out.stdout.split()[0] == ev.sha256
    (folder / "link").symlink_to(folder / "B.txt")
    with instance.store.session() as s, pytest.raises(InputError, match="symbolic link"):
        add_evidence(
            s, instance["bka_analyst"], case_id, kind="seized_dump", path=folder, origin="srv"
        )


def test_bad_input_writes_nothing(instance: Instance, tmp_path: Path) -> None:
    case_id = _case(instance)
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc")
    before = _count(instance, _audit.AuditEntry)
    p = instance["bka_analyst"]
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"kind": "export", "path": f, "sha256": "0" * 64}, InputError, "not to the --sha256"),
        ({"kind": "exprt", "path": f}, InputError, "did you mean 'export'"),
        ({"kind": "export", "sha256": "xyz"}, InputError, "is not a SHA-256"),
        ({"kind": "export"}, UsageError, "give the evidence content"),
        ({"kind": "export", "path": tmp_path / "nope"}, InputError, "no such file"),
        ({"kind": "export", "capture_id": "capture-1"}, UsageError, "not a export"),
        ({"kind": "warc_capture", "path": f}, UsageError, "by its capture id"),
        ({"kind": "warc_capture", "capture_id": "capture-1"}, UsageError, "--workspace"),
        ({"kind": "export", "path": f, "origin": " "}, InputError, "needs its origin"),
        (
            {"kind": "export", "path": f, "collected_at": datetime(2023, 5, 2)},
            InputError,
            "has no time zone",
        ),
    ]
    for kwargs, error, match in cases:
        kwargs.setdefault("origin", "seized")
        with pytest.raises(error, match=match), instance.store.session() as s:
            add_evidence(s, p, case_id, **kwargs)  # type: ignore[arg-type]
    with instance.store.session() as s, pytest.raises(AccessDenied):
        add_evidence(s, instance["bka_viewer"], case_id, kind="export", path=f, origin="x")
    with instance.store.session() as s, pytest.raises(NotFound, match="no case"):
        add_evidence(s, instance["fbi_analyst"], case_id, kind="export", path=f, origin="x")
    assert _count(instance, Evidence) == 0
    assert _count(instance, _audit.AuditEntry) == before


def test_visibility_follows_the_case(instance: Instance, tmp_path: Path) -> None:
    shared = _case(instance, distribution="operation", operation="SpecTor", handling="H2")
    own = _case(instance)
    with instance.store.session() as s:
        p = instance["bka_analyst"]
        a = add_evidence(s, p, shared, kind="other", sha256="1" * 64, origin="x").id
        b = add_evidence(s, p, own, kind="other", sha256="2" * 64, origin="y").id
    with instance.store.session() as s:
        assert [e.id for e in list_evidence(s, instance["nl_viewer"])] == [a]
        assert evidence_view(s, instance["nl_viewer"], a)["handling"] == "H2"  # inherited
        for user, ev_id in (("nl_viewer", b), ("fbi_admin", a)):
            with pytest.raises(NotFound, match=f"no evidence {ev_id}"):
                evidence_view(s, instance[user], ev_id)
    reads = [e for e in _audit_rows(instance, "read") if e.table_name == "evidence"]
    assert reads
    assert {e.user_id for e in reads} == {instance["nl_viewer"].user_id}


# --- [C] captures and [D] seized dumps -------------------------------------------------


def _http(status: str) -> StatusAndHeaders:
    return StatusAndHeaders(status, [("Content-Type", "text/html")], protocol="HTTP/1.1")


def _workspace_with_captures(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    warc = tmp_path / "crawl.warc.gz"
    with warc.open("wb") as handle:
        w = WARCWriter(handle, gzip=True, warc_version="1.1")
        for url, body, date in (
            (f"http://{HOST}/vendor/gh0st", PAGE, "2023-04-30T10:00:00Z"),
            (f"http://{HOST}/listing/7", OTHER, "2023-04-30T10:00:05Z"),
        ):
            w.write_record(
                w.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(body),
                    length=len(body),
                    http_headers=_http("200 OK"),
                    warc_headers_dict={"WARC-Date": date},
                )
            )
    root = tmp_path / "ws"
    with Workspace.init(root) as ws:
        import_pages(ws, [warc], ImportOptions(market="Dutch Bazaar"))
        cols = ["id", "url", "sha256", "warc_file", "warc_offset", "record_type"]
        rows = ws.store.con.execute(
            f"SELECT {', '.join(cols)} FROM captures ORDER BY url"
        ).fetchall()
    return root, [dict(zip(cols, r, strict=True)) for r in rows]


def test_warc_capture_by_id_is_hashed_and_checked(instance: Instance, tmp_path: Path) -> None:
    root, rows = _workspace_with_captures(tmp_path)
    vendor = next(r for r in rows if str(r["url"]).endswith("gh0st"))
    assert vendor["sha256"] == hashlib.sha256(PAGE).hexdigest()
    case_id = _case(instance)
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        ev = add_evidence(
            s,
            p,
            case_id,
            kind="warc_capture",
            capture_id=str(vendor["id"])[:20],  # an unambiguous prefix will do
            origin="crawl of the vendor page",
            ws_root=root,
        )
        ev_id = ev.id
    assert ev.capture_id == vendor["id"]
    assert ev.sha256 == hashlib.sha256(PAGE).hexdigest()
    assert ev.size == len(PAGE)
    assert (ev.path, ev.warc_offset) == (vendor["warc_file"], vendor["warc_offset"])
    assert str(ev.warc_record_id).startswith("<urn:uuid:")
    with instance.store.session() as s:
        assert verify_evidence(s, p, ev_id, ws_root=root).matches
        with pytest.raises(UsageError, match="inside a workspace"):
            verify_evidence(s, p, ev_id)
    with instance.store.session() as s, pytest.raises(NotFound, match="no capture 'capture-0"):
        add_evidence(
            s, p, case_id, kind="warc_capture", capture_id="capture-0", origin="x", ws_root=root
        )
    # The capture index and the WARC record disagree: refused, nothing written.
    with Workspace.open(root, write=True) as ws:
        ws.store.con.execute(
            "UPDATE captures SET sha256 = ? WHERE id = ?", ["e" * 64, vendor["id"]]
        )
    with instance.store.session() as s, pytest.raises(InputError, match="capture index says e"):
        add_evidence(
            s, p, case_id, kind="warc_capture", capture_id=str(vendor["id"]), origin="x",
            ws_root=root,
        )  # fmt: skip
    assert _count(instance, Evidence) == 1


def test_a_warc_record_that_fails_its_digest(instance: Instance, tmp_path: Path) -> None:
    """A capture whose record was changed after it was written: refused at registration;
    registered before, then changed: ``verify`` says so (payload and digest both)."""
    root, _ = _workspace_with_captures(tmp_path)
    plain = root / "warc" / "hand.warc"  # not gzip'd, so a byte can be changed in place
    with plain.open("wb") as handle:
        w = WARCWriter(handle, gzip=False)
        rec = w.create_warc_record(
            f"http://{HOST}/x", "response", payload=io.BytesIO(PAGE), length=len(PAGE),
            http_headers=_http("200 OK"), warc_headers_dict={"WARC-Date": "2023-05-01T00:00:00Z"},
        )  # fmt: skip
        w.write_record(rec)
    with Workspace.open(root, write=True) as ws:
        ws.store.con.execute(
            "INSERT INTO captures (id, url, host, fetched_at, status, sha256, warc_file, "
            "warc_offset, record_type, source, first_seen, last_seen) VALUES "
            "('capture-hand', ?, ?, now(), 200, ?, 'warc/hand.warc', 0, 'response', "
            "'import:hand', now(), now())",
            [f"http://{HOST}/x", HOST, hashlib.sha256(PAGE).hexdigest()],
        )
    p = instance["bka_analyst"]
    case_id = _case(instance)
    with instance.store.session() as s:
        ev_id = add_evidence(
            s, p, case_id, kind="warc_capture", capture_id="capture-hand", origin="x",
            ws_root=root,
        ).id  # fmt: skip
    raw = plain.read_bytes()
    at = raw.index(b"Vendor gh0st")
    plain.write_bytes(raw[:at] + b"Vendor gh0sT" + raw[at + 12 :])
    with instance.store.session() as s:
        check = verify_evidence(s, p, ev_id, ws_root=root)
    assert not check.matches
    assert check.problems[0].startswith("the WARC record's own digest fails: ")
    assert check.problems[1].endswith(f"recorded {hashlib.sha256(PAGE).hexdigest()}")
    with instance.store.session() as s, pytest.raises(InputError, match="fails its own digest"):
        add_evidence(
            s, p, case_id, kind="warc_capture", capture_id="capture-hand", origin="x",
            ws_root=root,
        )  # fmt: skip


def test_seized_dump_names_its_store_source(instance: Instance, tmp_path: Path) -> None:
    folder = tmp_path / "dutch-bazaar-export"
    folder.mkdir()
    (folder / "users.csv").write_text(
        "user_id,username,role,pgp_fingerprint,joined_at\n1,gh0st,vendor,,2022-01-02\n"
        "2,buyer1,buyer,,2022-02-03\n"
    )
    (folder / "listings.csv").write_text(
        "listing_id,vendor_user_id,title,category,price_usd\n10,1,Item,drugs,50\n"
    )
    (folder / "orders.csv").write_text(
        "order_id,listing_id,vendor_user_id,buyer_user_id,amount_btc,amount_usd,created_at,"
        "payto_address,status\n100,10,1,2,0.002,50,2023-01-01T00:00:00,,done\n"
    )
    (folder / "messages.csv").write_text("message_id,body\n1,hi\n")
    root = tmp_path / "ws"
    with Workspace.init(root) as ws:
        import_seized(ws.store, folder, "Dutch Bazaar")
    with instance.store.session() as s:
        ev_id = add_evidence(
            s, instance["bka_analyst"], _case(instance), kind="seized_dump", path=folder,
            origin="server seized at the hoster", ws_root=root,
        ).id  # fmt: skip
    [hashed] = [e for e in _audit_rows(instance, "hash") if e.record_id == str(ev_id)]
    assert '"source":"seized:dutch-bazaar-export"' in (hashed.detail or "")
    assert '"files":4' in (hashed.detail or "")


# --- custody ----------------------------------------------------------------------------


def _item(inst: Instance) -> int:
    with inst.store.session() as s:
        return add_evidence(
            s, inst["bka_analyst"], _case(inst), kind="device", sha256="a" * 64, origin="phone"
        ).id


def _add(
    inst: Instance, ev_id: int, action: str, at: str, tz: str = "Europe/Berlin", **kw: object
) -> CustodyEvent:
    with inst.store.session() as s:
        return add_custody(
            s, inst[str(kw.pop("user", "bka_analyst"))], ev_id, action=action,
            at=datetime.fromisoformat(at), tz=tz, where=str(kw.pop("where", "BKA Wiesbaden")),
            **kw,  # type: ignore[arg-type]
        )  # fmt: skip


def test_custody_keeps_the_zone_and_the_order(instance: Instance) -> None:
    ev_id = _item(instance)
    first = _add(instance, ev_id, "collected", "2023-05-02T09:30", to_person="KHK Meier")
    assert first.tz == "Europe/Berlin"
    assert first.at == datetime(2023, 5, 2, 7, 30, tzinfo=UTC)
    _add(
        instance,
        ev_id,
        "transferred",
        "2023-05-02T04:00",
        tz="America/New_York",
        where="FBI field office",
        to_person="SA Smith",
    )  # fmt: skip  (08:00 UTC: after 07:30 UTC although the wall clock reads earlier)
    _add(instance, ev_id, "examined", "2023-05-03T10:00", note="imaged, hash matches")
    _add(instance, ev_id, "returned", "2023-06-01T12:00", to_person="owner")
    with instance.store.session(readonly=True) as s:
        chain = custody_chain(s, instance["bka_viewer"], ev_id)
        view = evidence_view(s, instance["bka_viewer"], ev_id)
    assert [e.action for e in chain] == ["collected", "transferred", "examined", "returned"]
    assert chain[1].from_person == "KHK Meier"  # the holder, by default
    assert chain[1].tz == "America/New_York"
    custody = view["custody"]
    assert isinstance(custody, list)
    assert custody[0]["at"] == "2023-05-02T09:30:00+02:00"
    assert custody[1]["at"] == "2023-05-02T04:00:00-04:00"
    assert custody[1]["at_utc"] == "2023-05-02T08:00:00+00:00"
    assert {e["by_user_id"] for e in custody} == {instance["bka_analyst"].user_id}


def test_custody_rules(instance: Instance) -> None:
    ev_id = _item(instance)
    for action in ("transferred", "examined", "returned"):
        with pytest.raises(InputError, match="first custody event must be 'collected'"):
            _add(instance, ev_id, action, "2023-05-02T09:00", to_person="x")
    _add(instance, ev_id, "collected", "2023-05-02T09:30", to_person="KHK Meier")
    with pytest.raises(InputError, match="already collected"):
        _add(instance, ev_id, "collected", "2023-05-03T09:30")
    with pytest.raises(InputError, match="before the previous event"):
        _add(instance, ev_id, "examined", "2023-05-02T09:29")
    with pytest.raises(InputError, match="names who receives it"):
        _add(instance, ev_id, "transferred", "2023-05-03T09:30")
    with pytest.raises(InputError, match="but the holder is 'KHK Meier'"):
        _add(instance, ev_id, "transferred", "2023-05-03T09:30", from_person="X", to_person="Y")
    with pytest.raises(InputError, match=r"unknown time zone 'Europe/Berln'.*Europe/Berlin"):
        _add(instance, ev_id, "examined", "2023-05-03T09:30", tz="Europe/Berln")
    with pytest.raises(InputError, match="unknown custody action"):
        _add(instance, ev_id, "stored", "2023-05-03T09:30")
    future = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    with pytest.raises(InputError, match="is in the future"):
        _add(instance, ev_id, "examined", future, tz="UTC")
    with pytest.raises(InputError, match="has no time zone"), instance.store.session() as s:
        add_custody(
            s, instance["bka_analyst"], ev_id, action="examined",
            at=datetime(2023, 5, 3, 9), where="lab",
        )  # fmt: skip
    with pytest.raises(AccessDenied, match="may not record custody"):
        _add(instance, ev_id, "examined", "2023-05-03T09:30", user="bka_viewer")
    with pytest.raises(NotFound):
        _add(instance, ev_id, "examined", "2023-05-03T09:30", user="nl_analyst")
    _add(instance, ev_id, "returned", "2023-05-04T09:30", to_person="owner")
    with pytest.raises(InputError, match="chain of custody has ended"):
        _add(instance, ev_id, "examined", "2023-05-05T09:30")
    assert _count(instance, CustodyEvent) == 2


def test_an_aware_time_keeps_its_instant_and_a_fixed_offset_its_name(instance: Instance) -> None:
    ev_id = _item(instance)
    with instance.store.session() as s:
        e = add_custody(
            s, instance["bka_analyst"], ev_id, action="collected",
            at=datetime(2023, 5, 2, 9, 30, tzinfo=ZoneInfo("Europe/Berlin")), where="x",
        )  # fmt: skip
        assert e.tz == "Europe/Berlin"
        f = add_custody(
            s, instance["bka_analyst"], ev_id, action="examined",
            at=datetime.fromisoformat("2023-05-02T14:00+05:30"), where="y",
        )  # fmt: skip
        assert f.tz == "UTC+05:30"
    with instance.store.session(readonly=True) as s:
        view = evidence_view(s, instance["bka_analyst"], ev_id)
    assert [c["at"] for c in view["custody"]] == [  # type: ignore[union-attr]
        "2023-05-02T09:30:00+02:00",
        "2023-05-02T14:00:00+05:30",
    ]


def test_custody_is_append_only(instance: Instance) -> None:
    ev_id = _item(instance)
    event_id = _add(instance, ev_id, "collected", "2023-05-02T09:30", to_person="M").id
    with instance.store.session() as s:
        e = s.get(CustodyEvent, event_id)
        assert e is not None
        e.where_ = "elsewhere"
        with pytest.raises(PermissionError, match="append-only: add a correction"):
            s.flush()
        s.rollback()
        s.delete(s.get(CustodyEvent, event_id))
        with pytest.raises(PermissionError, match="cannot be deleted"):
            s.flush()
        s.rollback()
    with instance.store.session(readonly=True) as s:
        [e] = custody_chain(s, instance["bka_analyst"], ev_id)
    assert e.where_ == "BKA Wiesbaden"
    created = [x for x in _audit_rows(instance, "create") if x.table_name == "custody_events"]
    assert [x.record_id for x in created] == [str(event_id)]


def test_concurrent_custody_writers_queue(instance: Instance) -> None:
    """Four users return the same item at once: one return is recorded, the others are
    refused because the chain has ended (no two 'returned', no interleaving)."""
    import threading

    ev_id = _item(instance)
    _add(instance, ev_id, "collected", "2023-05-02T09:30", to_person="M")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def give_back(n: int) -> None:
        with instance.store.session() as s:
            barrier.wait()
            try:
                add_custody(
                    s, instance["bka_analyst" if n % 2 else "admin"], ev_id, action="returned",
                    at=datetime(2023, 5, 3, 9, n, tzinfo=UTC), where="BKA", to_person="owner",
                )  # fmt: skip
                s.flush()
                outcomes.append("ok")
            except InputError as exc:
                outcomes.append(exc.what)

    threads = [threading.Thread(target=give_back, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "ok"
    assert outcomes.count("ok") == 1, outcomes
    assert all("chain of custody has ended" in o for o in outcomes if o != "ok")
    with instance.store.session(readonly=True) as s:
        assert [e.action for e in custody_chain(s, instance["bka_viewer"], ev_id)] == [
            "collected",
            "returned",
        ]
