"""[I]'s demo step: a joint operation of three agencies on the range's top actors.

After resolution and economics (step 70), ``spector demo`` sets up the workspace's case
store (``cases.sqlite``) as three agencies would: BKA (DE), Politie (NL) and the FBI (US)
join one operation; each opens a case on one of the range's top actors (by estimated
revenue); BKA and Politie both add the same vendor's PGP key to their targets, which
gives one deconfliction notice to each side; the FBI adds its target's pay-to address.
BKA takes the vendor's page capture into evidence and hands it to Politie (custody);
each agency records an arrest and seizures for its target; the step writes the
operation report (``reports/operation``) and checks the audit log.

The users' passwords are random; they are written to ``cases-logins.toml`` in the
workspace (readable by its owner only) so that the tour's ``spector cases`` commands
can log in. A re-run replaces the demo's own case store (the one with that file); a case
store the demo did not make is left alone and the step says so.
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spector.cli.common import DemoContext, console, demo_step

if TYPE_CHECKING:
    from spector.cases._base import Principal
    from spector.cases._db import CaseStore

__all__: list[str] = []

OPERATION = "Range Sweep"
AGENCIES = (("BKA", "DE", "Europe/Berlin"), ("Politie", "NL", "Europe/Amsterdam"),
            ("FBI", "US", "America/New_York"))  # fmt: skip
SUBSTANCES = ("cannabis", "cocaine", "MDMA", "LSD", "amphetamine")


def _logins(root: Path, logins: dict[str, str]) -> Path:
    path = root / "cases-logins.toml"
    lines = ["# The demo's case-store users (spector cases -u NAME; SPECTOR_PASSWORD=...)"]
    lines += [f'{user} = "{password}"' for user, password in logins.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _top_actors(ctx: DemoContext) -> list[dict[str, Any]]:
    """The actors step 70 ranked first by revenue (``ctx.shared["top_actors"]``), as target
    packages with their PGP keys and pay-to addresses."""
    from spector.resolve import actor_package

    shared = ctx.shared.get("top_actors")
    ids = [str(a) for a in shared] if isinstance(shared, list) else []
    return [actor_package(ctx.workspace, actor_id) for actor_id in ids]


def _capture_of(ctx: DemoContext, handle: str) -> str | None:
    """A capture of a page that names ``handle`` in its URL (its vendor page), if any."""
    row = ctx.workspace.store.con.execute(
        "SELECT id FROM captures WHERE record_type = 'response' AND status = 200 "
        "AND contains(lower(url), lower(?)) ORDER BY fetched_at, id LIMIT 1",
        [handle],
    ).fetchone()
    return str(row[0]) if row else None


def _values(package: dict[str, Any], key: str) -> list[str]:
    """The values of a package's "keys" or "addresses" ("kind:value" → "value")."""
    return [str(k).split(":", 1)[-1] for k in package.get(key) or []]


def _setup(store: CaseStore, logins: dict[str, str], announced: date) -> None:
    """The instance: BKA's admin, the three agencies, an analyst each, the operation."""
    from spector.cases import _who

    with store.session() as s:
        admin = _who.init_instance(
            s, agency="BKA", country="DE", admin="admin", password=logins["admin"]
        )
        for name, country, _tz in AGENCIES[1:]:
            _who.create_agency(s, admin, name=name, country=country)
        for name, _country, _tz in AGENCIES:
            user = f"{name.lower()}_analyst"
            _who.create_user(
                s,
                admin,
                agency=name,
                username=user,
                password=logins[user],
                roles=["analyst", "liaison"],
                display_name=f"{name} case officer",
                email=f"{user}@{name.lower()}.example",
            )
        _who.create_operation(
            s,
            admin,
            name=OPERATION,
            agencies=[a[0] for a in AGENCIES],
            announced=announced,
            description="the demo's joint operation on the training range",
        )


def _open_cases(
    ctx: DemoContext, store: CaseStore, analysts: dict[str, Principal], plan: dict[str, int],
    actors: list[dict[str, Any]],
) -> tuple[dict[str, tuple[int, int]], int]:  # fmt: skip
    """Each agency's case and target; BKA and Politie add the top actor's PGP key, the
    FBI its target's first pay-to address. Returns {agency: (case, target)}, notices."""
    from spector.cases import _deconflict, _records

    shared_key = next(iter(_values(actors[0], "keys")), None) if actors else None
    targets: dict[str, tuple[int, int]] = {}
    notices = 0
    for agency, index in plan.items():
        p = analysts[agency]
        package = actors[index] if actors else None
        actor_id = str(package["actor_id"]) if package else None
        accounts = package["accounts"] if package else []
        label = ", ".join(f"{a['market']}: {a['handle']}" for a in accounts) or None
        with store.session() as s:
            case = _records.open_case(
                s, p, title=f"{agency}: vendor {actor_id or 'unknown'}", operation=OPERATION,
                summary="opened by the demo on the training range",
            )  # fmt: skip
            target = _records.add_target(
                s, p, case.id, kind="actor", ref=actor_id, label=label, workspace=ctx.workspace
            )
            targets[agency] = (case.id, target.id)
            if agency in ("BKA", "Politie") and shared_key:
                kind, value = "pgp_fingerprint", shared_key
            elif package and _values(package, "addresses"):
                kind, value = "btc_address", _values(package, "addresses")[0]
            else:
                continue
            _selector, made = _deconflict.add_selector(s, p, target.id, kind, value)
            notices += len(made)
    return targets, notices


