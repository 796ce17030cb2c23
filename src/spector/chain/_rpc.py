"""Blocks from a Bitcoin Core node over JSON-RPC (``getblockhash``, ``getblock`` verbosity 0).

The node's best chain is authoritative: the ingest walks back from the store's highest
block until the node has the same hash at that height (the fork point), rolls back what
the store holds above it, and fetches the node's blocks from there, in batches.
Credentials come from the URL (``http://user:password@host:8332/``) or, as Core writes
it, a cookie file (``--rpc-cookie ~/.bitcoin/.cookie``).
"""

from __future__ import annotations

import base64
import functools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import numpy as np

from spector.chain._ingest import (
    IngestReport,
    Item,
    Progress,
    backfill,
    block_work,
    ingest_items,
    record_tip,
    rollback,
)
from spector.chain._network import NETWORKS, Network, network
from spector.chain._store import ChainStore, IndexRow
from spector.errors import InputError, UsageError
from spector.store import Workspace

__all__ = ["RpcClient", "ingest_rpc"]

_CHAINS = {"main": "main", "test": "testnet3", "testnet4": "testnet4", "signet": "signet",
           "regtest": "regtest"}  # fmt: skip


class RpcError(InputError):
    """The node answered with an error, or could not be reached."""


class RpcClient:
    """A minimal JSON-RPC 1.0 client for bitcoind."""

    def __init__(self, url: str, *, cookie: Path | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"not an RPC URL: {url}", hint="e.g. http://user:pass@host:8332/")
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if cookie is not None:
            try:
                user, _, password = cookie.read_text(encoding="utf-8").strip().partition(":")
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror}", where=cookie) from exc
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
        self.display = self.url
        self.auth = (
            "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            if user
            else None
        )
        self.timeout = timeout
        self._id = 0

    def _post(self, payload: object) -> object:
        body = json.dumps(payload).encode()
        request = urllib.request.Request(self.url, data=body, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if self.auth:
            request.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise RpcError("the node refused the credentials", where=self.display) from exc
            raw = exc.read()
            exc.close()
            try:
                return json.loads(raw)
            except ValueError:
                raise RpcError(f"HTTP {exc.code} from the node", where=self.display) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RpcError(f"cannot reach the node: {reason}", where=self.display) from exc

    def _result(self, reply: object, method: str) -> object:
        if not isinstance(reply, dict) or "result" not in reply:
            raise RpcError(f"{method}: not a JSON-RPC reply", where=self.display)
        if reply.get("error"):
            err = reply["error"]
            raise RpcError(
                f"{method}: {err.get('message')} (code {err.get('code')})", where=self.display
            )
        return reply["result"]

    def call(self, method: str, *params: object) -> object:
        self._id += 1
        reply = self._post({"jsonrpc": "1.0", "id": self._id, "method": method, "params": params})
        return self._result(reply, method)

    def batch(self, method: str, params: list[list[object]]) -> list[object]:
        if not params:
            return []
        calls = []
        for p in params:
            self._id += 1
            calls.append({"jsonrpc": "1.0", "id": self._id, "method": method, "params": p})
        replies = self._post(calls)
        if not isinstance(replies, list) or len(replies) != len(calls):
            raise RpcError(f"{method}: batch reply does not match the request", where=self.display)
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        return [self._result(by_id.get(c["id"]), method) for c in calls]


def _fork_height(client: RpcClient, stored: dict[int, str], node_tip: int) -> int:
    """The highest height where the store and the node hold the same block (-1: none)."""
    heights = sorted((h for h in stored if h <= node_tip), reverse=True)
    step = 64
    for i in range(0, len(heights), step):
        chunk = heights[i : i + step]
        hashes = client.batch("getblockhash", [[h] for h in chunk])
        for h, node_hash in zip(chunk, hashes, strict=True):
            if stored[h] == node_hash:
                return h
    return -1


def _contiguous_top(by_height: dict[int, IndexRow]) -> int:
    """The top of the stored run of heights 0, 1, 2, ... (-1 when height 0 is missing)."""
    top = -1
    while top + 1 in by_height:
        top += 1
    return top


def ingest_rpc(
    ws: Workspace,
    url: str,
    *,
    cookie: Path | None = None,
    skip_bad: bool = False,
    batch: int = 16,
    window: int = 1000,
    progress: Progress | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Make the store hold the node's best chain.

    The store's run of heights from 0 is compared with the node's hashes from its top
    down to the fork point; above it, the node's hashes are fetched ``window`` heights at
    a time: a stored block the node agrees with is kept, one it disagrees with is rolled
    back (with what the store holds above the node's tip on top of it), and every
    missing height is fetched with ``getblock``, ``batch`` blocks per request. Stored
    blocks above the node's tip that do not build on a rolled-back block stay (a node
    still syncing is not a reorg).
    """
    started = time.perf_counter()
    report = IngestReport()
    client = RpcClient(url, cookie=cookie)
    info = client.call("getblockchaininfo")
    if not isinstance(info, dict) or "blocks" not in info:
        raise RpcError("getblockchaininfo: unexpected reply", where=client.display)
    chain = str(info.get("chain"))
    net = network(_CHAINS.get(chain, chain)) if chain in _CHAINS or chain in NETWORKS else None
    if net is None:
        raise RpcError(f"unknown chain {chain!r}", where=client.display)
    node_tip = int(info["blocks"])
    store = ChainStore(ws)
    store.remove_strays()
    store.refresh_views()
    index = store.index()
    stored_nets = {r.network for r in index.values()}
    if stored_nets and stored_nets != {net.name}:
        raise UsageError(
            f"the store holds {', '.join(sorted(stored_nets))} blocks; the node is {net.name}"
        )
    by_height = {r.height: r for r in index.values()}
    top = min(_contiguous_top(by_height), node_tip)
    prefix = {h: by_height[h].hash for h in range(top + 1)}
    fork = _fork_height(client, prefix, node_tip)
    report.already += fork + 1
    works = {r.hash: r.chainwork for r in index.values()}
    dropped: set[str] = set()
    if on_plan:
        on_plan(max(node_tip - fork, 0), 0)
    for lo in range(fork + 1, node_tip + 1, window):
        heights = list(range(lo, min(lo + window, node_tip + 1)))
        hashes = [str(x) for x in client.batch("getblockhash", [[h] for h in heights])]
        drop, todo = [], []
        for h, node_hash in zip(heights, hashes, strict=True):
            row = by_height.get(h)
            if row is not None and row.hash == node_hash:
                report.already += 1
                continue
            if row is not None:
                drop.append(row.hash)
            todo.append((h, node_hash))
        rollback(store, drop)
        dropped.update(drop)
        report.rolled_back.extend(drop)
        ingest_items(
            ws,
            _items(client, todo, net, works, batch),
            report,
            skip_bad=skip_bad,
            progress=progress,
        )
    # what the store holds above the node's tip on top of a rolled-back block goes too
    above = []
    for row in sorted((r for r in index.values() if r.height > node_tip), key=lambda r: r.height):
        if row.prev_hash in dropped:
            dropped.add(row.hash)
            above.append(row.hash)
    rollback(store, above)
    report.rolled_back.extend(above)
    report.backfilled = backfill(store)
    record_tip(store, report)
    report.seconds = time.perf_counter() - started
    return report


def _items(
    client: RpcClient,
    todo: list[tuple[int, str]],
    net: Network,
    works: dict[str, int],
    batch: int,
) -> Iterator[Item]:
    """The blocks of ``todo`` fetched ``batch`` at a time; ``works`` gains their chain work."""
    for i in range(0, len(todo), batch):
        chunk = todo[i : i + batch]
        raws = client.batch("getblock", [[h, 0] for _, h in chunk])
        for (height, block_hash), raw in zip(chunk, raws, strict=True):
            try:
                data = np.frombuffer(bytes.fromhex(str(raw)), np.uint8)
            except ValueError:
                raise RpcError(
                    f"getblock {block_hash}: the reply is not hex", where=client.display
                ) from None
            if data.size < 80:
                raise RpcError(f"getblock {block_hash}: {data.size} bytes", where=client.display)
            prev = data[4:36][::-1].tobytes().hex()
            bits = int.from_bytes(data[72:76].tobytes(), "little")
            works[block_hash] = works.get(prev, 0) + block_work(bits)
            yield Item(
                hash=block_hash,
                prev_hash=prev,
                height=height,
                chainwork=works[block_hash],
                anchored="node",
                source=f"rpc:{client.display}#{height}",
                load=functools.partial(np.asarray, data),
                network=net,
                bits=bits,
                file=f"rpc getblock {block_hash}",
                offset=0,
                length=int(data.size),
            )
