"""`spector sim score`: what a workspace found, compared with the range's truth.

The scorer reads only the workspace's published tables and the range's truth files.
Each stage adds its metrics here under its own key (see the issue's contract):
``extraction.recall``, ``linking.*``, ``clustering.*``, ``revenue.*``, ``tracing.*``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from spector.sim._range import read_truth
from spector.store import Workspace

__all__ = ["score"]


def score(out: Path, ws: Workspace) -> dict[str, Any]:
    truth = read_truth(out)
    day = int(truth["day"])
    result: dict[str, Any] = {
        "range": {
            "seed": truth["seed"],
            "scale": truth["scale"],
            "day": day,
            "counts": truth["counts"],
        }
    }
    result["extraction"] = _extraction(out, ws, truth, day)
    result["chain"] = _chain(out, ws)
    return result


def _chain(out: Path, ws: Workspace) -> dict[str, Any]:
    """Ingestion: the range's transactions found at their heights with their fees, every
    input resolved, every hop of every sale's payment path found as an output."""
    folder = out / "chain"
    if not (folder / "transactions.parquet").is_file():
        return {"recall": None}
    from spector.chain._query import ensure_views

    ensure_views(ws)
    con = ws.store.con
    truth = pq.read_table(folder / "transactions.parquet").to_pylist()
    got = {
        r[0]: (int(r[1]), r[2]) for r in con.execute("SELECT txid, height, fee FROM txs").fetchall()
    }
    if not got:
        return {"recall": None}
    found = [t for t in truth if got.get(t["txid"], (None,))[0] == t["block_height"]]
    paid = [t for t in found if t["kind"] != "coinbase"]
    fees_exact = sum(1 for t in paid if got[t["txid"]][1] == t["fee_sat"])
    inputs = con.execute(
        "SELECT count(*), count(value) FROM inputs WHERE NOT coinbase"
    ).fetchone() or (0, 0)
    hops = {
        (p["txid"], p["address"]) for p in pq.read_table(folder / "sale_paths.parquet").to_pylist()
    }
    seen = set(
        con.execute(
            "SELECT DISTINCT txid, address FROM outputs WHERE (txid, address) IN "
            "(SELECT unnest(?), unnest(?))",
            [[h[0] for h in hops], [h[1] for h in hops]],
        ).fetchall()
    ) if hops else set()  # fmt: skip
    return {
        "recall": round(len(found) / len(truth), 6) if truth else None,
        "transactions": len(truth),
        "fee_exact": round(fees_exact / len(paid), 6) if paid else None,
        "inputs_resolved": round(inputs[1] / inputs[0], 6) if inputs[0] else None,
        "sale_hops_found": round(len(seen) / len(hops), 6) if hops else None,
    }


def _extraction(out: Path, ws: Workspace, truth: dict[str, Any], day: int) -> dict[str, Any]:
    """Recall of the listings, vendor accounts, feedback and forum posts a crawl can see on
    the range's last day (live listings, their vendors, those vendors' feedback, every post
    made by then), matched on the market's onion hosts and the market's own ids (listing
    ref, handle, feedback id, thread and post id). A post counts only when its text, its
    author and its thread (id, title, board) are exact too."""
    world = out / "world"
    market_of_onion = {o: m["market_id"] for m in truth["markets"] for o in m["onions"]}
    closed = {
        m["market_id"]
        for m in truth["markets"]
        if m["close_day"] is not None and day >= m["close_day"]
    }
    # Workspace market id -> range market id, matched on onion hosts.
    ws_market = {}
    for mid, onions in ws.store.con.execute("SELECT id, onions FROM markets").fetchall():
        for onion in onions or []:
            if onion in market_of_onion:
                ws_market[mid] = market_of_onion[onion]
    listings = pq.read_table(
        world / "listings.parquet",
        columns=["market_id", "account_id", "ref", "start_day", "end_day"],
    ).to_pylist()
    want_listings = {
        (x["market_id"], x["ref"])
        for x in listings
        if x["start_day"] <= day < x["end_day"] and x["market_id"] not in closed
    }
    got_listings = {
        (ws_market[m], ref)
        for m, ref in ws.store.con.execute("SELECT market_id, listing_ref FROM listings").fetchall()
        if m in ws_market
    }
    accounts = pq.read_table(
        world / "accounts.parquet", columns=["market_id", "account_id", "handle"]
    ).to_pylist()
    selling = {
        (x["market_id"], x["account_id"])
        for x in listings
        if x["start_day"] <= day < x["end_day"] and x["market_id"] not in closed
    }
    handle = {a["account_id"]: a["handle"].casefold() for a in accounts}
    want_accounts = {(m, handle[a]) for m, a in selling}
    got_accounts = {
        (ws_market[m], h.casefold())
        for m, h in ws.store.con.execute("SELECT market_id, handle FROM vendor_accounts").fetchall()
        if m in ws_market
    }
    # Feedback is shown on its vendor's feedback pages, which exist while the vendor has a
    # live listing: that is what a crawl on the last day can see.
    fb = pq.read_table(
        world / "feedback.parquet", columns=["market_id", "account_id", "feedback_id", "day"]
    ).to_pylist()
    want_fb = {
        (f["market_id"], f["feedback_id"])
        for f in fb
        if f["day"] <= day and (f["market_id"], f["account_id"]) in selling
    }
    got_fb = {
        (ws_market[m], ref)
        for m, ref in ws.store.con.execute(
            "SELECT market_id, feedback_ref FROM feedback"
        ).fetchall()
        if m in ws_market
    }
    want_posts = _forum_posts(world, day, closed)
    got_posts = {
        (ws_market[m], *rest)
        for m, *rest in ws.store.con.execute(
            "SELECT market_id, thread_ref, post_ref, thread_title, board, author, text FROM posts"
        ).fetchall()
        if m in ws_market
    }

    def recall(want: set[Any], got: set[Any]) -> float | None:
        return round(len(want & got) / len(want), 6) if want else None

    parts = {
        "listings": (want_listings, got_listings),
        "vendor_accounts": (want_accounts, got_accounts),
        "feedback": (want_fb, got_fb),
        "posts": (want_posts, got_posts),
    }
    total_want = sum(len(w) for w, _ in parts.values())
    total_hit = sum(len(w & g) for w, g in parts.values())
    return {
        "recall": round(total_hit / total_want, 6) if total_want else None,
        **{f"{k}_recall": recall(w, g) for k, (w, g) in parts.items()},
        **{f"{k}_truth": len(w) for k, (w, _) in parts.items()},
    }


def _forum_posts(world: Path, day: int, closed: set[str]) -> set[tuple[Any, ...]]:
    """(market, thread id, post id, thread title, board, author, text) of every post a
    forum shows on ``day``."""
    threads = {
        t["thread_id"]: t
        for t in pq.read_table(world / "forum_threads.parquet").to_pylist()
        if t["day"] <= day and t["market_id"] not in closed
    }
    names = {
        m["member_id"]: m["name"]
        for m in pq.read_table(
            world / "forum_members.parquet", columns=["member_id", "name"]
        ).to_pylist()
    }
    posts = pq.read_table(
        world / "forum_posts.parquet", columns=["post_id", "thread_id", "member_id", "day", "text"]
    ).to_pylist()
    return {
        (
            t["market_id"],
            t["thread_id"],
            p["post_id"],
            t["title"],
            t["board"],
            names[p["member_id"]],
            p["text"],
        )
        for p in posts
        if p["day"] <= day and (t := threads.get(p["thread_id"]))
    }
