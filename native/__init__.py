"""fabsim's engine: Numba kernels over NumPy arrays (installed as ``fabsim.native``).

This package imports numpy and numba only, never ``fabsim``: the front depends on the
engine, not the other way round.
"""
