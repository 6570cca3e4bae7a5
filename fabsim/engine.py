"""``simulate``: scenario → model → flow table → engine → Arrow tables."""

from __future__ import annotations

from .build import build_model
from .errors import UsageError
from .flowsim import run_flow_engine
from .packetsim import run_packet_engine
from .results import Result, assemble
from .scenario import Scenario
from .traffic import build_flow_table


def simulate(scenario: Scenario, progress=None) -> Result:
    """Run ``scenario`` and return its traces in memory.

    ``progress`` is None or a callable taking a ``fabsim.raw.Progress``; it is called between
    kernel slices (a few times a second on long runs).
    """
    if scenario.failures and scenario.run.engine == "packet":
        # resolved and checked (fabsim.failures); the packet engine does not simulate them yet
        raise UsageError(
            f"{scenario.source}: failures[0]: the packet engine does not simulate failures yet; run "
            "with --engine flow, or remove the [[failures]] tables (fabsim validate checks them)"
        )
    model = build_model(scenario)
    flows = build_flow_table(scenario, model.fabric)
    if scenario.run.engine == "flow":
        raw = run_flow_engine(model, flows, progress)
    else:
        raw = run_packet_engine(model, flows, progress)
    return assemble(model, flows, raw)
