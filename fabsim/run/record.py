"""What an engine driver hands back (``RawRun``), before it becomes Arrow tables, and the
packet and wire-byte counts of a flow that drivers and traces share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..trace.spool import Spool, SpoolDir


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
    flow_retx_bytes: np.ndarray | None = None  # int64[F] payload bytes sent again
    flow_retx_trim_bytes: np.ndarray | None = None  # int64[F] of those, resent because a switch trimmed them
    flow_ecn: np.ndarray | None = None  # int64[F] data packets marked
    flow_drops: np.ndarray | None = None  # int64[F] data packets dropped
    flow_trims: np.ndarray | None = None  # int64[F] data packets trimmed to their header (switch.trim)
    flow_received: np.ndarray | None = None  # int64[F] data packets that reached the destination
    flow_duplicates: np.ndarray | None = None  # int64[F] of those, copies the receiver had already
    flow_in_flight: np.ndarray | None = None  # int64[F] data packets still in the fabric at the end
    flow_gave_up: np.ndarray | None = None  # bool[F] ended after host.retries consecutive timeouts
    flow_unreachable: np.ndarray | None = None  # bool[F] destination unreachable at the end (failures)
    link_tx_bytes: np.ndarray | None = None  # int64[L] wire bytes sent
    link_max_queue: np.ndarray | None = None  # int64[L] data-queue maximum, bytes
    link_mean_queue: np.ndarray | None = None  # float64[L] time-weighted mean data queue, bytes
    link_drops: np.ndarray | None = None  # int64[L] data packets dropped at the port, any cause
    link_failure_drops: np.ndarray | None = None  # int64[L] of those, lost to a failure
    link_ecn: np.ndarray | None = None  # int64[L]
    link_trims: np.ndarray | None = None  # int64[L] data packets trimmed at the port
    link_pause_ps: np.ndarray | None = None  # int64[L] time the port's data priority was paused
    queue_samples: Spool | None = None  # the queues trace (t_ns, link_id, queue_bytes), on disk
    rate_samples: Spool | None = None  # the rates trace (t_ns, flow_id, rate_bps, target_bps, alpha)
    spools: SpoolDir | None = None  # where those two are written
    flow_cnps: np.ndarray | None = None  # DCQCN congestion signals (CNPs or ECN echoes) per flow
    failures: dict | None = None  # FailureLog.finish(): per-failure impact and per-link down time
    flow_failure_hit: np.ndarray | None = None  # bool per flow
    task_kind: np.ndarray | None = None  # int8[F] KIND_FABRIC / KIND_SCALEUP / KIND_COMPUTE (None: all fabric)


def packets(size_bytes: np.ndarray, mtu_bytes: int) -> np.ndarray:
    """Packets per flow: ceil(size / mtu)."""
    return (np.asarray(size_bytes, np.int64) + mtu_bytes - 1) // mtu_bytes


def wire_bytes(size_bytes: np.ndarray, mtu_bytes: int, header_bytes: int) -> np.ndarray:
    """Bytes on the wire per flow: payload plus one header per packet."""
    return np.asarray(size_bytes, np.int64) + packets(size_bytes, mtu_bytes) * header_bytes
