"""Fabric topologies (structure-of-arrays) and their ECMP routing tables."""

from __future__ import annotations

from .builders import fat_tree, leaf_spine, rail_optimized, star
from .fabric import Fabric, TopologyError
from .from_file import from_file
from .routing import Routing

__all__ = [
    "Fabric", "Routing", "TopologyError", "build_fabric",
    "fat_tree", "leaf_spine", "rail_optimized", "star", "from_file",
]


def build_fabric(topology) -> Fabric:
    """The fabric described by a scenario's ``[topology]`` section."""
    t = topology
    if t.kind == "fat_tree":
        return fat_tree(t.k, t.host_rate_bps, t.fabric_rate_bps, t.link_delay_ps)
    if t.kind == "leaf_spine":
        return leaf_spine(
            t.leaves, t.spines, t.hosts_per_leaf, t.links_per_pair,
            t.host_rate_bps, t.fabric_rate_bps, t.link_delay_ps,
        )
    if t.kind == "star":
        return star(t.hosts, t.host_rate_bps, t.link_delay_ps)
    if t.kind == "rail_optimized":
        return rail_optimized(
            t.servers, t.nics_per_server, t.servers_per_leaf, t.spines,
            t.host_rate_bps, t.fabric_rate_bps, t.link_delay_ps,
        )
    if t.kind == "file":
        return from_file(t.path, t.host_rate_bps, t.fabric_rate_bps, t.link_delay_ps, shown_as=t.path_as_given)
    raise TopologyError(f'unknown topology kind "{t.kind}"', "topology.kind")
