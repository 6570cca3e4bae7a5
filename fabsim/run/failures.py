"""Failure schedules: ``[[failures]]`` targets resolved to fabric links and times (DESIGN §6).

A failure takes its links down at ``at`` (both directions of every cable it names: one cable, or
every cable of a switch). Routing learns of it ``routing.detect`` later; a failure with a
``duration`` is restored at ``at + duration`` and routing learns of the restoration ``detect``
after that. ``random_link:<tier>`` and ``random_switch:<role>`` draw one element uniformly, from
a hash of the run's seed and the failure's index: the same seed always fails the same element,
and a sweep over seeds samples the elements. Failures may overlap: a link is down while any
failure that covers it is (``down_links``).

Both engine drivers step through one :class:`FailureSchedule`: what changes at each change time,
and what routing looks like once it has detected a change; each applies that to its kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..native.ecmp import mix64
from ..topology.fabric import ROLE_NAMES

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


def change_times(failures: list[ResolvedFailure]) -> list[int]:
    """Every time at which a link's state or the routing tables change, in order."""
    times = set()
    for fl in failures:
        times.update(t for t in (fl.at_ps, fl.detected_ps, fl.restored_ps, fl.restore_detected_ps) if t is not None)
    return sorted(times)


def routing_without(model, routing_down: np.ndarray):
    """The routing tables once routing has converged on ``routing_down`` links (the failure-free
    tables when none is down)."""
    from ..topology import Routing  # noqa: PLC0415 (keeps failures importable without the tables)

    base = model.routing.failure_free
    return Routing.build(model.fabric, ~routing_down, base) if routing_down.any() else base


def reroute(model, flows, hash_id, path_ptr, path_link, routing_down: np.ndarray, movable: np.ndarray,
            black_hole: int, routing=None, spread=None):
    """Paths after routing converged on ``routing_down`` links (``routing``: its tables, from
    :func:`routing_without` if not given): ``movable`` flows take their hashed path over the
    surviving tables (resilient selection: a flow whose path avoided every change keeps it); a
    movable flow whose destination is unreachable gets the one-link path ``[black_hole]`` (a
    link of capacity 0: it stalls until routing finds a path again); the others keep theirs.
    With ``spread`` (the flow engine's sprayed sub-flows, ``fabsim.run.spray``) a movable flow
    takes its share of the surviving equal-cost paths instead of its hashed path.

    Returns ``(path_ptr, path_link, changed, unreachable)``.
    """
    from ..native import codes
    from .paths import route

    fabric, sc = model.fabric, model.scenario
    if routing is None:
        routing = routing_without(model, routing_down)
    src, dst = flows.src, flows.dst
    d = routing.dist[fabric.host_switch[src] - fabric.n_hosts, routing.host_edge[dst]]
    dead_end = routing_down[fabric.host_uplink[src]] | routing_down[fabric.host_downlink[dst]]
    unreachable = movable & ((d == codes.DIST_UNREACHABLE) | dead_end)
    todo = np.flatnonzero(movable)
    reach = todo[~unreachable[todo]]
    hops = np.diff(path_ptr)
    new_hops = hops.copy()
    if todo.size:
        sub_hops = np.ones(todo.size, np.int64)
        sub_link = np.full(todo.size, black_hole, np.int32)
        if reach.size:
            r_ptr, r_link = route(routing, flows, reach, hash_id, sc.run.seed, spread)
            sub_hops[~unreachable[todo]] = np.diff(r_ptr)
            first = np.zeros(todo.size + 1, np.int64)
            np.cumsum(sub_hops, out=first[1:])
            merged = np.empty(int(first[-1]), np.int32)
            is_reach = np.repeat(~unreachable[todo], sub_hops)
            merged[is_reach] = r_link
            merged[~is_reach] = black_hole
            sub_link = merged
        new_hops[todo] = sub_hops
    new_ptr = np.zeros_like(path_ptr)
    np.cumsum(new_hops, out=new_ptr[1:])
    new_link = np.empty(int(new_ptr[-1]), np.int32)
    keep = np.ones(len(flows), np.bool_)
    keep[todo] = False
    # kept paths: copy entry ranges; moved paths: from the sub-CSR
    entry_flow_old = np.repeat(np.arange(len(flows)), hops)
    kept_entries = keep[entry_flow_old]
    new_entry_flow = np.repeat(np.arange(len(flows)), new_hops)
    new_link[keep[new_entry_flow]] = path_link[kept_entries]
    changed = np.zeros(len(flows), np.bool_)
    if todo.size:
        new_link[~keep[new_entry_flow]] = sub_link
        changed[todo] = hops[todo] != new_hops[todo]
        same = todo[hops[todo] == new_hops[todo]]
        h = hops[same]
        offset = np.arange(int(h.sum())) - np.repeat(np.cumsum(h) - h, h)
        differs = path_link[np.repeat(path_ptr[same], h) + offset] != new_link[np.repeat(new_ptr[same], h) + offset]
        changed[same] = np.bincount(np.repeat(np.arange(same.size), h), weights=differs, minlength=same.size) > 0
    return new_ptr, new_link, changed, unreachable


