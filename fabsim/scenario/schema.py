"""Validated scenario objects: one frozen dataclass per section, every default resolved.

The loader (:mod:`fabsim.scenario.load`) is the only producer of these objects. Field names
carry their unit (``*_ps`` integer picoseconds, ``*_bytes`` integer bytes, ``*_bps`` integer
bit/s); unitless fields are plain numbers, counts or labels. ``None`` in an optional field means
"not set": for the ``[cc]`` overrides and the ECN thresholds it means "from the cc preset".

Topology and traffic sections come in several kinds; each kind is its own class with a
``kind`` class attribute (the TOML ``kind`` string), so builders dispatch on ``obj.kind``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Union

#: Host selection for poisson ``hosts`` and collective ``ranks``: ``"all"``, a count (the
#: first n hosts for poisson; n hosts placed by ``placement`` for collectives), or host indices.
HostSelection = Union[str, int, tuple[int, ...]]


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses and named tuples become dicts, tuples lists."""
    if dataclasses.is_dataclass(value):
        return value.to_dict()
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


class _Section:
    """Mixin giving every section a ``to_dict`` (with ``kind`` first for kinded sections)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The resolved values as JSON-serialisable data, keyed by field name."""
        out: dict[str, Any] = {}
        kind = getattr(type(self), "kind", None)
        if isinstance(kind, str):  # a ClassVar (Failure's kind is an ordinary field)
            out["kind"] = kind
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out


# --- [run] -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunConfig(_Section):
    """``[run]``: what to call the run, which engine, the seed, when to stop."""

    name: str  #: run name (default: the scenario file's stem; "scenario" for dict sources)
    engine: str  #: "packet" | "flow"
    seed: int  #: ≥ 0; every random choice of the run derives from it
    until_ps: int | None  #: stop time in ps; None = run until all traffic has completed
    packet_pool: int | None  #: packet engine: packets that can exist at once; None = sized from the fabric


# --- [topology] --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TopologyBase(_Section):
    """Keys shared by every topology kind.

    Every kind also has an ``n_hosts`` property: the number of hosts it builds (None for
    ``file``, where only the file knows).
    """

    host_rate_bps: int  #: rate of host ↔ first-switch links, bit/s
    fabric_rate_bps: int  #: rate of switch ↔ switch links, bit/s
    link_delay_ps: int  #: propagation delay of every link, ps
    gpus_per_server: int  #: consecutive hosts (GPUs) that share one scale-up domain (1: none)
    scaleup_rate_bps: int  #: each GPU's scale-up (NVLink) port rate, each direction
    scaleup_latency_ps: int  #: latency of a scale-up transfer


@dataclass(frozen=True, slots=True)
class FatTreeTopology(_TopologyBase):
    """k-ary fat-tree (Al-Fares et al., SIGCOMM 2008): k pods, k³/4 hosts."""

    kind: ClassVar[str] = "fat_tree"
    k: int  #: even, 2 ≤ k ≤ 128

    @property
    def n_hosts(self) -> int:
        return self.k**3 // 4


@dataclass(frozen=True, slots=True)
class LeafSpineTopology(_TopologyBase):
    """Two-tier Clos: every leaf connects to every spine with ``links_per_pair`` links."""

    kind: ClassVar[str] = "leaf_spine"
    leaves: int
    spines: int
    hosts_per_leaf: int
    links_per_pair: int

    @property
    def n_hosts(self) -> int:
        return self.leaves * self.hosts_per_leaf


@dataclass(frozen=True, slots=True)
class StarTopology(_TopologyBase):
    """One switch connecting every host: the "one big switch" ideal fabric."""

    kind: ClassVar[str] = "star"
    hosts: int

    @property
    def n_hosts(self) -> int:
        return self.hosts


@dataclass(frozen=True, slots=True)
class RailOptimizedTopology(_TopologyBase):
    """Rail-optimized fabric: NIC r of every server in a leaf group attaches to rail leaf r."""

    kind: ClassVar[str] = "rail_optimized"
    servers: int
    nics_per_server: int  #: = number of rails; each NIC is one host
    servers_per_leaf: int  #: divides ``servers``
    spines: int

    @property
    def n_hosts(self) -> int:
        return self.servers * self.nics_per_server


