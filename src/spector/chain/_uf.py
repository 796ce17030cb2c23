"""The compiled union-find behind address clustering.

Two arrays per address id: ``parent`` and ``size`` (int32 while ids fit, int64 beyond),
8 bytes per address at int32. ``find`` halves paths as it walks; ``union`` hangs the
smaller tree under the larger (ties: the first argument's root stays the root).

Edges arrive grouped by transaction: group ``g`` is ``members[offsets[g]:offsets[g+1]]``
and means "every member is one owner with the group's first member" (a transaction's
input addresses, plus the change output a heuristic picked). ``apply_groups`` applies the
groups in order and reports

- the *spanning merges*: the member rows whose union joined two clusters (the edge
  ``(members[offsets[g]], members[j])``): exactly a spanning forest of the clusters, in
  the order they formed, so the clusters after any prefix of the groups are the connected
  components of the merges recorded for that prefix;
- the groups *held back* by the super-cluster guard: a group whose clusters together
  hold at least ``guard_min`` addresses and more than ``guard_factor`` times the largest
  of them is not applied at all (BlockSci issue #220: one transaction that welds many
  clusters into one is more likely a heuristic's mistake than one owner).

Nothing here allocates per group; the guard marks the clusters it has counted by
negating their sizes for a moment, so it needs no extra array per address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "GroupResult",
    "UnionFind",
    "apply_groups",
    "component_labels",
    "groups_from_edges",
]

INT32_MAX = np.iinfo(np.int32).max
AHEAD = 32  # groups: how far ahead the kernel asks for the parents it will need
# LLVM 15 and later name the intrinsic by its opaque pointer type
_PREFETCH = "llvm.prefetch.p0" if llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


@intrinsic
def _prefetch(typingctx, arr, idx):  # type: ignore[no-untyped-def]
    """Ask the CPU to bring ``arr[idx]`` into cache (no effect on results): the random
    reads of a big union-find wait on memory, and several can be under way at once."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, aryty, ary, [args[1]], wraparound=False
        )
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)  # type: ignore[no-untyped-call]
        # read, high locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


# the kernels call it with (array, index); numba passes the typing context itself
prefetch: Callable[[np.ndarray, int], None] = _prefetch  # type: ignore[assignment]


@njit(cache=True, inline="always")
def _find(parent, x):  # type: ignore[no-untyped-def]
    while parent[x] != x:
        up = parent[parent[x]]
        parent[x] = up
        x = up
    return x


@njit(cache=True)
def _apply(  # type: ignore[no-untyped-def]
    parent, size, members, offsets, g0, guard_factor, guard_min, roots, merged, held, stats
):
    """Groups from ``g0`` on; stops early (returning the next group) when ``held`` is full."""
    n_merged = 0
    n_held = 0
    n_groups = len(offsets) - 1
    for g in range(g0, n_groups):
        if g + AHEAD < n_groups:
            p = offsets[g + AHEAD]
            q = offsets[g + AHEAD + 1]
            if q - p >= 2:
                prefetch(parent, members[p])
                prefetch(parent, members[p + 1])
                prefetch(size, members[p])
                prefetch(size, members[p + 1])
        lo = offsets[g]
        hi = offsets[g + 1]
        if hi - lo < 2:
            continue
        if hi - lo == 2:  # most transactions: no marks needed
            a = _find(parent, members[lo])
            b = _find(parent, members[lo + 1])
            if a == b:
                continue
            total = size[a] + size[b]
            largest = max(size[a], size[b])
            if guard_factor > 0 and total >= guard_min and total > guard_factor * largest:
                if n_held == len(held):
                    return n_merged, n_held, g
                held[n_held] = g
                stats[n_held, 0] = total
                stats[n_held, 1] = largest
                stats[n_held, 2] = 2
                n_held += 1
                continue
            if size[a] < size[b]:
                parent[a] = b
                size[b] = total
            else:
                parent[b] = a
                size[a] = total
            merged[n_merged] = lo + 1
            n_merged += 1
            continue
        # the group's clusters: roots[k] per member, sizes counted once (negated marks)
        total = 0
        largest = 0
        parts = 0
        for j in range(lo, hi):
            r = _find(parent, members[j])
            roots[j - lo] = r
            s = size[r]
            if s > 0:
                total += s
                parts += 1
                if s > largest:
                    largest = s
                size[r] = -s
        for j in range(lo, hi):
            r = roots[j - lo]
            if size[r] < 0:
                size[r] = -size[r]
        if parts < 2:
            continue
        if guard_factor > 0 and total >= guard_min and total > guard_factor * largest:
            if n_held == len(held):
                return n_merged, n_held, g
            held[n_held] = g
            stats[n_held, 0] = total
            stats[n_held, 1] = largest
            stats[n_held, 2] = parts
            n_held += 1
            continue
        a = roots[0]
        for j in range(lo + 1, hi):
            a = _find(parent, a)
            b = _find(parent, roots[j - lo])
            if a == b:
                continue
            if size[a] < size[b]:
                parent[a] = b
                size[b] += size[a]
                a = b
            else:
                parent[b] = a
                size[a] += size[b]
            merged[n_merged] = j
            n_merged += 1
    return n_merged, n_held, n_groups


@njit(cache=True)
def _labels(parent, out):  # type: ignore[no-untyped-def]
    """out[i] = the smallest id in i's cluster (ids visited in increasing order, so the
    first member seen of each root is its smallest)."""
    n = len(parent)
    first = np.full(n, -1, parent.dtype)
    for i in range(n):
        r = _find(parent, i)
        if first[r] < 0:
            first[r] = i
        out[i] = first[r]


