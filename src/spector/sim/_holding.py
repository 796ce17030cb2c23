"""Holding prices: listings that show an absurd placeholder price while out of stock.

Vendors on real markets keep a listing up when they run out (its reviews and rank stay)
and set its price to something nobody pays: 999,999 USD. Counting such a price as a sale
price would inflate any revenue estimate (Soska & Christin 2015 drop them). ``mark_holding``
picks ``HOLDING_SHARE`` of the listings of the selling markets (not the bot shop), with its
own ``random.Random(f"{seed}|holding")``, among those with no sale from some day on, and
sets ``holding`` and ``holding_day``: from that day the pages show
``spector.sim._world.PLACEHOLDER`` in the market's currency; every sale the listing had
came before, at its real price (``price``, ``price_usd``, which the truth keeps). Listings
still live on the range's last day are chosen first (a holding listing stays up: that is
why it holds). Nothing else in the world changes.
"""

from __future__ import annotations

import random

from spector.sim._world import SimListing, World

__all__ = ["HOLDING_SHARE", "mark_holding"]

HOLDING_SHARE = 0.03
_SELLING = ("escrow", "hydra", "walletless")


def mark_holding(world: World) -> list[SimListing]:
    """Mark the holding listings of ``world`` (see the module doc); return them."""
    rng = random.Random(f"{world.seed}|holding")
    markets = {m.market_id: m for m in world.markets}
    last_sale: dict[str, int] = {}
    for s in world.sales:
        last_sale[s.listing_id] = max(s.day, last_sale.get(s.listing_id, -1))
    selling = [x for x in world.listings if markets[x.market_id].family in _SELLING]
    want = max(1, round(len(selling) * HOLDING_SHARE)) if selling else 0
    windows: dict[str, tuple[int, int]] = {}  # listing -> first and last day it may hold from
    for x in selling:
        close = markets[x.market_id].close_day
        shown_until = min(x.end_day, close if close is not None else x.end_day) - 1
        first = max(x.start_day, last_sale.get(x.listing_id, x.start_day - 1) + 1)
        if first <= shown_until:
            windows[x.listing_id] = (first, shown_until)
    candidates = [x for x in selling if x.listing_id in windows]
    final = world.days - 1
    up_at_end = [x for x in candidates if windows[x.listing_id][1] == final]
    others = [x for x in candidates if windows[x.listing_id][1] != final]
    chosen = rng.sample(up_at_end, min(want, len(up_at_end)))
    chosen += rng.sample(others, min(want - len(chosen), len(others)))
    position = {x.listing_id: i for i, x in enumerate(world.listings)}
    for x in sorted(chosen, key=lambda x: position[x.listing_id]):
        first, last = windows[x.listing_id]
        x.holding = True
        x.holding_day = rng.randint(first, last)
    return chosen
