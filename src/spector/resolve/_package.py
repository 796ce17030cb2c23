"""The target package of an actor: what `spector actor show ID` prints and renders.

``actor_package(ws, actor_id)`` returns a JSON-ready dict with the keys of the issue's
contract, ``actor_id``, ``accounts`` ([{account_id, market, handle, ...}]), ``links``
([{a, b, score, evidence, ...}]: the links drawn between its accounts), ``selectors``
(sorted "kind:value") and ``revenue_usd`` (from ``spector.economics.estimate`` when that
stage is installed, else None with the reason in ``revenue_note``), and more:
``revenue_interval`` ([low, high]) and ``sales``,
``keys`` (PGP fingerprints), ``addresses`` (crypto), ``contacts``, ``first_seen``,
``last_seen``, ``timeline`` (first/last seen per account, by date), ``chain_clusters``
(the wallets its pay-to addresses are in, when the chain is clustered), ``markets``.

``render(package, "md" | "html")``: the package as Markdown or a standalone HTML page.
Both go through jinja2 with autoescaping on: every handle, text and selector comes from
criminal sites and is hostile, so nothing of it reaches the output unescaped (Markdown
escapes HTML and Markdown syntax both).

An unknown actor id raises InputError naming the closest known one.
"""

from __future__ import annotations

import difflib
import html
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from spector.errors import InputError, UsageError
from spector.resolve._store import account_facts, actor_members, facts_of

if TYPE_CHECKING:
    import jinja2

    from spector.store import Workspace

__all__ = ["ADDRESS_KINDS", "CONTACT_KINDS", "actor_package", "known_actor", "render"]

ADDRESS_KINDS = frozenset({"btc_address", "xmr_address", "eth_address"})
CONTACT_KINDS = frozenset(
    {"email", "telegram", "wickr", "xmpp", "session_id", "phone", "onion", "onion_v2"}
)
FORMATS = ("md", "html")


def known_actor(ws: Workspace, actor_id: str) -> list[dict[str, Any]]:
    """The accounts of ``actor_id``; InputError naming the closest known actor."""
    key = actor_id.strip()
    members = actor_members(ws, key)
    if members:
        return members
    con = ws.store.con
    known = [str(r[0]) for r in con.execute(
        "SELECT DISTINCT actor_id FROM actor_accounts ORDER BY 1").fetchall()]  # fmt: skip
    if not known:
        raise InputError(f"unknown actor id {key!r}", hint="run `spector resolve` first")
    held = con.execute(
        "SELECT actor_id FROM actor_accounts WHERE account_id = ? OR lower(handle) = lower(?) "
        "ORDER BY actor_id LIMIT 1",
        [key, key],
    ).fetchone()
    if held:
        hint = f"{key!r} is an account of actor {held[0]}"
    else:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.3)
        hint = f"closest known: {close[0]}" if close else "see `spector actor list`"
    raise InputError(f"unknown actor id {key!r}", expected="an actor id of `spector actor list`",
                     hint=hint)  # fmt: skip


