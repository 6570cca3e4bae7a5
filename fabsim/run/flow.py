"""Driver of the flow-level engine: flow table + model → kernel arrays → slices → raw results."""

from __future__ import annotations

import time

import numpy as np

from fabsim.native import codes
from fabsim.native.codes import KIND_FABRIC, KIND_SCALEUP
from fabsim.native.flow import (
    CLK_ACTIVE, CLK_DONE, CLK_EVENTS, CLK_SOLVES, CLK_T_NOW, FlowNet, ceil_ps_all, new_state, rebuild, run_until,
)

from ..errors import SimulationError
from ..model import Model
from .failures import FailureSchedule
from .paths import flow_paths
from .record import RawRun, wire_bytes
from .slicer import Slicer
from .tasks import alone_ps, engine_kinds

T_MAX_PS = 2**62


def flow_ideal_fct(model: Model, flows, path_ptr, path_link) -> np.ndarray:
    """Every task alone: a fabric flow at its path's bottleneck rate plus the path's latency
    (one per collective step it carries; the kernel's own arithmetic and rounding), the
    others as ``alone_ps``."""
    sc, fabric = model.scenario, model.fabric
    kinds = engine_kinds(model, flows)
    ideal_fct = alone_ps(model, flows, kinds, round_up=ceil_ps_all)
    on = np.flatnonzero(kinds == KIND_FABRIC)
    if on.size:
        wire = wire_bytes(flows.size_bytes[on], sc.host.mtu_bytes, sc.host.header_bytes)
        path_delay = _path_delay(model, path_ptr, path_link)[on] * flows.steps[on]
        bottleneck = np.minimum.reduceat(fabric.link_rate_bps[path_link], path_ptr[on])
        ideal_fct[on] = ceil_ps_all(wire * 8.0 * 1e12 / bottleneck) + path_delay
    return ideal_fct


