"""Failure schedules: ``[[failures]]`` targets resolved to fabric links and times (DESIGN §6).

A failure takes its links down at ``at`` (both directions of every cable it names: one cable, or
every cable of a switch). Routing learns of it ``routing.detect`` later; a failure with a
``duration`` is restored at ``at + duration`` and routing learns of the restoration ``detect``
after that. ``random_link:<tier>`` and ``random_switch:<role>`` draw one element uniformly, from
a hash of the run's seed and the failure's index: the same seed always fails the same element,
and a sweep over seeds samples the elements. Failures may overlap: a link is down while any
failure that covers it is (``down_links``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .native.ecmp import mix64
from .topology.fabric import ROLE_NAMES

# salt of the failure draws, so they do not correlate with ECMP hashes of the same seed
_DRAW_SALT = 0xFA11


@dataclass(frozen=True)
class ResolvedFailure:
    """One failure on a built fabric (times in ps; ``None`` = never)."""

    index: int  #: row of ``[[failures]]``
    target: str  #: as written
    element: str  #: the element that fails, e.g. "link:agg3-core5" (ends in link-id order) or "switch:tor2"
    tier: str  #: link tier, or the switch's role
    links: np.ndarray  #: int32 directed links that go down (both directions of each cable)
    node: int  #: the failed switch, or −1 for a link
    at_ps: int
    detected_ps: int  #: when routing stops using it
    restored_ps: int | None  #: when it carries packets again
    restore_detected_ps: int | None  #: when routing uses it again


def draw(seed: int, index: int, n: int) -> int:
    """Uniform choice in ``range(n)`` for failure ``index`` of a run with ``seed``."""
    h = int(mix64(np.uint64(mix64(np.uint64((seed ^ _DRAW_SALT) & (2**64 - 1))) ^ np.uint64(index))))
    return h % n


def cables(fabric, links: np.ndarray) -> np.ndarray:
    """Both directions of every cable in ``links``, sorted."""
    links = np.asarray(links, np.int64)
    return np.unique(np.concatenate([links, fabric.link_rev[links]])).astype(np.int32)


def resolve_failures(scenario, fabric) -> list[ResolvedFailure]:
    """Every ``[[failures]]`` entry of ``scenario`` on ``fabric`` (references already checked)."""
    detect = scenario.routing.detect_ps
    seed = scenario.run.seed
    out = []
    for i, f in enumerate(scenario.failures):
        node = -1
        if f.kind == "link":
            a, b = fabric.node_id(f.a), fabric.node_id(f.b)
            links = cables(fabric, [fabric.link_between(a, b)])
        elif f.kind == "random_link":
            first = np.flatnonzero(
                (fabric.link_tier_code == fabric.tier_names.index(f.tier)) & (np.arange(fabric.n_links) < fabric.link_rev)
            )
            links = cables(fabric, [first[draw(seed, i, first.size)]])
        else:
            if f.kind == "switch":
                node = fabric.node_id(f.name)
            else:
                role = next(code for code, name in ROLE_NAMES.items() if name == f.role)
                pool = fabric.n_hosts + np.flatnonzero(fabric.node_role[fabric.n_hosts:] == role)
                node = int(pool[draw(seed, i, pool.size)])
            lo, hi = int(fabric.port_start[node]), int(fabric.port_start[node + 1])
            links = cables(fabric, np.arange(lo, hi))
        if node >= 0:
            element = f"switch:{fabric.node_name(node)}"
            tier = ROLE_NAMES[int(fabric.node_role[node])]
        else:
            l0 = int(links[0])
            element = f"link:{fabric.node_name(int(fabric.link_src[l0]))}-{fabric.node_name(int(fabric.link_dst[l0]))}"
            tier = fabric.link_tier(l0)
        restored = None if f.duration_ps is None else f.at_ps + f.duration_ps
        out.append(ResolvedFailure(
            index=i, target=f.target, element=element, tier=tier, links=links, node=node,
            at_ps=f.at_ps, detected_ps=f.at_ps + detect, restored_ps=restored,
            restore_detected_ps=None if restored is None else restored + detect,
        ))
    return out


def down_links(failures: list[ResolvedFailure], n_links: int, t_ps: int, detected: bool = False) -> np.ndarray:
    """bool[n_links]: links down at ``t_ps`` — or, with ``detected``, the links routing treats as
    down then (failed and detected, and not yet known to be restored)."""
    down = np.zeros(n_links, np.bool_)
    for fl in failures:
        start = fl.detected_ps if detected else fl.at_ps
        end = fl.restore_detected_ps if detected else fl.restored_ps
        if start <= t_ps and (end is None or t_ps < end):
            down[fl.links] = True
    return down
