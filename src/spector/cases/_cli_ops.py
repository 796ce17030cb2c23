"""`spector cases arrest add|list`, `cases seizure add|list`, `cases import-operation`:
the arrests and seizures of joint operations, and the import of an operation's
published figures.

The work is done by ``spector.cases._ops`` (through the access filter); this module
parses arguments and prints. Every command takes --json.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spector.cases._cli_common import (
    DbOpt,
    JsonOpt,
    TokenOpt,
    UserOpt,
    WorkspaceOpt,
    acting_session,
    emit,
)
from spector.errors import InputError

if TYPE_CHECKING:
    pass

__all__ = ["register"]

OperationArg = Annotated[str, typer.Argument(help="The joint operation (its name).")]
OperationOpt = Annotated[
    str | None,
    typer.Option("--operation", help="Only this operation's records.", show_default=False),
]
DateOpt = Annotated[
    str | None,
    typer.Option("--date", metavar="YYYY-MM-DD", help="When it happened.", show_default=False),
]
TargetOpt = Annotated[
    int | None,
    typer.Option("--target", metavar="ID", help="The target it concerns.", show_default=False),
]
DistributionOpt = Annotated[
    str,
    typer.Option(
        "--distribution",
        help="Who sees it: agency (yours only), operation (the operation's agencies), all.",
    ),
]
HandlingOpt = Annotated[str, typer.Option("--handling", help="Europol handling code H0-H3.")]
_TEXT = {"show_default": False}
AmountOpt = Annotated[
    str | None, typer.Option("--amount", help="cash_crypto: the amount (exact decimal).", **_TEXT)
]
CurrencyOpt = Annotated[
    str | None, typer.Option("--currency", help="cash_crypto: EUR, BTC ...", **_TEXT)
]
CountOpt = Annotated[
    int | None, typer.Option("--count", help="firearms (or other): how many.", **_TEXT)
]
SubstanceOpt = Annotated[str | None, typer.Option("--substance", help="drugs: what.", **_TEXT)]
KgOpt = Annotated[
    str | None, typer.Option("--kg", help="drugs: the mass in kg (exact decimal).", **_TEXT)
]
DescriptionOpt = Annotated[
    str | None, typer.Option("--description", help="other: what was seized.", **_TEXT)
]


def register(cases_app: typer.Typer) -> None:
    """Add the arrest, seizure and import-operation commands to the `cases` group."""
    arrest_app = typer.Typer(help="Arrests of joint operations.", no_args_is_help=True)
    seizure_app = typer.Typer(help="Seizures of joint operations.", no_args_is_help=True)
    arrest_app.command("add")(arrest_add)
    arrest_app.command("list")(arrest_list)
    seizure_app.command("add")(seizure_add)
    seizure_app.command("list")(seizure_list)
    cases_app.add_typer(arrest_app, name="arrest")
    cases_app.add_typer(seizure_app, name="seizure")
    cases_app.command("import-operation")(import_operation_cmd)


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--date {text!r}", expected="a date written YYYY-MM-DD") from None


def arrest_add(
    operation: OperationArg,
    country: Annotated[str, typer.Option("--country", help="ISO 3166-1 alpha-2 (DE, US ...).")],
    count: Annotated[int, typer.Option("--count", help="How many people were arrested.")] = 1,
    when: DateOpt = None,
    target: TargetOpt = None,
    note: Annotated[str | None, typer.Option("--note", show_default=False)] = None,
    distribution: DistributionOpt = "operation",
    handling: HandlingOpt = "H0",
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Record arrests in one country for an operation (analyst or admin)."""
    from spector.cases._ops import add_arrest, arrest_dict

    with acting_session(workspace, db, user, token) as (s, p):
        rec = add_arrest(s, p, operation, country=country, count=count, date=_date(when),
                         target_id=target, note=note, distribution=distribution,
                         handling=handling)  # fmt: skip
        data = arrest_dict(rec)
    emit(data, as_json, f"recorded arrest {data['id']}: {data['count']} in {data['country']} "
         f"[{data['distribution']}, {data['handling']}]")  # fmt: skip


