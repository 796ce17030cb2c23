"""One web site per market of the range, by family."""

from __future__ import annotations

from collections.abc import Callable

from spector.sim._sites._base import Page, Site, SiteIndex
from spector.sim._sites._bots_forum import BotShopSite, ForumSite
from spector.sim._sites._escrow import EscrowSite, WalletlessSite, relative_en
from spector.sim._sites._hydra import HydraSite, relative_ru
from spector.sim._world import SimAccount, SimFeedback, SimListing, World

__all__ = ["Page", "Site", "build_sites", "relative_en", "relative_ru"]

_FAMILY: dict[str, type[Site]] = {
    "escrow": EscrowSite,
    "hydra": HydraSite,
    "walletless": WalletlessSite,
    "bots": BotShopSite,
    "forum": ForumSite,
}


def build_sites(world: World, pgp: Callable[[SimAccount], str | None]) -> dict[str, Site]:
    """Market id -> its site."""
    accounts: dict[str, list[SimAccount]] = {}
    for a in world.accounts:
        accounts.setdefault(a.market_id, []).append(a)
    listings: dict[str, list[SimListing]] = {}
    for x in world.listings:
        listings.setdefault(x.market_id, []).append(x)
    feedback: dict[str, list[SimFeedback]] = {}
    for f in world.feedback:
        feedback.setdefault(f.market_id, []).append(f)
    sale_days: dict[str, list[int]] = {}
    listing_sale_days: dict[str, list[int]] = {}
    for s in world.sales:
        sale_days.setdefault(s.account_id, []).append(s.day)
        listing_sale_days.setdefault(s.listing_id, []).append(s.day)
    for days in (*sale_days.values(), *listing_sale_days.values()):
        days.sort()
    sites = {}
    for m in world.markets:
        index = SiteIndex(
            m,
            accounts.get(m.market_id, []),
            listings.get(m.market_id, []),
            feedback.get(m.market_id, []),
            sale_days,
            listing_sale_days,
        )
        sites[m.market_id] = _FAMILY[m.family](world, index, pgp)
    return sites
