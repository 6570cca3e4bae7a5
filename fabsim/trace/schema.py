"""Arrow schemas of the run traces (DESIGN §8): one ``pyarrow.Schema`` per trace file.

Type conventions, the same in every trace:

- ids and small counts of things that are ids (``flow_id``, ``link_id``, ``failure_id``, host
  indices ``src``/``dst``, ``iteration``, ``step``, ``ranks``, ``collective``): ``int32``;
- bytes and every other count (``*_bytes``, ``packets``, ``drops``, ``*_hit`` …): ``int64``;
- times ``*_ns``: ``int64`` nanoseconds since the start of the run (durations for ``fct_ns``,
  ``pause_ns`` …); the engine's picoseconds are truncated toward zero;
- ratios, averages and continuous rates: ``float64``; bandwidths ``*_gbps`` are Gbit/s and
  ``rate_bps`` of ``links`` is an ``int64`` line rate in bit/s;
- labels (names, kinds, tags): ``dictionary<int32, string>``.

A column is nullable only where a value may be absent (a flow that did not finish has no
``finish_ns``); every other field is declared non-nullable, so Parquet stores it as REQUIRED.
``flows.collective`` is the 0-based row of ``collectives`` that a flow belongs to, null (not −1)
for flows outside any collective, so joins and counts need no sentinel.

Each field carries its documentation in its metadata (key ``description``), so a trace file
describes itself; :data:`COLUMNS` holds the same text as plain strings, and ``docs/traces.md``
shows it as one table per trace.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["COLUMNS", "METADATA_KEYS", "SCHEMAS", "SCHEMA_VERSION", "TRACES"]

#: Version of the trace schemas; bumped on any change to a column's name, type or meaning.
SCHEMA_VERSION = 5

#: Schema-level metadata keys every trace file carries (see ``tables.trace_metadata``).
METADATA_KEYS = ("fabsim.version", "fabsim.schema_version", "fabsim.seed", "fabsim.scenario")

_ID = pa.int32()
_INT = pa.int64()
_FLOAT = pa.float64()
_BOOL = pa.bool_()
_LABEL = pa.dictionary(pa.int32(), pa.string())

_REQUIRED = False
_NULLABLE = True


def _schema(*columns: tuple[str, pa.DataType, bool, str]) -> pa.Schema:
    """A schema from ``(name, type, nullable, description)`` rows, in file column order."""
    return pa.schema(
        pa.field(name, dtype, nullable=nullable, metadata={"description": text})
        for name, dtype, nullable, text in columns
    )


_NOT_DONE = "null if it did not finish before the run ended"

SCHEMAS: dict[str, pa.Schema] = {
    "flows": _schema(
        ("flow_id", _ID, _REQUIRED,
         "flow index (0-based), the row of the flow table the traffic generators built"),
        ("src", _ID, _REQUIRED, "sending host index (host `h<src>`, also its rank index)"),
        ("dst", _ID, _REQUIRED, "receiving host index"),
        ("size_bytes", _INT, _REQUIRED, "payload bytes of the flow, headers excluded"),
        ("start_ns", _INT, _NULLABLE,
         "ns: when the flow became ready to send: its start, or its last predecessor's finish + "
         "gap; null if it never started (status not_started)"),
        ("finish_ns", _INT, _NULLABLE, f"ns: arrival of the flow's last byte at dst; {_NOT_DONE}"),
        ("fct_ns", _INT, _NULLABLE, f"ns: flow completion time, finish_ns − start_ns; {_NOT_DONE}"),
        ("ideal_fct_ns", _INT, _REQUIRED, "ns: FCT of the same flow alone on the idle fabric along its path"),
        ("slowdown", _FLOAT, _NULLABLE, f"fct_ns / ideal_fct_ns (≥ 1); {_NOT_DONE}"),
        ("tag", _LABEL, _REQUIRED, "label of the flow's traffic generator (its `tag` key, default its kind)"),
        ("job", _LABEL, _NULLABLE,
         "name of the collective job or training job (`[[jobs]]`) the flow belongs to; null for "
         "other traffic"),
        ("phase", _LABEL, _NULLABLE,
         "for a training job's transfers, what it carries: tp, pp, dp or ep; null otherwise"),
        ("scaleup", _BOOL, _REQUIRED,
         "the flow stayed inside one server's scale-up domain (two GPUs of one server, "
         "`topology.gpus_per_server` > 1): it crossed no fabric link and sent no packets"),
        ("collective", _ID, _NULLABLE,
         "row (0-based) of the collectives trace of the flow's collective iteration; null for "
         "other traffic"),
        ("iteration", _ID, _NULLABLE, "iteration (0-based) of that collective; null for other traffic"),
        ("step", _ID, _NULLABLE,
         "algorithm step (0-based) of that collective in which the flow is sent; null for "
         "other traffic"),
        ("packets", _INT, _REQUIRED,
         "data packets sent, retransmissions included (flow engine: ⌈size_bytes / mtu⌉)"),
        ("retransmitted_bytes", _INT, _REQUIRED,
         "payload bytes sent again: by go-back-N, or by selective repeat for packets presumed "
         "lost, timed out or trimmed (0 in the flow engine)"),
        ("retransmitted_trim_bytes", _INT, _REQUIRED,
         "of retransmitted_bytes, the payload resent because a switch trimmed it (selective "
         "repeat, on its trim NACK); the rest was resent after a loss: a drop or a reordering "
         "FACK's rule took for one, a timeout, or a go-back-N rewind (0 in the flow engine)"),
        ("ecn_marked", _INT, _REQUIRED,
         "data packets of the flow that arrived ECN-marked (0 in the flow engine)"),
        ("drops", _INT, _REQUIRED,
         "data packets of the flow dropped by a full buffer or lost to a failure (0 in the flow "
         "engine)"),
        ("trimmed", _INT, _REQUIRED,
         "data packets of the flow trimmed to their header by a switch (switch.trim; each is "
         "resent: the trims' payload is part of retransmitted_trim_bytes); 0 in the flow engine"),
        ("failure_hit", _BOOL, _REQUIRED, "a failure dropped packets of the flow or changed its path"),
        ("completed", _BOOL, _REQUIRED, "the flow's last byte arrived before the run ended"),
        ("status", _LABEL, _REQUIRED,
         "how the flow ended: completed; unfinished (started, still under way when the run "
         "ended, e.g. at `run.until`); not_started (its start or a predecessor's completion "
         "never came); unreachable (a failure left no route to its destination); "
         "retries_exceeded (gave up after `host.retries` consecutive timeouts)"),
    ),
    "collectives": _schema(
        ("job", _LABEL, _REQUIRED, "job name (the collective's `job` key, default job0, job1, …)"),
        ("iteration", _ID, _REQUIRED, "iteration index (0-based)"),
        ("op", _LABEL, _REQUIRED,
         "collective operation: allreduce, reduce_scatter, all_gather, all_to_all, broadcast, sendrecv"),
        ("algorithm", _LABEL, _REQUIRED, "algorithm: ring, halving_doubling, tree, direct, pairwise"),
        ("ranks", _ID, _REQUIRED, "number of ranks n"),
        ("size_bytes", _INT, _REQUIRED, "buffer bytes per rank S (the NCCL-tests convention)"),
        ("start_ns", _INT, _NULLABLE,
         "ns: when the iteration's first flow became ready to send; null if none of its flows "
         "started"),
        ("finish_ns", _INT, _NULLABLE, f"ns: when the iteration's last flow completed; {_NOT_DONE}"),
        ("duration_ns", _INT, _NULLABLE, f"ns: finish_ns − start_ns; {_NOT_DONE}"),
        ("ideal_ns", _INT, _REQUIRED,
         "ns: duration on an uncongested fabric: the dependency DAG with each flow at its ideal "
         "FCT, flows of one step sharing their NICs (the cost models of DESIGN §7; docs/engines.md)"),
        ("algbw_gbps", _FLOAT, _NULLABLE,
         f"Gbit/s: algorithm bandwidth 8·size_bytes / duration; {_NOT_DONE}"),
        ("busbw_gbps", _FLOAT, _NULLABLE,
         f"Gbit/s: bus bandwidth, algbw_gbps × the NCCL-tests factor of op; {_NOT_DONE}"),
        ("compute_ns", _INT, _REQUIRED,
         "ns: compute time that follows this iteration's collective (the `compute` key)"),
        ("idle_fraction", _FLOAT, _NULLABLE,
         "duration_ns / (duration_ns + compute_ns): share of the iteration the GPUs wait for "
         f"the network; {_NOT_DONE}"),
    ),
    "links": _schema(
        ("link_id", _ID, _REQUIRED,
         "directed link index (both directions of every cable, host links included)"),
        ("src_node", _LABEL, _REQUIRED, "name of the sending node (h0, tor0, agg1, spine2, …)"),
        ("dst_node", _LABEL, _REQUIRED, "name of the receiving node"),
        ("tier", _LABEL, _REQUIRED, "tier of the cable: host, tor-agg, agg-core, leaf-spine, …"),
        ("rate_bps", _INT, _REQUIRED, "bit/s: line rate"),
        ("tx_bytes", _INT, _REQUIRED,
         "bytes on the wire sent up to the end of the run (headers and control packets included)"),
        ("utilization", _FLOAT, _REQUIRED, "8·tx_bytes / (rate_bps × simulated time), in [0, 1]"),
        ("max_queue_bytes", _INT, _REQUIRED, "peak bytes in the link's egress queue (0 in the flow engine)"),
        ("mean_queue_bytes", _FLOAT, _REQUIRED,
         "time-averaged bytes in the link's egress queue (0 in the flow engine)"),
        ("drops", _INT, _REQUIRED,
         "data packets dropped at this egress, any cause: full buffer, or lost to a failure "
         "(failure_drops); Σ over links = Σ flows.drops"),
        ("failure_drops", _INT, _REQUIRED,
         "of drops, data packets lost to a failure: on this link's wire or in its queue when it "
         "failed, black-holed onto it before detection, or arriving over it at a switch left "
         "with no route"),
        ("trimmed", _INT, _REQUIRED, "data packets trimmed to their header at this egress (switch.trim)"),
        ("ecn_marked", _INT, _REQUIRED, "packets ECN-marked at this egress"),
        ("pause_ns", _INT, _REQUIRED, "ns: total time this egress was paused by PFC"),
        ("down_ns", _INT, _REQUIRED, "ns: total time the link was failed"),
    ),
    "queues": _schema(
        ("t_ns", _INT, _REQUIRED, "ns: sample time, a multiple of `output.queue_sample`"),
        ("link_id", _ID, _REQUIRED, "directed link whose egress queue is sampled (`links.link_id`)"),
        ("queue_bytes", _INT, _REQUIRED,
         "largest data bytes queued at that egress port during the sample period ending at "
         "t_ns (ports whose queue stayed empty are not written)"),
    ),
    "failures": _schema(
        ("failure_id", _ID, _REQUIRED,
         "index (0-based) of the failure in the scenario's `[[failures]]` list"),
        ("target", _LABEL, _REQUIRED,
         "the failed element, random targets resolved: `link:<a>-<b>` or `switch:<name>`"),
        ("tier", _LABEL, _REQUIRED,
         "tier of the failed link, or role of the failed switch (tor, agg, core, leaf, spine, …)"),
        ("at_ns", _INT, _REQUIRED, "ns: when the element failed"),
        ("detected_ns", _INT, _NULLABLE,
         "ns: when routing stopped using the element (at + `routing.detect`); "
         "null if the run ended first"),
        ("restored_ns", _INT, _NULLABLE,
         "ns: when the element came back (at + `duration`); "
         "null for a permanent failure or if the run ended first"),
        ("dropped_packets", _INT, _REQUIRED,
         "packets lost to the failure: on the wire, in its queues, black-holed before detection"),
        ("dropped_bytes", _INT, _REQUIRED, "wire bytes of those packets"),
        ("flows_hit", _INT, _REQUIRED, "flows that lost at least one packet to the failure"),
        ("flows_rerouted", _INT, _REQUIRED,
         "flows whose path changed when routing detected the failure or the restoration"),
        ("hosts_hit", _INT, _REQUIRED, "distinct hosts that send or receive a hit flow"),
        ("jobs_hit", _INT, _REQUIRED, "distinct collective jobs with a hit flow"),
        ("added_delay_ns", _INT, _NULLABLE,
         "ns: with `--baseline`, the sum over hit flows of fct_ns minus their fct_ns in the run "
         "without failures; null otherwise"),
    ),
    "baseline": _schema(
        ("kind", _LABEL, _REQUIRED, "`flow` or `collective`: what the row measures"),
        ("id", _ID, _REQUIRED, "`flows.flow_id`, or the row of `collectives`"),
        ("time_ns", _INT, _NULLABLE, "ns: its FCT (flow) or duration (collective) in this run; null if it did not finish"),
        ("baseline_ns", _INT, _NULLABLE, "ns: the same in the run without failures; null if it did not finish there"),
        ("added_ns", _INT, _NULLABLE, "ns: time_ns − baseline_ns; null unless both finished"),
    ),
    "jobs": _schema(
        ("job", _LABEL, _REQUIRED, "training job name (`[[jobs]]` `name`)"),
        ("iteration", _ID, _REQUIRED, "iteration index (0-based)"),
        ("start_ns", _INT, _NULLABLE,
         "ns: when the iteration started (the job's start, or the end of the previous iteration); "
         "null if it never started"),
        ("finish_ns", _INT, _NULLABLE, f"ns: when every rank had finished the iteration; {_NOT_DONE}"),
        ("iteration_ns", _INT, _NULLABLE, f"ns: finish_ns − start_ns; {_NOT_DONE}"),
        ("ideal_ns", _INT, _REQUIRED,
         "ns: the same iteration with every transfer alone on an idle fabric (its ideal FCT) and "
         "every compute task at its duration: iteration_ns − ideal_ns is the network's cost"),
        ("compute_ns", _INT, _NULLABLE, f"ns: compute time per rank (mean over ranks); {_NOT_DONE}"),
        ("exposed_tp_ns", _INT, _NULLABLE,
         "ns: time a rank waited for tensor-parallel transfers (mean over ranks; docs/jobs.md "
         f"says how waits are attributed); {_NOT_DONE}"),
        ("exposed_pp_ns", _INT, _NULLABLE, f"ns: the same for pipeline transfers; {_NOT_DONE}"),
        ("exposed_dp_ns", _INT, _NULLABLE, f"ns: the same for data-parallel transfers; {_NOT_DONE}"),
        ("exposed_ep_ns", _INT, _NULLABLE, f"ns: the same for expert-parallel all-to-alls; {_NOT_DONE}"),
        ("bubble_ns", _INT, _NULLABLE,
         "ns: time a rank waited for compute on other ranks (the pipeline bubble), mean over "
         f"ranks; compute + exposed + bubble = iteration_ns; {_NOT_DONE}"),
        ("idle_fraction", _FLOAT, _NULLABLE,
         f"1 − compute_ns / iteration_ns: share of the iteration the GPUs did not compute; {_NOT_DONE}"),
    ),
    "rates": _schema(
        ("t_ns", _INT, _REQUIRED, "ns: sample time, a multiple of `output.cc_sample`"),
        ("flow_id", _ID, _REQUIRED, "sampled flow (`flows.flow_id`)"),
        ("rate_bps", _FLOAT, _REQUIRED, "bit/s: current sending rate Rc"),
        ("target_bps", _FLOAT, _REQUIRED, "bit/s: target rate Rt"),
        ("alpha", _FLOAT, _REQUIRED, "DCQCN congestion estimate α, in [0, 1]"),
    ),
}

#: Trace names in file-writing order.
TRACES: tuple[str, ...] = tuple(SCHEMAS)

#: ``COLUMNS[trace][column]``: the column's description (units first where it has one).
COLUMNS: dict[str, dict[str, str]] = {
    trace: {field.name: field.metadata[b"description"].decode() for field in schema}
    for trace, schema in SCHEMAS.items()
}