@dataclass(frozen=True, eq=False)
class Convergence:
    """What routing looks like after it converged at a change time: the links it treats as
    down, its tables, every flow's path, which paths changed and which flows are unreachable."""

    down: np.ndarray
    routing: object  #: fabsim.topology.Routing
    path_ptr: np.ndarray
    path_link: np.ndarray
    changed: np.ndarray
    unreachable: np.ndarray


class FailureSchedule:
    """The failures of one run, stepped through by an engine driver (docs/failures.md).

    It answers the two questions both drivers ask at a change time ``t``: which links are down
    then (:meth:`links_down`, :meth:`failing_at`), and, once routing has detected a failure or
    a restoration, what the routing tables and every flow's path become (:meth:`converge`). It
    keeps the flows' current paths (starting from ``path_ptr``/``path_link``, hashed with
    ``hash_id``, or given by ``spread``: see :func:`reroute`) and the :class:`FailureLog` of what each failure hit. The driver applies the
    answers to its own kernel state.
    """

    def __init__(self, model, flows, until_ps: int, hash_id, path_ptr, path_link, spread=None):
        self.model, self.flows, self.hash_id, self.spread = model, flows, hash_id, spread
        self.failures = resolve_failures(model.scenario, model.fabric)
        self.changes = [t for t in change_times(self.failures) if t <= until_ps]
        self.log = FailureLog(self.failures, len(flows))
        self.routing_down = np.zeros(model.fabric.n_links, np.bool_)
        self.path_ptr, self.path_link = path_ptr, path_link

    def __bool__(self) -> bool:
        return bool(self.failures)

    def pending(self) -> bool:
        """Whether a change time is still ahead (within the run's ``until``)."""
        return bool(self.changes)

    def next_change(self) -> int:
        return self.changes[0]

    def advance(self) -> int:
        """Step to the next change time and return it."""
        return self.changes.pop(0)

    def links_down(self, t_ps: int) -> np.ndarray:
        """bool per link: down at ``t_ps``."""
        return down_links(self.failures, self.model.fabric.n_links, t_ps)

    def failing_at(self, t_ps: int) -> list[ResolvedFailure]:
        """The failures that take their links down at ``t_ps``."""
        return [fl for fl in self.failures if fl.at_ps == t_ps]

    def converge(self, t_ps: int, active: np.ndarray, movable: np.ndarray) -> Convergence | None:
        """At change time ``t_ps``: log the ``active`` flows (sending) across an element down
        then; if routing's view of the links changes at ``t_ps`` (a detection), the tables it
        converges on and the paths of the ``movable`` flows over them (:func:`reroute`), else
        None."""
        n_links = self.model.fabric.n_links
        self.log.links_failed(t_ps, self.path_ptr, self.path_link, active)
        new_down = down_links(self.failures, n_links, t_ps, detected=True)
        if np.array_equal(new_down, self.routing_down):
            return None
        routing = routing_without(self.model, new_down)
        path_ptr, path_link, changed, unreachable = reroute(
            self.model, self.flows, self.hash_id, self.path_ptr, self.path_link, new_down, movable, n_links, routing,
            self.spread,
        )
        self.log.rerouted(t_ps, self.path_ptr, self.path_link, path_ptr, path_link, changed, unreachable, active)
        self.path_ptr, self.path_link, self.routing_down = path_ptr, path_link, new_down
        return Convergence(new_down, routing, path_ptr, path_link, changed, unreachable)


