"""``linking.*``: the workspace's actors against the range's truth, pairwise.

On hand-made workspaces over the tiny range (every account of the truth stored exactly,
``score_store.perfect_store``): actors as the truth has them score 1.0; one account put
with an actor of k other accounts adds k false pairs and precision falls to T / (T + k);
an impostor put with the vendor it copies is counted as merged; no actors, no figures.
Then on the tiny range walked and extracted as a crawl does, resolved by `spector
resolve`'s code at its default threshold: the issue's floor, F1 >= 0.95.
"""

from __future__ import annotations

import shutil
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.sim.score_store import extract_in_process, perfect_store

from spector.model import VendorAccount
from spector.sim._score_link import linking_score
from spector.store import Workspace


def _truth_actor(out):
    """(range market name, handle folded) -> truth actor, read straight from the world."""
    world = out / "world"
    names = {
        m["market_id"]: m["name"] for m in pq.read_table(world / "markets.parquet").to_pylist()
    }
    actor = {}
    for a in pq.read_table(world / "accounts.parquet").to_pylist():
        actor[("vendor", names[a["market_id"]], a["handle"].casefold())] = a["actor_id"]
    for m in pq.read_table(world / "forum_members.parquet").to_pylist():
        actor[("member", names[m["market_id"]], m["name"].casefold())] = (
            m["actor_id"] or m["member_id"]
        )
    return actor


def _accounts(ws):
    """The workspace's accounts: (account id, kind, market id, market name, handle)."""
    return ws.store.con.execute(
        "SELECT v.id, 'vendor', v.market_id, m.name, v.handle FROM vendor_accounts v "
        "JOIN markets m ON m.id = v.market_id "
        "UNION SELECT DISTINCT p.author_id, 'member', p.market_id, m.name, p.author FROM posts p "
        "JOIN markets m ON m.id = p.market_id ORDER BY 1"
    ).fetchall()


def _write_actors(ws, actor_of):
    """actor_accounts with each account in actor ``actor_of[account id]``."""
    con = ws.store.con
    con.execute("DELETE FROM actor_accounts")
    rows = [(actor_of[a], a, kind, mid, handle) for a, kind, mid, _, handle in _accounts(ws)]
    con.executemany("INSERT INTO actor_accounts VALUES (?, ?, ?, ?, ?)", rows)


