"""The payment trail of the synthetic darknet-market training range: a regtest chain.

``build_chain`` turns the world's markets, vendors, actors and sales into a deterministic
Bitcoin-like chain written in real Bitcoin block format (``blocks/blk*.dat``, regtest
magic ``fabfb5da``, bech32 prefix ``bcrt``), plus Parquet ground truth: who owns every
address, the path of each sale's money, and what each transaction is. No real money is
involved and nothing connects to a network.

What is real: serialization (legacy, and BIP144 segwit for witness spends), txids and
wtxids, merkle roots, BIP34 heights, BIP141 witness commitments, proof of work at regtest
difficulty, coinbase maturity, fees from exact virtual sizes, a UTXO set without double
spends. What is fake: the keys. Each address is derived from a 33-byte fake compressed
public key (sha256 of seed and label, not a curve point). Witnesses (and P2PKH
scriptSigs) hold a 72-byte DER-shaped dummy signature plus that 33-byte pubkey; P2TR
key-path spends hold a 64-byte dummy Schnorr signature. Nothing validates scripts, so no
signature verifies. Block 0's coinbase is a premine that funds the range's exchanges and
other wallets directly, not a subsidy.

Transaction kinds in ``transactions.parquet``: coinbase, funding (exchange withdrawals to
buyers), deposit, payout, cashout, peel, mixer_in, mixer_split (the mixer turning a
deposit into chips for its pool), mixer_out, coinjoin, sweep (an exchange consolidating
the day's deposits into its hot wallet), background. The last hop of each sale in
``sale_paths.parquet`` has a note starting ``landed:`` (an exchange deposit address; the
exchange's sweep spends it later, and is not on the trail), ``stuck:`` (the escrow of a
market whose wallet stopped) or ``pending:`` (still unspent when the range ends, e.g.
too little to cash out).

``tags/*.yaml`` are GraphSense TagPacks of a few addresses of each service (exchanges'
hot wallets, some mixer deposits, markets' hot wallets): public attribution data, not
the whole truth (see ``_tags``).
"""

from spector.sim.chain._build import build_chain
from spector.sim.chain._input import (
    CASHOUT_METHODS,
    MIN_SALE_SAT,
    ChainActor,
    ChainInput,
    ChainMarket,
    ChainSale,
    ChainVendor,
)
from spector.sim.chain._keys import payto_address, vendor_payto_label
from spector.sim.chain._truth import ChainTruth

__all__ = [
    "CASHOUT_METHODS",
    "MIN_SALE_SAT",
    "ChainActor",
    "ChainInput",
    "ChainMarket",
    "ChainSale",
    "ChainTruth",
    "ChainVendor",
    "build_chain",
    "payto_address",
    "vendor_payto_label",
]
