"""Write a run's traces and summary into its output directory, atomically, and read them back.

A run directory holds one file per trace, ``<trace>.arrow`` (Arrow IPC file format) or
``<trace>.parquet`` (zstd-compressed), JSON documents such as ``timeline.json``, plus
``summary.json``. :func:`write_run` builds it in a
hidden sibling ``.<name>.partial-<pid>`` and renames that into place only when every file is
written, so a directory named like the run is always complete: an interrupted write (Ctrl-C, an
exception) removes the partial directory, and a process killed outright leaves at most the hidden
partial directory behind. The bytes written depend only on the tables and the summary (no
timestamps), so identical runs give identical files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UsageError
from .schema import METADATA_KEYS, SCHEMA_VERSION, SCHEMAS

__all__ = ["FORMATS", "SUMMARY_FILE", "is_complete_run", "read_run", "read_summary", "write_run"]

#: Trace file formats and their file extensions.
FORMATS = {"arrow": ".arrow", "parquet": ".parquet"}

#: Written last, so its presence marks a finished run.
SUMMARY_FILE = "summary.json"

# zstd: good ratio at fast decompression, built into every pyarrow wheel, and deterministic.
_PARQUET_COMPRESSION = "zstd"


def write_run(
    out_dir: str | os.PathLike,
    tables: Mapping[str, pa.Table],
    summary: dict,
    fmt: str = "arrow",
    overwrite: bool = False,
    sources: Mapping[str, os.PathLike] | None = None,
    documents: Mapping[str, object] | None = None,
) -> Path:
    """Write ``tables`` (trace name → table in its §8 schema) and ``summary`` into ``out_dir``.

    ``out_dir`` and its parents are created. An existing non-empty ``out_dir`` is refused with a
    :class:`~fabsim.errors.UsageError` before anything is written, unless ``overwrite`` is set
    and it holds a finished run (``summary.json``): then the new run replaces it, and the old one
    is deleted only once the new one is in place. Traces are written in the order given;
    ``summary`` is written as indented JSON (keys in insertion order; NumPy scalars and arrays
    become JSON numbers and lists; NaN is refused). Returns ``Path(out_dir)``.

    ``sources`` maps a trace to the Arrow IPC file its table was read from (a run's spooled
    samples, ``fabsim.trace.spool``): that trace is copied from the file one record batch at a
    time, with the table's schema and metadata, so a long trace is never all in memory.

    ``documents`` maps a file name (``timeline.json``) to JSON-ready data, written compactly
    after the traces and before ``summary.json``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown trace format {fmt!r} (known: {', '.join(FORMATS)})")
    for name, table in tables.items():
        if name not in SCHEMAS:
            raise ValueError(f"unknown trace {name!r} (known: {', '.join(SCHEMAS)})")
        metadata = table.schema.metadata or {}
        if not table.schema.equals(SCHEMAS[name]) or any(k.encode() not in metadata for k in METADATA_KEYS):
            raise ValueError(f"{name} trace: the table lacks the {name} schema or its metadata "
                             "(use make_table)")
    for file in documents or {}:
        if Path(file).name != file or not file.endswith(".json") or file == SUMMARY_FILE:
            raise ValueError(f"document {file!r}: expected a plain file name ending in .json, not {SUMMARY_FILE}")
    out = Path(out_dir)
    full = Path(os.path.abspath(out))  # names the siblings even for "." or "runs/x/.."
    if not full.name:
        raise UsageError(f"{out} cannot be an output directory")
    check_out_dir(out, overwrite)

    full.parent.mkdir(parents=True, exist_ok=True)
    partial = full.with_name(f".{full.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed process that had our pid
    partial.mkdir()
    try:
        for name, table in tables.items():
            if sources and name in sources:
                _copy_batches(Path(sources[name]), partial / f"{name}{FORMATS[fmt]}", table.schema, fmt)
            else:
                _write_table(partial / f"{name}{FORMATS[fmt]}", table, fmt)
        for file, document in (documents or {}).items():
            _write_document(partial / file, document)
        text = json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
        (partial / SUMMARY_FILE).write_text(text + "\n", encoding="utf-8")
        _move_into_place(partial, full, overwrite)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out


def read_run(run_dir: str | os.PathLike) -> dict[str, pa.Table]:
    """The traces of a finished run, trace name → table, in schema order.

    Raises :class:`~fabsim.errors.UsageError` if ``run_dir`` is not a finished run or a trace was
    written with another schema version.
    """
    run = _finished_run(run_dir)
    tables = {}
    for name in SCHEMAS:
        paths = [run / f"{name}{ext}" for ext in FORMATS.values() if (run / f"{name}{ext}").is_file()]
        if len(paths) > 1:
            raise UsageError(f"{run}: both {paths[0].name} and {paths[1].name} exist")
        if paths:
            tables[name] = _read_table(paths[0])
    return tables


def read_summary(run_dir: str | os.PathLike) -> dict:
    """The ``summary.json`` of a finished run (``UsageError`` if there is none)."""
    return json.loads((_finished_run(run_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))


def is_complete_run(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` holds a finished run: its ``summary.json``, which is written last."""
    return (Path(run_dir) / SUMMARY_FILE).is_file()


def check_out_dir(target: Path, overwrite: bool) -> None:
    """Refuse an output path that is a file, or a non-empty directory we may not replace."""
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"output path {target} exists and is not a directory")
    if not any(target.iterdir()):
        return
    if not overwrite:
        raise UsageError(f"output directory {target} is not empty (use --overwrite to replace it)")
    if not is_complete_run(target):
        # --overwrite deletes the old directory; never do that to one fabsim did not write.
        raise UsageError(
            f"output directory {target} is not empty and holds no fabsim run ({SUMMARY_FILE}); "
            "refusing to replace it"
        )


def _move_into_place(partial: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished ``partial`` directory to ``target``, replacing an old run if allowed."""
    if target.exists():
        check_out_dir(target, overwrite)  # again: something may have appeared since the start
        if not any(target.iterdir()):
            target.rmdir()
    if not target.exists():
        partial.rename(target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(old)
    try:
        partial.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old)


def _write_document(path: Path, document: object) -> None:
    """A JSON file, compact (one line), its bytes depending only on ``document``."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(document, fh, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default)
        fh.write("\n")


def _write_table(path: Path, table: pa.Table, fmt: str) -> None:
    """One trace file; its bytes depend only on ``table``."""
    if fmt == "parquet":
        pq.write_table(table, path, compression=_PARQUET_COMPRESSION)
        return
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _copy_batches(source: Path, path: Path, schema: pa.Schema, fmt: str) -> None:
    """Write the record batches of the Arrow IPC file ``source`` into a trace file with
    ``schema`` (its metadata included), one batch in memory at a time. The result is the file
    :func:`_write_table` writes for a table with the same batches."""
    with pa.OSFile(str(source), "rb") as raw:
        reader = pa.ipc.open_file(raw)
        batches = (reader.get_batch(i).replace_schema_metadata(schema.metadata) for i in range(reader.num_record_batches))
        if fmt == "parquet":
            with pq.ParquetWriter(path, schema, compression=_PARQUET_COMPRESSION) as writer:
                for batch in batches:
                    writer.write_batch(batch)
            return
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)


def _read_table(path: Path) -> pa.Table:
    """A trace file written by :func:`_write_table` (Arrow files are memory-mapped)."""
    if path.suffix == FORMATS["parquet"]:
        table = pq.read_table(path)
    else:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
    version = (table.schema.metadata or {}).get(b"fabsim.schema_version", b"?").decode()
    if version != str(SCHEMA_VERSION):
        raise UsageError(f"{path}: trace schema version {version}; this fabsim reads {SCHEMA_VERSION}")
    return table


def _finished_run(run_dir: str | os.PathLike) -> Path:
    run = Path(run_dir)
    if not is_complete_run(run):
        raise UsageError(f"{run} is not a finished fabsim run (no {SUMMARY_FILE})")
    return run


def _json_default(value: object) -> object:
    """NumPy scalars and arrays as plain JSON values (``json.dumps`` refuses them otherwise)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"summary value of type {type(value).__name__} is not JSON serializable")