def _pairs(groups):
    return sum(n * (n - 1) // 2 for n in Counter(groups).values())


@pytest.fixture(scope="module")
def made(tiny_range, tmp_path_factory):
    """The tiny range with one impostor added to its truth (a copy of a vendor that has
    accounts on two markets, on a third market, with its own actor), and a workspace
    holding every account of it."""
    src, truth = tiny_range
    base = tmp_path_factory.mktemp("link")
    out = base / "range"
    shutil.copytree(src, out)
    path = out / "world" / "accounts.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    if "impostor_of" not in table.column_names:
        for r in rows:
            r["impostor_of"] = None
    selling = [m for m in truth["markets"] if m["family"] in ("escrow", "walletless", "hydra")]
    per_actor = Counter(r["actor_id"] for r in rows if not r["impostor_of"])
    victim = next(r for r in rows if per_actor[r["actor_id"]] == 2 and not r["impostor_of"])
    taken = {r["market_id"] for r in rows if r["actor_id"] == victim["actor_id"]}
    market = next(m for m in selling if m["market_id"] not in taken)
    handle = victim["handle"] + "_"
    impostor = {
        **victim,
        "account_id": VendorAccount(market_id=market["market_id"], handle=handle).id,
        "market_id": market["market_id"],
        "actor_id": "impostor-test",
        "handle": handle,
        "variant": "impostor",
        "pgp_secret": "impostor|key",
        "pgp_fingerprint": None,
        "impostor_of": victim["actor_id"],
    }
    rows.append(impostor)
    pq.write_table(pa.Table.from_pylist(rows), path)
    with Workspace.init(base / "ws") as ws:
        perfect_store(out, ws, truth)
    return out, base / "ws", victim, impostor


def test_actors_as_the_truth_has_them_score_one(made):
    out, root, _, _ = made
    truth_actor = _truth_actor(out)
    with Workspace.open(root, write=True) as ws:
        accounts = _accounts(ws)
        actor_of = {a: truth_actor[(k, name, h.casefold())] for a, k, _, name, h in accounts}
        _write_actors(ws, actor_of)
        result = linking_score(out, ws)
    expected_pairs = _pairs(actor_of.values())
    assert expected_pairs > 5
    assert (result["precision"], result["recall"], result["f1"]) == (1.0, 1.0, 1.0)
    assert result["pairs"]["predicted"] == result["pairs"]["truth"] == expected_pairs
    assert result["accounts"]["matched"] == len(accounts)
    assert result["accounts"]["unmatched"] == 0
    assert result["impostors_merged"] == 0
    assert result["impostors_in_workspace"] >= 1
    assert result["impostors"] == result["impostors_in_workspace"]
    assert f"{len(accounts):,} workspace accounts matched" in result["scope"]


def test_one_wrong_merge_lowers_precision_by_its_pairs(made):
    out, root, _, _ = made
    truth_actor = _truth_actor(out)
    with Workspace.open(root, write=True) as ws:
        accounts = _accounts(ws)
        actor_of = {a: truth_actor[(k, name, h.casefold())] for a, k, _, name, h in accounts}
        sizes = Counter(actor_of.values())
        lone = next(a for a in sorted(actor_of) if sizes[actor_of[a]] == 1)
        big = max(sorted(sizes), key=lambda x: sizes[x])  # an actor of k accounts
        k = sizes[big]
        true_pairs = _pairs(actor_of.values())
        actor_of[lone] = big
        _write_actors(ws, actor_of)
        result = linking_score(out, ws)
    assert k >= 2
    assert result["pairs"]["false"] == k
    assert result["precision"] == round(true_pairs / (true_pairs + k), 6)
    assert result["recall"] == 1.0
    p = true_pairs / (true_pairs + k)
    assert result["f1"] == round(2 * p / (p + 1), 6)


def test_a_split_actor_lowers_recall(made):
    out, root, _, _ = made
    truth_actor = _truth_actor(out)
    with Workspace.open(root, write=True) as ws:
        accounts = _accounts(ws)
        actor_of = {a: truth_actor[(k, name, h.casefold())] for a, k, _, name, h in accounts}
        sizes = Counter(actor_of.values())
        big = max(sorted(sizes), key=lambda x: sizes[x])
        true_pairs = _pairs(actor_of.values())
        one = next(a for a in sorted(actor_of) if actor_of[a] == big)
        actor_of[one] = "alone"  # k - 1 true pairs lost, no false one
        _write_actors(ws, actor_of)
        result = linking_score(out, ws)
    lost = sizes[big] - 1
    assert result["precision"] == 1.0
    assert result["pairs"]["missed"] == lost
    assert result["recall"] == round((true_pairs - lost) / true_pairs, 6)


def test_an_impostor_merged_with_the_vendor_it_copies_is_counted(made):
    out, root, victim, impostor = made
    truth_actor = _truth_actor(out)
    with Workspace.open(root, write=True) as ws:
        accounts = _accounts(ws)
        actor_of = {a: truth_actor[(k, name, h.casefold())] for a, k, _, name, h in accounts}
        sizes = Counter(actor_of.values())
        true_pairs = _pairs(actor_of.values())
        (copy,) = [a for a, _, _, _, h in accounts if h == impostor["handle"]]
        actor_of[copy] = victim["actor_id"]
        _write_actors(ws, actor_of)
        result = linking_score(out, ws)
    k = sizes[victim["actor_id"]]
    assert result["impostors_merged"] == 1
    assert result["pairs"]["false"] == k
    assert result["precision"] == round(true_pairs / (true_pairs + k), 6)
    assert "1 merged with the vendor they copy" in result["scope"]


def test_no_actors_no_figures(made):
    out, root, _, _ = made
    with Workspace.open(root, write=True) as ws:
        ws.store.con.execute("DELETE FROM actor_accounts")
        result = linking_score(out, ws)
    assert (result["precision"], result["recall"], result["f1"]) == (None, None, None)
    assert result["impostors_merged"] is None
    assert "run `spector resolve`" in result["scope"]


def test_accounts_of_markets_not_in_the_range_are_counted_not_scored(made, tmp_path):
    out, root, _, _ = made
    truth_actor = _truth_actor(out)
    shutil.copytree(root, tmp_path / "ws")
    with Workspace.open(tmp_path / "ws", write=True) as ws:
        from spector.model import Market

        other = Market(name="Elsewhere", onions=("a" * 56 + ".onion",), ref="onion:elsewhere")
        ws.store.upsert(
            [other, VendorAccount(market_id=other.id, handle="stranger")],
            source="test",
        )
        accounts = _accounts(ws)
        actor_of = {
            a: truth_actor.get((k, name, h.casefold()), "x") for a, k, _, name, h in accounts
        }
        _write_actors(ws, actor_of)
        result = linking_score(out, ws)
    assert result["accounts"]["unmatched"] == 1
    assert result["accounts"]["matched"] == len(accounts) - 1
    assert result["precision"] == 1.0


@pytest.fixture(scope="module")
def resolved(tiny_range, tmp_path_factory):
    """The tiny range walked and extracted as a crawl does on its last day, resolved."""
    from spector.resolve import resolve

    out, _ = tiny_range
    root = tmp_path_factory.mktemp("linked") / "ws"
    with Workspace.init(root) as ws:
        extract_in_process(out, ws)
        resolve(ws)
        result = linking_score(out, ws)
    return result


def test_the_tiny_range_resolved_reaches_the_floor(resolved):
    result = resolved
    assert result["accounts"]["unmatched"] == 0
    assert result["pairs"]["truth"] > 5
    assert result["f1"] >= 0.95, result
    assert result["impostors_merged"] == 0, result


def test_the_score_report_says_the_linking_figures(made):
    from spector.sim._score_report import linking_lines

    out, root, victim, impostor = made
    truth_actor = _truth_actor(out)
    with Workspace.open(root, write=True) as ws:
        accounts = _accounts(ws)
        actor_of = {a: truth_actor[(k, name, h.casefold())] for a, k, _, name, h in accounts}
        (copy,) = [a for a, _, _, _, h in accounts if h == impostor["handle"]]
        actor_of[copy] = victim["actor_id"]
        _write_actors(ws, actor_of)
        result = linking_score(out, ws)
        ws.store.con.execute("DELETE FROM actor_accounts")
        missing = linking_score(out, ws)
    p = result["pairs"]
    (line,) = linking_lines(result)
    assert line.startswith(
        f"linking: precision {result['precision']:.3f} ({p['true']:,}/{p['predicted']:,} pairs), "
        f"recall 1.000 ({p['true']:,}/{p['truth']:,}), f1 {result['f1']:.3f}; "
        "impostors merged 1 of "
    )
    assert linking_lines(missing) == [f"linking: not scored — {missing['scope']}"]
