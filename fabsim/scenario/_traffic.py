"""Parser of the ``[[traffic]]`` generators (DESIGN §4).

Checks here need only the scenario itself; references that need the built fabric (host
indices in range, counts ≤ hosts) are in :mod:`fabsim.scenario.refs`.
"""

from __future__ import annotations

import os
from typing import Any

from fabsim.scenario._reader import Table, describe, did_you_mean
from fabsim.scenario._sections import resolve_path
from fabsim.scenario.schema import (
    CollectiveTraffic,
    FlowSpec,
    FlowTraffic,
    HostSelection,
    IncastTraffic,
    PermutationTraffic,
    PoissonTraffic,
    Traffic,
)

_COMMON = ("kind", "tag", "start")
_KEYS = {
    "flow": ("src", "dst", "size", "flows"),
    "incast": ("receiver", "senders", "size"),
    "permutation": ("pattern", "size"),
    "poisson": ("load", "sizes", "duration", "hosts"),
    "collective": (
        "op", "algorithm", "size", "ranks", "placement", "channels", "iterations",
        "compute", "gap", "root", "job",
    ),
}  # fmt: skip
_FLOW_ITEM_KEYS = ("src", "dst", "size", "start")

#: Flow-size distributions shipped with fabsim (anything else in ``sizes`` is a CDF file).
BUILTIN_SIZE_CDFS = ("websearch", "hadoop")

#: Algorithms each collective op supports; the first one is the op's default.
COLLECTIVE_ALGORITHMS = {
    "allreduce": ("ring", "halving_doubling", "tree"),
    "reduce_scatter": ("ring", "halving_doubling"),
    "all_gather": ("ring", "halving_doubling"),
    "all_to_all": ("pairwise", "direct"),
    "broadcast": ("ring", "tree"),
    "sendrecv": ("direct",),
}
_ALL_ALGORITHMS = ("ring", "halving_doubling", "tree", "pairwise", "direct")


def parse_traffic(tables: list[Table], base_dir: str) -> tuple[Traffic, ...]:
    """Every generator, in file order. Collective jobs default to ``job0``, ``job1``, … counted
    over collective generators only."""
    out: list[Traffic] = []
    n_jobs = 0
    every_key = sorted(set(_COMMON).union(*_KEYS.values()))
    for t in tables:
        if not t.has("kind"):
            # A misspelt "kind" is better reported as such than as a missing key.
            t.check_keys(every_key)
        kind = t.choice("kind", tuple(_KEYS))
        t.check_keys(_COMMON + _KEYS[kind], f'for traffic kind "{kind}"')
        common: dict[str, Any] = dict(tag=t.string("tag", kind), start_ps=t.time_ps("start", "0s"))
        if kind == "flow":
            out.append(_flow(t, common))
        elif kind == "incast":
            out.append(_incast(t, common))
        elif kind == "permutation":
            out.append(PermutationTraffic(
                **common,
                pattern=t.choice("pattern", ("random", "shift"), "random"),
                size_bytes=t.size_bytes("size", allow_zero=False),
            ))  # fmt: skip
        elif kind == "poisson":
            out.append(_poisson(t, common, base_dir))
        else:
            out.append(_collective(t, common, f"job{n_jobs}"))
            n_jobs += 1
    return tuple(out)


def _flow(t: Table, common: dict[str, Any]) -> FlowTraffic:
    if not t.has("flows"):
        return FlowTraffic(**common, flows=(_flow_spec(t, common["start_ps"]),), listed=False)
    single = [key for key in ("src", "dst", "size") if t.has(key)]
    if single:
        raise t.error(single[0], "give either src/dst/size or flows = [...], not both")
    items = t.tables("flows")
    if not items:
        raise t.error("flows", "flows must list at least one flow")
    for item in items:
        item.check_keys(_FLOW_ITEM_KEYS)
    # A listed flow without its own start starts with the generator.
    specs = tuple(_flow_spec(item, common["start_ps"]) for item in items)
    return FlowTraffic(**common, flows=specs, listed=True)


def _flow_spec(t: Table, default_start_ps: int) -> FlowSpec:
    src = t.host("src")
    dst = t.host("dst")
    if src == dst:
        raise t.error("dst", f"dst must differ from src (both are h{src})")
    return FlowSpec(
        src=src,
        dst=dst,
        size_bytes=t.size_bytes("size", allow_zero=False),
        start_ps=t.time_ps("start", default_start_ps),
    )


