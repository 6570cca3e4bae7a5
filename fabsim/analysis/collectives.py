"""Collective figures computed from a run: each collective iteration's span (first start to
last reception) and its ideal time on an idle fabric, with the NIC sharing of a step's flows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..run.record import RawRun, wire_bytes
from ..units import PS_PER_NS

if TYPE_CHECKING:
    from ..model import Model


def ideal_times(model: Model, flows, raw: RawRun) -> np.ndarray:
    """Per collective iteration, its ideal time (ps): the finish of its last flow when every
    flow takes its idle-fabric FCT along its path (``raw.ideal_fct_ps``) plus its NIC sharing
    (:func:`nic_sharing_ps`), in the order the collective's dependencies allow."""
    from fabsim.native.flow import ideal_finish

    rows = len(flows.collectives)
    sel = flows.collective >= 0
    ideal = np.zeros(rows, np.int64)
    if rows:
        alone = raw.ideal_fct_ps + nic_sharing_ps(model, flows)
        fin = ideal_finish(alone, flows.gap_ps, flows.succ_ptr, flows.succ, flows.collective)
        np.maximum.at(ideal, flows.collective[sel], fin[sel])
    return ideal


def nic_sharing_ps(model: Model, flows) -> np.ndarray:
    """Per collective flow, the time its NICs spend on the other flows of its step: the flows a
    rank sends in one step of an iteration (several channels, or an all-to-all's blocks) share
    its uplink, and the flows it receives share its downlink, even on an idle fabric. A flow's
    ideal in the collective's ideal time is its ideal FCT plus the larger of the two sums of the
    others' serialization times (zero for one flow per rank and step, as in a ring)."""
    host, fabric = model.scenario.host, model.fabric
    extra = np.zeros(len(flows.size_bytes), np.int64)
    mine = np.flatnonzero(flows.collective >= 0)
    if not mine.size:
        return extra
    src, dst = flows.src[mine], flows.dst[mine]
    # serialization at the slower NIC, with the flow engine's arithmetic (in place: big runs)
    ser = wire_bytes(flows.size_bytes[mine], host.mtu_bytes, host.header_bytes).astype(np.float64)
    ser *= 8.0 * 1e12
    ser /= np.minimum(fabric.link_rate_bps[fabric.host_uplink[src]], fabric.link_rate_bps[fabric.host_downlink[dst]])
    ser = np.ceil(ser, out=ser).astype(np.int64)
    step_id = flows.collective[mine].astype(np.int64)  # one number per (collective iteration, step)
    step_id *= int(flows.step[mine].max()) + 1
    step_id += flows.step[mine]
    if int(step_id.max() + 1) * fabric.n_hosts >= 2**62:
        step_id = np.unique(step_id, return_inverse=True)[1].ravel()  # renumber densely
    step_id *= fabric.n_hosts
    sent = _others_sum(step_id + src, ser)
    extra[mine] = np.maximum(sent, _others_sum(step_id + dst, ser), out=sent)
    return extra


def _others_sum(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For every element, the sum of ``values`` over the other elements of its ``group``
    (``group`` is reordered in place)."""
    order = np.argsort(group, kind="stable")
    group[:] = group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sorted_values = values[order]
    others = np.repeat(np.add.reduceat(sorted_values, starts), np.diff(np.r_[starts, len(order)]))
    others -= sorted_values
    out = np.empty_like(values)
    out[order] = others
    return out


def collective_span(flows, raw: RawRun, done) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per collective iteration: first start (ps; int64 max if none started), last reception
    (ps; −1 if none) and whether every flow of it completed."""
    rows = len(flows.collectives)
    sel = flows.collective >= 0
    coll = flows.collective[sel]
    start = np.full(rows, np.iinfo(np.int64).max)
    t_start = raw.t_start_ps[sel]
    np.minimum.at(start, coll, np.where(t_start >= 0, t_start, np.iinfo(np.int64).max))
    finish = np.full(rows, -1, np.int64)
    np.maximum.at(finish, coll, raw.t_finish_ps[sel])
    complete = np.ones(rows, bool)
    np.logical_and.at(complete, coll, done[sel])
    return start, finish, complete


def collective_durations(flows, raw: RawRun, done) -> tuple[np.ndarray, np.ndarray]:
    """(duration_ns, complete) per collective iteration: first start to last reception."""
    start, finish, complete = collective_span(flows, raw, done)
    return np.where(complete, finish - start, 0) // PS_PER_NS, complete
