"""The flow table and dependency DAG that every traffic generator produces (DESIGN §4).

One row per flow; the row index is the flow id (int32). A flow with predecessors starts when the
last of them has been fully received, plus its ``gap_ps``, and never before its ``start_ps``.
Dependency edges always point from a lower flow id to a higher one, so flow-id order is a
topological order of the DAG. Both engines consume this same table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_INDEX = -1  #: job / collective / iteration / step of a flow that belongs to no collective

# Task kinds (FlowTable.kind). A transfer moves bytes from src to dst: through the fabric, or
# through the scale-up domain when both are GPUs of one server. A compute task occupies GPU src
# (= dst) for duration_ps and moves nothing; it exists only in jobs (DESIGN §4b).
TASK_TRANSFER = 0
TASK_COMPUTE = 1

# What a job task is for (FlowTable.phase); PHASE_NONE outside jobs.
PHASE_NONE = 0
PHASE_TP = 1  #: tensor-parallel collective
PHASE_PP = 2  #: pipeline activation (forward) or gradient (backward)
PHASE_DP = 3  #: data-parallel gradient / parameter collective
PHASE_EP = 4  #: expert-parallel all-to-all
PHASE_FORWARD = 5  #: forward compute
PHASE_BACKWARD = 6  #: backward compute
PHASE_OPTIMIZER = 7  #: optimizer step
PHASE_SYNC = 8  #: a zero-duration join (iteration barrier); not compute
PHASE_NAMES = ("", "tp", "pp", "dp", "ep", "forward", "backward", "optimizer", "sync")


@dataclass(frozen=True, eq=False)
class CollectiveTable:
    """One row per collective iteration (the ``collectives`` trace's identity columns).

    ``job`` indexes ``FlowTable.jobs``; ``op`` and ``algorithm`` are strings as in the scenario;
    ``ranks`` is the rank count; ``size_bytes`` the per-rank buffer; ``compute_ps`` the compute
    time of the training step the iteration belongs to (the generator's ``compute``; an
    iteration's idle fraction is duration / (duration + compute)). ``factor`` is the NCCL-tests busbw
    factor of the op for ``ranks`` ranks (DESIGN §7).
    """

    job: np.ndarray  # int32
    iteration: np.ndarray  # int32
    op: list[str]
    algorithm: list[str]
    ranks: np.ndarray  # int32
    size_bytes: np.ndarray  # int64
    compute_ps: np.ndarray  # int64
    factor: np.ndarray  # float64

    def __len__(self) -> int:
        return int(self.job.shape[0])


@dataclass(frozen=True, eq=False)
class JobRows:
    """What the jobs trace needs to know about one ``[[jobs]]`` entry, task ids global.

    ``hosts[r]`` is the GPU (host index) of rank r. ``start_ps`` is when iteration 0 may start;
    iteration i ends when its barrier task ``end_task[i]`` (a zero-duration PHASE_SYNC task that
    waits for every rank's last task of the iteration) finishes, and iteration i + 1 starts then.
    """

    name: str
    tp: int
    pp: int
    dp: int
    ep: int
    hosts: np.ndarray  # int64[R]
    start_ps: int
    end_task: np.ndarray  # int64[iterations]

    @property
    def iterations(self) -> int:
        return int(self.end_task.shape[0])


@dataclass(frozen=True, eq=False)
class FlowTable:
    """Flows (columns, one entry per flow) and their successors in CSR form.

    Columns: ``src``/``dst`` host indices (int32), ``size_bytes`` payload (int64, > 0),
    ``start_ps`` earliest start (int64), ``gap_ps`` delay after the last predecessor (int64),
    ``channel`` ECMP channel (int32), ``generator`` index of the ``[[traffic]]`` entry (int32),
    ``job`` index into ``jobs`` or −1, ``collective`` row of ``collectives`` or −1, ``iteration``
    and ``step`` within the collective or job, or −1 (int32). ``kind`` is TASK_TRANSFER or
    TASK_COMPUTE (int8); ``duration_ps`` the time a compute task takes (int64, 0 for
    transfers, whose ``size_bytes`` is > 0; a compute task has ``size_bytes`` 0 and src = dst);
    ``phase`` a PHASE_* code (int8); ``steps`` (int32, 1 but for the connection model of a job's
    ring collectives) how many collective steps a transfer carries back to back: the engine adds
    one per-step latency for each after the first. ``job_rows`` describes every ``[[jobs]]``
    entry. DAG: ``pred_count`` (int32) and successors
    ``succ[succ_ptr[f] : succ_ptr[f + 1]]`` (int64 pointers, int32 ids). ``tags`` is the tag of
    each generator; ``jobs`` the job names.
    """

    src: np.ndarray
    dst: np.ndarray
    size_bytes: np.ndarray
    start_ps: np.ndarray
    gap_ps: np.ndarray
    channel: np.ndarray
    generator: np.ndarray
    job: np.ndarray
    collective: np.ndarray
    iteration: np.ndarray
    step: np.ndarray
    pred_count: np.ndarray
    succ_ptr: np.ndarray
    succ: np.ndarray
    tags: list[str]
    jobs: list[str]
    collectives: CollectiveTable
    kind: np.ndarray
    duration_ps: np.ndarray
    phase: np.ndarray
    steps: np.ndarray
    job_rows: list[JobRows]

    def __len__(self) -> int:
        return int(self.src.shape[0])
