"""From a validated scenario to the arrays the engines consume."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ScenarioError
from .scenario import Scenario, check_references
from .topology import Fabric, Routing, TopologyError, build_fabric


@dataclass(frozen=True, eq=False)
class Model:
    """Everything built from a scenario before simulation: fabric and routing tables."""

    scenario: Scenario
    fabric: Fabric
    routing: Routing


def build_model(scenario: Scenario) -> Model:
    """Build the fabric and routing tables and check the scenario's references against them.

    Topology problems become ``ScenarioError`` naming the scenario file and key path.
    """
    try:
        fabric = build_fabric(scenario.topology)
        routing = Routing.build(fabric)
    except TopologyError as exc:
        raise ScenarioError(str(exc), file=scenario.source, path=exc.path) from None
    check_references(scenario, fabric)
    return Model(scenario, fabric, routing)
