"""fabsim's engine: Numba kernels over NumPy arrays (installed as ``fabsim.native``).

This package imports numpy and numba only, never ``fabsim``: the front depends on the
engine, not the other way round.

The kernel cache follows the code. Numba's ``cache=True`` checks only the source file of the
function it compiles, so a kernel cached from ``packet.py`` would keep the old code of a helper
it calls from ``wheel.py`` after that helper changes (numba/numba#1833). Every kernel of this
package is therefore cached in a directory named after a hash of the package's source:

    <base>/fabsim-native-<first 16 hex digits of the hash>

where ``<base>`` is ``$NUMBA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/fabsim`` (default
``~/.cache/fabsim``). Any edit to a file of this package, or another Numba or Python version,
gives a fresh directory. ``jit.py`` puts every kernel there when it is decorated. Directories of
other hashes that have not been used for ``PRUNE_AFTER_S`` are removed. When no directory can be
written (nor a fallback under the temporary directory), kernels compile in every process
instead of failing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numba

#: Prefix of the per-hash cache directories.
CACHE_PREFIX = "fabsim-native-"
#: A cache directory of another hash that has not been used for this long is removed.
PRUNE_AFTER_S = 30 * 24 * 3600


def source_hash() -> str:
    """SHA-256 over the names and bytes of this package's ``*.py`` files (sorted by name), the
    Numba version and the Python version: what a compiled kernel depends on."""
    h = hashlib.sha256()
    h.update(f"numba {numba.__version__}\0python {sys.version}\0".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def cache_base() -> Path:
    """Where the per-hash directories live: ``$NUMBA_CACHE_DIR``, else the user cache dir."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fabsim"


def _usable(path: Path) -> bool:
    """Create ``path`` if needed and check that a file can be written in it (as Numba does)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        os.utime(path)  # its modification time is its last use, for pruning
    except OSError:
        return False
    return True


def prune(base: Path, keep: Path, max_age_s: float = PRUNE_AFTER_S) -> None:
    """Remove ``base``'s ``fabsim-native-*`` directories, other than ``keep``, that have not been
    used for ``max_age_s``. Never raises: a directory that cannot be listed or removed stays."""
    cutoff = time.time() - max_age_s
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    for entry in entries:
        try:
            if (entry.name.startswith(CACHE_PREFIX) and entry.path != str(keep)
                    and entry.is_dir(follow_symlinks=False) and entry.stat().st_mtime < cutoff):
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


def _cache_dir() -> str | None:
    name = CACHE_PREFIX + source_hash()[:16]
    base = cache_base()
    if _usable(base / name):
        prune(base, base / name)
        return str(base / name)
    fallback = Path(tempfile.gettempdir()) / f"fabsim-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / name
    if _usable(fallback):
        return str(fallback)
    warnings.warn(
        f"fabsim: cannot write the kernel cache in {base} or {fallback.parent}; "
        "kernels will be compiled in every process", RuntimeWarning, stacklevel=2,
    )
    return None


#: The directory every kernel of this package is cached in; None when nothing is writable
#: (then kernels are compiled without ``cache=True``).
CACHE_DIR: str | None = _cache_dir()
