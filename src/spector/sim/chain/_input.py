"""What the world hands the chain builder: markets, vendors, actors and sales.

The world (the rest of the training range) decides who sells what to whom and when; the
chain builder only turns that into Bitcoin transactions. ``check_input`` rejects input
the builder cannot honour with an ``InputError`` that names the offending record.
Vendor accounts on markets not in ``markets`` (forums, say) are allowed and ignored as
long as no sale names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bip_utils import Bech32ChecksumError, SegwitBech32Decoder

from spector.errors import InputError

__all__ = [
    "CASHOUT_METHODS",
    "MIN_SALE_SAT",
    "ChainActor",
    "ChainInput",
    "ChainMarket",
    "ChainSale",
    "ChainVendor",
    "check_input",
]

CASHOUT_METHODS = ("direct", "peel", "mixer", "coinjoin")
MIN_SALE_SAT = 546  # Bitcoin's dust limit: a smaller payment cannot be an output
_MAX_TOTAL_SAT = 1_000_000 * 100_000_000  # a million BTC of sales is surely a mistake


@dataclass(frozen=True)
class ChainMarket:
    """A market; ``close_day`` is the day its wallet stops paying (seized / exit scam)."""

    market_id: str
    walletless: bool
    close_day: int | None


@dataclass(frozen=True)
class ChainVendor:
    """A vendor account; on walletless markets ``payto_address`` is its own bcrt1q address."""

    account_id: str
    market_id: str
    actor_id: str
    payto_address: str | None


@dataclass(frozen=True)
class ChainActor:
    """The person behind vendor accounts; ``cashout`` is one of ``CASHOUT_METHODS``."""

    actor_id: str
    cashout: str


@dataclass(frozen=True)
class ChainSale:
    """One order: ``buyer_id`` pays ``amount_sat`` to vendor ``account_id`` on ``day``."""

    sale_id: str
    market_id: str
    account_id: str
    buyer_id: str
    day: int
    amount_sat: int


@dataclass(frozen=True)
class ChainInput:
    """Everything the chain builder needs; the same input always gives the same chain."""

    seed: int
    days: int
    markets: tuple[ChainMarket, ...]
    vendors: tuple[ChainVendor, ...]
    actors: tuple[ChainActor, ...]
    sales: tuple[ChainSale, ...]
    exchanges: tuple[str, ...] = ("Exchange A", "Exchange B", "Exchange C")
    background_tx_per_day: int = 20


def _unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise InputError(f"duplicate {what} {item!r}", expected=f"unique {what}s")
        seen.add(item)


def _check_payto(vendor: ChainVendor) -> None:
    address = vendor.payto_address
    where = f"vendor {vendor.account_id}"
    if address is None:
        raise InputError(
            "vendor on a walletless market has no payto_address",
            where=where,
            expected="a regtest P2WPKH address (bcrt1q...)",
        )
    try:
        version, program = SegwitBech32Decoder.Decode("bcrt", address)
    except (Bech32ChecksumError, ValueError) as exc:
        raise InputError(
            f"payto_address {address!r} is not a valid regtest segwit address",
            where=where,
            expected="a regtest P2WPKH address (bcrt1q...)",
        ) from exc
    if version != 0 or len(program) != 20:
        raise InputError(
            f"payto_address {address!r} is not P2WPKH",
            where=where,
            expected="witness version 0 with a 20-byte program",
        )


def check_input(inp: ChainInput) -> None:
    """Raise ``InputError`` if ``inp`` is inconsistent; return quietly if it is usable."""
    if inp.days < 1:
        raise InputError(f"days is {inp.days}", expected="at least 1")
    if inp.background_tx_per_day < 0:
        raise InputError("background_tx_per_day is negative", expected="0 or more")
    if not inp.exchanges:
        raise InputError("no exchanges", expected="at least one exchange name")
    _unique(list(inp.exchanges), "exchange")
    _unique([m.market_id for m in inp.markets], "market_id")
    _unique([v.account_id for v in inp.vendors], "account_id")
    _unique([a.actor_id for a in inp.actors], "actor_id")
    _unique([s.sale_id for s in inp.sales], "sale_id")
    markets = {m.market_id: m for m in inp.markets}
    for market in inp.markets:
        if market.close_day is not None and market.close_day < 0:
            raise InputError(f"market {market.market_id!r} close_day is negative")
    actors = {a.actor_id: a for a in inp.actors}
    for actor in inp.actors:
        if actor.cashout not in CASHOUT_METHODS:
            raise InputError(
                f"actor {actor.actor_id!r} has cashout {actor.cashout!r}",
                expected=" / ".join(CASHOUT_METHODS),
            )
    vendors = {v.account_id: v for v in inp.vendors}
    for vendor in inp.vendors:
        home = markets.get(vendor.market_id)
        if home is None:
            continue  # an account on a site without payments (a forum): not on the chain
        if vendor.actor_id not in actors:
            raise InputError(f"vendor {vendor.account_id!r} names unknown actor")
        if home.walletless:
            _check_payto(vendor)
        elif vendor.payto_address is not None:
            raise InputError(
                f"vendor {vendor.account_id!r} has a payto_address on a market with a wallet",
                expected="payto_address None",
            )
    total = 0
    for sale in inp.sales:
        seller = vendors.get(sale.account_id)
        if seller is None or seller.market_id != sale.market_id or sale.market_id not in markets:
            raise InputError(
                f"sale {sale.sale_id!r} names vendor {sale.account_id!r} "
                f"not on market {sale.market_id!r}"
            )
        if not 0 <= sale.day < inp.days:
            raise InputError(f"sale {sale.sale_id!r} is on day {sale.day}", expected="0..days-1")
        if sale.amount_sat < MIN_SALE_SAT:
            raise InputError(
                f"sale {sale.sale_id!r} amount is {sale.amount_sat} sat",
                expected=f"at least {MIN_SALE_SAT} sat",
            )
        total += sale.amount_sat
    if total > _MAX_TOTAL_SAT:
        raise InputError(f"sales total {total} sat", expected=f"at most {_MAX_TOTAL_SAT} sat")
