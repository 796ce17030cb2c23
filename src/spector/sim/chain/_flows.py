"""The money of each sale up to the vendor: exchange withdrawal, deposit, market payout.

Per sale, the buyer withdraws from an exchange to a fresh address (exchanges batch the
day's withdrawals, spending a coin of their reused hot-wallet address and returning the
change to it), then pays the sale amount to a fresh escrow deposit address of the
market, or on a walletless market straight to the vendor's pay-to address. Markets with
a wallet release escrow after 1-3 days and pay vendors in batches every few days, keeping
a commission in their hot wallet; once a market's wallet stops, nothing more leaves it.
"""

from __future__ import annotations

from functools import partial

from spector.sim.chain._input import ChainSale
from spector.sim.chain._keys import P2WPKH
from spector.sim.chain._ledger import DUST, SPK_LEN, Coin, pct
from spector.sim.chain._sim import MarketState, Sim
from spector.sim.chain._tx import tx_vsize

__all__ = ["fund_buyers", "market_payouts", "pay_deposits"]

_WITHDRAWAL_BATCH = 50
_PAYOUT_BATCH = 100
_MIN_PAYOUT = 20_000  # a vendor owed less waits for a later payout

# sale_id -> (buyer's funded coin, change the buyer keeps, fee of the deposit)
Funding = dict[str, tuple[Coin, int, int]]


def fund_buyers(sim: Sim, sales: list[ChainSale]) -> Funding:
    """Exchanges pay today's buyers to fresh addresses, in batched withdrawals."""
    ledger, rng = sim.ledger, sim.rng
    by_exchange: dict[str, list[ChainSale]] = {}
    for sale in sales:
        by_exchange.setdefault(sim.buyer_exchange[sale.buyer_id], []).append(sale)
    funding: Funding = {}
    for name, group in by_exchange.items():
        for start in range(0, len(group), _WITHDRAWAL_BATCH):
            batch = group[start : start + _WITHDRAWAL_BATCH]
            outs = []
            plans = []
            for sale in batch:
                buyer_type = sim.buyer_type[sale.buyer_id]
                market = sim.markets[sale.market_id]
                dest_len = SPK_LEN[P2WPKH] if market.spec.walletless else SPK_LEN[market.stype]
                extra = 0
                if rng.random() >= 0.4:
                    extra = int(sale.amount_sat * rng.uniform(0.02, 0.5))
                    extra = extra if extra >= 4 * DUST else 0
                lens = [dest_len, SPK_LEN[buyer_type]] if extra else [dest_len]
                fee = tx_vsize((buyer_type,), lens) * ledger.tx_rate()
                key = ledger.new_key(
                    f"buyer:{sale.buyer_id}", buyer_type, "buyer", sale.buyer_id, "funding"
                )
                outs.append((key, sale.amount_sat + fee + extra))
                plans.append((extra, fee))
            txid, coins, _ = ledger.pay(
                "funding",
                sim.exchange_hot[name],
                outs,
                partial(sim.exchange_main_key, name),
                sim.exchange_type[name],
                must=sim.take_main_coin(name),
            )
            note = (
                f"withdrawal from {name} to a fresh buyer address "
                f"(one of {len(batch)} withdrawals batched in this transaction)"
            )
            for sale, coin, (extra, fee) in zip(batch, coins, plans, strict=True):
                coin.sales = {sale.sale_id: sale.amount_sat}
                funding[sale.sale_id] = (coin, extra, fee)
                ledger.hop(sale.sale_id, txid, coin.key.address, note)
    return funding


