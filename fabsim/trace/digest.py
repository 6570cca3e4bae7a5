"""A content digest of a trace table: equal digests, equal results.

The digest covers every column's name, type, validity and values (labels as their strings), not
the bytes of a file, so it is the same for the Arrow and the Parquet form of a trace and does
not depend on how pyarrow lays out buffers or chunks. ``tools/trace_digests`` records the
digests of every shipped scenario; the test suite checks that a change leaves them alone unless
it means to change results.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

__all__ = ["table_digest"]


def table_digest(table: pa.Table) -> str:
    """SHA-256 (hex) of ``table``'s content, column by column."""
    h = hashlib.sha256()
    for name, column in zip(table.column_names, table.columns):
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        h.update(f"{name}:{array.type}\0".encode())
        valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), np.bool_)
        h.update(np.packbits(valid).tobytes())
        if pa.types.is_string(array.type):
            h.update("\0".join("" if v is None else v for v in array.to_pylist()).encode())
        else:
            values = array.fill_null(False if pa.types.is_boolean(array.type) else 0)
            h.update(np.ascontiguousarray(values.to_numpy(zero_copy_only=False)).tobytes())
    return h.hexdigest()
