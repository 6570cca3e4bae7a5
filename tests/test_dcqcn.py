"""DCQCN in the packet engine (docs/dcqcn.md): the reaction point against the algorithm's
closed forms, the notification point's CNP spacing, and whole runs (fairness, incast, rates)."""

from __future__ import annotations

import numpy as np
import pytest

import fabsim
from fabsim.model import build_model
from fabsim.native import dcqcn, packet_state
from fabsim.run.packet import _wheel_geometry, build_net, run_packet_engine
from fabsim.trace.assemble import assemble
from fabsim.traffic import build_flow_table

US = 1_000_000  # ps
G = 1 / 256


def scenario(n_senders=1, rate="40Gbps", cc=None, until=None, size="1MB", **sections):
    run = {"engine": "packet", "seed": 1}
    if until:
        run["until"] = until
    return fabsim.load_scenario({
        "run": run,
        "topology": {"kind": "star", "hosts": n_senders + 1, "host_rate": rate, "link_delay": "1us"},
        "switch": {"pfc": True, **sections.get("switch", {})},
        "host": sections.get("host", {}),
        "output": {"queue_sample": "0", **sections.get("output", {})},
        "cc": {"algorithm": "dcqcn", **(cc or {})},
        "traffic": [{"kind": "incast", "receiver": 0, "senders": n_senders, "size": size}],
    })


def reaction_point(cc):
    """Kernel state of one flow at line rate (40 Gb/s) with the RP helpers ready to call."""
    sc = scenario(1, cc=cc)
    model = build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    net = build_net(model, flows)
    st = packet_state.new_state(net, flows.pred_count, 64, *_wheel_geometry(model))
    assert packet_state._take_context(net, st, 0, np.int64(0), 40e9)  # as the flow's START does
    assert st.f_ctx[0] == 0
    return net, st


def test_paper_rp_one_cnp_then_fast_recovery_and_alpha_decay():
    net, st = reaction_point({"preset": "paper", "byte_counter": 0})
    dcqcn._rp_signal(net, st, 0, np.int64(0))
    assert (st.rp_rc[0], st.rp_rt[0]) == (20e9, 40e9)  # Rt ← Rc; Rc ← Rc(1 − α/2), α = 1
    assert st.rp_alpha[0] == 1.0  # (1 − g)·1 + g
    for j in range(1, 13):
        dcqcn._rp_advance(net, st, 0, np.int64(j * 55 * US))
        assert st.rp_rc[0] == pytest.approx(40e9 - 20e9 * 2.0**-j, rel=1e-12), j
        assert st.rp_alpha[0] == pytest.approx((1 - G) ** j, rel=1e-12), j
    # past F = 5 timer stages without the byte counter: additive steps, capped at line rate
    assert st.rp_rt[0] == 40e9 and st.rp_stage_t[0] == 12


def test_paper_rp_timer_expiry_at_a_signal_time_comes_first():
    net, st = reaction_point({"preset": "paper", "byte_counter": 0})
    dcqcn._rp_signal(net, st, 0, np.int64(0))
    dcqcn._rp_signal(net, st, 0, np.int64(55 * US))  # the timer at 55 µs recovers to 30, then the cut
    assert st.rp_rt[0] == 30e9 and st.rp_rc[0] == pytest.approx(30e9 * (1 - (1 - G) / 2))


def test_paper_rp_byte_counter_and_hyper_increase():
    net, st = reaction_point({"preset": "paper", "byte_counter": "100KB", "rhai": "1Gbps", "rai": "0.1Gbps"})
    dcqcn._rp_signal(net, st, 0, np.int64(0))
    st.rp_rt[0] = 10e9  # a target well below line rate, to see the steps
    for j in range(1, 7):  # six timer periods and six byte-counter expiries, interleaved
        dcqcn._rp_advance(net, st, 0, np.int64(j * 55 * US))
        dcqcn._rp_on_send(net, st, 0, np.int64(j * 55 * US + 1), 100_000)
    # stages (T, BC): up to (5, 5) fast recovery, (6, 5) additive, (6, 6) hyper with i = 1
    assert (st.rp_stage_t[0], st.rp_stage_bc[0]) == (6, 6)
    assert st.rp_rt[0] == pytest.approx(10e9 + 0.1e9 + 1e9)


