"""Build trace tables from engine arrays, exactly in the schemas of :mod:`fabsim.trace.schema`.

Column values may be NumPy arrays, lists, or pyarrow arrays. Nulls are written as:

- ``None`` in a list (``[3, None, 5]``);
- masked entries of a ``numpy.ma.MaskedArray`` (``np.ma.masked_array(finish_ns, mask=~done)``),
  the form to use for engine arrays: the data under the mask is ignored;
- nulls of a pyarrow array.

A NaN in a float column is a value, not a null. Values are cast to the column's type with
overflow and truncation checks (an int64 id above 2³¹ − 1 or a float 1.5 for an int column is an
error), and label columns are dictionary-encoded in order of first appearance, so identical
inputs give identical tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from .arrays import from_numpy, strings

from .schema import METADATA_KEYS, SCHEMA_VERSION, SCHEMAS

__all__ = ["make_table", "trace_metadata"]


def trace_metadata(version: str, seed: int, scenario_json: str, protocol: Mapping | None = None) -> dict[str, str]:
    """The schema metadata every trace file carries (DESIGN §8).

    ``version`` is the fabsim version, ``seed`` the run's seed and ``scenario_json`` the resolved
    scenario serialised as JSON (a ``ValueError`` if it does not parse). ``protocol``, the
    resolved protocol parameters of the run (:func:`fabsim.scenario.protocol.protocol`), adds the key
    ``fabsim.protocol`` (JSON).
    """
    json.loads(scenario_json)
    meta = {
        "fabsim.version": version,
        "fabsim.schema_version": str(SCHEMA_VERSION),
        "fabsim.seed": str(int(seed)),
        "fabsim.scenario": scenario_json,
    }
    if protocol is not None:
        meta["fabsim.protocol"] = json.dumps(protocol, ensure_ascii=False)
    return meta


def make_table(name: str, columns: Mapping[str, object], metadata: Mapping[str, str]) -> pa.Table:
    """The ``name`` trace (``"flows"``, ``"links"``, …) as a table with exactly its schema.

    ``columns`` maps every column of the trace to its values (see the module docstring for the
    accepted forms and the null convention); ``metadata`` must hold the keys of
    :func:`trace_metadata` and may add others. Raises ``ValueError`` naming the trace and the
    column for an unknown trace, a missing or unexpected column, a value that does not convert,
    a null in a non-nullable column, or columns of different lengths.
    """
    if name not in SCHEMAS:
        raise ValueError(f"unknown trace {name!r} (known: {', '.join(SCHEMAS)})")
    schema = SCHEMAS[name]
    missing = [f.name for f in schema if f.name not in columns]
    if missing:
        raise ValueError(f"{name} trace: missing column {missing[0]!r}")
    unexpected = [c for c in columns if c not in schema.names]
    if unexpected:
        raise ValueError(f"{name} trace: unexpected column {unexpected[0]!r}")
    absent = [k for k in METADATA_KEYS if k not in metadata]
    if absent:
        raise ValueError(f"{name} trace: metadata lacks {absent[0]!r} (build it with trace_metadata)")

    arrays = [_column(name, field, columns[field.name]) for field in schema]
    first = schema.field(0).name
    for field, array in zip(schema, arrays):
        if len(array) != len(arrays[0]):
            raise ValueError(
                f"{name} trace: column {field.name!r} has {len(array)} rows "
                f"but column {first!r} has {len(arrays[0])}"
            )
    return pa.Table.from_arrays(arrays, schema=schema.with_metadata(dict(metadata)))


def _column(trace: str, field: pa.Field, values: object) -> pa.Array:
    """``values`` as an array of ``field``'s type; ``ValueError`` naming the column otherwise."""
    try:
        array = _convert(values, field.type)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as err:
        raise ValueError(
            f"{trace} trace: column {field.name!r}: cannot convert to {field.type}: {err}"
        ) from err
    if not field.nullable and array.null_count:
        raise ValueError(
            f"{trace} trace: column {field.name!r} cannot be null but has {array.null_count} nulls"
        )
    return array


def _numeric(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)


def _from_list(values: list, plain: pa.DataType) -> pa.Array:
    if not values:
        return pa.nulls(0, plain)
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, str) for v in present):
        if len(present) < len(values):
            return pa.array(values, type=plain)
        return strings(values).cast(plain)
    if _numeric(plain) and all(isinstance(v, (bool, int, float, np.generic)) for v in present):
        mask = np.array([v is None for v in values], np.bool_)
        data = np.array([0 if v is None else v for v in values])
        if data.dtype.kind in "biuf":
            return from_numpy(data, mask if mask.any() else None).cast(plain)
    return pa.array(values, type=plain)


def _convert(values: object, dtype: pa.DataType) -> pa.Array:
    """``values`` as a single-chunk array of ``dtype`` (label columns dictionary-encoded)."""
    label = pa.types.is_dictionary(dtype)
    plain = dtype.value_type if label else dtype
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        array = values.cast(dtype if pa.types.is_dictionary(values.type) else plain)
    elif np.ma.isMaskedArray(values) and _numeric(plain):
        array = from_numpy(np.ma.getdata(values), np.ma.getmaskarray(values)).cast(plain)
    elif np.ma.isMaskedArray(values):
        array = pa.array(np.ma.getdata(values), type=plain, mask=np.ma.getmaskarray(values))
    elif isinstance(values, np.ndarray) and _numeric(plain):
        array = from_numpy(values).cast(plain)
    else:
        array = _from_list(list(values), plain)
    if label and not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    return array.cast(dtype)
