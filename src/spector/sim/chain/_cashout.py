"""Vendors cash out: direct, peel chain, ChipMixer-style mixer, Whirlpool-style coinjoin.

Vendors sweep their wallet weekly (and everything on the last day of the range) by
their actor's method. Each sale's money is followed proportionally: where a transaction
merges it with other money the note gives its share, where one splits it the trail
follows one branch (the peel chain's change, the largest mixer payout, one post-mix
output) and the note says so.
"""

from __future__ import annotations

from itertools import pairwise

from spector.errors import InternalError
from spector.sim.chain._coinjoin import coinjoin_cashout
from spector.sim.chain._keys import P2WPKH
from spector.sim.chain._ledger import DUST, SPK_LEN, Coin, merge_sales, pct, scale
from spector.sim.chain._sim import (
    CHIP_MAX_EXP,
    CHIP_UNIT,
    MIXER_ID,
    MixPayout,
    Sim,
    VendorState,
)
from spector.sim.chain._tx import tx_vsize

__all__ = ["chip_counts", "mixer_payouts", "vendor_cashouts"]

_CASHOUT_MIN = 200_000  # a weekly cash-out waits until the wallet holds this much
_MIX_MIN = 300_000  # below this a deposit would not buy a single chip after fees
_COINJOIN_ALLOWANCE = 60_000  # kept aside for the mix fee when choosing the pool
_COINJOIN_ROUNDS = 3
_PEEL_MIN_CHANGE = 50_000


def vendor_cashouts(sim: Sim, day: int) -> None:
    """Every vendor whose cash-out day it is sweeps its wallet by its actor's method."""
    final = day == sim.last_day
    for vendor in sim.vendors.values():
        if not vendor.coins or (not final and (day - vendor.phase) % 7):
            continue
        coins = vendor.coins
        total = sum(coin.value for coin in coins)
        # the fee of a plain sweep at a rate above any the range uses (at most 30 sat/vB)
        sweep_fee = tx_vsize([c.key.stype for c in coins], [SPK_LEN[P2WPKH]]) * 40
        if total < sweep_fee + 4 * DUST or (not final and total < max(_CASHOUT_MIN, 2 * sweep_fee)):
            continue  # not worth it yet (or, on the last day, not possible)
        vendor.coins = []
        if vendor.method == "peel":
            _peel(sim, vendor, coins)
        elif vendor.method == "mixer":
            _mixer_in(sim, vendor, coins)
        elif vendor.method == "coinjoin":
            if not coinjoin_cashout(sim, vendor, coins):
                _direct(sim, vendor, coins, "no coinjoin pool fits, so a ")
        else:
            _direct(sim, vendor, coins, "")


def _direct(sim: Sim, vendor: VendorState, coins: list[Coin], reason: str) -> None:
    ledger = sim.ledger
    name = vendor.exchange
    dest = sim.exchange_deposit_key(name)
    total = sum(coin.value for coin in coins)
    fee = tx_vsize([c.key.stype for c in coins], [len(dest.spk)]) * ledger.tx_rate()
    txid, (coin,) = ledger.emit("cashout", coins, [(dest, total - fee)])
    for sale_id, amount in scale(merge_sales(coins), coin.value, total).items():
        note = (
            f"landed: {reason}direct cash-out of {len(coins)} vendor outputs to a deposit "
            f"address of {name} (this sale is {pct(amount, coin.value)} of the deposit)"
        )
        ledger.hop(sale_id, txid, dest.address, note)


def _peel(sim: Sim, vendor: VendorState, coins: list[Coin]) -> None:
    ledger, rng = sim.ledger, sim.rng
    hops = rng.randint(3, 8)
    start = total = sum(coin.value for coin in coins)
    sales = merge_sales(coins)
    current = coins
    for hop in range(1, hops + 1):
        rate = ledger.tx_rate()
        types = [c.key.stype for c in current]
        if hop < hops:
            background = rng.random() < 0.3
            if background:
                wallet = rng.randrange(len(sim.bg_wallets))
                dest_type = sim.bg_types[wallet]
            else:
                name = rng.choice(sim.inp.exchanges)
                dest_type = sim.exchange_type[name]
            peel = int(total * rng.uniform(0.03, 0.2))
            fee = tx_vsize(types, [SPK_LEN[dest_type], SPK_LEN[vendor.stype]]) * rate
            change = total - peel - fee
            if peel >= DUST and change >= _PEEL_MIN_CHANGE:
                if background:
                    dest = sim.background_key(wallet, "receive")
                    where = "a third party's address"
                else:
                    dest = sim.exchange_deposit_key(name)
                    where = f"a deposit address of {name}"
                keep = sim.vendor_key(vendor, "peel_change")
                first = rng.randrange(2)
                outs = [(dest, peel), (keep, change)] if first else [(keep, change), (dest, peel)]
                txid, out = ledger.emit("peel", current, outs)
                if background:
                    sim.bg_wallets[wallet].append(out[1 - first])
                sales = scale(sales, change, total)
                note = (
                    f"peel chain hop {hop} of {hops}: {pct(peel, total)} peeled off to {where}; "
                    f"the money is followed in the change ({pct(change, start)} of what the "
                    "vendor cashed out is still on the chain)"
                )
                for sale_id in sales:
                    ledger.hop(sale_id, txid, keep.address, note)
                current, total = [out[first]], change
                continue
        name = vendor.exchange
        dest = sim.exchange_deposit_key(name)
        fee = tx_vsize(types, [len(dest.spk)]) * rate
        txid, _ = ledger.emit("peel", current, [(dest, total - fee)])
        note = (
            f"landed: hop {hop}, the end of a peel chain: the remainder goes to a deposit "
            f"address of {name} ({pct(total - fee, start)} of what the vendor cashed out; "
            "the rest was peeled off on the way)"
        )
        for sale_id in sales:
            ledger.hop(sale_id, txid, dest.address, note)
        return


