"""``fabsim validate``: summaries, JSON, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fabsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(p for p in (ROOT / "scenarios").rglob("*.toml") if p.parent.name != "sweeps")  # sweeps: test_shipped_scenarios

GOOD = """
[topology]
kind = "fat_tree"
k = 4
[[traffic]]
kind = "collective"
op = "allreduce"
size = "1MiB"
"""


def run_cli(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_scenario_validates(path, capsys):
    code, out, err = run_cli(["validate", str(path), "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert set(summary) == {"hosts", "switches", "links", "flows", "oversubscription", "bisection_bps", "warnings",
                            "servers", "gpus_per_server", "scaleup_rate_bps", "jobs", "protocol"}
    assert summary["warnings"] == []
    assert set(summary["protocol"]) == {"cc", "ecn"} and summary["protocol"]["ecn"]["thresholds"]


def test_validate_json_figures(tmp_path, capsys):
    p = tmp_path / "s.toml"
    p.write_text(GOOD)
    code, out, _ = run_cli(["validate", str(p), "--json", "--set", "topology.k=8"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["hosts"] == 128 and summary["switches"] == 80 and summary["links"] == 384
    assert summary["oversubscription"] == 1.0
    assert summary["bisection_bps"] == 64 * 100 * 10**9


def test_validate_human_summary_goes_to_stderr(tmp_path, capsys):
    p = tmp_path / "s.toml"
    p.write_text(GOOD)
    code, out, err = run_cli(["validate", str(p)], capsys)
    assert code == 0 and out == ""
    assert "fat_tree" in err and "equal-cost paths" in err and "agg-core" in err


FABRIC_CSV = "a,b,rate,delay\nh0,sw0,,\nh1,sw0,,\n"

# (scenario text, key path expected in the message, message fragment)
BAD = [
    ('[topology]\nkind = "fat_tree"\nk = 4\nhots = 3\n', "topology.hots", "unknown key"),
    ('[topology]\nkind = "fat_tree"\nk = 4\nhost_rate = "100Gbs"\n', "topology.host_rate", "did you mean Gbps"),
    ('[topology]\nkind = "fat_tree"\nk = 5\n', "topology.k", "even"),
    ('[topology]\nkind = "fat_tree"\nk = 4\nfabric_rate = "0Gbps"\n', "topology.fabric_rate", "positive"),
    ('[topology]\nkind = "fat_tree"\nk = 4\nlink_delay = "-1us"\n', "topology.link_delay", "negative"),
    ("[run]\nseed = 1\n", "topology", "missing"),
    ('[topology]\nkind = "fattree"\nk = 4\n', "topology.kind", "did you mean fat_tree"),
    ('[topology]\nkind = "fat_tree"\nk = "8"\n', "topology.k", "integer"),
    ('[topology]\nkind = "star"\nhosts = 4\n[[traffic]]\nkind = "flow"\nsrc = 0\ndst = 9\nsize = "1MB"\n',
     "traffic[0].dst", "does not exist"),
    ('[topology]\nkind = "file"\npath = "missing.csv"\n', "topology.path", "cannot read"),
    ('[topology]\nkind = "file"\npath = "fabric.csv"\n[[traffic]]\nkind = "incast"\nreceiver = "h0"\nsenders = 5\nsize = 1000\n',
     "traffic[0].senders", ""),
    ('[topology\nkind = "star"\n', "", "line 1"),
    ('[topology]\nkind = "star"\nhosts = 4\n', "traffic", "at least one"),
    ('[topology]\nkind = "star"\nhosts = 4\n[switch]\npfc_xoff = "100KB"\npfc_xon = "200KB"\n', "switch.pfc_xon", ""),
    ('[topology]\nkind = "star"\nhosts = 8\n[[traffic]]\nkind = "collective"\nop = "all_to_all"\nalgorithm = "ring"\nsize = 1000\n',
     "traffic[0].algorithm", "pairwise"),
    ('[topology]\nkind = "star"\nhosts = 8\n[[traffic]]\nkind = "collective"\nop = "allreduce"\nalgorithm = "halving_doubling"\nranks = 6\nsize = 1000\n',
     "traffic[0].ranks", "power-of-two"),
    ('[topology]\nkind = "fat_tree"\nk = 4\n[[failures]]\ntarget = "link:tor0-core9"\nat = "1ms"\n', "failures[0].target", "core9"),
    ('[topology]\nkind = "star"\nhosts = 4\n[host]\nmtu = "big"\n', "host.mtu", ""),
    ('[topology]\nkind = "star"\nhosts = 4\n[outptu]\nformat = "arrow"\n', "outptu", "did you mean output"),
    ('[topology]\nkind = "star"\nhosts = 4\n[[traffic]]\nkind = "flow"\nsrc = 1\ndst = 1\nsize = "1MB"\n', "traffic[0].dst", "must differ"),
]


@pytest.mark.parametrize("text,key,fragment", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_scenarios_exit_2_with_one_line(tmp_path, capsys, text, key, fragment):
    if "[[traffic]]" not in text and key != "traffic" and "[topology\n" not in text:
        text += '[[traffic]]\nkind = "permutation"\nsize = "1MB"\n'
    (tmp_path / "fabric.csv").write_text(FABRIC_CSV)
    p = tmp_path / "bad.toml"
    p.write_text(text)
    code, out, err = run_cli(["validate", str(p)], capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert str(p) in lines[0]
    assert f": {key}" in lines[0] if key else True
    assert fragment in lines[0]


def test_unreadable_scenario_and_bad_override(tmp_path, capsys):
    code, _, err = run_cli(["validate", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "nope.toml" in err and len(err.strip().splitlines()) == 1
    p = tmp_path / "s.toml"
    p.write_text(GOOD)
    code, _, err = run_cli(["validate", str(p), "--set", "topology.kk=4"], capsys)
    assert code == 2 and "topology.kk" in err and "did you mean k" in err
    code, _, err = run_cli(["validate", str(p), "--set", "novalue"], capsys)
    assert code == 2 and "KEY=VALUE" in err


def test_usage_error_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    assert main(["validate"]) == 2


def test_console_script_process(tmp_path):
    """The real process: exit code 2, one line on stderr, nothing on stdout, no traceback."""
    p = tmp_path / "bad.toml"
    p.write_text('[topology]\nkind = "fat_tree"\nk = 7\n[[traffic]]\nkind = "permutation"\nsize = 1\n')
    out = subprocess.run([sys.executable, "-m", "fabsim", "validate", str(p)], capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "topology.k" in out.stderr
    ok = subprocess.run([sys.executable, "-m", "fabsim", "validate", str(ROOT / "scenarios/quickstart.toml"), "--json"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["hosts"] == 16


def test_the_command_hides_what_stays_alive_from_the_collector(monkeypatch):
    """``fabsim`` (``command``) freezes what exists before and after ``main``; ``main`` alone, as
    tests and other programs call it, leaves the collector alone."""
    import gc

    import fabsim.cli.commands as commands

    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(commands, "main", lambda: calls.append("main") or 3)
    assert commands.command() == 3
    assert calls == ["freeze", "main", "freeze"]
    calls.clear()
    monkeypatch.undo()
    frozen = gc.get_freeze_count()
    assert main(["validate", str(ROOT / "scenarios/quickstart.toml")]) == 0
    assert gc.get_freeze_count() == frozen


# --- internal errors: one line, exit 1; the traceback only with FABSIM_DEBUG=1 ---------------

INTERNAL = "fabsim: internal error: ValueError: bad index 7 … (FABSIM_DEBUG=1 shows the traceback)"


@pytest.fixture
def broken_validate(tmp_path, monkeypatch):
    """``fabsim validate`` raising a bug (a multi-line message, as Numba's are); the scenario path."""
    import fabsim.cli.commands

    def boom(args, console):
        raise ValueError("bad index 7\n  in some [bold]helper[/]\n")

    monkeypatch.setattr(fabsim.cli.commands, "_cmd_validate", boom)
    monkeypatch.delenv("FABSIM_DEBUG", raising=False)
    p = tmp_path / "s.toml"
    p.write_text(GOOD)
    return p


def test_internal_error_is_one_line_and_exit_1(broken_validate, capsys):
    code, out, err = run_cli(["validate", str(broken_validate)], capsys)
    assert code == 1 and out == ""
    assert err.splitlines() == [INTERNAL]
    assert "Traceback" not in err


def test_fabsim_debug_shows_the_traceback(broken_validate, capsys, monkeypatch):
    monkeypatch.setenv("FABSIM_DEBUG", "1")
    code, _, err = run_cli(["validate", str(broken_validate)], capsys)
    assert code == 1
    assert err.startswith("Traceback (most recent call last):")
    assert "in boom" in err and "ValueError: bad index 7" in err
    assert err.splitlines()[-1] == INTERNAL


def test_simulation_error_keeps_its_message(tmp_path, capsys, monkeypatch):
    import fabsim.cli.commands
    from fabsim.errors import SimulationError

    def fail(args, console):
        raise SimulationError("the packet pool is full at t = 3 us: raise run.packet_pool", status=4)

    monkeypatch.setattr(fabsim.cli.commands, "_cmd_validate", fail)
    code, _, err = run_cli(["validate", str(tmp_path / "s.toml")], capsys)
    assert code == 1
    assert err.splitlines() == ["error: the packet pool is full at t = 3 us: raise run.packet_pool"]


def test_ctrl_c_outside_a_run_exits_130(tmp_path, capsys, monkeypatch):
    import fabsim.cli.commands

    def interrupted(args, console):
        raise KeyboardInterrupt

    monkeypatch.setattr(fabsim.cli.commands, "_cmd_validate", interrupted)
    code, out, err = run_cli(["validate", str(tmp_path / "s.toml")], capsys)
    assert code == 130 and out == "" and err.strip() == "interrupted"


def test_internal_error_in_a_real_process(tmp_path):
    """A whole process (``main`` under ``sys.exit``, as the console script runs it): one line on
    stderr, exit code 1."""
    code = ("import sys, fabsim.cli.commands as c\n"
            "def boom(args, console): raise RuntimeError('no')\n"
            "c._cmd_report = boom\n"
            "sys.exit(c.main(['report', '.']))\n")
    env = {k: v for k, v in os.environ.items() if k != "FABSIM_DEBUG"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == ["fabsim: internal error: RuntimeError: no (FABSIM_DEBUG=1 shows the traceback)"]
