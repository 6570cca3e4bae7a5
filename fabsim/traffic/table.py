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
class FlowTable:
    """Flows (columns, one entry per flow) and their successors in CSR form.

    Columns: ``src``/``dst`` host indices (int32), ``size_bytes`` payload (int64, > 0),
    ``start_ps`` earliest start (int64), ``gap_ps`` delay after the last predecessor (int64),
    ``channel`` ECMP channel (int32), ``generator`` index of the ``[[traffic]]`` entry (int32),
    ``job`` index into ``jobs`` or −1, ``collective`` row of ``collectives`` or −1, ``iteration``
    and ``step`` within the collective or −1 (int32). DAG: ``pred_count`` (int32) and successors
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

    def __len__(self) -> int:
        return int(self.src.shape[0])
