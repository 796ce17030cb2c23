"""Bitcoin ingestion: a fast, exact block parser and the chain tables.

``parse_block`` parses one serialized block with a compiled (numba) kernel; ``read_blk``
reads Bitcoin Core's ``blk*.dat`` files; ``ingest`` puts blocks in chain order and
publishes the blocks, txs, inputs, outputs and addresses tables.
"""

from spector.chain._block import SCRIPT_TYPES, Block, Tx, TxIn, TxOut, parse_block
from spector.chain._network import NETWORKS, Network, network

__all__ = [
    "NETWORKS",
    "SCRIPT_TYPES",
    "Block",
    "Network",
    "Tx",
    "TxIn",
    "TxOut",
    "network",
    "parse_block",
]
