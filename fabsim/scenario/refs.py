"""Checks of a scenario against its built fabric: host indices, counts, failure targets.

They run after the topology is built (the loader cannot know how many hosts a ``file``
topology has, or which switches exist) and report with the same file and key paths as the
loader, e.g. ``x.toml: traffic[1].src: host 300 does not exist (the fabric has 128 hosts: h0…h127)``.
"""

from __future__ import annotations

from typing import Protocol

from fabsim.errors import ScenarioError
from fabsim.names import parse_host_name
from fabsim.scenario.schema import (
    CollectiveTraffic,
    Failure,
    FlowTraffic,
    HostSelection,
    IncastTraffic,
    Job,
    PoissonTraffic,
    Scenario,
)


class FabricView(Protocol):
    """What the checks need from a built fabric (``fabsim.topology``'s Fabric provides it)."""

    n_hosts: int
    switch_roles: set[str]
    link_tiers: set[str]

    def node_id(self, name: str) -> int:
        """Node id of ``name``; KeyError if there is no such node."""

    def link_between(self, a: int, b: int) -> int | None:
        """Link id between nodes ``a`` and ``b`` (ids), None if they are not adjacent."""


def check_references(scenario: Scenario, fabric: FabricView) -> None:
    """Raise :class:`ScenarioError` for the first reference ``fabric`` cannot satisfy."""
    checker = _Checker(fabric)
    try:
        for i, gen in enumerate(scenario.traffic):
            checker.traffic(gen, f"traffic[{i}]")
        _check_servers(scenario, fabric.n_hosts)
        for i, failure in enumerate(scenario.failures):
            checker.failure(failure, f"failures[{i}].target")
    except ScenarioError as exc:
        raise exc.with_file(scenario.source) from None


