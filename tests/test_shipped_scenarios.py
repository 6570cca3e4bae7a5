"""Every scenario shipped in scenarios/ loads, validates and (except the benchmarks) runs; every
sweep file in scenarios/sweeps/ plans its runs, and each run's fabric and traffic build."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(
    p.relative_to(ROOT) for p in (ROOT / "scenarios").rglob("*.toml") if p.parent.name != "sweeps"
)
SWEEPS = sorted(p.relative_to(ROOT) for p in (ROOT / "scenarios" / "sweeps").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=str)
def test_shipped_scenario_validates(path, capsys):
    assert main(["validate", str(ROOT / path), "--json"]) == 0


@pytest.mark.parametrize("path", [p for p in SHIPPED if p.parts[1] != "bench"], ids=str)
def test_shipped_scenario_runs(path, tmp_path, capsys):
    assert main(["run", str(ROOT / path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize("path", SWEEPS, ids=str)
def test_shipped_sweep_plans_and_builds_every_run(path, tmp_path, capsys):
    from fabsim.build import build_model  # checks the scenario's references against the fabric
    from fabsim.sweep import load_sweep
    from fabsim.traffic import build_flow_table

    assert main(["sweep", str(ROOT / path), "--dry-run", "--out", str(tmp_path / "sweep")]) == 0
    sweep = load_sweep(ROOT / path)
    for run in sweep.runs:
        scenario = sweep.scenario(run)
        model = build_model(scenario)
        assert len(build_flow_table(scenario, model.fabric).size_bytes) > 0
