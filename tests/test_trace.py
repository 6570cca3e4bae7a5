"""Trace layer: schemas of DESIGN §8, table building, the atomic run writer and reader, statistics."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from fabsim.errors import UsageError
from fabsim.trace import (
    COLUMNS, FORMATS, SCHEMA_VERSION, SCHEMAS, TRACES, is_complete_run, make_table, percentiles,
    read_run, read_summary, trace_metadata, write_run,
)
from fabsim.trace import writer

DOCS = Path(__file__).resolve().parent.parent / "docs" / "traces.md"

# The §8 columns in file order, typed as the trace contract says: i32 ids, i64 bytes/counts/times,
# f64 ratios and rates, bool flags, dictionary-encoded labels; "?" marks a nullable column.
EXPECTED = {
    "flows": "flow_id:i32 src:i32 dst:i32 size_bytes:i64 start_ns:i64? finish_ns:i64? fct_ns:i64? "
             "ideal_fct_ns:i64 slowdown:f64? tag:label job:label? phase:label? scaleup:bool "
             "collective:i32? iteration:i32? "
             "step:i32? packets:i64 retransmitted_bytes:i64 retransmitted_trim_bytes:i64 ecn_marked:i64 drops:i64 trimmed:i64 "
             "failure_hit:bool completed:bool status:label",
    "collectives": "job:label iteration:i32 op:label algorithm:label ranks:i32 size_bytes:i64 "
                   "start_ns:i64? finish_ns:i64? duration_ns:i64? ideal_ns:i64 algbw_gbps:f64? "
                   "busbw_gbps:f64? compute_ns:i64 idle_fraction:f64?",
    "links": "link_id:i32 src_node:label dst_node:label tier:label rate_bps:i64 tx_bytes:i64 "
             "utilization:f64 max_queue_bytes:i64 mean_queue_bytes:f64 drops:i64 failure_drops:i64 trimmed:i64 "
             "ecn_marked:i64 pause_ns:i64 down_ns:i64",
    "queues": "t_ns:i64 link_id:i32 queue_bytes:i64",
    "failures": "failure_id:i32 target:label tier:label at_ns:i64 detected_ns:i64? restored_ns:i64? "
                "dropped_packets:i64 dropped_bytes:i64 flows_hit:i64 flows_rerouted:i64 hosts_hit:i64 "
                "jobs_hit:i64 added_delay_ns:i64?",
    "baseline": "kind:label id:i32 time_ns:i64? baseline_ns:i64? added_ns:i64?",
    "jobs": "job:label iteration:i32 start_ns:i64? finish_ns:i64? iteration_ns:i64? ideal_ns:i64 "
            "compute_ns:i64? exposed_tp_ns:i64? exposed_pp_ns:i64? exposed_dp_ns:i64? "
            "exposed_ep_ns:i64? bubble_ns:i64? idle_fraction:f64?",
    "rates": "t_ns:i64 flow_id:i32 rate_bps:f64 target_bps:f64 alpha:f64",
}
TYPES = {
    "i32": pa.int32(), "i64": pa.int64(), "f64": pa.float64(), "bool": pa.bool_(),
    "label": pa.dictionary(pa.int32(), pa.string()),
}
DOC_TYPES = {pa.int32(): "int32", pa.int64(): "int64", pa.float64(): "float64", pa.bool_(): "bool"}

SCENARIO_JSON = json.dumps({"run": {"name": "t", "seed": 3}, "topology": {"kind": "star", "hosts": 4}})
META = trace_metadata("0.1.0", 3, SCENARIO_JSON)
NULL_ROW = 1  # the row that is null in every nullable column of the synthetic tables


def sample_columns(name: str) -> dict[str, object]:
    """Three rows for every column of a trace; nullable columns null in row NULL_ROW.

    Int nulls come as a masked array (the engine's form), float and label nulls as ``None`` in a
    list, so both null conventions are exercised in every trace that has nullable columns.
    """
    mask = np.arange(3) == NULL_ROW
    columns: dict[str, object] = {}
    for i, field in enumerate(SCHEMAS[name]):
        if pa.types.is_dictionary(field.type):
            values = [f"{field.name}-a", f"{field.name}-b", f"{field.name}-a"]
        elif pa.types.is_boolean(field.type):
            values = [True, False, i % 2 == 0]
        elif pa.types.is_floating(field.type):
            values = [0.5 * i, 1.25, 2.0**40]
        else:
            values = [i, 7, 2**31 - 1]
        if not field.nullable:
            columns[field.name] = values if pa.types.is_dictionary(field.type) else np.array(values)
        elif pa.types.is_integer(field.type):
            columns[field.name] = np.ma.masked_array(np.array(values, dtype=np.int64), mask=mask)
        else:
            columns[field.name] = [None if m else v for v, m in zip(values, mask)]
    return columns


def expected_rows(name: str) -> dict[str, list]:
    """What ``sample_columns(name)`` reads back as, column by column (Python values)."""
    rows = {}
    for field_name, values in sample_columns(name).items():
        if np.ma.isMaskedArray(values):
            rows[field_name] = [None if m else int(v) for v, m in zip(values.data, values.mask)]
        else:
            rows[field_name] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return rows


def all_tables() -> dict[str, pa.Table]:
    return {name: make_table(name, sample_columns(name), META) for name in TRACES}


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (relative name → bytes)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ---- schemas -------------------------------------------------------------------------------------


def test_trace_names_are_those_of_design_section_8():
    # DESIGN §8's, and `baseline` for the added times of §6 (fabsim run --baseline)
    assert TRACES == ("flows", "collectives", "links", "queues", "failures", "baseline", "jobs", "rates")


@pytest.mark.parametrize("name", TRACES)
def test_schema_has_exactly_the_section_8_columns_in_order_with_their_types(name):
    expected = [spec.split(":") for spec in EXPECTED[name].split()]
    schema = SCHEMAS[name]
    assert schema.names == [column for column, _ in expected]
    for field, (_, kind) in zip(schema, expected):
        assert field.type == TYPES[kind.rstrip("?")], field.name
        assert field.nullable == kind.endswith("?"), field.name


@pytest.mark.parametrize("name", TRACES)
def test_every_column_is_documented_in_columns_and_field_metadata(name):
    assert list(COLUMNS[name]) == SCHEMAS[name].names
    for field in SCHEMAS[name]:
        assert COLUMNS[name][field.name]
        assert field.metadata[b"description"].decode() == COLUMNS[name][field.name]


@pytest.mark.parametrize("name", TRACES)
def test_docs_show_each_trace_as_its_schema_table(name):
    rows = [
        f"| `{f.name}` | "
        + ("string (dictionary)" if pa.types.is_dictionary(f.type) else DOC_TYPES[f.type])
        + (", nullable" if f.nullable else "")
        + f" | {COLUMNS[name][f.name]} |"
        for f in SCHEMAS[name]
    ]
    table = "\n".join(["| column | type | meaning |", "|---|---|---|", *rows])
    section = re.search(rf"^### {name}\n(.*?)(?=^#)", DOCS.read_text(), re.S | re.M)
    assert section and table in section.group(1)


def test_trace_metadata_carries_version_schema_version_seed_and_scenario():
    assert META == {
        "fabsim.version": "0.1.0",
        "fabsim.schema_version": str(SCHEMA_VERSION),
        "fabsim.seed": "3",
        "fabsim.scenario": SCENARIO_JSON,
    }
    with pytest.raises(ValueError):
        trace_metadata("0.1.0", 3, "{not json")


def test_trace_metadata_carries_the_resolved_protocol_when_given():
    protocol = {"cc": {"algorithm": "none", "preset": "hpcc", "dcqcn": None}, "ecn": {"at": "enqueue"}}
    meta = trace_metadata("0.1.0", 3, SCENARIO_JSON, protocol)
    assert json.loads(meta.pop("fabsim.protocol")) == protocol
    assert meta == META


# ---- make_table ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TRACES)
def test_make_table_round_trips_values_nulls_labels_and_metadata(name):
    table = make_table(name, sample_columns(name), META)
    assert table.schema.equals(SCHEMAS[name])
    assert {k.decode(): v.decode() for k, v in table.schema.metadata.items()} == META
    assert table.to_pydict() == expected_rows(name)
    for field in SCHEMAS[name]:
        column = table[field.name]
        assert column.num_chunks == 1
        assert column.null_count == (1 if field.nullable else 0), field.name
        if pa.types.is_dictionary(field.type):
            labels = [v for v in dict.fromkeys(expected_rows(name)[field.name]) if v is not None]
            assert column.chunk(0).dictionary.to_pylist() == labels  # in order of first appearance


def test_make_table_accepts_pyarrow_arrays_and_foreign_dictionaries():
    columns = sample_columns("links")
    columns["link_id"] = pa.chunked_array([[0, 1], [2]], type=pa.int64())
    columns["tier"] = pa.array(["host", "tor-agg", "host"]).dictionary_encode().cast(
        pa.dictionary(pa.int8(), pa.large_string()))
    table = make_table("links", columns, META)
    assert table["link_id"].to_pylist() == [0, 1, 2]
    assert table["tier"].to_pylist() == ["host", "tor-agg", "host"]
    assert table.schema.equals(SCHEMAS["links"])


def test_make_table_encodes_an_empty_trace():
    table = make_table("queues", {"t_ns": [], "link_id": [], "queue_bytes": np.array([], np.int64)}, META)
    assert table.num_rows == 0 and table.schema.equals(SCHEMAS["queues"])


@pytest.mark.parametrize("name", TRACES)
def test_make_table_names_the_trace_and_a_missing_column(name):
    columns = sample_columns(name)
    dropped = SCHEMAS[name].names[-1]
    del columns[dropped]
    with pytest.raises(ValueError, match=rf"^{name} trace: missing column '{dropped}'"):
        make_table(name, columns, META)


@pytest.mark.parametrize("name", TRACES)
def test_make_table_names_the_trace_and_an_unexpected_column(name):
    with pytest.raises(ValueError, match=rf"^{name} trace: unexpected column 'extra'"):
        make_table(name, {**sample_columns(name), "extra": [1, 2, 3]}, META)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("link_id", [0, None, 2], "column 'link_id' cannot be null"),
        ("link_id", np.array([0, 1, 2**31]), "column 'link_id': cannot convert to int32"),
        ("tx_bytes", np.array([0.0, 1.5, 2.0]), "column 'tx_bytes': cannot convert to int64"),
        ("tier", [1, 2, 3], "column 'tier': cannot convert"),
        ("drops", np.arange(4), "column 'drops' has 4 rows but column 'link_id' has 3"),
    ],
)
def test_make_table_rejects_bad_values_naming_the_column(column, values, message):
    with pytest.raises(ValueError, match=rf"^links trace: {re.escape(message)}"):
        make_table("links", {**sample_columns("links"), column: values}, META)


def test_make_table_rejects_an_unknown_trace_and_incomplete_metadata():
    with pytest.raises(ValueError, match="unknown trace 'flow'"):
        make_table("flow", {}, META)
    meta = {k: v for k, v in META.items() if k != "fabsim.seed"}
    with pytest.raises(ValueError, match="queues trace: metadata lacks 'fabsim.seed'"):
        make_table("queues", sample_columns("queues"), meta)


# ---- write_run / read_run --------------------------------------------------------------------------

SUMMARY = {"name": "t", "seed": np.int64(3), "fct_ns": percentiles([10, 20, 30]), "empty": percentiles([])}


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_then_read_round_trips_every_trace_and_the_summary(tmp_path, fmt):
    tables = all_tables()
    out = write_run(tmp_path / "runs" / "t", tables, SUMMARY, fmt=fmt)
    assert out == tmp_path / "runs" / "t"
    assert sorted(os.listdir(out)) == sorted([f"{n}.{fmt}" for n in TRACES] + ["summary.json"])
    assert os.listdir(out.parent) == ["t"]
    assert is_complete_run(out)
    back = read_run(out)
    assert list(back) == list(TRACES)
    for name in TRACES:
        assert back[name].equals(tables[name], check_metadata=True), name
    assert read_summary(out) == json.loads(json.dumps({**SUMMARY, "seed": 3}))
    assert list(read_summary(out)) == list(SUMMARY)


@pytest.mark.parametrize("fmt", FORMATS)
def test_traces_read_in_pandas(tmp_path, fmt):
    pd = pytest.importorskip("pandas")
    out = write_run(tmp_path / "t", all_tables(), SUMMARY, fmt=fmt)
    path = out / f"flows.{fmt}"
    flows = read_run(out)["flows"].to_pandas()
    direct = pd.read_feather(path) if fmt == "arrow" else pd.read_parquet(path)
    pd.testing.assert_frame_equal(flows, direct)
    assert list(flows.columns) == SCHEMAS["flows"].names
    assert isinstance(flows["tag"].dtype, pd.CategoricalDtype)
    assert flows["fct_ns"].isna().tolist() == [False, True, False]
    assert flows["flow_id"].tolist() == expected_rows("flows")["flow_id"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_traces_read_in_polars(tmp_path, fmt):
    pl = pytest.importorskip("polars")
    out = write_run(tmp_path / "t", all_tables(), SUMMARY, fmt=fmt)
    read = pl.read_ipc if fmt == "arrow" else pl.read_parquet
    for name in TRACES:
        frame = read(out / f"{name}.{fmt}")
        assert frame.columns == SCHEMAS[name].names
        assert frame.to_dict(as_series=False) == expected_rows(name), name


@pytest.mark.parametrize("fmt", FORMATS)
def test_identical_tables_give_identical_bytes(tmp_path, fmt):
    first = write_run(tmp_path / "a", all_tables(), SUMMARY, fmt=fmt)
    second = write_run(tmp_path / "b", all_tables(), SUMMARY, fmt=fmt)
    assert tree(first) == tree(second)


def test_a_non_empty_directory_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "t"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=rf"^output directory {re.escape(str(out))} is not empty "
                                         r"\(use --overwrite to replace it\)$"):
        write_run(out, all_tables(), SUMMARY)
    assert tree(tmp_path) == {"t/notes.txt": b"mine"}


def test_an_empty_directory_or_missing_parents_are_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    assert is_complete_run(write_run(tmp_path / "empty", all_tables(), SUMMARY))
    assert is_complete_run(write_run(tmp_path / "a" / "b" / "c", all_tables(), SUMMARY))


def test_overwrite_replaces_a_finished_run(tmp_path):
    out = write_run(tmp_path / "t", all_tables(), {"run": 1}, fmt="parquet")
    write_run(out, {"queues": all_tables()["queues"]}, {"run": 2}, overwrite=True)
    assert sorted(os.listdir(out)) == ["queues.arrow", "summary.json"]
    assert read_summary(out) == {"run": 2}
    assert os.listdir(tmp_path) == ["t"]


def test_overwrite_never_deletes_a_directory_that_holds_no_run(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds no fabsim run"):
        write_run(tmp_path / "t", all_tables(), SUMMARY, overwrite=True)
    assert tree(tmp_path) == {"t/notes.txt": b"mine"}


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "t").write_text("x")
    with pytest.raises(UsageError, match="is not a directory"):
        write_run(tmp_path / "t", all_tables(), SUMMARY, overwrite=True)


def interrupt_after_first_table(monkeypatch):
    """Make the writer raise KeyboardInterrupt (Ctrl-C) once one trace file is written."""
    real = writer._write_table
    written = []

    def write_then_interrupt(path, table, fmt):
        if written:
            raise KeyboardInterrupt
        real(path, table, fmt)
        written.append(path)

    monkeypatch.setattr(writer, "_write_table", write_then_interrupt)
    return written


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_interrupted_write_leaves_no_run_and_no_partial_directory(tmp_path, monkeypatch, fmt):
    written = interrupt_after_first_table(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_run(tmp_path / "t", all_tables(), SUMMARY, fmt=fmt)
    assert written and written[0].parent.name.startswith(".t.partial-")
    assert os.listdir(tmp_path) == []


def test_an_interrupted_overwrite_keeps_the_old_run(tmp_path, monkeypatch):
    out = write_run(tmp_path / "t", all_tables(), {"run": 1})
    before = tree(tmp_path)
    interrupt_after_first_table(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_run(out, all_tables(), {"run": 2}, overwrite=True)
    assert tree(tmp_path) == before


def test_a_summary_that_is_not_standard_json_writes_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_run(tmp_path / "t", all_tables(), {"mean": float("nan")})
    assert os.listdir(tmp_path) == []


def test_write_run_rejects_unknown_formats_traces_and_schemas(tmp_path):
    with pytest.raises(ValueError, match="unknown trace format 'csv'"):
        write_run(tmp_path / "t", all_tables(), SUMMARY, fmt="csv")
    with pytest.raises(ValueError, match="unknown trace 'flow'"):
        write_run(tmp_path / "t", {"flow": all_tables()["flows"]}, SUMMARY)
    with pytest.raises(ValueError, match="links trace: the table lacks the links schema or its metadata"):
        write_run(tmp_path / "t", {"links": all_tables()["queues"]}, SUMMARY)
    with pytest.raises(ValueError, match="queues trace: the table lacks the queues schema or its metadata"):
        write_run(tmp_path / "t", {"queues": all_tables()["queues"].replace_schema_metadata()}, SUMMARY)
    assert os.listdir(tmp_path) == []


def test_reading_an_unfinished_run_is_a_usage_error(tmp_path):
    (tmp_path / "t").mkdir()
    assert not is_complete_run(tmp_path / "t")
    with pytest.raises(UsageError, match="is not a finished fabsim run"):
        read_run(tmp_path / "t")
    with pytest.raises(UsageError, match="is not a finished fabsim run"):
        read_summary(tmp_path / "t")


def test_reading_another_schema_version_is_a_usage_error(tmp_path):
    table = all_tables()["queues"]
    table = table.replace_schema_metadata({**META, "fabsim.schema_version": "99"})
    out = write_run(tmp_path / "t", {"queues": table}, SUMMARY)
    with pytest.raises(UsageError, match="trace schema version 99"):
        read_run(out)


# ---- percentiles -----------------------------------------------------------------------------------


def test_percentiles_match_numpy_linear_interpolation():
    values = np.random.default_rng(1).exponential(1e4, size=1001).astype(np.int64)
    stats = percentiles(values)
    for key, q in {"p50": 50, "p90": 90, "p99": 99, "p99_9": 99.9}.items():
        assert stats[key] == pytest.approx(np.percentile(values, q), rel=1e-12)
    assert stats["max"] == values.max() and stats["mean"] == pytest.approx(values.mean())
    assert stats["count"] == 1001
    assert list(stats) == ["p50", "p90", "p99", "p99_9", "max", "mean", "count"]


@pytest.mark.parametrize(
    "values",
    [
        [1, None, 3, float("nan")],
        np.ma.masked_array([1, 2, 3], mask=[False, True, False]),
        pa.chunked_array([[1, None], [3]]),
    ],
)
def test_percentiles_leave_out_nulls_and_nans(values):
    assert percentiles(values) == {"p50": 2.0, "p90": 2.8, "p99": 2.98, "p99_9": pytest.approx(2.998),
                                   "max": 3.0, "mean": 2.0, "count": 2}


def test_percentiles_of_nothing_are_none():
    empty = {"p50": None, "p90": None, "p99": None, "p99_9": None, "max": None, "mean": None, "count": 0}
    assert percentiles([]) == empty
    assert percentiles(pa.array([None], pa.int64())) == empty
    json.dumps(empty, allow_nan=False)


def test_numpy_columns_become_arrow_arrays_without_pyarrow_array():
    from fabsim.trace.arrays import from_numpy, strings

    assert from_numpy(np.array([1, 2, 3]), np.array([False, True, False])).to_pylist() == [1, None, 3]
    flags = np.arange(19) % 3 == 0
    assert from_numpy(flags).to_pylist() == flags.tolist()
    assert from_numpy(np.array([1.5, -2.0], np.float32)).type == pa.float32()
    assert from_numpy(np.arange(10)[::3]).to_pylist() == [0, 3, 6, 9]
    assert strings(["a", "bé", ""]).to_pylist() == ["a", "bé", ""]
    assert strings([]).to_pylist() == []
