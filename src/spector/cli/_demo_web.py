"""[J]'s demo step: the analyst's workplace answers on the demo workspace.

The step builds the web app in-process, signs in through the login form as the demo's
BKA analyst, and asks for every page of the navigation and every API list (each GET path
of the OpenAPI schema without a path parameter). Anything but a 200 fails the demo. After
the last step, `spector demo` serves the same app (``serve_demo``) unless ``--no-serve``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from spector.cli.common import DemoContext, console, demo_step
from spector.errors import InternalError

__all__ = ["demo_login", "serve_demo"]

DEMO_USER = "bka_analyst"


def demo_login(root: Path) -> tuple[str, str] | None:
    """(user, password) of the demo's BKA analyst, if the demo made this case store."""
    path = root / "cases-logins.toml"
    if not path.is_file():
        return None
    logins = tomllib.loads(path.read_text(encoding="utf-8"))
    password = logins.get(DEMO_USER)
    return (DEMO_USER, str(password)) if password else None


async def _walk(app: Any, user: str, password: str) -> tuple[list[str], list[str], int]:
    import httpx

    from spector.web._pages import NAV

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        signed = await client.post(
            "/login",
            data={"username": user, "password": password, "csrf": token[1] if token else ""},
        )
        if signed.status_code != 303:
            raise InternalError(f"the demo's login as {user} was refused ({signed.status_code})")
        failed: list[str] = []
        pages = [href for _, href in NAV]
        for href in pages:
            response = await client.get(href)
            if response.status_code != 200:
                failed.append(f"{href} {response.status_code}")
        schema = (await client.get("/api/v1/openapi.json")).json()
        lists = [
            path
            for path, item in schema["paths"].items()
            if "get" in item and "{" not in path and not path.endswith(("/expand", "/why-merged"))
        ]
        for path in lists:
            response = await client.get(path)
            if response.status_code != 200:
                failed.append(f"{path} {response.status_code}")
        return pages, lists, len(schema["paths"])


@demo_step(85, "open the analyst's workplace")
def _demo_web(ctx: DemoContext) -> str:
    import anyio

    from spector.web import create_app

    root = ctx.workspace.root
    login = demo_login(root)
    if login is None:
        return "skipped: this case store was not made by the demo (no demo login)"
    ctx.workspace.close()  # the app opens the store itself
    try:
        app = create_app(root)
        try:
            pages, lists, paths = anyio.run(_walk, app, *login)
        finally:
            app.state.web.close()
    finally:
        ctx.reopen()
    console.print(f"  pages: {', '.join(pages)}")
    return (
        f"{len(pages)} pages and {len(lists)} API lists answered for {login[0]}; "
        f"OpenAPI schema of {paths} paths at /api/v1/openapi.json"
    )


def serve_demo(root: Path, *, port: int) -> None:
    """Serve the UI on the demo's workspace, printing the URL and the demo login."""
    from spector.web.cli import port_free, serve_app

    chosen = next((p for p in range(port, port + 50) if port_free("127.0.0.1", p)), None)
    if chosen is None:
        raise InternalError(f"no free port in {port}–{port + 49} on 127.0.0.1")
    login = demo_login(root)
    who = f"{login[0]} / {login[1]}" if login else "a user of your case store"
    serve_app(
        root,
        host="127.0.0.1",
        port=chosen,
        db=None,
        banner=f"UI: http://127.0.0.1:{chosen}/ (login: {who})\n  Ctrl-C stops the server.",
    )
