"""Sampled traces are written while the run produces them (fabsim.trace.spool, DESIGN §10)."""

from __future__ import annotations

import gc

import numpy as np
import pyarrow as pa
import pytest

import fabsim
from fabsim.trace import read_run, spool
from fabsim.trace.spool import SpoolDir

META = {"fabsim.version": "x", "fabsim.schema_version": "2", "fabsim.seed": "1", "fabsim.scenario": "{}"}


def test_a_spool_writes_full_batches_and_reads_back_every_row():
    spools = SpoolDir()
    s = spools.spool("queues", batch_rows=7)
    blocks = [np.arange(n, dtype=np.int64) + 100 * i for i, n in enumerate([3, 0, 5, 11, 1])]
    for block in blocks:
        s.append(block, block.astype(np.int32), block * 2)
    table = s.table(META)
    want = np.concatenate(blocks)
    assert table.column("t_ns").to_numpy().tolist() == want.tolist()
    assert table.column("queue_bytes").to_numpy().tolist() == (want * 2).tolist()
    assert table.schema.metadata[b"fabsim.seed"] == b"1"
    with pa.OSFile(str(s.path), "rb") as raw:
        sizes = [b.num_rows for b in pa.ipc.open_file(raw).read_all().to_batches()]
    assert sizes == [7, 7, 6]  # two full batches, then the rest when the spool closes
    assert spools.written() == {"queues": s.path}
    path = spools.path
    spools.cleanup()
    assert not path.exists()


SCENARIO = {
    "run": {"engine": "packet", "seed": 3},
    "topology": {"kind": "star", "hosts": 5, "link_delay": "1us"},
    "switch": {"pfc": True, "pfc_xoff": "20KB", "pfc_xon": "10KB"},
    "cc": {"algorithm": "dcqcn", "preset": "hpcc"},
    "traffic": [{"kind": "incast", "receiver": 0, "senders": 4, "size": "300KB"}],
    "output": {"queue_sample": "1us", "cc_sample": "1us"},
}


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
def test_written_samples_equal_the_results_samples(fmt, tmp_path, monkeypatch):
    monkeypatch.setattr(spool, "BATCH_ROWS", 50)  # many batches
    res = fabsim.simulate(fabsim.load_scenario({**SCENARIO, "output": {**SCENARIO["output"], "format": fmt}}))
    assert res.extra["queues"].num_rows > 50 and res.extra["rates"].num_rows > 50
    traces = read_run(res.write(tmp_path / "run"))
    for name in ("queues", "rates"):
        assert traces[name].equals(res.extra[name]), name
        assert traces[name].schema.metadata == res.flows.schema.metadata


def test_host_nics_are_sampled_only_on_request():
    def sampled_links(queue_hosts: bool) -> set[int]:
        doc = {**SCENARIO, "output": {**SCENARIO["output"], "queue_hosts": queue_hosts}}
        res = fabsim.simulate(fabsim.load_scenario(doc))
        return set(res.extra["queues"].column("link_id").to_pylist())

    model = fabsim.build_model(fabsim.load_scenario(SCENARIO))
    nics = set(model.fabric.host_uplink.tolist())
    assert not sampled_links(False) & nics
    assert sampled_links(True) & nics


def test_the_spool_directory_goes_with_the_result():
    res = fabsim.simulate(fabsim.load_scenario(SCENARIO))
    path = res._spools.path
    assert path.exists()
    del res
    gc.collect()
    assert not path.exists()
