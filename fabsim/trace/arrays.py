"""NumPy → Arrow without ``pyarrow.array``.

``pyarrow.array`` imports pandas (when it is installed) to check whether its input is a pandas
object, which costs a quarter of a second in every run. Engine columns are plain NumPy arrays,
so they are wrapped as Arrow buffers directly; anything else goes through ``pyarrow.array``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _validity(valid: np.ndarray | None) -> pa.Buffer | None:
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def from_numpy(values, mask: np.ndarray | None = None) -> pa.Array:
    """``values`` (a 1-D array of bool, int, uint or float) as an Arrow array; ``mask`` True = null."""
    data = np.ascontiguousarray(values)
    valid = None if mask is None else ~np.asarray(mask, np.bool_)
    if data.ndim != 1 or data.dtype.kind not in "biuf" or not data.dtype.isnative:
        return pa.array(values, mask=mask)
    n = data.shape[0]
    if data.dtype.kind == "b":
        buf = pa.py_buffer(np.packbits(data, bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), n, [_validity(valid), buf])
    return pa.Array.from_buffers(pa.from_numpy_dtype(data.dtype), n, [_validity(valid), pa.py_buffer(data)])


def strings(values: list[str]) -> pa.Array:
    """A list of Python strings as an Arrow ``string`` array."""
    encoded = [s.encode("utf-8") for s in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
    )