def chip_counts(units: int) -> dict[int, int]:
    """How many chips of 0.001 * 2**n BTC make ``units`` thousandths of a bitcoin."""
    counts = {CHIP_MAX_EXP: units >> CHIP_MAX_EXP} if units >> CHIP_MAX_EXP else {}
    for n in range(CHIP_MAX_EXP):
        if units >> n & 1:
            counts[n] = 1
    return counts


def _mixer_in(sim: Sim, vendor: VendorState, coins: list[Coin]) -> None:
    ledger, rng = sim.ledger, sim.rng
    total = sum(coin.value for coin in coins)
    if total < _MIX_MIN:
        _direct(sim, vendor, coins, "too small for the mixer, so a ")
        return
    dest = sim.mixer_key("deposit")
    fee = tx_vsize([c.key.stype for c in coins], [len(dest.spk)]) * ledger.tx_rate()
    txid, (deposit,) = ledger.emit("mixer_in", coins, [(dest, total - fee)])
    sales = scale(merge_sales(coins), deposit.value, total)
    for sale_id, amount in sales.items():
        note = (
            f"vendor sends {len(coins)} outputs to a fresh {MIXER_ID} deposit address "
            f"(this sale is {pct(amount, deposit.value)} of the deposit)"
        )
        ledger.hop(sale_id, txid, dest.address, note)
    units = _split_into_chips(sim, deposit)
    due = min(ledger.day + rng.randint(0, 2), sim.last_day)
    sim.mix_due[due].append(MixPayout(vendor, units, sales, deposit.value, dest.address))


def _split_into_chips(sim: Sim, deposit: Coin) -> int:
    """The mixer turns a deposit into chips for its pool; returns the chip units."""
    ledger, rng = sim.ledger, sim.rng
    rate = ledger.tx_rate()
    units = deposit.value // CHIP_UNIT
    while units > 0:
        counts = chip_counts(units)
        n_chips = sum(counts.values())
        fee = tx_vsize([deposit.key.stype], [SPK_LEN[P2WPKH]] * (n_chips + 1)) * rate
        rest = deposit.value - units * CHIP_UNIT - fee
        if rest >= 0:
            break
        units -= 1
    if units <= 0:
        raise InternalError("mixer deposit too small for a chip")
    exps: list[int | None] = [n for n, count in counts.items() for _ in range(count)]
    rng.shuffle(exps)
    if rest >= DUST:
        exps.insert(rng.randrange(len(exps) + 1), None)
    outs = [
        (sim.mixer_key("change"), rest) if n is None else (sim.mixer_key("chip"), CHIP_UNIT << n)
        for n in exps
    ]
    _, coins = ledger.emit("mixer_split", [deposit], outs)
    for n, coin in zip(exps, coins, strict=True):
        if n is not None:
            sim.chips[n].append(coin)
    return units


def mixer_payouts(sim: Sim, day: int) -> None:
    """The mixer pays what it owes today in chips from its pool, to exchange deposits."""
    ledger, rng = sim.ledger, sim.rng
    for payout in sim.mix_due.pop(day, []):
        chips = [
            sim.chips[n].popleft()
            for n, count in sorted(chip_counts(payout.units).items())
            for _ in range(count)
        ]
        rng.shuffle(chips)
        n_tx = min(len(chips), rng.randint(1, 3))
        cuts = sorted(rng.sample(range(1, len(chips)), n_tx - 1)) if n_tx > 1 else []
        bounds = [0, *cuts, len(chips)]
        best: tuple[int, bytes, str, str] | None = None
        for lo, hi in pairwise(bounds):
            group = chips[lo:hi]
            name = payout.vendor.exchange if rng.random() < 0.7 else rng.choice(sim.inp.exchanges)
            dest = sim.exchange_deposit_key(name)
            fee = tx_vsize([P2WPKH] * len(group), [len(dest.spk)]) * ledger.tx_rate()
            value = sum(coin.value for coin in group) - fee
            txid, _ = ledger.emit("mixer_out", group, [(dest, value)])
            sim.mix_paid.append(
                (
                    payout.vendor.spec.account_id,
                    payout.deposit_address,
                    txid[::-1].hex(),
                    dest.address,
                    name,
                    value,
                )
            )
            if best is None or value > best[0]:
                best = (value, txid, dest.address, name)
        if best is None:
            raise InternalError("mixer payout without chips")
        value, txid, address, name = best
        paid = payout.units * CHIP_UNIT
        note = (
            f"landed: {MIXER_ID} paid out {len(chips)} chips ({paid / 1e8:.3f} BTC) from its "
            f"own pool in {n_tx} transactions, with no on-chain link to the deposit at "
            f"{payout.deposit_address}; followed to the largest, a deposit address of {name} "
            f"({pct(value, paid)} of the payout)"
        )
        for sale_id in payout.sales:
            ledger.hop(sale_id, txid, address, note)
