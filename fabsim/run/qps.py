"""Queue-pair scaling (``routing.qps = N``; docs/engines.md, "Queue pairs"): every fabric transfer
is carried by N queue pairs, as NCCL's ``NCCL_IB_QPS_PER_CONNECTION`` opens them.

``split`` turns each transfer into up to N *sub-flows*, one per queue pair: QP ``q`` carries the
transfer's packets ``q, q + N, q + 2N, …`` (dealt round-robin), is a connection of its own (its
own sequence numbers, transport and congestion control state) and hashes with its own channel
(``channel + q·QP_CHANNEL_STRIDE``), so the QPs of one transfer take their own paths. A transfer
of fewer than N packets has one QP per packet. Compute tasks and scale-up transfers are not
split. Every sub-flow of a task waits for every sub-flow of each of its predecessors, so a
transfer is received when its last QP is. The flow engine's spraying (``fabsim.run.spray``)
splits the same way, N then being a number per transfer (its equal-cost paths).

The engines run the sub-flows; ``fold`` turns their results back into one row per transfer:
started when its first QP started, finished when its last QP finished (or not at all, if one
did not), counters summed, and its path in the traces its first QP's. Its ideal FCT is the whole
transfer alone along that path (the engine's own formula), not a QP's. Per-link bytes are the
QPs' own, on the links each crossed. In the failure log a task is hit (or unreachable) if one of
its QPs is; ``flows_rerouted`` still counts QPs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..native.codes import KIND_FABRIC
from ..traffic.table import FlowTable
from .record import RawRun, packets
from .tasks import engine_kinds

#: added to a transfer's channel once per queue pair, so that its QPs hash apart (FlowTable
#: channels are int32: well below this, and the sum stays below 2³¹ for the at most 127 QPs
#: that ``routing.qps`` allows)
QP_CHANNEL_STRIDE = 1 << 24


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """Sub-flows of a flow table: ``first[f]:first[f + 1]`` are the sub-flows of task ``f``
    (``parent`` maps each back)."""

    flows: FlowTable
    first: np.ndarray  # int64[F + 1]
    parent: np.ndarray  # int64[S]

    @property
    def n_sub(self) -> np.ndarray:
        return np.diff(self.first)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ptr = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=ptr[1:])
    return np.repeat(starts - ptr[:-1], lengths) + np.arange(total, dtype=np.int64)


def even_share(total: np.ndarray, n: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Part ``q`` of ``total`` shared out in ``n`` parts as evenly as integers allow."""
    return total // n + (q < total % n)


def split(model, flows: FlowTable, qps, channel_stride: int = QP_CHANNEL_STRIDE, by_bytes: bool = False) -> Split:
    """The sub-flows of ``flows`` with ``qps`` queue pairs per fabric transfer (an integer, or
    one per task); sub-flow ``q`` of a transfer has its channel plus ``q·channel_stride``.
    With ``by_bytes`` a transfer's bytes are shared out evenly (the first ``size mod N``
    sub-flows one byte more) instead of its packets."""
    mtu = model.scenario.host.mtu_bytes
    n = len(flows)
    fabric = engine_kinds(model, flows) == KIND_FABRIC
    n_pkts = packets(flows.size_bytes, mtu)
    n_sub = np.where(fabric, np.maximum(np.minimum(qps, n_pkts), 1), 1).astype(np.int64)
    first = np.zeros(n + 1, np.int64)
    np.cumsum(n_sub, out=first[1:])
    parent = np.repeat(np.arange(n, dtype=np.int64), n_sub)
    q = np.arange(len(parent), dtype=np.int64) - first[parent]  # the QP index of each sub-flow
    # sizes: QP q has the packets j ≡ q (mod N) of the transfer; the last packet may be short
    size = flows.size_bytes[parent].astype(np.int64)
    split_row = fabric[parent]
    per = n_sub[parent]
    pk = n_pkts[parent]
    count = (pk - q + per - 1) // per
    short = np.where(q == (pk - 1) % per, pk * mtu - size, 0)
    sizes = np.where(split_row, count * mtu - short, size)
    if by_bytes:
        sizes = np.where(split_row, even_share(size, per, q), size)
    # the DAG: every sub-flow of f precedes every sub-flow of each successor of f
    succ_count = np.diff(flows.succ_ptr)
    edge_src = np.repeat(np.arange(n, dtype=np.int64), succ_count)
    edge_dst = flows.succ.astype(np.int64)
    targets = _ranges(first[edge_dst], n_sub[edge_dst])  # per parent f, its successors' sub-flows
    per_parent = np.zeros(n, np.int64)
    np.add.at(per_parent, edge_src, n_sub[edge_dst])
    t_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(per_parent, out=t_ptr[1:])
    sub_len = per_parent[parent]
    succ_ptr = np.zeros(len(parent) + 1, np.int64)
    np.cumsum(sub_len, out=succ_ptr[1:])
    succ = targets[_ranges(t_ptr[parent], sub_len)].astype(np.int32)
    preds = np.zeros(n, np.int64)
    np.add.at(preds, edge_dst, n_sub[edge_src])
    channel = flows.channel[parent].astype(np.int64) + np.where(split_row, q * channel_stride, 0)
    sub = dataclasses.replace(
        flows,
        src=flows.src[parent], dst=flows.dst[parent], size_bytes=sizes.astype(flows.size_bytes.dtype),
        start_ps=flows.start_ps[parent], gap_ps=flows.gap_ps[parent], channel=channel.astype(np.int32),
        generator=flows.generator[parent], job=flows.job[parent], collective=flows.collective[parent],
        iteration=flows.iteration[parent], step=flows.step[parent],
        pred_count=preds[parent].astype(flows.pred_count.dtype), succ_ptr=succ_ptr, succ=succ,
        kind=flows.kind[parent], duration_ps=flows.duration_ps[parent], phase=flows.phase[parent],
        steps=flows.steps[parent],
    )
    return Split(sub, first, parent)


