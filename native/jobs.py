"""Where a training job's GPUs wait (docs/jobs.md, "What a job reports").

For every compute task of a rank, the idle time since the rank's previous compute task (or the
iteration's start) is attributed along the task's *critical chain*: its latest-finishing
predecessor, and, while that is a transfer, the transfer's own latest-finishing predecessor, and
so on. The part of the idle interval during which a transfer of the chain was under way is
exposed communication of that transfer's kind (tp, pp, dp, ep); the rest — waiting for compute
on another rank — is pipeline bubble. Zero-time joins (PHASE_SYNC tasks) are looked through. A rank's idle time after its last compute task of the
iteration is attributed the same way, starting from the last transfer it received. Per rank,
compute + exposed + bubble = the iteration's duration.
"""

from __future__ import annotations

import numpy as np

from .jit import kernel

_KINDS = 4  # tp, pp, dp, ep: phases 1 … 4


@kernel
def _critical(p, t_finish, pred_ptr, pred):
    """The predecessor of task ``p`` that finished last (−1 if none)."""
    best = -1
    for k in range(pred_ptr[p], pred_ptr[p + 1]):
        q = pred[k]
        if best < 0 or t_finish[q] > t_finish[best]:
            best = q
    return best


@kernel
def _walk(p, lo, hi, t_start, t_finish, is_compute, is_sync, phase, pred_ptr, pred, exposed, i):
    """Credit the transfers of the chain from ``p`` with their overlap of [lo, hi); returns the
    time credited."""
    credited = np.int64(0)
    while p >= 0 and hi > lo:
        if is_sync[p]:  # a join takes no time: look through it
            p = _critical(p, t_finish, pred_ptr, pred)
            continue
        if is_compute[p]:
            break
        overlap = min(hi, t_finish[p]) - max(lo, t_start[p])
        if overlap > 0:
            exposed[i, phase[p] - 1] += overlap
            credited += overlap
        hi = min(hi, t_start[p])
        p = _critical(p, t_finish, pred_ptr, pred)
    return credited


@kernel
def attribute_waits(lo, hi, t_start, t_finish, is_compute, is_sync, phase, src, dst, pred_ptr, pred,
                    iteration, it_start, it_end, rank_of_host):
    """Sums over ranks, per iteration, of compute time, exposed time per kind and bubble, for
    the tasks ``lo … hi − 1`` of one job (ids in topological order). Iterations whose end
    ``it_end`` is −1 (not finished) are left at 0. Returns (compute[I], exposed[I, 4], bubble[I])."""
    n_it = it_start.shape[0]
    n_ranks = 0
    for h in range(rank_of_host.shape[0]):
        n_ranks = max(n_ranks, rank_of_host[h] + 1)
    compute = np.zeros(n_it, np.int64)
    exposed = np.zeros((n_it, _KINDS), np.int64)
    bubble = np.zeros(n_it, np.int64)
    last_end = np.full((n_it, n_ranks), -1, np.int64)
    last_rx = np.full((n_it, n_ranks), -1, np.int64)
    for f in range(lo, hi):
        i = iteration[f]
        if it_end[i] < 0 or t_finish[f] < 0 or is_sync[f]:
            continue
        if is_compute[f]:
            r = rank_of_host[src[f]]
            a = last_end[i, r] if last_end[i, r] >= 0 else it_start[i]
            b = t_start[f]
            compute[i] += t_finish[f] - b
            if b > a:
                p = _critical(f, t_finish, pred_ptr, pred)
                credited = _walk(p, a, b, t_start, t_finish, is_compute, is_sync, phase, pred_ptr, pred, exposed, i)
                bubble[i] += b - a - credited
            last_end[i, r] = t_finish[f]
        else:
            r = rank_of_host[dst[f]]
            if r >= 0 and (last_rx[i, r] < 0 or t_finish[f] > t_finish[last_rx[i, r]]):
                last_rx[i, r] = f
    for i in range(n_it):
        if it_end[i] < 0:
            continue
        for r in range(n_ranks):
            a = last_end[i, r] if last_end[i, r] >= 0 else it_start[i]
            b = it_end[i]
            if b > a:
                credited = _walk(last_rx[i, r], a, b, t_start, t_finish, is_compute, is_sync, phase, pred_ptr, pred, exposed, i)
                bubble[i] += b - a - credited
    return compute, exposed, bubble
