"""The simulation's state and its premine.

Wallets of exchanges, markets, vendors, the mixer, coinjoin participants and background
users, plus the genesis-like premine that funds them: block 0's coinbase pays every one
of them directly (a training-range premine, not a subsidy), and 100 coinbase-only blocks
follow so that those coins are mature before day 0.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from dataclasses import dataclass, field

from bip_utils import SegwitBech32Decoder

from spector.sim.chain._input import ChainInput, ChainMarket, ChainSale, ChainVendor
from spector.sim.chain._keys import P2PKH, P2SH, P2TR, P2WPKH, Key, key_for_payto
from spector.sim.chain._ledger import Coin, Ledger

__all__ = [
    "BLOCKS_PER_DAY",
    "CHIP_MAX_EXP",
    "CHIP_UNIT",
    "COINJOIN_DENOMS",
    "EPOCH",
    "MATURITY",
    "MIXER_ID",
    "MarketState",
    "MixPayout",
    "Sim",
    "VendorState",
]

BLOCKS_PER_DAY = 6
EPOCH = 1_672_531_200  # 2023-01-01T00:00:00Z
MATURITY = 100  # blocks before a coinbase output may be spent
CHIP_UNIT = 100_000  # 0.001 BTC
CHIP_MAX_EXP = 12  # the largest chip is 0.001 * 2**12 = 4.096 BTC
COINJOIN_DENOMS = (50_000_000, 5_000_000, 1_000_000, 100_000)  # Whirlpool pools
MIXER_ID = "ChipMixer"
_BACKGROUND_WALLETS = 96
_COINJOIN_PARTICIPANTS = 40
_SEED_CHIPS = 4  # premined chips per denomination
_EXCHANGE_COINS = 8


@dataclass(eq=False, slots=True)
class MarketState:
    """A market and (unless walletless) its escrow coins and hot wallet."""

    spec: ChainMarket
    stype: int
    period: int  # days between payout batches
    phase: int
    commission_bp: int  # basis points kept by the market
    escrow: list[tuple[Coin, int]] = field(default_factory=list)  # (coin, release day)
    hot: list[Coin] = field(default_factory=list)

    def open_on(self, day: int) -> bool:
        """Whether the market's wallet still pays on ``day``."""
        return self.spec.close_day is None or day < self.spec.close_day


@dataclass(eq=False, slots=True)
class VendorState:
    """A vendor account's wallet and cash-out habits."""

    spec: ChainVendor
    method: str
    exchange: str  # where the actor usually cashes out
    stype: int
    phase: int  # weekday of the weekly cash-out
    payto: Key | None
    coins: list[Coin] = field(default_factory=list)


@dataclass(slots=True)
class MixPayout:
    """Chips the mixer owes a vendor, with the sales whose money went in."""

    vendor: VendorState
    units: int  # in CHIP_UNIT
    sales: dict[str, int]
    deposit: int  # sat deposited
    deposit_address: str


