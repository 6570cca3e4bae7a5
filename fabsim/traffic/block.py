"""One generator's flows (a :class:`FlowBlock`) and the merge of all blocks into a FlowTable.

Every generator builds a block with generator-local flow ids (0, 1, …) in emission order;
:func:`merge_blocks` concatenates the blocks in generator order, offsets the ids, numbers jobs
and collective rows, and turns the dependency edges into the CSR successor lists of
:class:`~fabsim.traffic.table.FlowTable`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fabsim.errors import ScenarioError
from fabsim.traffic.table import NO_INDEX, PHASE_NONE, TASK_TRANSFER, CollectiveTable, FlowTable, JobRows

_MAX_FLOWS = np.iinfo(np.int32).max  #: flow ids are int32


@dataclass(frozen=True, eq=False)
class CollectiveRows:
    """What a collective generator contributes to the CollectiveTable: one row per iteration."""

    job: str  #: job name
    op: str
    algorithm: str
    ranks: int  #: rank count n
    size_bytes: int  #: buffer bytes per rank
    compute_ps: np.ndarray  #: int64, one per iteration: compute after it (0 after the last)
    factor: float  #: NCCL-tests busbw factor of ``op`` for n ranks


@dataclass(frozen=True, eq=False)
class FlowBlock:
    """The flows of one generator, ids local to the block (0 … len − 1), in emission order.

    Columns are as in :class:`FlowTable` (``iteration``/``step`` are −1 outside collectives).
    Dependencies are edges ``edge_pred[i] → edge_succ[i]`` (int64 local ids, pred < succ).
    ``collective`` is set for collective generators only; ``kind``, ``duration_ps`` and
    ``phase`` (None: every row a transfer outside any job), ``steps`` (None: 1 each) and ``job``
    (a :class:`JobRows` with block-local task ids) for ``[[jobs]]`` only.
    """

    src: np.ndarray
    dst: np.ndarray
    size_bytes: np.ndarray
    start_ps: np.ndarray
    gap_ps: np.ndarray
    channel: np.ndarray
    iteration: np.ndarray
    step: np.ndarray
    edge_pred: np.ndarray
    edge_succ: np.ndarray
    collective: CollectiveRows | None = None
    kind: np.ndarray | None = None
    duration_ps: np.ndarray | None = None
    phase: np.ndarray | None = None
    steps: np.ndarray | None = None
    job: JobRows | None = None

    def __len__(self) -> int:
        return int(self.src.shape[0])


def independent_flows(src, dst, size_bytes, start_ps) -> FlowBlock:
    """A block of flows outside any collective: no dependencies, gap 0, channel 0."""
    n = np.asarray(src).shape[0]
    none = np.full(n, NO_INDEX, np.int32)
    return FlowBlock(
        src=np.asarray(src, np.int32),
        dst=np.asarray(dst, np.int32),
        size_bytes=np.asarray(size_bytes, np.int64),
        start_ps=np.broadcast_to(np.asarray(start_ps, np.int64), (n,)).copy(),
        gap_ps=np.zeros(n, np.int64),
        channel=np.zeros(n, np.int32),
        iteration=none,
        step=none.copy(),
        edge_pred=np.empty(0, np.int64),
        edge_succ=np.empty(0, np.int64),
    )


def merge_blocks(blocks: list[FlowBlock], tags: list[str]) -> FlowTable:
    """Concatenate ``blocks`` (one per generator, in generator order) into one FlowTable."""
    sizes = [len(b) for b in blocks]
    n_flows = int(sum(sizes))
    if n_flows > _MAX_FLOWS:
        message = f"the traffic has {n_flows} flows; at most {_MAX_FLOWS} are supported"
        raise ScenarioError(message, path="traffic")
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    jobs: list[str] = []
    job_col, coll_col, rows = [], [], []
    n_rows = 0
    job_rows: list[JobRows] = []
    for block, off in zip(blocks, offsets):
        if block.job is not None:
            info = block.job
            if info.name in jobs:
                raise ScenarioError(f'two jobs are named "{info.name}"', path="jobs")
            jobs.append(info.name)
            job_col.append(np.full(len(block), jobs.index(info.name), np.int32))
            coll_col.append(np.full(len(block), NO_INDEX, np.int32))
            job_rows.append(replace(info, end_task=info.end_task + off))
            continue
        if block.collective is None:
            job_col.append(np.full(len(block), NO_INDEX, np.int32))
            coll_col.append(np.full(len(block), NO_INDEX, np.int32))
            continue
        info = block.collective
        if info.job not in jobs:
            jobs.append(info.job)
        job_col.append(np.full(len(block), jobs.index(info.job), np.int32))
        coll_col.append((n_rows + block.iteration).astype(np.int32))
        rows.append(info)
        n_rows += len(info.compute_ps)

    def column(name: str, dtype, default=0) -> np.ndarray:
        parts = [np.full(len(b), default, dtype) if getattr(b, name) is None else getattr(b, name) for b in blocks]
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)

    pred = np.concatenate([b.edge_pred + off for b, off in zip(blocks, offsets)] or [np.empty(0, np.int64)])
    succ = np.concatenate([b.edge_succ + off for b, off in zip(blocks, offsets)] or [np.empty(0, np.int64)])
    assert np.all(pred < succ), "dependency edges must point from a lower flow id to a higher one"
    # CSR by predecessor; the stable sort keeps each flow's successors in emission order.
    order = np.argsort(pred, kind="stable")
    succ_ptr = np.zeros(n_flows + 1, np.int64)
    np.cumsum(np.bincount(pred, minlength=n_flows), out=succ_ptr[1:])

    return FlowTable(
        src=column("src", np.int32),
        dst=column("dst", np.int32),
        size_bytes=column("size_bytes", np.int64),
        start_ps=column("start_ps", np.int64),
        gap_ps=column("gap_ps", np.int64),
        channel=column("channel", np.int32),
        generator=np.repeat(np.arange(len(blocks), dtype=np.int32), sizes),
        job=np.concatenate(job_col) if job_col else np.empty(0, np.int32),
        collective=np.concatenate(coll_col) if coll_col else np.empty(0, np.int32),
        iteration=column("iteration", np.int32),
        step=column("step", np.int32),
        pred_count=np.bincount(succ, minlength=n_flows).astype(np.int32),
        succ_ptr=succ_ptr,
        succ=succ[order].astype(np.int32),
        tags=list(tags),
        jobs=jobs,
        collectives=_collective_table(rows, jobs),
        kind=column("kind", np.int8, TASK_TRANSFER),
        duration_ps=column("duration_ps", np.int64, 0),
        phase=column("phase", np.int8, PHASE_NONE),
        steps=column("steps", np.int32, 1),
        job_rows=job_rows,
    )


def _collective_table(rows: list[CollectiveRows], jobs: list[str]) -> CollectiveTable:
    """One row per (collective generator, iteration), in generator then iteration order."""
    counts = [len(r.compute_ps) for r in rows]

    def per_row(values, dtype) -> np.ndarray:
        return np.repeat(np.asarray(values, dtype), counts) if rows else np.empty(0, dtype)

    return CollectiveTable(
        job=per_row([jobs.index(r.job) for r in rows], np.int32),
        iteration=np.concatenate([np.arange(c, dtype=np.int32) for c in counts] or [np.empty(0, np.int32)]),
        op=[r.op for r, c in zip(rows, counts) for _ in range(c)],
        algorithm=[r.algorithm for r, c in zip(rows, counts) for _ in range(c)],
        ranks=per_row([r.ranks for r in rows], np.int32),
        size_bytes=per_row([r.size_bytes for r in rows], np.int64),
        compute_ps=np.concatenate([r.compute_ps for r in rows] or [np.empty(0, np.int64)]).astype(np.int64),
        factor=per_row([r.factor for r in rows], np.float64),
    )
