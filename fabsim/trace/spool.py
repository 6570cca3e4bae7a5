"""Sampled traces (``queues``, ``rates``) written to disk while a run produces them.

A long run samples its queues every ``output.queue_sample``: kept in memory, the samples would
grow with the simulated time (DESIGN §10). A :class:`Spool` collects the columns of one trace in
NumPy arrays and writes them as one Arrow record batch whenever ``batch_rows`` rows have
accumulated, into an Arrow IPC file in a private temporary directory; :meth:`Spool.table` maps
that file back as a table (memory-mapped: its pages are the operating system's cache, not the
process's heap), which the run's ``Result`` holds; writing the run copies the file batch by
batch (``trace.writer``), so no step holds the whole trace. The batch boundaries depend only on
the rows, so identical runs give identical files.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np
import pyarrow as pa

from .arrays import from_numpy
from .schema import SCHEMAS

__all__ = ["Spool", "SpoolDir"]

_NUMPY = {pa.int32(): np.int32, pa.int64(): np.int64, pa.float64(): np.float64}

#: Rows per record batch: large enough for fast scans, small enough to bound the buffer
#: (1 Mi rows of ``queues`` are 20 MiB).
BATCH_ROWS = 1 << 20


class SpoolDir:
    """A temporary directory for the spools of one run, removed by :meth:`cleanup` or when the
    object is garbage-collected (the run's ``RawRun`` and ``Result`` hold it while their tables
    map its files)."""

    def __init__(self):
        self.path = Path(tempfile.mkdtemp(prefix="fabsim-samples-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), ignore_errors=True)
        self._spools: list[Spool] = []

    def spool(self, name: str, batch_rows: int | None = None) -> "Spool":
        spool = Spool(name, self.path / f"{name}.arrow", batch_rows or BATCH_ROWS)
        self._spools.append(spool)
        return spool

    def written(self) -> dict[str, Path]:
        """Trace name → file, for every spool whose file is complete (read back by ``table``)."""
        return {s.name: s.path for s in self._spools if s.complete}

    def cleanup(self) -> None:
        self._finalizer()


class Spool:
    """Rows of trace ``name`` (its §8 schema, columns as NumPy arrays) appended in any number of
    calls and written in batches of ``batch_rows``."""

    def __init__(self, name: str, path: Path, batch_rows: int = BATCH_ROWS):
        self.name = name
        self.schema = SCHEMAS[name]
        self.path = path
        self.batch_rows = batch_rows
        self.rows = 0
        self.complete = False  # every row is in the file
        self._parts: list[list[np.ndarray]] = [[] for _ in self.schema]
        self._buffered = 0
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_file(self._sink, self.schema)

    def append(self, *columns: np.ndarray) -> None:
        """One block of rows: a NumPy array per column, in schema order, of equal lengths."""
        n = len(columns[0])
        if not n:
            return
        for parts, values in zip(self._parts, columns):
            parts.append(values)
        self._buffered += n
        self.rows += n
        while self._buffered >= self.batch_rows:
            self._flush(self.batch_rows)

    def _flush(self, rows: int) -> None:
        """Write the first ``rows`` buffered rows as one record batch."""
        arrays = []
        for i, (field, parts) in enumerate(zip(self.schema, self._parts)):
            joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
            head, rest = joined[:rows], joined[rows:]
            self._parts[i] = [rest] if rest.size else []
            arrays.append(from_numpy(head.astype(_NUMPY[field.type], copy=False)))
        self._buffered -= rows
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))

    def table(self, metadata: dict[str, str]) -> pa.Table:
        """Close the file and map it back as a table with ``metadata``."""
        if self._writer is not None:
            if self._buffered:
                self._flush(self._buffered)
            self._writer.close()
            self._sink.close()
            self._writer = None
            self.complete = True
        with pa.memory_map(str(self.path)) as source:
            table = pa.ipc.open_file(source).read_all()
        return table.replace_schema_metadata(dict(metadata))

    def columns(self) -> tuple[np.ndarray, ...]:
        """Every row so far, a NumPy array per column (for tests and small runs)."""
        table = self.table({})
        return tuple(table.column(i).to_numpy() for i in range(table.num_columns))

    def close(self) -> None:
        """Close without reading back (on an error or an interruption)."""
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = None
