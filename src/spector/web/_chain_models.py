"""The chain API's response and request models (what ``spector.chain``'s look-ups give,
key for key; the OpenAPI schema and schemathesis check answers against them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from spector.web._api import UtcTime

__all__ = [
    "Address",
    "BlockHead",
    "BlockTx",
    "ChainStatus",
    "Cluster",
    "ClusterRow",
    "Elements",
    "Member",
    "Movement",
    "SearchHit",
    "TraceEdge",
    "TraceRequest",
    "TraceResult",
    "TraceRow",
    "Tx",
    "WhyMerged",
]


class TableCount(BaseModel):
    rows: int
    files: int


class Segment(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    blocks: int
    anchored: str | None = None
    tip: str | None = None


class ChainStatus(BaseModel):
    """``spector chain status``: rows per table, network, contiguous height segments."""

    network: str | None
    tables: dict[str, TableCount]
    segments: list[Segment]
    blocks: int
    tip_height: int | None
    tip_hash: str | None


class SearchHit(BaseModel):
    """What a search means: the kind of thing, its reference and the page showing it."""

    kind: Literal["tx", "block", "address", "cluster"]
    ref: str
    url: str


class BlockHead(BaseModel):
    height: int
    hash: str
    prev_hash: str | None
    merkle_root: str | None
    version: int | None
    time: UtcTime | None
    bits: int | None
    nonce: int | None
    size: int | None
    weight: int | None
    tx_count: int
    input_count: int | None
    output_count: int | None
    output_value: int | None
    coinbase_value: int | None
    subsidy: int | None
    fees: int | None


class BlockTx(BaseModel):
    idx: int
    txid: str
    coinbase: bool
    size: int | None
    vsize: int | None
    input_count: int
    output_count: int
    input_value: int | None
    output_value: int | None
    fee: int | None


class TxInput(BaseModel):
    vin: int
    prev_txid: str | None
    prev_vout: int | None
    sequence: int | None
    coinbase: bool
    value: int | None
    address: str | None
    type: str | None
    prev_height: int | None
    cluster_id: int | None


class SpentBy(BaseModel):
    txid: str
    vin: int
    height: int | None


class TxOutput(BaseModel):
    vout: int
    value: int
    type: str | None
    address: str | None
    spent_by: SpentBy | None
    cluster_id: int | None


class Tx(BaseModel):
    """``spector chain tx``: the transaction, its inputs and outputs, block time."""

    txid: str
    wtxid: str | None
    height: int
    idx: int
    time: UtcTime | None
    version: int | None
    locktime: int | None
    size: int | None
    vsize: int | None
    weight: int | None
    segwit: bool | None
    coinbase: bool
    input_count: int
    output_count: int
    input_value: int | None
    output_value: int | None
    fee: int | None
    inputs: list[TxInput]
    outputs: list[TxOutput]


class Tag(BaseModel):
    label: str
    category: str | None
    confidence: str | None
    source: str | None
    via: str | None = None


class Address(BaseModel):
    """An address's totals (movements: ``/movements``), its cluster and tags."""

    address: str
    first_seen_height: int | None
    last_seen_height: int | None
    first_seen: UtcTime | None
    last_seen: UtcTime | None
    received: int
    spent: int
    balance: int
    output_count: int
    input_count: int
    cluster_id: int | None
    tags: list[Tag]


class Movement(BaseModel):
    height: int
    txid: str
    direction: Literal["received", "spent"]
    n: int
    value: int | None


class Merge(BaseModel):
    heuristic: str
    txid: str | None
    addresses: list[str | None]


class Cluster(BaseModel):
    """``spector chain cluster-of``: id, size, first addresses, tags, first merges."""

    cluster_id: int
    size: int
    addresses: list[str]
    tags: list[Tag]
    merges: list[Merge]


class ClusterRow(BaseModel):
    cluster_id: int
    size: int
    label: str | None
    category: str | None


class Member(BaseModel):
    address_id: int
    address: str
    first_height: int | None
    received: int
    balance: int
    output_count: int
    input_count: int


class WhyMerged(BaseModel):
    """The merges that make ``a`` and ``b`` one cluster, in order from a to b."""

    a: str
    b: str
    cluster_id: int
    merges: list[Merge]


class TraceRow(BaseModel):
    name: str
    kind: str
    source: str
    target: str | None
    policy: str | None
    direction: str | None
    hops: int
    to_tags: list[str] | None
    total_sat: int | None
    traced_share: float | None
    nodes: int
    edges: int
    created_at: UtcTime


class TraceEdge(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    txid: str
    amount_sat: int
    time: str | None
    rule: str
    hop: int | None
    weight: float | None


class TraceResult(BaseModel):
    """A saved trace or path search as ``spector chain traces show --json`` prints it
    (the keys named here, and every other key of the result)."""

    model_config = ConfigDict(extra="allow")

    kind: str = "trace"
    source: str
    target: str | None = None
    policy: str | None = None
    direction: str | None = None
    hops: int
    total_sat: int | None = None
    traced_share: float | None = None
    reached: list[dict[str, Any]] = []
    untraced: dict[str, dict[str, Any]] = {}
    paths: list[dict[str, Any]] | None = None
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    notes: list[str] = []


class NodeData(BaseModel):
    id: str
    label: str
    kind: str
    amount_in_sat: int | None
    cluster_id: int | None
    category: str | None


class EdgeData(BaseModel):
    id: str
    source: str
    target: str
    label: str
    amount_sat: int
    txid: str
    rule: str
    hop: int | None
    time: str | None
    weight: float | None


class GraphNode(BaseModel):
    data: NodeData


class GraphEdge(BaseModel):
    data: EdgeData


class Elements(BaseModel):
    """Cytoscape.js elements of a trace's flow graph (``truncated``: the largest edges
    only; ``node_count`` / ``edge_count``: the whole trace's)."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool
    node_count: int
    edge_count: int


class TraceRequest(BaseModel):
    """A trace to run and save (``spector chain trace … --save NAME``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    source: list[str] = Field(min_length=1, max_length=50)
    policy: Literal["haircut", "fifo", "poison"] = "haircut"
    hops: int = Field(5, ge=1, le=20)
    direction: Literal["forward", "backward"] = "forward"
    to_tags: list[str] = Field(
        default_factory=lambda: ["exchange", "mixing_service", "market"], max_length=20
    )
    replace: bool = False
