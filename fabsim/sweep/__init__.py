"""Parameter sweeps: a scenario plus a ``[sweep]`` table, run over a grid of parameters and
seeds on a local process pool or a Dask cluster, into one hive-partitioned dataset."""

from .runner import SweepOutcome, run_sweep
from .spec import Parameter, RunSpec, Sweep, load_sweep
from .table import partition_schema, read_manifest, sweep_dataset

__all__ = [
    "Parameter", "RunSpec", "Sweep", "SweepOutcome", "load_sweep", "partition_schema", "read_manifest",
    "run_sweep", "sweep_dataset",
]