@dataclass(frozen=True, slots=True)
class FileTopology(_TopologyBase):
    """A fabric read from a link list (columns a, b, rate, delay)."""

    kind: ClassVar[str] = "file"
    path: str  #: absolute path, resolved against the scenario file's directory
    path_as_given: str  #: the path as written in the scenario

    @property
    def n_hosts(self) -> None:
        return None


Topology = Union[FatTreeTopology, LeafSpineTopology, StarTopology, RailOptimizedTopology, FileTopology]


# --- [switch], [host], [routing], [cc], [output] -----------------------------------------------


@dataclass(frozen=True, slots=True)
class SwitchConfig(_Section):
    """``[switch]``: shared buffer, ECN marking and PFC thresholds of every switch."""

    buffer_bytes: int  #: shared buffer per switch
    buffer_policy: str  #: "dynamic" | "static"
    dt_alpha: float  #: dynamic-threshold alpha (> 0)
    latency_ps: int  #: forwarding latency per switch hop
    ecn: bool
    ecn_at: str  #: "enqueue" | "dequeue"; default: where the code of the cc preset marks (fabsim.scenario.protocol)
    ecn_kmin_bytes: int | None  #: None = from the cc preset (hpcc: scaled to the port rate)
    ecn_kmax_bytes: int | None  #: None = from the cc preset (hpcc: scaled to the port rate)
    ecn_pmax: float | None  #: marking probability at Kmax, in [0, 1]; None = from the preset
    pfc: bool
    pfc_xoff_bytes: int  #: per-ingress bytes above which the upstream is paused
    pfc_xon_bytes: int  #: per-ingress bytes below which it is resumed (≤ xoff)
    trim: bool = False  #: a data packet that would be dropped is trimmed to a 64-byte header (sr only)
    trim_queue_bytes: int = 0  #: with trim: also trim where the data queue would exceed this (0: off)
    trims_per_data: int = 10  #: with trim: a port sends a waiting data packet after this many trims (0: trims first always)


@dataclass(frozen=True, slots=True)
class HostConfig(_Section):
    """``[host]``: packetisation and retransmission timeout of every host."""

    mtu_bytes: int  #: payload bytes per packet (≥ 64)
    header_bytes: int  #: header bytes per packet on the wire
    rto_ps: int  #: go-back-N retransmission timeout
    nack: bool  #: receivers send a NACK on a sequence gap (RoCE's NAK), senders go back at once
    retries: int  #: consecutive timeouts of one packet after which a flow gives up (InfiniBand: 7)
    ack_every: int  #: packet engine: a receiver ACKs every N-th in-order packet (and the last); 1 = every one
    transport: str = "gbn"  #: "gbn" (go-back-N) or "sr" (selective repeat; docs/packet-engine.md)
    sr_window: int = 1024  #: sr: packets a flow may have outstanding beyond its oldest unacknowledged one
    sr_reorder: int = 128  #: sr: a packet is presumed lost once one this many sequence numbers beyond it is SACKed
    pace_trim_nacks: bool = True  #: switch.trim: a receiver sends trim NACKs no faster than its link carries the resends


@dataclass(frozen=True, slots=True)
class RoutingConfig(_Section):
    """``[routing]``: load balancing and failure-detection delay."""

    ecmp: str  #: "flow" | "packet" | "adaptive" | "spray" | "reps" | "flowlet"
    detect_ps: int  #: routing convergence time after a failure or a restoration
    entropies: int  #: spray, reps: the entropy values a sender chooses from
    reps_buffer: int  #: reps: slots of a flow's buffer of recycled entropy values
    qps: int  #: queue pairs per fabric transfer (its packets dealt round-robin over them)
    flowlet_gap_ps: int  #: flowlet: a gap longer than this lets a switch move a flow


@dataclass(frozen=True, slots=True)
class CCConfig(_Section):
    """``[cc]``: congestion control (DCQCN: Zhu et al., SIGCOMM 2015 §3).

    Every parameter after ``preset`` is an override; None means "take it from the preset".
    """

    algorithm: str  #: "none" | "dcqcn" (the flow engine has no congestion control and accepts both)
    preset: str  #: "hpcc" | "paper"
    cnp_interval_ps: int | None
    alpha_timer_ps: int | None
    rate_timer_ps: int | None
    rate_decrease_interval_ps: int | None
    byte_counter_bytes: int | None  #: 0 disables the byte counter
    g: float | None  #: alpha gain, in (0, 1]
    initial_alpha: float | None  #: in [0, 1]
    fast_recovery: int | None  #: F, number of fast-recovery iterations
    rai_bps: int | None  #: additive-increase step
    rhai_bps: int | None  #: hyper-increase step
    min_rate_bps: int | None  #: rate floor


