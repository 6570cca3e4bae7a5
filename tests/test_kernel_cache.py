"""The kernel cache follows the code: editing a helper module of native/ recompiles its callers.

Numba's ``cache=True`` checks only the source file of the function it compiles
(numba/numba#1833), so native/ caches its kernels in a directory keyed by the hash of its whole
source (native/__init__.py). These tests run small kernels in subprocesses against a copy of
native/ with two extra modules; nothing here compiles the engine's own kernels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import fabsim.native

ROOT = Path(__file__).resolve().parent.parent

HELPER = "from .jit import kernel\n\n\n@kernel\ndef one():\n    return {value}\n"
CALLER = "from .helper import one\nfrom .jit import kernel\n\n\n@kernel\ndef call():\n    return one()\n"

PLAIN_HELPER = "import numba\n\n\n@numba.njit(cache=True)\ndef one():\n    return {value}\n"
PLAIN_CALLER = ("import numba\n\nfrom .helper import one\n\n\n"
                "@numba.njit(cache=True)\ndef call():\n    return one()\n")

RUN = "import sys; sys.path.insert(0, sys.argv[1]); from {pkg}.caller import call; print(call())"


def _run(pkg: str, where: Path, cache: Path) -> str:
    # No bytecode files: Python's .pyc check (mtime + size) could miss an edit made within the
    # same second that keeps the file's size, and serve the old module.
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", RUN.format(pkg=pkg), str(where)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _native_copy(tmp_path: Path) -> Path:
    """native/ copied as the standalone package ``enginecopy`` (its modules import each other
    relatively, and numpy and numba), with a helper kernel and a kernel that calls it."""
    pkg = tmp_path / "src" / "enginecopy"
    shutil.copytree(ROOT / "native", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "helper.py").write_text(HELPER.format(value=1))
    (pkg / "caller.py").write_text(CALLER)
    return pkg


def _nbi(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("*.nbi"))


def test_editing_a_helper_module_recompiles_its_caller(tmp_path):
    pkg = _native_copy(tmp_path)
    cache = tmp_path / "cache"
    assert _run("enginecopy", pkg.parent, cache) == "1"
    (first,) = cache.iterdir()
    assert first.name.startswith(fabsim.native.CACHE_PREFIX)
    assert any(name.startswith("caller.call-") for name in _nbi(first)), "the caller was not cached"
    assert _run("enginecopy", pkg.parent, cache) == "1"  # loaded from the cache, same directory
    assert list(cache.iterdir()) == [first]

    (pkg / "helper.py").write_text(HELPER.format(value=2))
    assert _run("enginecopy", pkg.parent, cache) == "2"
    assert len(list(cache.iterdir())) == 2  # a new hash, a new directory; the old one stays for now


def test_plain_cache_true_serves_a_stale_caller(tmp_path):
    """The Numba behaviour the keying guards against (numba/numba#1833): the same pair of modules
    with plain ``cache=True`` keeps returning the old helper's value after the helper changes.
    If a Numba release fixes the issue this test fails, and the keying becomes a belt to the
    braces rather than the only guard."""
    pkg = tmp_path / "src" / "plainpair"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text(PLAIN_HELPER.format(value=1))
    (pkg / "caller.py").write_text(PLAIN_CALLER)
    cache = tmp_path / "cache"
    assert _run("plainpair", pkg.parent, cache) == "1"
    (pkg / "helper.py").write_text(PLAIN_HELPER.format(value=2))
    assert _run("plainpair", pkg.parent, cache) == "1"


def test_kernels_are_cached_in_the_hashed_directory():
    import fabsim.native.heap as heap

    assert fabsim.native.CACHE_DIR is not None
    assert Path(fabsim.native.CACHE_DIR).name == fabsim.native.CACHE_PREFIX + fabsim.native.source_hash()[:16]
    cache_path = heap.heap_push._cache._cache_path
    assert Path(cache_path).parent == Path(fabsim.native.CACHE_DIR)


def test_the_setting_does_not_leak_to_other_code():
    from numba.core import config

    import fabsim.native.jit  # noqa: F401 - decorating kernels must leave Numba's setting as it was

    assert config.CACHE_DIR == os.environ.get("NUMBA_CACHE_DIR", "")


def test_base_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert fabsim.native.cache_base() == tmp_path / "numba"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fabsim.native.cache_base() == tmp_path / "xdg" / "fabsim"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fabsim.native.cache_base() == tmp_path / "home" / ".cache" / "fabsim"


def test_prune_removes_only_old_siblings(tmp_path):
    prefix = fabsim.native.CACHE_PREFIX
    old, recent, current, other = (tmp_path / n for n in (f"{prefix}old", f"{prefix}recent", f"{prefix}now", "numba-stuff"))
    for d in (old, recent, current, other):
        (d / "sub").mkdir(parents=True)
    month_ago = time.time() - 31 * 24 * 3600
    for d in (old, current, other):
        os.utime(d, (month_ago, month_ago))
    fabsim.native.prune(tmp_path, keep=current)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([recent.name, current.name, other.name])
    fabsim.native.prune(tmp_path / "missing", keep=current)  # never raises


def test_an_unwritable_cache_falls_back_and_fabsim_still_runs(tmp_path):
    """A $NUMBA_CACHE_DIR that cannot be created (a file is in the way, which stops root too):
    the kernels go to a directory under the temporary directory; with that unusable as well,
    they compile without a cache and a warning says so."""
    pkg = _native_copy(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    tmp = tmp_path / "tmp"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocker / "cache"), PYTHONDONTWRITEBYTECODE="1")
    code = ("import sys, tempfile; tempfile.tempdir = sys.argv[2]; "
            + RUN.format(pkg="enginecopy") + "; import enginecopy; print(enginecopy.CACHE_DIR)")

    def run(tempdir: Path):
        out = subprocess.run([sys.executable, "-W", "always", "-c", code, str(pkg.parent), str(tempdir)],
                             env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out

    tmp.mkdir()
    out = run(tmp)
    value, where = out.stdout.split()
    assert value == "1" and Path(where).parent.parent == tmp
    assert list(Path(where).rglob("caller.call-*.nbi")), "the fallback directory holds the cache"
    out = run(blocker / "tmp")
    assert out.stdout.split() == ["1", "None"]
    assert "kernels will be compiled in every process" in out.stderr
