"""Every scenario shipped in scenarios/ loads, validates and (except the benchmarks) runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.relative_to(ROOT) for p in (ROOT / "scenarios").rglob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=str)
def test_shipped_scenario_validates(path, capsys):
    assert main(["validate", str(ROOT / path), "--json"]) == 0


@pytest.mark.parametrize("path", [p for p in SHIPPED if p.parts[1] != "bench"], ids=str)
def test_shipped_scenario_runs(path, tmp_path, capsys):
    assert main(["run", str(ROOT / path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert (tmp_path / "run" / "summary.json").exists()