def pay_deposits(sim: Sim, sales: list[ChainSale], funding: Funding) -> None:
    """Each buyer pays the sale amount into escrow, or to a walletless vendor."""
    ledger, rng = sim.ledger, sim.rng
    for sale in sales:
        coin, extra, _ = funding[sale.sale_id]
        market = sim.markets[sale.market_id]
        vendor = sim.vendors[sale.account_id]
        if vendor.payto is not None:
            dest = vendor.payto
            spec = vendor.spec
            ledger.register(dest.address, "vendor", spec.account_id, "payto", spec.actor_id)
            note = "buyer pays the vendor's own pay-to address (walletless market)"
        else:
            dest = sim.market_key(market, "escrow_deposit")
            note = f"buyer pays a fresh escrow deposit address of market {market.spec.market_id}"
        outs = [(dest, sale.amount_sat)]
        position = 0
        if extra:
            position = rng.randrange(2)
            change = ledger.new_key(
                f"buyer:{sale.buyer_id}", coin.key.stype, "buyer", sale.buyer_id, "change"
            )
            outs.insert(1 - position, (change, extra))
        txid, coins = ledger.emit("deposit", [coin], outs)
        paid = coins[position]
        paid.sales = {sale.sale_id: sale.amount_sat}
        if vendor.payto is not None:
            vendor.coins.append(paid)
        else:
            market.escrow.append((paid, sim.ledger.day + rng.randint(1, 3)))
        ledger.hop(sale.sale_id, txid, dest.address, note)


def market_payouts(sim: Sim, day: int) -> None:
    """Markets whose payout day it is pay vendors for escrow released by today.

    On the last day every open market pays out all it holds (early finalization), so
    that no sale is left in escrow of a market that still works (unless the vendor is
    owed less than the dust limit).
    """
    final = day == sim.last_day
    for market in sim.markets.values():
        if market.spec.walletless or not market.escrow or not market.open_on(day):
            continue
        if not final and (day - market.phase) % market.period:
            continue
        due = [entry for entry in market.escrow if final or entry[1] <= day]
        if not due:
            continue
        market.escrow = [entry for entry in market.escrow if not (final or entry[1] <= day)]
        for start in range(0, len(due), _PAYOUT_BATCH):
            batch = [coin for coin, _ in due[start : start + _PAYOUT_BATCH]]
            held = _payout_batch(sim, market, batch, final)
            market.escrow.extend((coin, day) for coin in held)


def _payout_batch(sim: Sim, market: MarketState, coins: list[Coin], final: bool) -> list[Coin]:
    """Pay vendors for ``coins``; return the coins of vendors owed less than the minimum."""
    ledger = sim.ledger
    keep = 10_000 - market.commission_bp
    per_vendor: dict[str, dict[str, int]] = {}
    owner: dict[bytes, str] = {}
    for coin in coins:
        for sale_id, amount in (coin.sales or {}).items():
            account = sim.sale_by_id[sale_id].account_id
            owner[coin.outpoint] = account
            per_vendor.setdefault(account, {})[sale_id] = amount * keep // 10_000
    minimum = DUST if final else _MIN_PAYOUT
    small = {a for a, sales in per_vendor.items() if sum(sales.values()) < minimum}
    held = [coin for coin in coins if owner[coin.outpoint] in small]
    coins = [coin for coin in coins if owner[coin.outpoint] not in small]
    for account in small:
        del per_vendor[account]
    if not coins:
        return held
    vendors = [sim.vendors[account] for account in per_vendor]
    outs = [
        (sim.vendor_key(vendor, "payout"), sum(per_vendor[vendor.spec.account_id].values()))
        for vendor in vendors
    ]
    txid, paid, _ = ledger.pay(
        "payout",
        market.hot,
        outs,
        partial(sim.market_key, market, "hot_wallet"),
        market.stype,
        must=coins,
    )
    n_sales = sum(len(sales) for sales in per_vendor.values())
    head = (
        f"market {market.spec.market_id} payout batch: {n_sales} sales to {len(vendors)} "
        f"vendors, {market.commission_bp / 100:g}% commission kept in the market hot wallet"
    )
    for vendor, coin in zip(vendors, paid, strict=True):
        sales = per_vendor[vendor.spec.account_id]
        coin.sales = sales
        vendor.coins.append(coin)
        for sale_id, amount in sales.items():
            note = (
                f"{head}; merged with {len(sales) - 1} other sales of this vendor "
                f"(this sale is {pct(amount, coin.value)} of the output)"
            )
            ledger.hop(sale_id, txid, coin.key.address, note)
    return held
