"""Run traces (DESIGN §8): Arrow schemas, table building, the run-directory writer and reader.

Typical use by the engine driver::

    meta = trace_metadata(fabsim.__version__, seed, scenario_json)
    tables = {"flows": make_table("flows", flow_columns, meta), ...}
    write_run("runs/x", tables, summary, fmt="arrow")

and by analysis code: ``read_run("runs/x")["flows"].to_pandas()``. Column meanings and reading
recipes are in ``docs/traces.md``.
"""

from .schema import COLUMNS, METADATA_KEYS, SCHEMA_VERSION, SCHEMAS, TRACES
from .stats import percentiles
from .tables import make_table, trace_metadata
from .writer import FORMATS, SUMMARY_FILE, is_complete_run, read_run, read_summary, write_run

__all__ = [
    "COLUMNS", "FORMATS", "METADATA_KEYS", "SCHEMAS", "SCHEMA_VERSION", "SUMMARY_FILE", "TRACES",
    "is_complete_run", "make_table", "percentiles", "read_run", "read_summary", "trace_metadata",
    "write_run",
]
