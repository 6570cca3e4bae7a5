"""A driver's ``RawRun`` → the Arrow tables and ``summary.json`` content of DESIGN §8, and the
``Result`` object that holds them and writes them (``Result.write``)."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from fabsim.native.codes import KIND_COMPUTE, KIND_FABRIC, KIND_SCALEUP

from ..analysis.collectives import collective_durations, collective_span, ideal_times
from ..analysis.training import KINDS, job_iterations
from ..model import Model
from ..run.record import RawRun, packets
from ..scenario.protocol import protocol
from ..traffic.table import PHASE_NAMES
from ..units import PS_PER_NS
from .arrays import from_numpy, strings
from .stats import percentiles
from .tables import make_table, trace_metadata
from .timeline import TIMELINE_FILE, timeline
from .writer import write_run

#: ``flows.status`` labels, in code order (docs/traces.md).
FLOW_STATUSES = ("completed", "unfinished", "not_started", "unreachable", "retries_exceeded")
COMPLETED, UNFINISHED, NOT_STARTED, UNREACHABLE, RETRIES_EXCEEDED = range(len(FLOW_STATUSES))


@dataclass(eq=False)
class Result:
    """A finished run: Arrow tables (schemas of DESIGN §8), the summary dict and, with training
    jobs, the ``timeline.json`` document (``fabsim.trace.timeline``; None without one)."""

    flows: pa.Table
    collectives: pa.Table
    links: pa.Table
    failures: pa.Table
    summary: dict
    format: str = "arrow"
    extra: dict[str, pa.Table] = field(default_factory=dict)
    timeline: dict | None = None
    _spools: object = field(default=None, repr=False)  # SpoolDir of the memory-mapped sampled traces

    @property
    def tables(self) -> dict[str, pa.Table]:
        return {
            "flows": self.flows, "collectives": self.collectives, "links": self.links,
            "failures": self.failures, **self.extra,
        }

    def write(self, out_dir, overwrite: bool = False) -> Path:
        """Write every trace, ``timeline.json`` (if any) and ``summary.json`` into ``out_dir``
        (atomically; see trace.writer)."""
        sources = self._spools.written() if self._spools is not None else None
        documents = {TIMELINE_FILE: self.timeline} if self.timeline is not None else None
        return write_run(out_dir, self.tables, self.summary, fmt=self.format, overwrite=overwrite, sources=sources,
                         documents=documents)


def _ns(t_ps: np.ndarray) -> np.ndarray:
    return np.asarray(t_ps, np.int64) // PS_PER_NS


def _labels(index: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    """Dictionary-encoded labels straight from integer codes (−1 = null), no Python strings."""
    index = np.asarray(index, np.int32)
    position = {}  # several generators may share a tag
    remap = np.array([position.setdefault(n, len(position)) for n in names] + [-1], np.int32)
    unique = list(position)
    codes = remap[index]  # index −1 picks the trailing −1
    null = codes < 0
    # a null's code stays in range: some readers (Polars) check codes even under the mask
    return pa.DictionaryArray.from_arrays(
        from_numpy(np.where(null, 0, codes), null), strings(unique),
    )


def _or(value, default):
    return default if value is None else value


def _masked(values: np.ndarray, valid: np.ndarray) -> np.ma.MaskedArray:
    return np.ma.masked_array(values, mask=~valid)


def flow_status(raw: RawRun) -> np.ndarray:
    """Per flow, the index of its ``FLOW_STATUSES`` label."""
    started = raw.t_start_ps >= 0
    status = np.where(started, UNFINISHED, NOT_STARTED).astype(np.int32)
    if raw.flow_unreachable is not None:
        status[started & raw.flow_unreachable] = UNREACHABLE
    if raw.flow_gave_up is not None:
        status[raw.flow_gave_up] = RETRIES_EXCEEDED
    status[raw.t_finish_ps >= 0] = COMPLETED
    return status


def assemble(model: Model, flows, raw: RawRun, baseline: RawRun | None = None) -> Result:
    """Build the flows, collectives, links and failures tables and the run summary.

    ``baseline``: the same scenario run without its failures (``fabsim run --baseline``); it
    fills ``failures.added_delay_ns`` and the summary's added completion times.
    """
    from .. import __version__

    sc, fabric = model.scenario, model.fabric
    meta = trace_metadata(__version__, sc.run.seed, sc.to_json(), protocol(sc, fabric))
    n = len(flows)
    done = raw.t_finish_ps >= 0
    started = raw.t_start_ps >= 0
    status = flow_status(raw)
    fct_ps = np.where(done, raw.t_finish_ps - raw.t_start_ps, 0)
    slowdown = np.where(done, fct_ps / np.maximum(raw.ideal_fct_ps, 1), np.nan)
    kind = raw.task_kind if raw.task_kind is not None else np.zeros(n, np.int8)
    # the flows trace holds transfers (fabric and scale-up); compute tasks go to the jobs trace
    rows = np.flatnonzero(kind != KIND_COMPUTE) if (kind == KIND_COMPUTE).any() else slice(None)
    fabric_only = kind == KIND_FABRIC
    flows_table = make_table("flows", {
        "flow_id": np.arange(n, dtype=np.int32)[rows],
        "src": flows.src[rows],
        "dst": flows.dst[rows],
        "size_bytes": flows.size_bytes[rows],
        "start_ns": _masked(_ns(raw.t_start_ps), started)[rows],
        "finish_ns": _masked(_ns(raw.t_finish_ps), done)[rows],
        "fct_ns": _masked(_ns(fct_ps), done)[rows],
        "ideal_fct_ns": _ns(raw.ideal_fct_ps)[rows],
        "slowdown": _masked(slowdown, done)[rows],
        "tag": _labels(flows.generator[rows], flows.tags),
        "job": _labels(flows.job[rows], flows.jobs),
        "phase": _labels(np.where(flows.phase > 0, flows.phase - 1, -1)[rows], list(PHASE_NAMES[1:])),
        "scaleup": (kind == KIND_SCALEUP)[rows],
        "collective": _masked(flows.collective, flows.collective >= 0)[rows],
        "iteration": _masked(flows.iteration, flows.iteration >= 0)[rows],
        "step": _masked(flows.step, flows.step >= 0)[rows],
        "packets": _or(raw.flow_packets, np.where(fabric_only, packets(flows.size_bytes, sc.host.mtu_bytes), 0))[rows],
        "retransmitted_bytes": _or(raw.flow_retx_bytes, np.zeros(n, np.int64))[rows],
        "retransmitted_trim_bytes": _or(raw.flow_retx_trim_bytes, np.zeros(n, np.int64))[rows],
        "ecn_marked": _or(raw.flow_ecn, np.zeros(n, np.int64))[rows],
        "drops": _or(raw.flow_drops, np.zeros(n, np.int64))[rows],
        "trimmed": _or(raw.flow_trims, np.zeros(n, np.int64))[rows],
        "failure_hit": _or(raw.flow_failure_hit, np.zeros(n, np.bool_))[rows],
        "completed": done[rows],
        "status": _labels(status[rows], list(FLOW_STATUSES)),
    }, meta)

    coll_cols, jobs_summary = _collectives(model, flows, raw, done)
    collectives_table = make_table("collectives", coll_cols, meta)

    L = fabric.n_links
    if raw.link_tx_bytes is not None:
        tx_bytes = raw.link_tx_bytes
    elif raw.failures is not None and raw.failures["link_bytes"] is not None:  # flows changed paths
        tx_bytes = np.round(raw.failures["link_bytes"]).astype(np.int64)
    else:  # fluid model: a flow's bytes so far crossed every link of its path
        hops = np.diff(raw.path_ptr)
        tx = np.bincount(raw.path_link, weights=np.repeat(raw.sent_bytes, hops).astype(np.float64), minlength=L)
        tx_bytes = np.round(tx).astype(np.int64)
    sim_s = max(raw.end_ps, 1) / 1e12
    links_table = make_table("links", {
        "link_id": np.arange(L, dtype=np.int32),
        "src_node": _labels(fabric.link_src, fabric.node_names),
        "dst_node": _labels(fabric.link_dst, fabric.node_names),
        "tier": _labels(fabric.link_tier_code, fabric.tier_names),
        "rate_bps": fabric.link_rate_bps,
        "tx_bytes": tx_bytes,
        "utilization": tx_bytes * 8 / (fabric.link_rate_bps * sim_s),
        "max_queue_bytes": _or(raw.link_max_queue, np.zeros(L, np.int64)),
        "mean_queue_bytes": _or(raw.link_mean_queue, np.zeros(L, np.float64)),
        "drops": _or(raw.link_drops, np.zeros(L, np.int64)),
        "failure_drops": _or(raw.link_failure_drops, np.zeros(L, np.int64)),
        "trimmed": _or(raw.link_trims, np.zeros(L, np.int64)),
        "ecn_marked": _or(raw.link_ecn, np.zeros(L, np.int64)),
        "pause_ns": _ns(_or(raw.link_pause_ps, np.zeros(L, np.int64))),
        "down_ns": _ns(raw.failures["link_down_ps"]) if raw.failures else np.zeros(L, np.int64),
    }, meta)
    added = _added(flows, raw, baseline) if baseline is not None else None
    failures_table = make_table(
        "failures", _failure_columns(raw.failures, flows, added) if raw.failures else _empty_failures(), meta,
    )

    extra = {}
    training = job_iterations(flows, raw.t_start_ps, raw.t_finish_ps, raw.ideal_fct_ps)
    if training is not None:
        jobs_cols, training_summary = _training(training)
        extra["jobs"] = make_table("jobs", jobs_cols, meta)
        jobs_summary.update(training_summary)
    if raw.queue_samples is not None:
        extra["queues"] = raw.queue_samples.table(meta)
    if raw.rate_samples is not None:
        extra["rates"] = raw.rate_samples.table(meta)
    if added is not None:
        extra["baseline"] = make_table("baseline", _baseline_rows(flows, raw, baseline, done, kind != KIND_COMPUTE), meta)
        for j, name in enumerate(flows.jobs):
            jobs_summary[name]["added_ns"] = added["jobs"][j]
    transfer = kind != KIND_COMPUTE
    summary = _summary(model, flows, raw, done & transfer, fct_ps, slowdown, jobs_summary, status[transfer],
                       fabric_only)
    if added is not None:
        summary["baseline"] = added["summary"]
    result = Result(flows_table, collectives_table, links_table, failures_table, summary, sc.output.format, extra,
                    timeline(flows, raw.t_start_ps, raw.t_finish_ps, raw.end_ps, sc.output.timeline_ranks))
    result._spools = raw.spools  # the sampled traces' files live as long as the tables mapping them
    return result


def _collectives(model: Model, flows, raw: RawRun, done: np.ndarray):
    """Per collective iteration: start, finish, duration, ideal, bandwidths, idle fraction."""
    ct = flows.collectives
    start, finish, complete = collective_span(flows, raw, done)
    began = start != np.iinfo(np.int64).max
    ideal = ideal_times(model, flows, raw)
    duration = np.where(complete, finish - start, 0)
    dur_s = duration / 1e12
    with np.errstate(divide="ignore", invalid="ignore"):
        algbw = np.where(complete & (duration > 0), ct.size_bytes * 8 / dur_s / 1e9, np.nan)
        idle = np.where(complete, duration / (duration + ct.compute_ps), np.nan)
    cols = {
        "job": [flows.jobs[j] for j in ct.job],
        "iteration": ct.iteration,
        "op": ct.op,
        "algorithm": ct.algorithm,
        "ranks": ct.ranks,
        "size_bytes": ct.size_bytes,
        "start_ns": _masked(_ns(np.where(began, start, 0)), began),
        "finish_ns": _masked(_ns(finish), complete),
        "duration_ns": _masked(_ns(duration), complete),
        "ideal_ns": _ns(ideal),
        "algbw_gbps": _masked(algbw, complete),
        "busbw_gbps": _masked(algbw * ct.factor, complete),
        "compute_ns": _ns(ct.compute_ps),
        "idle_fraction": _masked(idle, complete),
    }
    jobs = {}
    for j, name in enumerate(flows.jobs):
        mine = (ct.job == j) & complete
        total_dur = int(duration[mine].sum())
        total_compute = int(ct.compute_ps[mine].sum())
        iters = int(mine.sum())
        jobs[name] = {
            "iterations": int((ct.job == j).sum()),
            "iterations_completed": iters,
            "mean_iteration_ns": (total_dur + total_compute) / iters / PS_PER_NS if iters else None,
            "mean_collective_ns": total_dur / iters / PS_PER_NS if iters else None,
            "idle_fraction": total_dur / (total_dur + total_compute) if iters and total_dur + total_compute else None,
        }
    return cols, jobs


def _network(raw: RawRun) -> dict | None:
    """Packet-level totals for the summary (None from the flow engine, which has no packets)."""
    if raw.engine == "flow":
        return None
    return {
        "drops": int(raw.flow_drops.sum()),
        "data_packets": {  # sent = delivered + dropped + trimmed + in flight when the run ended
            "sent": int(raw.flow_packets.sum()),
            "delivered": int(raw.flow_received.sum()),
            "dropped": int(raw.flow_drops.sum()),
            "trimmed": int(_or(raw.flow_trims, np.zeros(1, np.int64)).sum()),
            "in_flight": int(raw.flow_in_flight.sum()),
        },
        "retransmitted_bytes": int(raw.flow_retx_bytes.sum()),
        # of those, resent on a trim NACK; the rest after a loss (FACK's rule, the timer, go-back-N)
        "retransmitted_trim_bytes": int(_or(raw.flow_retx_trim_bytes, np.zeros(1, np.int64)).sum()),
        # resends whose first copy had arrived: the receiver got the packet twice
        "spurious_retransmissions": int(_or(raw.flow_duplicates, np.zeros(1, np.int64)).sum()),
        "ecn_marked": int(raw.flow_ecn.sum()),
        "ports_paused": int((raw.link_pause_ps > 0).sum()),
        "pause_ns_max": int(raw.link_pause_ps.max(initial=0)) // PS_PER_NS,
        "max_queue_bytes": int(raw.link_max_queue.max(initial=0)),
        "cc_signals": int(raw.flow_cnps.sum()) if raw.flow_cnps is not None else 0,
    }


def _baseline_rows(flows, raw: RawRun, base: RawRun, done, transfer) -> dict:
    """Per flow (``transfer``: the tasks that are flows) and per collective iteration: time in
    this run, in the baseline, added."""
    base_done = base.t_finish_ps >= 0
    fct = np.where(done, raw.t_finish_ps - raw.t_start_ps, 0) // PS_PER_NS
    base_fct = np.where(base_done, base.t_finish_ps - base.t_start_ps, 0) // PS_PER_NS
    coll = collective_durations(flows, raw, done)
    base_coll = collective_durations(flows, base, base_done)
    ids = np.flatnonzero(transfer)
    n, c = ids.size, len(coll[0])
    time_ns = np.concatenate([fct[ids], coll[0]])
    ok = np.concatenate([done[ids], coll[1]])
    base_ns = np.concatenate([base_fct[ids], base_coll[0]])
    base_ok = np.concatenate([base_done[ids], base_coll[1]])
    return {
        "kind": ["flow"] * n + ["collective"] * c,
        "id": np.concatenate([ids, np.arange(c)]).astype(np.int32),
        "time_ns": _masked(time_ns, ok),
        "baseline_ns": _masked(base_ns, base_ok),
        "added_ns": _masked(time_ns - base_ns, ok & base_ok),
    }


def _added(flows, raw: RawRun, base: RawRun) -> dict:
    """Completion time added by the failures, against the baseline run: per flow (both runs
    complete), per job (its last reception) and in total."""
    done = (raw.t_finish_ps >= 0) & (base.t_finish_ps >= 0)
    fct = raw.t_finish_ps - raw.t_start_ps
    fct_base = base.t_finish_ps - base.t_start_ps
    per_flow = np.where(done, fct - fct_base, 0)
    jobs = []
    for j in range(len(flows.jobs)):
        mine = flows.job == j
        if mine.any() and (raw.t_finish_ps[mine] >= 0).all():
            # as the traces show it: the difference of the two finish_ns
            jobs.append(int(raw.t_finish_ps[mine].max()) // PS_PER_NS - int(base.t_finish_ps[mine].max()) // PS_PER_NS)
        else:
            jobs.append(None)  # the job did not complete in the failed run
    return {
        "per_flow_ps": per_flow,
        "jobs": jobs,
        "summary": {
            "flows_slower": int((per_flow > 0).sum()),
            "flows_not_completed": int(((raw.t_finish_ps < 0) & (base.t_finish_ps >= 0)).sum()),
            "added_fct_ns_total": int(per_flow.sum()) // PS_PER_NS,
            "added_fct_ns_max": int(per_flow.max(initial=0)) // PS_PER_NS,
            "completion_ns": int(raw.t_finish_ps.max(initial=0)) // PS_PER_NS,
            "baseline_completion_ns": int(base.t_finish_ps.max(initial=0)) // PS_PER_NS,
        },
    }


def _failure_columns(log: dict, flows, added: dict | None = None) -> dict:
    """The ``failures`` trace from a driver's FailureLog (times the run did not reach are null)."""
    fl = log["failures"]
    end = log["end_ps"]
    hit = log["hit"]

    def reached(values):
        values = np.array([-1 if v is None else v for v in values], np.int64)
        return _masked(_ns(values), (values >= 0) & (values <= end))

    hosts = [np.union1d(flows.src[h], flows.dst[h]).size for h in hit]
    jobs = [np.unique(flows.job[h][flows.job[h] >= 0]).size for h in hit]
    n = len(fl)
    return {
        "failure_id": np.array([f.index for f in fl], np.int32),
        "target": [f.element for f in fl],
        "tier": [f.tier for f in fl],
        "at_ns": _ns(np.array([f.at_ps for f in fl], np.int64)),
        "detected_ns": reached([f.detected_ps for f in fl]),
        "restored_ns": reached([f.restored_ps for f in fl]),
        "dropped_packets": log["dropped_packets"],
        "dropped_bytes": log["dropped_bytes"],
        "flows_hit": log["flows_hit"].astype(np.int64),
        "flows_rerouted": log["flows_rerouted"].astype(np.int64),
        "hosts_hit": np.array(hosts, np.int64),
        "jobs_hit": np.array(jobs, np.int64),
        "added_delay_ns": (
            np.array([int(added["per_flow_ps"][h].sum()) // PS_PER_NS for h in hit], np.int64)
            if added is not None else np.ma.masked_all(n, np.int64)
        ),
    }


def _empty_failures() -> dict:
    return {
        "failure_id": np.zeros(0, np.int32), "target": [], "tier": [],
        "at_ns": np.zeros(0, np.int64), "detected_ns": np.zeros(0, np.int64), "restored_ns": np.zeros(0, np.int64),
        "dropped_packets": np.zeros(0, np.int64), "dropped_bytes": np.zeros(0, np.int64),
        "flows_hit": np.zeros(0, np.int64), "flows_rerouted": np.zeros(0, np.int64),
        "hosts_hit": np.zeros(0, np.int64), "jobs_hit": np.zeros(0, np.int64), "added_delay_ns": np.zeros(0, np.int64),
    }


def _training(cols: dict) -> tuple[dict, dict]:
    """The jobs trace's columns (ns; per-rank sums turned into means over ranks) and the
    summary's per-job figures."""
    ok = cols["finish"] >= 0
    ranks = cols["ranks"]
    iteration = np.where(ok, cols["finish"] - cols["start"], 0)

    def mean(key):
        return _masked(_ns(cols[key] // ranks), ok)

    compute = cols["compute"] / ranks
    with np.errstate(divide="ignore", invalid="ignore"):
        idle = np.where(ok & (iteration > 0), 1 - compute / np.maximum(iteration, 1), np.nan)
    table = {
        "job": cols["job"],
        "iteration": cols["iteration"].astype(np.int32),
        "start_ns": _masked(_ns(cols["start"]), cols["start"] >= 0),
        "finish_ns": _masked(_ns(cols["finish"]), ok),
        "iteration_ns": _masked(_ns(iteration), ok),
        "ideal_ns": _ns(cols["ideal"]),
        "compute_ns": mean("compute"),
        "exposed_tp_ns": mean("tp"),
        "exposed_pp_ns": mean("pp"),
        "exposed_dp_ns": mean("dp"),
        "exposed_ep_ns": mean("ep"),
        "bubble_ns": mean("bubble"),
        "idle_fraction": _masked(idle, ok),
    }
    summary = {}
    names = cols["job"]
    for name in dict.fromkeys(names):
        mine = np.array([n == name for n in names]) & ok
        k = int(mine.sum())

        def avg(values, mask=mine, count=k):
            return float(values[mask].mean()) / PS_PER_NS if count else None

        summary[name] = {
            "kind": "training",
            "iterations": int(sum(n == name for n in names)),
            "iterations_completed": k,
            "mean_iteration_ns": avg(iteration),
            "mean_ideal_ns": avg(cols["ideal"]),
            "network_cost_ns": avg(iteration - cols["ideal"]),
            "mean_compute_ns": avg(compute),
            "exposed_ns": {kind: avg(cols[kind] / ranks) for kind in KINDS},
            "bubble_ns": avg(cols["bubble"] / ranks),
            "idle_fraction": float(np.nanmean(idle[mine])) if k else None,
        }
    return table, summary


def _summary(model: Model, flows, raw: RawRun, done, fct_ps, slowdown, jobs, status, fabric_only) -> dict:
    import numba

    from .. import __version__

    sc = model.scenario
    return {
        "fabsim_version": __version__,
        "versions": {
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "pyarrow": pa.__version__,
        },
        "name": sc.run.name,
        "engine": raw.engine,
        "seed": sc.run.seed,
        "wall_s": round(raw.wall_s, 6),
        "simulated_ns": raw.end_ps // PS_PER_NS,
        "stopped_at_until": raw.stopped_at_until,
        "events": raw.events,
        "packet_hops": raw.packet_hops or 0,
        "rate_solves": raw.solves,
        "events_per_s": raw.events / raw.wall_s if raw.wall_s > 0 else None,
        "flows": int(status.size),
        "flows_completed": int(done.sum()),
        "flows_unreachable": int((status == UNREACHABLE).sum()),
        "flow_status": dict(zip(FLOW_STATUSES, np.bincount(status, minlength=len(FLOW_STATUSES)).tolist())),
        "black_holed_packets": (
            int(raw.failures["black_holed_packets"].sum()) if raw.failures and "black_holed_packets" in raw.failures else 0
        ),
        # fabric flows only: transfers inside a server's scale-up domain are in the flows trace
        "fct_ns": percentiles(fct_ps[done & fabric_only] / PS_PER_NS),
        "slowdown": percentiles(slowdown[done & fabric_only]),
        "jobs": jobs,
        "network": _network(raw),
        "scenario": sc.to_dict(),
        "protocol": protocol(sc, model.fabric),
    }
