"""Sweep files: a scenario plus a ``[sweep]`` table → the list of runs it stands for.

```toml
[sweep]
seeds = 3                                  # a count (run.seed, run.seed + 1, …) or a list
baseline = false                           # also run each point without its [[failures]]
[sweep.grid]                               # cartesian product of every list
"topology.fabric_rate" = ["100Gbps", "50Gbps"]
"switch.buffer" = ["16MiB", "32MiB"]
[sweep.zip]                                # lists varied together (one axis); [[sweep.zip]] for several
"switch.ecn_kmin" = ["50KB", "100KB"]
"switch.ecn_kmax" = ["200KB", "400KB"]
```

Every value is checked exactly like a ``--set`` override of the scenario, and every run of the
product is validated before anything runs, so a bad sweep file fails at once with the key path
(``sweep.toml: sweep.grid."topology.k"[1]: …``). Each run gets a directory in hive form,
``<column>=<value>/…/seed=<n>``, where the column is the dotted key with every run of other
characters than letters and digits made ``_`` (``topology.fabric_rate`` → ``topology_fabric_rate``).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ScenarioError
from ..scenario import Scenario
from ..scenario._reader import Table, describe
from ..scenario._sections import MAX_SEED
from ..scenario.load import canonical_key, check_override_key, load_raw_scenario, read_toml

#: Keys of the [sweep] table.
SWEEP_KEYS = ("seeds", "grid", "zip", "baseline")

#: Columns of the runs table that a parameter column must not shadow.
RESERVED_COLUMNS = ("run_id", "path", "seed", "status", "error", "wall_s")

#: Trace format of sweep runs unless the sweep file sets output.format: DuckDB reads Parquet
#: natively (Arrow IPC files need an extension), and so do pyarrow, Polars and pandas.
SWEEP_FORMAT = "parquet"

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class Parameter:
    """One swept scenario key: its values in file order and its runs-table column."""

    key: str  # canonical dotted key, e.g. "traffic[0].size"
    column: str  # e.g. "traffic_0_size"
    values: tuple[Any, ...]
    type: str  # "bool" | "int64" | "float64" | "string"


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its parameter values, seed and directory (relative to the root)."""

    run_id: int
    params: dict[str, Any]  # canonical key → value
    seed: int
    path: str


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file."""

    file: str
    base_dir: str
    name: str
    raw: dict[str, Any]  # the scenario document without its [sweep] table
    parameters: tuple[Parameter, ...]
    axes: tuple[tuple[str, ...], ...]  # the parameters' columns per axis: a grid key, or a zip group
    seeds: tuple[int, ...]
    baseline: bool
    format: str
    runs: tuple[RunSpec, ...]

    def overrides(self, run: RunSpec) -> dict[str, Any]:
        """The scenario overrides that make ``run``."""
        return {**run.params, "run.seed": run.seed, "output.format": self.format}

    def scenario(self, run: RunSpec) -> Scenario:
        """The validated scenario of ``run``."""
        return load_raw_scenario(self.raw, self.file, self.base_dir, self.name, self.overrides(run))

    def manifest(self) -> dict[str, Any]:
        """``sweep.json``: what the sweep directory holds, for resuming, reports and plots."""
        from .. import __version__

        return {
            "fabsim_version": __version__,
            "name": self.name,
            "source": self.file,
            "format": self.format,
            "baseline": self.baseline,
            "parameters": [
                {"key": p.key, "column": p.column, "type": p.type, "values": list(p.values)}
                for p in self.parameters
            ],
            "axes": [list(axis) for axis in self.axes],
            "seeds": list(self.seeds),
            "runs": [
                {"run_id": r.run_id, "path": r.path, "params": r.params, "seed": r.seed}
                for r in self.runs
            ],
        }


def load_sweep(file: str | os.PathLike[str]) -> Sweep:
    """Read and validate a sweep file; every problem raises ``ScenarioError`` with the key path."""
    file = os.fspath(file)
    doc = read_toml(file)
    base_dir = os.path.dirname(os.path.abspath(file))
    try:
        return _parse(doc, file, base_dir)
    except ScenarioError as exc:
        raise exc.with_file(file) from None


def _parse(doc: dict[str, Any], file: str, base_dir: str) -> Sweep:
    if "sweep" not in doc:
        raise ScenarioError("missing [sweep] table (a sweep file is a scenario plus a [sweep] table)", path="sweep")
    raw = {k: v for k, v in doc.items() if k != "sweep"}
    if not isinstance(doc["sweep"], dict):
        raise ScenarioError(f"expected a table, got {describe(doc['sweep'])}", path="sweep")
    table = Table(doc["sweep"], "sweep")
    table.check_keys(SWEEP_KEYS)
    default_name = Path(file).stem
    base = load_raw_scenario(raw, file, base_dir, default_name)

    axes: list[tuple[Parameter, ...]] = []
    if table.has("grid"):
        grid = _key_lists(table.data["grid"], "sweep.grid")
        axes += [_axis(raw, file, base_dir, [(f'sweep.grid."{k}"', k, v)]) for k, v in grid.items()]
    for where, group in _zip_groups(table):
        axes.append(_zip_axis(raw, file, base_dir, where, group))
    parameters = tuple(p for axis in axes for p in axis)
    _check_distinct(parameters)

    seeds = _seeds(table, base.run.seed)
    fmt = base.output.format if "format" in raw.get("output", {}) else SWEEP_FORMAT
    runs = []
    for point in itertools.product(*(range(len(axis[0].values)) for axis in axes)):
        params = {p.key: p.values[i] for axis, i in zip(axes, point) for p in axis}
        prefix = [f"{p.column}={path_value(params[p.key])}" for p in parameters]
        for seed in seeds:
            runs.append(RunSpec(len(runs), params, seed, "/".join(prefix + [f"seed={seed}"])))
    sweep = Sweep(
        file=file, base_dir=base_dir, name=base.run.name, raw=raw, parameters=parameters,
        axes=tuple(tuple(p.column for p in axis) for axis in axes), seeds=seeds,
        baseline=table.boolean("baseline", False), format=fmt, runs=tuple(runs),
    )
    for run in sweep.runs:  # parameters that are valid alone may still clash with each other
        try:
            sweep.scenario(run)
        except ScenarioError as exc:
            raise ScenarioError(f"the run {run.path} is invalid: {_inner(exc)}", path="sweep") from None
    return sweep


def path_value(value: Any) -> str:
    """A parameter value as a hive path segment (URI-escaped, as pyarrow decodes it)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return quote(text, safe="")


