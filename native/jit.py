"""The one decorator that owns JIT policy for every kernel in ``native/``.

Every kernel is compiled with ``cache=True`` (compiled once per machine, loaded from the
on-disk cache afterwards; the cache directory is keyed by the package's source, see
``__init__.py``), ``nogil=True`` (the driver may run a kernel in a thread) and the
NumPy error model (division by zero gives inf/nan instead of raising: no exceptions in hot
loops).  ``fastmath`` stays off: results must not depend on the reassociation LLVM picks.
"""

from __future__ import annotations

import numba
from numba.core import config

from . import CACHE_DIR

_POLICY = dict(cache=CACHE_DIR is not None, nogil=True, error_model="numpy")


def _njit(f, opts):
    """``numba.njit(**opts)(f)`` with its cache in ``CACHE_DIR``.

    Numba reads ``config.CACHE_DIR`` once per function, when the decorator builds its cache
    locator; the setting is restored afterwards so that other code's ``cache=True`` functions
    keep Numba's own location.
    """
    saved = config.CACHE_DIR
    config.CACHE_DIR = CACHE_DIR or saved
    try:
        return numba.njit(**opts)(f)
    finally:
        config.CACHE_DIR = saved


def kernel(fn=None, **overrides):
    """``@kernel`` or ``@kernel(inline="always")``: ``numba.njit`` with fabsim's policy."""
    opts = dict(_POLICY)
    opts.update(overrides)

    def wrap(f):
        return _njit(f, opts)

    return wrap(fn) if fn is not None else wrap


def hot(fn=None, **overrides):
    """``kernel`` without reference counting, for hot-loop code that never allocates.

    Numba increments and decrements a reference count for every array argument of every call
    that LLVM does not inline — in a packet kernel that is most of the time. ``_nrt=False``
    (a Numba-internal option) compiles a function without the NRT, so it must not allocate,
    raise or return arrays; the packet engine's hot helpers only index preallocated arrays.
    """
    opts = dict(_POLICY, _nrt=False)
    opts.update(overrides)

    def wrap(f):
        return _njit(f, opts)

    return wrap(fn) if fn is not None else wrap
