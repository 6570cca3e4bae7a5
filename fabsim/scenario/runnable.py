"""Checks of a built model and its flow table before any engine runs.

``fabsim validate`` and :func:`fabsim.simulate` (before either engine) call
:func:`check_runnable`, so that nothing ``validate`` accepts crashes or hangs ``run`` (DESIGN
§10). What the file alone determines (``host.mtu + host.header``, ``run.seed``, ``cc.algorithm``)
is checked earlier, at load; these checks need the fabric, the routing tables or the flows.
Errors are :class:`ScenarioError` naming the file and key path; warnings are one-line strings in
the same form. Every check runs for both engines, so the answer does not depend on
``run.engine``. docs/scenario.md, "Checks before a run", lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fabsim.errors import ScenarioError
from fabsim.names import host_name
from fabsim.native import codes
from fabsim.run.record import packets

if TYPE_CHECKING:
    from fabsim.model import Model
    from fabsim.scenario.schema import Scenario
    from fabsim.topology import Fabric
    from fabsim.traffic import FlowTable

#: Most packets in one flow: the packet engine numbers a flow's packets with int32.
MAX_PACKETS_PER_FLOW = 2**31 - 1
#: Most tasks (flows, compute tasks, scale-up transfers) in one run: the packet engine names a
#: packet's flow in 26 bits of its row (``codes.META_FLOW_BITS``).
MAX_TASKS = codes.META_FLOW_MASK + 1


def check_runnable(model: Model, flows: FlowTable) -> list[str]:
    """Raise :class:`ScenarioError` for the first reason ``model`` cannot run ``flows``;
    return the warnings (one line each, ``file: key.path: message``)."""
    sc = model.scenario
    try:
        _check_packet_fits_buffer(sc, model.fabric)
        _check_links(sc, model.fabric)
        _check_tasks(flows)
        _check_packets_per_flow(sc, flows)
        _check_connected(model, flows)
        warnings = _pfc_warnings(sc, model.fabric)
    except ScenarioError as exc:
        raise exc.with_file(sc.source) from None
    return [str(w.with_file(sc.source)) for w in warnings]


def packet_bytes(sc: Scenario) -> int:
    """Wire bytes of a full data packet."""
    return sc.host.mtu_bytes + sc.host.header_bytes


def switch_degrees(fabric: Fabric) -> np.ndarray:
    """Ports of every switch (int64, indexed by switch number: node id − n_hosts)."""
    return np.diff(fabric.port_start)[fabric.n_hosts :].astype(np.int64)


def _check_packet_fits_buffer(sc: Scenario, fabric: Fabric) -> None:
    """A packet larger than the buffer (or, with the static policy, than a port's share of it,
    ``buffer // ports`` as the packet engine computes it) is refused at every admission."""
    w, buffer = packet_bytes(sc), sc.switch.buffer_bytes
    packet = f"one packet ({w} bytes = host.mtu + host.header)"
    if w > buffer:
        raise ScenarioError(f"{buffer} bytes is less than {packet}", path="switch.buffer")
    if sc.switch.buffer_policy == "static":
        degree = switch_degrees(fabric)
        s = int(np.argmax(degree))
        ports, share = int(degree[s]), buffer // int(degree[s])
        if w > share:
            name = fabric.node_name(fabric.n_hosts + s)
            raise ScenarioError(
                f'"static" gives each port of {name} ({ports} ports) buffer // {ports} = {share} bytes, '
                f"less than {packet}: every packet through it would be dropped",
                path="switch.buffer_policy",
            )


def _check_links(sc: Scenario, fabric: Fabric) -> None:
    """The packet engine names a link in 26 bits of an event (``codes.EV_LINK_BITS``), and keeps
    the gap between two packets' arrivals on one wire in 32 bits of picoseconds; the gap is at
    most the wire's delay: its cable's, plus the switch latency when it leads into a switch
    (docs/packet-engine.md, ``TX_DONE``)."""
    if fabric.n_links > codes.EV_LINK_MASK + 1:
        raise ScenarioError(
            f"the fabric has {fabric.n_links:,} links (directions of its cables); the packet engine numbers "
            f"them in {codes.EV_LINK_BITS} bits, at most {codes.EV_LINK_MASK + 1:,}",
            path="topology",
        )
    if not fabric.n_links:
        return
    into_switch = fabric.link_dst >= fabric.n_hosts
    delay = fabric.link_delay_ps + np.where(into_switch, sc.switch.latency_ps, 0)
    link = int(np.argmax(delay))
    if delay[link] >= codes.PIPE_DELAY_LIMIT_PS:
        cable = f"{fabric.node_name(int(fabric.link_src[link]))}–{fabric.node_name(int(fabric.link_dst[link]))}"
        plus = " plus switch.latency" if into_switch[link] else ""
        raise ScenarioError(
            f"the delay of {cable}{plus} is {int(delay[link]) / 1e9:g} ms; a link's delay must be "
            f"below {codes.PIPE_DELAY_LIMIT_PS / 1e9:g} ms (2**32 ps)",
            path="topology.path" if sc.topology.kind == "file" else "topology.link_delay",
        )


def _check_tasks(flows: FlowTable) -> None:
    if len(flows) > MAX_TASKS:
        raise ScenarioError(
            f"the traffic has {len(flows):,} tasks (flows, compute tasks and scale-up transfers); "
            f"a run may have at most {MAX_TASKS:,}",
            path="traffic",
        )


def _check_packets_per_flow(sc: Scenario, flows: FlowTable) -> None:
    n = packets(flows.size_bytes, sc.host.mtu_bytes)
    over = np.flatnonzero(n > MAX_PACKETS_PER_FLOW)
    if over.size:
        i = int(over[0])
        raise ScenarioError(
            f"a flow of {int(flows.size_bytes[i])} bytes is {int(n[i])} packets at host.mtu = "
            f"{sc.host.mtu_bytes} bytes; a flow may have at most {MAX_PACKETS_PER_FLOW} packets",
            path=f"traffic[{int(flows.generator[i])}]",
        )


def _check_connected(model: Model, flows: FlowTable) -> None:
    """Every flow's two hosts are connected by the fabric as built (before any failure): the
    routing tables give each switch a distance to every edge switch, unreachable or not."""
    f, r = model.fabric, model.routing
    dist = r.dist[f.host_switch[flows.src] - f.n_hosts, r.host_edge[flows.dst]]
    bad = np.flatnonzero(dist == codes.DIST_UNREACHABLE)
    if bad.size:
        i = int(bad[0])
        topology = model.scenario.topology
        where = f" ({topology.path_as_given})" if topology.kind == "file" else ""
        src, dst = host_name(int(flows.src[i])), host_name(int(flows.dst[i]))
        raise ScenarioError(
            f"{src} and {dst} are not connected in the fabric{where}", path=f"traffic[{int(flows.generator[i])}]"
        )


def ingress_bound_bytes(sc: Scenario, fabric: Fabric) -> tuple[int, int]:
    """An upper bound on the data bytes one ingress port of a switch can hold in the packet
    engine, and the port count of the switch where it is largest: ``(bytes, ports)``.

    The engine counts, per ingress port, the data bytes that arrived over it and have not yet
    left the switch (its PFC counter); they sit in the switch's egress data queues, so the
    counter is at most the sum of those queues over the switch's ``d`` ports (any port, the
    ingress one included, in case a routing change turns a packet around).

    - ``static``: a packet is admitted only if its queue stays ≤ ``buffer // d``, so the sum is at
      most ``d · (buffer // d)``.
    - ``dynamic``: a packet is admitted to a queue holding ``q`` bytes only if
      ``q < dt_alpha · (buffer − used)``, where ``used`` (every byte in the switch) includes ``q``
      and the queues already filled. Order the ports by their last admission (a queue only
      shrinks after it). Port ``e`` held ``q < α · (F − q)`` just before its last admission,
      with ``F`` the buffer minus what the earlier ports still hold, so it holds less than
      ``α/(1 + α) · F + w`` (``w``: one packet) and leaves more than ``F/(1 + α) − w`` to the
      next port. Over ``d`` ports the sum stays below ``buffer · (1 − (1 + α)^−d) + d · w``;
      it never exceeds ``buffer`` (admission keeps ``used + w ≤ buffer``).

    PFC pauses an ingress when its counter exceeds ``pfc_xoff``, so with ``pfc_xoff`` at or
    above this bound it never fires.
    """
    sw = sc.switch
    degree = switch_degrees(fabric)
    buffer = sw.buffer_bytes
    if sw.buffer_policy == "static":
        per_switch = degree * (buffer // degree)
    else:
        # 1 − (1 + α)^−d, accurate for small α and large d
        filled = -np.expm1(-degree * np.log1p(sw.dt_alpha))
        per_switch = np.ceil(buffer * filled).astype(np.int64) + degree * packet_bytes(sc)
        per_switch = np.minimum(per_switch, buffer)
    s = int(np.argmax(per_switch))
    return int(per_switch[s]), int(degree[s])


def _pfc_warnings(sc: Scenario, fabric: Fabric) -> list[ScenarioError]:
    sw = sc.switch
    if not sw.pfc:
        return []
    bound, ports = ingress_bound_bytes(sc, fabric)
    if sw.pfc_xoff_bytes < bound:
        return []
    if sw.buffer_policy == "static":
        how = f'buffer_policy = "static": ports × (buffer // ports) with {ports} ports'
    else:
        how = (
            f'buffer_policy = "dynamic", dt_alpha = {sw.dt_alpha:g}: '
            f"buffer × (1 − (1 + dt_alpha)^−ports) + ports × packet with {ports} ports"
        )
    message = (
        f"{sw.pfc_xoff_bytes} bytes is at or above the most one ingress can hold ({bound} bytes; "
        f"{how}): PFC would never fire"
    )
    return [ScenarioError(message, path="switch.pfc_xoff")]
