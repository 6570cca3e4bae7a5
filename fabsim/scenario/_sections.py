"""Parsers of the scalar sections: [run], [topology], [switch], [host], [routing], [cc],
[output] and [[failures]]. Traffic generators live in :mod:`fabsim.scenario._traffic`.

Each parser takes a :class:`Table` and returns the section's dataclass with every default
resolved; defaults of quantities are written as the user would write them and go through the
same unit parsers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from fabsim.scenario.protocol import ecn_marking_point
from fabsim.scenario._reader import Table, did_you_mean, describe
from fabsim.scenario.schema import (
    CCConfig,
    Failure,
    FatTreeTopology,
    FileTopology,
    HostConfig,
    Job,
    LeafSpineTopology,
    OutputConfig,
    RailOptimizedTopology,
    RoutingConfig,
    RunConfig,
    StarTopology,
    SwitchConfig,
    Topology,
)

#: Largest fat-tree arity: k = 128 already has 524,288 hosts, beyond any fabric we can route.
MAX_FAT_TREE_K = 128

_TOPOLOGY_COMMON = (
    "kind", "host_rate", "fabric_rate", "link_delay", "gpus_per_server", "scaleup_rate", "scaleup_latency",
)
_TOPOLOGY_KEYS = {
    "fat_tree": ("k",),
    "leaf_spine": ("leaves", "spines", "hosts_per_leaf", "links_per_pair"),
    "rail_optimized": ("servers", "nics_per_server", "servers_per_leaf", "spines"),
    "star": ("hosts",),
    "file": ("path",),
}

#: Link tiers a ``random_link`` failure may pick from, and switch roles for ``random_switch``.
LINK_TIERS = ("host", "tor-agg", "agg-core", "leaf-spine")
SWITCH_ROLES = ("tor", "agg", "core", "leaf", "spine")
_FAILURE_FORMS = ("link:<a>-<b>", "switch:<name>", "random_link:<tier>", "random_switch:<role>")


#: Largest run.seed: the engines hash and draw with it as a signed 64-bit integer.
MAX_SEED = 2**63 - 1


def parse_run(t: Table, default_name: str) -> RunConfig:
    t.check_keys(("name", "engine", "seed", "until", "packet_pool"))
    name = t.string("name", default_name)
    if "/" in name or "\\" in name:
        # The name becomes the output directory runs/<name>/.
        raise t.error("name", f"name must not contain a path separator, got {describe(name)}")
    return RunConfig(
        name=name,
        engine=t.choice("engine", ("packet", "flow"), "packet"),
        seed=t.integer("seed", 1, minimum=0, maximum=MAX_SEED),
        until_ps=t.time_ps("until", None, allow_zero=False),
        packet_pool=t.integer("packet_pool", None, minimum=1),
    )


def parse_topology(t: Table, base_dir: str) -> Topology:
    if not t.has("kind"):
        # A misspelt "kind" is better reported as such than as a missing key.
        t.check_keys(sorted(set(_TOPOLOGY_COMMON).union(*_TOPOLOGY_KEYS.values())))
    kind = t.choice("kind", tuple(_TOPOLOGY_KEYS))
    t.check_keys(_TOPOLOGY_COMMON + _TOPOLOGY_KEYS[kind], f'for topology kind "{kind}"')
    host_rate_bps = t.rate_bps("host_rate", "100Gbps")
    # rail_optimized: a server's GPUs are its NICs, one per rail
    gpus_default = t.integer("nics_per_server", 1, minimum=1) if kind == "rail_optimized" else 1
    common = dict(
        host_rate_bps=host_rate_bps,
        fabric_rate_bps=t.rate_bps("fabric_rate", host_rate_bps),
        link_delay_ps=t.time_ps("link_delay", "1us"),
        gpus_per_server=t.integer("gpus_per_server", gpus_default, minimum=1),
        scaleup_rate_bps=t.rate_bps("scaleup_rate", "7200Gbps"),
        scaleup_latency_ps=t.time_ps("scaleup_latency", "0ns"),
    )
    if kind == "rail_optimized" and common["gpus_per_server"] != gpus_default:
        message = (
            f"a rail-optimized server's GPUs are its NICs: gpus_per_server must equal nics_per_server "
            f"({gpus_default}), got {common['gpus_per_server']}"
        )
        raise t.error("gpus_per_server", message)
    if kind == "fat_tree":
        k = t.integer("k")
        if k < 2 or k % 2:
            raise t.error("k", f"k must be an even integer ≥ 2, got {k}")
        if k > MAX_FAT_TREE_K:
            hosts = MAX_FAT_TREE_K**3 // 4
            raise t.error("k", f"k must be at most {MAX_FAT_TREE_K} (k³/4 = {hosts:,} hosts), got {k}")
        return FatTreeTopology(**common, k=k)
    if kind == "leaf_spine":
        return LeafSpineTopology(
            **common,
            leaves=t.integer("leaves", minimum=1),
            spines=t.integer("spines", minimum=1),
            hosts_per_leaf=t.integer("hosts_per_leaf", minimum=1),
            links_per_pair=t.integer("links_per_pair", 1, minimum=1),
        )
    if kind == "star":
        return StarTopology(**common, hosts=t.integer("hosts", minimum=2))
    if kind == "rail_optimized":
        servers = t.integer("servers", minimum=1)
        per_leaf = t.integer("servers_per_leaf", minimum=1)
        if servers % per_leaf:
            message = f"servers ({servers}) must be a multiple of servers_per_leaf ({per_leaf})"
            raise t.error("servers", message)
        return RailOptimizedTopology(
            **common,
            servers=servers,
            nics_per_server=t.integer("nics_per_server", minimum=1),
            servers_per_leaf=per_leaf,
            spines=t.integer("spines", minimum=1),
        )
    path = t.string("path")
    return FileTopology(**common, path=resolve_path(base_dir, path), path_as_given=path)


def parse_switch(t: Table, cc: CCConfig) -> SwitchConfig:
    """``[switch]``; ``ecn_at`` defaults to the marking point of the code ``cc.preset`` follows
    (:func:`fabsim.scenario.protocol.ecn_marking_point`)."""
    t.check_keys((
        "buffer", "buffer_policy", "dt_alpha", "latency", "ecn", "ecn_at", "ecn_kmin",
        "ecn_kmax", "ecn_pmax", "pfc", "pfc_xoff", "pfc_xon", "trim", "trim_queue",
        "trims_per_data",
    ))  # fmt: skip
    kmin = t.size_bytes("ecn_kmin", None)
    kmax = t.size_bytes("ecn_kmax", None)
    if kmin is not None and kmax is not None and kmin > kmax:
        raise t.error("ecn_kmin", f"ecn_kmin ({kmin} bytes) must be ≤ ecn_kmax ({kmax} bytes)")
    xoff = t.size_bytes("pfc_xoff", "200KB", allow_zero=False)
    xon = t.size_bytes("pfc_xon", "180KB")
    if xon == 0:  # RESUME goes out when an ingress holds fewer than xon bytes
        raise t.error("pfc_xon", "pfc_xon must be > 0: a port paused by PFC would never resume")
    if xon > xoff:
        raise t.error("pfc_xon", f"pfc_xon ({xon} bytes) must be ≤ pfc_xoff ({xoff} bytes)")
    return SwitchConfig(
        buffer_bytes=t.size_bytes("buffer", "32MiB", allow_zero=False),
        buffer_policy=t.choice("buffer_policy", ("dynamic", "static"), "dynamic"),
        dt_alpha=t.number("dt_alpha", 1.0, low=0.0, low_open=True),
        latency_ps=t.time_ps("latency", "0ns"),
        ecn=t.boolean("ecn", True),
        ecn_at=t.choice("ecn_at", ("enqueue", "dequeue"), ecn_marking_point(cc.algorithm, cc.preset)),
        ecn_kmin_bytes=kmin,
        ecn_kmax_bytes=kmax,
        ecn_pmax=t.number("ecn_pmax", None, low=0.0, high=1.0),
        pfc=t.boolean("pfc", True),
        pfc_xoff_bytes=xoff,
        pfc_xon_bytes=xon,
        trim=t.boolean("trim", False),
        trim_queue_bytes=t.size_bytes("trim_queue", 0),
        trims_per_data=t.integer("trims_per_data", 10, minimum=0, maximum=MAX_TRIMS_PER_DATA),
    )


#: Smallest payload per packet: below it the header overhead would dominate every result.
MIN_MTU_BYTES = 64
#: Largest packet on the wire (mtu + header): room above 9,216-byte jumbo frames, and far from
#: int64 overflow in the engines' serialisation time 8 · bytes · 10¹² / rate (in ps).
MAX_PACKET_BYTES = 65_536


def parse_host(t: Table) -> HostConfig:
    t.check_keys(("mtu", "header", "rto", "nack", "retries", "ack_every", "transport", "sr_window", "sr_reorder",
                  "pace_trim_nacks"))
    mtu = t.size_bytes("mtu", 4096)
    if mtu < MIN_MTU_BYTES:
        raise t.error("mtu", f"mtu must be ≥ {MIN_MTU_BYTES} bytes, got {mtu}")
    header = t.size_bytes("header", 48)
    if mtu + header > MAX_PACKET_BYTES:
        # blame the header only when it alone leaves no room for the smallest mtu
        key = "header" if header > MAX_PACKET_BYTES - MIN_MTU_BYTES else "mtu"
        message = f"mtu + header must be ≤ {MAX_PACKET_BYTES} bytes (one packet on the wire), got {mtu} + {header}"
        raise t.error(key, message)
    window = t.integer("sr_window", 1024, minimum=64, maximum=MAX_SR_WINDOW)
    if window % 64:
        raise t.error("sr_window", f"sr_window must be a multiple of 64 packets, got {window}")
    return HostConfig(
        mtu_bytes=mtu,
        header_bytes=header,
        rto_ps=t.time_ps("rto", "1ms", allow_zero=False),
        nack=t.boolean("nack", True),
        retries=_retries(t),
        ack_every=t.integer("ack_every", 1, minimum=1, maximum=MAX_ACK_EVERY),
        transport=t.choice("transport", TRANSPORTS, "gbn"),
        sr_window=window,
        sr_reorder=t.integer("sr_reorder", 128, minimum=1, maximum=window),
        pace_trim_nacks=t.boolean("pace_trim_nacks", True),
    )


#: ``host.transport``: RoCE go-back-N, or selective repeat (docs/packet-engine.md).
TRANSPORTS = ("gbn", "sr")
#: Largest ``host.sr_window``: the receive bitmap of a flow in progress is this many bits.
MAX_SR_WINDOW = 65_536


#: Largest ``host.retries``: a flow that may time out without end would keep a run alive.
MAX_RETRIES = 255


#: Largest ``host.ack_every``: beyond it a receiver would acknowledge hardly anything but the end.
MAX_ACK_EVERY = 65_536
MAX_ENTROPIES = 65_536  # a 16-bit entropy field, as Ultra Ethernet's
MAX_REPS_BUFFER = 1_024
MAX_QPS = 127  # fabsim.run.qps: the QPs' channels must stay int32


def _retries(t: Table) -> int:
    retries = t.integer("retries", 7, minimum=0)
    if retries > MAX_RETRIES:
        raise t.error("retries", f"retries must be ≤ {MAX_RETRIES}, got {retries}")
    return retries


def parse_routing(t: Table) -> RoutingConfig:
    t.check_keys(("ecmp", "detect", "entropies", "reps_buffer", "qps", "flowlet_gap"))
    return RoutingConfig(
        ecmp=t.choice("ecmp", ("flow", "packet", "adaptive", "spray", "reps", "flowlet"), "flow"),
        detect_ps=t.time_ps("detect", "100us"),
        entropies=t.integer("entropies", 256, minimum=1, maximum=MAX_ENTROPIES),
        reps_buffer=t.integer("reps_buffer", 16, minimum=1, maximum=MAX_REPS_BUFFER),
        qps=t.integer("qps", 1, minimum=1, maximum=MAX_QPS),
        flowlet_gap_ps=t.time_ps("flowlet_gap", "10us"),
    )


def parse_cc(t: Table) -> CCConfig:
    t.check_keys((
        "algorithm", "preset", "cnp_interval", "alpha_timer", "rate_timer",
        "rate_decrease_interval", "byte_counter", "g", "initial_alpha", "fast_recovery",
        "rai", "rhai", "min_rate",
    ))  # fmt: skip
    if t.data.get("algorithm") == "dctcp":
        # Named in DESIGN §3 but not implemented by either engine: refused here, at load, so
        # validate and both engines say the same thing.
        raise t.error("algorithm", '"dctcp" is not implemented in this version (choose "dcqcn" or "none")')
    return CCConfig(
        algorithm=t.choice("algorithm", ("none", "dcqcn"), "dcqcn"),
        preset=t.choice("preset", ("hpcc", "paper"), "hpcc"),
        cnp_interval_ps=t.time_ps("cnp_interval", None),
        alpha_timer_ps=t.time_ps("alpha_timer", None),
        rate_timer_ps=t.time_ps("rate_timer", None),
        rate_decrease_interval_ps=t.time_ps("rate_decrease_interval", None),
        byte_counter_bytes=t.size_bytes("byte_counter", None),
        g=t.number("g", None, low=0.0, high=1.0, low_open=True),
        initial_alpha=t.number("initial_alpha", None, low=0.0, high=1.0),
        fast_recovery=t.integer("fast_recovery", None, minimum=0),
        rai_bps=t.rate_bps("rai", None),
        rhai_bps=t.rate_bps("rhai", None),
        min_rate_bps=t.rate_bps("min_rate", None),
    )


#: ``output.timeline_ranks`` default: the first 8 ranks of every job.
DEFAULT_TIMELINE_RANKS = 8


def parse_output(t: Table, jobs: Sequence[Job] = ()) -> OutputConfig:
    """``[output]``; ``jobs`` (the scenario's ``[[jobs]]``) bound the ranks of ``timeline_ranks``."""
    t.check_keys(("format", "queue_sample", "cc_sample", "queue_hosts", "timeline_ranks"))
    return OutputConfig(
        format=t.choice("format", ("arrow", "parquet"), "arrow"),
        queue_sample_ps=t.time_ps("queue_sample", "10us"),
        cc_sample_ps=t.time_ps("cc_sample", "0"),
        queue_hosts=t.boolean("queue_hosts", False),
        timeline_ranks=_timeline_ranks(t, jobs),
    )


def _timeline_ranks(t: Table, jobs: Sequence[Job]) -> int | tuple[int, ...]:
    """A count ≥ 0 (the first n ranks of every job; 0: no timeline) or distinct rank indices,
    each below the rank count of some job."""
    key = "timeline_ranks"
    value = t.data.get(key, DEFAULT_TIMELINE_RANKS)
    if not isinstance(value, list):
        if isinstance(value, bool) or not isinstance(value, int):
            raise t.error(key, f"expected a count of ranks or a list of rank indices, got {describe(value)}")
        return t.integer(key, DEFAULT_TIMELINE_RANKS, minimum=0)
    if not value:
        raise t.error(key, "expected at least one rank index (0 writes no timeline)")
    largest = max((job.ranks for job in jobs), default=None)
    ranks: list[int] = []
    for i, item in enumerate(value):
        item_key = f"{key}[{i}]"
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise t.error(item_key, f"expected a rank index ≥ 0, got {describe(item)}")
        if item in ranks:
            raise t.error(item_key, f"rank {item} is listed twice")
        if largest is not None and item >= largest:
            raise t.error(item_key, f"no job has rank {item} (the largest job has {largest} ranks)")
        ranks.append(item)
    return tuple(ranks)


def parse_failure(t: Table) -> Failure:
    t.check_keys(("target", "at", "duration"))
    target = t.string("target")
    fields = dict(a=None, b=None, name=None, tier=None, role=None)
    prefix, sep, rest = target.partition(":")
    bad_form = f'expected {", ".join(_FAILURE_FORMS)}, got {describe(target)}'
    if not sep:
        raise t.error("target", bad_form)
    if prefix == "link":
        a, _, b = rest.partition("-")
        # Node names never contain "-", so the first one separates the two ends.
        if not a or not b or "-" in b:
            message = f'expected "link:<a>-<b>" with two node names, got {describe(target)}'
            raise t.error("target", message)
        if a == b:
            raise t.error("target", f"a link needs two different ends, got {describe(target)}")
        fields.update(a=a, b=b)
    elif prefix == "switch":
        if not rest:
            raise t.error("target", f'expected "switch:<name>", got {describe(target)}')
        fields.update(name=rest)
    elif prefix == "random_link":
        if rest not in LINK_TIERS:
            hint = did_you_mean(rest, LINK_TIERS) or f" (tiers: {', '.join(LINK_TIERS)})"
            raise t.error("target", f"unknown link tier {describe(rest)}{hint}")
        fields.update(tier=rest)
    elif prefix == "random_switch":
        if rest not in SWITCH_ROLES:
            hint = did_you_mean(rest, SWITCH_ROLES) or f" (roles: {', '.join(SWITCH_ROLES)})"
            raise t.error("target", f"unknown switch role {describe(rest)}{hint}")
        fields.update(role=rest)
    else:
        kinds = ("link", "switch", "random_link", "random_switch")
        raise t.error("target", bad_form + did_you_mean(prefix, kinds))
    return Failure(
        target=target,
        kind=prefix,
        **fields,
        at_ps=t.time_ps("at"),
        duration_ps=t.time_ps("duration", None, allow_zero=False),
    )


def resolve_path(base_dir: str, path: str) -> str:
    """``path`` made absolute against ``base_dir`` (the scenario file's directory)."""
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(path)))

#: Largest ``switch.trims_per_data``: beyond it data behind a stream of trims hardly moves.
MAX_TRIMS_PER_DATA = 1_000_000
