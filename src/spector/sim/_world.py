"""The world of the training range: actors, markets, accounts, listings, sales, feedback.

``generate_world(seed, scale)`` is a pure function of its arguments: it uses one
``random.Random(seed)`` and no clock, so the same seed gives the same world.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from spector.model import Market, VendorAccount, onion_address_from_key
from spector.sim import _vocab as V

__all__ = [
    "COUNTRIES",
    "EPOCH",
    "FAMILIES",
    "PLACEHOLDER",
    "SCALES",
    "Scale",
    "SimAccount",
    "SimActor",
    "SimFeedback",
    "SimListing",
    "SimMarket",
    "SimMember",
    "SimPost",
    "SimSale",
    "SimThread",
    "World",
    "generate_world",
    "placeholder",
]

EPOCH = datetime(2023, 1, 1, tzinfo=UTC)  # day 0 of every range
FAMILIES = ("escrow", "hydra", "walletless", "bots", "forum")
CASHOUTS = ("direct", "peel", "mixer", "coinjoin")
COUNTRIES = ["NL", "DE", "GB", "US", "FR", "ES", "PL", "CA", "AU", "RU"]
# The absurd price a listing shows while it is "holding" (out of stock, kept up so its
# reviews stay): the same six nines in each market's currency, as vendors type it;
# 999,999 RUB is about 13,333 USD, over ten times the dearest Hydra listing.
PLACEHOLDER = {"USD": Decimal("999999.00"), "RUB": Decimal("999999")}


@dataclass(frozen=True)
class Scale:
    name: str
    days: int
    actors: int
    markets: dict[str, int]  # family -> how many sites
    listings_per_account: tuple[int, int]
    sales_per_listing_day: float
    feedback_share: float
    forum_members: int
    forum_threads: int
    chain_sales_cap: int  # sales paid on the chain (all of them below the cap)


_ALL = {"escrow": 1, "hydra": 1, "walletless": 1, "bots": 1, "forum": 1}
SCALES = {
    "tiny": Scale(
        "tiny",
        days=30,
        actors=12,
        markets=_ALL,
        listings_per_account=(2, 4),
        sales_per_listing_day=0.25,
        feedback_share=0.7,
        forum_members=15,
        forum_threads=6,
        chain_sales_cap=10**9,
    ),
    "small": Scale(
        "small",
        days=90,
        actors=150,
        markets={**_ALL, "escrow": 2},
        listings_per_account=(3, 8),
        sales_per_listing_day=0.2,
        feedback_share=0.65,
        forum_members=120,
        forum_threads=40,
        chain_sales_cap=10**9,
    ),
    # Hydra's size: ~19,000 vendor accounts, millions of sales and feedback rows. The chain
    # carries the first 100,000 sales (truth says how many: counts.sales_on_chain).
    "hydra": Scale(
        "hydra",
        days=120,
        actors=10_000,
        markets={**_ALL, "escrow": 3},
        listings_per_account=(3, 10),
        sales_per_listing_day=0.3,
        feedback_share=0.6,
        forum_members=2000,
        forum_threads=400,
        chain_sales_cap=100_000,
    ),
}


@dataclass
class SimActor:
    actor_id: str
    name: str
    ships_from: str
    categories: list[str]
    phrases: list[str]
    emoji: str
    shipping_term: str
    exclaim: bool
    pgp_policy: str  # shared, rotate, none
    cashout: str
    popularity: float
    shill: bool


@dataclass
class SimMarket:
    market_id: str
    name: str
    family: str
    onions: list[str]  # main address first, then mirrors
    currency: str
    open_day: int
    close_day: int | None  # seized or exit-scammed on this day
    fate: str  # active, seized, exit_scam
    username: str  # the crawler's login on this site
    password: str


@dataclass
class SimAccount:
    account_id: str
    market_id: str
    actor_id: str
    handle: str
    variant: str  # how the handle was derived from the actor's name (truth for linking)
    pgp_secret: str | None  # seed of the account's PGP key (shared across accounts if shared)
    joined_day: int
    profile_text: str
    btc_payto: str | None = None
    xmr_payto: str | None = None
    contacts: list[str] = field(default_factory=list)
    impostor_of: str | None = None  # the actor an impostor copies (spector.sim._impostors)


@dataclass
class SimListing:
    listing_id: str
    market_id: str
    account_id: str
    ref: str  # the market's own id for the listing
    title: str
    category: str
    price: Decimal  # in the market's currency
    price_usd: Decimal
    quantity: Decimal
    unit: str
    ships_from: str
    ships_to: list[str]
    start_day: int
    end_day: int  # exclusive
    extra: dict[str, str] = field(default_factory=dict)
    holding: bool = False  # shows PLACEHOLDER from holding_day on (spector.sim._holding)
    holding_day: int | None = None

    def shown(self, day: int, currency: str) -> tuple[Decimal, Decimal]:
        """(price, price in USD) as the pages show them on ``day``: the placeholder once
        the listing is holding, else the real price (``price``, ``price_usd``)."""
        if self.holding_day is not None and day >= self.holding_day:
            return placeholder(currency)
        return self.price, self.price_usd


def placeholder(currency: str) -> tuple[Decimal, Decimal]:
    """The holding price in ``currency`` and in USD (at the range's 75 RUB per USD)."""
    price = PLACEHOLDER[currency]
    usd = price if currency == "USD" else (price / Decimal("75.00")).quantize(Decimal("0.01"))
    return price, usd


@dataclass
class SimSale:
    sale_id: str
    listing_id: str
    market_id: str
    account_id: str
    buyer_id: str
    day: int
    amount_usd: Decimal
    amount_sat: int


@dataclass
class SimFeedback:
    feedback_id: str
    market_id: str
    listing_id: str
    account_id: str
    sale_id: str | None  # None for shill feedback
    day: int
    second: int  # seconds into the day
    rating: int  # 1..5
    text: str
    buyer_mask: str


@dataclass
class SimMember:
    member_id: str
    market_id: str
    name: str
    actor_id: str | None
    joined_day: int


@dataclass
class SimThread:
    thread_id: str
    market_id: str
    board: str
    title: str
    day: int


@dataclass
class SimPost:
    post_id: str
    thread_id: str
    member_id: str
    day: int
    text: str
    media: list[str]  # links to images / video the crawler must not fetch


@dataclass
class World:
    seed: int
    scale: Scale
    actors: list[SimActor]
    markets: list[SimMarket]
    accounts: list[SimAccount]
    listings: list[SimListing]
    sales: list[SimSale]
    feedback: list[SimFeedback]
    members: list[SimMember]
    threads: list[SimThread]
    posts: list[SimPost]
    btc_usd: list[Decimal]  # per day
    rub_usd: Decimal

    @property
    def days(self) -> int:
        return self.scale.days

    def market(self, market_id: str) -> SimMarket:
        return next(m for m in self.markets if m.market_id == market_id)


def _id(prefix: str, seed: int, *parts: object) -> str:
    text = "|".join(str(p) for p in (seed, *parts))
    return f"{prefix}{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _onion(seed: int, label: str) -> str:
    return onion_address_from_key(hashlib.sha256(f"onion|{seed}|{label}".encode()).digest())


def _cents(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def generate_world(seed: int, scale_name: str) -> World:
    """The world for ``seed`` at ``scale_name`` (tiny, small, hydra)."""
    scale = SCALES[scale_name]
    rng = random.Random(seed)
    btc_usd = _btc_rates(rng, scale.days)
    markets = _markets(rng, seed, scale)
    actors = _actors(rng, seed, scale)
    accounts = _accounts(rng, seed, scale, actors, markets)
    listings = _listings(rng, seed, scale, actors, accounts, markets, btc_usd)
    sales, feedback = _sales(rng, seed, scale, actors, accounts, listings, markets, btc_usd)
    members, threads, posts = _forum(rng, seed, scale, actors, accounts, markets)
    world = World(
        seed,
        scale,
        actors,
        markets,
        accounts,
        listings,
        sales,
        feedback,
        members,
        threads,
        posts,
        btc_usd,
        Decimal("75.00"),
    )
    # Later additions, each with its own random stream, so the rows above stay as they
    # were: holding prices on existing listings, then impostors appended after every row.
    from spector.sim._holding import mark_holding
    from spector.sim._impostors import add_impostors

    mark_holding(world)
    add_impostors(world)
    return world


def _btc_rates(rng: random.Random, days: int) -> list[Decimal]:
    price, out = 20000.0, []
    for _ in range(days):
        price *= math.exp(rng.gauss(0, 0.025))
        out.append(_cents(price))
    return out


def _markets(rng: random.Random, seed: int, scale: Scale) -> list[SimMarket]:
    taken: set[str] = set()
    result = []
    for family in FAMILIES:
        for i in range(scale.markets[family]):
            name = V.market_name(rng, taken)
            mid = Market(name=name).id
            onions = [_onion(seed, f"{name}:{k}") for k in range(1 + rng.randint(1, 2))]
            close = None
            fate = "active"
            opens = 0
            if scale.name != "tiny" and i > 0:  # later markets open later, then fall
                opens = rng.randint(1, scale.days // 4)
                close = rng.randint(scale.days // 2, scale.days - 5)
                fate = rng.choice(["seized", "exit_scam"])
            result.append(
                SimMarket(
                    market_id=mid,
                    name=name,
                    family=family,
                    onions=onions,
                    currency="RUB" if family == "hydra" else "USD",
                    open_day=opens,
                    close_day=close,
                    fate=fate,
                    username=f"analyst{rng.randint(100, 999)}",
                    password=hashlib.sha256(f"pw|{seed}|{name}".encode()).hexdigest()[:16],
                )
            )
    return result


def _actors(rng: random.Random, seed: int, scale: Scale) -> list[SimActor]:
    taken: set[str] = set()
    countries = COUNTRIES
    actors = []
    for i in range(scale.actors):
        cats = rng.sample([c[0] for c in V.CATEGORY_PLAN], rng.randint(1, 3))
        actors.append(
            SimActor(
                actor_id=_id("actor-", seed, i),
                name=V.invent_handle(rng, taken),
                ships_from=rng.choice(countries),
                categories=cats,
                phrases=rng.sample(V.PHRASES, 2),
                emoji=rng.choice(V.EMOJI),
                shipping_term=rng.choice(V.SHIPPING_TERMS),
                exclaim=rng.random() < 0.3,
                pgp_policy=rng.choices(["shared", "rotate", "none"], [0.6, 0.3, 0.1])[0],
                cashout=CASHOUTS[i % len(CASHOUTS)],
                popularity=rng.lognormvariate(0, 0.7),
                shill=rng.random() < 0.1,
            )
        )
    return actors


def _accounts(
    rng: random.Random,
    seed: int,
    scale: Scale,
    actors: list[SimActor],
    markets: list[SimMarket],
) -> list[SimAccount]:
    from spector.sim.chain import payto_address

    selling = [m for m in markets if m.family not in ("forum", "bots")]
    taken: dict[str, set[str]] = {m.market_id: set() for m in selling}
    accounts = []
    telegram: dict[str, int] = {}  # one contact handle per actor, on every market it shows one
    for actor in actors:
        n = min(len(selling), rng.choices([1, 2, 3, 4], [0.45, 0.3, 0.15, 0.1])[0])
        chosen = rng.sample(selling, n)
        for k, market in enumerate(chosen):
            if k == 0 and actor.name.casefold() not in taken[market.market_id]:
                handle, how = actor.name, "same"
                taken[market.market_id].add(handle.casefold())
            else:
                handle, how = V.handle_variant(rng, actor.name, taken[market.market_id])
            if actor.pgp_policy == "none":
                secret = None
            elif actor.pgp_policy == "shared":
                secret = f"{seed}|{actor.actor_id}|key"
            else:
                secret = f"{seed}|{actor.actor_id}|key|{k}"
            text = _profile_text(actor)
            aid = VendorAccount(market_id=market.market_id, handle=handle).id
            account = SimAccount(
                account_id=aid,
                market_id=market.market_id,
                actor_id=actor.actor_id,
                handle=handle,
                variant=how,
                pgp_secret=secret,
                joined_day=rng.randint(market.open_day, max(market.open_day, scale.days // 4)),
                profile_text=text,
            )
            if market.family == "walletless":
                account.btc_payto = payto_address(seed, f"vendor:{aid}:payto")
                account.xmr_payto = _xmr_address(seed, aid)
            if rng.random() < 0.3:
                number = telegram.setdefault(actor.actor_id, rng.randint(10, 99))
                account.contacts.append(f"telegram:{actor.name.lower()[:20]}_{number}")
            accounts.append(account)
    for market in markets:
        if market.family == "bots":  # the shop sells its own stock, as Genesis did
            accounts.append(
                SimAccount(
                    account_id=VendorAccount(market_id=market.market_id, handle=market.name).id,
                    market_id=market.market_id,
                    actor_id=f"operator-{market.market_id}",
                    handle=market.name,
                    variant="operator",
                    pgp_secret=None,
                    joined_day=0,
                    profile_text=f"{market.name}: automated store",
                )
            )
    return accounts


def _profile_text(actor: SimActor) -> str:
    bang = "!!" if actor.exclaim else "."
    return (
        f"Welcome to {actor.name}{bang} {actor.phrases[0].capitalize()}{bang} "
        f"Shipping from {actor.ships_from}: {actor.shipping_term}{bang} "
        f"{actor.phrases[1].capitalize()}{bang} {actor.emoji}"
    ).strip()


def _xmr_address(seed: int, label: str) -> str:
    from bip_utils import Base58XmrEncoder, Kekkak256

    # Testnet network byte 53: visibly not a mainnet address.
    body = bytes([53]) + hashlib.sha256(f"xmr|{seed}|{label}".encode()).digest() * 2
    return str(Base58XmrEncoder.Encode(body + bytes(Kekkak256.QuickDigest(body))[:4]))


def _listings(
    rng: random.Random,
    seed: int,
    scale: Scale,
    actors: list[SimActor],
    accounts: list[SimAccount],
    markets: list[SimMarket],
    btc_usd: list[Decimal],
) -> list[SimListing]:
    by_actor = {a.actor_id: a for a in actors}
    by_market = {m.market_id: m for m in markets}
    plan = {c[0]: c for c in V.CATEGORY_PLAN}
    result = []
    counter: dict[str, int] = {}
    for account in accounts:
        market = by_market[account.market_id]
        if market.family == "bots":
            stock = scale.actors * 3
            for _ in range(stock):
                n = counter[market.market_id] = counter.get(market.market_id, 0) + 1
                start = rng.randrange(scale.days)
                result.append(_bot_listing(rng, seed, account, market, n, start, scale.days))
            continue
        actor = by_actor[account.actor_id]
        for _ in range(rng.randint(*scale.listings_per_account)):
            n = counter[market.market_id] = counter.get(market.market_id, 0) + 1
            start = rng.randint(account.joined_day, max(account.joined_day, scale.days * 2 // 3))
            end = min(scale.days, start + rng.randint(scale.days // 3, scale.days))
            code, noun, units, (lo, hi) = plan[rng.choice(actor.categories)]
            unit, quantities = units[0]
            qty = Decimal(rng.choice(quantities))
            usd = _cents(float(qty) * rng.uniform(lo, hi))
            letter = "ABCDEFGH"[rng.randrange(8)]
            grade = rng.choice(["high purity", "lab tested", "premium", "standard"])
            title = f"{noun} {letter} {qty}{unit}, {grade}"
            extra: dict[str, str] = {}
            price = usd
            if market.family == "hydra":
                city = rng.choice(sorted(V.CITIES))
                extra = {
                    "city": city,
                    "district": rng.choice(V.CITIES[city]),
                    "drop": rng.choice(V.DROP_TYPES),
                }
                price = (usd * Decimal("75.00")).quantize(Decimal("1"))
                title = f"{noun} {letter} {qty}{'г' if unit == 'g' else 'шт'}"
            ships_to = (
                ["WW"] if rng.random() < 0.3 else rng.sample(["EU", "GB", "US", "CA", "AU"], 2)
            )
            if market.family == "hydra":
                ships_to = ["RU"]
            result.append(
                SimListing(
                    listing_id=_id("L", seed, market.market_id, n),
                    market_id=market.market_id,
                    account_id=account.account_id,
                    ref=str(1000 + n),
                    title=title,
                    category=code,
                    price=price,
                    price_usd=usd,
                    quantity=qty,
                    unit=unit,
                    ships_from="RU" if market.family == "hydra" else actor.ships_from,
                    ships_to=sorted(ships_to),
                    start_day=start,
                    end_day=end,
                    extra=extra,
                )
            )
    return result


def _bot_listing(
    rng: random.Random,
    seed: int,
    account: SimAccount,
    market: SimMarket,
    n: int,
    start: int,
    end: int,
) -> SimListing:
    country = rng.choice(["US", "GB", "DE", "FR", "IT", "ES", "CA", "BR", "IN", "PL"])
    os_name = rng.choice(["Windows 10", "Windows 11", "macOS 13", "Android 12"])
    cookies, logins = rng.randint(50, 4000), rng.randint(1, 120)
    usd = _cents(rng.uniform(0.7, 70))
    return SimListing(
        listing_id=_id("L", seed, market.market_id, n),
        market_id=market.market_id,
        account_id=account.account_id,
        ref=f"B{100000 + n}",
        title=f"Bot {country} {os_name} ({cookies} cookies, {logins} logins)",
        category="fraud.bots",
        price=usd,
        price_usd=usd,
        quantity=Decimal(1),
        unit="pcs",
        ships_from=country,
        ships_to=["WW"],
        start_day=start,
        end_day=end,
        extra={"country": country, "os": os_name, "cookies": str(cookies), "logins": str(logins)},
    )


def _sales(
    rng: random.Random,
    seed: int,
    scale: Scale,
    actors: list[SimActor],
    accounts: list[SimAccount],
    listings: list[SimListing],
    markets: list[SimMarket],
    btc_usd: list[Decimal],
) -> tuple[list[SimSale], list[SimFeedback]]:
    by_actor = {a.actor_id: a for a in actors}
    by_account = {a.account_id: a for a in accounts}
    by_market = {m.market_id: m for m in markets}
    sales: list[SimSale] = []
    feedback: list[SimFeedback] = []
    for listing in listings:
        account = by_account[listing.account_id]
        market = by_market[listing.market_id]
        last = (
            listing.end_day if market.close_day is None else min(listing.end_day, market.close_day)
        )
        if market.family == "bots":
            _sell_bot(rng, seed, listing, last, sales, btc_usd)
            continue
        actor = by_actor[account.actor_id]
        visible_until = min(scale.days, market.close_day or scale.days)
        rate = scale.sales_per_listing_day * actor.popularity
        russian = market.family == "hydra"
        for day in range(listing.start_day, last):
            for _ in range(_poisson(rng, rate)):
                n = len(sales)
                sale = SimSale(
                    sale_id=_id("S", seed, n),
                    listing_id=listing.listing_id,
                    market_id=listing.market_id,
                    account_id=listing.account_id,
                    buyer_id=_id("B", seed, rng.randrange(scale.actors * 20)),
                    day=day,
                    amount_usd=listing.price_usd,
                    amount_sat=int(listing.price_usd / btc_usd[day] * 100_000_000),
                )
                sales.append(sale)
                if rng.random() < scale.feedback_share:
                    fb = _feedback(rng, seed, len(feedback), listing, sale.sale_id, day, russian)
                    if fb.day < visible_until:  # left before the range ends or the market closes
                        feedback.append(fb)
            if actor.shill and rng.random() < 0.3:
                fb = _feedback(rng, seed, len(feedback), listing, None, day, russian)
                if fb.day < visible_until:
                    feedback.append(fb)
    return sales, feedback


def _sell_bot(
    rng: random.Random,
    seed: int,
    listing: SimListing,
    last: int,
    sales: list[SimSale],
    btc_usd: list[Decimal],
) -> None:
    """A bot is sold once, then leaves the shop."""
    if last <= listing.start_day or rng.random() < 0.4:
        return
    day = rng.randrange(listing.start_day, last)
    listing.end_day = day + 1
    sales.append(
        SimSale(
            sale_id=_id("S", seed, len(sales)),
            listing_id=listing.listing_id,
            market_id=listing.market_id,
            account_id=listing.account_id,
            buyer_id=_id("B", seed, rng.randrange(10_000)),
            day=day,
            amount_usd=listing.price_usd,
            amount_sat=int(listing.price_usd / btc_usd[day] * 100_000_000),
        )
    )


def _feedback(
    rng: random.Random,
    seed: int,
    n: int,
    listing: SimListing,
    sale_id: str | None,
    day: int,
    russian: bool,
) -> SimFeedback:
    fb_day = day + rng.randint(1, 6)
    text = rng.choice(V.FEEDBACK_RU if russian else V.FEEDBACK_EN)
    rating = 5 if sale_id is None else rng.choices([5, 4, 3, 2, 1], [70, 15, 7, 4, 4])[0]
    buyer = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 9)))
    return SimFeedback(
        feedback_id=_id("F", seed, n),
        market_id=listing.market_id,
        listing_id=listing.listing_id,
        account_id=listing.account_id,
        sale_id=sale_id,
        day=fb_day,
        second=rng.randrange(86400),
        rating=rating,
        text=text,
        buyer_mask=f"{buyer[0]}***{buyer[-1]}",
    )


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _forum(
    rng: random.Random,
    seed: int,
    scale: Scale,
    actors: list[SimActor],
    accounts: list[SimAccount],
    markets: list[SimMarket],
) -> tuple[list[SimMember], list[SimThread], list[SimPost]]:
    forum = next(m for m in markets if m.family == "forum")
    members = []
    taken: set[str] = set()
    for i in range(scale.forum_members):
        actor = actors[i] if i < len(actors) and rng.random() < 0.4 else None
        name = (
            actor.name
            if actor and actor.name.casefold() not in taken
            else V.invent_handle(rng, taken)
        )
        taken.add(name.casefold())
        members.append(
            SimMember(
                _id("M", seed, i),
                forum.market_id,
                name,
                actor.actor_id if actor and name == actor.name else None,
                0 if i == 0 else rng.randrange(scale.days),
            )
        )
    threads, posts = [], []
    boards = ["general", "reviews", "security"]
    for t in range(scale.forum_threads):
        day = rng.randrange(scale.days)
        thread = SimThread(
            _id("T", seed, t),
            forum.market_id,
            boards[t % len(boards)],
            rng.choice(V.FORUM_PHRASES).rstrip("?.!"),
            day,
        )
        threads.append(thread)
        for p in range(rng.randint(2, 12)):
            post_day = min(scale.days - 1, day + p // 3)
            authors = [m for m in members if m.joined_day <= post_day]  # member 0 joined on day 0
            media = []
            if rng.random() < 0.3:
                media.append(f"/media/{_id('img', seed, t, p)}.jpg")
            if rng.random() < 0.1:
                media.append(f"/media/{_id('vid', seed, t, p)}.mp4")
            posts.append(
                SimPost(
                    _id("P", seed, t, p),
                    thread.thread_id,
                    rng.choice(authors).member_id,
                    post_day,
                    rng.choice(V.FORUM_PHRASES),
                    media,
                )
            )
    return members, threads, posts
