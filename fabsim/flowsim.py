"""Driver of the flow-level engine: flow table + model → kernel arrays → slices → raw results."""

from __future__ import annotations

import time

import numpy as np

from fabsim.native import codes
from fabsim.native.flow import (
    CLK_DONE, CLK_EVENTS, CLK_SOLVES, CLK_T_NOW, FlowNet, new_state, run_until,
)

from .build import Model
from .errors import SimulationError
from .raw import RawRun, Slicer, flow_paths, wire_bytes

T_MAX_PS = 2**62


def run_flow_engine(model: Model, flows, progress=None) -> RawRun:
    """Simulate ``flows`` with max-min fair rates; ``progress(Progress)`` is called between slices."""
    sc, fabric = model.scenario, model.fabric
    wall0 = time.perf_counter()
    path_ptr, path_link, hash_id = flow_paths(model, flows)
    hops = np.diff(path_ptr)
    delay = np.add.reduceat(fabric.link_delay_ps[path_link], path_ptr[:-1]) if len(flows) else np.zeros(0, np.int64)
    path_delay = delay.astype(np.int64) + (hops - 1) * sc.switch.latency_ps
    wire = wire_bytes(flows.size_bytes, sc.host.mtu_bytes, sc.host.header_bytes)
    net = FlowNet(
        link_cap_bps=fabric.link_rate_bps.astype(np.float64),
        path_ptr=path_ptr,
        path_link=path_link,
        path_delay_ps=path_delay,
        wire_bytes=wire,
        start_ps=flows.start_ps,
        gap_ps=flows.gap_ps,
        succ_ptr=flows.succ_ptr,
        succ=flows.succ,
    )
    st = new_state(net, flows.pred_count)
    until = sc.run.until_ps if sc.run.until_ps is not None else T_MAX_PS

    slicer = Slicer(until, wall0=wall0)
    status = codes.STATUS_SLICE
    while status == codes.STATUS_SLICE and slicer.more():
        t_end = slicer.next_end()
        status = run_until(net, st, np.int64(t_end))
        slicer.done()
        slicer.report(progress, status == codes.STATUS_DONE, st.clock[CLK_T_NOW], st.clock[CLK_DONE],
                      len(flows), st.clock[CLK_EVENTS])
    if status == codes.STATUS_HEAP_FULL:
        raise SimulationError("the flow engine's event heap overflowed (an internal sizing error)", status)

    stopped = status == codes.STATUS_SLICE and not slicer.more() and st.clock[CLK_DONE] < len(flows)
    end_ps = int(until) if stopped else int(st.clock[CLK_T_NOW])
    # bytes on the wire so far; flows still sending are brought up to the end time
    rem = st.rem_bytes.copy()
    sending = st.state == codes.FLOW_ACTIVE
    rem[sending] -= st.rate_bps[sending] * (end_ps - st.t_rem[sending]) / 8e12
    sent = wire - np.maximum(np.round(rem), 0).astype(np.int64)
    sent[st.t_start < 0] = 0
    bottleneck = np.minimum.reduceat(fabric.link_rate_bps[path_link], path_ptr[:-1]) if len(flows) else np.zeros(0, np.int64)
    # the kernel's own arithmetic for a flow alone at its bottleneck rate (same rounding)
    ideal_fct = np.ceil(wire * 8.0 * 1e12 / bottleneck).astype(np.int64) + path_delay
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
    )
