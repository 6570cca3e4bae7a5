"""Open-loop Poisson background traffic between uniform random host pairs (DESIGN §4).

Every selected host is an independent Poisson source of rate
λ = load · host_rate_bps / (8 · mean_size_bytes) flows per second, where host_rate is the rate
of the host's uplink and the mean is that of the size CDF (:func:`cdf_mean_bytes`), so each
host offers ``load`` of its line rate on average. This is the workload generator of the DCTCP,
pFabric and HPCC evaluations.
"""

from __future__ import annotations

import numpy as np

from fabsim.errors import ScenarioError
from fabsim.scenario.schema import HostSelection, PoissonTraffic
from fabsim.topology import Fabric
from fabsim.traffic.block import FlowBlock, independent_flows
from fabsim.traffic.cdf import cdf_mean_bytes, load_cdf, sample_sizes
from fabsim.units import ps_to_s

BITS_PER_BYTE = 8


def poisson_block(gen: PoissonTraffic, fabric: Fabric, rng: np.random.Generator, where: str) -> FlowBlock:
    """Poisson arrivals of every selected host in [start, start + duration), in time order.

    For a Poisson process, the number of arrivals in the window is Poisson(λ·duration) and,
    given that number, the arrival times are independent and uniform in the window; both are
    drawn per host, vectorised. Times are whole picoseconds. Each flow's destination is uniform
    among the other selected hosts, and its size is drawn from the CDF (:func:`sample_sizes`).
    Flows are emitted by arrival time (ties by source host).
    """
    try:
        cdf = load_cdf(gen.sizes)
    except ScenarioError as exc:
        raise ScenarioError(exc.message, path=f"{where}.sizes") from None
    hosts = selected_hosts(gen.hosts, fabric.n_hosts)
    if hosts.shape[0] < 2:
        message = f"poisson traffic needs at least 2 hosts, but the fabric has {fabric.n_hosts}"
        raise ScenarioError(message, path=f"{where}.hosts")
    rate_bps = fabric.link_rate_bps[fabric.host_uplink[hosts]]
    arrivals_per_s = gen.load * rate_bps / (BITS_PER_BYTE * cdf_mean_bytes(cdf))
    counts = rng.poisson(arrivals_per_s * ps_to_s(gen.duration_ps))

    source = np.repeat(np.arange(hosts.shape[0]), counts)  # index into ``hosts``
    offset_ps = np.floor(rng.random(source.shape[0]) * gen.duration_ps).astype(np.int64)
    # Destination: uniform over the other selected hosts (skip the source's own slot).
    dest = rng.integers(0, hosts.shape[0] - 1, size=source.shape[0])
    dest += dest >= source
    size_bytes = sample_sizes(cdf, rng.random(source.shape[0]))

    order = np.lexsort((source, offset_ps))
    return independent_flows(
        src=hosts[source[order]],
        dst=hosts[dest[order]],
        size_bytes=size_bytes[order],
        start_ps=gen.start_ps + offset_ps[order],
    )


def selected_hosts(selection: HostSelection, n_hosts: int) -> np.ndarray:
    """Host indices of a poisson ``hosts`` selection: all hosts, the first n, or a list."""
    if selection == "all":
        return np.arange(n_hosts)
    if isinstance(selection, int):
        return np.arange(selection)
    return np.asarray(selection, np.int64)
