"""Traffic generators: flow counts and sizes, patterns, Poisson load, collectives and their DAG."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fabsim.errors import ScenarioError
from fabsim.native import codes
from fabsim.scenario import load_scenario
from fabsim.topology import Fabric, fat_tree, star
from fabsim.traffic import (
    NO_INDEX,
    build_flow_table,
    builtin_cdf,
    cdf_mean_bytes,
    generator_rng,
    sample_sizes,
)
from fabsim.traffic.patterns import random_derangement, shift_targets
from fabsim.traffic.schedules import btree_parent, double_tree_parents, tree_depth

G = 10**9
US = 10**6
RATE = 100 * G


def table(traffic, hosts=8, seed=1, fabric=None):
    """Flow table of ``traffic`` (a list of generator dicts) on a star of ``hosts`` hosts."""
    sc = load_scenario({
        "run": {"seed": seed},
        "topology": {"kind": "star", "hosts": hosts, "host_rate": "100Gbps"},
        "traffic": traffic,
    })  # fmt: skip
    return build_flow_table(sc, fabric or star(hosts, RATE, US))


def collective(op, algorithm, size, **extra):
    return {"kind": "collective", "op": op, "algorithm": algorithm, "size": size, **extra}


def longest_chain(ft) -> int:
    """Flows on the longest dependency chain (every flow takes one time unit): a pure-Python
    longest path over the DAG, which also proves it acyclic with forward edges."""
    depth = [1] * len(ft)
    for f in range(len(ft)):
        for s in ft.succ[ft.succ_ptr[f] : ft.succ_ptr[f + 1]]:
            assert s > f
            depth[s] = max(depth[s], depth[f] + 1)
    return max(depth)


def sent_bytes(ft, n_hosts):
    return np.bincount(ft.src, weights=ft.size_bytes, minlength=n_hosts).astype(np.int64)


def received_bytes(ft, n_hosts):
    return np.bincount(ft.dst, weights=ft.size_bytes, minlength=n_hosts).astype(np.int64)


def assert_dag_consistent(ft):
    """CSR successor lists agree with pred_count, and every edge points forward."""
    n = len(ft)
    assert ft.succ_ptr.shape == (n + 1,) and ft.succ_ptr[-1] == ft.succ.shape[0]
    src_of_edge = np.repeat(np.arange(n), np.diff(ft.succ_ptr))
    assert np.all(src_of_edge < ft.succ)
    assert np.array_equal(np.bincount(ft.succ, minlength=n), ft.pred_count)


# ---- flow, incast, permutation ------------------------------------------------------------------


def test_flow_generator_one_flow_per_spec():
    ft = table([
        {"kind": "flow", "src": 0, "dst": 1, "size": "1KB", "start": "2us"},
        {"kind": "flow", "tag": "pair", "flows": [{"src": 2, "dst": 3, "size": 10}, {"src": 3, "dst": 2, "size": 20, "start": "1us"}]},
    ])  # fmt: skip
    assert len(ft) == 3
    assert ft.src.tolist() == [0, 2, 3] and ft.dst.tolist() == [1, 3, 2]
    assert ft.size_bytes.tolist() == [1000, 10, 20]
    assert ft.start_ps.tolist() == [2 * US, 0, US]
    assert ft.generator.tolist() == [0, 1, 1] and ft.tags == ["flow", "pair"]
    for col in (ft.job, ft.collective, ft.iteration, ft.step):
        assert np.all(col == NO_INDEX)
    assert np.all(ft.gap_ps == 0) and np.all(ft.channel == 0) and np.all(ft.pred_count == 0)
    assert ft.succ.shape == (0,) and ft.jobs == [] and len(ft.collectives) == 0
    assert ft.src.dtype == np.int32 and ft.size_bytes.dtype == np.int64 and ft.succ_ptr.dtype == np.int64


def test_incast_count_picks_distinct_senders_other_than_receiver():
    ft = table([{"kind": "incast", "receiver": 5, "senders": 12, "size": "64KB", "start": "3us"}], hosts=16)
    assert len(ft) == 12
    assert np.all(ft.dst == 5) and 5 not in ft.src
    assert len(set(ft.src.tolist())) == 12 and np.all(np.diff(ft.src) > 0)
    assert np.all(ft.size_bytes == 64_000) and np.all(ft.start_ps == 3 * US)


def test_incast_list_is_used_as_written():
    ft = table([{"kind": "incast", "receiver": 0, "senders": [3, 1, 2], "size": 100}])
    assert ft.src.tolist() == [3, 1, 2] and np.all(ft.dst == 0)


def test_random_permutation_is_a_seeded_derangement():
    ft = table([{"kind": "permutation", "pattern": "random", "size": "1MB"}], hosts=64)
    assert ft.src.tolist() == list(range(64))
    assert sorted(ft.dst.tolist()) == list(range(64)) and np.all(ft.src != ft.dst)
    same = table([{"kind": "permutation", "size": "1MB"}], hosts=64)
    other = table([{"kind": "permutation", "size": "1MB"}], hosts=64, seed=2)
    assert np.array_equal(ft.dst, same.dst) and not np.array_equal(ft.dst, other.dst)


def test_large_derangement_is_vectorised():
    perm = random_derangement(65_536, np.random.default_rng(0))
    assert np.array_equal(np.sort(perm), np.arange(65_536)) and not np.any(perm == np.arange(65_536))
    assert random_derangement(2, np.random.default_rng(3)).tolist() == [1, 0]


def test_shift_sends_host_i_to_host_i_of_the_next_edge_switch():
    f = fat_tree(4, RATE, RATE, US)  # two hosts per ToR: h → h + 2
    assert shift_targets(f).tolist() == [(h + 2) % 16 for h in range(16)]
    assert shift_targets(star(5, RATE, US)).tolist() == [1, 2, 3, 4, 0]
    sc = load_scenario({"topology": {"kind": "fat_tree", "k": 4}, "traffic": [{"kind": "permutation", "pattern": "shift", "size": 1}]})
    assert build_flow_table(sc, f).dst.tolist() == [(h + 2) % 16 for h in range(16)]


def test_shift_wraps_on_a_switch_with_fewer_hosts():
    # sw0 holds h0, h1, h2; sw1 holds h3, h4.
    role = np.array([codes.ROLE_HOST] * 5 + [codes.ROLE_SWITCH] * 2)
    index = np.array([0, 1, 2, 3, 4, 0, 1])
    a, b = np.array([0, 1, 2, 3, 4, 5]), np.array([5, 5, 5, 6, 6, 6])
    f = Fabric.from_cables("file", 5, role, index, a, b, np.full(6, RATE), np.full(6, US))
    assert shift_targets(f).tolist() == [3, 4, 3, 0, 1]


# ---- size CDFs and Poisson ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["websearch", "hadoop"])
def test_cdf_mean_matches_numerical_integration_and_sampling(name):
    points = builtin_cdf(name)
    x = np.linspace(0, points[-1, 0], 2_000_001)
    cdf = np.interp(x, points[:, 0], points[:, 1] / 100)
    integral = float(np.sum((1 - cdf[1:] + 1 - cdf[:-1]) / 2 * np.diff(x)))  # E[X] = ∫ (1 − F)
    assert cdf_mean_bytes(points) == pytest.approx(integral, rel=1e-6)
    sizes = sample_sizes(points, np.random.default_rng(7).random(400_000))
    assert sizes.min() >= 1 and sizes.max() <= points[-1, 0]
    assert sizes.mean() == pytest.approx(cdf_mean_bytes(points), rel=0.02)


def test_cdf_sampling_interpolates_and_honours_an_initial_atom():
    points = np.array([[100.0, 50.0], [300.0, 100.0]])  # half the flows are exactly 100 B
    assert cdf_mean_bytes(points) == pytest.approx(0.5 * 100 + 0.5 * 200)
    assert sample_sizes(points, np.array([0.0, 0.25, 0.5, 0.75])).tolist() == [100, 100, 100, 200]


def test_poisson_offers_the_target_load():
    load, duration_s, hosts = 0.5, 1.0, 16
    ft = table([{"kind": "poisson", "load": load, "sizes": "websearch", "duration": "1s", "start": "5us"}], hosts=hosts)
    offered = ft.size_bytes.sum() * 8 / (duration_s * RATE * hosts)
    assert offered == pytest.approx(load, rel=0.04)
    points = builtin_cdf("websearch")
    assert ft.size_bytes.min() >= 1 and ft.size_bytes.max() <= points[-1, 0]
    assert ft.size_bytes.mean() == pytest.approx(cdf_mean_bytes(points), rel=0.04)
    assert np.all(ft.src != ft.dst)
    assert ft.start_ps.min() >= 5 * US and ft.start_ps.max() < 5 * US + 10**12
    assert np.all(np.diff(ft.start_ps) >= 0)
    per_host = np.bincount(ft.src, minlength=hosts)
    assert per_host.min() > 0.8 * per_host.mean()


def test_poisson_host_selection():
    first = table([{"kind": "poisson", "load": 0.3, "sizes": "hadoop", "duration": "2ms", "hosts": 3}])
    assert set(first.src.tolist()) | set(first.dst.tolist()) <= {0, 1, 2}
    listed = table([{"kind": "poisson", "load": 0.3, "sizes": "hadoop", "duration": "2ms", "hosts": [6, 2]}])
    assert len(listed) > 0 and set(zip(listed.src.tolist(), listed.dst.tolist())) <= {(6, 2), (2, 6)}


def test_poisson_reads_a_cdf_file_with_comments(tmp_path):
    cdf = tmp_path / "fixed.txt"
    cdf.write_text("# two sizes\n1000 0\n1000 50  # atom\n\n3000 100\n")
    ft = table([{"kind": "poisson", "load": 0.2, "sizes": str(cdf), "duration": "1ms"}])
    assert len(ft) > 0 and ft.size_bytes.min() >= 1000 and ft.size_bytes.max() <= 3000


@pytest.mark.parametrize(
    "text, message",
    [
        ("0 0\n100 60\n50 100\n", "sizes must not decrease"),
        ("0 0\n100 60\n200 40\n300 100\n", "a CDF never decreases"),
        ("0 0\n100 90\n", "must end at 100%"),
        ("0 0\n100 abc\n", "expected two numbers"),
        ("# nothing\n", "no points"),
    ],
)
def test_bad_cdf_file_is_a_scenario_error(tmp_path, text, message):
    cdf = tmp_path / "bad.txt"
    cdf.write_text(text)
    with pytest.raises(ScenarioError) as err:
        table([{"kind": "flow", "src": 0, "dst": 1, "size": 1}, {"kind": "poisson", "load": 0.5, "sizes": str(cdf), "duration": "1ms"}])
    assert err.value.path == "traffic[1].sizes" and err.value.file == "<dict>"
    assert str(cdf) in str(err.value) and message in str(err.value)


def test_unreadable_cdf_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read flow-size CDF") as err:
        table([{"kind": "poisson", "load": 0.5, "sizes": str(tmp_path / "missing.txt"), "duration": "1ms"}])
    assert err.value.path == "traffic[0].sizes" and "missing.txt" in str(err.value)


# ---- collectives: bytes, steps, DAG ------------------------------------------------------------


N, S = 8, 8 * 3 * 1000  # S divisible by n and by the channel counts used below


@pytest.mark.parametrize(
    "op, algorithm, per_rank, steps",
    [
        ("allreduce", "ring", 2 * (N - 1) * S // N, 2 * (N - 1)),
        ("allreduce", "halving_doubling", 2 * (N - 1) * S // N, 6),
        ("reduce_scatter", "ring", (N - 1) * S // N, N - 1),
        ("reduce_scatter", "halving_doubling", (N - 1) * S // N, 3),
        ("all_gather", "ring", (N - 1) * S // N, N - 1),
        ("all_gather", "halving_doubling", (N - 1) * S // N, 3),
        ("all_to_all", "pairwise", (N - 1) * S // N, N - 1),
        ("all_to_all", "direct", (N - 1) * S // N, 1),
    ],
)
def test_collective_bytes_per_rank_and_steps(op, algorithm, per_rank, steps):
    ft = table([collective(op, algorithm, S, channels=3)], hosts=N)
    assert np.all(sent_bytes(ft, N) == per_rank) and np.all(received_bytes(ft, N) == per_rank)
    assert len(np.unique(ft.step)) == steps and ft.step.max() == steps - 1
    assert longest_chain(ft) == steps
    assert sorted(set(ft.channel.tolist())) == [0, 1, 2]
    assert_dag_consistent(ft)


def test_ring_allreduce_flow_pattern():
    n = 4
    ft = table([collective("allreduce", "ring", 4000)], hosts=n)
    assert len(ft) == 2 * (n - 1) * n and np.all(ft.size_bytes == 1000)
    assert np.array_equal(ft.dst, (ft.src + 1) % n)
    assert ft.step.tolist() == np.repeat(np.arange(2 * (n - 1)), n).tolist()
    # Step s + 1 of rank r waits for what r received (from r − 1) and sent in step s.
    f = n + 2  # rank 2, step 1
    preds = [p for p in range(len(ft)) if f in ft.succ[ft.succ_ptr[p] : ft.succ_ptr[p + 1]]]
    assert preds == [1, 2] and ft.pred_count[:n].tolist() == [0] * n


def test_halving_doubling_partners_and_sizes():
    ft = table([collective("allreduce", "halving_doubling", 8000)], hosts=8)
    rs = ft.step < 3
    assert np.array_equal(ft.src[rs] ^ ft.dst[rs], np.repeat([4, 2, 1], 8))
    assert np.array_equal(ft.size_bytes[rs], np.repeat([4000, 2000, 1000], 8))
    assert np.array_equal(ft.src[~rs] ^ ft.dst[~rs], np.repeat([1, 2, 4], 8))
    assert np.array_equal(ft.size_bytes[~rs], np.repeat([1000, 2000, 4000], 8))


def test_odd_sizes_keep_totals_exact():
    n, size = 6, 1_000_003
    for op, algorithm, total in [
        ("allreduce", "ring", 2 * (n - 1) * size),
        ("reduce_scatter", "ring", (n - 1) * size),
        ("all_to_all", "pairwise", (n - 1) * size),
        ("all_to_all", "direct", (n - 1) * size),
        ("allreduce", "tree", 2 * (n - 1) * size),
    ]:
        ft = table([collective(op, algorithm, size, channels=4)], hosts=n)
        assert ft.size_bytes.sum() == total, (op, algorithm)
    ft = table([collective("allreduce", "halving_doubling", 1_000_003, channels=3)], hosts=8)
    assert ft.size_bytes.sum() == 2 * 7 * 1_000_003


def test_tiny_buffers_give_flows_of_at_least_one_byte():
    ft = table([collective("allreduce", "ring", 1, channels=2)], hosts=4)
    assert ft.size_bytes.min() == 1


@pytest.mark.parametrize("n", [2, 3, 5, 6, 8, 13, 16])
def test_double_binary_tree(n):
    """Both trees span all ranks from a root; leaves of tree 0 (odd ranks) are inner in tree 1."""
    parents = double_tree_parents(n)
    for parent in parents:
        assert (parent < 0).sum() == 1
        tree_depth(parent)  # terminates: every rank reaches the root
    inner0 = set(parents[0][parents[0] >= 0].tolist())
    inner1 = set(parents[1][parents[1] >= 0].tolist())
    leaves0 = set(range(n)) - inner0
    assert leaves0 == set(range(1, n, 2))
    assert leaves0 <= inner1


def test_btree_matches_nccl_example():
    # The 14-rank tree drawn in NCCL's src/graph/trees.cc.
    parent = btree_parent(14)
    expected = {1: 2, 3: 2, 5: 6, 7: 6, 9: 10, 11: 10, 13: 12, 2: 4, 6: 4, 10: 12, 4: 8, 12: 8, 8: 0}
    assert {c: int(parent[c]) for c in expected} == expected


def test_tree_allreduce_bytes_and_depth():
    n, size = 8, 8000
    ft = table([collective("allreduce", "tree", size)], hosts=n)
    parents = double_tree_parents(n)
    expected_sent = np.zeros(n, np.int64)
    for parent in parents:
        children = np.bincount(parent[parent >= 0], minlength=n)
        expected_sent += (size // 2) * ((parent >= 0) + children)
    assert np.array_equal(sent_bytes(ft, n), expected_sent)
    assert ft.size_bytes.sum() == 2 * (n - 1) * size
    depth = int(tree_depth(parents[0]).max())
    assert longest_chain(ft) == 2 * depth
    assert_dag_consistent(ft)


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
def test_broadcast_delivers_the_buffer_to_every_rank(algorithm):
    n, size, root = 6, 5000, 2
    ft = table([collective("broadcast", algorithm, size, root=root)], hosts=n)
    received = received_bytes(ft, n)
    assert received[root] == 0 and np.all(np.delete(received, root) == size)
    expected_steps = (n - 1) + n - 2 if algorithm == "ring" else 2  # heap tree of 6: depth 2
    assert longest_chain(ft) == expected_steps


def test_sendrecv_neighbours():
    ft = table([collective("sendrecv", "direct", 500, ranks=[4, 1, 7])])
    assert ft.src.tolist() == [4, 1] and ft.dst.tolist() == [1, 7] and np.all(ft.pred_count == 0)


def test_placement():
    def hosts_of(**extra):
        ft = table([collective("all_to_all", "direct", 1000, **extra)], hosts=16)
        return sorted(set(ft.src.tolist()))

    assert hosts_of(ranks=4) == [0, 1, 2, 3]
    assert hosts_of(ranks=4, placement="strided") == [0, 4, 8, 12]
    assert hosts_of(ranks=[9, 3, 5]) == [3, 5, 9]
    random = hosts_of(ranks=5, placement="random")
    assert len(random) == 5 and random == hosts_of(ranks=5, placement="random")


def test_rank_list_order_is_ring_order():
    ft = table([collective("reduce_scatter", "ring", 300, ranks=[5, 0, 3])])
    assert set(zip(ft.src.tolist(), ft.dst.tolist())) == {(5, 0), (0, 3), (3, 5)}


def test_iterations_compute_gap_and_collective_rows():
    n, iters = 4, 3
    gen = collective("allreduce", "ring", 4000, channels=2, iterations=iters, compute="5us", gap="1ns", job="train")
    ft = table([gen, collective("all_to_all", "pairwise", 4000, job="train"), collective("broadcast", "ring", 100)], hosts=n)
    per_iter = 2 * (n - 1) * n * 2
    first = ft.generator == 0
    assert first.sum() == iters * per_iter
    assert np.array_equal(ft.collective[first], ft.iteration[first])
    assert ft.iteration[first].tolist() == np.repeat(np.arange(iters), per_iter).tolist()
    step0_later = first & (ft.step == 0) & (ft.iteration > 0)
    assert np.all(ft.gap_ps[step0_later] == 5 * US)
    assert np.all(ft.gap_ps[first & ~step0_later] == 1000)
    assert ft.jobs == ["train", "job2"]
    assert ft.job[first].max() == 0 and np.all(ft.job[ft.generator == 1] == 0) and np.all(ft.job[ft.generator == 2] == 1)
    rows = ft.collectives
    assert len(rows) == iters + 2
    assert rows.iteration.tolist() == [0, 1, 2, 0, 0] and rows.job.tolist() == [0, 0, 0, 0, 1]
    assert rows.op == ["allreduce"] * 3 + ["all_to_all", "broadcast"]
    assert rows.compute_ps.tolist() == [5 * US, 5 * US, 5 * US, 0, 0]
    assert rows.factor.tolist() == pytest.approx([1.5] * 3 + [0.75, 1.0])
    assert np.array_equal(np.unique(ft.collective), np.arange(iters + 2))
    assert np.all(ft.collective[ft.generator == 1] == 3)
    assert longest_chain(ft) == iters * 2 * (n - 1)
    assert_dag_consistent(ft)


def test_edges_stay_linear_in_the_flow_count():
    ft = table([collective("allreduce", "ring", 2**20, iterations=2, channels=2)], hosts=128)
    assert ft.succ.shape[0] <= 2 * len(ft) + 128 * 2 * 2 * 2  # intra ≤ 2 per flow, boundary 2c² per rank


# ---- property: the DAG's critical path is the algorithm's step count ----------------------------


def expected_chain(op, algorithm, n, iters):
    log2 = n.bit_length() - 1
    # A broadcast root starts its next iteration once its own sends are delivered (docs/traffic.md).
    if (op, algorithm) == ("broadcast", "ring"):
        return iters * (n - 1) + n - 2
    if (op, algorithm) == ("broadcast", "tree"):
        return iters - 1 + log2
    per_iteration = {
        ("allreduce", "ring"): 2 * (n - 1),
        ("reduce_scatter", "ring"): n - 1,
        ("all_gather", "ring"): n - 1,
        ("allreduce", "halving_doubling"): 2 * log2,
        ("reduce_scatter", "halving_doubling"): log2,
        ("all_gather", "halving_doubling"): log2,
        ("all_to_all", "pairwise"): n - 1,
        ("all_to_all", "direct"): 1,
        ("sendrecv", "direct"): 1,
        ("allreduce", "tree"): 2 * int(tree_depth(btree_parent(n)).max()),
    }[(op, algorithm)]
    return iters * per_iteration


OPS = [
    ("allreduce", "ring"), ("reduce_scatter", "ring"), ("all_gather", "ring"),
    ("allreduce", "halving_doubling"), ("reduce_scatter", "halving_doubling"),
    ("all_gather", "halving_doubling"), ("all_to_all", "pairwise"), ("all_to_all", "direct"),
    ("sendrecv", "direct"), ("allreduce", "tree"), ("broadcast", "ring"), ("broadcast", "tree"),
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    op=st.sampled_from(OPS),
    n=st.integers(2, 12),
    channels=st.integers(1, 3),
    iters=st.integers(1, 3),
    size=st.integers(1, 10**6),
    root=st.integers(0, 11),
)
def test_critical_path_is_the_step_count(op, n, channels, iters, size, root):
    if op[1] == "halving_doubling":
        n = 1 << (n.bit_length() - 1)
    extra = {"root": root % n} if op[0] == "broadcast" else {}
    ft = table([collective(*op, size, channels=channels, iterations=iters, **extra)], hosts=n)
    assert longest_chain(ft) == expected_chain(*op, n, iters)
    assert_dag_consistent(ft)
    assert ft.size_bytes.min() >= 1
    assert np.all(ft.iteration[1:] >= ft.iteration[:-1])
    within = np.diff(ft.iteration) == 0
    assert np.all(np.diff(ft.step)[within] >= 0)  # emitted in step order


# ---- determinism --------------------------------------------------------------------------------


MIXED = [
    {"kind": "incast", "receiver": 0, "senders": 5, "size": 1000},
    {"kind": "permutation", "size": 1000},
    {"kind": "poisson", "load": 0.4, "sizes": "hadoop", "duration": "1ms"},
    collective("allreduce", "ring", 10**6, ranks=6, placement="random", iterations=2),
]


def test_same_seed_gives_identical_tables():
    a, b = table(MIXED, hosts=16, seed=3), table(MIXED, hosts=16, seed=3)
    for name in ("src", "dst", "size_bytes", "start_ps", "gap_ps", "channel", "generator", "job",
                 "collective", "iteration", "step", "pred_count", "succ_ptr", "succ"):  # fmt: skip
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    c = table(MIXED, hosts=16, seed=4)
    assert not np.array_equal(a.dst[a.generator == 1], c.dst[c.generator == 1])


def test_a_generator_draws_from_its_own_stream():
    alone = table(MIXED[:2], hosts=16)
    extended = table([*MIXED[:2], {"kind": "permutation", "size": 5}], hosts=16)
    assert np.array_equal(alone.dst, extended.dst[extended.generator < 2])
    assert generator_rng(1, 0).random() != generator_rng(1, 1).random()