def test_hpcc_rp_cuts_on_the_periodic_check_with_its_own_alpha():
    net, st = reaction_point({"preset": "hpcc"})
    t0 = 3 * US
    dcqcn._rp_signal(net, st, 0, np.int64(t0))  # first echo: α = 1, timers start, no cut yet
    assert st.rp_rc[0] == 40e9
    dcqcn._rp_advance(net, st, 0, np.int64(t0 + 4 * US))
    assert st.rp_rc[0] == 40e9  # the first check is 1 ns later
    dcqcn._rp_advance(net, st, 0, np.int64(t0 + 4 * US + 1000))
    alpha = (1 - G) ** 4  # four quiet alpha periods of 1 µs
    assert st.rp_rc[0] == pytest.approx(40e9 * (1 - alpha / 2), rel=1e-12)
    assert st.rp_rt[0] == 40e9  # no increase since the last cut: Rt is not clamped
    rc = st.rp_rc[0]
    # F = 1: one fast recovery after RP_TIMER = 300 µs, then one additive step (R_AI scaled)
    dcqcn._rp_advance(net, st, 0, np.int64(t0 + 304 * US + 1000))
    assert st.rp_rc[0] == pytest.approx(rc / 2 + 20e9, rel=1e-12)
    rc = st.rp_rc[0]
    dcqcn._rp_advance(net, st, 0, np.int64(t0 + 604 * US + 1000))
    assert st.rp_rt[0] == 40e9  # 40 G + 8 Mb/s capped at line rate
    assert st.rp_rc[0] == pytest.approx(rc / 2 + 20e9, rel=1e-12)


def test_paper_np_sends_one_cnp_per_interval_to_a_flow_whose_every_packet_is_marked():
    # two senders whose rate floor (30 Gb/s each) exceeds the 40 Gb/s receiver: the queue
    # only grows, so after the first few packets every packet is marked
    sc = scenario(2, cc={"preset": "paper", "min_rate": "30Gbps"}, until="1ms", size="1GB",
                  switch={"ecn_kmin": "1KB", "ecn_kmax": "2KB", "buffer": "64MB", "pfc": False})
    model = build_model(sc)
    raw = run_packet_engine(model, build_flow_table(sc, model.fabric))
    assert raw.flow_drops.sum() == 0
    assert np.all(np.abs(raw.flow_cnps - 1_000 / 50) <= 1), raw.flow_cnps


@pytest.mark.parametrize("preset", ["paper", "hpcc"])
def test_long_flows_share_a_bottleneck_fairly_and_fill_it(preset):
    """N long flows into one 40 Gb/s receiver, measured in steady state (40–60 ms)."""
    queues = []
    for n in (2, 4, 8):
        got, area = [], []
        for until_ms in (40, 60):
            sc = scenario(n, cc={"preset": preset}, until=f"{until_ms}ms", size="10GB")
            model = build_model(sc)
            raw = run_packet_engine(model, build_flow_table(sc, model.fabric))
            got.append(raw.flow_received)
            area.append(raw.link_mean_queue[model.fabric.host_downlink[0]] * until_ms)
        x = (got[1] - got[0]).astype(np.float64) * 4096 * 8 / 20e-3
        jain = x.sum() ** 2 / (n * (x**2).sum())
        assert jain >= 0.95, (n, jain)
        assert x.sum() / 40e9 >= 0.90, (n, x.sum() / 40e9)
        queues.append((area[1] - area[0]) / 20)
    if preset == "hpcc":  # equilibrium below Kmax for every N here (paper: docs/dcqcn.md)
        assert queues[0] < queues[1] < queues[2], queues


@pytest.mark.parametrize("preset", ["paper", "hpcc"])
def test_incast_with_pfc_and_dcqcn_completes(preset):
    sc = scenario(16, rate="100Gbps", cc={"preset": preset})
    model = build_model(sc)
    raw = run_packet_engine(model, build_flow_table(sc, model.fabric))
    assert np.all(raw.t_finish_ps >= 0)
    assert raw.flow_cnps.sum() > 0
    assert raw.flow_drops.sum() == 0  # PFC with headroom


def test_paper_incast_fct_spread():
    sc = scenario(16, rate="100Gbps", cc={"preset": "paper"})
    model = build_model(sc)
    raw = run_packet_engine(model, build_flow_table(sc, model.fabric))
    fct = raw.t_finish_ps - raw.t_start_ps
    assert fct.max() / fct.min() <= 1.2


def test_rates_trace_is_sampled_on_the_cc_sample_grid():
    sc = scenario(2, cc={"preset": "hpcc"}, until="200us", size="10MB", output={"cc_sample": "10us"})
    model = build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    raw = run_packet_engine(model, flows)
    rates = assemble(model, flows, raw).extra["rates"]
    t = np.asarray(rates["t_ns"])
    assert len(rates) == 2 * 20 and np.all(t % 10_000 == 0)
    rc = np.asarray(rates["rate_bps"])
    assert np.all((rc >= 1e9) & (rc <= 40e9)) and rc.min() < 40e9  # cut, within [min_rate, line]
    assert np.all(np.asarray(rates["target_bps"]) >= rc)
    alpha = np.asarray(rates["alpha"])
    assert np.all((alpha >= 0) & (alpha <= 1))