def _take_evidence(
    ctx: DemoContext, store: CaseStore, p: Principal, case_id: int, handle: str
) -> str:
    """BKA takes the vendor's page capture into evidence and hands it to Politie."""
    from spector.cases import _evidence

    capture = _capture_of(ctx, handle) if handle else None
    if not capture:
        return "no vendor page captured"
    row = ctx.workspace.store.con.execute(
        "SELECT fetched_at FROM captures WHERE id = ?", [capture]
    ).fetchone()
    collected = (row[0] if row else datetime.now(UTC)).replace(tzinfo=UTC)
    ctx.workspace.close()  # add_evidence opens the workspace's store to hash the capture
    try:
        with store.session() as s:
            item = _evidence.add_evidence(
                s, p, case_id, kind="warc_capture", capture_id=capture,
                origin="spector crawl of the training range", ws_root=ctx.workspace.root,
                description=f"vendor page of {handle}", collected_at=collected,
            )  # fmt: skip
            _evidence.add_custody(
                s, p, item.id, action="collected", at=collected, tz="Europe/Berlin",
                where="BKA Wiesbaden, crawl server",
            )  # fmt: skip
            _evidence.add_custody(
                s, p, item.id, action="transferred", tz="Europe/Berlin",
                at=min(collected + timedelta(hours=1), datetime.now(UTC)),
                where="SIENA message to Politie", from_person="BKA case officer",
                to_person="Politie case officer",
            )  # fmt: skip
    finally:
        ctx.reopen()
    return f"capture {capture[:20]}… taken into evidence with 2 custody events"


def _figures(
    ctx: DemoContext, store: CaseStore, analysts: dict[str, Principal], plan: dict[str, int],
    actors: list[dict[str, Any]], targets: dict[str, tuple[int, int]], announced: date,
) -> tuple[int, int]:  # fmt: skip
    """An arrest per agency's target, its crypto (40 % of its estimated revenue) and
    drugs seized, firearms at random; returns (arrests, seizures)."""
    from spector.cases import _ops

    rng = random.Random(f"{ctx.seed}|cases")  # noqa: S311  (demo figures, not secrets)
    arrests = seizures = 0
    for agency, country, _tz in AGENCIES:
        p = analysts[agency]
        target_id = targets[agency][1]
        package = actors[plan[agency]] if actors else {}
        when = announced - timedelta(days=rng.randint(3, 20))
        revenue = Decimal(str(package.get("revenue_usd") or 0))
        with store.session() as s:
            _ops.add_arrest(
                s, p, OPERATION, country=country, count=1, date=when, target_id=target_id,
                note="the target's operator",
            )  # fmt: skip
            _ops.add_seizure(
                s, p, OPERATION, kind="cash_crypto", currency="USD", date=when,
                amount=(revenue * Decimal("0.4")).quantize(Decimal(1)), target_id=target_id,
            )  # fmt: skip
            _ops.add_seizure(
                s, p, OPERATION, kind="drugs", substance=rng.choice(SUBSTANCES), date=when,
                kg=Decimal(rng.randint(5, 400)) / 10, target_id=target_id,
            )  # fmt: skip
            arrests, seizures = arrests + 1, seizures + 2
            if rng.random() < 0.5:
                _ops.add_seizure(
                    s, p, OPERATION, kind="firearms", count=rng.randint(1, 3), date=when,
                    target_id=target_id,
                )  # fmt: skip
                seizures += 1
    return arrests, seizures


@demo_step(80, "run a joint operation of three agencies")
def _demo_cases(ctx: DemoContext) -> str:
    from spector.cases import _audit, _deconflict, _who
    from spector.cases._db import open_cases
    from spector.report import write_operation_report

    root = ctx.workspace.root
    if (root / "cases.sqlite").exists():
        if not (root / "cases-logins.toml").exists():
            return "the workspace has a case store of its own: the demo leaves it alone"
        for name in ("cases.sqlite", "cases.sqlite-wal", "cases.sqlite-shm"):
            (root / name).unlink(missing_ok=True)  # the demo's own store of an earlier run
    actors = _top_actors(ctx)
    logins = {"admin": secrets.token_urlsafe(18)}
    logins.update({f"{name.lower()}_analyst": secrets.token_urlsafe(18) for name, *_ in AGENCIES})
    announced = date.today()
    # BKA and Politie work the top actor (both hold its PGP key); the FBI the second.
    plan = {"BKA": 0, "Politie": 0, "FBI": 1 if len(actors) > 1 else 0}
    store = open_cases(ctx.workspace.root)
    try:
        _setup(store, logins, announced)
        with store.session() as s:
            analysts = {
                name: _who.login(s, f"{name.lower()}_analyst", logins[f"{name.lower()}_analyst"])
                for name, *_ in AGENCIES
            }
        targets, notices = _open_cases(ctx, store, analysts, plan, actors)
        handle = str(actors[0]["accounts"][0]["handle"]) if actors else ""
        evidence = _take_evidence(ctx, store, analysts["BKA"], targets["BKA"][0], handle)
        arrests, seizures = _figures(ctx, store, analysts, plan, actors, targets, announced)
        out = ctx.workspace.root / "reports" / "operation"
        write_operation_report(store, analysts["BKA"], OPERATION, out)
        with store.session() as s:
            audit = _audit.verify(s)
            mine = {a: len(_deconflict.notices(s, p)) for a, p in analysts.items()}
    finally:
        store.close()
    logins_path = _logins(ctx.workspace.root, logins)
    console.print(f"  deconfliction notices per agency: {mine}; logins in {logins_path}")
    return (
        f"{len(AGENCIES)} agencies in operation {OPERATION!r}; {notices} deconfliction "
        f"notices (BKA and Politie hold the same PGP key, one each); {evidence}; {arrests} "
        f"arrests and {seizures} seizures recorded; audit log "
        f"{'intact' if audit.ok else 'BROKEN'} ({audit.entries} entries); report in {out}"
    )
