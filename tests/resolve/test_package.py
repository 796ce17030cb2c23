"""Target packages: the JSON of the contract, and Markdown / HTML renderings in which
nothing scraped comes out unescaped."""

from __future__ import annotations

import pytest

from spector.errors import InputError, UsageError
from spector.resolve._package import actor_package, render
from spector.store import Workspace
from tests.resolve.resolved import build_range, build_resolved, fresh_copy

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkg")
    return build_resolved(root, build_range(root))


@pytest.fixture
def ws(resolved, tmp_path):
    with Workspace.open(fresh_copy(resolved, tmp_path / "ws"), write=True) as opened:
        yield opened


def _largest(ws) -> str:
    return ws.store.con.execute(
        "SELECT actor_id FROM actor_accounts GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchone()[0]


def test_package_holds_the_contract_keys_and_the_actor_facts(ws):
    actor = _largest(ws)
    p = actor_package(ws, actor)
    for key in ("actor_id", "accounts", "links", "selectors", "revenue_usd"):
        assert key in p
    assert p["actor_id"] == actor
    sql = "SELECT account_id FROM actor_accounts WHERE actor_id = ?"
    members = {r[0] for r in ws.store.con.execute(sql, [actor]).fetchall()}
    assert {a["account_id"] for a in p["accounts"]} == members
    assert len(members) >= 2
    for a in p["accounts"]:
        assert {"account_id", "market", "handle"} <= set(a)
        assert a["market"]
    assert p["links"], "a multi-account actor has its links"
    for link in p["links"]:
        assert {"a", "b", "score", "evidence"} <= set(link)
        assert link["a"] in members
        assert link["b"] in members
        assert link["evidence"][-1].startswith("model score")
    assert p["selectors"] == sorted(p["selectors"])
    assert set(p["contacts"]) | set(p["addresses"]) <= set(p["selectors"])
    dates = [e["date"] for e in p["timeline"]]
    assert dates == sorted(dates)
    assert p["first_seen"] == dates[0]
    assert p["last_seen"] == dates[-1]
    # economics is present in this tree: revenue from its estimate, with its interval
    assert p["revenue_usd"] is None or p["revenue_usd"] > 0
    if p["revenue_usd"] is not None:
        low, high = p["revenue_interval"]
        assert low <= p["revenue_usd"] <= high


def test_unknown_actor_names_the_closest(ws):
    actor = _largest(ws)
    with pytest.raises(InputError, match=f"closest known: {actor}"):
        actor_package(ws, actor[:-1] + "#")
    sql = "SELECT account_id FROM actor_accounts WHERE actor_id = ? LIMIT 1"
    account = ws.store.con.execute(sql, [actor]).fetchone()[0]
    with pytest.raises(InputError, match=f"is an account of actor {actor}"):
        actor_package(ws, account)


def test_markdown_and_html_escape_hostile_handles(ws):
    actor = _largest(ws)
    ws.store.con.execute(
        "UPDATE actor_accounts SET handle = ? WHERE actor_id = ?",
        [HOSTILE + " *bold* [x](y)", actor],
    )
    p = actor_package(ws, actor)
    assert any(a["handle"].startswith(HOSTILE) for a in p["accounts"])
    page = render(p, "html")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.startswith("<!doctype html>")
    assert "Content-Security-Policy" in page
    md = render(p, "md")
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    assert "\\*bold\\*" in md
    assert "\\[x\\](y)" in md
    assert md.startswith(f"# Target package: {actor}")
    with pytest.raises(UsageError, match="md or html"):
        render(p, "pdf")


def test_single_account_actor_renders_without_links(ws):
    lone = ws.store.con.execute(
        "SELECT actor_id FROM actor_accounts GROUP BY 1 HAVING count(*) = 1 ORDER BY 1 LIMIT 1"
    ).fetchone()[0]
    p = actor_package(ws, lone)
    assert p["links"] == []
    assert len(p["accounts"]) == 1
    assert "No links (a single account)." in render(p, "md")
    assert "No links (a single account)." in render(p, "html")