def test_same_seed_gives_identical_dcqcn_runs():
    sc = scenario(4, cc={"preset": "paper"}, until="300us", size="10MB")
    model = build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    a, b = run_packet_engine(model, flows), run_packet_engine(model, flows)
    for name in ("t_finish_ps", "flow_received", "flow_ecn", "flow_cnps", "link_max_queue"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def _fluid_model():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tools" / "dcqcn_fluid.py"
    spec = importlib.util.spec_from_file_location("dcqcn_fluid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fluid_model_equilibrium_is_the_papers():
    """Zhu et al. §5 with 1000-byte packets, Kmin/Kmax/Pmax 5 KB/200 KB/1 % at 40 Gb/s: q* =
    20.2, 41.8, 93.8 KB for N = 2, 4, 8 (DESIGN §5). The F fast-recovery stages hold R_AI back;
    without them (F = 0) the equilibrium is higher. The integrated equations settle there."""
    model = _fluid_model()
    for n, q in ((2, 20_200), (4, 41_800), (8, 93_800)):
        assert model.fixed_point(n) == pytest.approx(q, rel=0.01), n
        assert model.fixed_point(n, fast_recovery=0) > 1.1 * model.fixed_point(n)
        mean_q, rate = model.simulate(n, duration=0.1, average_from=0.06, dt=2e-7)
        assert mean_q == pytest.approx(q, rel=0.02) and rate == pytest.approx(40e9 / n, rel=0.001), n


def mean_queue(n, t0_ms, t1_ms, **sections):
    """Time-averaged queue (bytes) of the receiver's port between ``t0_ms`` and ``t1_ms``: N long
    flows into one 40 Gb/s receiver with the paper preset."""
    area = []
    for until in (t0_ms, t1_ms):
        sc = scenario(n, cc={"preset": "paper"}, until=f"{until}ms", size="10GB", **sections)
        model = build_model(sc)
        raw = run_packet_engine(model, build_flow_table(sc, model.fabric))
        area.append(raw.link_mean_queue[model.fabric.host_downlink[0]] * until)
    return (area[1] - area[0]) / (t1_ms - t0_ms)


def test_paper_preset_queue_grows_with_n_as_the_fluid_model_predicts():
    """The preset itself (Pmax 1 %, Kmax 200 KB) with the model's 1000-byte packets (952 + 48 B
    on the wire): mean queue over 30–60 ms 85–93 % of the equilibrium (docs/dcqcn.md), growing
    with N as the model's does."""
    model = _fluid_model()
    means = []
    for n in (2, 4, 8):
        mean = mean_queue(n, 30, 60, host={"mtu": 952, "header": 48})
        means.append(mean)
        assert mean == pytest.approx(model.fixed_point(n, packet_bytes=1000), rel=0.2), n
    assert means[0] < means[1] < means[2] < 200_000


def test_queue_with_a_steeper_marking_line_follows_the_fluid_model():
    """Paper preset with Pmax = 10 % and fabsim's default 4096 + 48-byte packets: the
    equilibrium lies between Kmin and Kmax for N = 2…8 and fabsim's mean queue over 30–60 ms is
    within 12 % of it."""
    model = _fluid_model()
    means = []
    for n in (2, 4, 8):
        mean = mean_queue(n, 30, 60, switch={"ecn_pmax": 0.1})
        means.append(mean)
        assert mean == pytest.approx(model.fixed_point(n, packet_bytes=4144, pmax=0.1), rel=0.15), n
    assert means[0] < means[1] < means[2]


def test_without_the_kmax_cliff_the_queue_follows_the_fluid_model_beyond_kmax():
    """With 4096 + 48-byte packets the preset's equilibrium for N = 8 lies above Kmax = 200 KB,
    where marking jumps from 1 % to 100 %. The same marking line continued to 2 MB (Pmax
    10.23 %) takes the cliff away: the mean queue grows with N and stays within 10 % of the
    model's equilibrium, beyond 200 KB for N = 8 (docs/dcqcn.md)."""
    model = _fluid_model()
    kmax = 2_000_000
    pmax = 0.01 * (kmax - 5_000) / (200_000 - 5_000)
    means = []
    for n in (2, 4, 8):
        mean = mean_queue(n, 30, 60, switch={"ecn_kmin": "5KB", "ecn_kmax": f"{kmax}B", "ecn_pmax": pmax})
        means.append(mean)
        assert mean == pytest.approx(model.fixed_point(n, packet_bytes=4144, kmax=kmax, pmax=pmax), rel=0.15), n
    assert means[0] < means[1] < means[2]
    assert means[2] > 200_000