@dataclass(frozen=True, slots=True)
class OutputConfig(_Section):
    """``[output]``: trace format and sampling periods."""

    format: str  #: "arrow" | "parquet"
    queue_sample_ps: int  #: period of queue-depth samples; 0 disables the queue trace
    cc_sample_ps: int  #: period of per-flow rate samples; 0 disables the rates trace
    queue_hosts: bool  #: also sample host NIC queues (by default only switch ports are sampled)
    #: ``timeline.json``: the first n ranks of every training job (an int; 0 writes none) or
    #: these rank indices (a tuple; those below a job's rank count)
    timeline_ranks: int | tuple[int, ...]


# --- [[traffic]] -------------------------------------------------------------------------------


class FlowSpec(NamedTuple):
    """One explicit flow of a ``flow`` generator."""

    src: int  #: host index
    dst: int  #: host index
    size_bytes: int
    start_ps: int


@dataclass(frozen=True, slots=True)
class _TrafficBase(_Section):
    """Keys shared by every traffic generator."""

    tag: str  #: label copied to every flow (default: the kind)
    start_ps: int  #: when the generator starts


@dataclass(frozen=True, slots=True)
class FlowTraffic(_TrafficBase):
    """Explicit flows: ``src``/``dst``/``size`` or ``flows = [{…}, …]``."""

    kind: ClassVar[str] = "flow"
    flows: tuple[FlowSpec, ...]
    listed: bool  #: True when written as ``flows = [...]`` (decides error key paths)


@dataclass(frozen=True, slots=True)
class IncastTraffic(_TrafficBase):
    """Many senders to one receiver, all starting at ``start``."""

    kind: ClassVar[str] = "incast"
    receiver: int  #: host index
    senders: int | tuple[int, ...]  #: a count (chosen by the traffic builder) or host indices
    size_bytes: int  #: per sender


@dataclass(frozen=True, slots=True)
class PermutationTraffic(_TrafficBase):
    """Every host sends one flow and receives one (a derangement)."""

    kind: ClassVar[str] = "permutation"
    pattern: str  #: "random" | "shift"
    size_bytes: int  #: per flow


@dataclass(frozen=True, slots=True)
class PoissonTraffic(_TrafficBase):
    """Open-loop Poisson arrivals between uniform random host pairs."""

    kind: ClassVar[str] = "poisson"
    load: float  #: offered load as a fraction of the host rate, in (0, 1]
    sizes: str  #: "websearch" | "hadoop" | absolute path of a CDF file
    duration_ps: int  #: arrivals happen in [start, start + duration)
    hosts: HostSelection  #: "all", the first n hosts, or host indices


@dataclass(frozen=True, slots=True)
class CollectiveTraffic(_TrafficBase):
    """One job's collective, repeated ``iterations`` times with ``compute`` in between."""

    kind: ClassVar[str] = "collective"
    op: str  #: allreduce | reduce_scatter | all_gather | all_to_all | broadcast | sendrecv
    algorithm: str  #: ring | halving_doubling | tree | pairwise | direct
    size_bytes: int  #: buffer bytes per rank (NCCL convention)
    ranks: HostSelection  #: "all", a count placed by ``placement``, or host indices
    placement: str  #: "packed" | "random" | "strided"
    channels: int  #: parallel flows per step
    iterations: int
    compute_ps: int  #: time between one iteration's end and the next one's start
    gap_ps: int  #: delay between a step's dependency completing and the next flow starting
    root: int  #: root rank index (broadcast only; 0 otherwise)
    job: str


Traffic = Union[FlowTraffic, IncastTraffic, PermutationTraffic, PoissonTraffic, CollectiveTraffic]


