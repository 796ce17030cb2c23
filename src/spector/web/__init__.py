"""The analyst's workplace: one FastAPI app with two faces over the functions the CLI
calls, a JSON API under ``/api/v1`` (OpenAPI schema, bearer tokens of the case store)
and server-rendered pages (Jinja2 + htmx) behind a session cookie.

``create_app(ws_root)`` builds the app on a workspace; ``spector serve`` runs it with
uvicorn. Every record of the case store is read through [I]'s access filter; the
workspace's own tables (markets, listings, actors, chain) are shown to every signed-in
user, writes to them (link decisions) to analysts. See docs/web.md.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported on first use (spector._lazy): `spector` starts without fastapi
    from spector.web._app import create_app
    from spector.web._state import WebState
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = ["WebState", "create_app"]
