"""[H] Resolution speed: 100,000 vendor accounts over 10 markets, load -> blocking ->
features -> scoring -> actors stage by stage, then ``spector resolve`` end to end
(evidence and storing included), against all pairs and two peers.

The generator (``make_accounts``) draws actors with 1-4 accounts on distinct markets
(weights 45/30/15/10 %), handles varied as the training range varies them (same, case,
digits, l33t, suffix, unrelated: ``spector.sim._vocab``), PGP keys shared (60 %), rotated
per account (25 %) or absent, a telegram contact on 30 %, a per-actor profile text with an
occasional edit, 2-5 listings with category, price and ships-from, activity periods (a
fifth of second accounts start after the first went quiet: the migration after a
takedown); plus 10,000 accounts named "admin" on one market and that market's escrow
address shown on every one of its vendor pages. They are written into a fresh workspace's
``vendor_accounts`` and ``listings`` tables, then timed in a child process (its peak RSS
is the pipeline's, not the generator's):

- ``load_accounts`` -> ``candidates`` -> ``model_features`` (``pair_features`` and the
  model's derived ones) -> ``Model.score`` -> ``cluster_actors``: wall and CPU seconds of
  each stage (CPU of all the process's threads), peak RSS; candidate pairs against all
  pairs; recall of the true pairs (same actor);
- peer 1: rapidfuzz ``process.cdist`` (Jaro-Winkler, all pairs, 2 workers) over the
  normalised handles of a 5,000-account sample, pairs >= 0.9: its time and recall on the
  sample's true pairs against ours (blocking on the same sample);
- peer 2: datasketch's own ``MinHash`` objects (``MinHash.bulk``) against
  ``minhash_signatures`` on 20,000 handle shingle sets (equal values checked).

Goal: load -> actors of 100,000 accounts in <= 60 s wall on 2 cores. The machine is
shared: the load average is printed, and CPU seconds are the figure to compare runs by.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

N_VENDORS = 90_000
N_ADMIN = 10_000
N_MARKETS = 10
SAMPLE = 5_000
MINHASH_SAMPLE = 20_000
SEED = 2024
_TITLE_TAILS = ["premium", "lab tested", "bulk", "fast ship"]


def make_accounts(
    seed: int = SEED, vendors: int = N_VENDORS, admins: int = N_ADMIN
) -> dict[str, Any]:
    """Rows for vendor_accounts and listings, and the truth actor of each account id."""
    from spector.model import Listing, VendorAccount
    from spector.sim import _vocab as V

    rng = random.Random(seed)
    markets = [f"market-bench-{k}" for k in range(N_MARKETS)]
    taken: dict[str, set[str]] = {m: set() for m in markets}
    names: set[str] = set()
    accounts: list[dict[str, Any]] = []
    listings: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    escrow = "bc1qescrowbenchmarketescrowaddress0000000"
    plan = V.CATEGORY_PLAN
    actor = 0
    while len(accounts) < vendors:
        actor += 1
        name = V.invent_handle(rng, names)
        n = rng.choices([1, 2, 3, 4], [0.45, 0.3, 0.15, 0.1])[0]
        policy = rng.choices(["shared", "rotate", "none"], [0.6, 0.25, 0.15])[0]
        phrases = rng.sample(V.PHRASES, 2)
        ships = rng.choice(["NL", "DE", "GB", "US", "FR", "ES", "PL", "CA", "AU", "RU"])
        term, emoji, bang = (
            rng.choice(V.SHIPPING_TERMS),
            rng.choice(V.EMOJI),
            rng.choice(["!!", "."]),
        )
        cats = rng.sample(plan, rng.randint(1, 2))
        start = rng.randint(0, 300)
        for k, market in enumerate(rng.sample(markets, n)):
            if k == 0 and name.casefold() not in taken[market]:
                handle = name
                taken[market].add(name.casefold())
            else:
                handle, _ = V.handle_variant(rng, name, taken[market])
            text = (
                f"Welcome to {name}{bang} {phrases[0].capitalize()}{bang} Shipping from {ships}: "
                f"{term}{bang} {phrases[1].capitalize()}{bang} {emoji}"
            ).strip()
            if rng.random() < 0.2:
                text = text.replace(
                    "Welcome to", rng.choice(["Hello from", "This is", "Welcome to"])
                )
            key = {"shared": f"{actor:08X}" * 5, "rotate": f"{actor:08X}{k:032X}"}.get(policy)
            aid = VendorAccount(market_id=market, handle=handle).id
            truth[aid] = f"actor-{actor}"
            first = start + (
                rng.randint(60, 200) if k and rng.random() < 0.2 else rng.randint(0, 30)
            )
            contacts = (
                [f"telegram:{name.lower()}_{rng.randint(10, 99)}"] if rng.random() < 0.3 else []
            )
            if market == markets[0]:
                contacts.append(f"btc_address:{escrow}")
            accounts.append(_account(aid, market, handle, text, key, contacts, ships, first))
            for ref in range(rng.randint(2, 5)):
                code, noun, units, (low, high) = rng.choice(cats)
                unit, sizes = units[0]
                size = rng.choice(sizes)
                listings.append(
                    {
                        "id": Listing(market_id=market, listing_ref=f"{aid}-{ref}").id,
                        "market_id": market,
                        "listing_ref": f"{aid}-{ref}",
                        "vendor_id": aid,
                        "title": f"{noun} {size}{unit}, {rng.choice(_TITLE_TAILS)}",
                        "category": code,
                        "price_usd": round(rng.uniform(low, high) * float(size), 2),
                        "ships_from": ships,
                        "day": first + rng.randint(0, 40),
                    }
                )
    for k in range(admins):
        market = markets[1]
        aid = VendorAccount(market_id=market, handle=f"admin#{k}").id
        truth[aid] = f"admin-{k}"
        accounts.append(_account(aid, market, "admin", "", None, [], None, rng.randint(0, 300)))
    return {"accounts": accounts, "listings": listings, "truth": truth}


def _account(
    aid: str,
    market: str,
    handle: str,
    text: str,
    key: str | None,
    contacts: list[str],
    ships: str | None,
    first: int,
) -> dict[str, Any]:
    return {
        "id": aid,
        "market_id": market,
        "handle": handle,
        "profile_text": text,
        "pgp_fingerprints": [key] if key else [],
        "contacts": contacts,
        "ships_from": ships,
        "day": first,
    }


def _write(root: Path, data: dict[str, Any]) -> None:
    import pyarrow as pa

    from spector.store import Workspace

    with Workspace.init(root) as ws:
        con = ws.store.con
        markets = sorted({a["market_id"] for a in data["accounts"]})
        con.executemany(
            "INSERT INTO markets (id, name, source, first_seen, last_seen) "
            "VALUES (?, ?, 'bench', now(), now())",
            [[m, m.replace("market-bench-", "Bench Market ")] for m in markets],
        )
        acc = pa.Table.from_pylist(data["accounts"])
        con.register("_acc", acc)
        con.execute(
            "INSERT INTO vendor_accounts (id, market_id, handle, profile_text, pgp_fingerprints, "
            "contacts, ships_from, source, first_seen, last_seen) SELECT id, market_id, handle, "
            "profile_text, pgp_fingerprints, contacts, ships_from, 'bench', "
            "TIMESTAMP '2022-01-01' + to_days(day::INTEGER), "
            "TIMESTAMP '2022-01-01' + to_days(day::INTEGER + 60) FROM _acc"
        )
        lst = pa.Table.from_pylist(data["listings"])
        con.register("_lst", lst)
        con.execute(
            "INSERT INTO listings (id, market_id, listing_ref, vendor_id, title, category, "
            "price_usd, ships_from, source, first_seen, last_seen) SELECT id, market_id, "
            "listing_ref, vendor_id, title, category, price_usd, ships_from, 'bench', "
            "TIMESTAMP '2022-01-01' + to_days(day::INTEGER), "
            "TIMESTAMP '2022-01-01' + to_days(day::INTEGER + 30) FROM _lst"
        )


def _pipeline(root: str, queue: Any) -> None:
    """In a child process: the timed pipeline; puts its figures (or its error) on ``queue``."""
    try:
        queue.put(_timed(root))
    except BaseException as exc:
        queue.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def _timed(root: str) -> dict[str, Any]:
    """The stages of ``spector resolve`` short of storing: wall and CPU seconds of each
    (CPU: this process, all its threads), as (wall, cpu)."""
    from spector.resolve import candidates, load_accounts, pair_features
    from spector.store import Workspace

    figures: dict[str, Any] = {}

    def clock(step: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        figures[step] = (time.perf_counter() - wall, time.process_time() - cpu)
        return out

    wall, cpu = time.perf_counter(), time.process_time()
    with Workspace.open(Path(root)) as ws:
        accounts = clock("load", load_accounts, ws)
    cands = clock("blocking", candidates, accounts)
    try:  # the model, its derived features and the actors are another part's
        from spector.resolve._actors import cluster_actors
        from spector.resolve._model import load_model, model_features

        model = load_model()
        features = clock("features", model_features, accounts, cands.pairs)
        scores = clock("scoring", model.score, features)
        clustering = clock(
            "actors",
            cluster_actors,
            len(accounts),
            cands.pairs,
            scores,
            model.threshold,
            pgp=accounts.pgp,
            ships_from=accounts.ships_from,
            market_id=accounts.market_id,
        )
        figures["links"] = len(clustering.joined)
    except Exception as exc:
        figures["scoring_error"] = f"{type(exc).__name__}: {exc}"
        if "features" not in figures:
            clock("features", pair_features, accounts, cands.pairs)
    figures["total"] = (time.perf_counter() - wall, time.process_time() - cpu)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if "scoring_error" not in figures:  # the whole command: evidence and storing included
        from spector.resolve import resolve

        with Workspace.open(Path(root), write=True) as ws:
            clock("resolve", resolve, ws)
    figures["accounts"] = len(accounts)
    figures["pairs"] = len(cands)
    figures["all_pairs"] = cands.all_pairs
    figures["skipped"] = cands.skipped_blocks[:5]
    figures["n_skipped"] = len(cands.skipped_blocks)
    figures["pair_ids"] = [
        (accounts.account_id[i], accounts.account_id[j]) for i, j in cands.pairs.tolist()
    ]
    return figures


def _true_pairs(ids: list[str], truth: dict[str, str]) -> set[tuple[str, str]]:
    by: dict[str, list[str]] = {}
    for a in ids:
        by.setdefault(truth[a], []).append(a)
    return {
        (x, y) if x < y else (y, x)
        for g in by.values()
        for k, x in enumerate(g)
        for y in g[k + 1 :]
    }


def _peers(data: dict[str, Any]) -> list[str]:
    from datasketch import MinHash
    from rapidfuzz import process
    from rapidfuzz.distance import JaroWinkler

    from spector.resolve import AccountRow, build_accounts, candidates
    from spector.resolve._blocking import minhash_signatures, shingles

    lines = []
    rng = random.Random(1)
    # a sample holding whole actors, so that it has true pairs
    by_actor: dict[str, list[dict[str, Any]]] = {}
    for a in data["accounts"]:
        by_actor.setdefault(data["truth"][a["id"]], []).append(a)
    actors = sorted(by_actor)
    rng.shuffle(actors)
    sample: list[dict[str, Any]] = []
    for actor in actors:
        if len(sample) >= SAMPLE:
            break
        sample += by_actor[actor]
    rows = [
        AccountRow(
            account_id=a["id"],
            kind="vendor",
            market_id=a["market_id"],
            handle=a["handle"],
            profile_text=a["profile_text"],
            pgp=set(a["pgp_fingerprints"]),
            selectors=set(a["contacts"]),
        )
        for a in sample
    ]
    acc = build_accounts(rows)
    true = _true_pairs(acc.account_id, data["truth"])
    start = time.perf_counter()
    ours = candidates(acc)
    t_ours = time.perf_counter() - start
    got = {tuple(sorted((acc.account_id[i], acc.account_id[j]))) for i, j in ours.pairs.tolist()}
    start = time.perf_counter()
    scores = process.cdist(
        acc.handle_norm,
        acc.handle_norm,
        scorer=JaroWinkler.normalized_similarity,
        dtype=np.float32,
        workers=2,
    )
    i, j = np.nonzero(np.triu(scores >= 0.9, 1))
    t_peer = time.perf_counter() - start
    peer = {
        tuple(sorted((acc.account_id[x], acc.account_id[y])))
        for x, y in zip(i.tolist(), j.tolist(), strict=True)
    }
    lines.append(
        f"sample {len(acc):,} accounts, {len(true):,} true pairs: ours {len(ours):,} pairs, "
        f"recall {len(true & got) / max(1, len(true)):.3f}, {t_ours:.2f} s; peer rapidfuzz cdist "
        f"JW>=0.9 over all {len(acc) * (len(acc) - 1) // 2:,} pairs: {len(peer):,} pairs, recall "
        f"{len(true & peer) / max(1, len(true)):.3f}, {t_peer:.2f} s; time ratio peer/ours "
        f"{t_peer / max(t_ours, 1e-9):.1f}x"
    )
    handles = [a["handle"] for a in data["accounts"][:MINHASH_SAMPLE]]
    from spector.resolve import normalise_handle

    sets = [shingles(normalise_handle(h), 3, pad=True) for h in handles]
    start = time.perf_counter()
    sig = minhash_signatures(sets)
    t_vec = time.perf_counter() - start
    start = time.perf_counter()
    objs = MinHash.bulk([[s.encode() for s in x] for x in sets], num_perm=64, seed=1)
    t_loop = time.perf_counter() - start
    equal = all(np.array_equal(m.hashvalues, sig[k]) for k, m in enumerate(objs) if sets[k])
    lines.append(
        f"MinHash of {len(sets):,} handle shingle sets: vectorised {t_vec:.2f} s, datasketch "
        f"MinHash.bulk {t_loop:.2f} s, ratio {t_loop / max(t_vec, 1e-9):.1f}x, "
        f"values equal: {equal}"
    )
    return lines


def run() -> list[str]:
    start = time.perf_counter()
    data = make_accounts()
    lines = [
        f"generated {len(data['accounts']):,} accounts ({N_ADMIN:,} 'admin'), "
        f"{len(data['listings']):,} listings in {time.perf_counter() - start:.1f} s"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        _write(root, data)
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        child = ctx.Process(target=_pipeline, args=(str(root), queue))
        child.start()
        figures = queue.get(timeout=1800)
        child.join()
    if "error" in figures:
        return [*lines, f"pipeline failed: {figures['error']}"]
    lines.append(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
    )
    for step in ("load", "blocking", "features", "scoring", "actors", "total"):
        if step in figures:
            wall, cpu = figures[step]
            lines.append(f"{step:9s} {wall:6.2f} s wall, {cpu:6.2f} s CPU")
    if "scoring_error" in figures:
        lines.append(f"scoring   not run: {figures['scoring_error']}")
    wall, cpu = figures["total"]
    lines.append(
        f"load -> actors {wall:.2f} s wall ({cpu:.2f} s CPU) for {figures['accounts']:,} "
        f"accounts (goal <= 60 s wall on 2 cores); {figures.get('links', 0):,} links"
    )
    if "resolve" in figures:
        wall, cpu = figures["resolve"]
        lines.append(
            f"spector resolve end to end (load, blocking, features, scoring, actors, "
            f"evidence, store) {wall:.2f} s wall ({cpu:.2f} s CPU; goal <= 60 s wall)"
        )
    lines.append(f"peak RSS of the pipeline stages {figures['peak_rss_mb']:.0f} MB")
    ids = [a["id"] for a in data["accounts"]]
    true = _true_pairs(ids, data["truth"])
    got = {tuple(sorted(p)) for p in figures["pair_ids"]}
    lines.append(
        f"candidate pairs {figures['pairs']:,} of {figures['all_pairs']:,} "
        f"({figures['pairs'] / figures['all_pairs']:.2e} of all pairs); recall of the "
        f"{len(true):,} true pairs {len(true & got) / max(1, len(true)):.4f}"
    )
    lines.append(f"skipped blocks {figures['n_skipped']}, e.g. {figures['skipped']}")
    return lines + _peers(data)


if __name__ == "__main__":
    for line in run():
        print(line)
