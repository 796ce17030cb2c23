"""The range's public attribution data: GraphSense TagPacks of its services.

Like the tags an investigator finds published (exchange wallets known from test
transactions, a mixer's addresses from a research paper, a market's wallet from a
sanctions notice), these packs name a few addresses of each service, never all of them:

- ``exchanges.yaml``: per exchange its reused hot-wallet address and up to
  ``EXCHANGE_EXTRA_TAGS`` other hot-wallet addresses, ``is_cluster_definer: true``
  (the tag stands for the exchange's whole cluster), confidence ``manual_transaction``.
- ``mixer.yaml``: ``MIXER_TAG_SHARE`` of the mixer's deposit addresses, confidence
  ``forensic``, not cluster definers (a deposit is a one-off address).
- ``markets.yaml``: per market with a wallet up to ``MARKET_TAGS`` of its hot-wallet
  addresses, ``is_cluster_definer: true``, confidence ``authority_data``.

Labels are the exchange names, ``MIXER_ID`` and the market ids (actors: the same in
lower case, words joined by ``-``); categories and
confidences are ids of GraphSense's concept and confidence taxonomies. The choice of
addresses comes from its own random stream (seeded by the chain's seed), so the chain
itself does not change with it, and the files hold nothing that depends on when they
were written: ``lastmod`` is the range's last day.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from spector.sim.chain._ledger import AddressRow
from spector.sim.chain._sim import EPOCH, MIXER_ID, Sim

__all__ = ["EXCHANGE_EXTRA_TAGS", "MARKET_TAGS", "MIXER_TAG_SHARE", "write_tagpacks"]

EXCHANGE_EXTRA_TAGS = 2
MIXER_TAG_SHARE = 0.3
MARKET_TAGS = 3
_CREATOR = "Spector training range"
_SOURCE = "https://range.spector.invalid/attribution"


def _by_role(addresses: dict[str, AddressRow], kind: str, role: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for address, (owner_kind, owner_id, _, owner_role) in addresses.items():
        if owner_kind == kind and owner_role == role:
            out.setdefault(owner_id, []).append(address)
    return out


def _actor(label: str) -> str:
    """An ActorPack-style id for ``label``: lower case, words joined by ``-``."""
    return "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def _pick(rng: random.Random, pool: list[str], n: int) -> list[str]:
    """``n`` addresses of ``pool`` (all if fewer), in the order they appeared on chain."""
    if len(pool) <= n:
        return list(pool)
    chosen = set(rng.sample(range(len(pool)), n))
    return [address for i, address in enumerate(pool) if i in chosen]


def _pack(
    title: str, description: str, header: dict[str, Any], tags: Iterable[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "title": title,
        "creator": _CREATOR,
        "description": description,
        "currency": "BTC",
        "network": "BTC",
        **header,
        "tags": list(tags),
    }


def _dump(pack: dict[str, Any], path: Path) -> Path:
    text = yaml.safe_dump(pack, sort_keys=False, allow_unicode=True, default_flow_style=False)
    path.write_text(text, encoding="utf-8")
    return path


def write_tagpacks(sim: Sim, tags_dir: Path) -> tuple[Path, ...]:
    """Write the range's TagPacks under ``tags_dir`` (replacing old ``*.yaml``); return them.

    A pack with no tags (no market with a wallet, say) is not written.
    """
    tags_dir.mkdir(parents=True, exist_ok=True)
    for stale in sorted(tags_dir.glob("*.yaml")):
        stale.unlink()
    rng = random.Random(f"spector-sim-chain-tags:{sim.inp.seed}")  # not cryptography
    addresses = sim.ledger.addresses
    lastmod = datetime.datetime.fromtimestamp(EPOCH, datetime.UTC).date() + datetime.timedelta(
        days=sim.last_day
    )
    written: list[Path] = []

    hot = _by_role(addresses, "exchange", "hot_wallet")
    exchange_tags = []
    for name in sim.inp.exchanges:
        main = sim.exchange_main_key(name).address
        others = [a for a in hot.get(name, []) if a != main]
        for address in [main, *_pick(rng, others, EXCHANGE_EXTRA_TAGS)]:
            exchange_tags.append({"address": address, "label": name, "actor": _actor(name)})
    if exchange_tags:
        header = {
            "category": "exchange",
            "confidence": "manual_transaction",
            "is_cluster_definer": True,
            "lastmod": lastmod,
            "source": f"{_SOURCE}/exchanges",
        }
        description = "Hot-wallet addresses of the range's exchanges, seen in test transactions"
        pack = _pack("Range exchanges", description, header, exchange_tags)
        written.append(_dump(pack, tags_dir / "exchanges.yaml"))

    deposits = _by_role(addresses, "mixer", "deposit").get(MIXER_ID, [])
    mixer = _pick(rng, deposits, round(len(deposits) * MIXER_TAG_SHARE))
    if mixer:
        header = {
            "label": MIXER_ID,
            "actor": _actor(MIXER_ID),
            "category": "mixing_service",
            "confidence": "forensic",
            "is_cluster_definer": False,
            "lastmod": lastmod,
            "source": f"{_SOURCE}/mixer",
        }
        description = f"Some deposit addresses of {MIXER_ID}, from a research report"
        pack = _pack("Range mixer", description, header, ({"address": a} for a in mixer))
        written.append(_dump(pack, tags_dir / "mixer.yaml"))

    market_hot = _by_role(addresses, "market", "hot_wallet")
    market_tags = []
    for market_id, market in sim.markets.items():
        if market.spec.walletless:
            continue
        for address in _pick(rng, market_hot.get(market_id, []), MARKET_TAGS):
            market_tags.append({"address": address, "label": market_id, "actor": _actor(market_id)})
    if market_tags:
        header = {
            "category": "market",
            "confidence": "authority_data",
            "is_cluster_definer": True,
            "lastmod": lastmod,
            "source": f"{_SOURCE}/markets",
        }
        description = "Hot-wallet addresses of the range's markets, from an authority's notice"
        pack = _pack("Range markets", description, header, market_tags)
        written.append(_dump(pack, tags_dir / "markets.yaml"))
    return tuple(written)
