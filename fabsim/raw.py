"""What an engine hands back, before it becomes Arrow tables, and helpers both engines share."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .model import Model
from .trace.spool import Spool, SpoolDir

#: Hash ids of collective flows: one per job, so a job's connection between two ranks on one
#: channel keeps its path across steps and iterations (an NCCL queue pair's 5-tuple does not
#: change between steps); other flows hash with their own flow id.
JOB_HASH_BASE = 2**31


@dataclass(frozen=True)
class Progress:
    """A progress report between kernel slices."""

    t_ps: int
    flows_done: int
    flows_total: int
    events: int
    wall_s: float


class Slicer:
    """Ends of the kernel slices of a run: the driver returns to Python between slices for
    progress reports, trace samples and Ctrl-C.

    With ``fixed_ps`` the slices end on the multiples of it (the sample times of the queue and
    rates traces), also after a slice cut short by ``limit``; otherwise they start at 10 µs of
    simulated time and adapt so that each takes about ``wall_s`` of wall time.
    """

    def __init__(self, until_ps: int, fixed_ps: int = 0, wall_s: float = 0.25, wall0: float | None = None):
        self.until_ps = until_ps
        self.wall0 = time.perf_counter() if wall0 is None else wall0
        self.fixed = fixed_ps > 0
        self.slice_ps = fixed_ps or 10**7
        self.wall_s = wall_s
        self.t_end = 0
        self._started = 0.0

    def more(self) -> bool:
        return self.t_end < self.until_ps

    def next_end(self, limit: int | None = None) -> int:
        """The end of the next slice (ps), at most ``limit``; starts its wall clock."""
        if self.fixed:  # the next multiple, wherever the last slice ended
            self.t_end = min((self.t_end // self.slice_ps + 1) * self.slice_ps, self.until_ps)
        else:
            self.t_end = min(self.t_end + self.slice_ps, self.until_ps)
        if limit is not None:
            self.t_end = min(self.t_end, limit)
        self._started = time.perf_counter()
        return self.t_end

    def done(self) -> None:
        """The slice just run has returned: adapt the next one's length."""
        if not self.fixed:
            spent = max(time.perf_counter() - self._started, 1e-4)
            self.slice_ps = int(min(max(self.slice_ps * self.wall_s / spent, 10**6), 10**13))

    def report(self, progress, finished: bool, t_now_ps, flows_done, flows_total: int, events) -> None:
        """Call ``progress`` (if any) with where the run is: the slice end, or the last event's
        time once the run has finished."""
        if progress is not None:
            progress(Progress(
                t_ps=int(t_now_ps if finished else self.t_end), flows_done=int(flows_done),
                flows_total=flows_total, events=int(events), wall_s=time.perf_counter() - self.wall0,
            ))


@dataclass(frozen=True, eq=False)
class RawRun:
    """Per-flow and per-run results of one engine run (arrays indexed by flow id).

    ``t_start_ps``/``t_finish_ps`` are −1 for flows that never started / finished;
    ``sent_bytes`` are wire bytes put on the first link (the flow engine's link accounting uses
    them; the packet engine counts link bytes itself); ``ideal_fct_ps`` is the FCT alone on an
    idle fabric along the flow's hashed path; paths are CSR over directed link ids.
    """

    engine: str
    t_start_ps: np.ndarray
    t_finish_ps: np.ndarray
    sent_bytes: np.ndarray
    wire_bytes: np.ndarray
    ideal_fct_ps: np.ndarray
    path_ptr: np.ndarray
    path_link: np.ndarray
    end_ps: int
    events: int
    solves: int
    wall_s: float
    stopped_at_until: bool
    # packet-level counters (None from the flow engine, whose traces report zeros)
    packet_hops: int | None = None
    flow_packets: np.ndarray | None = None  # int64[F] data packets sent, retransmissions included
    flow_retx_bytes: np.ndarray | None = None  # int64[F] payload bytes sent again by go-back-N
    flow_ecn: np.ndarray | None = None  # int64[F] data packets marked
    flow_drops: np.ndarray | None = None  # int64[F] data packets dropped
    flow_received: np.ndarray | None = None  # int64[F] data packets that reached the destination
    flow_in_flight: np.ndarray | None = None  # int64[F] data packets still in the fabric at the end
    flow_gave_up: np.ndarray | None = None  # bool[F] ended after host.retries consecutive timeouts
    flow_unreachable: np.ndarray | None = None  # bool[F] destination unreachable at the end (failures)
    link_tx_bytes: np.ndarray | None = None  # int64[L] wire bytes sent
    link_max_queue: np.ndarray | None = None  # int64[L] data-queue maximum, bytes
    link_mean_queue: np.ndarray | None = None  # float64[L] time-weighted mean data queue, bytes
    link_drops: np.ndarray | None = None  # int64[L] data packets dropped at the port, any cause
    link_failure_drops: np.ndarray | None = None  # int64[L] of those, lost to a failure
    link_ecn: np.ndarray | None = None  # int64[L]
    link_pause_ps: np.ndarray | None = None  # int64[L] time the port's data priority was paused
    queue_samples: Spool | None = None  # the queues trace (t_ns, link_id, queue_bytes), on disk
    rate_samples: Spool | None = None  # the rates trace (t_ns, flow_id, rate_bps, target_bps, alpha)
    spools: SpoolDir | None = None  # where those two are written
    flow_cnps: np.ndarray | None = None  # DCQCN congestion signals (CNPs or ECN echoes) per flow
    failures: dict | None = None  # FailureLog.finish(): per-failure impact and per-link down time
    flow_failure_hit: np.ndarray | None = None  # bool per flow


def packets(size_bytes: np.ndarray, mtu_bytes: int) -> np.ndarray:
    """Packets per flow: ceil(size / mtu)."""
    return (np.asarray(size_bytes, np.int64) + mtu_bytes - 1) // mtu_bytes


def wire_bytes(size_bytes: np.ndarray, mtu_bytes: int, header_bytes: int) -> np.ndarray:
    """Bytes on the wire per flow: payload plus one header per packet."""
    return np.asarray(size_bytes, np.int64) + packets(size_bytes, mtu_bytes) * header_bytes


def hash_ids(flows) -> np.ndarray:
    """The ECMP hash id of every flow (see ``JOB_HASH_BASE``)."""
    ids = np.arange(len(flows), dtype=np.int64)
    return np.where(flows.job >= 0, JOB_HASH_BASE + flows.job.astype(np.int64), ids)


def flow_paths(model: Model, flows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR paths of every flow under the model's routing, and the hash ids used."""
    hid = hash_ids(flows)
    path_ptr, path_link = model.routing.paths(flows.src, flows.dst, hid, flows.channel, model.scenario.run.seed)
    return path_ptr, path_link, hid
