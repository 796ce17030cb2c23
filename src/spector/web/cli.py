"""`spector serve`: the analyst's web UI and JSON API on a workspace (uvicorn)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from spector.cases._cli_common import DbOpt
from spector.cli.common import Groups, WorkspaceOpt, console, find_workspace
from spector.errors import UsageError

__all__ = ["register", "serve", "serve_app"]

DEFAULT_PORT = 8470


def register(app: typer.Typer, groups: Groups) -> None:
    """Add `spector serve` (only if the web packages import; otherwise it says what to install)."""
    from importlib.util import find_spec

    if find_spec("fastapi") is None or find_spec("uvicorn") is None:  # without importing them

        @app.command("serve")
        def serve_missing() -> None:
            """The web UI and API (needs the web packages)."""
            raise UsageError(
                "the web packages are not installed",
                hint="pip install fastapi uvicorn python-multipart",
            )

        return
    app.command("serve")(serve)


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def serve_app(
    root: Path, *, host: str, port: int, db: str | None, banner: str | None = None
) -> None:
    """Build the app on ``root`` and serve it until interrupted (Ctrl-C)."""
    import uvicorn

    from spector.web import create_app

    if not port_free(host, port):
        raise UsageError(f"{host}:{port} is in use", hint="choose another with --port")
    app = create_app(root, db=db)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        server_header=False,
        date_header=True,
    )
    console.print(banner or f"UI: http://{_url_host(host)}:{port}/ (Ctrl-C stops it)")
    uvicorn.Server(config).run()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(
    workspace: WorkspaceOpt = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    db: DbOpt = None,
) -> None:
    """Serve the analyst's web UI and the JSON API (/api/v1, schema at /api/v1/openapi.json).

    Sign in with a user of the case store (`spector cases init`, `spector cases user add`). The API takes `Authorization: Bearer <token>` (`spector cases token issue`).

    The server holds the workspace's store while it runs: stop it before writing from the CLI. To serve beyond loopback, put it behind a TLS proxy (cookies are then marked Secure).
    """  # noqa: E501  (one line per paragraph: the help wraps it to the terminal)
    serve_app(find_workspace(workspace), host=host, port=port, db=db)