def _crossing(path_ptr: np.ndarray, path_link: np.ndarray, links: np.ndarray) -> np.ndarray:
    """bool per flow: its path uses one of ``links``."""
    hops = np.diff(path_ptr)
    on = np.isin(path_link, links)
    return np.bincount(np.repeat(np.arange(hops.size), hops), weights=on, minlength=hops.size) > 0


class FailureLog:
    """What each failure hit, filled in by an engine driver at the failure's change times.

    A flow is *hit* by a failure if it was sending across the element while it was down, or if
    routing moved it off (or back onto) the element; ``flows_rerouted`` counts the flows whose
    path changed when routing detected the failure or its restoration.
    """

    def __init__(self, failures: list[ResolvedFailure], n_flows: int):
        self.failures = failures
        self.hit = np.zeros((len(failures), n_flows), np.bool_)
        self.moved = np.zeros((len(failures), n_flows), np.bool_)
        self.unreachable = np.zeros(n_flows, np.bool_)
        self.dropped_packets = np.zeros(len(failures), np.int64)
        self.dropped_bytes = np.zeros(len(failures), np.int64)

    @property
    def flow_hit(self) -> np.ndarray:
        return self.hit.any(axis=0)

    def links_failed(self, t: int, path_ptr, path_link, active: np.ndarray) -> None:
        """Flows sending at ``t`` across an element that is down then."""
        for i, fl in enumerate(self.failures):
            if fl.at_ps <= t and (fl.restored_ps is None or t < fl.restored_ps):
                self.hit[i] |= active & _crossing(path_ptr, path_link, fl.links)

    def rerouted(self, t, old_ptr, old_link, new_ptr, new_link, changed, unreachable, active) -> None:
        """Routing converged at ``t``: attribute moved and stranded flows to the failures whose
        detection (or restoration's detection) happened then."""
        self.unreachable = unreachable.copy()  # as of the last convergence
        for i, fl in enumerate(self.failures):
            if t not in (fl.detected_ps, fl.restore_detected_ps):
                continue
            near = _crossing(old_ptr, old_link, fl.links) | _crossing(new_ptr, new_link, fl.links)
            self.moved[i] |= changed & near
            self.hit[i] |= (changed & near) | (unreachable & _crossing(old_ptr, old_link, fl.links))

    def finish(self, end_ps: int, n_links: int, link_bytes: np.ndarray) -> dict:
        """Per-failure columns of the ``failures`` trace and per-link down time, up to ``end_ps``."""
        down_ps = np.zeros(n_links, np.int64)
        intervals: dict[int, list[tuple[int, int]]] = {}
        for fl in self.failures:
            stop = min(fl.restored_ps if fl.restored_ps is not None else end_ps, end_ps)
            if fl.at_ps < stop:
                for link in fl.links.tolist():
                    intervals.setdefault(link, []).append((fl.at_ps, stop))
        for link, spans in intervals.items():  # overlapping failures of a link count once
            spans.sort()
            total, cur_a, cur_b = 0, spans[0][0], spans[0][1]
            for a, b in spans[1:]:
                if a > cur_b:
                    total += cur_b - cur_a
                    cur_a, cur_b = a, b
                else:
                    cur_b = max(cur_b, b)
            down_ps[link] = total + cur_b - cur_a
        return {
            "failures": self.failures,
            "end_ps": end_ps,
            "link_down_ps": down_ps,
            "link_bytes": link_bytes,
            "flows_hit": self.hit.sum(axis=1),
            "flows_rerouted": self.moved.sum(axis=1),
            "hit": self.hit,
            "dropped_packets": self.dropped_packets,
            "dropped_bytes": self.dropped_bytes,
            "unreachable": self.unreachable,
        }