def run_flow_engine(model: Model, flows, progress=None, spread=None) -> RawRun:
    """Simulate ``flows`` with max-min fair rates; ``progress(Progress)`` is called between slices.
    With ``spread`` (``fabsim.run.spray``) ``flows`` are sprayed sub-flows, each on the
    equal-cost path it gives them instead of its hashed path."""
    sc, fabric = model.scenario, model.fabric
    wall0 = time.perf_counter()
    kinds = engine_kinds(model, flows)
    path_ptr, path_link, hash_id = flow_paths(model, flows, kinds == KIND_FABRIC, spread)
    first_ptr, first_link = path_ptr, path_link
    wire = np.where(kinds == KIND_FABRIC, wire_bytes(flows.size_bytes, sc.host.mtu_bytes, sc.host.header_bytes), 0)
    wire[kinds == KIND_SCALEUP] = flows.size_bytes[kinds == KIND_SCALEUP]
    if spread is not None:  # a share of its transfer's wire bytes, headers included
        wire = np.where(kinds == KIND_FABRIC, spread.wire, wire)
    scaleup = _ScaleUp(model, flows, kinds)
    # one extra link of capacity 0 after the fabric's: flows whose destination routing cannot
    # reach wait on it; then the GPUs' scale-up ports
    net_ptr, net_link = scaleup.paths(path_ptr, path_link)
    net = FlowNet(
        link_cap_bps=np.concatenate([fabric.link_rate_bps.astype(np.float64), [0.0], scaleup.cap_bps]),
        path_ptr=net_ptr,
        path_link=net_link,
        path_delay_ps=scaleup.delays(_path_delay(model, path_ptr, path_link)) * flows.steps,
        wire_bytes=wire,
        start_ps=flows.start_ps,
        gap_ps=flows.gap_ps,
        succ_ptr=flows.succ_ptr,
        succ=flows.succ,
        # a sprayed transfer's sub-flows share its weight: at a link they get, together, what
        # one flow would in proportion to the transfer's paths through it
        weight=np.ones(len(flows)) if spread is None else np.where(kinds == KIND_FABRIC, 1.0 / spread.ways, 1.0),
    )
    st = new_state(net, flows.pred_count)
    until = sc.run.until_ps if sc.run.until_ps is not None else T_MAX_PS
    failures = FailureSchedule(model, flows, until, hash_id, path_ptr, path_link, spread)
    accounted = np.zeros(len(flows), np.float64)  # wire bytes already put on the links of a path
    link_bytes = np.zeros(net.link_cap_bps.shape[0], np.float64)

    slicer = Slicer(until, wall0=wall0)
    status = codes.STATUS_SLICE
    while True:
        # failures change capacities and routes at their times, before the flow events then
        limit = failures.next_change() - 1 if failures.pending() else None
        t_end = slicer.next_end(limit)
        status = run_until(net, st, np.int64(t_end))
        slicer.done()
        slicer.report(progress, status == codes.STATUS_DONE, st.clock[CLK_T_NOW], st.clock[CLK_DONE],
                      len(flows), st.clock[CLK_EVENTS])
        stalled = status == codes.STATUS_DONE and st.clock[CLK_ACTIVE] > 0
        finished = status == codes.STATUS_DONE and not stalled  # later failures change nothing
        if failures.pending() and not finished and (t_end == failures.next_change() - 1 or stalled):
            t = failures.advance()
            _account(st, net, wire, t, accounted, link_bytes)
            net, st = _apply_failures(model, flows, failures, net, st, t, scaleup)
            slicer.t_end = t - 1
            if rebuild(net, st, np.int64(t)) == codes.STATUS_HEAP_FULL:
                status = codes.STATUS_HEAP_FULL
                break
            status = codes.STATUS_SLICE
            continue
        if status != codes.STATUS_SLICE or not slicer.more():
            break
    if status == codes.STATUS_HEAP_FULL:
        raise SimulationError("the flow engine's event heap overflowed (an internal sizing error)", status)

    stopped = status == codes.STATUS_SLICE and not slicer.more() and st.clock[CLK_DONE] < len(flows)
    end_ps = int(until) if stopped else int(st.clock[CLK_T_NOW])
    if failures:
        _account(st, net, wire, end_ps, accounted, link_bytes)
    path_ptr, path_link = first_ptr, first_link  # the paths flows started on (traces, ideal FCT)
    # bytes on the wire so far; flows still sending are brought up to the end time
    sent = wire - np.round(_unsent(st, wire, end_ps)).astype(np.int64)
    ideal_fct = flow_ideal_fct(model, flows, path_ptr, path_link)
    return RawRun(
        engine="flow",
        t_start_ps=st.t_start.copy(),
        t_finish_ps=st.t_finish.copy(),
        sent_bytes=sent,
        wire_bytes=wire,
        ideal_fct_ps=ideal_fct.astype(np.int64),
        path_ptr=path_ptr,
        path_link=path_link,
        end_ps=end_ps,
        events=int(st.clock[CLK_EVENTS]),
        solves=int(st.clock[CLK_SOLVES]),
        wall_s=time.perf_counter() - wall0,
        stopped_at_until=bool(stopped),
        failures=failures.log.finish(end_ps, fabric.n_links, link_bytes[: fabric.n_links]) if failures else None,
        flow_failure_hit=failures.log.flow_hit if failures else None,
        flow_unreachable=failures.log.unreachable if failures else None,
        task_kind=kinds,
    )


def _unsent(st, wire, t) -> np.ndarray:
    """Wire bytes each flow has still to send at ``t`` (float; all of them before it starts)."""
    rem = np.where(st.state >= codes.FLOW_SENT, 0.0, wire.astype(np.float64))
    active = st.state == codes.FLOW_ACTIVE
    rem[active] = np.maximum(st.rem_bytes[active] - st.rate_bps[active] * (t - st.t_rem[active]) / 8e12, 0.0)
    return rem


def _account(st, net, wire, t, accounted, link_bytes) -> None:
    """Put the bytes each flow sent since the last call on the links of its current path."""
    sent = wire - _unsent(st, wire, t)
    new = sent - accounted
    accounted[:] = sent
    hops = np.diff(net.path_ptr)
    link_bytes += np.bincount(net.path_link, weights=np.repeat(new, hops), minlength=link_bytes.size)


