"""The ``jobs`` trace: per training-job iteration, its time and where its GPUs waited
(DESIGN §4b; docs/jobs.md, "What a job reports"): :func:`job_iterations` computes its
columns from a run, :func:`training_figures` the per-job figures that ``fabsim report`` and
``fabsim plot`` show (docs/reports.md)."""

from __future__ import annotations

from dataclasses import dataclass

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


#: Where a rank's iteration time went, in ``jobs``-trace column order: (label, column).
BREAKDOWN = (
    ("compute", "compute_ns"),
    ("exposed tp", "exposed_tp_ns"),
    ("exposed pp", "exposed_pp_ns"),
    ("exposed dp", "exposed_dp_ns"),
    ("exposed ep", "exposed_ep_ns"),
    ("bubble", "bubble_ns"),
)


@dataclass(frozen=True)
class TrainingFigures:
    """A training job's iterations (``jobs`` trace), times in ns.

    Every figure is a mean over the job's completed iterations (None when none completed);
    ``compute_ns``, the exposed times and ``bubble_ns`` are also means over ranks, so per
    iteration they add up to ``iteration_ns`` (``breakdown_ns`` lists them in that order).
    ``network_cost_ns`` is ``iteration_ns − ideal_ns``: the time the fabric added to an
    iteration against every transfer alone on an idle fabric.
    """

    job: str
    iterations: int
    completed: int
    iteration_ns: float | None
    ideal_ns: float | None
    compute_ns: float | None
    exposed_ns: dict[str, float | None]  #: by kind: tp, pp, dp, ep
    bubble_ns: float | None
    idle_fraction: float | None

    @property
    def network_cost_ns(self) -> float | None:
        if self.iteration_ns is None or self.ideal_ns is None:
            return None
        return self.iteration_ns - self.ideal_ns

    @property
    def network_cost_fraction(self) -> float | None:
        """``network_cost_ns`` as a share of ``iteration_ns``."""
        cost = self.network_cost_ns
        return cost / self.iteration_ns if cost is not None and self.iteration_ns else None

    @property
    def breakdown_ns(self) -> dict[str, float | None]:
        """Compute, exposed tp/pp/dp/ep and bubble, keyed by the labels of :data:`BREAKDOWN`."""
        values = [self.compute_ns, *(self.exposed_ns[k] for k in KINDS), self.bubble_ns]
        return {label: value for (label, _), value in zip(BREAKDOWN, values)}


def training_figures(jobs) -> list[TrainingFigures]:
    """One :class:`TrainingFigures` per job of a ``jobs`` trace (a ``pyarrow.Table``), in the
    order the jobs first occur in it."""
    rows = jobs.to_pylist()
    figures = []
    for name in dict.fromkeys(r["job"] for r in rows):
        mine = [r for r in rows if r["job"] == name]
        done = [r for r in mine if r["iteration_ns"] is not None]

        def mean(column, done=done):
            return float(np.mean([r[column] for r in done])) if done else None

        figures.append(TrainingFigures(
            job=name,
            iterations=len(mine),
            completed=len(done),
            iteration_ns=mean("iteration_ns"),
            ideal_ns=mean("ideal_ns"),
            compute_ns=mean("compute_ns"),
            exposed_ns={k: mean(f"exposed_{k}_ns") for k in KINDS},
            bubble_ns=mean("bubble_ns"),
            idle_fraction=mean("idle_fraction"),
        ))
    return figures
