"""fabsim: a Numba-accelerated packet- and flow-level simulator of AI-cluster network fabrics."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("fabsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from .api import simulate
from .errors import FabsimError, ScenarioError, SimulationError
from .model import Model, build_model
from .scenario import Scenario, load_scenario

__all__ = [
    "FabsimError", "Model", "Scenario", "ScenarioError", "SimulationError",
    "__version__", "build_model", "load_scenario", "simulate",
]