def _path_delay(model: Model, path_ptr: np.ndarray, path_link: np.ndarray) -> np.ndarray:
    """Propagation plus switch latency along each path (the black-hole link has none)."""
    fabric = model.fabric
    hops = np.diff(path_ptr)
    if not hops.size:
        return np.zeros(0, np.int64)
    out = np.zeros(hops.size, np.int64)
    on = np.flatnonzero(hops)  # tasks off the fabric have no links
    if on.size:
        delay = np.add.reduceat(np.append(fabric.link_delay_ps, 0)[path_link], path_ptr[on])
        out[on] = delay.astype(np.int64) + (hops[on] - 1) * model.scenario.switch.latency_ps
    return out


def _apply_failures(model, flows, failures: FailureSchedule, net, st, t, scaleup):
    """Capacities and (on a detection) paths at ``t``; returns the new (net, st)."""
    fabric = model.fabric
    down = failures.links_down(t)
    cap = net.link_cap_bps.copy()
    cap[: fabric.n_links] = np.where(down, 0.0, fabric.link_rate_bps.astype(np.float64))
    net = net._replace(link_cap_bps=cap)
    active = st.state == codes.FLOW_ACTIVE
    # once routing converged, flows that have not finished sending take the surviving paths
    # (compute tasks and scale-up transfers never touch the fabric)
    movable = (st.state <= codes.FLOW_ACTIVE) & scaleup.on_fabric
    converged = failures.converge(t, active & scaleup.on_fabric, movable)
    if converged is None:
        return net, st
    path_ptr, path_link = scaleup.paths(converged.path_ptr, converged.path_link)
    n_entries = path_link.shape[0]
    net = net._replace(
        path_ptr=path_ptr, path_link=path_link,
        path_delay_ps=scaleup.delays(_path_delay(model, converged.path_ptr, converged.path_link)) * flows.steps,
    )
    st = st._replace(
        entry_flow=np.repeat(np.arange(len(flows), dtype=np.int32), np.diff(path_ptr)),
        entry_next=np.full(n_entries, -1, np.int32),
        entry_prev=np.full(n_entries, -1, np.int32),
        lf_flow=np.empty(n_entries, np.int32),
    )
    return net, st


class _ScaleUp:
    """The scale-up domain as the flow engine sees it (docs/engines.md): GPU h's scale-up egress
    and ingress are links ``L + 1 + h`` and ``L + 1 + N + h`` (after the fabric's L links and the
    black-hole link), of rate ``scaleup_rate``; a scale-up transfer crosses its source's egress
    and its destination's ingress and is received ``scaleup_latency`` after its last byte; a
    compute task crosses nothing and is received its duration after it starts."""

    def __init__(self, model: Model, flows, kinds: np.ndarray):
        topo, fabric = model.scenario.topology, model.fabric
        self.kinds = kinds
        self.on_fabric = kinds == codes.KIND_FABRIC
        self.up = np.flatnonzero(kinds == codes.KIND_SCALEUP)
        self.compute = kinds == codes.KIND_COMPUTE
        n, base = fabric.n_hosts, fabric.n_links + 1
        self.cap_bps = np.full(2 * n if self.up.size else 0, float(topo.scaleup_rate_bps))
        self.ports = np.stack([base + flows.src[self.up], base + n + flows.dst[self.up]], axis=1).astype(np.int32)
        self.latency_ps = topo.scaleup_latency_ps
        self.duration_ps = flows.duration_ps

    def paths(self, path_ptr: np.ndarray, path_link: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fabric paths (empty off the fabric) with the scale-up transfers' two ports added."""
        if not self.up.size:
            return path_ptr, path_link
        old = np.diff(path_ptr)  # a scale-up transfer has no fabric links
        hops = old.copy()
        hops[self.up] = 2
        ptr = np.zeros_like(path_ptr)
        np.cumsum(hops, out=ptr[1:])
        link = np.empty(int(ptr[-1]), np.int32)
        owner = np.repeat(np.arange(old.size), old)
        link[ptr[owner] + np.arange(path_link.size) - path_ptr[owner]] = path_link
        link[ptr[self.up]] = self.ports[:, 0]
        link[ptr[self.up] + 1] = self.ports[:, 1]
        return ptr, link

    def delays(self, fabric_delay_ps: np.ndarray) -> np.ndarray:
        out = fabric_delay_ps.copy()
        out[self.up] = self.latency_ps
        out[self.compute] = self.duration_ps[self.compute]
        return out
