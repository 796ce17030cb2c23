"""Unrelated traffic between background users, in every common script type.

Background wallets are each of one type (P2PKH, P2SH-P2WPKH, P2WPKH or P2TR), so a
P2PKH wallet's spends are legacy transactions and a P2TR wallet's are key-path spends.
"""

from __future__ import annotations

from spector.sim.chain._ledger import DUST, SPK_LEN
from spector.sim.chain._sim import Sim
from spector.sim.chain._tx import tx_vsize

__all__ = ["background_traffic"]

_TRIES = 5


def background_traffic(sim: Sim) -> None:
    """Today's ``background_tx_per_day`` payments between random background wallets."""
    ledger, rng = sim.ledger, sim.rng
    wallets, types = sim.bg_wallets, sim.bg_types
    for _ in range(sim.inp.background_tx_per_day):
        for _ in range(_TRIES):
            sender = rng.randrange(len(wallets))
            if wallets[sender]:
                break
        else:
            continue
        wallet = wallets[sender]
        take = 2 if len(wallet) > 1 and rng.random() < 0.3 else 1
        inputs = [wallet.pop(rng.randrange(len(wallet))) for _ in range(take)]
        total = sum(coin.value for coin in inputs)
        rate = ledger.tx_rate()
        in_types = [coin.key.stype for coin in inputs]
        receivers = [rng.randrange(len(wallets)) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        lens = [SPK_LEN[types[r]] for r in receivers]
        fee = tx_vsize(in_types, [*lens, SPK_LEN[types[sender]]]) * rate
        pays = [int(total * rng.uniform(0.02, 0.4)) for _ in receivers]
        change = total - fee - sum(pays)
        if min(pays) < DUST or change < DUST:
            receivers = receivers[:1]
            pays = [total - tx_vsize(in_types, lens[:1]) * rate]
            change = 0
            if pays[0] < DUST:
                wallet.extend(inputs)
                continue
        outs = [
            (sim.background_key(r, "receive"), pay, r)
            for r, pay in zip(receivers, pays, strict=True)
        ]
        if change:
            outs.insert(
                rng.randrange(len(outs) + 1), (sim.background_key(sender, "change"), change, sender)
            )
        _, coins = ledger.emit("background", inputs, [(key, value) for key, value, _ in outs])
        for (_, _, owner), coin in zip(outs, coins, strict=True):
            wallets[owner].append(coin)
