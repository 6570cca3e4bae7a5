"""Collective traffic: rank placement, per-step flows over channels, and the dependency DAG.

The transfers of one iteration come from :func:`fabsim.traffic.schedules.schedule`; this module
turns them into flows and dependencies, all vectorised (a 1,024-rank ring allreduce is ~2 M
flows). Rules (docs/traffic.md has the pictures):

- **Channels.** A transfer of x bytes becomes c flows (channel 0 … c−1) of x // c bytes, the
  first x mod c of them one byte more; a flow carries at least 1 byte. Within an iteration the
  channels are independent pipelines (as NCCL channels are: each moves its own slice of the
  buffer), so every dependency below links flows of the same channel.
- **Within an iteration** (per lane and channel), a flow that rank r sends in step s depends on
  (a) every flow r received in its latest step < s in which it received something, and (b)
  every flow r sent in its latest step < s in which it sent something (one step in flight).
- **Across iterations.** A flow with no predecessor by that rule (rank r's first active step)
  in iteration i + 1 depends on every flow r sent or received, in any lane or channel, in its
  last active step of each lane in iteration i, and waits ``compute_ps`` after the last of them
  (its ``gap_ps``); every other flow has the generator's ``gap_ps``.
- Edges are per rank, never a barrier: with ring, pairwise, halving-doubling and tree a flow
  has at most two predecessors within an iteration and O(c) across iterations. Only ``direct``
  all-to-all over several iterations is quadratic: each of a rank's (n − 1)·c first flows waits
  for all 2(n − 1)·c flows of its previous iteration.
"""

from __future__ import annotations

import numpy as np

from fabsim.scenario.schema import CollectiveTraffic
from fabsim.traffic.block import CollectiveRows, FlowBlock
from fabsim.traffic.schedules import Schedule, busbw_factor, pieces_bytes, schedule


def collective_block(gen: CollectiveTraffic, n_hosts: int, rng: np.random.Generator) -> FlowBlock:
    """All flows of ``gen``'s iterations, iteration-major, then by step, lane, transfer, channel."""
    hosts = place_ranks(gen, n_hosts, rng)
    n = hosts.shape[0]
    sched = schedule(gen.op, gen.algorithm, n, gen.size_bytes, gen.root)
    pred, succ = intra_iteration_edges(sched)
    first = np.bincount(succ, minlength=sched.step.shape[0]) == 0
    cross_pred, cross_succ = inter_iteration_edges(sched, first, n)

    c, iters = gen.channels, gen.iterations
    per_iter = sched.step.shape[0] * c  # flows per iteration
    channel = np.tile(np.arange(c), sched.step.shape[0])
    size = np.maximum(1, pieces_bytes(np.repeat(sched.size_bytes, c), c, channel))
    gap = np.full((iters, per_iter), gen.gap_ps, np.int64)
    gap[1:, np.repeat(first, c)] = gen.compute_ps

    k = np.arange(c)
    flow_pred = (pred[:, None] * c + k).ravel()  # same channel
    flow_succ = (succ[:, None] * c + k).ravel()
    # Across iterations, every channel of the predecessor to every channel of the successor.
    k_pred, k_succ = (a.ravel() for a in np.meshgrid(k, k, indexing="ij"))
    x_pred = ((cross_pred * c)[:, None] + k_pred).ravel()
    x_succ = ((cross_succ * c)[:, None] + k_succ).ravel()
    base = np.arange(iters, dtype=np.int64)[:, None] * per_iter
    edge_pred = np.concatenate([(base + flow_pred).ravel(), (base[:-1] + x_pred).ravel()])
    edge_succ = np.concatenate([(base + flow_succ).ravel(), (base[1:] + x_succ).ravel()])

    compute = np.full(iters, gen.compute_ps, np.int64)
    return FlowBlock(
        src=np.tile(np.repeat(hosts[sched.sender], c), iters).astype(np.int32),
        dst=np.tile(np.repeat(hosts[sched.receiver], c), iters).astype(np.int32),
        size_bytes=np.tile(size, iters),
        start_ps=np.full(iters * per_iter, gen.start_ps, np.int64),
        gap_ps=gap.ravel(),
        channel=np.tile(channel, iters).astype(np.int32),
        iteration=np.repeat(np.arange(iters, dtype=np.int32), per_iter),
        step=np.tile(np.repeat(sched.step, c), iters).astype(np.int32),
        edge_pred=edge_pred,
        edge_succ=edge_succ,
        collective=CollectiveRows(
            job=gen.job,
            op=gen.op,
            algorithm=gen.algorithm,
            ranks=n,
            size_bytes=gen.size_bytes,
            compute_ps=compute,
            factor=busbw_factor(gen.op, n),
        ),
    )


