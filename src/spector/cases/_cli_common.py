"""What every `spector cases ...` command shares: the options that say which store and
who is acting, ``acting`` (open the store, authenticate), and ``emit`` (JSON or text).

Who is acting: ``--token`` (or $SPECTOR_TOKEN), else ``--user NAME`` (or $SPECTOR_USER)
with the password from $SPECTOR_PASSWORD or a hidden prompt. Which store: ``--db URL``,
else ``[cases] db`` in the workspace's spector.toml, else the workspace's cases.sqlite.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spector.cli.common import WorkspaceOpt, console, find_workspace
from spector.errors import NotAWorkspace, UsageError

if TYPE_CHECKING:  # the case store loads when a command runs: `spector --help` stays fast
    from sqlalchemy.orm import Session

    from spector.cases._base import Principal
    from spector.cases._db import CaseStore

__all__ = [
    "DbOpt",
    "JsonOpt",
    "TokenOpt",
    "UserOpt",
    "WorkspaceOpt",
    "acting",
    "emit",
    "new_password",
    "open_store",
    "password",
]

# names of environment variables, not secrets
PASSWORD_ENV = "SPECTOR_PASSWORD"  # noqa: S105
NEW_PASSWORD_ENV = "SPECTOR_NEW_PASSWORD"  # noqa: S105
TOKEN_ENV = "SPECTOR_TOKEN"  # noqa: S105
USER_ENV = "SPECTOR_USER"

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="Case store URL: sqlite:///FILE or postgresql://USER@HOST/DB (default: [cases] db "
        "in spector.toml, else the workspace's cases.sqlite).",
        show_default=False,
    ),
]
UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        help=f"Act as this user (password from ${PASSWORD_ENV}, else a prompt; "
        f"default: ${USER_ENV}).",
        show_default=False,
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help=f"Act with this API token (default: ${TOKEN_ENV}). Prefer the variable: "
        "arguments show in the process list.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print as JSON.")]


def open_store(workspace: Path | None, db: str | None) -> CaseStore:
    """Open the case store named by ``--db`` or the workspace (``--workspace`` or the one
    we are in). With neither: UsageError naming both."""
    from spector.cases._db import open_cases

    root: Path | None = None
    if db is None:
        try:
            root = find_workspace(workspace)
        except NotAWorkspace:
            if workspace is not None:
                raise
    return open_cases(root, db)


def password(username: str) -> str:
    """The acting user's password: $SPECTOR_PASSWORD, else a hidden prompt."""
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    return str(typer.prompt(f"password for {username}", hide_input=True))


def new_password(username: str, *envs: str) -> str:
    """A new user's password: the first of ``envs`` set, else a prompt with confirmation."""
    for env in envs or (NEW_PASSWORD_ENV,):
        given = os.environ.get(env)
        if given:
            return given
    return str(
        typer.prompt(f"new password for {username}", hide_input=True, confirmation_prompt=True)
    )


def acting(
    workspace: Path | None, db: str | None, user: str | None, token: str | None
) -> tuple[CaseStore, Principal]:
    """Open the store and authenticate: the token if given, else the user and password.

    AuthError on a bad token or password; UsageError when neither is given. The caller
    closes the store (``with store: ...``).
    """
    from spector.cases._who import authenticate, login, record_failed_login
    from spector.errors import AuthError

    token = token or os.environ.get(TOKEN_ENV) or None
    user = user or os.environ.get(USER_ENV) or None
    if token is None and user is None:
        raise UsageError(
            "who is acting? no user and no token given",
            hint=f"pass --user NAME (password from ${PASSWORD_ENV} or a prompt) or set "
            f"${TOKEN_ENV}",
        )
    username = str(user)
    secret = "" if token is not None else password(username)
    store = open_store(workspace, db)
    try:
        try:
            with store.session() as s:
                if token is not None:
                    principal = authenticate(s, token)
                else:
                    principal = login(s, username, secret)
        except AuthError:
            if token is None:
                with store.session() as s:
                    record_failed_login(s, username)
            raise
    except BaseException:
        store.close()
        raise
    return store, principal


@contextmanager
def acting_session(
    workspace: Path | None, db: str | None, user: str | None, token: str | None
) -> Iterator[tuple[Session, Principal]]:
    """``acting`` and one writing session of the store, closed together: ``with
    acting_session(...) as (s, p):``. A writing session even to read: reading an H2/H3
    record writes the audit log."""
    store, p = acting(workspace, db, user, token)
    with store, store.session() as s:
        yield s, p


def emit(data: Any, as_json: bool, text: str) -> None:
    """Print ``data`` as JSON (sorted keys, one document) or ``text`` as it is."""
    if as_json:
        print(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str))
    else:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
