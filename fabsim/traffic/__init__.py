"""Traffic generators → one flow table with its dependency DAG (DESIGN §4; docs/traffic.md).

``build_flow_table(scenario, fabric)`` runs every ``[[traffic]]`` generator and merges their
flows in generator order. Generator i draws its random choices from its own stream, seeded by
``(scenario.run.seed, i)``, so the table is a pure function of the scenario and the fabric, and
adding or changing one generator never changes another's draws.
"""

from __future__ import annotations

import numpy as np

from fabsim.errors import ScenarioError
from fabsim.scenario import Scenario, check_references
from fabsim.topology import Fabric
from fabsim.traffic.block import FlowBlock, merge_blocks
from fabsim.traffic.cdf import builtin_cdf, cdf_mean_bytes, load_cdf, sample_sizes
from fabsim.traffic.collectives import collective_block
from fabsim.traffic.patterns import flow_block, incast_block, permutation_block
from fabsim.traffic.poisson import poisson_block
from fabsim.traffic.table import NO_INDEX, CollectiveTable, FlowTable

__all__ = [
    "NO_INDEX", "CollectiveTable", "FlowTable", "build_flow_table", "builtin_cdf",
    "cdf_mean_bytes", "generator_rng", "load_cdf", "sample_sizes",
]  # fmt: skip


def build_flow_table(scenario: Scenario, fabric: Fabric) -> FlowTable:
    """The flows and dependencies of every generator of ``scenario`` on ``fabric``.

    Host references are checked against the fabric first. Raises :class:`ScenarioError` naming
    the scenario file and key path (e.g. ``traffic[2].sizes`` for an invalid CDF file).
    """
    check_references(scenario, fabric)
    blocks = []
    try:
        for i, gen in enumerate(scenario.traffic):
            blocks.append(_generate(gen, fabric, generator_rng(scenario.run.seed, i), f"traffic[{i}]"))
        blocks += _jobs(scenario, fabric)
        tags = [gen.tag for gen in scenario.traffic] + [job.name for job in scenario.jobs]
        return merge_blocks(blocks, tags)
    except ScenarioError as exc:
        raise exc.with_file(scenario.source) from None


def _jobs(scenario: Scenario, fabric: Fabric) -> list[FlowBlock]:
    """One block per ``[[jobs]]`` entry; two jobs may not share a GPU."""
    from fabsim.traffic.jobs import job_block

    blocks = []
    owner = np.full(fabric.n_hosts, -1, np.int64)
    for j, job in enumerate(scenario.jobs):
        rng = np.random.default_rng([scenario.run.seed, JOB_STREAM_BASE + j])
        block = job_block(job, fabric.n_hosts, scenario.topology.gpus_per_server, rng)
        hosts = block.job.hosts
        taken = owner[hosts]
        if (taken >= 0).any():
            other = scenario.jobs[int(taken[taken >= 0][0])]
            gpu = int(hosts[taken >= 0][0])
            message = (
                f"jobs {other.name} and {job.name} both use GPU h{gpu}: two jobs cannot share a GPU "
                "(give them different servers or first_server)"
            )
            raise ScenarioError(message, path=f"jobs[{j}].servers")
        owner[hosts] = j
        blocks.append(block)
    return blocks


#: Job j draws from the stream ``(seed, JOB_STREAM_BASE + j)``, apart from every generator's.
JOB_STREAM_BASE = 1 << 20


def generator_rng(seed: int, generator: int) -> np.random.Generator:
    """The random stream of generator number ``generator`` under the run's ``seed``."""
    return np.random.default_rng([seed, generator])


def _generate(gen, fabric: Fabric, rng: np.random.Generator, where: str) -> FlowBlock:
    if gen.kind == "flow":
        return flow_block(gen)
    if gen.kind == "incast":
        return incast_block(gen, fabric, rng)
    if gen.kind == "permutation":
        return permutation_block(gen, fabric, rng, where)
    if gen.kind == "poisson":
        return poisson_block(gen, fabric, rng, where)
    return collective_block(gen, fabric.n_hosts, rng)