def place_ranks(gen: CollectiveTraffic, n_hosts: int, rng: np.random.Generator) -> np.ndarray:
    """Host of each rank (rank order is ring order).

    A list is used as written. ``"all"`` or a count n is placed by ``placement``: ``packed`` =
    hosts 0 … n−1; ``strided`` = host i·(N // n) for rank i (N hosts); ``random`` = n distinct
    hosts drawn uniformly from the generator's seeded stream, in increasing host order.
    """
    if isinstance(gen.ranks, tuple):
        return np.asarray(gen.ranks, np.int64)
    n = n_hosts if gen.ranks == "all" else gen.ranks
    if gen.placement == "strided":
        return np.arange(n) * (n_hosts // n)
    if gen.placement == "random":
        return np.sort(rng.choice(n_hosts, size=n, replace=False))
    return np.arange(n)


def intra_iteration_edges(sched: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """Transfer-level dependencies within one iteration: (pred, succ) transfer indices.

    Applies rules (a) and (b) of the module docstring per (rank, lane). Transfers are keyed by
    (rank, lane, step) twice, as sent and as received; for each transfer q sent by r, the
    latest earlier step among r's receive (or send) keys is found by binary search, and every
    transfer with that key is a predecessor of q.
    """
    n_steps = int(sched.step.max()) + 1
    n_lanes = int(sched.lane.max()) + 1
    send_key = (sched.sender * n_lanes + sched.lane) * n_steps + sched.step
    recv_key = (sched.receiver * n_lanes + sched.lane) * n_steps + sched.step
    send = _Groups(send_key)
    recv = _Groups(recv_key)
    # The queries are the send keys, already sorted in ``send`` (sorted queries keep the
    # binary searches cache-friendly).
    recv_pred, recv_succ = recv.latest_earlier(send.keys, send.order, n_steps)
    send_pred, send_succ = send.latest_earlier(send.keys, send.order, n_steps)
    return np.concatenate([recv_pred, send_pred]), np.concatenate([recv_succ, send_succ])


def inter_iteration_edges(sched: Schedule, first: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Transfer-level dependencies from iteration i (pred) to iteration i + 1 (succ).

    ``first`` marks the transfers without predecessors in their iteration. Each such transfer,
    sent by rank r, depends on every transfer r sends or receives in the last step in which it
    is active, taken per lane.
    """
    t = np.arange(sched.step.shape[0])
    n_lanes = int(sched.lane.max()) + 1
    rank = np.concatenate([sched.sender, sched.receiver])
    transfer = np.concatenate([t, t])
    track = rank * n_lanes + sched.lane[transfer]
    last = np.full(n * n_lanes, -1, np.int64)
    np.maximum.at(last, track, sched.step[transfer])
    member = sched.step[transfer] == last[track]
    rank, transfer = rank[member], transfer[member]
    order = np.argsort(rank, kind="stable")
    rank, transfer = rank[order], transfer[order]
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rank, minlength=n), out=ptr[1:])

    succ_t = np.flatnonzero(first)
    owner = sched.sender[succ_t]
    counts = ptr[owner + 1] - ptr[owner]
    return transfer[_ranges(ptr[owner], counts)], np.repeat(succ_t, counts)


class _Groups:
    """Items grouped by an int64 key ``track · n_steps + step``, sorted by key."""

    def __init__(self, key: np.ndarray):
        self.order = np.argsort(key, kind="stable")  # item indices, by key
        self.keys = key[self.order]
        self.starts = np.flatnonzero(np.concatenate([[True], self.keys[1:] != self.keys[:-1]]))
        self.unique = self.keys[self.starts]
        self.counts = np.diff(np.append(self.starts, self.keys.shape[0]))

    def latest_earlier(self, queries: np.ndarray, query_item: np.ndarray, n_steps: int):
        """For each sorted query key, the items of the group with the same track and the
        largest step below the query's; returns (item, query_item) index pairs."""
        g = np.searchsorted(self.unique, queries, side="left") - 1
        hit = (g >= 0) & (self.unique[np.maximum(g, 0)] // n_steps == queries // n_steps)
        group = g[hit]
        c = self.counts[group]
        return self.order[_ranges(self.starts[group], c)], np.repeat(query_item[hit], c)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for every (s, c) pair, vectorised."""
    total = int(counts.sum())
    shift = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return shift + np.arange(total)
