"""Scenario files: TOML → validated, frozen :class:`Scenario` objects (DESIGN §2–§4, §6).

``load_scenario`` parses and validates everything the file alone determines;
``check_references`` checks what needs the built fabric (host indices, failure targets).
"""

from fabsim.scenario.load import load_scenario, parse_set_option
from fabsim.scenario.refs import check_references
from fabsim.scenario.schema import (
    CCConfig,
    CollectiveTraffic,
    Failure,
    FatTreeTopology,
    FileTopology,
    FlowSpec,
    FlowTraffic,
    HostConfig,
    IncastTraffic,
    Job,
    LeafSpineTopology,
    OutputConfig,
    PermutationTraffic,
    PoissonTraffic,
    RailOptimizedTopology,
    RoutingConfig,
    RunConfig,
    Scenario,
    StarTopology,
    SwitchConfig,
    Topology,
    Traffic,
)

__all__ = [
    "CCConfig",
    "CollectiveTraffic",
    "Failure",
    "FatTreeTopology",
    "FileTopology",
    "FlowSpec",
    "FlowTraffic",
    "HostConfig",
    "IncastTraffic",
    "Job",
    "LeafSpineTopology",
    "OutputConfig",
    "PermutationTraffic",
    "PoissonTraffic",
    "RailOptimizedTopology",
    "RoutingConfig",
    "RunConfig",
    "Scenario",
    "StarTopology",
    "SwitchConfig",
    "Topology",
    "Traffic",
    "check_references",
    "load_scenario",
    "parse_set_option",
]