def _key_lists(data: Any, where: str) -> dict[str, list]:
    """A table of dotted keys → non-empty lists (``sweep.grid`` or one ``sweep.zip`` group)."""
    if not isinstance(data, dict):
        raise ScenarioError(f'expected a table of "dotted.key" = [values], got {describe(data)}', path=where)
    if not data:
        raise ScenarioError('empty: give at least one "dotted.key" = [values]', path=where)
    for k, values in data.items():
        if isinstance(values, dict):
            # [sweep.grid] topology.k = [..] without quotes makes a nested table.
            raise ScenarioError(
                f'expected a list of values, got a table (quote the dotted key: "{k}.…" = [ … ])',
                path=f'{where}."{k}"',
            )
        if not isinstance(values, list):
            raise ScenarioError(f"expected a list of values, got {describe(values)}", path=f'{where}."{k}"')
        if not values:
            raise ScenarioError("empty list: give at least one value", path=f'{where}."{k}"')
    return data


def _zip_groups(table: Table) -> list[tuple[str, dict[str, list]]]:
    """``sweep.zip`` as (key path, group) pairs: one table is one group, an array of tables many."""
    if not table.has("zip"):
        return []
    data = table.data["zip"]
    if isinstance(data, list):
        if not data:
            raise ScenarioError("empty: give at least one group of lists", path="sweep.zip")
        return [(f"sweep.zip[{i}]", _key_lists(g, f"sweep.zip[{i}]")) for i, g in enumerate(data)]
    return [("sweep.zip", _key_lists(data, "sweep.zip"))]


def _zip_axis(raw, file, base_dir, where: str, group: dict[str, list]) -> tuple[Parameter, ...]:
    lengths = {k: len(v) for k, v in group.items()}
    first = next(iter(group))
    for k, n in lengths.items():
        if n != lengths[first]:
            raise ScenarioError(
                f'{n} values, but "{first}" has {lengths[first]} (lists in one zip group vary together '
                "and must have the same length)",
                path=f'{where}."{k}"',
            )
    return _axis(raw, file, base_dir, [(f'{where}."{k}"', k, v) for k, v in group.items()])