@njit(cache=True)
def _roots(parent, out):  # type: ignore[no-untyped-def]
    for i in range(len(parent)):
        out[i] = _find(parent, i)


@njit(cache=True)
def _reset(parent, size, ids):  # type: ignore[no-untyped-def]
    for i in ids:
        parent[i] = i
        size[i] = 1


@dataclass(frozen=True, slots=True)
class GroupResult:
    """What ``apply_groups`` did: member rows that merged two clusters (``merged``, into
    ``members``), and the groups held back with (addresses, largest part, parts) each."""

    merged: np.ndarray  # int64 row indices into members
    held: np.ndarray  # int64 group indices
    held_stats: np.ndarray  # int64 (n_held, 3): total addresses, largest part, parts


class UnionFind:
    """Parent and size arrays over address ids 0..n-1, grown as addresses appear."""

    def __init__(self, parent: np.ndarray, size: np.ndarray) -> None:
        if parent.shape != size.shape or parent.dtype != size.dtype:
            raise ValueError("parent and size must have one shape and dtype")
        self.parent = parent
        self.size = size

    @classmethod
    def empty(cls, n: int = 0) -> UnionFind:
        dtype = np.int32 if n <= INT32_MAX else np.int64
        return cls(np.arange(n, dtype=dtype), np.ones(n, dtype=dtype))

    def __len__(self) -> int:
        return len(self.parent)

    @property
    def nbytes(self) -> int:
        return int(self.parent.nbytes + self.size.nbytes)

    def grow(self, n: int) -> None:
        """Add singletons so that ids up to ``n - 1`` exist (int64 once ids need it)."""
        old = len(self.parent)
        if n <= old:
            return
        dtype = self.parent.dtype if n <= INT32_MAX else np.dtype(np.int64)
        parent = np.empty(n, dtype)
        parent[:old] = self.parent
        parent[old:] = np.arange(old, n, dtype=dtype)
        size = np.empty(n, dtype)
        size[:old] = self.size
        size[old:] = 1
        self.parent, self.size = parent, size

    def truncate(self, n: int) -> None:
        """Forget ids ``n`` and above (the caller guarantees no id below points there)."""
        self.parent = self.parent[:n].copy()
        self.size = self.size[:n].copy()

    def reset(self, ids: np.ndarray) -> None:
        """Make each of ``ids`` a singleton again (whole clusters only)."""
        _reset(self.parent, self.size, ids.astype(self.parent.dtype))

    def roots(self) -> np.ndarray:
        """Every id's root (the id naming its cluster inside the union-find)."""
        out = np.empty(len(self.parent), self.parent.dtype)
        if len(out):
            _roots(self.parent, out)
        return out

    def labels(self) -> np.ndarray:
        """Every id's cluster label: the smallest id in its cluster."""
        out = np.empty(len(self.parent), self.parent.dtype)
        if len(out):
            _labels(self.parent, out)
        return out


def apply_groups(
    uf: UnionFind,
    members: np.ndarray,
    offsets: np.ndarray,
    *,
    guard_factor: float = 0.0,
    guard_min: int = 0,
) -> GroupResult:
    """Apply the groups in order (see the module docstring); ``guard_factor`` 0 turns
    the guard off. ``members`` must be ids below ``len(uf)``; raises ValueError if not."""
    members = np.ascontiguousarray(members)
    if members.dtype.kind not in "iu":
        raise ValueError("member ids must be integers")
    if members.dtype.itemsize < uf.parent.dtype.itemsize or members.dtype.kind == "u":
        members = members.astype(uf.parent.dtype)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(members):
        raise ValueError("offsets must run from 0 to len(members)")
    if len(members) and (members.min() < 0 or members.max() >= len(uf)):
        raise ValueError("a member id outside the union-find")
    n_groups = len(offsets) - 1
    widest = int(np.diff(offsets).max()) if n_groups else 0
    roots = np.empty(max(widest, 1), uf.parent.dtype)
    # at most one merge per member beyond each group's first, and fewer than len(uf)
    merged = np.empty(max(0, min(len(members) - n_groups, len(uf))), np.int64)
    merged_parts, held_parts, stats_parts = [], [], []
    g = 0
    capacity = 256
    while g < n_groups:
        held = np.empty(capacity, np.int64)
        stats = np.empty((capacity, 3), np.int64)
        n_merged, n_held, g = _apply(
            uf.parent, uf.size, members, offsets, g, float(guard_factor), int(guard_min),
            roots, merged, held, stats,
        )  # fmt: skip
        # the buffer is reused when the kernel stops early (held back buffer full)
        merged_parts.append(merged[:n_merged].copy() if g < n_groups else merged[:n_merged])
        held_parts.append(held[:n_held])
        stats_parts.append(stats[:n_held])
        capacity *= 4
    if not merged_parts:
        return GroupResult(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 3), np.int64))
    if len(merged_parts) == 1:
        return GroupResult(merged_parts[0], held_parts[0], stats_parts[0])
    return GroupResult(
        np.concatenate(merged_parts), np.concatenate(held_parts), np.concatenate(stats_parts)
    )


def groups_from_edges(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain edges as groups of two (``members``, ``offsets``)."""
    members = np.empty(2 * len(src), np.result_type(src.dtype, dst.dtype))
    members[0::2] = src
    members[1::2] = dst
    return members, np.arange(0, len(members) + 1, 2, dtype=np.int64)


def component_labels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The clusters of a plain edge list (no guard): each id's smallest cluster-mate."""
    uf = UnionFind.empty(n)
    members, offsets = groups_from_edges(src, dst)
    apply_groups(uf, members, offsets)
    return uf.labels()
