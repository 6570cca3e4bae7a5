"""Fixed traffic patterns: explicit flows, incast and permutations (DESIGN §4).

Every flow here is independent: no dependencies, gap 0, channel 0, and job / collective /
iteration / step −1.
"""

from __future__ import annotations

import numpy as np

from fabsim.errors import ScenarioError
from fabsim.scenario.schema import FlowTraffic, IncastTraffic, PermutationTraffic
from fabsim.topology import Fabric
from fabsim.traffic.block import FlowBlock, independent_flows


def flow_block(gen: FlowTraffic) -> FlowBlock:
    """One flow per :class:`FlowSpec`, in the order written."""
    specs = gen.flows
    return independent_flows(
        src=[f.src for f in specs],
        dst=[f.dst for f in specs],
        size_bytes=[f.size_bytes for f in specs],
        start_ps=[f.start_ps for f in specs],
    )


def incast_block(gen: IncastTraffic, fabric: Fabric, rng: np.random.Generator) -> FlowBlock:
    """One flow of ``size_bytes`` from every sender to the receiver, all at ``start_ps``.

    A sender count n picks n distinct hosts other than the receiver, uniformly at random
    without replacement (the generator's seeded stream); flows are emitted in increasing
    sender index. A sender list is used as written, in list order.
    """
    if isinstance(gen.senders, int):
        others = np.delete(np.arange(fabric.n_hosts), gen.receiver)
        senders = np.sort(rng.choice(others, size=gen.senders, replace=False))
    else:
        senders = np.asarray(gen.senders, np.int64)
    return independent_flows(
        src=senders,
        dst=np.full(senders.shape[0], gen.receiver),
        size_bytes=np.full(senders.shape[0], gen.size_bytes),
        start_ps=gen.start_ps,
    )


def permutation_block(
    gen: PermutationTraffic, fabric: Fabric, rng: np.random.Generator, where: str
) -> FlowBlock:
    """One flow of ``size_bytes`` from every host h (in host order) to ``target[h]``.

    ``random`` draws a uniformly random derangement; ``shift`` follows :func:`shift_targets`.
    """
    n = fabric.n_hosts
    if n < 2:
        raise ScenarioError(f"a permutation needs at least 2 hosts, but the fabric has {n}", path=where)
    target = random_derangement(n, rng) if gen.pattern == "random" else shift_targets(fabric)
    return independent_flows(
        src=np.arange(n), dst=target, size_bytes=np.full(n, gen.size_bytes), start_ps=gen.start_ps
    )


def random_derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``range(n)`` with no fixed point, uniform over all derangements (n ≥ 2).

    Rejection sampling: draw uniform permutations until one has no fixed point. A permutation
    is a derangement with probability ≈ 1/e, so about e draws are needed, each O(n).
    """
    identity = np.arange(n)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == identity):
            return perm


def shift_targets(fabric: Fabric) -> np.ndarray:
    """Host i of edge switch ℓ → host i of edge switch ℓ + 1 (mod the number of edge switches).

    Edge switches are taken in node order and a switch's hosts in host order. If the next
    switch has fewer hosts than i + 1, the target wraps modulo its host count (so a host may
    then receive more than one flow). With a single edge switch (a star) every host h sends
    to h + 1 mod n instead.
    """
    n = fabric.n_hosts
    switches, group, counts = np.unique(fabric.host_switch, return_inverse=True, return_counts=True)
    if switches.shape[0] == 1:
        return (np.arange(n) + 1) % n
    # Hosts sorted by (switch, host index); ``first[g]`` is where switch g's hosts begin.
    by_switch = np.argsort(group, kind="stable")
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.empty(n, np.int64)
    position[by_switch] = np.arange(n) - np.repeat(first, counts)
    nxt = (group + 1) % switches.shape[0]
    return by_switch[first[nxt] + position % counts[nxt]]
