"""ECMP routing tables over a fabric, rebuilt when links go down or come back.

The tables themselves are built by kernels in ``native/routing.py``; this module owns the
Python-facing object: which links are up, path tracing and equal-cost path counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fabsim.native import codes
from fabsim.native.routing import RoutingTables, edge_distances, next_hop_groups, trace_path, trace_paths

from .fabric import Fabric, TopologyError


@dataclass(frozen=True, eq=False)
class Routing:
    """Routing tables of ``fabric`` for one set of live links.

    ``edge_nodes`` lists the switches that have hosts (the table columns); ``host_edge[h]`` is the
    column of host ``h``'s switch; ``dist``, ``group``, ``group_ptr``, ``group_port`` are described
    in ``fabsim.native.routing``. ``link_up`` is per directed link (symmetric).
    """

    fabric: Fabric
    link_up: np.ndarray
    edge_nodes: np.ndarray
    host_edge: np.ndarray
    dist: np.ndarray
    group: np.ndarray
    group_ptr: np.ndarray
    group_port: np.ndarray
    base: "Routing | None" = None

    @classmethod
    def build(cls, fabric: Fabric, link_up: np.ndarray | None = None, base: "Routing | None" = None) -> "Routing":
        """Tables for ``fabric`` with only the links where ``link_up`` is true (default: all).

        A cable carries traffic only if both of its directions are up, so a link marked down
        takes its reverse direction down with it. ``base`` is the failure-free routing that
        resilient selection picks from first (default: these tables themselves).
        """
        if link_up is None:
            up = np.ones(fabric.n_links, np.bool_)
        else:
            up = np.asarray(link_up, np.bool_)
            up = up & up[fabric.link_rev]
        edge_nodes = np.unique(fabric.host_switch).astype(np.int32)
        column = np.full(fabric.n_nodes, -1, np.int32)
        column[edge_nodes] = np.arange(edge_nodes.shape[0], dtype=np.int32)
        dist, ok = edge_distances(fabric.n_hosts, fabric.port_start, fabric.link_dst, up, edge_nodes)
        if not ok:
            raise TopologyError("the fabric is more than 126 switch hops across")
        group, group_ptr, group_port = next_hop_groups(
            fabric.n_hosts, fabric.port_start, fabric.link_dst, up, edge_nodes, dist
        )
        return cls(fabric, up, edge_nodes, column[fabric.host_switch], dist, group, group_ptr, group_port, base)

    @property
    def failure_free(self) -> "Routing":
        """The tables before any failure (resilient selection picks from these first)."""
        return self.base if self.base is not None else self

    def with_links_down(self, links) -> "Routing":
        """New tables with the given directed links (and their reverses) also down."""
        up = self.link_up.copy()
        links = np.asarray(links, np.int64)
        up[links] = False
        up[self.fabric.link_rev[links]] = False
        return Routing.build(self.fabric, up, self.failure_free)

    def with_links_up(self, links) -> "Routing":
        """New tables with the given directed links (and their reverses) restored."""
        up = self.link_up.copy()
        links = np.asarray(links, np.int64)
        up[links] = True
        up[self.fabric.link_rev[links]] = True
        return Routing.build(self.fabric, up, self.failure_free)

    # ---- queries --------------------------------------------------------------------------

    def tables(self) -> RoutingTables:
        """The tables as the kernels take them: these live tables, the failure-free ones for
        resilient selection, and the fabric's wiring."""
        f, b = self.fabric, self.failure_free
        return RoutingTables(
            link_dst=f.link_dst, link_up=self.link_up, host_uplink=f.host_uplink,
            host_downlink=f.host_downlink, host_edge=self.host_edge, dist=self.dist, group=self.group,
            group_ptr=self.group_ptr, group_port=self.group_port, base_group=b.group, base_ptr=b.group_ptr,
            base_port=b.group_port,
        )

    def candidates(self, switch: int, dst_host: int) -> np.ndarray:
        """Candidate egress links of node ``switch`` toward host ``dst_host`` (empty if none)."""
        f = self.fabric
        g = int(self.group[switch - f.n_hosts, self.host_edge[dst_host]])
        if g == codes.ROUTE_LOCAL:
            return np.array([f.host_downlink[dst_host]], np.int32)
        if g == codes.ROUTE_UNREACHABLE:
            return np.empty(0, np.int32)
        return self.group_port[self.group_ptr[g] : self.group_ptr[g + 1]]

    def hop_count(self, src_host: int, dst_host: int) -> int:
        """Links on a shortest path between two hosts (−1 if unreachable)."""
        f = self.fabric
        d = int(self.dist[f.host_switch[src_host] - f.n_hosts, self.host_edge[dst_host]])
        return -1 if d == codes.DIST_UNREACHABLE else d + 2

    def path(self, src: int, dst: int, flow_id: int = 0, channel: int = 0, seed: int = 1) -> np.ndarray | None:
        """Directed links of the hashed path of one flow, or None if ``dst`` is unreachable."""
        f = self.fabric
        out = np.empty(f.n_switches + 2, np.int32)
        hops = trace_path(f.n_hosts, self.tables(), seed, src, dst, flow_id, channel, out)
        return None if hops < 0 else out[:hops].copy()

    def count_paths(self, src_host: int, dst_host: int) -> int:
        """Number of distinct equal-cost paths (sequences of directed links) between two hosts."""
        f = self.fabric
        memo: dict[int, int] = {}

        def from_node(node: int) -> int:
            if node == dst_host:
                return 1
            if node not in memo:
                memo[node] = sum(from_node(int(f.link_dst[l])) for l in self.candidates(node, dst_host))
            return memo[node]

        if src_host == dst_host:
            return 0
        return from_node(int(f.host_switch[src_host]))

    def paths(self, src, dst, hash_id, channel, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Hashed paths of many flows as CSR ``(path_ptr int64[F+1], path_link int32[P])``.

        Raises ``TopologyError`` naming the first flow whose destination is unreachable.
        """
        f = self.fabric
        src = np.asarray(src, np.int32)
        dst = np.asarray(dst, np.int32)
        d = self.dist[f.host_switch[src] - f.n_hosts, self.host_edge[dst]].astype(np.int64)
        if (d == codes.DIST_UNREACHABLE).any():
            bad = int(np.flatnonzero(d == codes.DIST_UNREACHABLE)[0])
            raise TopologyError(f"flow {bad}: h{dst[bad]} is unreachable from h{src[bad]}")
        path_ptr = np.zeros(src.shape[0] + 1, np.int64)
        np.cumsum(d + 2, out=path_ptr[1:])
        path_link = np.empty(int(path_ptr[-1]), np.int32)
        bad = trace_paths(
            f.n_hosts, self.tables(), seed, src, dst, np.asarray(hash_id, np.int64),
            np.asarray(channel, np.int64), path_ptr, path_link,
        )
        if bad >= 0:
            raise TopologyError(f"flow {bad}: no live path from h{src[bad]} to h{dst[bad]}")
        return path_ptr, path_link

    # ---- every equal-cost path (the flow engine's spraying: fabsim.run.spray) ---------------

    def path_counts(self, columns: np.ndarray) -> np.ndarray:
        """int64[switches, len(columns)]: the equal-cost paths over live links from every switch
        to edge column ``columns[j]`` (1 at the edge switch itself, 0 where it is unreachable):
        a switch's count is the sum of its next-hop group's counts, filled in by distance."""
        f = self.fabric
        columns = np.asarray(columns, np.int64)
        n_sw = f.n_switches
        dist = self.dist[:, columns].astype(np.int64)
        group = self.group[:, columns]
        count = np.zeros((n_sw, columns.size), np.int64)
        count[group == codes.ROUTE_LOCAL] = 1
        reach = dist[dist != codes.DIST_UNREACHABLE]
        for d in range(1, int(reach.max()) + 1 if reach.size else 1):
            s, j = np.nonzero(dist == d)
            g = group[s, j].astype(np.int64)
            a, n = self.group_ptr[g], self.group_ptr[g + 1] - self.group_ptr[g]
            total = np.zeros(s.size, np.int64)
            for c in range(int(n.max()) if n.size else 0):
                on = np.flatnonzero(c < n)
                nxt = f.link_dst[self.group_port[a[on] + c]].astype(np.int64) - f.n_hosts
                total[on] += count[nxt, j[on]]
            count[s, j] = total
        return count

    def count_paths_many(self, src, dst) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``count_paths`` of many (source, destination) pairs at once (0 when unreachable; 1,
        through its switch and back, from a host to itself), and the per-switch counts it used: ``(counts, table, column)`` where
        ``table[:, column[i]]`` are the counts toward pair ``i``'s destination edge."""
        f = self.fabric
        src = np.asarray(src, np.int64)
        dst = np.asarray(dst, np.int64)
        cols, column = np.unique(self.host_edge[dst], return_inverse=True)
        table = self.path_counts(cols)
        up = self.link_up[f.host_uplink[src]] & self.link_up[f.host_downlink[dst]]
        counts = np.where(up, table[f.host_switch[src] - f.n_hosts, column], 0)
        return counts, table, column

    def nth_paths(self, src, dst, index, counted=None) -> tuple[np.ndarray, np.ndarray]:
        """Path number ``index[i]`` (0 ≤ index < ``count_paths``) of every pair as CSR
        ``(path_ptr int64[F+1], path_link int32[P])``.

        Paths are numbered in lexicographic order of their links, the first hop most
        significant: at a switch whose candidates lead to c₀, c₁, … paths, numbers
        [0, c₀) take the first candidate, [c₀, c₀ + c₁) the second, and so on. So paths whose
        numbers are spread evenly over [0, count) spread evenly over every tier's links: over
        the first hop's candidates in proportion to the paths behind each, and within each of
        those, the same way one hop further (on a fat-tree or a leaf-spine, every link of a
        tier the same). ``counted`` is ``count_paths_many(src, dst)`` if the caller has it.
        Raises ``TopologyError`` on an index out of range.
        """
        f = self.fabric
        src = np.asarray(src, np.int64)
        dst = np.asarray(dst, np.int64)
        p = np.asarray(index, np.int64).copy()
        counts, table, column = counted if counted is not None else self.count_paths_many(src, dst)
        if ((p < 0) | (p >= counts)).any():
            bad = int(np.flatnonzero((p < 0) | (p >= counts))[0])
            raise TopologyError(f"flow {bad}: no path {p[bad]} from h{src[bad]} to h{dst[bad]} ({counts[bad]} paths)")
        hops = self.dist[f.host_switch[src] - f.n_hosts, self.host_edge[dst]].astype(np.int64) + 2
        path_ptr = np.zeros(src.size + 1, np.int64)
        np.cumsum(hops, out=path_ptr[1:])
        path_link = np.empty(int(path_ptr[-1]), np.int32)
        path_link[path_ptr[:-1]] = f.host_uplink[src]
        path_link[path_ptr[1:] - 1] = f.host_downlink[dst]
        node = f.host_switch[src].astype(np.int64)
        cols = self.host_edge[dst]
        for h in range(1, int(hops.max()) - 1 if hops.size else 0):  # the switch-to-switch hops
            on = np.flatnonzero(h < hops - 1)
            s, j = node[on] - f.n_hosts, column[on]
            g = self.group[s, cols[on]].astype(np.int64)
            a, n = self.group_ptr[g], self.group_ptr[g + 1] - self.group_ptr[g]
            left = p[on].copy()
            pick = np.full(on.size, -1, np.int64)
            for c in range(int(n.max())):
                undecided = np.flatnonzero((c < n) & (pick < 0))
                port = self.group_port[a[undecided] + c]
                behind = table[f.link_dst[port].astype(np.int64) - f.n_hosts, j[undecided]]
                here = left[undecided] < behind
                pick[undecided[here]] = port[here]
                left[undecided[~here]] -= behind[~here]
            path_link[path_ptr[on] + h] = pick
            p[on] = left
            node[on] = f.link_dst[pick]
        return path_ptr, path_link
