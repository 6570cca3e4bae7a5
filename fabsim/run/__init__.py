"""The engine drivers: a model and a flow table in, the kernel run in slices, a ``RawRun`` out.

``slicer`` (slice ends, progress reports), ``record`` (``RawRun``), ``paths`` (flow paths and
ECMP hash ids), ``failures`` (the failure schedule), ``packet`` and ``flow`` (the two drivers).
"""
