"""`spector cases init`, `agency add|list`, `user add|list|revoke`, `token issue|list|revoke`,
`operation add|list|join`: who works on the instance.

The work is done by ``spector.cases._who``; this module parses arguments and prints.
Every command takes --json.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from spector.cases._cli_common import (
    NEW_PASSWORD_ENV,
    PASSWORD_ENV,
    DbOpt,
    JsonOpt,
    TokenOpt,
    UserOpt,
    WorkspaceOpt,
    acting,
    acting_session,
    emit,
    new_password,
    open_store,
)
from spector.errors import UsageError

__all__ = ["register"]

CountryOpt = Annotated[
    str,
    typer.Option("--country", help="ISO 3166-1 alpha-2 code (DE, NL, US ...), or EU / INT."),
]


def register(cases_app: typer.Typer) -> None:
    """Add the who-commands to the `cases` group."""
    agency_app = typer.Typer(help="Agencies on the instance.", no_args_is_help=True)
    user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
    token_app = typer.Typer(help="API tokens (hashed, expiring, revocable).", no_args_is_help=True)
    operation_app = typer.Typer(
        help="Joint operations: the agencies that share records (a sharing group).",
        no_args_is_help=True,
    )
    cases_app.command("init")(init)
    agency_app.command("add")(agency_add)
    agency_app.command("list")(agency_list)
    user_app.command("add")(user_add)
    user_app.command("list")(user_list)
    user_app.command("revoke")(user_revoke)
    token_app.command("issue")(token_issue)
    token_app.command("list")(token_list)
    token_app.command("revoke")(token_revoke)
    operation_app.command("add")(operation_add)
    operation_app.command("list")(operation_list)
    operation_app.command("join")(operation_join)
    cases_app.add_typer(agency_app, name="agency")
    cases_app.add_typer(user_app, name="user")
    cases_app.add_typer(token_app, name="token")
    cases_app.add_typer(operation_app, name="operation")


def init(
    agency: Annotated[str, typer.Option("--agency", help="The first agency's name.")],
    country: CountryOpt,
    admin: Annotated[str, typer.Option("--admin", help="The first admin's username.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set up an empty case store: its first agency and admin.

    The admin's password comes from $SPECTOR_NEW_PASSWORD (or $SPECTOR_PASSWORD), else a
    prompt asked twice.
    """
    from spector.cases._who import init_instance, instance_value

    secret = new_password(admin, NEW_PASSWORD_ENV, PASSWORD_ENV)
    with open_store(workspace, db) as store, store.session() as s:
        p = init_instance(s, agency=agency, country=country, admin=admin, password=secret)
        instance_id = instance_value(s, "instance_id")
    data = {
        "instance_id": instance_id,
        "agency": agency,
        "admin": p.username,
        "roles": sorted(p.roles),
        "store": store.safe_url,
    }
    emit(
        data,
        as_json,
        f"case store ready at {data['store']}: instance {instance_id}, "
        f"agency {agency}, admin {p.username}",
    )


