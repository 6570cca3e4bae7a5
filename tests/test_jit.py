"""The JIT policy of fabsim.native (native/jit.py): this package's compiled code indexes without
Python's negative-index wraparound, and nobody else's code is changed by that."""

from __future__ import annotations

import types

import numba
import numpy as np

from fabsim.native.jit import _OURS  # importing native.jit installs the indexing hook


def _get(a, i):
    return a[i]


def _compiled_as(module):
    """``_get`` compiled as if it were defined in ``module`` (Numba names functions after it)."""
    f = types.FunctionType(_get.__code__, {}, "_get")
    f.__module__ = module
    d = numba.njit(f)
    assert d(np.arange(3), np.int64(1)) == 1
    return d


def _wrap_compares(d):
    """The signed ``i < 0`` tests in the compiled function's IR: one per wrapped index."""
    return sum("icmp slt" in line for line in d.inspect_llvm(d.signatures[0]).splitlines())


def test_native_code_indexes_without_wraparound():
    d = _compiled_as("fabsim.native._probe")
    assert d.overloads[d.signatures[0]].fndesc.mangled_name.startswith(_OURS)
    assert _wrap_compares(d) == 0


def test_other_code_keeps_numbas_indexing():
    d = _compiled_as("tests.probe")
    assert _wrap_compares(d) == 1
    assert d(np.arange(3), np.int64(-1)) == 2
    assert numba.njit(lambda a: a[-1])(np.arange(4)) == 3