def _axis(raw, file, base_dir, keys: list[tuple[str, str, list]]) -> tuple[Parameter, ...]:
    """The parameters of one axis (a grid key, or the keys of a zip group, whose i-th values go
    together), each value checked against the scenario like a ``--set`` override."""
    params = tuple(_parameter(raw, where, key, values) for where, key, values in keys)
    wheres = {p.key: where for p, (where, _, _) in zip(params, keys)}
    for i in range(len(params[0].values)):
        try:
            load_raw_scenario(raw, file, base_dir, "sweep", {p.key: p.values[i] for p in params})
        except ScenarioError as exc:
            where = wheres.get(exc.path, wheres[params[0].key])
            if exc.path in wheres and exc.message.startswith("unknown key"):
                raise ScenarioError(exc.message, path=where) from None
            raise ScenarioError(_inner(exc), path=f"{where}[{i}]") from None
    # a value of another type may be valid (a size as "16MiB" or 16777216), but not in one column
    return tuple(dataclasses.replace(p, type=_column_type(wheres[p.key], p.values)) for p in params)


def _parameter(raw, where: str, key: str, values: list) -> Parameter:
    """One swept key: its canonical form, column name and type."""
    try:
        canonical = canonical_key(key)
        check_override_key(raw, canonical)
    except ScenarioError as exc:
        raise ScenarioError(exc.message, path=where) from None
    if canonical == "run.seed":
        raise ScenarioError("sweep seeds with sweep.seeds, not as a parameter", path=where)
    for i, value in enumerate(values):
        if not isinstance(value, (str, int, float, bool)):
            raise ScenarioError(
                f"a parameter value must be a string, number or boolean, got {describe(value)}", path=f"{where}[{i}]"
            )
    if len(set(map(_typed, values))) != len(values):
        raise ScenarioError("a value appears twice", path=where)
    column = _NOT_ALNUM.sub("_", canonical).strip("_")
    if column in RESERVED_COLUMNS:
        raise ScenarioError(f'its column name "{column}" is reserved in the runs table', path=where)
    return Parameter(canonical, column, tuple(values), "")


def _typed(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def _column_type(where: str, values: list) -> str:
    kinds = {"bool" if isinstance(v, bool) else type(v).__name__ for v in values}
    if kinds == {"bool"}:
        return "bool"
    if kinds == {"int"}:
        return "int64"
    if kinds <= {"int", "float"}:
        return "float64"
    if kinds == {"str"}:
        return "string"
    shown = ", ".join(sorted(kinds))
    raise ScenarioError(f"values of one parameter must have one type (strings, numbers or booleans), got {shown}",
                        path=where)


def _check_distinct(parameters: tuple[Parameter, ...]) -> None:
    seen: dict[str, str] = {}
    for p in parameters:
        if p.column in seen:
            what = "swept twice" if seen[p.column] == p.key else f'has the same column name as "{seen[p.column]}"'
            raise ScenarioError(f'"{p.key}" {what}', path="sweep")
        seen[p.column] = p.key


def _seeds(table: Table, base_seed: int) -> tuple[int, ...]:
    if not table.has("seeds"):
        return (base_seed,)
    value = table.data["seeds"]
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise table.error("seeds", f"a count of seeds must be ≥ 1, got {value}")
        if base_seed + value - 1 > MAX_SEED:
            raise table.error("seeds", f"run.seed + seeds − 1 must be ≤ {MAX_SEED}, got {base_seed + value - 1}")
        return tuple(range(base_seed, base_seed + value))
    if not isinstance(value, list) or not value:
        raise table.error("seeds", f"expected a count or a non-empty list of seeds, got {describe(value)}")
    for i, seed in enumerate(value):
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
            message = f"a seed must be an integer in [0, {MAX_SEED}], got {describe(seed)}"
            raise ScenarioError(message, path=f"sweep.seeds[{i}]")
    if len(set(value)) != len(value):
        raise table.error("seeds", "a seed appears twice")
    return tuple(value)


def _inner(exc: ScenarioError) -> str:
    """The error without its file name (the sweep error adds it once)."""
    return ": ".join(p for p in (exc.path, exc.message) if p)
