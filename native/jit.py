"""The one decorator that owns JIT policy for every kernel in ``native/``.

Every kernel is compiled with ``cache=True`` (compiled once per machine, loaded from the
on-disk cache afterwards; the cache directory is keyed by the package's source, see
``__init__.py``), ``nogil=True`` (the driver may run a kernel in a thread) and the
NumPy error model (division by zero gives inf/nan instead of raising: no exceptions in hot
loops).  ``fastmath`` stays off: results must not depend on the reassociation LLVM picks.

A negative index does not count from the end in this package's compiled code, as in C: an
index is an offset, and the kernels never index with a negative number (−1 means "none" and is
tested before use). Numba otherwise adds the dimension to every signed index that might be
negative, three instructions and a load on every array access (``_no_wraparound``).
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.core.extending import intrinsic

from . import CACHE_DIR

_POLICY = dict(cache=CACHE_DIR is not None, nogil=True, error_model="numpy")

#: How Numba's mangled names of this package's functions begin (``fabsim.native.…``).
_OURS = "_ZN6fabsim6native"


def _no_wraparound():
    """Compile this package's array indexing without Python's negative-index wraparound.

    Numba lowers ``a[i]`` for a signed ``i`` as ``a[i + n if i < 0 else i]``: in the packet
    kernel's event loop, where the array bases and sizes live on the stack, that is a load and
    three instructions on each of its hundreds of array accesses, and it lengthens every chain
    of dependent loads (the packet kernel at fat-tree k = 16: 0.80 × the time without it). The
    hook asks who is being lowered — the LLVM function's mangled name — and leaves every other
    function, Numba's own and users', as Numba compiles it. Set here, before any kernel is
    compiled; the source hash that keys the cache covers this file.
    """
    from numba.np import arrayobj

    numba_fix = getattr(arrayobj, "fix_integer_index", None)
    if numba_fix is None or getattr(numba_fix, "fabsim", False):
        return  # a Numba without this helper: its indexing as it is (slower, the same results)

    def fix_integer_index(context, builder, idxty, idx, size, *more, **named):
        if idxty.signed and builder.function.name.startswith(_OURS):
            return context.cast(builder, idx, idxty, types.intp)
        return numba_fix(context, builder, idxty, idx, size, *more, **named)

    fix_integer_index.fabsim = True
    arrayobj.fix_integer_index = fix_integer_index


_no_wraparound()


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


@intrinsic
def prefetch(typingctx, arr, idx):
    """``prefetch(a, i)``: ask the CPU to bring the cache line of ``a[i]`` (``a[i, 0]`` of a 2-d
    array) closer (LLVM's ``llvm.prefetch``: a read, kept in every cache level). A hint: it
    changes no value, and an index outside the array (−1 for "none") is harmless: a prefetch
    never faults."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [index] + [zero] * (aryty.ndim - 1),
                                       wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        # named for the pointer type by llvmlite (llvm.prefetch.p0i8 or .p0, as LLVM's version wants)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
