"""Training jobs run by both engines (DESIGN §4b): the closed forms on an ideal fabric, bytes per
kind, the scale-up domain kept off the fabric, the engines' agreement, two jobs sharing a
fabric, and bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

import fabsim
from fabsim.errors import ScenarioError
from fabsim.scenario import load_scenario
from fabsim.traffic.job_model import activation_bytes, dense_params_per_rank

NS = 1000  # ps per ns
IDEAL_TOPOLOGY = {  # every rate far above the traffic, no latency anywhere
    "kind": "star", "host_rate": "1000000Tbps", "link_delay": "0ns",
    "scaleup_rate": "1000000Tbps", "scaleup_latency": "0ns",
}


def scenario(topology: dict, jobs: list[dict], engine: str = "flow", **sections) -> fabsim.Scenario:
    raw = {"run": {"engine": engine}, "topology": topology, "jobs": jobs, "cc": {"algorithm": "none"}, **sections}
    return load_scenario(raw)


def jobs_of(result) -> list[dict]:
    return result.tables["jobs"].to_pylist()


@pytest.mark.parametrize("engine", ["flow", "packet"])
@pytest.mark.parametrize("m, pp", [(8, 4), (2, 4), (5, 2), (1, 3)])
def test_a_pure_pipeline_job_on_an_ideal_fabric_takes_the_1f1b_time(engine, m, pp):
    t_f, t_b, layers = 10_000 * NS, 25_000 * NS, 2 * pp  # per layer; two layers per stage
    job = {"layers": layers, "hidden": 256, "seq_len": 64, "microbatches": m, "pp": pp,
           "layer_forward": f"{t_f // NS}ns", "layer_backward": f"{t_b // NS}ns", "pp_bytes": 1}
    rows = jobs_of(fabsim.simulate(scenario({**IDEAL_TOPOLOGY, "hosts": pp}, [job], engine)))
    expected_ns = (m + pp - 1) * 2 * (t_f + t_b) // NS
    # a 1-byte transfer takes a few ps over the ideal fabric's links: well under 1 ns in all
    assert rows[0]["iteration_ns"] == expected_ns
    assert rows[0]["ideal_ns"] == expected_ns
    assert rows[0]["compute_ns"] == m * 2 * (t_f + t_b) // NS
    assert rows[0]["bubble_ns"] == (pp - 1) * 2 * (t_f + t_b) // NS
    assert rows[0]["exposed_pp_ns"] == 0


def test_a_pure_data_parallel_job_costs_compute_plus_the_ring_allreduce_of_its_last_bucket():
    n, mtu, header = 4, 4096, 48
    grad = n * mtu * 64  # per rank: one bucket, chunks of whole packets
    t_f, t_b, layers, m = 20_000 * NS, 40_000 * NS, 2, 3
    job = {"layers": layers, "hidden": 256, "seq_len": 64, "microbatches": m, "dp": n,
           "layer_forward": f"{t_f // NS}ns", "layer_backward": f"{t_b // NS}ns",
           "dp_bytes": grad, "bucket": "1GB"}
    topo = {"kind": "star", "hosts": n, "host_rate": "100Gbps", "link_delay": "1us"}
    rows = jobs_of(fabsim.simulate(scenario(topo, [job])))
    chunk = grad // n
    wire = chunk + chunk // mtu * header
    step = math.ceil(wire * 8 * 10**12 / 100e9) + 2 * 10**6  # two links of 1 µs
    expected = m * layers * (t_f + t_b) + 2 * (n - 1) * step  # DESIGN §7 ring allreduce
    assert rows[0]["iteration_ns"] == expected // NS
    assert rows[0]["exposed_dp_ns"] == 2 * (n - 1) * step // NS
    assert rows[0]["ideal_ns"] == rows[0]["iteration_ns"]


def test_small_buckets_overlap_the_backward_pass():
    # 25 MB of gradients per layer: 3 ms of ring all-reduce at 100G, under one layer's backward
    base = {"layers": 8, "hidden": 1024, "seq_len": 64, "microbatches": 1, "dp": 4,
            "layer_forward": "2ms", "layer_backward": "4ms"}
    topo = {"kind": "star", "hosts": 4, "host_rate": "100Gbps", "link_delay": "1us"}
    one = jobs_of(fabsim.simulate(scenario(topo, [{**base, "bucket": "1GB"}])))[0]
    many = jobs_of(fabsim.simulate(scenario(topo, [{**base, "bucket": "25MiB"}])))[0]
    # the same compute; with small buckets most of the all-reduce hides behind the backward pass
    assert many["compute_ns"] == one["compute_ns"]
    assert many["exposed_dp_ns"] < 0.5 * one["exposed_dp_ns"]
    assert many["iteration_ns"] < one["iteration_ns"]


@pytest.mark.parametrize("engine", ["flow", "packet"])
@pytest.mark.parametrize("tp_comm", ["sequence_parallel", "allreduce"])
def test_tensor_parallelism_inside_a_server_costs_the_ring_at_the_scaleup_rate(engine, tp_comm):
    g, m, layers, latency = 8, 2, 2, 700 * NS
    job = {"layers": layers, "hidden": 512, "seq_len": 256, "microbatches": m, "tp": g,
           "layer_forward": "30us", "layer_backward": "60us", "tp_comm": tp_comm}
    topo = {"kind": "star", "hosts": g, "gpus_per_server": g, "scaleup_rate": "2400Gbps",
            "scaleup_latency": f"{latency // NS}ns"}
    result = fabsim.simulate(scenario(topo, [job], engine))
    rows = jobs_of(result)
    A = 1 * 256 * 512 * 2
    chunk = A // g
    step = math.ceil(chunk * 8 * 10**12 / 2400e9) + latency
    if tp_comm == "sequence_parallel":  # 4 all-gathers / reduce-scatters per pass: n − 1 steps each
        per_layer = 8 * (g - 1) * step
    else:  # 2 ring all-reduces per pass: 2(n − 1) steps each
        per_layer = 4 * 2 * (g - 1) * step
    compute = m * layers * (30 + 60) * 10**6
    assert rows[0]["iteration_ns"] == (compute + m * layers * per_layer) // NS
    assert rows[0]["exposed_tp_ns"] == m * layers * per_layer // NS
    # intra-server traffic crosses no fabric link and makes no packets
    assert sum(result.links.column("tx_bytes").to_pylist()) == 0
    flows = result.flows.to_pylist()
    assert flows and all(f["scaleup"] and f["packets"] == 0 and f["phase"] == "tp" for f in flows)


def test_bytes_per_kind_in_the_flows_trace_follow_the_formulas():
    job = {"layers": 4, "hidden": 256, "seq_len": 128, "micro_batch": 2, "microbatches": 3,
           "tp": 2, "pp": 2, "dp": 2, "layer_forward": "5us", "bucket": "100KB", "iterations": 2}
    topo = {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 4, "gpus_per_server": 2}
    sc = scenario(topo, [job])
    result = fabsim.simulate(sc)
    spec = sc.jobs[0]
    flows = result.flows.to_pandas()
    per_iteration = flows.groupby(["iteration", "phase"], observed=True).size_bytes.sum().unstack()
    A = activation_bytes(spec)
    tp, pp, dp, m, L = 2, 2, 2, 3, 4
    tp_bytes = L * m * 8 * dp * (tp - 1) * A  # every layer: 8 collectives of (n − 1)·A bytes
    pp_bytes = 2 * m * (pp - 1) * tp * dp * (A // tp)
    grads = sum(dense_params_per_rank(spec, p) for p in range(pp)) * spec.grad_bytes
    dp_bytes = tp * 2 * (dp - 1) * grads  # ring all-reduce: 2(n − 1)·S per group
    for i in (0, 1):
        assert per_iteration.loc[i, "tp"] == tp_bytes
        assert per_iteration.loc[i, "pp"] == pp_bytes
        assert per_iteration.loc[i, "dp"] == dp_bytes
    # TP stays in its server: only PP and DP transfers cross the fabric
    assert set(flows[~flows.scaleup].phase) == {"pp", "dp"} and set(flows[flows.scaleup].phase) == {"tp"}
    assert len(result.tables["jobs"]) == 2


def test_the_two_engines_agree_on_an_uncongested_job():
    job = {"layers": 2, "hidden": 1024, "seq_len": 512, "microbatches": 2, "tp": 8, "dp": 4,
           "gpu": "H100", "mfu": 0.4, "bucket": "4MB"}
    topo = {"kind": "rail_optimized", "servers": 4, "nics_per_server": 8, "servers_per_leaf": 2,
            "spines": 2, "host_rate": "400Gbps"}
    it = {e: jobs_of(fabsim.simulate(scenario(topo, [job], e)))[0]["iteration_ns"] for e in ("flow", "packet")}
    assert abs(it["packet"] - it["flow"]) <= 0.02 * it["flow"], it


def test_two_jobs_on_an_oversubscribed_fabric_slow_each_other_down_in_their_dp_traffic():
    # 2 leaves of 2 servers × 4 GPUs; one 100G spine link per leaf for 8 × 100G of GPUs (8:1)
    topo = {"kind": "leaf_spine", "leaves": 2, "spines": 1, "hosts_per_leaf": 8, "gpus_per_server": 4,
            "host_rate": "100Gbps", "fabric_rate": "100Gbps"}
    base = {"layers": 4, "hidden": 512, "seq_len": 256, "microbatches": 2, "tp": 4, "dp": 2,
            "layer_forward": "20us", "bucket": "4MB"}
    a = {**base, "name": "a", "servers": [0, 2]}  # one server per leaf: DP crosses the spine
    b = {**base, "name": "b", "servers": [1, 3]}
    alone = {j["name"]: jobs_of(fabsim.simulate(scenario(topo, [j])))[0] for j in (a, b)}
    together = {r["job"]: r for r in jobs_of(fabsim.simulate(scenario(topo, [a, b])))}
    for name in ("a", "b"):
        assert together[name]["iteration_ns"] > 1.2 * alone[name]["iteration_ns"]
        assert together[name]["exposed_dp_ns"] > alone[name]["exposed_dp_ns"]
        assert together[name]["exposed_tp_ns"] == alone[name]["exposed_tp_ns"]
        assert together[name]["compute_ns"] == alone[name]["compute_ns"]
        slower = together[name]["iteration_ns"] - alone[name]["iteration_ns"]
        assert together[name]["exposed_dp_ns"] - alone[name]["exposed_dp_ns"] >= 0.9 * slower


BAD = [
    ({"servers": 5}, "jobs[0].servers", "needs server"),  # the fabric has 4 servers of 4
    ({"first_server": 3}, "jobs[0].first_server", "needs server 4"),
    ({"servers": [0, 9]}, "jobs[0].servers", "needs server 9"),
    ({"servers": [1, 1]}, "jobs[0].servers", "lists a server twice"),
    ({"servers": [0, 1], "dp": 4}, "jobs[0].servers", "= 16 ranks but asks for 2 server"),
    ({"servers": 3}, "jobs[0].servers", "asks for 3 server"),
    ({"dp": 3, "ep": 2, "experts": 8}, "jobs[0].ep", "must divide dp"),
    ({"dp": 2, "ep": 2, "experts": 3}, "jobs[0].ep", "must divide experts"),
    ({"ep": 2}, "jobs[0].ep", "set experts too"),
    ({"dp": 3, "algorithm": "halving_doubling"}, "jobs[0].dp", "power-of-two dp"),
    ({"layers": 3, "pp": 2, "dp": 1}, "jobs[0].layers", "multiple of pp"),
    ({"gpu": "H900"}, "jobs[0].gpu", "unknown gpu"),
    ({"gpu": None}, "jobs[0].gpu", "missing compute"),
]


@pytest.mark.parametrize("change, path, fragment", BAD)
def test_bad_jobs_are_refused_naming_the_key(tmp_path, change, path, fragment):
    job = {"layers": 2, "hidden": 64, "seq_len": 32, "tp": 4, "dp": 2, "gpu": "H100", **change}
    job = {k: v for k, v in job.items() if v is not None}
    topo = {"kind": "star", "hosts": 16, "gpus_per_server": 4}
    with pytest.raises(ScenarioError) as err:
        fabsim.simulate(scenario(topo, [job]))
    assert err.value.path == path and fragment in err.value.message, err.value


def test_two_jobs_on_one_gpu_are_refused_by_validate_and_run_naming_both(tmp_path):
    file = tmp_path / "two.toml"
    file.write_text(
        '[topology]\nkind = "star"\nhosts = 16\ngpus_per_server = 4\n'
        '[[jobs]]\nname = "a"\nlayers = 2\nhidden = 64\nseq_len = 32\ntp = 4\ndp = 2\ngpu = "H100"\n'
        '[[jobs]]\nname = "b"\nlayers = 2\nhidden = 64\nseq_len = 32\ntp = 4\ngpu = "H100"\nfirst_server = 1\n'
    )
    for command in ("validate", "run"):
        proc = subprocess.run([sys.executable, "-m", "fabsim", command, str(file), "--out", str(tmp_path / "out")]
                              if command == "run" else [sys.executable, "-m", "fabsim", command, str(file)],
                              capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert "jobs[1].servers" in proc.stderr and "a and b" in proc.stderr and "h4" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_validate_shows_servers_the_scaleup_domain_and_each_jobs_traffic(tmp_path, capsys):
    from fabsim.cli.commands import main

    file = tmp_path / "job.toml"
    file.write_text(
        '[topology]\nkind = "star"\nhosts = 16\ngpus_per_server = 8\nscaleup_rate = "3600Gbps"\n'
        '[[jobs]]\nname = "gpt"\nlayers = 4\nhidden = 256\nseq_len = 128\nmicrobatches = 2\ntp = 8\ndp = 2\n'
        'gpu = "A100"\niterations = 3\n'
    )
    assert main(["validate", str(file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["servers"], out["gpus_per_server"], out["scaleup_rate_bps"]) == (2, 8, 3600 * 10**9)
    (job,) = out["jobs"]
    assert (job["name"], job["ranks"], job["servers"], job["iterations"]) == ("gpt", 16, [0, 1], 3)
    A = 128 * 256 * 2
    tp = job["bytes_per_iteration"]["tp"]
    assert tp["fabric_bytes"] == 0 and tp["scaleup_bytes"] == 4 * 2 * 8 * 2 * 7 * A
    dp = job["bytes_per_iteration"]["dp"]
    assert dp["scaleup_bytes"] == 0 and dp["fabric_bytes"] == 8 * 2 * (12 * 256**2 * 4 // 8) * 2
    assert main(["validate", str(file)]) == 0
    err = capsys.readouterr().err
    assert "2 × 8 GPUs" in err and "3.6 Tbps per GPU" in err and "training jobs" in err


# 128 and 1,024 GPUs with TP filling the servers; 256 GPUs whose DP rings mix NVLink and fabric hops
@pytest.mark.parametrize("servers, tp, pp, dp", [(16, 8, 1, 16), (32, 4, 4, 16), (128, 8, 2, 64)])
def test_the_connection_model_of_ring_collectives_is_within_2_percent_of_the_step_model(servers, tp, pp, dp):
    topo = {"kind": "rail_optimized", "servers": servers, "nics_per_server": 8, "servers_per_leaf": 8,
            "spines": 8, "host_rate": "400Gbps", "scaleup_latency": "1us"}
    job = {"layers": 4, "hidden": 1024, "seq_len": 1024, "microbatches": 4, "tp": tp, "pp": pp, "dp": dp,
           "gpu": "H100", "bucket": "4MB", "zero": 1}
    runs = {}
    for model in ("steps", "connections"):
        result = fabsim.simulate(scenario(topo, [{**job, "collective_model": model}]))
        runs[model] = (jobs_of(result)[0], result.flows.to_pandas())
    (steps, step_flows), (conn, conn_flows) = runs["steps"], runs["connections"]
    assert abs(conn["iteration_ns"] - steps["iteration_ns"]) <= 0.02 * steps["iteration_ns"], (conn, steps)
    # the same bytes of every kind, in far fewer flows
    by_kind = [f.groupby("phase", observed=True).size_bytes.sum() for f in (step_flows, conn_flows)]
    assert by_kind[0].to_dict() == by_kind[1].to_dict()
    assert len(conn_flows) < len(step_flows) / 2


def test_the_connection_model_is_refused_by_the_packet_engine():
    job = {"layers": 2, "hidden": 64, "seq_len": 32, "dp": 2, "gpu": "H100", "collective_model": "connections"}
    with pytest.raises(ScenarioError) as err:
        scenario({"kind": "star", "hosts": 2}, [job], engine="packet")
    assert err.value.path == "jobs[0].collective_model" and "flow-engine model" in err.value.message


def test_expert_parallel_bytes_follow_the_formula_and_cross_the_fabric_between_servers():
    job = {"layers": 4, "hidden": 256, "seq_len": 128, "microbatches": 2, "tp": 2, "dp": 4, "ep": 4,
           "experts": 8, "top_k": 2, "moe_every": 2, "layer_forward": "5us"}
    topo = {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 4, "gpus_per_server": 2}
    sc = scenario(topo, [job])
    flows = fabsim.simulate(sc).flows.to_pandas()
    ep = flows[flows.phase == "ep"]
    A = activation_bytes(sc.jobs[0])
    buffer = A * 2 // 2  # A·top_k/tp per rank
    moe_layers, m, groups = 2, 2, 2  # layers 2 and 4; EP groups: one per TP index
    # 4 all-to-alls per MoE layer and microbatch (dispatch and combine, both passes), each moving
    # (n − 1)/n of every rank's buffer: (ep − 1)·buffer per group
    assert ep.size_bytes.sum() == 4 * moe_layers * m * groups * (4 - 1) * buffer
    assert len(ep) == 4 * moe_layers * m * groups * 4 * 3
    # the EP group spans servers (ranks t, t+2, t+4, t+6 on 4 servers of 2 GPUs): all on the fabric
    assert not ep.scaleup.any()


@pytest.mark.parametrize("engine", ["flow", "packet"])
def test_a_failure_during_the_data_parallel_phase_delays_the_job_it_cuts(engine):
    # job a's DP ring crosses leaf0's only spine uplink; it fails for 1 ms while the ring runs
    topo = {"kind": "leaf_spine", "leaves": 2, "spines": 1, "hosts_per_leaf": 8, "gpus_per_server": 4,
            "host_rate": "100Gbps", "fabric_rate": "100Gbps"}
    job = {"name": "a", "servers": [0, 2], "layers": 2, "hidden": 512, "seq_len": 256, "microbatches": 1,
           "tp": 4, "dp": 2, "layer_forward": "20us", "bucket": "1GB"}
    alone = jobs_of(fabsim.simulate(scenario(topo, [job], engine)))[0]
    dp_start = alone["finish_ns"] - alone["exposed_dp_ns"]
    failure = {"target": "link:leaf0-spine0", "at": f"{dp_start + 100_000}ns", "duration": "1ms"}
    result = fabsim.simulate(scenario(topo, [job], engine, failures=[failure], routing={"detect": "20us"}),
                             baseline=True)
    hit = jobs_of(result)[0]
    added = result.summary["jobs"]["a"]["added_ns"]
    assert added == hit["iteration_ns"] - alone["iteration_ns"] and added >= 900_000  # about the outage
    assert hit["exposed_dp_ns"] - alone["exposed_dp_ns"] >= 0.9 * added  # and it shows as exposed DP
    assert hit["exposed_tp_ns"] == alone["exposed_tp_ns"]
    assert result.failures.to_pylist()[0]["jobs_hit"] == 1


@pytest.mark.parametrize("engine", ["flow", "packet"])
def test_tp_overlap_hides_a_collective_behind_the_compute_piece_that_follows_it(engine):
    from fabsim.traffic.job_model import layer_piece_times_ps

    g, m, layers, latency = 8, 2, 3, 500 * NS
    job = {"layers": layers, "hidden": 4096, "seq_len": 2048, "microbatches": m, "tp": g,
           "layer_forward": "400us"}
    topo = {"kind": "star", "hosts": g, "gpus_per_server": g, "scaleup_rate": "2400Gbps",
            "scaleup_latency": f"{latency // NS}ns"}
    plain = jobs_of(fabsim.simulate(scenario(topo, [job], engine)))[0]
    sc = scenario(topo, [{**job, "tp_overlap": True}], engine)
    hidden = jobs_of(fabsim.simulate(sc))[0]
    fa, fm, bm, ba = layer_piece_times_ps(sc.jobs[0], False)
    A = 2048 * 4096 * 2
    c = (g - 1) * (math.ceil(A // g * 8 * 10**12 / 2400e9) + latency)  # one ring all-gather or reduce-scatter
    assert min(fa, fm, bm, ba) > c  # every piece is longer than the collective it hides
    compute = layers * (fa + fm + bm + ba)
    assert plain["iteration_ns"] == m * (compute + 8 * layers * c) // NS
    # per pass, the all-gathers before the pieces are hidden but for the stage's first one
    assert hidden["iteration_ns"] == m * (compute + 4 * layers * c + 2 * c) // NS
    assert hidden["compute_ns"] == plain["compute_ns"]
    assert hidden["exposed_tp_ns"] == m * (4 * layers * c + 2 * c) // NS


def test_the_baseline_table_lists_flows_not_compute_tasks():
    topo = {"kind": "leaf_spine", "leaves": 2, "spines": 1, "hosts_per_leaf": 8, "gpus_per_server": 4}
    job = {"servers": [0, 2], "layers": 2, "hidden": 256, "seq_len": 64, "tp": 4, "dp": 2, "layer_forward": "5us"}
    failure = {"target": "link:leaf0-spine0", "at": "1us", "duration": "10us"}
    result = fabsim.simulate(scenario(topo, [job], failures=[failure]), baseline=True)
    rows = result.tables["baseline"].to_pandas()
    flow_ids = set(result.flows.column("flow_id").to_pylist())
    assert set(rows[rows.kind == "flow"].id) == flow_ids