def job_servers(job: Job, gpus_per_server: int) -> tuple[int, ...]:
    """The servers a job runs on: its list, or ``servers`` (default: as many as its ranks
    need) consecutive servers from ``first_server``."""
    if isinstance(job.servers, tuple):
        return job.servers
    count = job.servers or -(-job.ranks // gpus_per_server)
    return tuple(range(job.first_server, job.first_server + count))


def _check_servers(scenario: Scenario, n_hosts: int) -> None:
    g = scenario.topology.gpus_per_server
    if n_hosts % g:
        message = f"gpus_per_server ({g}) must divide the number of hosts ({n_hosts}): every server is whole"
        raise ScenarioError(message, path="topology.gpus_per_server")
    n_servers = n_hosts // g
    for i, job in enumerate(scenario.jobs):
        servers = job_servers(job, g)
        key = "servers" if job.servers else "first_server" if job.first_server else "servers"
        bad = [s for s in servers if s >= n_servers]
        if bad:
            message = (
                f"job {job.name} needs server {bad[0]}, but the fabric has {n_servers} server"
                f"{'s' if n_servers != 1 else ''} of {g} GPU{'s' if g != 1 else ''} ({n_hosts} hosts)"
            )
            raise ScenarioError(message, path=f"jobs[{i}].{key}")
        asked = len(servers) * g
        if asked < job.ranks or (job.servers and asked != job.ranks):
            message = (
                f"job {job.name} has tp·pp·dp = {job.tp}·{job.pp}·{job.dp} = {job.ranks} ranks but asks for "
                f"{len(servers)} server{'s' if len(servers) != 1 else ''} × {g} GPUs = {asked} GPUs"
                + ("" if asked < job.ranks else " (leave servers out to take as many as the ranks need)")
            )
            raise ScenarioError(message, path=f"jobs[{i}].servers")


class _Checker:
    def __init__(self, fabric: FabricView):
        self.fabric = fabric
        n = fabric.n_hosts
        names = f": h0…h{n - 1}" if n > 1 else ": h0" if n == 1 else ""
        self.hosts_text = f"the fabric has {n} host{'s' if n != 1 else ''}{names}"

    def host(self, h: int, path: str) -> None:
        if h >= self.fabric.n_hosts:
            raise ScenarioError(f"host {h} does not exist ({self.hosts_text})", path=path)

    def count(self, needed: int, what: str, path: str) -> None:
        """``needed`` hosts must exist; ``what`` starts the message (who needs them)."""
        if needed > self.fabric.n_hosts:
            raise ScenarioError(f"{what}, but {self.hosts_text}", path=path)

    def selection(self, sel: HostSelection, path: str) -> int:
        """Check a hosts/ranks selection and return how many hosts it picks."""
        if sel == "all":
            return self.fabric.n_hosts
        if isinstance(sel, int):
            self.count(sel, f"asks for {sel} hosts", path)
            return sel
        for j, h in enumerate(sel):
            self.host(h, f"{path}[{j}]")
        return len(sel)

    def traffic(self, gen: object, path: str) -> None:
        if isinstance(gen, FlowTraffic):
            for j, spec in enumerate(gen.flows):
                where = f"{path}.flows[{j}]" if gen.listed else path
                self.host(spec.src, f"{where}.src")
                self.host(spec.dst, f"{where}.dst")
        elif isinstance(gen, IncastTraffic):
            self.host(gen.receiver, f"{path}.receiver")
            if isinstance(gen.senders, int):
                n = gen.senders + 1
                self.count(n, f"{gen.senders} senders and a receiver need {n} hosts", f"{path}.senders")
            else:
                for j, h in enumerate(gen.senders):
                    self.host(h, f"{path}.senders[{j}]")
        elif isinstance(gen, PoissonTraffic):
            self.selection(gen.hosts, f"{path}.hosts")
        elif isinstance(gen, CollectiveTraffic):
            self.collective(gen, path)

    def collective(self, gen: CollectiveTraffic, path: str) -> None:
        n = self.selection(gen.ranks, f"{path}.ranks")
        if gen.ranks != "all":
            return  # the loader already checked rank counts and root of explicit ranks
        if n < 2:
            message = f"a collective needs at least 2 ranks, but {self.hosts_text}"
            raise ScenarioError(message, path=f"{path}.ranks")
        if gen.algorithm == "halving_doubling" and n & (n - 1):
            raise ScenarioError(
                f'halving_doubling needs a power-of-two number of ranks; ranks = "all" gives {n}',
                path=f"{path}.algorithm",
            )
        if gen.root >= n:
            message = f"root is a rank index: it must be < {n} (the rank count), got {gen.root}"
            raise ScenarioError(message, path=f"{path}.root")

    def failure(self, failure: Failure, path: str) -> None:
        fabric = self.fabric
        if failure.kind == "link":
            a = self.node(failure.a, path)
            b = self.node(failure.b, path)
            if fabric.link_between(a, b) is None:
                raise ScenarioError(f"no link between {failure.a} and {failure.b}", path=path)
        elif failure.kind == "switch":
            if self.host_name(failure.name, path) is not None:
                raise ScenarioError(f'"{failure.name}" is a host, not a switch', path=path)
            try:
                fabric.node_id(failure.name)
            except KeyError:
                raise ScenarioError(f'no switch named "{failure.name}"', path=path) from None
        elif failure.kind == "random_link":
            if failure.tier not in fabric.link_tiers:
                tiers = ", ".join(sorted(fabric.link_tiers))
                message = f'no link of tier "{failure.tier}" in this fabric (tiers: {tiers})'
                raise ScenarioError(message, path=path)
        elif failure.role not in fabric.switch_roles:
            roles = ", ".join(sorted(fabric.switch_roles))
            message = f'no switch of role "{failure.role}" in this fabric (roles: {roles})'
            raise ScenarioError(message, path=path)

    def host_name(self, name: str, path: str) -> int | None:
        """The host index of ``name``, None for a switch name; a malformed host name raises."""
        try:
            return parse_host_name(name)
        except ValueError as exc:
            raise ScenarioError(str(exc), path=path) from None

    def node(self, name: str, path: str) -> int:
        self.host_name(name, path)
        try:
            return self.fabric.node_id(name)
        except KeyError:
            raise ScenarioError(f'no node named "{name}"', path=path) from None
