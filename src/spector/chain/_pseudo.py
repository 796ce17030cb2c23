"""Pseudo-addresses for P2PK outputs: the P2PKH address of the output's public key.

A pay-to-public-key output (``<pubkey> OP_CHECKSIG``, most coins of 2009-2010) has no
address of its own; block explorers show the P2PKH address of its key, and so do we, so
early coins cluster like any other. The same key paid by P2PK and by P2PKH is thus one
address, as it is one owner. An input spending a P2PK output takes that output's
pseudo-address (the ``chain_pseudo_addresses`` row of the output it spends).

HASH160 is RIPEMD-160 of SHA-256; OpenSSL 3 builds of hashlib may lack RIPEMD-160, so the
hash comes from bip_utils, which falls back to its own implementation.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from bip_utils import Base58Encoder, Hash160

from spector.chain._network import network

__all__ = ["fill_pseudo_addresses", "p2pk_pubkey", "pseudo_address", "remove_stale_pseudo"]

_OP_CHECKSIG = 0xAC


def p2pk_pubkey(script: bytes) -> bytes | None:
    """The public key a P2PK script pays to (33 or 65 bytes pushed, then OP_CHECKSIG),
    or None for any other script."""
    n = len(script)
    if n in (35, 67) and script[0] == n - 2 and script[-1] == _OP_CHECKSIG:
        return bytes(script[1:-1])
    return None


def pseudo_address(pubkey: bytes, network_name: str = "main") -> str:
    """The P2PKH address of ``pubkey`` on the network (Base58Check of HASH160)."""
    version = network(network_name).p2pkh
    return str(Base58Encoder.CheckEncode(bytes([version]) + Hash160.QuickDigest(pubkey)))


def fill_pseudo_addresses(
    con: duckdb.DuckDBPyConnection, network_name: str, min_height: int, max_height: int
) -> int:
    """Add a ``chain_pseudo_addresses`` row for every P2PK output at these heights that
    has none yet; return how many were added. Idempotent."""
    rows = con.execute(
        "SELECT o.txid, o.vout, o.script FROM outputs o "
        "WHERE o.script_type = 'p2pk' AND o.address IS NULL "
        "AND o.height BETWEEN ? AND ? "
        "AND NOT EXISTS (SELECT 1 FROM chain_pseudo_addresses p "
        "                WHERE p.txid = o.txid AND p.vout = o.vout) "
        "ORDER BY o.height, o.txid, o.vout",
        [min_height, max_height],
    ).fetchall()
    txids: list[str] = []
    vouts: list[int] = []
    addresses: list[str] = []
    for txid, vout, script in rows:
        key = p2pk_pubkey(bytes(script))
        if key is None:  # the parser's class and this reading disagree: leave it out
            continue
        txids.append(txid)
        vouts.append(int(vout))
        addresses.append(pseudo_address(key, network_name))
    if not txids:
        return 0
    table = pa.table(
        {
            "txid": pa.array(txids, pa.string()),
            "vout": pa.array(vouts, pa.int64()),
            "address": pa.array(addresses, pa.string()),
        }
    )
    con.register("new_pseudo", table)
    try:
        con.execute("INSERT INTO chain_pseudo_addresses SELECT txid, vout, address FROM new_pseudo")
    finally:
        con.unregister("new_pseudo")
    return len(txids)


def remove_stale_pseudo(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the rows of P2PK outputs the chain no longer holds (after a reorg)."""
    con.execute(
        "DELETE FROM chain_pseudo_addresses p WHERE NOT EXISTS (SELECT 1 FROM outputs o "
        "WHERE o.txid = p.txid AND o.vout = p.vout AND o.script_type = 'p2pk')"
    )
