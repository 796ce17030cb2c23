"""The ledger: UTXO set, address book, today's transactions and each sale's money trail.

Every spend goes through ``Ledger.emit``, which removes the inputs from the UTXO set
(a missing input is a bug: it would be a double spend), insists on a positive fee and
no dust outputs, serializes the transaction and files its outputs as new coins; coins
paid to an exchange's customer deposit address are also filed in ``Ledger.deposits``
under the exchange, for its next sweep.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from struct import pack

from spector.errors import InternalError
from spector.sim.chain._blocks import PendingTx
from spector.sim.chain._keys import P2PKH, P2SH, P2TR, P2WPKH, Key, key_for
from spector.sim.chain._tx import spend_tx, tx_vsize

__all__ = ["DUST", "SPK_LEN", "AddressRow", "Coin", "Ledger", "merge_sales", "pct", "scale"]

DUST = 546
SPK_LEN = {P2PKH: 25, P2SH: 23, P2WPKH: 22, P2TR: 34}

# owner_kind, owner_id, actor_id, role
AddressRow = tuple[str, str, str | None, str]


class Coin:
    """An unspent output the simulation knows the owner of.

    ``sales`` maps sale ids to the satoshis of that sale's money this coin carries (when
    the coin is on a followed path), else is None.
    """

    __slots__ = ("day", "key", "outpoint", "sales", "slot", "value")

    def __init__(self, outpoint: bytes, value: int, key: Key, day: int, slot: int) -> None:
        self.outpoint = outpoint
        self.value = value
        self.key = key
        self.day = day
        self.slot = slot
        self.sales: dict[str, int] | None = None


class Ledger:
    """The state every flow writes to; one per build."""

    def __init__(self, seed: int, rng: random.Random, blocks_per_day: int) -> None:
        self.seed = seed
        self.rng = rng
        self.blocks_per_day = blocks_per_day
        self.addresses: dict[str, AddressRow] = {}
        self.utxos: dict[bytes, Coin] = {}
        self.day = -1
        self.base_rate = 1
        self.pending: list[tuple[int, PendingTx]] = []
        self.paths: dict[str, list[list[str]]] = {}
        self.landed: set[str] = set()
        # exchange name -> coins paid to its customer deposit addresses, not yet swept
        self.deposits: dict[str, list[Coin]] = {}
        self._counters: dict[str, int] = {}

    # -- addresses -------------------------------------------------------------------

    def register(
        self, address: str, owner_kind: str, owner_id: str, role: str, actor_id: str | None
    ) -> None:
        """Record who owns ``address``; the first registration wins."""
        self.addresses.setdefault(address, (owner_kind, owner_id, actor_id, role))

    def new_key(
        self,
        prefix: str,
        stype: int,
        owner_kind: str,
        owner_id: str,
        role: str,
        actor_id: str | None = None,
    ) -> Key:
        """A fresh key labelled ``prefix:<n>``, registered to its owner."""
        n = self._counters.get(prefix, 0)
        self._counters[prefix] = n + 1
        key = key_for(self.seed, f"{prefix}:{n}", stype)
        self.register(key.address, owner_kind, owner_id, role, actor_id)
        return key

    # -- fees and days ---------------------------------------------------------------

    def start_day(self, day: int) -> None:
        """Begin ``day``: today's fee level, no transactions yet."""
        self.day = day
        self.base_rate = self.rng.randint(2, 25)
        self.pending = []

    def tx_rate(self) -> int:
        """The fee rate (sat/vB) one transaction pays today."""
        return max(1, self.base_rate + self.rng.randint(-1, 5))

    # -- transactions ----------------------------------------------------------------

    def add_coins(self, txid: bytes, outputs: Sequence[tuple[Key, int]]) -> list[Coin]:
        """File the outputs of a coinbase as coins."""
        coins = []
        for index, (key, value) in enumerate(outputs):
            coin = Coin(txid + pack("<I", index), value, key, self.day, 0)
            self.utxos[coin.outpoint] = coin
            coins.append(coin)
        return coins

    def emit(
        self, kind: str, inputs: Sequence[Coin], outputs: Sequence[tuple[Key, int]]
    ) -> tuple[bytes, list[Coin]]:
        """Spend ``inputs`` to ``outputs`` today; return the txid and the new coins."""
        slot = self.rng.randrange(self.blocks_per_day)
        total_in = 0
        for coin in inputs:
            if self.utxos.pop(coin.outpoint, None) is None:
                raise InternalError(f"{kind} transaction spends a coin that is not unspent")
            total_in += coin.value
            if coin.day == self.day and coin.slot > slot:
                slot = coin.slot
        fee = total_in - sum(value for _, value in outputs)
        if fee <= 0 or not outputs or min(value for _, value in outputs) < DUST:
            raise InternalError(f"{kind} transaction has fee {fee} or a dust output")
        raw, txid, wtxid, segwit, weight = spend_tx(
            [(coin.outpoint, coin.key) for coin in inputs],
            [(key.spk, value) for key, value in outputs],
        )
        self.pending.append((slot, PendingTx(raw, txid, wtxid, segwit, weight, fee, kind)))
        coins = []
        day = self.day
        for index, (key, value) in enumerate(outputs):
            coin = Coin(txid + pack("<I", index), value, key, day, slot)
            self.utxos[coin.outpoint] = coin
            coins.append(coin)
            owner = self.addresses.get(key.address)
            if owner is not None and owner[0] == "exchange" and owner[3] == "deposit":
                self.deposits.setdefault(owner[1], []).append(coin)
        return txid, coins

    def pay(
        self,
        kind: str,
        wallet: list[Coin],
        outputs: Sequence[tuple[Key, int]],
        change: Callable[[], Key],
        change_type: int,
        *,
        must: Sequence[Coin] = (),
    ) -> tuple[bytes, list[Coin], Coin | None]:
        """Pay ``outputs`` from ``must`` plus the largest coins of ``wallet`` as needed.

        Change (unless dust, which goes to the fee) goes to a fresh ``change()`` key at a
        random position and its coin is appended to ``wallet``. Returns the txid, the
        coins of ``outputs`` in order, and the change coin.
        """
        rate = self.tx_rate()
        target = sum(value for _, value in outputs)
        lens = [len(key.spk) for key, _ in outputs]
        lens_change = [*lens, SPK_LEN[change_type]]
        chosen = list(must)
        have = sum(coin.value for coin in chosen)
        picked: set[bytes] = set()
        pool = sorted((coin for coin in wallet if coin not in chosen), key=lambda c: -c.value)
        fee = tx_vsize((c.key.stype for c in chosen), lens_change) * rate
        for coin in pool:
            if have >= target + fee:
                break
            chosen.append(coin)
            picked.add(coin.outpoint)
            have += coin.value
            fee = tx_vsize((c.key.stype for c in chosen), lens_change) * rate
        if have < target + fee:
            raise InternalError(f"{kind}: wallet holds {have} sat, needs {target + fee}")
        if picked:
            wallet[:] = [coin for coin in wallet if coin.outpoint not in picked]
        rest = have - target - fee
        if rest < DUST:
            txid, coins = self.emit(kind, chosen, outputs)
            return txid, coins, None
        position = self.rng.randrange(len(outputs) + 1)
        outs = list(outputs)
        outs.insert(position, (change(), rest))
        txid, coins = self.emit(kind, chosen, outs)
        change_coin = coins.pop(position)
        wallet.append(change_coin)
        return txid, coins, change_coin

    # -- sale trails -----------------------------------------------------------------

    def hop(self, sale_id: str, txid: bytes, address: str, note: str) -> None:
        """Append a hop to a sale's trail; notes starting 'landed:' end the trail."""
        self.paths[sale_id].append([txid[::-1].hex(), address, note])
        if note.startswith("landed:"):
            self.landed.add(sale_id)


def merge_sales(coins: Sequence[Coin]) -> dict[str, int]:
    """The sales carried by ``coins`` together."""
    merged: dict[str, int] = {}
    for coin in coins:
        if coin.sales:
            for sale, amount in coin.sales.items():
                merged[sale] = merged.get(sale, 0) + amount
    return merged


def scale(sales: dict[str, int], numerator: int, denominator: int) -> dict[str, int]:
    """Follow ``sales`` proportionally into an output holding numerator/denominator."""
    return {sale: amount * numerator // denominator for sale, amount in sales.items()}


def pct(part: int, whole: int) -> str:
    """``part`` as a percentage of ``whole``, for notes."""
    return f"{100.0 * part / whole:.1f}%" if whole else "0%"
