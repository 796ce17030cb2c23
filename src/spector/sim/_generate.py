"""`spector sim generate`: write a world, its chain, its seized-server export and its truth.

Layout of OUT/::

    truth.json              counts, markets (onion hosts, crawlable pages), CAPTCHA answers
    world/*.parquet         actors, markets, accounts, listings, sales, feedback, forum, rates;
                            accounts.impostor_of (the actor an impostor copies, else null),
                            listings.holding / holding_day (a placeholder price shown from
                            that day) and shown_price / shown_price_usd (what the pages
                            show on the range's last day; price / price_usd stay the real
                            price its sales were made at)
    chain/blocks/blk*.dat   the payment trail in Bitcoin block format (+ chain truth tables:
                            addresses, sale_paths, transactions .parquet)
    chain/tags/*.yaml       public attribution data: GraphSense TagPacks of a few addresses
                            of the exchanges, the mixer and the markets (not the truth)
    seized/<market>/*.csv   one market's database as investigators get it after a seizure
    profiles/<market>.toml  a ready site profile for the crawler, with the login

Everything is a function of (seed, scale): two runs give byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import fields
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

from spector.errors import UsageError
from spector.sim._captcha import captcha_deck
from spector.sim._pgp import PgpKey, make_public_key
from spector.sim._sites import build_sites
from spector.sim._sites._base import moment as _moment
from spector.sim._world import EPOCH, SCALES, SimAccount, World, generate_world

__all__ = ["armored", "generate", "pgp_for", "slug", "world_digest"]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def pgp_for(world: World) -> Callable[[SimAccount], PgpKey | None]:
    """A function account -> its PGP key (or None), cached per key secret.

    A shared key is the same certificate on every market (same secret, same User ID:
    the actor's name); a rotating actor has one key per account.
    """
    names = {a.actor_id: a.name for a in world.actors}

    @cache
    def key(secret: str, user_id: str) -> PgpKey:
        return make_public_key(secret.encode(), user_id, EPOCH.replace(year=2022))

    def for_account(account: SimAccount) -> PgpKey | None:
        if account.pgp_secret is None:
            return None
        return key(account.pgp_secret, names.get(account.actor_id, account.handle))

    return for_account


def armored(pgp: Callable[[SimAccount], PgpKey | None]) -> Callable[[SimAccount], str | None]:
    def text(account: SimAccount) -> str | None:
        key = pgp(account)
        return key.armored if key else None

    return text


def world_digest(world: World) -> str:
    digest = hashlib.sha256()
    for rows in (world.accounts, world.listings, world.sales, world.feedback, world.posts):
        for row in rows:
            digest.update(json.dumps(_plain(row), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def generate(seed: int, scale: str, out: Path, *, chain: bool = True) -> dict[str, Any]:
    """Write the range for ``seed`` and ``scale`` into ``out``; return the truth summary."""
    if scale not in SCALES:
        raise UsageError(f"unknown scale {scale!r}", expected=", ".join(SCALES))
    if out.exists() and any(out.iterdir()):
        raise UsageError("output folder is not empty", where=out, hint="choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    world = generate_world(seed, scale)
    pgp = pgp_for(world)
    _write_world(world, out / "world", pgp)
    chain_counts = _write_chain(world, out / "chain") if chain else {}
    seized = _write_seized(world, out / "seized", out / "chain", pgp) if chain else None
    sites = build_sites(world, armored(pgp))
    day = world.days - 1
    captchas: dict[str, str] = {}
    markets = []
    for m in world.markets:
        for card in captcha_deck(seed, m.market_id):
            captchas[card.sha256] = card.answer
        profile = _write_profile(out / "profiles", m)
        closed = m.close_day is not None and day >= m.close_day
        pages = (1 if m.fate == "seized" else 0) if closed else sites[m.market_id].page_count(day)
        markets.append(
            {
                "market_id": m.market_id,
                "name": m.name,
                "family": m.family,
                "onions": m.onions,
                "currency": m.currency,
                "fate": m.fate,
                "open_day": m.open_day,
                "close_day": m.close_day,
                "pages": pages,
                "profile": str(profile.relative_to(out)),
                "login": {"username": m.username, "password": m.password},
            }
        )
    truth = {
        "format": "spector-range",
        "seed": seed,
        "scale": scale,
        "days": world.days,
        "day": day,
        "epoch": EPOCH.isoformat(),
        "world_digest": world_digest(world),
        "counts": {
            "markets": len(world.markets),
            "actors": len(world.actors),
            "vendor_accounts": len(world.accounts),
            "listings": len(world.listings),
            "sales": len(world.sales),
            "feedback": len(world.feedback),
            "forum_members": len(world.members),
            "forum_posts": len(world.posts),
            "impostors": sum(1 for a in world.accounts if a.impostor_of),
            "holding_listings": sum(1 for x in world.listings if x.holding),
            **chain_counts,
        },
        "markets": markets,
        "seized_export": seized,
        "captchas": dict(sorted(captchas.items())),
    }
    (out / "truth.json").write_text(
        json.dumps(truth, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    return truth


def _plain(row: Any) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(row)}


def _table(rows: Sequence[Any]) -> pa.Table:
    if not rows:
        return pa.table({})
    columns: dict[str, list[Any]] = {f.name: [] for f in fields(rows[0])}
    for row in rows:
        for name in columns:
            value = getattr(row, name)
            if isinstance(value, dict):
                value = json.dumps(value, sort_keys=True, ensure_ascii=False)
            columns[name].append(value)
    arrays = {}
    for name, values in columns.items():
        if any(isinstance(v, Decimal) for v in values):
            arrays[name] = pa.array(values, type=pa.decimal128(24, 8))
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def _typed(table: pa.Table, name: str, kind: pa.DataType) -> pa.Table:
    """``table`` with column ``name`` of type ``kind`` (a column of nulls only would be
    written with the null type)."""
    index = table.column_names.index(name)
    return table.set_column(index, name, table.column(name).cast(kind))


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd", write_statistics=False)


def _write_world(world: World, folder: Path, pgp: Callable[[SimAccount], PgpKey | None]) -> None:
    folder.mkdir(parents=True)
    _write_parquet(_table(world.actors), folder / "actors.parquet")
    _write_parquet(_table(world.markets), folder / "markets.parquet")
    accounts = _table(world.accounts)
    keys = [pgp(a) for a in world.accounts]
    fingerprints = [k.fingerprint if k else None for k in keys]
    accounts = accounts.append_column("pgp_fingerprint", pa.array(fingerprints, type=pa.string()))
    accounts = _typed(accounts, "impostor_of", pa.string())
    _write_parquet(accounts, folder / "accounts.parquet")
    listings = _typed(
        _typed(_table(world.listings), "holding", pa.bool_()), "holding_day", pa.int64()
    )
    currency = {m.market_id: m.currency for m in world.markets}
    shown = [x.shown(world.days - 1, currency[x.market_id]) for x in world.listings]
    for i, name in enumerate(("shown_price", "shown_price_usd")):
        column = pa.array([s[i] for s in shown], type=pa.decimal128(24, 8))
        listings = listings.append_column(name, column)
    _write_parquet(listings, folder / "listings.parquet")
    _write_parquet(_table(world.sales), folder / "sales.parquet")
    _write_parquet(_table(world.feedback), folder / "feedback.parquet")
    _write_parquet(_table(world.members), folder / "forum_members.parquet")
    _write_parquet(_table(world.threads), folder / "forum_threads.parquet")
    _write_parquet(_table(world.posts), folder / "forum_posts.parquet")
    rates = pa.table(
        {
            "day": list(range(world.days)) * 2,
            "currency": ["BTC"] * world.days + ["RUB"] * world.days,
            "usd_per_unit": [*world.btc_usd, *([Decimal(1) / world.rub_usd] * world.days)],
        }
    )
    rates = rates.set_column(
        2,
        "usd_per_unit",
        pa.array(
            [v.quantize(Decimal("0.00000001")) for v in rates.column(2).to_pylist()],
            type=pa.decimal128(24, 8),
        ),
    )
    _write_parquet(rates, folder / "rates.parquet")


def _write_chain(world: World, folder: Path) -> dict[str, int]:
    from spector.sim.chain import (
        ChainActor,
        ChainInput,
        ChainMarket,
        ChainSale,
        ChainVendor,
        build_chain,
    )

    by_market = {m.market_id: m for m in world.markets}
    cashout = {a.actor_id: a.cashout for a in world.actors}
    sales = world.sales[: world.scale.chain_sales_cap]
    actor_ids = sorted({a.actor_id for a in world.accounts})
    inp = ChainInput(
        seed=world.seed,
        days=world.days,
        markets=tuple(
            ChainMarket(m.market_id, m.family == "walletless", m.close_day)
            for m in world.markets
            if m.family != "forum"
        ),
        vendors=tuple(
            ChainVendor(a.account_id, a.market_id, a.actor_id, a.btc_payto) for a in world.accounts
        ),
        actors=tuple(ChainActor(a, cashout.get(a, "direct")) for a in actor_ids),
        sales=tuple(
            ChainSale(s.sale_id, s.market_id, s.account_id, s.buyer_id, s.day, s.amount_sat)
            for s in sales
            if by_market[s.market_id].family != "forum"
        ),
    )
    truth = build_chain(inp, folder)
    return {
        "addresses": truth.addresses,
        "transactions": truth.transactions,
        "blocks": truth.blocks,
        "sales_on_chain": len(inp.sales),
    }


def _write_seized(
    world: World, folder: Path, chain: Path, pgp: Callable[[SimAccount], PgpKey | None]
) -> dict[str, Any] | None:
    """The first escrow market's database, as exported after a server seizure."""
    market = next((m for m in world.markets if m.family == "escrow"), None)
    if market is None:
        return None
    out = folder / slug(market.name)
    out.mkdir(parents=True)
    owners = pq.read_table(chain / "addresses.parquet").to_pylist()
    market_addresses = {
        o["address"]
        for o in owners
        if o["owner_kind"] == "market" and o["owner_id"] == market.market_id
    }
    hops = pq.read_table(chain / "sale_paths.parquet").to_pylist()
    payto: dict[str, str] = {}  # sale -> the first market address its money reached
    for hop in sorted(hops, key=lambda h: (h["sale_id"], h["hop"])):
        if hop["sale_id"] not in payto and hop["address"] in market_addresses:
            payto[hop["sale_id"]] = hop["address"]
    accounts = [a for a in world.accounts if a.market_id == market.market_id]
    user_ids = {a.account_id: f"u{1000 + i}" for i, a in enumerate(accounts)}
    sales = [s for s in world.sales if s.market_id == market.market_id]
    buyers = sorted({s.buyer_id for s in sales})
    user_ids.update({b: f"u{5000 + i}" for i, b in enumerate(buyers)})
    listings = [x for x in world.listings if x.market_id == market.market_id]
    refs = {x.listing_id: x.ref for x in listings}
    last = world.days - 1  # the export's day: a holding listing's price is its placeholder

    def write(name: str, header: list[str], rows: Sequence[Sequence[object]]) -> int:
        with (out / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        return len(rows)

    counts = {
        "users": write(
            "users.csv",
            ["user_id", "username", "role", "joined_at", "pgp_fingerprint"],
            [
                [
                    user_ids[a.account_id],
                    a.handle,
                    "vendor",
                    f"{_moment(a.joined_day):%Y-%m-%d}",
                    (k.fingerprint if (k := pgp(a)) else ""),
                ]
                for a in accounts
            ]
            + [[user_ids[b], f"buyer{user_ids[b][1:]}", "buyer", "", ""] for b in buyers],
        ),
        "listings": write(
            "listings.csv",
            ["listing_id", "vendor_user_id", "title", "category", "price_usd", "created_day"],
            [
                [
                    x.ref,
                    user_ids[x.account_id],
                    x.title,
                    x.category,
                    str(x.shown(last, market.currency)[1]),
                    x.start_day,
                ]
                for x in listings
            ],
        ),
        "orders": write(
            "orders.csv",
            [
                "order_id",
                "listing_id",
                "buyer_user_id",
                "vendor_user_id",
                "amount_usd",
                "amount_btc",
                "payto_address",
                "created_at",
                "status",
            ],
            [
                [
                    s.sale_id,
                    refs[s.listing_id],
                    user_ids[s.buyer_id],
                    user_ids[s.account_id],
                    str(s.amount_usd),
                    f"{Decimal(s.amount_sat) / 100_000_000:.8f}",
                    payto.get(s.sale_id, ""),
                    f"{_moment(s.day, 12 * 3600):%Y-%m-%d %H:%M:%S}",
                    "finalized",
                ]
                for s in sales
            ],
        ),
        "messages": write(
            "messages.csv",
            ["message_id", "sender_user_id", "recipient_user_id", "sent_day", "body"],
            [
                [
                    f"m{i}",
                    user_ids[s.buyer_id],
                    user_ids[s.account_id],
                    s.day,
                    "Order placed, thank you.",
                ]
                for i, s in enumerate(sales[:: max(1, len(sales) // 200)])
            ],
        ),
    }
    return {
        "market_id": market.market_id,
        "folder": str(out.relative_to(folder.parent)),
        "rows": counts,
    }


def _write_profile(folder: Path, m: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    profile = {
        "site": {
            "name": m.name,
            "market_id": m.market_id,
            "family": m.family,
            "hosts": m.onions,
            "start_urls": [f"http://{m.onions[0]}/"],
            "allow": ["^/"],
            "deny": ["^/logout", "^/login", "^/captcha/", "^/_admin"],
            "max_pages": 1_000_000,
            "max_depth": 50,
            "concurrency": 8,
            "delay": 0.0,
            "jitter": 0.0,
            "media": "none",
            # The sites' calendars are endless (a crawl trap); the depth limit would end
            # them too, but an analyst who has seen one caps it.
            "caps": {"/calendar": 3},
        },
        "login": {
            "url": "/login",
            "form": "form[action='/login']",
            "username_field": "username",
            "password_field": "password",
            "captcha_field": "captcha",
            "captcha_image": "img#captcha",
            "username": m.username,
            "password": m.password,
            "logged_in_marker": "/logout",
        },
    }
    path = folder / f"{slug(m.name)}.toml"
    path.write_text(tomli_w.dumps(profile))
    return path
