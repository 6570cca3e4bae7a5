"""Driver of the packet-level engine (native/packet.py and its modules; semantics in
docs/packet-engine.md)."""

from __future__ import annotations

import math
import time

import numpy as np

from fabsim.native import codes
from fabsim.native import packet_failures as pf
from fabsim.native import packet_state as ps
from fabsim.native.dcqcn import sample_rates
from fabsim.native.ecmp import flow_hashes
from fabsim.native.ideal import store_and_forward_fct
from fabsim.native.packet import run_until
from fabsim.native.queues import busy_ports
from fabsim.native.scaleup import new_scaleup
from fabsim.native.wheel import wheel_geometry

from ..errors import SimulationError
from ..model import Model
from ..scenario.protocol import ecn_thresholds
from ..scenario.protocol import resolve as resolve_cc
from ..trace.spool import SpoolDir
from ..units import PS_PER_NS
from .failures import FailureSchedule
from .paths import flow_paths, hash_ids
from .record import RawRun, packets, wire_bytes
from .slicer import Slicer
from .tasks import alone_ps, engine_kinds

T_MAX_PS = 2**62


#: ``routing.ecmp`` and ``host.transport`` as the kernel's codes.
ECMP_CODES = {"flow": codes.ECMP_FLOW, "packet": codes.ECMP_PACKET, "adaptive": codes.ECMP_ADAPTIVE,
              "spray": codes.ECMP_SPRAY, "reps": codes.ECMP_REPS, "flowlet": codes.ECMP_FLOWLET}
TRANSPORT_CODES = {"gbn": codes.TRANSPORT_GBN, "sr": codes.TRANSPORT_SR}


def uses_full_kernel(scenario) -> bool:
    """Whether a packet run of ``scenario`` runs on the full variant of the packet kernel
    (``fabsim.native.packet_state.needs_full``, the rule ``build_net`` applies to its params)."""
    return ps.needs_full(TRANSPORT_CODES[scenario.host.transport], scenario.switch.trim,
                         ECMP_CODES[scenario.routing.ecmp])


def initial_pool(model: Model, n_flows: int) -> int:
    """Packets the pool has room for up front; the pool doubles whenever it runs low (up to
    run.packet_pool). Room costs address space only: a packet's memory is touched when it is
    first used (``native.packet_state._alloc``)."""
    return int(16 * model.fabric.n_links + 4 * n_flows + 1024)


