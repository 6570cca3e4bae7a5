"""Per-packet load balancing in the flow engine (``routing.ecmp`` = ``packet``, ``spray``,
``reps`` or ``adaptive``; docs/engines.md, "Load balancing").

A fluid flow has no packets to spread, so a sprayed fabric transfer is split into *sub-flows*,
one per equal-cost path between its hosts, each carrying an equal share of its bytes and of its
wire bytes (``fabsim.run.qps.split``: the fluid limit of a sprayer dealing packets over the
paths in turn; whole packets dealt out would leave some paths a packet more than others) and
folded back to one row per transfer afterwards
(``fabsim.run.qps.fold``). A transfer has ``min(P, routing.entropies, its packets)`` sub-flows,
P being its equal-cost paths: a sender spraying over E entropy values reaches at most E paths,
and a packet takes one path.

Paths are given, not hashed: a hash could put two sub-flows of one transfer on one path and
leave another path idle. The P paths of a pair are numbered lexicographically, first hop most
significant (``Routing.nth_paths``), and sub-flow ``q`` of ``n`` takes path
``(⌊q·P/n⌋ + key) mod P``: with n = P every path once; with fewer, numbers spread evenly over
[0, P), which spreads the sub-flows evenly over the first hop's candidates, and within each
over the next hop's, and so on. On a fat-tree or a leaf-spine every link of a tier that a
transfer can use then carries the same share of it, to within one sub-flow. (Taking candidate
``q mod |group|`` at every hop instead would send sub-flows q and q + |group| down the same
path on a fat-tree, whose groups all have k/2 candidates.) ``key``, a hash of the transfer's
identity and the run's seed, rotates the numbering so that transfers with fewer sub-flows than
paths do not all start on path 0.

After a failure, routing's convergence gives every sub-flow still sending its share of the
surviving equal-cost paths, by the same rule over their new count.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..native.codes import KIND_FABRIC
from ..native.ecmp import flow_hashes
from ..topology.fabric import TopologyError
from . import qps
from .paths import hash_ids
from .record import wire_bytes
from .tasks import engine_kinds

#: ``routing.ecmp`` modes the flow engine models by spreading a transfer over its paths.
#: ``flowlet`` is not one of them: a flowlet switch moves a flow only after a pause longer than
#: ``flowlet_gap``, and a fluid flow sends without pauses, so it keeps its hashed path.
SPRAYED = ("packet", "spray", "reps", "adaptive")


@dataclasses.dataclass(frozen=True, eq=False)
class Spread:
    """Sub-flow ``sub[u]`` of ``ways[u]`` of its transfer, rotated by ``key[u]``: which
    equal-cost path each sub-flow takes (module docstring)."""

    sub: np.ndarray  # int64[S]
    ways: np.ndarray  # int64[S]
    key: np.ndarray  # uint64[S]
    wire: np.ndarray  # int64[S] wire bytes: the transfer's, shared out evenly

    def paths(self, routing, flows, rows) -> tuple[np.ndarray, np.ndarray]:
        """CSR paths of the sub-flows ``rows`` of ``flows`` over ``routing``'s tables."""
        src, dst = flows.src[rows], flows.dst[rows]
        counted = routing.count_paths_many(src, dst)
        count = counted[0]
        if (count == 0).any():
            bad = int(np.asarray(rows)[np.flatnonzero(count == 0)[0]])
            raise TopologyError(f"flow {bad}: h{flows.dst[bad]} is unreachable from h{flows.src[bad]}")
        offset = (self.key[rows] % count.astype(np.uint64)).astype(np.int64)
        index = (self.sub[rows] * count // self.ways[rows] + offset) % count
        return routing.nth_paths(src, dst, index, counted)


def split(model, flows) -> tuple[qps.Split, Spread]:
    """The sub-flows of ``flows`` (one per equal-cost path of each fabric transfer, at most
    ``routing.entropies``) and the paths they take."""
    sc = model.scenario
    fabric = np.flatnonzero(engine_kinds(model, flows) == KIND_FABRIC)
    ways = np.ones(len(flows), np.int64)
    if fabric.size:
        paths = model.routing.count_paths_many(flows.src[fabric], flows.dst[fabric])[0]
        ways[fabric] = np.minimum(np.maximum(paths, 1), sc.routing.entropies)
    # one channel for all: the sub-flows' paths do not depend on it
    s = qps.split(model, flows, ways, channel_stride=0, by_bytes=True)
    key = flow_hashes(np.int64(sc.run.seed), flows.src.astype(np.int64), flows.dst.astype(np.int64),
                      hash_ids(flows), flows.channel.astype(np.int64))[0]
    sub = np.arange(len(s.parent), dtype=np.int64) - s.first[s.parent]
    n = s.n_sub[s.parent]
    wire = qps.even_share(wire_bytes(flows.size_bytes, sc.host.mtu_bytes, sc.host.header_bytes)[s.parent], n, sub)
    return s, Spread(sub=sub, ways=n, key=key[s.parent], wire=wire)


def with_spraying(run, flows):
    """The flow engine ``run`` over the sprayed sub-flows of ``flows``, folded back to one row
    per task."""
    from .flow import flow_ideal_fct

    def run_sprayed(model, _flows, progress=None):
        s, spread = split(model, flows)
        return qps.fold(model, flows, s, run(model, s.flows, progress, spread=spread), flow_ideal_fct)

    return run_sprayed
