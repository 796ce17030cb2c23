"""The JSON shapes of the actors area (``spector.web._r_actors``): the keys of the
``spector.resolve`` functions that make them (``actors_page``, ``actor_detail`` =
``actor_package`` + label + exchanges, ``links_page``, ``accounts_page``,
``account_detail``, ``decide``, ``actor_graph`` / ``expand``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccountDetail",
    "AccountRow",
    "ActorDetail",
    "ActorRow",
    "DecisionIn",
    "DecisionOut",
    "Elements",
    "LinkRow",
]

ID = Field(min_length=1, max_length=300)


class ActorRow(BaseModel):
    actor_id: str
    label: str | None
    accounts: int
    markets: list[str]
    market_ids: list[str | None]
    handles: list[str | None]
    account_ids: list[str]
    kinds: list[str]
    first_seen: str | None
    last_seen: str | None
    revenue_usd: float | None


class PackageAccount(BaseModel):
    account_id: str
    market: str | None
    handle: str | None
    kind: str
    market_id: str | None
    pgp: list[str] = []
    ships_from: str | None = None
    listings: int | None = None
    categories: dict[str, int] = {}
    first_seen: str | None = None
    last_seen: str | None = None


class PackageLink(BaseModel):
    a: str
    b: str
    score: float
    evidence: list[str]
    decided: str | None


class TimelineEvent(BaseModel):
    date: str
    event: str
    market: str | None
    handle: str | None
    account_id: str


class ChainCluster(BaseModel):
    cluster_id: int
    addresses: list[str]
    size: int | None


class Exchange(BaseModel):
    cluster_id: int
    exchange: str
    label: str
    via: str = Field(description="tagged: the cluster is the exchange's; paid: it paid it")
    txs: int
    value_sat: int


class ActorDetail(BaseModel):
    """``spector.resolve.actor_package`` plus ``label`` and ``exchanges``."""

    actor_id: str
    label: str | None
    accounts: list[PackageAccount]
    links: list[PackageLink]
    selectors: list[str]
    revenue_usd: float | None
    revenue_interval: list[float | None] | None
    sales: float | None
    revenue_note: str | None
    markets: list[str]
    keys: list[str]
    addresses: list[str]
    contacts: list[str]
    first_seen: str | None
    last_seen: str | None
    timeline: list[TimelineEvent]
    chain_clusters: list[ChainCluster]
    exchanges: list[Exchange]


class Decision(BaseModel):
    kind: str
    who: str
    at: str
    why: str | None


class LinkRow(BaseModel):
    a: str
    b: str
    score: float
    linked: bool
    evidence: list[str]
    features: dict[str, float | None]
    decided: str | None = Field(description="the decision the last run applied")
    a_handle: str | None
    a_market: str | None
    a_actor: str | None
    b_handle: str | None
    b_market: str | None
    b_actor: str | None
    decision: Decision | None = Field(description="the latest decision recorded on the pair")
    pending: bool = Field(description="a decision recorded that no run has applied yet")


class AccountRow(BaseModel):
    account_id: str
    kind: str
    market_id: str | None
    market: str | None
    handle: str | None
    actor_id: str | None
    listings: int
    rating: float | None
    sales_count: int | None
    feedback_count: int | None
    ships_from: str | None
    pgp: list[str]
    first_seen: str | None
    last_seen: str | None


class Member(BaseModel):
    account_id: str
    kind: str
    market: str | None
    handle: str | None


class ListingBrief(BaseModel):
    id: str
    title: str | None
    category: str | None
    price_usd: float | None
    ships_from: str | None
    last_seen: str | None


class AccountDetail(AccountRow):
    profile_text: str | None
    contacts: list[str]
    joined: str | None
    feedback_positive: int | None
    feedback_negative: int | None
    facts: dict[str, Any]
    actor_accounts: list[Member]
    posts: int
    recent_listings: list[ListingBrief]


class DecisionIn(BaseModel):
    """A confirm or reject of two accounts."""

    model_config = ConfigDict(extra="forbid")

    a: str = ID
    b: str = ID
    why: str | None = Field(default=None, max_length=2000)
    apply: bool | None = Field(
        default=None,
        description="Re-resolve now (default: for workspaces of at most 20,000 accounts)",
    )


class DecisionOut(BaseModel):
    """What `spector resolve confirm --json` prints, plus whether it was applied."""

    kind: str
    a: str
    b: str
    who: str
    at: str
    why: str | None
    actors: list[str | None]
    applied: bool
    line: str


class NodeData(BaseModel):
    id: str
    label: str
    kind: str


class EdgeData(BaseModel):
    id: str
    source: str
    target: str
    label: str


class Node(BaseModel):
    data: NodeData


class Edge(BaseModel):
    data: EdgeData


class Elements(BaseModel):
    """Cytoscape elements: node ids are ``<kind>:<value>``."""

    nodes: list[Node]
    edges: list[Edge]
