"""Tail statistics for ``summary.json`` (FCT, slowdown, iteration time)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["percentiles"]

# Summary key → percentile (in %).
_QUANTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99_9": 99.9}


def percentiles(values: object) -> dict[str, float | int | None]:
    """``p50``, ``p90``, ``p99``, ``p99_9``, ``max``, ``mean`` and ``count`` of ``values``.

    ``values`` is anything NumPy or pyarrow holds: a list, an array, a masked array, a pyarrow
    (chunked) array. Nulls (``None``, masked entries, Arrow nulls) and NaNs are left out, so an
    ``fct_ns`` column with unfinished flows gives the statistics of the finished ones, and
    ``count`` says how many those are. Percentiles use NumPy's default ``linear`` method (the
    value at rank ``q·(count − 1)``, interpolated between its two neighbours). Results are
    Python floats (``count`` an int), and ``None`` for every statistic when no value is left, so
    the dict always serialises to standard JSON.
    """
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = pc.drop_null(values).to_numpy()
    elif np.ma.isMaskedArray(values):
        values = values.compressed()
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return {**dict.fromkeys(_QUANTILES), "max": None, "mean": None, "count": 0}
    qs = np.percentile(x, list(_QUANTILES.values()), method="linear")
    return {
        **{key: float(q) for key, q in zip(_QUANTILES, qs)},
        "max": float(x.max()),
        "mean": float(x.mean()),
        "count": int(x.size),
    }