def agency_add(
    name: Annotated[str, typer.Argument(help="The agency's name (unique).")],
    country: CountryOpt,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an agency (admin only)."""
    from spector.cases._who import create_agency

    with acting_session(workspace, db, user, token) as (s, p):
        agency = create_agency(s, p, name=name, country=country)
        data = {"id": agency.id, "name": agency.name, "country": agency.country}
    emit(data, as_json, f"added agency {agency.name} ({agency.country})")


def agency_list(
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the agencies on the instance."""
    from spector.cases._who import list_agencies

    store, _p = acting(workspace, db, user, token)
    with store, store.session(readonly=True) as s:
        rows = list_agencies(s)
    lines = [f"{r['name']:<30} {r['country']:<4} {r['users']} active user(s)" for r in rows]
    emit(rows, as_json, "\n".join(lines) or "no agencies")


def user_add(
    username: Annotated[str, typer.Argument(help="The new user's name (stored lower-case).")],
    agency: Annotated[str, typer.Option("--agency", help="The user's agency.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            help="A role: admin, analyst, viewer, liaison, media_reviewer (repeat for several).",
        ),
    ],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Contact e-mail.")] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user (admin only). Its password: $SPECTOR_NEW_PASSWORD, else a prompt asked twice."""
    from spector.cases._who import agency_by_name, create_user, roles_of

    store, p = acting(workspace, db, user, token)
    with store:
        secret = new_password(username)
        with store.session() as s:
            new = create_user(
                s,
                p,
                agency=agency,
                username=username,
                password=secret,
                roles=role,
                display_name=name,
                email=email,
            )
            roles = sorted(roles_of(s, new.id))
            home = agency_by_name(s, agency).name
    data = {"id": new.id, "username": new.username, "agency": home, "roles": roles}
    emit(data, as_json, f"added user {new.username} ({', '.join(roles)}) of {home}")


def user_list(
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency's.")] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List users: name, agency, roles, whether revoked."""
    from spector.cases._who import list_users

    store, p = acting(workspace, db, user, token)
    with store, store.session(readonly=True) as s:
        rows = list_users(s, p, agency=agency)
    lines = [
        f"{r['username']:<24} {r['agency']:<20} {','.join(r['roles']):<28}"
        f"{'' if r['active'] else ' REVOKED ' + str(r['revoked_at'])[:10]}"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(line.rstrip() for line in lines) or "no users")


def user_revoke(
    username: Annotated[str, typer.Argument(help="The user to revoke.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a user and its tokens (admin only): its password and tokens stop working."""
    from spector.cases._who import revoke_user

    with acting_session(workspace, db, user, token) as (s, p):
        revoke_user(s, p, username)
    emit({"revoked": username.strip().lower()}, as_json, f"revoked user {username}")


def token_issue(
    for_user: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Issue it for this user (admin only; default: yourself).",
            show_default=False,
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Valid for this many days (1-366).")] = 30,
    label: Annotated[str | None, typer.Option("--label", help="What it is for.")] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue an API token. It is shown once: only its hash is kept."""
    from spector.cases._who import issue_token

    with acting_session(workspace, db, user, token) as (s, p):
        new = issue_token(s, p, username=for_user, days=days, label=label)
    owner = (for_user or p.username).strip().lower()
    data = {"token": new, "prefix": new.split("_")[1], "user": owner, "days": days}
    emit(
        data,
        as_json,
        f"{new}\n(token for {owner}, valid {days} days; shown only now: "
        "keep it in $SPECTOR_TOKEN or a password manager)",
    )


def token_list(
    all_users: Annotated[bool, typer.Option("--all", help="Every user's (admin only).")] = False,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List your API tokens (or everyone's with --all): prefix, state, dates; never the secret."""
    from spector.cases._who import list_tokens

    store, p = acting(workspace, db, user, token)
    with store, store.session(readonly=True) as s:
        rows = list_tokens(s, p, all_users=all_users)
    lines = [
        f"spk_{r['prefix']}_...  {r['user']:<20} {r['state']:<8} expires {r['expires_at'][:10]}"
        f"  last used {(r['last_used_at'] or 'never')[:10]}  {r['label'] or ''}".rstrip()
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "no tokens")


def token_revoke(
    prefix: Annotated[str, typer.Argument(help="The token's prefix (as `token list` shows it).")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API token: your own, or anyone's for an admin."""
    from spector.cases._who import revoke_token

    with acting_session(workspace, db, user, token) as (s, p):
        revoke_token(s, p, prefix)
    emit({"revoked": prefix}, as_json, f"revoked token {prefix}")


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--announced {text!r}", expected="a date YYYY-MM-DD") from None


def operation_add(
    name: Annotated[str, typer.Argument(help="The operation's name (unique).")],
    agency: Annotated[
        list[str], typer.Option("--agency", help="A member agency (repeat for several).")
    ],
    announced: Annotated[
        str | None, typer.Option("--announced", help="Announced on (YYYY-MM-DD).")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="What it is.")] = None,
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a joint operation of agencies (admin only)."""
    from spector.cases._who import agency_by_name, create_operation

    when = _date(announced)
    with acting_session(workspace, db, user, token) as (s, p):
        op = create_operation(
            s, p, name=name, agencies=agency, announced=when, description=description
        )
        members = sorted({agency_by_name(s, a).name for a in agency})
    data = {"id": op.id, "name": op.name, "agencies": members}
    emit(data, as_json, f"added operation {op.name} of {', '.join(members)}")


def operation_list(
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the joint operations and their agencies."""
    from spector.cases._who import list_operations

    store, _p = acting(workspace, db, user, token)
    with store, store.session(readonly=True) as s:
        rows = list_operations(s)
    lines = [
        f"{r['name']:<24} {r['announced'] or '':<10}  {', '.join(r['agencies'])}" for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "no operations")


def operation_join(
    operation: Annotated[str, typer.Argument(help="The operation.")],
    agency: Annotated[str, typer.Argument(help="The agency that joins it.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an agency to an operation's sharing group (admin only)."""
    from spector.cases._who import join_operation

    with acting_session(workspace, db, user, token) as (s, p):
        join_operation(s, p, operation, agency)
    emit({"operation": operation, "joined": agency}, as_json, f"{agency} joined {operation}")