def _incast(t: Table, common: dict[str, Any]) -> IncastTraffic:
    receiver = t.host("receiver")
    if not t.has("senders"):
        raise t.error("senders", "missing required key")
    senders = t.data["senders"]
    if isinstance(senders, list):
        senders = t.host_list("senders", min_len=1)
        if receiver in senders:
            where = f"senders[{senders.index(receiver)}]"
            raise t.error(where, f"the receiver h{receiver} cannot also be a sender")
    elif isinstance(senders, int) and not isinstance(senders, bool):
        senders = t.integer("senders", minimum=1)
    else:
        raise t.error("senders", f"expected a count or an array of hosts, got {describe(senders)}")
    return IncastTraffic(
        **common,
        receiver=receiver,
        senders=senders,
        size_bytes=t.size_bytes("size", allow_zero=False),
    )


def _poisson(t: Table, common: dict[str, Any], base_dir: str) -> PoissonTraffic:
    sizes = t.string("sizes")
    if sizes not in BUILTIN_SIZE_CDFS:
        path = resolve_path(base_dir, sizes)
        # A near miss of a built-in name that is not a file is a typo, not a CDF path.
        hint = did_you_mean(sizes, BUILTIN_SIZE_CDFS)
        if hint and not os.path.exists(path):
            raise t.error("sizes", f"unknown size distribution {describe(sizes)}{hint}")
        sizes = path
    return PoissonTraffic(
        **common,
        load=t.number("load", low=0.0, high=1.0, low_open=True),
        sizes=sizes,
        duration_ps=t.time_ps("duration", allow_zero=False),
        hosts=_host_selection(t, "hosts"),
    )


def _collective(t: Table, common: dict[str, Any], default_job: str) -> CollectiveTraffic:
    op = t.choice("op", tuple(COLLECTIVE_ALGORITHMS))
    supported = COLLECTIVE_ALGORITHMS[op]
    algorithm = t.string("algorithm", supported[0])
    if algorithm not in supported:
        listing = f" (supported for {op}: {', '.join(supported)})"
        if algorithm in _ALL_ALGORITHMS:
            message = f'algorithm "{algorithm}" is not supported for op "{op}"{listing}'
            raise t.error("algorithm", message)
        hint = did_you_mean(algorithm, supported) or listing
        raise t.error("algorithm", f'unknown algorithm {describe(algorithm)} for op "{op}"{hint}')
    ranks = _host_selection(t, "ranks")
    if isinstance(ranks, tuple) and t.has("placement"):
        message = 'placement applies only to ranks = "all" or a count (a list of ranks is already placed)'
        raise t.error("placement", message)
    n_ranks = len(ranks) if isinstance(ranks, tuple) else ranks if isinstance(ranks, int) else None
    if algorithm == "halving_doubling" and n_ranks is not None and n_ranks & (n_ranks - 1):
        raise t.error("ranks", f"halving_doubling needs a power-of-two number of ranks, got {n_ranks}")
    if t.has("root") and op != "broadcast":
        raise t.error("root", f'root applies only to op = "broadcast", not "{op}"')
    root = t.integer("root", 0, minimum=0)
    if n_ranks is not None and root >= n_ranks:
        raise t.error("root", f"root is a rank index: it must be < {n_ranks} (the rank count), got {root}")
    return CollectiveTraffic(
        **common,
        op=op,
        algorithm=algorithm,
        size_bytes=t.size_bytes("size", allow_zero=False),
        ranks=ranks,
        placement=t.choice("placement", ("packed", "random", "strided"), "packed"),
        channels=t.integer("channels", 1, minimum=1),
        iterations=t.integer("iterations", 1, minimum=1),
        compute_ps=t.time_ps("compute", "0s"),
        gap_ps=t.time_ps("gap", "0s"),
        root=root,
        job=t.string("job", default_job),
    )


def _host_selection(t: Table, key: str) -> HostSelection:
    """``"all"`` (the default), a count ≥ 2, or a list of ≥ 2 distinct host references."""
    value = t.data.get(key, "all")
    if value == "all":
        return "all"
    if isinstance(value, list):
        return t.host_list(key, min_len=2)
    if isinstance(value, int) and not isinstance(value, bool):
        return t.integer(key, minimum=2)
    raise t.error(key, f'expected "all", a count or an array of hosts, got {describe(value)}')
