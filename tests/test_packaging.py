"""The project installs as a wheel with the engine as ``fabsim.native``, and native/ keeps its rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_native_is_installed_as_fabsim_native():
    import fabsim.native.routing

    assert Path(fabsim.native.routing.__file__).parent.name == "native"


def test_kernel_lint_passes_and_catches_violations(tmp_path):
    lint = [sys.executable, str(ROOT / "tools" / "check_kernels")]
    assert subprocess.run(lint, capture_output=True).returncode == 0
    (tmp_path / "native").mkdir()
    (tmp_path / "native" / "bad.py").write_text("import numba\n@numba.njit(fastmath=True)\ndef f():\n    pass\n")
    out = subprocess.run([*lint, str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert "bare numba decorator" in out.stdout and "fastmath" in out.stdout
    (tmp_path / "native" / "bad.py").write_text("from ..units import parse_time\nfrom . import jit\n")
    out = subprocess.run([*lint, str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout.count("parent-relative import") == 1, out.stdout


def test_wheel_installs_and_imports_the_engine(tmp_path):
    """Build a wheel from a copy of the tree, install it into a target dir, import from there."""
    src = tmp_path / "src"
    shutil.copytree(
        ROOT, src,
        ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "dist", "runs", ".hypothesis"),
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)],
        check=True, capture_output=True,
    )
    (wheel,) = wheels.glob("fabsim-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True, capture_output=True,
    )
    code = (
        "import fabsim, fabsim.native.routing as r, fabsim.topology as t;"
        "print(fabsim.__file__); print(r.__file__);"
        "print(t.Routing.build(t.fat_tree(4, 1, 1, 0)).count_paths(0, 15))"
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    fabsim_file, native_file, paths = out.stdout.split()
    assert fabsim_file.startswith(str(site)) and native_file.startswith(str(site))
    assert native_file.endswith(os.path.join("fabsim", "native", "routing.py"))
    assert paths == "4"
