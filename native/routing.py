"""ECMP routing tables: hop distances to edge switches and per-switch next-hop groups.

A destination host hangs off one edge switch, so a switch's choices toward a host depend only on
that edge switch. The tables are

- ``dist[s, e]`` (int8): switch hops from switch ``s`` to edge switch ``e`` over live links;
- ``group[s, e]`` (int32): the next-hop group ``s`` uses toward ``e`` — an index into
  ``group_ptr``/``group_port`` (CSR lists of candidate egress ports = directed link ids), or
  ``ROUTE_LOCAL`` / ``ROUTE_UNREACHABLE``.

Identical candidate sets of one switch share a group, so a k = 64 fat-tree needs about 33 groups
per switch instead of one list per (switch, destination) pair. Switch ``s`` is node
``n_hosts + s``; hosts are nodes ``0 … n_hosts − 1``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import DIST_UNREACHABLE, ROUTE_LOCAL, ROUTE_UNREACHABLE
from .ecmp import ecmp_hash
from .jit import hot, kernel


@kernel
def edge_distances(n_hosts, port_start, link_dst, link_up, edge_nodes):
    """Breadth-first hop counts from every switch to every edge switch over live links.

    ``link_up`` must be symmetric (a link and its reverse are up or down together), so the
    distance from ``e`` to ``s`` equals the distance from ``s`` to ``e``. Returns
    ``(dist, ok)`` with ``dist`` shaped (switches, edges); ``ok`` is False when a distance
    does not fit in int8 (a fabric more than 126 switch hops across).
    """
    n_sw = port_start.shape[0] - 1 - n_hosts
    n_e = edge_nodes.shape[0]
    dist_t = np.full((n_e, n_sw), DIST_UNREACHABLE, np.int8)
    queue = np.empty(n_sw, np.int32)
    ok = True
    for ei in range(n_e):
        row = dist_t[ei]
        root = edge_nodes[ei] - n_hosts
        row[root] = 0
        queue[0] = root
        head = 0
        tail = 1
        while head < tail:
            u = queue[head]
            head += 1
            du = row[u]
            if du + 1 >= DIST_UNREACHABLE:
                ok = False
                continue
            node = u + n_hosts
            for link in range(port_start[node], port_start[node + 1]):
                if not link_up[link]:
                    continue
                v = link_dst[link] - n_hosts
                if v >= 0 and row[v] == DIST_UNREACHABLE:
                    row[v] = du + 1
                    queue[tail] = v
                    tail += 1
    return np.ascontiguousarray(dist_t.T), ok


@kernel
def next_hop_groups(n_hosts, port_start, link_dst, link_up, edge_nodes, dist):
    """Deduplicated candidate-port groups of every switch toward every edge switch.

    A candidate of switch ``s`` toward edge ``e`` is a live egress port whose far end is a
    switch one hop closer to ``e``. Returns ``(group, group_ptr, group_port)``.
    """
    n_sw, n_e = dist.shape
    group = np.empty((n_sw, n_e), np.int32)
    max_degree = 1
    for s in range(n_sw):
        deg = port_start[n_hosts + s + 1] - port_start[n_hosts + s]
        max_degree = max(max_degree, deg)
    scratch = np.empty(max_degree, np.int32)

    table_size = 1
    while table_size < 2 * n_e:
        table_size *= 2
    mask = np.uint64(table_size - 1)
    table = np.full(table_size, -1, np.int32)

    group_ptr = np.zeros(n_sw * 4 + 1, np.int64)
    group_port = np.empty(n_sw * 4 * max_degree, np.int32)
    n_groups = 0
    n_ports = 0

    for s in range(n_sw):
        table[:] = -1
        node = n_hosts + s
        p0 = port_start[node]
        p1 = port_start[node + 1]
        for e in range(n_e):
            d = dist[s, e]
            if edge_nodes[e] == node:
                group[s, e] = ROUTE_LOCAL
                continue
            if d == DIST_UNREACHABLE:
                group[s, e] = ROUTE_UNREACHABLE
                continue
            c = 0
            h = np.uint64(0xCBF29CE484222325)
            for link in range(p0, p1):
                if not link_up[link]:
                    continue
                v = link_dst[link] - n_hosts
                if v >= 0 and dist[v, e] == d - 1:
                    scratch[c] = link
                    c += 1
                    h = (h ^ np.uint64(link)) * np.uint64(0x100000001B3)
            # Open addressing over this switch's groups; equal hashes are compared port by port.
            slot = h & mask
            found = -1
            while table[slot] >= 0:
                g = table[slot]
                a = group_ptr[g]
                if group_ptr[g + 1] - a == c:
                    same = True
                    for i in range(c):
                        if group_port[a + i] != scratch[i]:
                            same = False
                            break
                    if same:
                        found = g
                        break
                slot = (slot + np.uint64(1)) & mask
            if found < 0:
                if n_groups + 2 > group_ptr.shape[0]:
                    grown = np.zeros(group_ptr.shape[0] * 2, np.int64)
                    grown[: n_groups + 1] = group_ptr[: n_groups + 1]
                    group_ptr = grown
                if n_ports + c > group_port.shape[0]:
                    grown_ports = np.empty(group_port.shape[0] * 2 + c, np.int32)
                    grown_ports[:n_ports] = group_port[:n_ports]
                    group_port = grown_ports
                group_port[n_ports : n_ports + c] = scratch[:c]
                n_ports += c
                found = n_groups
                n_groups += 1
                group_ptr[n_groups] = n_ports
                table[slot] = found
            group[s, e] = found
    return group, group_ptr[: n_groups + 1].copy(), group_port[:n_ports].copy()


class RoutingTables(NamedTuple):
    """What a switch consults to forward a packet, as one argument of the kernels: the fabric's
    wiring, the live tables and the failure-free ones (for resilient selection)."""

    link_dst: np.ndarray  # int32[L] node each directed link leads to
    link_up: np.ndarray  # bool[L]
    host_uplink: np.ndarray  # int32[H]
    host_downlink: np.ndarray  # int32[H]
    host_edge: np.ndarray  # int32[H] edge-table column of each host's switch
    dist: np.ndarray  # int8[S, E] live hop distances
    group: np.ndarray  # int32[S, E] live next-hop groups
    group_ptr: np.ndarray  # int64[G + 1]
    group_port: np.ndarray  # int32[C]
    base_group: np.ndarray  # the same three, failure-free
    base_ptr: np.ndarray
    base_port: np.ndarray


@hot
def pick_port(node, e, n_hosts, rt, h):
    """Egress link of switch ``node`` toward edge column ``e`` for a flow with hash ``h``.

    Resilient selection: the flow first takes its pick from the failure-free group
    (``base_*``); only if that link is down or no longer on a shortest path does it re-hash
    over the live group. So a failure moves only the flows that crossed the failed element.
    Returns −1 if no live path exists. ``ROUTE_LOCAL`` is the caller's to handle.
    """
    s = node - n_hosts
    d = rt.dist[s, e]
    if d == DIST_UNREACHABLE:
        return -1
    g = rt.base_group[s, e]
    if g >= 0:
        a = rt.base_ptr[g]
        link = rt.base_port[a + np.int64(h % np.uint64(rt.base_ptr[g + 1] - a))]
        v = rt.link_dst[link] - n_hosts
        if rt.link_up[link] and v >= 0 and rt.dist[v, e] == d - 1:
            return link
    g = rt.group[s, e]
    if g < 0:
        return -1
    a = rt.group_ptr[g]
    return rt.group_port[a + np.int64(h % np.uint64(rt.group_ptr[g + 1] - a))]


@kernel
def trace_path(n_hosts, rt, seed, src, dst, flow_id, channel, out):
    """Write the directed links a flow's packets take from host ``src`` to host ``dst``.

    ``host_edge[h]`` is the edge-table column of host ``h``'s switch; switches choose with
    ``pick_port``. Returns the hop count, or −1 if ``dst`` is unreachable.
    """
    e = rt.host_edge[dst]
    link = rt.host_uplink[src]
    if not rt.link_up[link]:
        return -1
    out[0] = link
    hops = 1
    node = rt.link_dst[link]
    while node != dst:
        if rt.group[node - n_hosts, e] == ROUTE_LOCAL:
            link = rt.host_downlink[dst]
            if not rt.link_up[link]:
                return -1
        else:
            h = ecmp_hash(seed, src, dst, flow_id, channel, node)
            link = pick_port(node, e, n_hosts, rt, h)
            if link < 0:
                return -1
        out[hops] = link
        hops += 1
        node = rt.link_dst[link]
    return hops


@kernel
def trace_paths(n_hosts, rt, seed, src, dst, hash_id, channel, path_ptr, path_link):
    """``trace_path`` for many flows into CSR arrays sized by the caller from ``dist``.

    Returns the index of the first flow whose destination is unreachable, or −1.
    """
    for f in range(src.shape[0]):
        a = path_ptr[f]
        hops = trace_path(n_hosts, rt, seed, src[f], dst[f], hash_id[f], channel[f], path_link[a : path_ptr[f + 1]])
        if hops != path_ptr[f + 1] - a:
            return f
    return -1