def _wheel_geometry(model: Model, hops: int | None = None) -> tuple[int, int]:
    """Calendar-wheel buckets of about four full-packet serialisation times ÷ the links that can
    be busy at once (a few events a bucket when every one of them is: measured best on fat-tree
    k = 8 and 16), spanning two serialisations plus the longest pipe. ``hops``: the links the
    flows' paths cross, summed over the flows; a link carries packets only if a flow's data or
    its ACKs cross it, so at most ``2·hops`` links are busy. Without it, every link may be.
    Only the speed depends on it: the wheel's order is exact for any geometry."""
    sc, f = model.scenario, model.fabric
    full = (sc.host.mtu_bytes + sc.host.header_bytes) * 8 * 10**12
    ser_min = full // int(f.link_rate_bps.max())
    ser_max = full // int(f.link_rate_bps.min())
    horizon = 2 * ser_max + int(net_pipe_delay(model).max())
    busy = f.n_links if hops is None else max(1, min(f.n_links, 2 * hops))
    return wheel_geometry(max(4 * ser_min // busy, 1), horizon)


def event_reserve(model: Model, flows, kinds: np.ndarray) -> int:
    """The most events one event can schedule: a few of its own, a START per successor of a
    task that completes, and a DONE per scale-up transfer of a server that finish together."""
    out_degree = int(np.diff(flows.succ_ptr).max(initial=0))
    scaleup = kinds == codes.KIND_SCALEUP
    per_server = np.bincount(flows.src[scaleup] // model.scenario.topology.gpus_per_server).max(initial=0)
    return 64 + out_degree + int(per_server)


def build_net(model: Model, flows, paths=None) -> ps.PacketNet:
    """The kernel's static inputs. ``paths``: the flows' data paths as ``flow_paths`` gives
    them (traced here when needed and not given)."""
    sc, fabric, r = model.scenario, model.fabric, model.routing
    n_hosts = fabric.n_hosts
    degree = np.diff(fabric.port_start)
    kmin, kmax, pmax = ecn_thresholds(sc, fabric.link_rate_bps)
    params = np.zeros(codes.P_SIZE, np.int64)
    params[codes.P_N_HOSTS] = n_hosts
    params[codes.P_MTU] = sc.host.mtu_bytes
    params[codes.P_HEADER] = sc.host.header_bytes
    params[codes.P_RTO] = sc.host.rto_ps
    params[codes.P_ECMP] = ECMP_CODES[sc.routing.ecmp]
    params[codes.P_FLOWLET_GAP] = sc.routing.flowlet_gap_ps
    params[codes.P_ENTROPIES] = sc.routing.entropies
    params[codes.P_REPS_BUFFER] = sc.routing.reps_buffer
    params[codes.P_BUFFER_POLICY] = codes.BUFFER_DYNAMIC if sc.switch.buffer_policy == "dynamic" else codes.BUFFER_STATIC
    params[codes.P_BUFFER] = sc.switch.buffer_bytes
    params[codes.P_ECN] = int(sc.switch.ecn)
    params[codes.P_ECN_DEQUEUE] = int(sc.switch.ecn_at == "dequeue")
    params[codes.P_PFC] = int(sc.switch.pfc)
    params[codes.P_XOFF] = sc.switch.pfc_xoff_bytes
    params[codes.P_XON] = sc.switch.pfc_xon_bytes
    params[codes.P_SEED] = sc.run.seed
    params[codes.P_NACK] = int(sc.host.nack)
    params[codes.P_RETRIES] = sc.host.retries
    params[codes.P_ACK_EVERY] = sc.host.ack_every
    params[codes.P_TRANSPORT] = TRANSPORT_CODES[sc.host.transport]
    params[codes.P_SR_WINDOW] = sc.host.sr_window
    params[codes.P_SR_REORDER] = sc.host.sr_reorder
    params[codes.P_TRIM] = int(sc.switch.trim)
    params[codes.P_PACE_TRIM_NACKS] = int(sc.host.pace_trim_nacks)
    params[codes.P_TRIMS_PER_DATA] = sc.switch.trims_per_data if sc.switch.trim else 0
    params[codes.P_TRIM_QUEUE] = sc.switch.trim_queue_bytes
    kinds = engine_kinds(model, flows)
    on_fabric = kinds == codes.KIND_FABRIC
    params[codes.P_EV_RESERVE] = event_reserve(model, flows, kinds)
    routes = _source_routes(model, flows, params, on_fabric, paths)
    # per-hop ECMP's inputs, only where the kernel reads them (make_net checks)
    none_i, none_u = np.zeros(0, np.int64), np.zeros(0, np.uint64)
    hid, channel, fwd, rev = none_i, none_i, none_u, none_u
    if sc.routing.ecmp in ("packet", "spray", "reps"):
        hid, channel = hash_ids(flows), flows.channel.astype(np.int64)
    elif params[codes.P_SROUTE] != 1:  # per hop, or source routes that may change (failures)
        fwd, rev = flow_hashes(sc.run.seed, flows.src, flows.dst, hash_ids(flows), flows.channel.astype(np.int64))
    fparams = np.zeros(codes.F_SIZE, np.float64)
    fparams[codes.F_DT_ALPHA] = sc.switch.dt_alpha
    fparams[codes.F_PMAX] = pmax
    line = fabric.link_rate_bps[fabric.host_uplink].astype(np.float64)
    rai = rhai = np.zeros(n_hosts, np.float64)
    if sc.cc.algorithm == "dcqcn":
        d = resolve_cc(sc)
        params[codes.P_CC] = codes.CC_PAPER if d.dialect == "paper" else codes.CC_HPCC
        params[codes.P_CNP_INTERVAL] = d.cnp_interval_ps
        params[codes.P_ALPHA_TIMER] = d.alpha_timer_ps
        params[codes.P_RATE_TIMER] = d.rate_timer_ps
        params[codes.P_DEC_INTERVAL] = d.rate_decrease_interval_ps
        params[codes.P_BYTE_COUNTER] = d.byte_counter_bytes
        params[codes.P_FAST_RECOVERY] = d.fast_recovery
        fparams[codes.F_G] = d.g
        fparams[codes.F_ALPHA0] = d.initial_alpha
        fparams[codes.F_MIN_RATE] = d.min_rate_bps
        rai, rhai = d.steps_for(line)
    return ps.make_net(
        params=params,
        fparams=fparams,
        link_dst=fabric.link_dst,
        link_src=fabric.link_src,
        link_rev=fabric.link_rev,
        link_rate_bps=fabric.link_rate_bps,
        pipe_delay_ps=net_pipe_delay(model),
        port_limit=(sc.switch.buffer_bytes // degree[fabric.link_src]).astype(np.int64),
        kmin=kmin,
        kmax=kmax,
        host_uplink=fabric.host_uplink,
        host_downlink=fabric.host_downlink,
        routing=r.tables(),
        f_src=flows.src,
        f_dst=flows.dst,
        f_size=flows.size_bytes,
        f_npkts=np.where(on_fabric, packets(flows.size_bytes, sc.host.mtu_bytes), 0).astype(np.int32),
        f_hash=hid,
        f_hash_fwd=fwd,
        f_hash_rev=rev,
        f_channel=channel,
        f_start=flows.start_ps,
        f_gap=flows.gap_ps,
        succ_ptr=flows.succ_ptr,
        succ=flows.succ,
        h_rai=np.asarray(rai, np.float64),
        h_rhai=np.asarray(rhai, np.float64),
        f_kind=kinds,
        **routes,
        variant=ps.variant_for(params),
    )


def _source_routes(model: Model, flows, params: np.ndarray, on_fabric: np.ndarray, paths) -> dict:
    """With ``ecmp = "flow"``, every packet's route is fixed by its flow and the routing tables:
    the data path and the ACK path (the reverse flow's hash) are traced here, and switches
    follow them (``params[P_SROUTE]``) instead of hashing and reading the routing tables at
    every hop — the same links, so the same results. When routing converges after a failure
    they are traced again over the new tables (``_Failures.apply``); a packet whose route no
    longer passes the link it arrived on, and a flow without a route, are routed hop by hop, as
    they would have been."""
    sc = model.scenario
    n = len(flows)
    if sc.routing.ecmp != "flow":
        return {"sr_ptr": np.zeros(n + 1, np.int64), "sr_fwd": np.zeros(0, np.int32), "sr_rev": np.zeros(0, np.int32)}
    ptr, fwd, hid = paths if paths is not None else flow_paths(model, flows, on_fabric)
    routes, complete = trace_routes(model, flows, model.routing, on_fabric, hid, forward=(ptr, fwd))
    params[codes.P_SROUTE] = 1 if complete and not sc.failures else 2
    return routes


def trace_routes(model: Model, flows, routing, on_fabric: np.ndarray, hash_id: np.ndarray, down=None,
                 forward=None) -> tuple[dict, bool]:
    """Every fabric flow's data and ACK routes over ``routing`` (converged on the ``down``
    links, if given), as ``PacketNet.sr_*``, and whether every fabric flow got one. A flow whose
    destination or source is unreachable, or whose two directions differ in length, gets an
    empty route: its packets are routed hop by hop. ``forward``: the data paths already traced
    over ``routing`` (``flow_paths``), reused when they are the fabric flows' paths."""
    f, sc = model.fabric, model.scenario
    src, dst = flows.src, flows.dst
    reach = on_fabric.copy()
    if down is not None:
        for a, b in ((src, dst), (dst, src)):
            d = routing.dist[f.host_switch[a] - f.n_hosts, routing.host_edge[b]]
            reach &= (d != codes.DIST_UNREACHABLE) & ~down[f.host_uplink[a]] & ~down[f.host_downlink[b]]
    ok = np.flatnonzero(reach)
    channel = flows.channel[ok]
    if forward is not None and np.array_equal(np.diff(forward[0]) > 0, reach):
        # the other flows have empty paths: the fabric flows' sub-table shares the links array
        fwd_ptr, fwd = np.concatenate(([0], forward[0][ok + 1])), forward[1]
    else:
        fwd_ptr, fwd = routing.paths(src[ok], dst[ok], hash_id[ok], channel, sc.run.seed)
    rev_ptr, rev = routing.paths(dst[ok], src[ok], hash_id[ok], channel, sc.run.seed)
    hops, rev_hops = np.diff(fwd_ptr), np.diff(rev_ptr)
    same = hops == rev_hops
    if not same.all():
        fwd, rev = fwd[np.repeat(same, hops)], rev[np.repeat(same, rev_hops)]
        ok, hops = ok[same], hops[same]
    ptr = np.zeros(len(flows) + 1, np.int64)
    per_flow = np.zeros(len(flows), np.int64)
    per_flow[ok] = hops
    np.cumsum(per_flow, out=ptr[1:])
    routes = {"sr_ptr": ptr, "sr_fwd": np.ascontiguousarray(fwd), "sr_rev": np.ascontiguousarray(rev)}
    return routes, ok.size == np.count_nonzero(on_fabric)


def run_packet_engine(model: Model, flows, progress=None) -> RawRun:
    """Simulate ``flows`` packet by packet; ``progress(Progress)`` is called between slices."""
    sc = model.scenario
    wall0 = time.perf_counter()
    # (path_ptr, path_link, hash_id): source routes, the ideal FCTs and failures; empty off the fabric
    paths = flow_paths(model, flows, engine_kinds(model, flows) == codes.KIND_FABRIC)
    net = build_net(model, flows, paths)
    cap = sc.run.packet_pool
    pool = min(initial_pool(model, len(flows)), cap) if cap else initial_pool(model, len(flows))
    st = ps.new_state(net, flows.pred_count, pool, *_wheel_geometry(model, len(paths[1])))
    until = sc.run.until_ps if sc.run.until_ps is not None else T_MAX_PS

    sample_ps = sc.output.queue_sample_ps
    cc_ps = sc.output.cc_sample_ps if sc.cc.algorithm == "dcqcn" else 0
    spools = SpoolDir() if sample_ps or cc_ps else None
    queues = spools.spool("queues") if sample_ps else None
    rates = spools.spool("rates") if cc_ps else None
    # host NICs' queues hold the packet on the wire, nothing more: sampled only on request
    sampled_ports = np.ones(model.fabric.n_links, np.bool_)
    if not sc.output.queue_hosts:
        sampled_ports[model.fabric.host_uplink] = False
    try:
        fails = _Failures(model, flows, until, paths) if sc.failures else None
        st, net, status, pool, slicer = _run_slices(
            model, flows, net, st, pool, until, progress, wall0, queues, rates, sampled_ports, fails,
        )
        if status in (codes.STATUS_POOL_LOW, codes.STATUS_POOL_FULL):
            raise SimulationError(
                f"{sc.source}: run.packet_pool: all {pool:,} packets of the pool are in use; "
                "set run.packet_pool higher", status,
            )
        if status == codes.STATUS_HEAP_FULL:
            raise SimulationError(
                "the packet engine's event set or flow contexts overflowed (an internal sizing error)", status)
    except BaseException:
        if spools is not None:
            for spool in (queues, rates):
                if spool is not None:
                    spool.close()
            spools.cleanup()
        raise
    return _raw_run(model, flows, net, st, status, slicer, until, wall0, fails, queues, rates, spools, paths)


def _run_slices(model, flows, net, st, pool, until, progress, wall0, queues, rates, sampled_ports, fails):
    """The slice loop: kernel slices, pool growth, samples (``queues``/``rates``: the spools, or
    None when that trace is off), progress, failures."""
    cap = model.scenario.run.packet_pool
    sample_ps = model.scenario.output.queue_sample_ps if queues is not None else 0
    cc_ps = model.scenario.output.cc_sample_ps if rates is not None else 0
    slicer = Slicer(until, fixed_ps=math.gcd(sample_ps, cc_ps), wall0=wall0)
    topo = model.scenario.topology
    su = new_scaleup(net.f_kind, flows.duration_ps, model.fabric.n_hosts, topo.gpus_per_server,
                     topo.scaleup_latency_ps, topo.scaleup_rate_bps)
    ports = np.empty(model.fabric.n_links if sample_ps else 0, np.int64)  # a queue sample's busy ports
    status = codes.STATUS_SLICE
    while status == codes.STATUS_SLICE and slicer.more():
        # failures change links and routes at their times, before the packet events then
        t_end = slicer.next_end(fails.next_change() - 1 if fails and fails.pending() else None)
        status = run_until(net, st, su, np.int64(t_end))
        while status in (codes.STATUS_EVENTS_LOW, codes.STATUS_CONTEXTS_LOW) or (
                status == codes.STATUS_POOL_LOW and (not cap or pool < cap)):
            if status == codes.STATUS_EVENTS_LOW:
                st = ps.grow_events(st, int(net.params[codes.P_EV_RESERVE]))
            elif status == codes.STATUS_CONTEXTS_LOW:
                st = ps.grow_contexts(st)
            else:
                pool = min(2 * pool, cap) if cap else 2 * pool
                st = ps.grow_pool(st, pool)
            status = run_until(net, st, su, np.int64(t_end))
        slicer.done()
        if cc_ps and t_end % cc_ps == 0:
            ids, rc, rt, alpha = sample_rates(net, st, np.int64(t_end))
            rates.append(np.full(ids.size, t_end // PS_PER_NS, np.int64), ids, rc, rt, alpha)
        if sample_ps and t_end % sample_ps == 0:
            # the peak data queue of every port whose queue was non-empty during the period
            busy = ports[: busy_ports(st.period_max_q, ports)]
            if busy.size:
                shown = busy[sampled_ports[busy]]
                queues.append(np.full(shown.size, t_end // PS_PER_NS, np.int64), shown.astype(np.int32),
                              st.period_max_q[shown])
                st.period_max_q[busy] = st.dq_bytes[busy]
        slicer.report(progress, status == codes.STATUS_DONE, st.clock[codes.C_T_NOW], st.clock[codes.C_DONE],
                      len(flows), st.clock[codes.C_EVENTS])
        if fails and fails.pending() and status in (codes.STATUS_SLICE, codes.STATUS_DONE):
            unfinished = int(st.clock[codes.C_DONE]) < len(flows)
            due = t_end == fails.next_change() - 1 and status == codes.STATUS_SLICE
            if due or (status == codes.STATUS_DONE and unfinished):
                t = fails.next_change()
                net, st, status = fails.apply(net, st, t)
                slicer.t_end = t - 1
    return st, net, status, pool, slicer


def _raw_run(model, flows, net, st, status, slicer, until, wall0, fails, queues, rates, spools, paths) -> RawRun:
    """What the run measured, once its last slice has returned. The per-flow arrays are the
    state's own (the state is not used again): no copy of them is held beside it."""
    sc = model.scenario
    done = int(st.clock[codes.C_DONE])
    stopped = status == codes.STATUS_SLICE and not slicer.more() and done < len(flows)
    if stopped:
        end_ps = int(until)
    elif done == len(flows) and len(flows):
        # the last retransmission timers fire after everything is received: not traffic
        end_ps = int(st.t_finish.max())
    else:
        end_ps = int(st.clock[codes.C_T_NOW])
    # close open pause intervals and queue areas at the end time
    pause = st.pause_ps + np.where(st.paused == 1, end_ps - st.pause_since, 0)
    area = st.q_area + st.dq_bytes * (end_ps - st.q_t).astype(np.float64)
    kinds = net.f_kind
    on_fabric = kinds == codes.KIND_FABRIC
    wire = np.where(on_fabric, wire_bytes(flows.size_bytes, sc.host.mtu_bytes, sc.host.header_bytes), flows.size_bytes)
    path_ptr, path_link, _ = paths
    ideal = np.where(on_fabric, packet_ideal_fct(model, flows, path_ptr, path_link), alone_ps(model, flows, kinds))
    gave_up, unreachable = pf.flow_outcomes(st)
    return RawRun(
        engine="packet",
        t_start_ps=st.t_start,
        t_finish_ps=st.t_finish,
        sent_bytes=wire,
        wire_bytes=wire,
        ideal_fct_ps=ideal,
        path_ptr=path_ptr,
        path_link=path_link,
        end_ps=end_ps,
        events=int(st.clock[codes.C_EVENTS]),
        solves=0,
        wall_s=time.perf_counter() - wall0,
        stopped_at_until=bool(stopped),
        packet_hops=int(st.clock[codes.C_HOPS]),
        flow_packets=st.f_packets,
        flow_retx_bytes=st.f_retx,
        flow_retx_trim_bytes=st.f_retx_trim,
        flow_ecn=st.f_ecn,
        flow_drops=st.f_drops,
        flow_trims=st.f_trims,
        flow_received=st.f_rcvd,
        flow_duplicates=st.f_dup,
        flow_in_flight=ps.data_in_flight(st, len(flows)),
        flow_gave_up=gave_up,
        flow_unreachable=unreachable,
        link_failure_drops=st.l_fail_data.copy(),
        link_tx_bytes=st.tx_bytes.copy(),
        link_max_queue=st.max_q.copy(),
        link_mean_queue=area / max(end_ps, 1),
        link_drops=st.l_drops + st.l_fail_data,
        link_ecn=st.l_ecn.copy(),
        link_trims=st.l_trims.copy(),
        link_pause_ps=pause.astype(np.int64),
        queue_samples=queues,
        failures=fails.finish(st, end_ps) if fails else None,
        flow_failure_hit=fails.log.flow_hit if fails else None,
        rate_samples=rates,
        spools=spools,
        flow_cnps=st.f_cnp,
        task_kind=kinds,
    )


class _Failures:
    """Applies a scenario's failures to the packet kernel at their times (docs/failures.md)."""

    def __init__(self, model: Model, flows, until: int, paths):
        self.model = model
        path_ptr, path_link, hash_id = paths
        self.flows, self.hash_id = flows, hash_id
        self.schedule = FailureSchedule(model, flows, until, hash_id, path_ptr, path_link)
        self.failures, self.log = self.schedule.failures, self.schedule.log
        self.snapshots: list[tuple[int, np.ndarray]] = [(0, np.zeros(len(flows), np.int64))]
        self.on_fabric = np.diff(path_ptr) > 0  # compute tasks and scale-up transfers never move

    def pending(self) -> bool:
        return self.schedule.pending()

    def next_change(self) -> int:
        return self.schedule.next_change()

    def apply(self, net, st, t: int):
        """Links fail or come back at ``t``; on a detection, the routing tables change. Returns
        the net, the state (its event set grown if revived flows need room) and a status."""
        self.schedule.advance()
        self.snapshots.append((t, st.f_fail.copy()))
        status = codes.STATUS_SLICE
        down_now = self.schedule.links_down(t)
        for fl in self.schedule.failing_at(t):
            status = max(status, pf.fail_links(net, st, fl.links.astype(np.int64), np.int64(t)), key=_severity)
        back = np.flatnonzero(pf.dead_links(st) & ~down_now)
        if back.size:
            status = max(status, pf.restore_links(net, st, back.astype(np.int64), np.int64(t)), key=_severity)
        active = (st.t_start >= 0) & (st.t_finish < 0)
        converged = self.schedule.converge(t, active, movable=(st.t_finish < 0) & self.on_fabric)
        if converged is not None:
            net = net._replace(routing=converged.routing.tables())
            if net.params[codes.P_SROUTE]:
                routes, _ = trace_routes(self.model, self.flows, converged.routing, self.on_fabric, self.hash_id,
                                         down=converged.down)
                net = net._replace(**routes)
            unreachable = converged.unreachable
            pf.abandon_unreachable(st, unreachable)
            again = pf.stranded(st, ~unreachable)
            if again.size:
                st = ps.grow_events(st, again.size)  # a timer each
                status = max(status, pf.revive(net, st, again, np.int64(t)), key=_severity)
        return net, st, status

    def finish(self, st, end_ps: int) -> dict:
        """The failures' impact: packets lost per failure, flows that lost packets while it was
        in force (from its failure to the detection of its restoration)."""
        self.snapshots.append((end_ps, st.f_fail.copy()))
        for (t0, a), (_, b) in zip(self.snapshots, self.snapshots[1:]):
            lost = b > a
            for i, fl in enumerate(self.failures):
                until = fl.restore_detected_ps if fl.restore_detected_ps is not None else T_MAX_PS
                if fl.at_ps <= t0 < until:
                    self.log.hit[i] |= lost
        for i, fl in enumerate(self.failures):
            self.log.dropped_packets[i] = int(st.l_fail_pkts[fl.links].sum() + st.l_bh_pkts[fl.links].sum())
            self.log.dropped_bytes[i] = int(st.l_fail_bytes[fl.links].sum() + st.l_bh_bytes[fl.links].sum())
        out = self.log.finish(end_ps, self.model.fabric.n_links, None)
        out["black_holed_packets"] = np.array([int(st.l_bh_pkts[fl.links].sum()) for fl in self.failures], np.int64)
        return out


def _severity(status: int) -> int:
    """Order of kernel statuses: anything but SLICE/DONE wins."""
    return 0 if status in (codes.STATUS_SLICE, codes.STATUS_DONE) else 1


def packet_ideal_fct(model: Model, flows, path_ptr, path_link) -> np.ndarray:
    """FCT of each flow alone on an idle fabric, store-and-forward along its hashed path
    (``path_ptr``/``path_link``: the path its packets take with ``ecmp = "flow"``)."""
    sc, fabric = model.scenario, model.fabric
    return store_and_forward_fct(
        path_ptr, path_link, fabric.link_rate_bps, net_pipe_delay(model), flows.size_bytes,
        sc.host.mtu_bytes, sc.host.header_bytes,
    )


def net_pipe_delay(model: Model) -> np.ndarray:
    """Per link: propagation delay, plus the switch latency when it leads into a switch."""
    f = model.fabric
    return f.link_delay_ps + np.where(f.link_dst >= f.n_hosts, model.scenario.switch.latency_ps, 0)