def _revenue(
    ws: Workspace, actor_id: str, by_actor: list[dict[str, Any]] | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """(the actor's row of the economics estimate, None) or (None, why there is none);
    ``by_actor``: the estimate's rows made already (the web app caches them)."""
    if by_actor is not None:
        for row in by_actor:
            if row.get("actor_id") == actor_id:
                return row, None
        return None, "no sales estimated for this actor"
    try:
        from spector.economics import estimate
    except ImportError:
        return None, "spector.economics is not installed"
    try:
        by_actor = estimate(ws).by_actor
    except Exception as exc:  # the estimate is another stage's: say why, do not fail here
        return None, f"the economics estimate failed: {type(exc).__name__}: {exc}"
    if by_actor is None:
        return None, "the economics estimate has no actors"
    for row in by_actor:
        if row.get("actor_id") == actor_id:
            return row, None
    return None, "no sales estimated for this actor"


def _money(value: object) -> float | None:
    return None if value is None else round(float(str(value)), 2)


def _links(ws: Workspace, ids: list[str]) -> list[dict[str, Any]]:
    import json

    rows = ws.store.con.execute(
        "SELECT a, b, score, evidence, decided FROM resolve_links "
        "WHERE linked AND list_contains(?, a) AND list_contains(?, b) ORDER BY score DESC, a, b",
        [ids, ids],
    ).fetchall()
    return [{"a": str(a), "b": str(b), "score": round(float(s), 4), "evidence": json.loads(e),
             "decided": d} for a, b, s, e, d in rows]  # fmt: skip


def _cluster_sizes(ws: Workspace, clusters: set[int]) -> dict[int, int]:
    if not clusters:
        return {}
    con = ws.store.con
    rows = con.execute(
        "SELECT cluster_id, count(*) FROM chain_clusters WHERE list_contains(?, cluster_id) "
        "GROUP BY 1",
        [sorted(clusters)],
    ).fetchall()
    return {int(c): int(n) for c, n in rows}


def _facts(ws: Workspace, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored facts of ``ids``; for a workspace resolved before they were stored,
    the accounts are loaded again."""
    facts = account_facts(ws, ids)
    if len(facts) == len(ids):
        return facts
    from spector.resolve._accounts import load_accounts

    accounts = load_accounts(ws)
    where = {a: i for i, a in enumerate(accounts.account_id)}
    return {a: facts_of(accounts, where[a]) for a in ids if a in where}


def actor_package(
    ws: Workspace, actor_id: str, *, by_actor: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The target package of ``actor_id`` (see the module docstring). ``by_actor``: the
    rows of ``estimate(ws).by_actor`` when the caller has them (else estimated here)."""
    members = known_actor(ws, actor_id)
    key = actor_id.strip()
    facts = _facts(ws, [m["account_id"] for m in members])
    selectors: set[str] = set()
    keys: set[str] = set()
    clusters: dict[int, set[str]] = {}
    listed: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    for m in members:
        f = facts.get(m["account_id"])
        row: dict[str, Any] = {"account_id": m["account_id"], "market": m["market"],
                               "handle": m["handle"], "kind": m["kind"],
                               "market_id": m["market_id"]}  # fmt: skip
        if f is not None:
            selectors.update(f["selectors"])
            selectors.update(f"btc_address:{a}" for a in f["payto"])
            keys.update(f["pgp"])
            for c in f["clusters"]:
                clusters.setdefault(int(c), set()).update(f["payto"])
            row |= {k: f[k] for k in ("pgp", "ships_from", "listings", "categories",
                                      "first_seen", "last_seen")}  # fmt: skip
            for when, what in ((f["first_seen"], "first seen"), (f["last_seen"], "last seen")):
                if when is not None:
                    event = {"date": when, "event": what, "market": m["market"],
                             "handle": m["handle"], "account_id": m["account_id"]}  # fmt: skip
                    timeline.append(event)
        listed.append(row)
    selectors.update(f"pgp_fingerprint:{k}" for k in keys)
    kinds = {s: s.split(":", 1)[0] for s in selectors}
    timeline.sort(key=lambda e: (e["date"], e["event"] != "first seen", e["account_id"]))
    dates = [e["date"] for e in timeline]
    sizes = _cluster_sizes(ws, set(clusters))
    revenue, note = _revenue(ws, key, by_actor)
    package: dict[str, Any] = {
        "actor_id": key,
        "accounts": listed,
        "links": _links(ws, [m["account_id"] for m in members]),
        "selectors": sorted(selectors),
        "revenue_usd": _money(revenue.get("revenue_usd")) if revenue else None,
        "markets": sorted({str(m["market"]) for m in members if m["market"]}),
        "keys": sorted(keys),
        "addresses": sorted(s for s in selectors if kinds[s] in ADDRESS_KINDS),
        "contacts": sorted(s for s in selectors if kinds[s] in CONTACT_KINDS),
        "first_seen": min(dates) if dates else None,
        "last_seen": max(dates) if dates else None,
        "timeline": timeline,
        "chain_clusters": [
            {"cluster_id": c, "addresses": sorted(a), "size": sizes.get(c)}
            for c, a in sorted(clusters.items())
        ],
    }
    package["revenue_interval"] = (
        [_money(revenue.get("revenue_low")), _money(revenue.get("revenue_high"))]
        if revenue else None
    )  # fmt: skip
    package["sales"] = revenue.get("sales") if revenue else None
    package["revenue_note"] = note
    return package


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md_escape(value: object) -> Markup:
    """A value for Markdown: HTML-escaped (renderers pass HTML through), Markdown syntax
    backslash-escaped, newlines flattened."""
    if isinstance(value, Markup):
        return value
    text = html.escape("" if value is None else str(value), quote=False)
    text = " ".join(text.split())
    # the text is HTML-escaped above, so marking it safe cannot let markup through
    return Markup(_MD_SPECIAL.sub(r"\\\1", text))  # noqa: S704


@cache
def _env(fmt: str) -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("spector.resolve", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_md_escape if fmt == "md" else None,
    )
    env.filters["money"] = lambda v: "—" if v is None else f"${float(v):,.0f}"
    return env


def render(package: dict[str, Any], fmt: str) -> str:
    """``package`` as Markdown (``md``) or HTML (``html``); UsageError for another."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", expected="md or html")
    return _env(fmt).get_template(f"actor.{fmt}.j2").render(p=package)
