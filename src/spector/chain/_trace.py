"""Follow the money: taint traces over the chain, forward or backward, to tagged services.

``trace(ws, source, ...)`` starts from an address, ``cluster:<id>``, ``<txid>:<vout>``,
``vendor:<account id>`` or ``listing:<listing id>`` (``_trace_source``) and moves the
source's money transaction by transaction, at most ``hops`` of them, under a policy:

- ``haircut``: every output of a transaction gets the tainted share of its inputs in
  proportion to its value (the fee takes its share too);
- ``fifo``: first in, first out by input order (BlockSci, Chainalysis): the satoshis of
  the inputs, laid end to end, fill the outputs in order, the fee last;
- ``poison``: every output of a transaction with a tainted input is tainted whole.

It stops at addresses tagged with one of ``to_tags`` (GraphSense categories; ``mixer``
is an alias of ``mixing_service``) and says how much reached each, when. Peel chains
count as one hop however long (rule ``peel``); a hop into a mixer (an address tagged
``mixing_service`` or a ChipMixer-style chip split) stops there when ``mixing_service``
is one of the targets, and is otherwise followed probabilistically to the mixer's
candidate payouts (rule ``mixer``, with weights). What does not reach a service is
accounted for by kind (unspent, dust, hop limit, fee, ...), so the shares add up to 1.
The result is a ``TraceResult`` (``_trace_result``); docs/tracing.md is the user's guide.
``Tracer(ws)`` makes many traces over one workspace: what they share (graph, services,
mixer index, tags) is built once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spector.chain import _trace_kernel as k
from spector.chain._trace_graph import ChainGraph, Progress, load_graph
from spector.chain._trace_mixer import DAY, MixerIndex
from spector.chain._trace_result import Service, TraceResult, assemble
from spector.chain._trace_run import POLICIES, Setup, run
from spector.chain._trace_source import SourceSet, resolve
from spector.chain._trace_tags import DEFAULT_TO_TAGS, NodeTags, check_categories, services
from spector.errors import InputError, UsageError
from spector.store import Workspace

__all__ = ["DEFAULT_DUST", "DETECTED_MIXER", "MAX_HOPS", "TraceResult", "Tracer", "trace"]

DEFAULT_DUST = 546  # sat: Bitcoin's dust limit; smaller taint is not followed
MAX_HOPS = 100
DETECTED_MIXER = "mixer (detected chip split)"
DIRECTIONS = ("forward", "backward")


def _services(
    con: Any, g: ChainGraph, categories: Sequence[str]
) -> tuple[np.ndarray, list[Service], np.ndarray]:
    """Per address id the index of its service (-1: none), the services, and which
    addresses are tagged ``mixing_service`` (whether or not the trace stops there)."""
    wanted = list(dict.fromkeys([*categories, "mixing_service"]))
    found = services(con, wanted)
    addr_stop = np.full(g.n_addr, -1, np.int32)
    mixer_addr = np.zeros(g.n_addr, bool)
    if not found:
        return addr_stop, [], mixer_addr
    names = sorted(found)
    ids = g.address_ids(names)
    index: dict[tuple[str, str], int] = {}
    best: dict[int, tuple[int, str | None]] = {}
    listed: list[Service] = []
    for address, aid in zip(names, ids.tolist(), strict=True):
        ref = found[address]
        if aid < 0:
            continue
        if ref.category == "mixing_service":
            mixer_addr[aid] = True
        if ref.category not in categories:
            continue
        key = (str(ref.label), str(ref.category))
        if key not in index:
            index[key] = len(listed)
            listed.append(Service(key[0], key[1]))
        i = index[key]
        level = int(ref.confidence_level or 0)
        if i not in best or level > best[i][0]:
            best[i] = (level, ref.confidence)
        addr_stop[aid] = i
    listed = [Service(s.label, s.category, best.get(i, (0, None))[1]) for i, s in enumerate(listed)]
    return addr_stop, listed, mixer_addr


def _check(policy: str, hops: int, direction: str, dust: int) -> None:
    if policy not in POLICIES:
        raise UsageError(f"unknown policy {policy!r}", expected=" | ".join(POLICIES))
    if not 1 <= hops <= MAX_HOPS:
        raise UsageError(f"--hops {hops} is out of range", expected=f"1 to {MAX_HOPS}")
    if direction not in DIRECTIONS:
        raise UsageError(f"unknown direction {direction!r}", expected="forward | backward")
    if dust < 0:
        raise UsageError(f"dust threshold {dust} is negative", expected="0 or more satoshis")


@dataclass
class _Stops:
    """What a trace to one set of categories stops at and how it meets the mixer."""

    addr_stop: np.ndarray
    listed: list[Service]
    mixer_addr: np.ndarray
    mixers: dict[tuple[int, int], MixerIndex | None] = field(default_factory=dict)


class Tracer:
    """Many traces over one workspace: what every trace needs (the graph, the tagged
    services of each set of categories, the mixer index, the nodes' tags) is built on
    first use and kept, so a trace costs its own sources and walk only.

    A snapshot of the workspace as it is at the first trace: tags imported, clusters
    or blocks added later are not seen (make a new ``Tracer``). ``trace(ws, ...)`` is
    ``Tracer(ws).trace(...)``; the scorer and the demo trace many vendors with one.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.con = ws.store.con
        self._graph: ChainGraph | None = None
        self._unlinked: ChainGraph | None = None
        self._categories: dict[tuple[str, ...], list[str]] = {}
        self._stops: dict[tuple[str, ...], _Stops] = {}
        self._tags = NodeTags(self.con)

    def graph(self, *, progress: Progress | None = None) -> ChainGraph:
        """The workspace's chain graph (loaded on the first call)."""
        if self._graph is None:
            self._graph = load_graph(self.ws, progress=progress)
        return self._graph

    def categories(self, to_tags: Sequence[str]) -> list[str]:
        """``to_tags`` checked and with aliases resolved (``check_categories``)."""
        key = tuple(to_tags)
        if key not in self._categories:
            self._categories[key] = check_categories(self.con, to_tags)
        return list(self._categories[key])

    def _stops_for(self, g: ChainGraph, categories: list[str]) -> _Stops:
        key = tuple(categories)
        if key not in self._stops:
            self._stops[key] = _Stops(*_services(self.con, g, categories))
        return self._stops[key]

    def _mixer(self, g: ChainGraph, stops: _Stops, window: int, limit: int) -> MixerIndex | None:
        key = (window, limit)
        if key not in stops.mixers:
            mixer = None
            if stops.mixer_addr.any() or (g.tx_flags & (k.F_CHIP_SPLIT | k.F_CHIP_SPEND)).any():
                mixer = MixerIndex(g, stops.mixer_addr, window=window, limit=limit)
            stops.mixers[key] = mixer
        return stops.mixers[key]

    def trace(
        self,
        source: str | Sequence[str],
        *,
        policy: str = "haircut",
        hops: int = 5,
        to_tags: Sequence[str] = DEFAULT_TO_TAGS,
        direction: str = "forward",
        dust: int = DEFAULT_DUST,
        follow_peels: bool = True,
        max_peel: int = 1000,
        mixer_window: int = 3 * DAY,
        mixer_candidates: int = 5,
        progress: Progress | None = None,
        detail: bool = True,
    ) -> TraceResult:
        """Trace ``source``: the result of ``trace(ws, source, ...)`` (same arguments,
        errors and result; ``seconds`` is this trace's own time). ``detail=False``: the
        result without its graph (``assemble``): the same figures (``reached``,
        ``untraced``, ``total_sat``, ``traced_share``), much cheaper to make."""
        started = time.perf_counter()
        _check(policy, hops, direction, dust)
        texts = [source] if isinstance(source, str) else list(source)
        con = self.con
        categories = self.categories(to_tags)
        g = self.graph(progress=progress)
        srcs = resolve(con, g, texts)
        forward = direction == "forward"
        stops = self._stops_for(g, categories)
        listed = list(stops.listed)
        role = np.zeros(g.n_out, np.uint8)
        role[srcs.nodes] |= k.ROLE_SOURCE | k.ROLE_SEED
        mixer = self._mixer(g, stops, mixer_window, mixer_candidates)
        if mixer is not None:
            role[mixer.mixer_node_fwd if forward else mixer.mixer_node_bwd] |= k.ROLE_MIXER
        stop_at_mixers = "mixing_service" in categories
        mixer_service = -1
        if stop_at_mixers:
            mixer_service = len(listed)
            listed.append(Service(DETECTED_MIXER, "mixing_service", "heuristic"))
        setup = Setup(
            policy=POLICIES[policy],
            forward=forward,
            hops=hops,
            dust=float(dust),
            max_free=max_peel,
            addr_stop=stops.addr_stop,
            role=role,
            mixer=mixer,
            stop_at_mixers=stop_at_mixers,
            mixer_service=mixer_service,
        )
        if not follow_peels:
            if self._unlinked is None:
                self._unlinked = _without_links(g)
            g = self._unlinked
        raw = run(g, srcs.nodes, setup, progress=progress)
        if not len(raw.seed_node):
            raise InputError(
                f"{', '.join(texts)}: no money to trace",
                hint="its outputs are all change of its own inputs",
            )
        meta = _meta(texts, srcs, policy, hops, direction, categories, dust, follow_peels)
        tags = None
        if detail:
            every = np.unique(np.concatenate([raw.e_src, raw.e_dst, raw.t_node, raw.seed_node]))
            tags = self._tags(g.names(every))
        result = assemble(g, raw, listed, meta, tags=tags, detail=detail)
        result.data["seconds"] = round(time.perf_counter() - started, 3)
        return result


def trace(
    ws: Workspace,
    source: str | Sequence[str],
    *,
    policy: str = "haircut",
    hops: int = 5,
    to_tags: Sequence[str] = DEFAULT_TO_TAGS,
    direction: str = "forward",
    dust: int = DEFAULT_DUST,
    follow_peels: bool = True,
    max_peel: int = 1000,
    mixer_window: int = 3 * DAY,
    mixer_candidates: int = 5,
    progress: Progress | None = None,
) -> TraceResult:
    """Trace ``source`` (one source or several, taken together); see the module
    docstring. Raises ``InputError`` for a source the store does not hold and
    ``UsageError`` for options out of range. Reads only; ``save`` keeps a result.
    Many traces over one workspace are cheaper with one ``Tracer``."""
    started = time.perf_counter()
    result = Tracer(ws).trace(
        source,
        policy=policy,
        hops=hops,
        to_tags=to_tags,
        direction=direction,
        dust=dust,
        follow_peels=follow_peels,
        max_peel=max_peel,
        mixer_window=mixer_window,
        mixer_candidates=mixer_candidates,
        progress=progress,
    )
    result.data["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _without_links(g: ChainGraph) -> ChainGraph:
    """The graph with no peel links (every step costs a hop)."""
    from dataclasses import replace

    return replace(g, out_link=np.zeros_like(g.out_link))


def _meta(
    texts: list[str],
    srcs: SourceSet,
    policy: str,
    hops: int,
    direction: str,
    categories: list[str],
    dust: int,
    follow_peels: bool,
) -> dict[str, Any]:
    return {
        "kind": "trace",
        "source": ", ".join(texts),
        "sources": srcs.describe(),
        "policy": policy,
        "hops": hops,
        "direction": direction,
        "to_tags": categories,
        "dust_sat": dust,
        "follow_peels": follow_peels,
        "notes": list(srcs.notes),
    }
