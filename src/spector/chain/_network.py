"""Bitcoin networks: address prefixes, blk-file magic, genesis hash."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spector.errors import UsageError

__all__ = ["NETWORKS", "Network", "network", "network_of_magic"]


@dataclass(frozen=True)
class Network:
    """What the parser needs to know of a network."""

    name: str
    p2pkh: int
    p2sh: int
    hrp: str
    magic: bytes
    genesis: str  # display order
    pow_limit: int  # the easiest target a header may claim
    bip34_height: int  # from here on a coinbase starts with its block's height

    @property
    def hrp_array(self) -> np.ndarray:
        return np.frombuffer(self.hrp.encode(), np.uint8)


_LIMIT_MAIN = (1 << 224) - 1  # 0x00000000ffff...ff

NETWORKS = {
    n.name: n
    for n in (
        Network(
            "main", 0x00, 0x05, "bc", bytes.fromhex("f9beb4d9"),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
            _LIMIT_MAIN, 227_931,
        ),
        Network(
            "testnet3", 0x6F, 0xC4, "tb", bytes.fromhex("0b110907"),
            "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
            _LIMIT_MAIN, 21_111,
        ),
        Network(
            "testnet4", 0x6F, 0xC4, "tb", bytes.fromhex("1c163f28"),
            "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
            _LIMIT_MAIN, 1,
        ),
        Network(
            "signet", 0x6F, 0xC4, "tb", bytes.fromhex("0a03cf40"),
            "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
            0x00000377AE << 216, 1,
        ),
        Network(
            "regtest", 0x6F, 0xC4, "bcrt", bytes.fromhex("fabfb5da"),
            "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
            (1 << 255) - 1, 1,
        ),
    )
}  # fmt: skip
_ALIASES = {"mainnet": "main", "bitcoin": "main", "testnet": "testnet3", "test": "testnet3"}


def network(name: str | Network) -> Network:
    """The network called ``name`` (main, testnet3, testnet4, signet, regtest)."""
    if isinstance(name, Network):
        return name
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in NETWORKS:
        raise UsageError(
            f"unknown network {name!r}", expected="one of " + ", ".join(sorted(NETWORKS))
        )
    return NETWORKS[key]


def network_of_magic(magic: bytes) -> Network | None:
    """The network whose blk-file records start with ``magic``."""
    for n in NETWORKS.values():
        if n.magic == magic:
            return n
    return None
