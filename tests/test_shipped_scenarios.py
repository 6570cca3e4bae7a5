"""Every scenario shipped in scenarios/ loads, validates and (except the benchmarks) runs with the
results recorded for it; every sweep file in scenarios/sweeps/ plans its runs, and each run's
fabric and traffic build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabsim.cli import main
from fabsim.trace import read_run
from fabsim.trace.digest import table_digest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(
    p.relative_to(ROOT) for p in (ROOT / "scenarios").rglob("*.toml") if p.parent.name != "sweeps"
)
DIGESTS = ROOT / "tests" / "data" / "trace_digests.json"
SWEEPS = sorted(p.relative_to(ROOT) for p in (ROOT / "scenarios" / "sweeps").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=str)
def test_shipped_scenario_validates(path, capsys):
    assert main(["validate", str(ROOT / path), "--json"]) == 0


@pytest.mark.parametrize("path", [p for p in SHIPPED if p.parts[1] != "bench"], ids=str)
def test_shipped_scenario_runs_and_gives_the_recorded_results(path, tmp_path, capsys):
    """Each run's traces have the content recorded in tests/data/trace_digests.json: a change
    that alters a result must mean to, and record the new digests (``tools/trace_digests
    --write tests/data/trace_digests.json``, after checking that the differences are the ones
    intended — or that only a NumPy or pyarrow upgrade changed them)."""
    assert main(["run", str(ROOT / path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    recorded = json.loads(DIGESTS.read_text())[str(path)]
    got = {name: table_digest(table) for name, table in read_run(tmp_path / "run").items()}
    assert sorted(got) == sorted(recorded)
    assert [name for name in sorted(got) if got[name] != recorded[name]] == []


@pytest.mark.parametrize("path", SWEEPS, ids=str)
def test_shipped_sweep_plans_and_builds_every_run(path, tmp_path, capsys):
    from fabsim.model import build_model  # checks the scenario's references against the fabric
    from fabsim.sweep import load_sweep
    from fabsim.traffic import build_flow_table

    assert main(["sweep", str(ROOT / path), "--dry-run", "--out", str(tmp_path / "sweep")]) == 0
    sweep = load_sweep(ROOT / path)
    for run in sweep.runs:
        scenario = sweep.scenario(run)
        model = build_model(scenario)
        assert len(build_flow_table(scenario, model.fabric).size_bytes) > 0
