"""Per-algorithm transfer schedules of one collective iteration, over rank indices 0 … n−1.

A schedule lists the point-to-point transfers of one iteration: in which step, in which lane,
from which rank to which, and how many bytes. Steps order a rank's work; lanes are independent
pipelines that share no dependencies (the two trees of NCCL's double binary tree; every other
algorithm has one lane). Dependencies and channels are added by :mod:`fabsim.traffic.collectives`.

A buffer of S bytes cut into p pieces gives piece i ``S // p + (i < S % p)`` bytes, so the pieces
add up to S exactly. References: ring and recursive halving/doubling as in Thakur, Rabenseifner
and Gropp, "Optimization of collective communication operations in MPICH" (IJHPCA 2005) §4;
ring and double binary tree as in NVIDIA NCCL (``src/graph/trees.cc``). docs/traffic.md draws
each algorithm.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Schedule(NamedTuple):
    """The transfers of one iteration, sorted by (step, lane). All arrays int64, one per transfer."""

    step: np.ndarray  #: 0-based step
    lane: np.ndarray  #: independent pipeline (tree 0 / tree 1 of the double tree); 0 otherwise
    sender: np.ndarray  #: rank index
    receiver: np.ndarray  #: rank index
    size_bytes: np.ndarray  #: bytes of the whole transfer (before the split over channels)


def schedule(op: str, algorithm: str, n: int, size_bytes: int, root: int = 0) -> Schedule:
    """The schedule of ``op`` with ``algorithm`` over ``n`` ≥ 2 ranks, ``size_bytes`` per rank.

    ``root`` is the root rank of a broadcast. Raises ValueError for an unsupported combination
    (the scenario loader rejects those first).
    """
    builders = {
        ("allreduce", "ring"): lambda: _concat(_ring(n, size_bytes, 0, 1), _ring(n, size_bytes, n - 1, 0)),
        ("reduce_scatter", "ring"): lambda: _ring(n, size_bytes, 0, 1),
        ("all_gather", "ring"): lambda: _ring(n, size_bytes, 0, 0),
        ("allreduce", "halving_doubling"): lambda: _concat(
            _halving(n, size_bytes, 0), _doubling(n, size_bytes, _log2(n))
        ),
        ("reduce_scatter", "halving_doubling"): lambda: _halving(n, size_bytes, 0),
        ("all_gather", "halving_doubling"): lambda: _doubling(n, size_bytes, 0),
        ("allreduce", "tree"): lambda: _double_tree_allreduce(n, size_bytes),
        ("broadcast", "ring"): lambda: _ring_broadcast(n, size_bytes, root),
        ("broadcast", "tree"): lambda: _tree_broadcast(n, size_bytes, root),
        ("all_to_all", "pairwise"): lambda: _pairwise_all_to_all(n, size_bytes),
        ("all_to_all", "direct"): lambda: _direct_all_to_all(n, size_bytes),
        ("sendrecv", "direct"): lambda: _sendrecv(n, size_bytes),
    }
    if (op, algorithm) not in builders:
        raise ValueError(f'algorithm "{algorithm}" is not supported for op "{op}"')
    return builders[(op, algorithm)]()


def busbw_factor(op: str, n: int) -> float:
    """NCCL-tests bus-bandwidth factor of ``op`` over ``n`` ranks (busbw = algbw × factor)."""
    if op == "allreduce":
        return 2 * (n - 1) / n
    if op in ("reduce_scatter", "all_gather", "all_to_all"):
        return (n - 1) / n
    return 1.0


def pieces_bytes(total: int, parts: int, index) -> np.ndarray:
    """Bytes of piece ``index`` when ``total`` bytes are cut into ``parts`` near-equal pieces."""
    index = np.asarray(index, np.int64)
    return total // parts + (index < total % parts).astype(np.int64)


# ---- ring (Thakur et al. 2005 §4; NCCL) ----------------------------------------------------------


def _ring(n: int, total: int, first_step: int, chunk_shift: int) -> Schedule:
    """n − 1 steps; in step s rank r sends chunk (r − s − chunk_shift) mod n to rank r + 1.

    With ``chunk_shift`` 1 this is a reduce-scatter that leaves rank r with reduced chunk r;
    with 0 an all-gather in which rank r starts with chunk r.
    """
    s = np.repeat(np.arange(n - 1), n)
    r = np.tile(np.arange(n), n - 1)
    chunk = (r - s - chunk_shift) % n
    return _make(first_step + s, 0, r, (r + 1) % n, pieces_bytes(total, n, chunk))


# ---- recursive halving / doubling (Rabenseifner; Thakur et al. 2005 §4) ----------------------


def _halving(n: int, total: int, first_step: int) -> Schedule:
    """Reduce-scatter by recursive halving: log2 n steps, partner distance n/2, n/4, …, 1.

    In step j rank r exchanges with r XOR m (m = n >> (j + 1)) and sends the half of its current
    chunk range that the partner keeps: chunks [partner & ~(m−1), + m), S/2, S/4, …, S/n bytes.
    Rank r ends with reduced chunk r.
    """
    r = np.arange(n)
    parts = []
    for j in range(_log2(n)):
        m = n >> (j + 1)
        partner = r ^ m
        size = _range_bytes(total, n, partner & ~(m - 1), m)
        parts.append(_make(np.full(n, first_step + j), 0, r, partner, size))
    return _concat(*parts)


def _doubling(n: int, total: int, first_step: int) -> Schedule:
    """All-gather by recursive doubling: log2 n steps, partner distance 1, 2, …, n/2.

    In step j rank r (holding chunks [r & ~(m−1), + m), m = 2^j) sends them all to r XOR m:
    S/n, 2S/n, …, S/2 bytes.
    """
    r = np.arange(n)
    parts = []
    for j in range(_log2(n)):
        m = 1 << j
        size = _range_bytes(total, n, r & ~(m - 1), m)
        parts.append(_make(np.full(n, first_step + j), 0, r, r ^ m, size))
    return _concat(*parts)


# ---- trees -----------------------------------------------------------------------------------


def btree_parent(n: int) -> np.ndarray:
    """Parent of each position in NCCL's in-order binary tree over positions 0 … n−1 (root 0: −1).

    NCCL ``ncclGetBtree``: with b the lowest set bit of p, the parent is (p XOR b) | 2b, or
    p XOR b if that is ≥ n. Odd positions are the leaves; the root 0 has a single child.
    """
    p = np.arange(n)
    low = p & -p
    up = (p ^ low) | (low << 1)
    parent = np.where(up >= n, p ^ low, up)
    parent[0] = -1
    return parent


def tree_depth(parent: np.ndarray) -> np.ndarray:
    """Depth of every node of the tree given by ``parent`` (root: parent −1, depth 0)."""
    depth = np.zeros(parent.shape[0], np.int64)
    node = parent.copy()
    while np.any(node >= 0):
        up = node >= 0
        depth += up
        node[up] = parent[node[up]]
    return depth


def double_tree_parents(n: int) -> list[np.ndarray]:
    """Parent rank of every rank in each of the two trees (root: −1).

    Tree 0 is :func:`btree_parent` on rank order; tree 1 is the same tree on ranks shifted by
    one (position p is rank p + 1 mod n), so the leaves of tree 0 (odd ranks) are inner nodes of
    tree 1. For odd n this is NCCL's ``ncclGetDtree``; for even n NCCL mirrors instead of
    shifting, which gives the same leaf/inner-node complementarity.
    """
    pos_parent = btree_parent(n)
    parents = []
    for shift in (0, 1):
        rank_of = (np.arange(n) + shift) % n
        parent = np.full(n, -1)
        inner = pos_parent >= 0
        parent[rank_of[inner]] = rank_of[pos_parent[inner]]
        parents.append(parent)
    return parents


def _double_tree_allreduce(n: int, total: int) -> Schedule:
    """Allreduce on two binary trees, each carrying half of the buffer (lane = tree).

    Per tree of depth D: the node at depth d ≥ 1 sends its half to its parent in step D − d
    (reduce, leaves first), then the parent at depth d sends the half to each child in step
    D + d (broadcast, root first). Each tree edge carries its half once up and once down.
    """
    parts = []
    for lane, parent in enumerate(double_tree_parents(n)):
        depth = tree_depth(parent)
        deepest = int(depth.max())
        half = int(pieces_bytes(total, 2, lane))
        child = np.flatnonzero(parent >= 0)
        size = np.full(child.shape[0], half)
        parts.append(_make(deepest - depth[child], lane, child, parent[child], size))
        parts.append(_make(deepest + depth[child] - 1, lane, parent[child], child, size))
    return _sorted(_concat(*parts))


def _tree_broadcast(n: int, total: int, root: int) -> Schedule:
    """Broadcast on a heap-ordered binary tree rooted at ``root``.

    Position p is rank (root + p) mod n, its parent is position (p − 1) // 2. A parent at depth
    d sends the whole buffer to each child in step d (a child forwards once it has received).
    """
    pos = np.arange(1, n)
    rank_of = (np.arange(n) + root) % n
    parent = np.concatenate([[-1], (pos - 1) // 2])
    step = tree_depth(parent)[pos] - 1
    return _make(step, 0, rank_of[parent[pos]], rank_of[pos], np.full(n - 1, total))


# ---- broadcast ring, all-to-all, sendrecv ------------------------------------------------


def _ring_broadcast(n: int, total: int, root: int) -> Schedule:
    """Pipelined broadcast along the ring from ``root``: K = n − 1 chunks of S/K bytes.

    Position p is rank (root + p) mod n. Chunk k leaves position j for j + 1 in step k + j, so
    the pipeline has K + n − 2 steps.
    """
    chunks = max(1, n - 1)
    rank_of = (np.arange(n) + root) % n
    k, j = (a.ravel() for a in np.meshgrid(np.arange(chunks), np.arange(n - 1), indexing="ij"))
    return _sorted(_make(k + j, 0, rank_of[j], rank_of[j + 1], pieces_bytes(total, chunks, k)))


def _pairwise_all_to_all(n: int, total: int) -> Schedule:
    """n − 1 steps; in step s − 1 (s = 1 … n−1) rank r sends its block for r + s mod n to it.

    Rank r's buffer is cut into n blocks, block d destined for rank d.
    """
    s = np.repeat(np.arange(1, n), n)
    r = np.tile(np.arange(n), n - 1)
    dest = (r + s) % n
    return _make(s - 1, 0, r, dest, pieces_bytes(total, n, dest))


def _direct_all_to_all(n: int, total: int) -> Schedule:
    """One step: every rank sends its block d to every other rank d at once."""
    r = np.repeat(np.arange(n), n - 1)
    offset = np.tile(np.arange(1, n), n)
    dest = (r + offset) % n
    return _make(np.zeros_like(r), 0, r, dest, pieces_bytes(total, n, dest))


def _sendrecv(n: int, total: int) -> Schedule:
    """Pipeline-parallel neighbours: rank r sends the whole buffer to r + 1 (r < n − 1), one step."""
    r = np.arange(n - 1)
    return _make(np.zeros_like(r), 0, r, r + 1, np.full(n - 1, total))


# ---- helpers -----------------------------------------------------------------------------


def _log2(n: int) -> int:
    """log2 of a power of two."""
    return n.bit_length() - 1


def _range_bytes(total: int, parts: int, first: np.ndarray, count: int) -> np.ndarray:
    """Bytes of pieces first … first + count − 1 (``count`` pieces of ``total``/``parts``)."""
    return count * (total // parts) + np.clip(total % parts - first, 0, count)


def _make(step, lane, sender, receiver, size_bytes) -> Schedule:
    sender = np.asarray(sender, np.int64)
    shape = sender.shape
    return Schedule(
        step=np.broadcast_to(np.asarray(step, np.int64), shape).copy(),
        lane=np.broadcast_to(np.asarray(lane, np.int64), shape).copy(),
        sender=sender,
        receiver=np.asarray(receiver, np.int64),
        size_bytes=np.asarray(size_bytes, np.int64),
    )


def _concat(*parts: Schedule) -> Schedule:
    return Schedule(*(np.concatenate(cols) for cols in zip(*parts)))


def _sorted(s: Schedule) -> Schedule:
    """``s`` in (step, lane) order, keeping the order of transfers within a step and lane."""
    order = np.lexsort((s.lane, s.step))
    return Schedule(*(col[order] for col in s))
