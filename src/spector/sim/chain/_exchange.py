"""Exchanges sweep their customers' deposit addresses into their hot wallet.

A real exchange gives each customer deposit address its own key and, every so often,
consolidates whatever those addresses received into its hot wallet in one multi-input
transaction. That sweep is what lets the common-input heuristic see an exchange as one
wallet: every deposit it collects is spent alongside the others.

Here each exchange sweeps once a day, at the end of the day's flows, every coin paid to
one of its deposit addresses since its last sweep (``Ledger.deposits``), in transactions
of at most ``SWEEP_MAX_INPUTS`` deposits. Each sweep also spends one coin of the
exchange's reused hot-wallet address (when it holds one) and pays everything, less the
fee, back to that address. Withdrawals do the same (see ``fund_buyers``), so sweeps and
withdrawals share an input address and the deposits, the reused address and the hot
coins withdrawals spend form one cluster. A fresh output address per sweep would leave
every day's deposits a separate cluster: with no address spent twice, the heuristic
never joins two transactions. Sale trails still end at the deposit address (``landed:``);
the sweep is the exchange's own bookkeeping, not the vendor's cash-out.
"""

from __future__ import annotations

from spector.sim.chain._ledger import DUST
from spector.sim.chain._sim import Sim
from spector.sim.chain._tx import tx_vsize

__all__ = ["SWEEP_MAX_INPUTS", "exchange_sweeps"]

SWEEP_MAX_INPUTS = 400  # keeps a sweep of P2PKH deposits under the 100 kvB standard size


def exchange_sweeps(sim: Sim) -> int:
    """Every exchange sweeps the deposits it received since its last sweep; returns how many txs.

    Exchanges are visited in ``ChainInput.exchanges`` order and deposits in the order
    they were paid, so the sweeps are as deterministic as the rest of the chain.
    """
    ledger = sim.ledger
    count = 0
    for name in sim.inp.exchanges:
        pending = ledger.deposits.pop(name, [])
        main = sim.exchange_main_key(name)
        for start in range(0, len(pending), SWEEP_MAX_INPUTS):
            batch = pending[start : start + SWEEP_MAX_INPUTS]
            inputs = [*batch, *sim.take_main_coin(name)]
            total = sum(coin.value for coin in inputs)
            fee = tx_vsize([c.key.stype for c in inputs], [len(main.spk)]) * ledger.tx_rate()
            if total - fee < DUST:  # cannot happen with deposits of real sales; keep them
                sim.exchange_hot[name].extend(inputs[len(batch) :])
                ledger.deposits.setdefault(name, []).extend(batch)
                continue
            _, (coin,) = ledger.emit("sweep", inputs, [(main, total - fee)])
            sim.exchange_hot[name].append(coin)
            count += 1
    return count