def fold(model, flows: FlowTable, s: Split, raw: RawRun, ideal_fct) -> RawRun:
    """``raw`` (a run of ``s.flows``) as one row per task of ``flows``. ``ideal_fct(model,
    flows, path_ptr, path_link)`` is the engine's ideal FCT of every task along those paths."""
    first = s.first[:-1]

    def total(a):
        return None if a is None else np.add.reduceat(a, first)

    def any_(a):
        return None if a is None else np.logical_or.reduceat(a, first)

    big = np.iinfo(np.int64).max
    start = np.minimum.reduceat(np.where(raw.t_start_ps >= 0, raw.t_start_ps, big), first)
    start[start == big] = -1
    finish = np.maximum.reduceat(raw.t_finish_ps, first)
    finish[np.minimum.reduceat(raw.t_finish_ps, first) < 0] = -1  # a QP has not finished
    # each task's path: its first QP's
    hops = np.diff(raw.path_ptr)[first]
    path_ptr = np.zeros(len(flows) + 1, np.int64)
    np.cumsum(hops, out=path_ptr[1:])
    path_link = raw.path_link[_ranges(raw.path_ptr[first], hops)]
    ideal = raw.ideal_fct_ps[first].copy()
    fabric = np.flatnonzero(engine_kinds(model, flows) == KIND_FABRIC)
    if fabric.size:
        ideal[fabric] = ideal_fct(model, flows, path_ptr, path_link)[fabric]
    link_tx = raw.link_tx_bytes
    if link_tx is None and (raw.failures is None or raw.failures["link_bytes"] is None):
        # the fluid engine's per-link bytes, from the paths the sub-flows took (the folded
        # path is only the first's)
        tx = np.bincount(raw.path_link, weights=np.repeat(raw.sent_bytes, np.diff(raw.path_ptr)).astype(np.float64),
                         minlength=model.fabric.n_links)
        link_tx = np.round(tx[: model.fabric.n_links]).astype(np.int64)
    failures = raw.failures
    if failures is not None:  # per failure and flow: a task was hit if one of its QPs was
        hit = np.logical_or.reduceat(failures["hit"], first, axis=1) if failures["hit"].shape[1] else failures["hit"]
        failures = {**failures, "hit": hit, "flows_hit": hit.sum(axis=1), "unreachable": any_(failures["unreachable"])}
    return dataclasses.replace(
        raw,
        failures=failures, link_tx_bytes=link_tx,
        t_start_ps=start, t_finish_ps=finish, sent_bytes=total(raw.sent_bytes), wire_bytes=total(raw.wire_bytes),
        ideal_fct_ps=ideal, path_ptr=path_ptr, path_link=path_link,
        flow_packets=total(raw.flow_packets), flow_retx_bytes=total(raw.flow_retx_bytes),
        flow_retx_trim_bytes=total(raw.flow_retx_trim_bytes),
        flow_ecn=total(raw.flow_ecn), flow_drops=total(raw.flow_drops), flow_trims=total(raw.flow_trims),
        flow_received=total(raw.flow_received), flow_duplicates=total(raw.flow_duplicates),
        flow_in_flight=total(raw.flow_in_flight),
        flow_gave_up=any_(raw.flow_gave_up), flow_unreachable=any_(raw.flow_unreachable),
        flow_cnps=total(raw.flow_cnps), flow_failure_hit=any_(raw.flow_failure_hit),
        task_kind=None if raw.task_kind is None else raw.task_kind[first],
    )