# --- [[jobs]] ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job(_Section):
    """``[[jobs]]``: one training job (DESIGN §4b; docs/jobs.md), expanded into one dependency
    DAG of compute tasks and transfers per iteration by :mod:`fabsim.traffic.jobs`.

    Ranks: ``r = t + tp·(d + dp·p)`` for TP index t, DP index d and stage p; ``tp·pp·dp`` ranks
    in all. Sizes and FLOPs follow Megatron-LM; the ``*_bytes``/``*_ps`` overrides replace the
    formulas where they are set.
    """

    name: str
    # model
    layers: int  #: transformer layers L (divisible by pp)
    hidden: int  #: hidden size h
    seq_len: int  #: sequence length s
    micro_batch: int  #: micro-batch size b
    microbatches: int  #: microbatches per iteration m (from global_batch when that is given)
    dtype_bytes: int  #: bytes per activation / parameter element B (default 2)
    grad_bytes: int  #: bytes per gradient element (default 2)
    vocab: int  #: vocabulary size; 0 = embeddings not counted
    experts: int  #: experts per MoE layer; 0 = a dense model
    top_k: int  #: experts each token is routed to
    moe_every: int  #: every moe_every-th layer (1-based: layers moe_every, 2·moe_every, …) is MoE
    # parallelism
    tp: int
    pp: int
    dp: int
    ep: int  #: expert-parallel group size, divides dp (1 = no EP)
    zero: int  #: 0 (gradient all-reduce) | 1 | 2 (reduce-scatter, then parameter all-gather)
    bucket_bytes: int  #: gradient bucket size
    tp_comm: str  #: "sequence_parallel" (all-gather + reduce-scatter) | "allreduce"
    tp_overlap: bool  #: a TP collective runs alongside the compute piece that follows it
    algorithm: str  #: collective algorithm of TP and DP collectives: "ring" | "halving_doubling"
    collective_model: str  #: "steps" (a flow per step and connection) | "connections" (a flow per ring connection)
    # compute
    gpu: str | None  #: a key of fabsim.scenario._jobs.GPU_PEAK_FLOPS; None when times are given
    mfu: float  #: model FLOP utilisation, in (0, 1]
    layer_forward_ps: int | None  #: forward time of one layer and microbatch (overrides gpu/mfu)
    layer_backward_ps: int | None  #: backward time (default 2 × forward)
    optimizer_ps: int  #: optimizer step time
    # explicit message sizes (None = from the formulas)
    tp_bytes: int | None  #: per-rank buffer of each TP collective
    pp_bytes: int | None  #: bytes of each PP activation / gradient transfer
    ep_bytes: int | None  #: per-rank buffer of each EP all-to-all
    dp_bytes: int | None  #: dense gradient bytes per rank per iteration
    # where and when
    servers: int | tuple[int, ...]  #: a count (starting at first_server) or server indices
    first_server: int
    placement: str  #: "packed" | "strided" | "random"
    iterations: int
    start_ps: int

    @property
    def ranks(self) -> int:
        return self.tp * self.pp * self.dp


# --- [[failures]] ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure(_Section):
    """One failure event, parsed from ``target``.

    ``kind`` selects which of ``a``/``b`` (link ends), ``name`` (switch), ``tier``
    (random_link) and ``role`` (random_switch) is set; the others are None.
    """

    target: str  #: as written, e.g. "link:tor0-agg1"
    kind: str  #: "link" | "switch" | "random_link" | "random_switch"
    a: str | None
    b: str | None
    name: str | None
    tier: str | None
    role: str | None
    at_ps: int
    duration_ps: int | None  #: None = permanent


# --- the whole scenario ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario. Build it with :func:`fabsim.scenario.load_scenario`."""

    run: RunConfig
    topology: Topology
    switch: SwitchConfig
    host: HostConfig
    routing: RoutingConfig
    cc: CCConfig
    traffic: tuple[Traffic, ...]
    jobs: tuple[Job, ...]
    failures: tuple[Failure, ...]
    output: OutputConfig
    source: str  #: the scenario path as given, or "<dict>"
    base_dir: str  #: absolute directory relative paths were resolved against

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as JSON-serialisable data, nested by section.

        ``base_dir`` is left out: it only explains how paths were resolved, and the resolved
        paths themselves are in the topology and traffic entries.
        """
        return {
            "source": self.source,
            "run": self.run.to_dict(),
            "topology": self.topology.to_dict(),
            "switch": self.switch.to_dict(),
            "host": self.host.to_dict(),
            "routing": self.routing.to_dict(),
            "cc": self.cc.to_dict(),
            "traffic": [t.to_dict() for t in self.traffic],
            "jobs": [j.to_dict() for j in self.jobs],
            "failures": [f.to_dict() for f in self.failures],
            "output": self.output.to_dict(),
        }

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string (non-ASCII kept as is)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
