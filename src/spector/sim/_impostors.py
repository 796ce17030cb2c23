"""Impostors: accounts that copy a popular vendor on another market, as scammers do.

After a takedown (or simply once a vendor is well known) scammers open an account on
another market under the vendor's name, paste its profile and titles, undercut its prices,
take a few orders and deliver nothing. A resolver must not merge such an account with the
vendor it copies. ``add_impostors(world)`` appends them to a world, after every existing
row and with their own ``random.Random(f"{seed}|impostors")``: every account, listing,
sale and feedback row the world had stays exactly as it was.

Each impostor (actor id ``impostor-<n>``, ``SimAccount.impostor_of`` = the copied actor):

- copies one of the ``max(1, round(actors / 10))`` most popular actors (by popularity),
  taking that actor's account with the most sales (one on a market that closed first);
- opens on another English selling market (escrow or walletless) that is open then,
  preferring one where the actor has no account; joins late: a few days after the copied
  account's market closed where it did, else in the last two fifths of the range;
- takes the copied handle exactly when it is free on that market, else a close variant
  ("NorthStar_") or a Unicode-confusable spelling (Cyrillic "а" for Latin "a");
- pastes the profile text verbatim or nearly (a sentence added, the punctuation changed);
- has its own PGP key (a new secret; the User ID is its handle), never the vendor's,
  and no contact (no telegram handle, so no shared selector);
- lists 2-4 of the copied account's titles in their categories at 35-60 % of the price,
  shipping from a country that is not the vendor's, to the whole world;
- makes a few sales (paid on the chain like any other), most feedback 1-star.

Signals that tell an impostor from a genuine vendor who rotates keys (``pgp_policy``
"rotate": one key per account), both of which show the same handle and profile text
under a new key:

- ships-from: a genuine vendor ships from its one country on every market (Hydra's shops
  from RU, as that market's rules say); an impostor from another country;
- product mix and prices: a genuine vendor's listings are its own categories at the
  category's usual price levels; an impostor's are the same titles at about half price;
- contacts: a genuine vendor that shows a contact shows the same one on every market (one
  telegram handle per actor); an impostor shows none;
- activity and reputation: an impostor appears late, sells little and gets 1-star
  feedback; its pay-to address (walletless markets) cashes out on its own, never joining
  the vendor's chain cluster.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from decimal import Decimal

from spector.model import VendorAccount
from spector.sim._world import (
    COUNTRIES,
    SimAccount,
    SimActor,
    SimFeedback,
    SimListing,
    SimMarket,
    SimSale,
    World,
    _cents,
    _id,
    _xmr_address,
)

__all__ = ["CONFUSABLE", "IMPOSTOR_SHARE", "SCAM_FEEDBACK", "add_impostors"]

IMPOSTOR_SHARE = 0.1  # impostors per actor
# Latin letters and the Cyrillic letters drawn like them (each listed as confusable in
# Unicode's confusables table; the tests check it).
CONFUSABLE = {
    "a": "а",
    "c": "с",
    "e": "е",
    "o": "о",
    "p": "р",
    "x": "х",
    "y": "у",
    "i": "і",
    "A": "А",
    "B": "В",
    "C": "С",
    "E": "Е",
    "H": "Н",
    "K": "К",
    "M": "М",
    "O": "О",
    "P": "Р",
    "T": "Т",
    "X": "Х",
}
_VARIANT_TAILS = ["_", "__", "1", "2", "_new", "_back", "x", "-official", "_shop"]
_PROFILE_ADDITIONS = [
    "New account, same team.",
    "Back after the takedown, same quality.",
    "Our old market went down, we moved here.",
    "Only official account, beware of fakes.",
]
SCAM_FEEDBACK = [
    "never arrived",
    "no reply after payment",
    "scam, paid and got nothing",
    "tracking fake, nothing came",
    "vendor vanished after finalize",
    "empty envelope",
    "avoid, not the real vendor",
]
_PRAISE = ["all good", "arrived, thanks"]  # the odd buyer it did deliver to, or a shill
_ENGLISH = ("escrow", "walletless")


def add_impostors(world: World) -> list[SimAccount]:
    """Append the impostors' accounts, listings, sales and feedback to ``world`` (see the
    module doc); return the new accounts."""
    rng = random.Random(f"{world.seed}|impostors")
    want = max(1, round(len(world.actors) * IMPOSTOR_SHARE))
    markets = {m.market_id: m for m in world.markets}
    sales_of: Counter[str] = Counter(s.account_id for s in world.sales)
    accounts_of: dict[str, list[SimAccount]] = defaultdict(list)
    taken: dict[str, set[str]] = defaultdict(set)
    for a in world.accounts:
        accounts_of[a.actor_id].append(a)
        taken[a.market_id].add(a.handle.casefold())
    listings_of: dict[str, list[SimListing]] = defaultdict(list)
    next_n: Counter[str] = Counter()
    for x in world.listings:
        listings_of[x.account_id].append(x)
        next_n[x.market_id] += 1
    added: list[SimAccount] = []
    ranked = sorted(world.actors, key=lambda a: (-a.popularity, a.actor_id))
    for actor in ranked:
        if len(added) == want:
            break
        mine = [a for a in accounts_of[actor.actor_id] if listings_of[a.account_id]]
        if not mine:
            continue
        source = min(
            mine,
            key=lambda a: (markets[a.market_id].close_day is None, -sales_of[a.account_id]),
        )
        joined = _join_day(rng, world, markets[source.market_id])
        target = _target(rng, world, actor, source, accounts_of[actor.actor_id], joined)
        if target is None:
            continue
        n = len(added)
        account = _account(rng, world, n, actor, source, target, joined, taken[target.market_id])
        world.accounts.append(account)
        added.append(account)
        pool = listings_of[source.account_id]
        copied = rng.sample(pool, min(len(pool), rng.randint(2, 4)))
        skip = {actor.ships_from, "RU", *(x.ships_from for x in pool)}
        ships_from = rng.choice([c for c in COUNTRIES if c not in skip])
        new = []
        for original in copied:
            next_n[target.market_id] += 1
            new.append(
                _listing(
                    rng, world, account, target, original, ships_from, next_n[target.market_id]
                )
            )
        world.listings.extend(new)
        _sell(rng, world, target, new)
    return added


def _join_day(rng: random.Random, world: World, source: SimMarket) -> int:
    days = world.days
    if source.close_day is not None:  # after the takedown (or the exit scam)
        return min(days - 3, source.close_day + rng.randint(1, 7))
    return rng.randint(days * 3 // 5, days - 6)


def _target(
    rng: random.Random,
    world: World,
    actor: SimActor,
    source: SimAccount,
    own: list[SimAccount],
    joined: int,
) -> SimMarket | None:
    """Another English selling market open from ``joined`` for a few days at least; one
    without an account of the actor when there is one."""
    open_then = [
        m
        for m in world.markets
        if m.family in _ENGLISH
        and m.market_id != source.market_id
        and m.open_day <= joined
        and (m.close_day is None or m.close_day > joined + 3)
    ]
    if not open_then:
        return None
    present = {a.market_id for a in own}
    free = [m for m in open_then if m.market_id not in present]
    still_open = [m for m in (free or open_then) if m.close_day is None]
    return rng.choice(still_open or free or open_then)


def _account(
    rng: random.Random,
    world: World,
    n: int,
    actor: SimActor,
    source: SimAccount,
    market: SimMarket,
    joined: int,
    taken: set[str],
) -> SimAccount:
    from spector.sim.chain import payto_address

    handle, how = _handle(rng, source.handle, taken)
    text = _profile(rng, source.profile_text, source.handle, handle)
    aid = VendorAccount(market_id=market.market_id, handle=handle).id
    account = SimAccount(
        account_id=aid,
        market_id=market.market_id,
        actor_id=f"impostor-{n}",
        handle=handle,
        variant=f"impostor:{how}",
        pgp_secret=f"{world.seed}|impostor-{n}|key",
        joined_day=joined,
        profile_text=text,
        impostor_of=actor.actor_id,
    )
    if market.family == "walletless":
        account.btc_payto = payto_address(world.seed, f"vendor:{aid}:payto")
        account.xmr_payto = _xmr_address(world.seed, aid)
    return account


def _handle(rng: random.Random, base: str, taken: set[str]) -> tuple[str, str]:
    """The copied handle when free; else a confusable spelling or a close variant."""
    if base.casefold() not in taken:
        taken.add(base.casefold())
        return base, "same"
    for _ in range(50):
        spots = [i for i, ch in enumerate(base) if ch in CONFUSABLE]
        if spots and rng.random() < 0.5:
            chosen = set(rng.sample(spots, min(len(spots), rng.randint(1, 2))))
            name = "".join(CONFUSABLE[ch] if i in chosen else ch for i, ch in enumerate(base))
            how = "confusable"
        else:
            name, how = base + rng.choice(_VARIANT_TAILS), "variant"
        if name.casefold() not in taken:
            taken.add(name.casefold())
            return name, how
    name = f"{base}_{len(taken)}"  # every nearby spelling taken (not seen in practice)
    taken.add(name.casefold())
    return name, "variant"


def _profile(rng: random.Random, text: str, copied: str, handle: str) -> str:
    """The copied profile, verbatim or nearly."""
    if rng.random() < 0.5:
        return text
    edits = rng.sample(["name", "add", "punct"], rng.randint(1, 2))
    if "name" in edits:
        text = text.replace(copied, handle)
    if "punct" in edits:
        text = text.replace("!!", "!") if "!!" in text else text.replace(". ", "! ")
    if "add" in edits:
        text = f"{text} {rng.choice(_PROFILE_ADDITIONS)}"
    return text


def _listing(
    rng: random.Random,
    world: World,
    account: SimAccount,
    market: SimMarket,
    original: SimListing,
    ships_from: str,
    n: int,
) -> SimListing:
    """``original``'s title and category at 35-60 % of its price, from ``ships_from``."""
    title = original.title
    if original.extra.get("city"):  # a Hydra shop's title: written as English markets do
        title = title.rsplit(" ", 1)[0] + f" {original.quantity}{original.unit}"
    usd = max(Decimal("1.00"), _cents(float(original.price_usd) * rng.uniform(0.35, 0.6)))
    start = rng.randint(account.joined_day, min(account.joined_day + 2, world.days - 2))
    return SimListing(
        listing_id=_id("L", world.seed, market.market_id, n),
        market_id=market.market_id,
        account_id=account.account_id,
        ref=str(1000 + n),
        title=title,
        category=original.category,
        price=usd,
        price_usd=usd,
        quantity=original.quantity,
        unit=original.unit,
        ships_from=ships_from,
        ships_to=["WW"],
        start_day=start,
        end_day=world.days,
    )


