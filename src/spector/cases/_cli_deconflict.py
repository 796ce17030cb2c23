"""`spector cases selector|notices|deconflict ...`: selectors, notices, hash exchange.

The work is done by :mod:`spector.cases._deconflict` and :mod:`spector.cases._exchange`;
this module parses and prints. An invalid selector, a short key, a malformed exchange
file: one ``error:`` line, exit 2, nothing written.
"""

from __future__ import annotations

import json
import os
import tempfile
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
from spector.errors import InputError, NotAWorkspace

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from spector.cases._deconflict import DeconflictionNotice

__all__ = ["register"]

selector_app = typer.Typer(
    help="Selectors of targets (PGP keys, wallets, onions, handles...), deconflicted.",
    no_args_is_help=True,
)
deconflict_app = typer.Typer(
    help="Deconflict with another instance through files of keyed hashes (no cleartext).",
    no_args_is_help=True,
)

_KINDS = (
    "pgp_fingerprint, btc_address, eth_address, xmr_address, onion, onion_v2, phone, email, "
    "handle, telegram, xmpp, wickr, session_id"
)

KeyFileOpt = Annotated[
    Path,
    typer.Option(
        "--key-file",
        help="The key agreed with the other instance: >= 32 bytes as hex or base64.",
        show_default=False,
    ),
]


def register(cases_app: typer.Typer) -> None:
    """Add `selector`, `notices` and `deconflict` to `spector cases`."""
    cases_app.add_typer(selector_app, name="selector")
    cases_app.command("notices")(notices_command)
    cases_app.add_typer(deconflict_app, name="deconflict")


def correlation_limit(workspace: Path | None) -> int:
    """``[cases] correlation_limit`` of the workspace's spector.toml (default 20)."""
    from spector.cli.common import find_workspace
    from spector.store._config import CORRELATION_LIMIT, read_config

    try:
        root = find_workspace(workspace)
    except NotAWorkspace:
        if workspace is not None:
            raise
        return CORRELATION_LIMIT
    return read_config(root / "spector.toml").correlation_limit


