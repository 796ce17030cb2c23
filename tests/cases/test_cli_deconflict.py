"""`spector cases selector|notices|deconflict`: two workspaces, as two countries' instances.

On SQLite each workspace holds its own cases.sqlite; on PostgreSQL each workspace is
given its own database with --db. Users come from ``tests.cases.harness.make_instance``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from spector.cases._audit import AuditEntry
from spector.cases._db import CaseStore
from spector.cases._deconflict import DeconflictionNotice, Selector
from spector.cases._records import add_target, open_case
from spector.store import Workspace
from tests.cases.harness import PASSWORD, Instance, fresh_postgres, make_instance

Cli = Callable[..., tuple[int, str, str]]
FP = "0x1234 5678 9ABC DEF0 1234  5678 9abc def0 1234 5678"
FP_CANON = "123456789ABCDEF0123456789ABCDEF012345678"


@dataclass
class Side:
    """One instance: its workspace, the options that name its store, and its users."""

    root: Path
    opts: list[str]
    instance: Instance
    targets: dict[str, int]  # username -> a target of that user's agency

    def count(self, model: type, *criteria: object) -> int:
        with self.instance.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*criteria)))


def _side(root: Path, url: str, opts: list[str]) -> Side:
    store = CaseStore.open(url)
    instance = make_instance(store)
    targets = {}
    with store.session() as s:
        for username in ("bka_analyst", "fbi_analyst", "nl_analyst"):
            p = instance[username]
            case = open_case(s, p, title=f"secret case of {username}")
            targets[username] = add_target(
                s, p, case.id, kind="actor", ref=f"actor-{secrets.token_hex(6)}",
                label=f"secret target of {username}",
            ).id  # fmt: skip
    return Side(root, opts, instance, targets)


@pytest.fixture
def sides(
    backend: str, tmp_path: Path, postgres_server: str | None, postgres_template: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Side, Side]]:  # fmt: skip
    """Two workspaces ("de" and "us"), each with its own case store."""
    for name in ("SPECTOR_TOKEN", "SPECTOR_USER", "SPECTOR_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPECTOR_PASSWORD", PASSWORD)
    roots = []
    for name in ("de", "us"):
        with Workspace.init(tmp_path / name) as ws:
            roots.append(ws.root)
    if backend == "sqlite":
        made = [_side(r, f"sqlite:///{r / 'cases.sqlite'}", ["-w", str(r)]) for r in roots]
        yield made[0], made[1]
        for side in made:
            side.instance.store.close()
        return
    assert postgres_server is not None
    with (
        fresh_postgres(postgres_server, template=postgres_template) as a,
        fresh_postgres(postgres_server, template=postgres_template) as b,
    ):
        made = [_side(r, u, ["-w", str(r), "--db", u]) for r, u in zip(roots, (a, b), strict=True)]
        yield made[0], made[1]
        for side in made:
            side.instance.store.close()


def _ok(cli: Cli, *args: str) -> str:
    code, out, err = cli(*args)
    assert code == 0, (out, err)
    return out


def _json(cli: Cli, *args: str) -> object:
    return json.loads(_ok(cli, *args, "--json"))


def _error(cli: Cli, *args: str) -> str:
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def test_selector_add_prints_the_notices_it_made(cli: Cli, sides: tuple[Side, Side]) -> None:
    de, _ = sides
    t = de.targets
    first = _json(cli, "cases", "selector", "add", str(t["bka_analyst"]), "pgp_fingerprint", FP,
                  "-u", "bka_analyst", *de.opts)  # fmt: skip
    assert isinstance(first, dict)
    assert first["selector"]["value"] == FP_CANON
    assert first["notices"] == []
    assert first["told"] == []
    out = _ok(cli, "cases", "selector", "add", str(t["fbi_analyst"]), "pgp_fingerprint",
              FP_CANON.lower(), "-u", "fbi_analyst", *de.opts)  # fmt: skip
    assert "is also held by agency BKA" in out
    assert "contact Bka Analyst <bka_analyst@bka.example>" in out
    assert "told BKA (their notice" in out
    assert "secret" not in out  # neither side's case title nor target label
    listed = _json(cli, "cases", "notices", "-u", "bka_analyst", *de.opts)
    assert isinstance(listed, list)
    [notice] = listed
    assert notice["other_agency"] == "FBI"
    assert "secret" not in json.dumps(listed)
    assert _json(cli, "cases", "notices", "-u", "nl_analyst", *de.opts) == []
    # acknowledge: a viewer may not, the liaison may; then nothing is open
    line = _error(cli, "cases", "notices", "--ack", str(notice["id"]), "-u", "bka_viewer", *de.opts)
    assert "bka_viewer may not" in line
    acked = _json(
        cli, "cases", "notices", "--ack", str(notice["id"]), "-u", "bka_liaison", *de.opts
    )
    assert isinstance(acked, dict)
    assert acked["acknowledged_at"]
    assert _json(cli, "cases", "notices", "--open", "-u", "bka_analyst", *de.opts) == []
    # the FBI's selector list shows its own, not BKA's agency-only one
    fbi = _json(cli, "cases", "selector", "list", "-u", "fbi_analyst", *de.opts)
    assert isinstance(fbi, list)
    assert [x["target_id"] for x in fbi] == [t["fbi_analyst"]]


def test_an_invalid_selector_is_one_error_and_nothing_written(
    cli: Cli, sides: tuple[Side, Side]
) -> None:
    de, _ = sides
    changes = AuditEntry.action != "login"  # a login is audited; no change may be
    before = de.count(AuditEntry, changes)
    target = str(de.targets["bka_analyst"])
    line = _error(cli, "cases", "selector", "add", target, "pgp_fingerprint", "0x9ABCDEF012345678",
                  "-u", "bka_analyst", *de.opts)  # fmt: skip
    assert "a key id, not a fingerprint" in line
    line = _error(cli, "cases", "selector", "add", target, "phone", "0151 12345678",
                  "-u", "bka_analyst", *de.opts)  # fmt: skip
    assert "country code" in line
    line = _error(cli, "cases", "selector", "add", target, "icq", "1234", "-u", "bka_analyst",
                  *de.opts)  # fmt: skip
    assert "unknown selector kind 'icq'" in line
    line = _error(cli, "cases", "selector", "add", str(de.targets["fbi_analyst"]), "handle", "x",
                  "-u", "bka_analyst", *de.opts)  # fmt: skip
    assert "NotFound" not in line
    assert "no target" in line
    assert de.count(Selector) == 0
    assert de.count(AuditEntry, changes) == before
    # with a default region the same phone number is fine
    ok = _json(cli, "cases", "selector", "add", target, "phone", "0151 12345678", "--region", "DE",
               "-u", "bka_analyst", *de.opts)  # fmt: skip
    assert isinstance(ok, dict)
    assert ok["selector"]["value"] == "+4915112345678"


def test_the_correlation_limit_comes_from_spector_toml(cli: Cli, sides: tuple[Side, Side]) -> None:
    de, _ = sides
    with (de.root / "spector.toml").open("a", encoding="utf-8") as f:
        f.write("\n[cases]\ncorrelation_limit = 1\n")
    t = de.targets
    _ok(cli, "cases", "selector", "add", str(t["bka_analyst"]), "handle", "@escrow",
        "-u", "bka_analyst", *de.opts)  # fmt: skip
    out = _ok(cli, "cases", "selector", "add", str(t["fbi_analyst"]), "handle", "ESCROW",
              "-u", "fbi_analyst", *de.opts)  # fmt: skip
    assert "noisy — held by more than 1 cases; no notices" in out
    assert de.count(DeconflictionNotice) == 0
    listed = _json(cli, "cases", "selector", "list", "-u", "fbi_analyst", *de.opts)
    assert isinstance(listed, list)
    assert listed[0]["noisy"] is True


def test_two_workspaces_exchange_keyed_hashes(
    cli: Cli, sides: tuple[Side, Side], tmp_path: Path
) -> None:
    de, us = sides
    key = tmp_path / "shared.key"
    key.write_text(secrets.token_hex(32))
    _ok(cli, "cases", "selector", "add", str(de.targets["bka_analyst"]), "pgp_fingerprint", FP,
        "-u", "bka_analyst", *de.opts)  # fmt: skip
    _ok(cli, "cases", "selector", "add", str(us.targets["fbi_analyst"]), "pgp_fingerprint",
        FP_CANON.lower(), "-u", "fbi_analyst", *us.opts)  # fmt: skip
    out = tmp_path / "bka.json"
    summary = _json(cli, "cases", "deconflict", "export", "--key-file", str(key), "--out", str(out),
                    "-u", "bka_liaison", *de.opts)  # fmt: skip
    assert isinstance(summary, dict)
    assert summary["entries"] == 1
    text = out.read_text()
    assert FP_CANON not in text
    assert FP_CANON.lower() not in text
    assert "secret" not in text
    assert json.loads(text)["format"] == "spector-deconfliction/1"

    got = _json(cli, "cases", "deconflict", "import", str(out), "--key-file", str(key),
                "-u", "fbi_admin", *us.opts)  # fmt: skip
    assert isinstance(got, dict)
    [notice] = got["notices"]
    assert notice["other_agency"] == "BKA"
    assert notice["contact"] == "Bka Liaison <bka_liaison@bka.example>"
    listed = _ok(cli, "cases", "notices", "-u", "fbi_analyst", *us.opts)
    assert "agency BKA on instance" in listed

    # errors: a short key, a broken file, an analyst exporting; nothing written
    changes = AuditEntry.action != "login"
    before = (us.count(DeconflictionNotice), us.count(AuditEntry, changes))
    short = tmp_path / "short.key"
    short.write_text(secrets.token_hex(16))
    line = _error(cli, "cases", "deconflict", "import", str(out), "--key-file", str(short),
                  "-u", "fbi_admin", *us.opts)  # fmt: skip
    assert str(short) in line
    assert "16 bytes, too short" in line
    broken = tmp_path / "broken.json"
    broken.write_text(text.replace('"format"', '"fromat"'))
    line = _error(cli, "cases", "deconflict", "import", str(broken), "--key-file", str(key),
                  "-u", "fbi_admin", *us.opts)  # fmt: skip
    assert str(broken) in line
    assert "unknown key 'fromat'; did you mean 'format'" in line
    assert (us.count(DeconflictionNotice), us.count(AuditEntry, changes)) == before
    line = _error(cli, "cases", "deconflict", "export", "--key-file", str(key), "--out",
                  str(tmp_path / "x.json"), "-u", "fbi_analyst", *us.opts)  # fmt: skip
    assert "fbi_analyst may not" in line
    assert not (tmp_path / "x.json").exists()