def _sell(rng: random.Random, world: World, market: SimMarket, listings: list[SimListing]) -> None:
    """A few sales over the impostor's listings; most buyers leave 1 star, soon."""
    visible_until = min(world.days, market.close_day or world.days)
    for _ in range(rng.randint(2, 5)):
        x = rng.choice(listings)
        last = min(x.end_day, visible_until)
        if last <= x.start_day:
            continue
        early = min(last, visible_until - 3)  # its buyers have time to say what came
        day = rng.randrange(x.start_day, early if early > x.start_day else last)
        sale = SimSale(
            sale_id=_id("S", world.seed, len(world.sales)),
            listing_id=x.listing_id,
            market_id=x.market_id,
            account_id=x.account_id,
            buyer_id=_id("B", world.seed, rng.randrange(world.scale.actors * 20)),
            day=day,
            amount_usd=x.price_usd,
            amount_sat=int(x.price_usd / world.btc_usd[day] * 100_000_000),
        )
        world.sales.append(sale)
        if rng.random() < 0.15:  # most buyers of a scam say so
            continue
        fb_day = day + rng.randint(1, 3)
        rating = rng.choices([1, 2, 3, 5], [75, 10, 5, 10])[0]
        buyer = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 9)))
        if fb_day >= visible_until:
            continue
        world.feedback.append(
            SimFeedback(
                feedback_id=_id("F", world.seed, len(world.feedback)),
                market_id=x.market_id,
                listing_id=x.listing_id,
                account_id=x.account_id,
                sale_id=sale.sale_id,
                day=fb_day,
                second=rng.randrange(86400),
                rating=rating,
                text=rng.choice(SCAM_FEEDBACK if rating < 3 else _PRAISE),
                buyer_mask=f"{buyer[0]}***{buyer[-1]}",
            )
        )
