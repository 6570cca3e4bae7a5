"""The ``jobs`` trace: per training-job iteration, its time and where its GPUs waited
(DESIGN §4b; docs/jobs.md, "What a job reports")."""

from __future__ import annotations

import numpy as np

from ..traffic.table import PHASE_SYNC, TASK_COMPUTE

KINDS = ("tp", "pp", "dp", "ep")  #: exposed-communication kinds, in column order


def predecessors(flows) -> tuple[np.ndarray, np.ndarray]:
    """The dependency DAG by successor: (pred_ptr int64[F+1], pred int64[E])."""
    n = len(flows)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(flows.succ_ptr))
    order = np.argsort(flows.succ, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(flows.succ, minlength=n), out=ptr[1:])
    return ptr, owner[order]


def job_iterations(flows, t_start_ps: np.ndarray, t_finish_ps: np.ndarray, ideal_ps: np.ndarray) -> dict | None:
    """Columns of the ``jobs`` trace in ps (one row per job iteration), or None without jobs.

    ``ideal_ps``: per task, its time alone (ideal FCT, compute duration); the ideal iteration is
    the same DAG with every task at that time.
    """
    from fabsim.native.flow import ideal_finish
    from fabsim.native.jobs import attribute_waits

    if not flows.job_rows:
        return None
    pred_ptr, pred = predecessors(flows)
    is_compute = flows.kind == TASK_COMPUTE
    is_sync = flows.phase == PHASE_SYNC
    group = np.where(flows.job >= 0, flows.job, -1).astype(np.int64)
    # ideal: the whole job's DAG from its start, every task at its time alone
    ideal_end = ideal_finish(ideal_ps.astype(np.int64), flows.gap_ps, flows.succ_ptr, flows.succ, group)
    cols: dict[str, list] = {k: [] for k in (
        "job", "iteration", "start", "finish", "ideal", "compute", "tp", "pp", "dp", "ep", "bubble", "ranks",
    )}  # fmt: skip
    for rows in flows.job_rows:
        j = flows.jobs.index(rows.name)
        mine = np.flatnonzero(flows.job == j)
        lo, hi = int(mine[0]), int(mine[-1]) + 1
        end = t_finish_ps[rows.end_task]
        start = np.concatenate([[rows.start_ps], end[:-1]])
        # an iteration started only if its predecessor finished
        start = np.where(np.concatenate([[True], end[:-1] >= 0]), start, -1)
        rank_of_host = np.full(int(max(flows.src.max(initial=0), flows.dst.max(initial=0))) + 1, -1, np.int64)
        rank_of_host[rows.hosts] = np.arange(rows.hosts.size)
        compute, exposed, bubble = attribute_waits(
            lo, hi, t_start_ps, t_finish_ps, is_compute, is_sync, flows.phase, flows.src, flows.dst,
            pred_ptr, pred, flows.iteration, start, np.where(start >= 0, end, -1), rank_of_host,
        )
        ideal_end_it = ideal_end[rows.end_task]
        ideal = np.diff(np.concatenate([[0], ideal_end_it]))
        n_it = rows.iterations
        cols["job"] += [rows.name] * n_it
        cols["iteration"].append(np.arange(n_it))
        cols["start"].append(start)
        cols["finish"].append(np.where(start >= 0, end, -1))
        cols["ideal"].append(ideal)
        cols["compute"].append(compute)
        for k, name in enumerate(KINDS):
            cols[name].append(exposed[:, k])
        cols["bubble"].append(bubble)
        cols["ranks"].append(np.full(n_it, rows.hosts.size))
    out = {"job": cols["job"]}
    for key in cols:
        if key != "job":
            out[key] = np.concatenate(cols[key]).astype(np.int64)
    return out