def arrest_list(
    operation: OperationOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The arrests you may see (of one operation with --operation)."""
    from spector.cases._ops import arrest_dict, list_arrests

    with acting_session(workspace, db, user, token) as (s, p):
        rows = [arrest_dict(a) for a in list_arrests(s, p, operation)]
    lines = [
        f"{r['id']:>5}  {r['country']}  {r['count']:>5}  {r['date'] or '-':<10}  "
        f"op {r['operation_id']}  agency {r['agency_id']}  {r['note'] or ''}".rstrip()
        for r in rows
    ]
    total = sum(r["count"] for r in rows)
    lines.append(f"{len(rows)} arrest record(s), {total} arrest(s)")
    emit(rows, as_json, "\n".join(lines))


def seizure_add(
    operation: OperationArg,
    kind: Annotated[str, typer.Option("--kind", help="cash_crypto, firearms, drugs or other.")],
    amount: AmountOpt = None,
    currency: CurrencyOpt = None,
    count: CountOpt = None,
    substance: SubstanceOpt = None,
    kg: KgOpt = None,
    description: DescriptionOpt = None,
    when: DateOpt = None,
    target: TargetOpt = None,
    distribution: DistributionOpt = "operation",
    handling: HandlingOpt = "H0",
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Record one seizure of an operation (analyst or admin)."""
    from spector.cases._ops import add_seizure, seizure_dict

    with acting_session(workspace, db, user, token) as (s, p):
        rec = add_seizure(s, p, operation, kind=kind, amount=amount, currency=currency,
                          count=count, substance=substance, kg=kg, description=description,
                          date=_date(when), target_id=target, distribution=distribution,
                          handling=handling)  # fmt: skip
        data = seizure_dict(rec)
    emit(data, as_json, f"recorded seizure {data['id']}: {_what(data)} "
         f"[{data['distribution']}, {data['handling']}]")  # fmt: skip


def _what(r: dict[str, Any]) -> str:
    if r["kind"] == "cash_crypto":
        return f"{r['currency']} {r['amount']}"
    if r["kind"] == "firearms":
        return f"{r['count']} firearm(s)"
    if r["kind"] == "drugs":
        return f"{r['kg']} kg {r['substance']}"
    count = f" ({r['count']})" if r["count"] is not None else ""
    return f"{r['description']}{count}"


def seizure_list(
    operation: OperationOpt = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The seizures you may see (of one operation with --operation)."""
    from spector.cases._ops import list_seizures, seizure_dict

    with acting_session(workspace, db, user, token) as (s, p):
        rows = [seizure_dict(x) for x in list_seizures(s, p, operation)]
    lines = [
        f"{r['id']:>5}  {r['kind']:<11}  {_what(r)}  {r['date'] or '-'}  op {r['operation_id']}"
        for r in rows
    ]
    lines.append(f"{len(rows)} seizure record(s)")
    emit(rows, as_json, "\n".join(lines))


def import_operation_cmd(
    file: Annotated[Path, typer.Argument(help="The operation file (JSON).", metavar="FILE.json")],
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace the operation of that name: its figures become the file's."
    )] = False,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Load an operation's published figures (admin): the operation, its agencies,
    arrests per country, seizures and stated totals. All or nothing."""
    from spector.cases._ops import import_operation, operation_totals
    from spector.cases._who import principal_of

    with acting_session(workspace, db, user, token) as (s, p):
        op = import_operation(s, p, file, replace=replace)
        name = op.name
        # The importer's agency has just joined the operation: see it as a member now.
        totals = operation_totals(s, principal_of(s, p.user_id), name)
    data = {"operation": name, "file": str(file), "replaced": replace, "totals": totals}
    gaps = "".join(f"\n  discrepancy: {d}" for d in totals["discrepancies"])
    verb = "replaced" if replace else "imported"
    countries = len(totals["arrests_by_country"])
    emit(data, as_json, f"{verb} operation {name} from {file.name}: {totals['arrests']} arrests "
         f"in {countries} countries, {totals['firearms']} firearms, {totals['drugs_kg']} kg "
         f"drugs{gaps}")  # fmt: skip
