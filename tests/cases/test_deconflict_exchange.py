"""Two instances (two countries' case stores) deconflict through files of keyed hashes."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from spector.cases._audit import AuditEntry
from spector.cases._db import CaseStore
from spector.cases._deconflict import (
    DeconflictionNotice,
    Selector,
    add_selector,
    export_hashes,
    import_hashes,
    notice_text,
    notices,
)
from spector.cases._exchange import FORMAT, load_exchange_file, parse_key, read_key_file
from spector.cases._records import add_target, open_case
from spector.cases._who import instance_value
from spector.errors import AccessDenied, InputError, UsageError
from tests.cases.harness import Instance, fresh_postgres, make_instance

FP = "0x1234 5678 9ABC DEF0 1234  5678 9abc def0 1234 5678"
FP_CANON = "123456789ABCDEF0123456789ABCDEF012345678"
BTC = "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
PHONE = "+49 151 12345678"
KEY = secrets.token_bytes(32)


@pytest.fixture
def remote(
    backend: str, tmp_path: Path, postgres_server: str | None, postgres_template: str | None
) -> Iterator[Instance]:
    """A second, separate instance on the same backend as ``instance`` (another country)."""
    if backend == "sqlite":
        (tmp_path / "remote").mkdir()
        store = CaseStore.open(f"sqlite:///{tmp_path / 'remote' / 'cases.sqlite'}")
        yield make_instance(store)
        store.close()
        return
    assert postgres_server is not None
    with fresh_postgres(postgres_server, template=postgres_template) as url:
        store = CaseStore.open(url)
        yield make_instance(store)
        store.close()


def _target(s, p, title):
    c = open_case(s, p, title=title)
    return add_target(s, p, c.id, kind="actor", ref=f"actor-{secrets.token_hex(6)}", label=title)


def _count(s, model, *criteria):
    return s.scalar(select(func.count()).select_from(model).where(*criteria))


def _seed(instance, remote):
    """BKA (here) holds FP, a restricted BTC and a phone; the FBI (there) FP and BTC."""
    with instance.store.session() as s:
        p = instance["bka_analyst"]
        t = _target(s, p, "Greenleaf")
        add_selector(s, p, t.id, "pgp_fingerprint", FP)
        add_selector(s, p, t.id, "btc_address", BTC, handling="H2")
        add_selector(s, p, t.id, "phone", PHONE)
        t_nl = _target(s, instance["nl_analyst"], "NL case")
        add_selector(s, instance["nl_analyst"], t_nl.id, "handle", "@GreenDoc")
    with remote.store.session() as s:
        p = remote["fbi_analyst"]
        t = _target(s, p, "Sunflower")
        add_selector(s, p, t.id, "pgp_fingerprint", FP_CANON.lower())
        add_selector(s, p, t.id, "btc_address", BTC.lower())
        t2 = _target(s, remote["nl_analyst"], "Dutch side")
        add_selector(s, remote["nl_analyst"], t2.id, "handle", "greendoc")


def test_two_instances_find_shared_selectors_without_cleartext(instance, remote, tmp_path):
    _seed(instance, remote)
    with instance.store.session() as s:
        data = export_hashes(s, instance["bka_liaison"], KEY)
        here_id = instance_value(s, "instance_id")
        local_digests = set(s.scalars(select(Selector.digest)))
    out = tmp_path / "bka.json"
    out.write_text(json.dumps(data))
    text = out.read_text()
    assert data["format"] == FORMAT
    assert data["instance"] == here_id
    assert data["agency"] == "BKA"
    assert data["contact"] == "Bka Liaison <bka_liaison@bka.example>"
    assert set(data) == {"format", "instance", "agency", "contact", "created", "entries"}
    # only BKA's own, not restricted: the FP and the phone (not the H2 BTC, not NL's handle)
    assert sorted(e["kind"] for e in data["entries"]) == ["pgp_fingerprint", "phone"]
    for value in (FP, FP_CANON, FP_CANON.lower(), BTC, BTC.lower(), PHONE, "+4915112345678",
                  "greendoc", "Greenleaf"):  # fmt: skip
        assert value not in text
    # digests under the shared key, not the instance key: useless against either store
    assert not {e["digest"] for e in data["entries"]} & local_digests

    with remote.store.session() as s:
        made = import_hashes(s, remote["fbi_admin"], load_exchange_file(out), KEY)
        [n] = made
        assert n.agency_id == remote.agencies["FBI"]
        assert (n.remote_instance, n.remote_agency) == (here_id, "BKA")
        assert n.contact == "Bka Liaison <bka_liaison@bka.example>"
        assert n.other_agency_id is None
        assert n.other_selector_id is None
        line = notice_text(s, n)
        assert f"agency BKA on instance {here_id}" in line
        assert [x.id for x in notices(s, remote["fbi_analyst"])] == [n.id]
        assert notices(s, remote["nl_analyst"]) == []
        # the same file again: nothing new
        assert import_hashes(s, remote["fbi_admin"], load_exchange_file(out), KEY) == []
        assert _count(s, AuditEntry, AuditEntry.action == "import") == 2

    # the other way round: the FBI's file reaches BKA; NL's handle hits the remote NL's
    with remote.store.session() as s:
        theirs = export_hashes(s, remote["fbi_admin"], KEY)
        dutch = export_hashes(s, remote["nl_liaison"], KEY)
    with instance.store.session() as s:
        made = import_hashes(s, instance["bka_liaison"], theirs, KEY)
        # FP hits; the BTC is BKA's too but restricted there: it is matched locally (the
        # notice tells BKA only that the FBI holds it), the file itself never carried it
        assert sorted(n.kind for n in made) == ["btc_address", "pgp_fingerprint"]
        assert {n.agency_id for n in made} == {instance.agencies["BKA"]}
        [to_nl] = import_hashes(s, instance["bka_liaison"], dutch, KEY)
        assert to_nl.agency_id == instance.agencies["Politie"]
        assert to_nl.remote_agency == "Politie"


def test_another_key_matches_nothing(instance, remote):
    _seed(instance, remote)
    with instance.store.session() as s:
        data = export_hashes(s, instance["bka_liaison"], KEY)
    with remote.store.session() as s:
        assert import_hashes(s, remote["fbi_admin"], data, secrets.token_bytes(32)) == []


BAD_FILES = [
    ({"format": "misp-event/1"}, "format 'misp-event/1' is not"),
    ({"entires": []}, "unknown key 'entires'; did you mean 'entries'"),
    ({"entries": [{"digest": "ab" * 31, "kind": "phone"}]}, r"entries\[0\].digest: not 64"),
    ({"entries": [{"digest": "AB" * 32, "kind": "phone"}]}, "lower-case hex"),
    ({"entries": [{"digest": "ab" * 32, "kind": "icq"}]}, "unknown selector kind 'icq'"),
    ({"entries": [{"digest": "ab" * 32, "knd": "phone"}]}, r"entries\[0\]: unknown key 'knd'"),
    ({"created": "2026-12-01T10:00:00"}, "created: .*time zone"),
    ({"instance": ""}, "instance"),
]


@pytest.mark.parametrize(("change", "message"), BAD_FILES)
def test_a_malformed_file_is_one_error_and_nothing_written(instance, remote, change, message):
    _seed(instance, remote)
    with instance.store.session() as s:
        data = export_hashes(s, instance["bka_liaison"], KEY)
    data.update(change)
    if "entires" in change:
        del data["entries"]
    with remote.store.session() as s:
        audit_before = _count(s, AuditEntry)
    with pytest.raises(InputError, match=message) as info, remote.store.session() as s:
        import_hashes(s, remote["fbi_admin"], data, KEY, where="bka.json")
    assert info.value.exit_code == 2
    assert "bka.json" in str(info.value)
    with remote.store.session() as s:
        assert _count(s, DeconflictionNotice) == 0
        assert _count(s, AuditEntry) == audit_before


def test_files_that_are_not_exchange_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        load_exchange_file(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="not a JSON object"):
        load_exchange_file(bad)
    with pytest.raises(InputError, match="not found"):
        load_exchange_file(tmp_path / "missing.json")


def test_an_instance_refuses_its_own_file_and_only_liaisons_exchange(instance):
    with instance.store.session() as s:
        data = export_hashes(s, instance["bka_liaison"], KEY)
        with pytest.raises(UsageError, match="exported by this instance"):
            import_hashes(s, instance["bka_liaison"], data, KEY)
        with pytest.raises(AccessDenied):
            export_hashes(s, instance["bka_analyst"], KEY)
        with pytest.raises(AccessDenied):
            import_hashes(s, instance["nl_viewer"], data, KEY)
        with pytest.raises(UsageError, match="31 bytes"):
            export_hashes(s, instance["bka_liaison"], KEY[:31])


def test_key_files_hold_hex_or_base64_of_at_least_32_bytes(tmp_path):
    key = secrets.token_bytes(32)
    f = tmp_path / "k"
    f.write_text(key.hex().upper() + "\n")
    assert read_key_file(f) == key
    f.write_text(base64.b64encode(key).decode())
    assert read_key_file(f) == key
    assert parse_key(base64.b64encode(secrets.token_bytes(48)).decode()) != key
    f.write_text(secrets.token_hex(16))
    with pytest.raises(InputError, match="16 bytes, too short") as info:
        read_key_file(f)
    assert str(f) in str(info.value)
    f.write_text("not a key!")
    with pytest.raises(InputError, match="neither hex nor base64"):
        read_key_file(f)
    with pytest.raises(InputError, match="not found"):
        read_key_file(tmp_path / "absent")
