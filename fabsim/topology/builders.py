"""Built-in fabrics, each built with NumPy (no Python loop over links).

Node ids: hosts first, then switches role by role, so ``tor<i>`` is node ``n_hosts + i``, and so
on. Cable order is deterministic, which fixes port numbering and therefore ECMP choices.
"""

from __future__ import annotations

import numpy as np

from fabsim.native import codes

from .fabric import Fabric, TopologyError


def _nodes(n_hosts: int, *switch_groups: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Role and role-index arrays for hosts followed by ``(role, count)`` switch groups."""
    roles = [np.full(n_hosts, codes.ROLE_HOST, np.int8)]
    index = [np.arange(n_hosts, dtype=np.int32)]
    for role, count in switch_groups:
        roles.append(np.full(count, role, np.int8))
        index.append(np.arange(count, dtype=np.int32))
    return np.concatenate(roles), np.concatenate(index)


def _cables(pairs: list[tuple[np.ndarray, np.ndarray, int]], delay_ps: int):
    """Concatenate ``(a, b, rate_bps)`` cable groups into flat arrays."""
    a = np.concatenate([p[0] for p in pairs]).astype(np.int32)
    b = np.concatenate([p[1] for p in pairs]).astype(np.int32)
    rate = np.concatenate([np.full(p[0].shape[0], p[2], np.int64) for p in pairs])
    delay = np.full(a.shape[0], delay_ps, np.int64)
    return a, b, rate, delay


def fat_tree(k: int, host_rate_bps: int, fabric_rate_bps: int, link_delay_ps: int) -> Fabric:
    """k-ary fat-tree (Al-Fares, Loukissas and Vahdat, SIGCOMM 2008 §3).

    k pods, each with k/2 ToR (edge) and k/2 aggregation switches; (k/2)² core switches;
    k/2 hosts per ToR: k³/4 hosts, 5k²/4 switches, 3k³/4 cables. Aggregation switch j of every
    pod connects to cores j·k/2 … (j+1)·k/2 − 1.
    """
    if k < 2 or k % 2:
        raise TopologyError(f"k must be an even integer ≥ 2, got {k}", "topology.k")
    half = k // 2
    n_hosts = k**3 // 4
    n_tor = n_agg = k * half
    n_core = half * half
    role, index = _nodes(
        n_hosts, (codes.ROLE_TOR, n_tor), (codes.ROLE_AGG, n_agg), (codes.ROLE_CORE, n_core)
    )
    tor0, agg0, core0 = n_hosts, n_hosts + n_tor, n_hosts + n_tor + n_agg

    hosts = np.arange(n_hosts)
    tors = np.arange(n_tor)
    tor_pod = tors // half
    aggs = np.arange(n_agg)
    agg_pos = aggs % half
    j = np.arange(half)
    a, b, rate, delay = _cables(
        [
            (hosts, tor0 + hosts // half, host_rate_bps),
            # every ToR to every aggregation switch of its pod
            (np.repeat(tor0 + tors, half), agg0 + (tor_pod[:, None] * half + j).ravel(), fabric_rate_bps),
            # aggregation switch at position p of a pod to cores p·k/2 + j
            (np.repeat(agg0 + aggs, half), core0 + (agg_pos[:, None] * half + j).ravel(), fabric_rate_bps),
        ],
        link_delay_ps,
    )
    return Fabric.from_cables("fat_tree", n_hosts, role, index, a, b, rate, delay)


def leaf_spine(
    leaves: int,
    spines: int,
    hosts_per_leaf: int,
    links_per_pair: int,
    host_rate_bps: int,
    fabric_rate_bps: int,
    link_delay_ps: int,
) -> Fabric:
    """Two-tier Clos: every leaf joins every spine with ``links_per_pair`` parallel cables.

    Oversubscription = (hosts_per_leaf · host_rate) / (spines · links_per_pair · fabric_rate).
    """
    n_hosts = leaves * hosts_per_leaf
    role, index = _nodes(n_hosts, (codes.ROLE_LEAF, leaves), (codes.ROLE_SPINE, spines))
    leaf0, spine0 = n_hosts, n_hosts + leaves
    hosts = np.arange(n_hosts)
    # leaf-major, then spine, then parallel cable
    pair_leaf = np.repeat(np.arange(leaves), spines * links_per_pair)
    pair_spine = np.tile(np.repeat(np.arange(spines), links_per_pair), leaves)
    a, b, rate, delay = _cables(
        [
            (hosts, leaf0 + hosts // hosts_per_leaf, host_rate_bps),
            (leaf0 + pair_leaf, spine0 + pair_spine, fabric_rate_bps),
        ],
        link_delay_ps,
    )
    return Fabric.from_cables("leaf_spine", n_hosts, role, index, a, b, rate, delay)


def star(hosts: int, host_rate_bps: int, link_delay_ps: int) -> Fabric:
    """Every host on one switch ``sw0``: the "one big switch" ideal fabric."""
    role, index = _nodes(hosts, (codes.ROLE_SWITCH, 1))
    h = np.arange(hosts)
    a, b, rate, delay = _cables([(h, np.full(hosts, hosts), host_rate_bps)], link_delay_ps)
    return Fabric.from_cables("star", hosts, role, index, a, b, rate, delay)


def rail_optimized(
    servers: int,
    nics_per_server: int,
    servers_per_leaf: int,
    spines: int,
    host_rate_bps: int,
    fabric_rate_bps: int,
    link_delay_ps: int,
) -> Fabric:
    """Rail-optimised fabric (as in NVIDIA's DGX SuperPOD reference designs).

    Each server has ``nics_per_server`` NICs; NIC j of a server is rail j. Servers are grouped
    ``servers_per_leaf`` at a time; group g has one leaf per rail, ``leaf(g·R + j)``, joining
    NIC j of each server in the group. Every spine joins every leaf with one cable. Host index
    = server · R + nic, so a server's GPUs are consecutive ranks. Traffic between two NICs of
    the same rail and group stays on one leaf; across rails it crosses a spine (intra-server
    NVLink is not modelled). See docs/topologies.md for a drawing.
    """
    if servers % servers_per_leaf:
        raise TopologyError(
            f"servers ({servers}) must be a multiple of servers_per_leaf ({servers_per_leaf})",
            "topology.servers_per_leaf",
        )
    rails = nics_per_server
    groups = servers // servers_per_leaf
    n_hosts = servers * rails
    n_leaves = groups * rails
    role, index = _nodes(n_hosts, (codes.ROLE_LEAF, n_leaves), (codes.ROLE_SPINE, spines))
    leaf0, spine0 = n_hosts, n_hosts + n_leaves
    hosts = np.arange(n_hosts)
    server = hosts // rails
    nic = hosts % rails
    host_leaf = (server // servers_per_leaf) * rails + nic
    a, b, rate, delay = _cables(
        [
            (hosts, leaf0 + host_leaf, host_rate_bps),
            (np.repeat(leaf0 + np.arange(n_leaves), spines), spine0 + np.tile(np.arange(spines), n_leaves), fabric_rate_bps),
        ],
        link_delay_ps,
    )
    return Fabric.from_cables("rail_optimized", n_hosts, role, index, a, b, rate, delay)
