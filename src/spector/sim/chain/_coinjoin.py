"""Whirlpool-style coinjoin cash-outs.

A round joins the vendor's coins with 4-6 other participants' (fresh premix coins or
earlier post-mix outputs being remixed) into equal outputs of a pool denomination: one
per participant, up to five for the vendor. Participants get their change back; the
vendor pays the mining fee and keeps its toxic change for the next round (up to three)
or its wallet. Each of the vendor's post-mix outputs then goes to an exchange deposit.
"""

from __future__ import annotations

from spector.sim.chain._keys import P2WPKH, Key
from spector.sim.chain._ledger import DUST, SPK_LEN, Coin, merge_sales, pct
from spector.sim.chain._sim import COINJOIN_DENOMS, Sim, VendorState
from spector.sim.chain._tx import tx_vsize

__all__ = ["coinjoin_cashout"]

_ALLOWANCE = 60_000  # kept aside for the mining fee when choosing the pool
_ROUNDS = 3
_MAX_VENDOR_OUTPUTS = 5
_PARTICIPANT_CHANGE_MIN = 10_000

# denomination, vendor outputs, (participant, coin) picks, vendor change
_Plan = tuple[int, int, list[tuple[int, Coin]], int]


def _participant_coin(wallet: list[Coin], denom: int) -> Coin | None:
    """A remixable post-mix coin of exactly ``denom``, else the smallest that covers it."""
    best: Coin | None = None
    for coin in wallet:
        if coin.value == denom:
            return coin
        if coin.value >= denom + _PARTICIPANT_CHANGE_MIN and (
            best is None or coin.value < best.value
        ):
            best = coin
    return best


def _plan(sim: Sim, vendor: VendorState, current: list[Coin], total: int) -> _Plan | None:
    rng = sim.rng
    rate = sim.ledger.tx_rate()
    wallets = sim.cj_wallets
    for denom in COINJOIN_DENOMS:
        if total < denom + _ALLOWANCE:
            continue
        want = rng.randint(4, 6)
        picks: list[tuple[int, Coin]] = []
        for participant in rng.sample(range(len(wallets)), len(wallets)):
            coin = _participant_coin(wallets[participant], denom)
            if coin is not None:
                picks.append((participant, coin))
                if len(picks) == want:
                    break
        if len(picks) < 4:
            continue
        in_types = [c.key.stype for c in current] + [P2WPKH] * len(picks)
        others = len(picks) + sum(1 for _, coin in picks if coin.value > denom)
        mine = min(_MAX_VENDOR_OUTPUTS, (total - _ALLOWANCE) // denom)
        while mine >= 1:
            lens = [SPK_LEN[vendor.stype]] * (mine + 1) + [SPK_LEN[P2WPKH]] * others
            change = total - mine * denom - tx_vsize(in_types, lens) * rate
            if change >= 0:
                return denom, mine, picks, change
            mine -= 1
    return None


def coinjoin_cashout(sim: Sim, vendor: VendorState, coins: list[Coin]) -> bool:
    """Mix ``coins`` and send the post-mix outputs to exchanges; False if no round fits."""
    ledger, rng = sim.ledger, sim.rng
    start = total = sum(coin.value for coin in coins)
    sales = merge_sales(coins)
    current = coins
    mixed: list[Coin] = []
    first: tuple[bytes, Coin, int, int, int, int] | None = None
    rounds = 0
    leftover: Coin | None = None
    while rounds < _ROUNDS:
        plan = _plan(sim, vendor, current, total)
        if plan is None:
            break
        denom, mine, picks, change = plan
        entries: list[tuple[Key, int, int]] = []  # owner: participant, -1 mixed, -2 change
        for _ in range(mine):
            entries.append((sim.vendor_key(vendor, "coinjoin_output"), denom, -1))
        for participant, coin in picks:
            entries.append((sim.coinjoin_key(participant, "postmix"), denom, participant))
            if coin.value > denom:
                key = sim.coinjoin_key(participant, "change")
                entries.append((key, coin.value - denom, participant))
        if change >= DUST:
            entries.append((sim.vendor_key(vendor, "coinjoin_change"), change, -2))
        rng.shuffle(entries)
        inputs = [*current, *(coin for _, coin in picks)]
        rng.shuffle(inputs)
        for participant, coin in picks:
            sim.cj_wallets[participant].remove(coin)
        txid, outs = ledger.emit("coinjoin", inputs, [(key, value) for key, value, _ in entries])
        leftover = None
        for (_, _, owner), coin in zip(entries, outs, strict=True):
            if owner >= 0:
                sim.cj_wallets[owner].append(coin)
            elif owner == -1:
                mixed.append(coin)
                if first is None:
                    first = (txid, coin, denom, len(current), len(picks), mine)
            else:
                leftover = coin
        rounds += 1
        if leftover is None:
            break
        current, total = [leftover], leftover.value
    if first is None:
        return False
    if leftover is not None:
        vendor.coins.append(leftover)  # toxic change waits for the next cash-out
    txid, followed, denom, n_in, n_others, mine = first
    note = (
        f"coinjoin (Whirlpool-style pool of {denom / 1e8:g} BTC): the vendor's {n_in} "
        f"inputs joined {n_others} other participants' into {n_others + mine} equal outputs, "
        f"{mine} of them the vendor's; over {rounds} round(s) the sale's money spreads "
        f"proportionally over {len(mixed)} post-mix outputs and toxic change; followed into "
        f"one post-mix output ({pct(denom, start)} of what the vendor cashed out)"
    )
    for sale_id in sales:
        ledger.hop(sale_id, txid, followed.key.address, note)
    for coin in mixed:
        name = vendor.exchange if rng.random() < 0.8 else rng.choice(sim.inp.exchanges)
        dest = sim.exchange_deposit_key(name)
        fee = tx_vsize([coin.key.stype], [len(dest.spk)]) * ledger.tx_rate()
        cash_txid, _ = ledger.emit("cashout", [coin], [(dest, coin.value - fee)])
        if coin is followed:
            note = f"landed: the post-mix output is sent to a deposit address of {name}"
            for sale_id in sales:
                ledger.hop(sale_id, cash_txid, dest.address, note)
    return True