def _own_and_told(
    s: Session, agency_id: int, made: list[DeconflictionNotice]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from spector.cases._deconflict import notice_view
    from spector.cases._who import Agency

    own = [notice_view(s, n) for n in made if n.agency_id == agency_id]
    told = []
    for n in made:
        if n.agency_id != agency_id:
            agency = s.get(Agency, n.agency_id)
            told.append({"agency": agency.name if agency else n.agency_id, "notice_id": n.id})
    return own, told


@selector_app.command("add")
def selector_add(
    target_id: Annotated[int, typer.Argument(help="The target (of your agency).")],
    kind: Annotated[str, typer.Argument(help=f"The kind: {_KINDS}.")],
    value: Annotated[str, typer.Argument(help="The selector as written; it is canonicalised.")],
    region: Annotated[
        str | None,
        typer.Option(help="Default country (ISO 3166) of a phone number without +country."),
    ] = None,
    distribution: Annotated[
        str | None, typer.Option(help="agency, operation or all (default: the target's).")
    ] = None,
    handling: Annotated[str | None, typer.Option(help="H0-H3 (default: the target's).")] = None,
    handling_note: Annotated[
        str | None, typer.Option(help="The restrictions of handling code H3.")
    ] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a selector to a target and deconflict it against every agency's selectors."""
    from spector.cases._canon import canonical
    from spector.cases._deconflict import add_selector, notice_text, selector_view

    canonical(kind, value, region=region)  # an invalid value fails before any login
    limit = correlation_limit(workspace)
    with acting_session(workspace, db, user, token) as (s, p):
        sel, made = add_selector(
            s,
            p,
            target_id,
            kind,
            value,
            distribution=distribution,
            handling=handling,
            handling_note=handling_note,
            region=region,
            correlation_limit=limit,
        )
        own, told = _own_and_told(s, p.agency_id, made)
        texts = [notice_text(s, n) for n in made if n.agency_id == p.agency_id]
        data = {"selector": selector_view(sel), "notices": own, "told": told, "limit": limit}
    lines = [f"selector {sel.id} ({kind} {sel.value}) on target {target_id}"]
    if sel.noisy:
        lines[0] += f": noisy — held by more than {limit} cases; no notices (correlation limit)"
    elif not made:
        lines[0] += ": no other agency holds it" if not own else ""
    lines += [f"  {t}" for t in texts]
    lines += [f"  told {t['agency']} (their notice {t['notice_id']})" for t in told]
    emit(data, as_json, "\n".join(lines))


@selector_app.command("list")
def selector_list(
    target: Annotated[int | None, typer.Option("--target", help="Only this target's.")] = None,
    case: Annotated[int | None, typer.Option("--case", help="Only this case's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The selectors you may read, oldest first."""
    from spector.cases._deconflict import list_selectors, selector_view

    with acting_session(workspace, db, user, token) as (s, p):
        found = list_selectors(s, p, target_id=target, case_id=case, limit=limit, offset=offset)
        items = [selector_view(x) for x in found]
    lines = [
        f"{i['id']:>6}  target {i['target_id']:<6} {i['kind']:<16} {i['value']}"
        + ("  [noisy]" if i["noisy"] else "")
        for i in items
    ]
    emit(items, as_json, "\n".join(lines) if lines else "no selectors")


def notices_command(
    ack: Annotated[
        int | None, typer.Option("--ack", help="Acknowledge this notice (liaison, analyst, admin).")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only unacknowledged ones.")] = False,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Your agency's deconfliction notices: who else holds your selectors, whom to call."""
    from spector.cases._deconflict import acknowledge, notice_text, notice_view, notices

    with acting_session(workspace, db, user, token) as (s, p):
        if ack is not None:
            n = acknowledge(s, p, ack)
            data: Any = notice_view(s, n)
            text = notice_text(s, n)
        else:
            found = notices(s, p, open_only=open_only)
            data = [notice_view(s, n) for n in found]
            text = "\n".join(notice_text(s, n) for n in found) or "no notices"
    emit(data, as_json, text)


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    try:
        folder = path.parent if str(path.parent) else Path()
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"cannot write there: {exc}", where=path) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@deconflict_app.command("export")
def deconflict_export(
    key_file: KeyFileOpt,
    out: Annotated[Path, typer.Option("--out", help="The file to write (JSON).")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write your agency's selectors as keyed hashes for another instance (liaison, admin)."""
    from spector.cases._deconflict import export_hashes
    from spector.cases._exchange import read_key_file

    key = read_key_file(key_file)
    with acting_session(workspace, db, user, token) as (s, p):
        data = export_hashes(s, p, key)
        _write_atomic(out, data)  # inside the transaction: no file, no audit entry
    summary = {
        "out": str(out),
        "entries": len(data["entries"]),
        "agency": data["agency"],
        "instance": data["instance"],
    }
    emit(
        summary,
        as_json,
        f"wrote {out}: {len(data['entries'])} keyed hashes of {data['agency']}'s selectors "
        "(no cleartext)",
    )


@deconflict_app.command("import")
def deconflict_import(
    file: Annotated[Path, typer.Argument(help="The other instance's export file.")],
    key_file: KeyFileOpt,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Match another instance's keyed hashes against every local agency's selectors."""
    from spector.cases._deconflict import import_hashes, notice_view
    from spector.cases._exchange import load_exchange_file, read_key_file

    key = read_key_file(key_file)
    data = load_exchange_file(file)
    with acting_session(workspace, db, user, token) as (s, p):
        made = import_hashes(s, p, data, key, where=str(file))
        # the importer sees its own agency's notices; of the others only how many
        views = [notice_view(s, n) for n in made if n.agency_id == p.agency_id]
    others = len(made) - len(views)
    remote = f"{data.get('agency')} on instance {data.get('instance')}"
    lines = [
        f"{file}: {len(data['entries'])} keyed hashes of {remote}; {len(views)} new notices "
        f"for your agency, {others} for other agencies here"
    ]
    lines += [
        f"  notice {v['id']}: your {v['kind']} selector {v['selector_id']}; contact {v['contact']}"
        for v in views
    ]
    emit(
        {"file": str(file), "notices": views, "other_agencies_notified": others},
        as_json,
        "\n".join(lines),
    )