class Sim:
    """All state of one build; flows are functions over it."""

    def __init__(self, inp: ChainInput) -> None:
        self.inp = inp
        self.rng = random.Random(inp.seed)  # a simulation, not cryptography
        self.ledger = Ledger(inp.seed, self.rng, BLOCKS_PER_DAY)
        self.last_day = inp.days - 1
        self.exchange_type = {
            name: (P2WPKH, P2SH, P2PKH)[i % 3] for i, name in enumerate(inp.exchanges)
        }
        self.exchange_hot: dict[str, list[Coin]] = {name: [] for name in inp.exchanges}
        # the hot-wallet address each exchange reuses: its sweeps and withdrawal change pay
        # it and each of its transactions spends a coin of it (see _exchange)
        self.exchange_main: dict[str, Key] = {}
        self.sales = sorted(inp.sales, key=lambda s: (s.day, s.sale_id))
        self.sales_by_day: dict[int, list[ChainSale]] = defaultdict(list)
        self.sale_by_id = {sale.sale_id: sale for sale in self.sales}
        for sale in self.sales:
            self.sales_by_day[sale.day].append(sale)
            self.ledger.paths[sale.sale_id] = []
        rng = self.rng
        self.markets: dict[str, MarketState] = {}
        for market in inp.markets:
            self.markets[market.market_id] = MarketState(
                spec=market,
                stype=rng.choice((P2WPKH, P2WPKH, P2SH, P2PKH)),
                period=rng.randint(1, 3),
                phase=rng.randrange(3),
                commission_bp=rng.choice((400, 500, 500, 600)),
            )
        actors = {a.actor_id: a for a in inp.actors}
        self.vendors: dict[str, VendorState] = {}
        for vendor in inp.vendors:
            if vendor.market_id not in self.markets:
                continue  # no payments on that site
            payto = None
            if vendor.payto_address is not None:
                _, program = SegwitBech32Decoder.Decode("bcrt", vendor.payto_address)
                payto = key_for_payto(
                    inp.seed, vendor.account_id, vendor.payto_address, bytes(program)
                )
            self.vendors[vendor.account_id] = VendorState(
                spec=vendor,
                method=actors[vendor.actor_id].cashout,
                exchange=inp.exchanges[_pick(rng, len(inp.exchanges))],
                stype=rng.choice((P2WPKH, P2WPKH, P2WPKH, P2TR, P2SH)),
                phase=rng.randrange(7),
                payto=payto,
            )
        self.buyer_exchange: dict[str, str] = {}
        self.buyer_type: dict[str, int] = {}
        for sale in self.sales:
            if sale.buyer_id not in self.buyer_exchange:
                self.buyer_exchange[sale.buyer_id] = inp.exchanges[_pick(rng, len(inp.exchanges))]
                self.buyer_type[sale.buyer_id] = rng.choice(
                    (P2WPKH,) * 14 + (P2SH,) * 3 + (P2PKH,) * 2 + (P2TR,)
                )
        self.chips: dict[int, deque[Coin]] = {n: deque() for n in range(CHIP_MAX_EXP + 1)}
        self.mix_due: dict[int, list[MixPayout]] = defaultdict(list)
        # what the mixer paid whom: account, deposit address, txid, paid address, exchange, sat
        self.mix_paid: list[tuple[str, str, str, str, str, int]] = []
        self.cj_wallets: list[list[Coin]] = [[] for _ in range(_COINJOIN_PARTICIPANTS)]
        self.bg_types = [(P2PKH, P2SH, P2WPKH, P2TR)[i % 4] for i in range(_BACKGROUND_WALLETS)]
        self.bg_wallets: list[list[Coin]] = [[] for _ in range(_BACKGROUND_WALLETS)]

    # -- keys ------------------------------------------------------------------------

    def exchange_hot_key(self, name: str) -> Key:
        """A fresh hot-wallet address of exchange ``name``."""
        return self.ledger.new_key(
            f"exchange:{name}:hot", self.exchange_type[name], "exchange", name, "hot_wallet"
        )

    def exchange_main_key(self, name: str) -> Key:
        """Exchange ``name``'s reused hot-wallet address (its first hot key)."""
        key = self.exchange_main.get(name)
        if key is None:
            key = self.exchange_main[name] = self.exchange_hot_key(name)
        return key

    def take_main_coin(self, name: str) -> list[Coin]:
        """Remove the oldest coin at exchange ``name``'s reused address from its hot wallet.

        Returns it in a list, or an empty list if the address holds nothing now.
        """
        main = self.exchange_main_key(name).address
        wallet = self.exchange_hot[name]
        for index, coin in enumerate(wallet):
            if coin.key.address == main:
                return [wallet.pop(index)]
        return []

    def exchange_deposit_key(self, name: str) -> Key:
        """A fresh customer deposit address at exchange ``name``."""
        return self.ledger.new_key(
            f"exchange:{name}:deposit", self.exchange_type[name], "exchange", name, "deposit"
        )

    def vendor_key(self, vendor: VendorState, role: str) -> Key:
        """A fresh address of ``vendor``'s own wallet."""
        spec = vendor.spec
        prefix = f"vendor:{spec.account_id}"
        return self.ledger.new_key(
            prefix, vendor.stype, "vendor", spec.account_id, role, spec.actor_id
        )

    def market_key(self, market: MarketState, role: str) -> Key:
        """A fresh address of ``market``'s wallet (``escrow_deposit`` or ``hot_wallet``)."""
        mid = market.spec.market_id
        prefix = f"market:{mid}:escrow" if role == "escrow_deposit" else f"market:{mid}:hot"
        return self.ledger.new_key(prefix, market.stype, "market", mid, role)

    def mixer_key(self, role: str) -> Key:
        """A fresh mixer address (``deposit``, ``chip`` or ``change``)."""
        return self.ledger.new_key(f"mixer:{role}", P2WPKH, "mixer", MIXER_ID, role)

    def coinjoin_key(self, participant: int, role: str) -> Key:
        """A fresh address of coinjoin participant ``participant``."""
        pid = f"participant-{participant:03d}"
        return self.ledger.new_key(f"coinjoin:{pid}", P2WPKH, "coinjoin", pid, role)

    def background_key(self, wallet: int, role: str) -> Key:
        """A fresh address of background wallet ``wallet``."""
        wid = f"user-{wallet:03d}"
        return self.ledger.new_key(
            f"background:{wid}", self.bg_types[wallet], "background", wid, role
        )

    # -- premine ---------------------------------------------------------------------

    def premine(self) -> list[tuple[Key, int, list[Coin] | deque[Coin]]]:
        """Outputs of block 0's coinbase and the wallet each coin belongs to."""
        rng = self.rng
        need = dict.fromkeys(self.inp.exchanges, 100_000_000)
        for sale in self.sales:
            need[self.buyer_exchange[sale.buyer_id]] += sale.amount_sat * 3 // 2 + 20_000
        out: list[tuple[Key, int, list[Coin] | deque[Coin]]] = []
        for name in self.inp.exchanges:
            share = need[name] // _EXCHANGE_COINS + 1
            out.append((self.exchange_main_key(name), share, self.exchange_hot[name]))
            for _ in range(_EXCHANGE_COINS - 1):
                out.append((self.exchange_hot_key(name), share, self.exchange_hot[name]))
        per_market = dict.fromkeys(self.markets, 0)
        for sale in self.sales:
            per_market[sale.market_id] += 1
        for market_id, market in self.markets.items():
            if not market.spec.walletless:  # operating float: payout fees can exceed commission
                value = 100_000_000 + 5_000 * per_market[market_id]
                out.append((self.market_key(market, "hot_wallet"), value, market.hot))
        for n in range(CHIP_MAX_EXP + 1):
            for _ in range(_SEED_CHIPS):
                out.append((self.mixer_key("chip"), CHIP_UNIT << n, self.chips[n]))
        for p, wallet in enumerate(self.cj_wallets):
            for base in (60_000_000, 6_000_000, 1_200_000, 150_000):
                for _ in range(2):
                    value = base + rng.randrange(base // 10)
                    out.append((self.coinjoin_key(p, "premix"), value, wallet))
        for w, wallet in enumerate(self.bg_wallets):
            for _ in range(3):
                value = rng.randint(5_000_000, 200_000_000)
                out.append((self.background_key(w, "receive"), value, wallet))
        return out


def _pick(rng: random.Random, n: int) -> int:
    """An index in 0..n-1 skewed toward the front (popular exchanges get more users)."""
    return min(int(rng.expovariate(1.0) * n / 2), n - 1)
