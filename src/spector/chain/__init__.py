"""Bitcoin ingestion: a fast, exact block parser and the chain tables.

``parse_block`` parses one serialized block with a compiled (numba) kernel; ``read_blk``
reads Bitcoin Core's ``blk*.dat`` files; ``ingest`` puts blocks in chain order and
publishes the blocks, txs, inputs, outputs and addresses tables.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.chain._block import SCRIPT_TYPES, Block, Tx, TxIn, TxOut, parse_block
    from spector.chain._browse import (
        address_detail,
        address_movements,
        block_head,
        block_txs,
        cluster_members,
        find_cluster,
        largest_clusters,
        search_target,
        trace_edges,
        trace_elements,
        trace_rows,
        tx_detail,
    )
    from spector.chain._network import NETWORKS, Network, network
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "NETWORKS",
    "SCRIPT_TYPES",
    "Block",
    "Network",
    "Tx",
    "TxIn",
    "TxOut",
    "address_detail",
    "address_movements",
    "block_head",
    "block_txs",
    "cluster_members",
    "find_cluster",
    "largest_clusters",
    "network",
    "parse_block",
    "search_target",
    "trace_edges",
    "trace_elements",
    "trace_rows",
    "tx_detail",
]
