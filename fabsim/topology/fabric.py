"""The fabric as structure-of-arrays: nodes, directed links and per-node port ranges.

Nodes ``0 … n_hosts − 1`` are the hosts (node id = host index = rank index used by traffic),
switches follow. Every undirected cable becomes two directed links; a directed link is the
egress port of its source node, so ``links of node n`` = ``port_start[n] … port_start[n+1]−1``.
Parallel cables between the same two switches are distinct ports (ECMP spreads over them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from fabsim.native import codes

ROLE_NAMES = {
    codes.ROLE_HOST: "host",
    codes.ROLE_TOR: "tor",
    codes.ROLE_AGG: "agg",
    codes.ROLE_CORE: "core",
    codes.ROLE_LEAF: "leaf",
    codes.ROLE_SPINE: "spine",
    codes.ROLE_SWITCH: "switch",
}
# Node-name prefix of each role (§3: h<i>, tor<i>, agg<i>, core<i>, leaf<i>, spine<i>, sw<i>).
ROLE_PREFIX = {
    codes.ROLE_HOST: "h",
    codes.ROLE_TOR: "tor",
    codes.ROLE_AGG: "agg",
    codes.ROLE_CORE: "core",
    codes.ROLE_LEAF: "leaf",
    codes.ROLE_SPINE: "spine",
    codes.ROLE_SWITCH: "sw",
}
PREFIX_ROLE = {prefix: role for role, prefix in ROLE_PREFIX.items()}
_GENERATED_NAME = re.compile(r"^([a-z]+?)(\d+)$")


class TopologyError(ValueError):
    """A fabric that cannot be built; ``path`` is the scenario key to blame."""

    def __init__(self, message: str, path: str = "topology"):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, eq=False)
class Fabric:
    """An immutable fabric. Arrays are indexed by node id or directed link id.

    Attributes (units in names): ``node_role`` int8 role codes, ``node_role_index`` int32 index
    within the role (``tor3`` → 3), ``node_level`` int8 hop distance from the nearest host
    (0 hosts, 1 edge switches, …); ``link_src``/``link_dst`` int32 node ids, ``link_rate_bps``
    int64, ``link_delay_ps`` int64, ``link_rev`` int32 (the opposite direction of the same
    cable); ``port_start`` int64 (n_nodes + 1); per host: ``host_switch`` (its edge switch),
    ``host_uplink`` (host → switch link), ``host_downlink`` (switch → host link).
    """

    kind: str
    n_hosts: int
    node_role: np.ndarray
    node_role_index: np.ndarray
    node_level: np.ndarray
    link_src: np.ndarray
    link_dst: np.ndarray
    link_rate_bps: np.ndarray
    link_delay_ps: np.ndarray
    link_rev: np.ndarray
    port_start: np.ndarray
    host_switch: np.ndarray
    host_uplink: np.ndarray
    host_downlink: np.ndarray
    explicit_names: tuple[str, ...] | None = field(default=None, repr=False)

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_cables(
        cls,
        kind: str,
        n_hosts: int,
        node_role: np.ndarray,
        node_role_index: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        rate_bps: np.ndarray,
        delay_ps: np.ndarray,
        names: tuple[str, ...] | None = None,
    ) -> "Fabric":
        """Build from undirected cables ``a[i] — b[i]`` (node ids); rates and delays per cable."""
        n_nodes = node_role.shape[0]
        n_cables = a.shape[0]
        src = np.concatenate([a, b]).astype(np.int32)
        dst = np.concatenate([b, a]).astype(np.int32)
        rate = np.concatenate([rate_bps, rate_bps]).astype(np.int64)
        delay = np.concatenate([delay_ps, delay_ps]).astype(np.int64)
        rev = np.concatenate([np.arange(n_cables, 2 * n_cables), np.arange(n_cables)])
        # Group links by source node (stable: cable order within a node is kept).
        order = np.argsort(src, kind="stable")
        new_id = np.empty_like(order)
        new_id[order] = np.arange(order.shape[0])
        src, dst, rate, delay = src[order], dst[order], rate[order], delay[order]
        rev = new_id[rev[order]].astype(np.int32)
        port_start = np.zeros(n_nodes + 1, np.int64)
        np.cumsum(np.bincount(src, minlength=n_nodes), out=port_start[1:])

        degree = np.diff(port_start)
        if n_hosts < 1:
            raise TopologyError("the fabric has no hosts")
        if (degree[:n_hosts] != 1).any():
            bad = int(np.flatnonzero(degree[:n_hosts] != 1)[0])
            raise TopologyError(
                f"host h{bad} has {int(degree[bad])} links; every host needs exactly one link, to a switch"
            )
        host_uplink = port_start[:n_hosts].astype(np.int32)
        host_switch = dst[host_uplink]
        if (host_switch < n_hosts).any():
            bad = int(np.flatnonzero(host_switch < n_hosts)[0])
            raise TopologyError(f"host h{bad} is linked to another host; hosts connect to switches")
        host_downlink = rev[host_uplink]
        level = _levels_from_hosts(n_hosts, port_start, dst)
        return cls(
            kind=kind,
            n_hosts=int(n_hosts),
            node_role=node_role.astype(np.int8),
            node_role_index=node_role_index.astype(np.int32),
            node_level=level,
            link_src=src,
            link_dst=dst,
            link_rate_bps=rate,
            link_delay_ps=delay,
            link_rev=rev,
            port_start=port_start,
            host_switch=host_switch.astype(np.int32),
            host_uplink=host_uplink,
            host_downlink=host_downlink.astype(np.int32),
            explicit_names=names,
        )

    # ---- sizes ----------------------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        return int(self.node_role.shape[0])

    @property
    def n_switches(self) -> int:
        return self.n_nodes - self.n_hosts

    @property
    def n_links(self) -> int:
        """Directed links (twice the number of cables)."""
        return int(self.link_src.shape[0])

    @property
    def n_cables(self) -> int:
        return self.n_links // 2

    # ---- names ----------------------------------------------------------------------------

    def node_name(self, node: int) -> str:
        if self.explicit_names is not None:
            return self.explicit_names[node]
        role = int(self.node_role[node])
        return f"{ROLE_PREFIX[role]}{int(self.node_role_index[node])}"

    @cached_property
    def node_names(self) -> list[str]:
        return [self.node_name(i) for i in range(self.n_nodes)]

    @cached_property
    def _name_to_id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.node_names)}

    def node_id(self, name: str) -> int:
        """Node id of ``name``; raises KeyError if the fabric has no such node."""
        return self._name_to_id[name]

    def link_between(self, a: int, b: int) -> int | None:
        """The first directed link from node ``a`` to node ``b``, or None."""
        lo, hi = int(self.port_start[a]), int(self.port_start[a + 1])
        hits = np.flatnonzero(self.link_dst[lo:hi] == b)
        return int(lo + hits[0]) if hits.size else None

    # ---- roles and tiers ------------------------------------------------------------------

    @cached_property
    def switch_roles(self) -> set[str]:
        return {ROLE_NAMES[int(r)] for r in np.unique(self.node_role[self.n_hosts :])}

    @cached_property
    def link_tier_code(self) -> np.ndarray:
        """Per directed link, an index into ``tier_names`` (same for both directions)."""
        lo = np.minimum(self.link_src, self.link_dst)
        hi = np.maximum(self.link_src, self.link_dst)
        lo_level = self.node_level[lo].astype(np.int64)
        hi_level = self.node_level[hi].astype(np.int64)
        # Order the two ends by level so "tor-agg" never appears as "agg-tor".
        low_end = np.where(lo_level <= hi_level, lo, hi)
        high_end = np.where(lo_level <= hi_level, hi, lo)
        key = self.node_role[low_end].astype(np.int64) * 16 + self.node_role[high_end]
        _, code = np.unique(key, return_inverse=True)
        return code.astype(np.int8)

    @cached_property
    def tier_names(self) -> list[str]:
        names: dict[int, str] = {}
        for link in range(self.n_links):
            code = int(self.link_tier_code[link])
            if code not in names:
                names[code] = self._tier_name(link)
        return [names[c] for c in range(len(names))]

    def _tier_name(self, link: int) -> str:
        ends = sorted(
            (int(self.node_level[n]), int(self.node_role[n]))
            for n in (int(self.link_src[link]), int(self.link_dst[link]))
        )
        roles = [ROLE_NAMES[r] for _, r in ends]
        if roles[0] == "host":
            return "host"
        return f"{roles[0]}-{roles[1]}"

    @cached_property
    def link_tiers(self) -> set[str]:
        return set(self.tier_names)

    def link_tier(self, link: int) -> str:
        return self.tier_names[int(self.link_tier_code[link])]

    # ---- capacity figures -----------------------------------------------------------------

    def tier_oversubscription(self) -> dict[str, float]:
        """Per switch level: capacity toward hosts ÷ capacity away from them.

        Keyed by the role of that level's switches (``tor``, ``agg``, ``leaf``; ``level<i>`` if
        a level mixes roles). The top level (no uplinks) is left out.
        """
        src_level = self.node_level[self.link_src]
        dst_level = self.node_level[self.link_dst]
        result = {}
        for level in range(1, int(self.node_level.max()) + 1):
            from_level = src_level == level
            down = int(self.link_rate_bps[from_level & (dst_level == level - 1)].sum())
            up = int(self.link_rate_bps[from_level & (dst_level == level + 1)].sum())
            if up == 0:
                continue
            roles = np.unique(self.node_role[self.node_level == level])
            name = ROLE_NAMES[int(roles[0])] if roles.size == 1 else f"level{level}"
            result[name] = down / up
        return result

    def oversubscription(self) -> float:
        """End-to-end oversubscription: the product of the per-level ratios (1.0 = non-blocking)."""
        return float(np.prod(list(self.tier_oversubscription().values()) or [1.0]))

    def bisection_bps(self) -> int:
        """Tier-cut bisection bandwidth: min over adjacent levels of half their capacity.

        Splitting the hosts in two equal halves along the hierarchy (half the pods, leaves or
        rails on each side), traffic between the halves crosses at most half of the capacity
        between any two adjacent levels; this is exact for fat-trees and leaf-spines.
        """
        src_level = self.node_level[self.link_src].astype(np.int64)
        dst_level = self.node_level[self.link_dst].astype(np.int64)
        upward = dst_level == src_level + 1
        best = None
        for level in range(int(self.node_level.max())):
            cap = int(self.link_rate_bps[upward & (src_level == level)].sum()) // 2
            best = cap if best is None else min(best, cap)
        return int(best or 0)


def _levels_from_hosts(n_hosts: int, port_start: np.ndarray, link_dst: np.ndarray) -> np.ndarray:
    """Hop distance of every node from its nearest host (multi-source BFS; −1 if none)."""
    n_nodes = port_start.shape[0] - 1
    level = np.full(n_nodes, -1, np.int8)
    frontier = np.arange(n_hosts)
    level[frontier] = 0
    depth = 0
    degree = np.diff(port_start)
    while frontier.size:
        depth += 1
        # All out-neighbours of the frontier, vectorised through the CSR port ranges.
        starts = port_start[frontier]
        counts = degree[frontier]
        idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        nbrs = np.unique(link_dst[idx])
        nbrs = nbrs[level[nbrs] < 0]
        level[nbrs] = depth
        frontier = nbrs
    return level


def parse_generated_name(name: str) -> tuple[int, int] | None:
    """``"tor12"`` → (ROLE_TOR, 12); None for names that follow no role prefix."""
    m = _GENERATED_NAME.match(name)
    if not m or m.group(1) not in PREFIX_ROLE:
        return None
    return PREFIX_ROLE[m.group(1)], int(m.group(2))
