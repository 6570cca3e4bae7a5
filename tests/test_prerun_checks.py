"""The checks before a run (fabsim.scenario.runnable and the load-time limits): ``fabsim
validate`` and ``fabsim run`` with either engine stop at once with the same one-line message and
exit code 2, so nothing validate accepts crashes or hangs a run (DESIGN §10)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import fabsim
from fabsim.model import build_model
from fabsim.cli import main
from fabsim.errors import ScenarioError
from fabsim.names import parse_host_name
from fabsim.scenario.runnable import MAX_PACKETS_PER_FLOW, check_runnable, ingress_bound_bytes
from fabsim.traffic import build_flow_table

FAT_TREE = """
[topology]
kind = "fat_tree"
k = 4
[[traffic]]
kind = "flow"
src = 0
dst = 5
size = "1MB"
"""

# two switches with no cable between them: h0, h1 on swA; h2, h3 on swB
SPLIT_CSV = "a,b,rate,delay\nh0,swA,,\nh1,swA,,\nh2,swB,,\nh3,swB,,\n"
SPLIT = """
[topology]
kind = "file"
path = "fabric.csv"
[[traffic]]
kind = "flow"
src = 0
dst = 1
size = "1MB"
[[traffic]]
kind = "flow"
src = "h0"
dst = "h3"
size = "1MB"
"""

COMMANDS = {
    "validate": ["validate"],
    "run-flow": ["run", "--engine", "flow", "--quiet"],
    "run-packet": ["run", "--engine", "packet", "--quiet"],
}


def write(tmp_path, text: str, csv: str | None = None) -> str:
    if csv is not None:
        (tmp_path / "fabric.csv").write_text(csv)
    path = tmp_path / "x.toml"
    path.write_text(text)
    return str(path)


def cli(tmp_path, capsys, command: str, path: str, *extra: str) -> tuple[int, str, str]:
    argv = [COMMANDS[command][0], path, *COMMANDS[command][1:], *extra]
    if command != "validate":
        argv += ["--out", str(tmp_path / "out")]
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def refused(tmp_path, capsys, command: str, path: str, *extra: str) -> str:
    """The one-line message of a refused scenario (exit 2, no traceback, nothing written)."""
    code, out, err = cli(tmp_path, capsys, command, path, *extra)
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    assert err.startswith("invalid scenario: ") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
    return err.removeprefix("invalid scenario: ").strip()


def assert_same_everywhere(tmp_path, capsys, path: str, *extra: str) -> str:
    """validate and both engines refuse ``path`` with one and the same message; returns it."""
    messages = {c: refused(tmp_path, capsys, c, path, *extra) for c in COMMANDS}
    assert len(set(messages.values())) == 1, messages
    return messages["validate"]


# ---- connectivity -------------------------------------------------------------------------------


def test_disconnected_hosts_are_refused_by_validate_and_both_engines(tmp_path, capsys):
    path = write(tmp_path, SPLIT, SPLIT_CSV)
    message = assert_same_everywhere(tmp_path, capsys, path)
    assert message == f"{path}: traffic[1]: h0 and h3 are not connected in the fabric (fabric.csv)"


def test_connected_pairs_of_a_split_fabric_pass(tmp_path):
    sc = fabsim.load_scenario(write(tmp_path, SPLIT, SPLIT_CSV), overrides={"traffic[1].dst": 1})
    model = build_model(sc)
    assert check_runnable(model, build_flow_table(sc, model.fabric)) == []


def test_connectivity_check_names_the_first_bad_flow_of_many(tmp_path):
    # a collective over all 4 hosts: every cross-switch step is unreachable; the first is named
    pair = 'kind = "flow"\nsrc = "h0"\ndst = "h3"\nsize = "1MB"'
    text = SPLIT.replace(pair, 'kind = "collective"\nop = "all_to_all"\nsize = "4KB"')
    sc = fabsim.load_scenario(write(tmp_path, text, SPLIT_CSV))
    model = build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    with pytest.raises(ScenarioError, match=r"traffic\[1\]: h\d and h\d are not connected in the fabric \(fabric.csv\)"):
        check_runnable(model, flows)


# ---- cc.algorithm -------------------------------------------------------------------------------


def test_dctcp_is_refused_with_one_message_everywhere(tmp_path, capsys):
    path = write(tmp_path, FAT_TREE + '[cc]\nalgorithm = "dctcp"\n')
    message = assert_same_everywhere(tmp_path, capsys, path)
    assert message == f'{path}: cc.algorithm: "dctcp" is not implemented in this version (choose "dcqcn" or "none")'
    assert assert_same_everywhere(tmp_path, capsys, write(tmp_path, FAT_TREE), "--set", "cc.algorithm=dctcp") == message
    with pytest.raises(ScenarioError, match="not implemented"):
        fabsim.load_scenario({"topology": {"kind": "star", "hosts": 2}, "cc": {"algorithm": "dctcp"},
                              "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 1000}]})


@pytest.mark.parametrize("algorithm", ["dcqcn", "none"])
def test_flow_engine_accepts_both_implemented_algorithms(tmp_path, capsys, algorithm):
    code, _, err = cli(tmp_path, capsys, "validate", write(tmp_path, FAT_TREE), "--set", f"cc.algorithm={algorithm}",
                       "--set", "run.engine=flow")
    assert code == 0, err


# ---- packet size against the buffer -------------------------------------------------------------


def test_buffer_smaller_than_a_packet(tmp_path, capsys):
    path = write(tmp_path, FAT_TREE + '[switch]\nbuffer = 4000\n')
    message = assert_same_everywhere(tmp_path, capsys, path)
    assert message == f"{path}: switch.buffer: 4000 bytes is less than one packet (4144 bytes = host.mtu + host.header)"


def test_static_port_share_smaller_than_a_packet(tmp_path, capsys):
    # every fat-tree k = 4 switch has 4 ports: 16,000 // 4 = 4,000 < 4,144
    path = write(tmp_path, FAT_TREE + '[switch]\nbuffer = 16000\nbuffer_policy = "static"\n')
    message = assert_same_everywhere(tmp_path, capsys, path)
    share = '"static" gives each port of tor0 (4 ports) buffer // 4 = 4000 bytes'
    assert message.startswith(f"{path}: switch.buffer_policy: {share}")
    # the same buffer is enough when the share fits, or when the buffer is shared
    for override in ("switch.buffer=16576", 'switch.buffer_policy="dynamic"'):
        code, _, err = cli(tmp_path, capsys, "validate", path, "--set", override)
        assert code == 0, (override, err)


def test_static_share_uses_the_switch_with_the_most_ports(tmp_path, capsys):
    # a star of 8 hosts: one switch with 8 ports; 32,000 // 8 = 4,000
    traffic = FAT_TREE.split("\n", 4)[4]
    text = '[topology]\nkind = "star"\nhosts = 8\n[switch]\nbuffer = 32000\nbuffer_policy = "static"\n' + traffic
    message = refused(tmp_path, capsys, "validate", write(tmp_path, text))
    assert "each port of sw0 (8 ports) buffer // 8 = 4000 bytes" in message


# ---- packet size limit (load) -------------------------------------------------------------------


def test_mtu_plus_header_has_a_maximum(tmp_path, capsys):
    path = write(tmp_path, FAT_TREE)
    message = assert_same_everywhere(tmp_path, capsys, path, "--set", "host.mtu=2MB")
    assert message == f"{path}: host.mtu: mtu + header must be ≤ 65536 bytes (one packet on the wire), got 2000000 + 48"
    header = refused(tmp_path, capsys, "validate", path, "--set", "host.header=70000")
    assert "host.header: mtu + header must be ≤ 65536" in header
    code, _, err = cli(tmp_path, capsys, "validate", path, "--set", "host.mtu=65488")  # + 48 = 65,536
    assert code == 0, err
    assert "65537" not in refused(tmp_path, capsys, "validate", path, "--set", "host.mtu=65489")


# ---- packets per flow ---------------------------------------------------------------------------


def test_packets_per_flow_below_two_to_the_31(tmp_path, capsys):
    path = write(tmp_path, FAT_TREE + '[[traffic]]\nkind = "flow"\nsrc = 1\ndst = 2\nsize = "1MB"\n')
    largest = MAX_PACKETS_PER_FLOW * 4096
    code, _, err = cli(tmp_path, capsys, "validate", path, "--set", f"traffic[1].size={largest}")
    assert code == 0, err
    message = assert_same_everywhere(tmp_path, capsys, path, "--set", f"traffic[1].size={largest + 1}")
    assert message == (f"{path}: traffic[1]: a flow of {largest + 1} bytes is {2**31} packets at host.mtu = 4096 "
                       f"bytes; a flow may have at most {2**31 - 1} packets")


def test_a_refused_scenario_is_refused_before_any_compile(tmp_path, capsys, monkeypatch):
    """With the kernels not in the cache, ``fabsim run`` applies the checks before compiling
    (a minute or more), not after."""
    import fabsim.api

    compiled = []
    monkeypatch.setattr(fabsim.api, "is_compiled", lambda engine: False)
    monkeypatch.setattr(fabsim.api, "warm", lambda engines, on_step=None: compiled.extend(engines))
    path = write(tmp_path, FAT_TREE + '[switch]\nbuffer = 4000\n')
    for command in ("run-flow", "run-packet"):
        assert refused(tmp_path, capsys, command, path).endswith("switch.buffer: 4000 bytes is less than one packet "
                                                                 "(4144 bytes = host.mtu + host.header)")
    assert compiled == []


# ---- link delay ---------------------------------------------------------------------------------


def test_link_delay_below_two_to_the_32_ps(tmp_path, capsys):
    # the packet engine keeps the gap between two arrivals on one wire (≤ the wire's delay) in 32 bits
    path = write(tmp_path, FAT_TREE + '[switch]\nlatency = "1us"\n')
    below = 2**32 - 1 - 10**6  # ps: with the 1 µs switch latency, one below the limit
    code, _, err = cli(tmp_path, capsys, "validate", path, "--set", f'topology.link_delay="{below}ps"')
    assert code == 0, err
    message = assert_same_everywhere(tmp_path, capsys, path, "--set", f'topology.link_delay="{below + 1}ps"')
    assert message == (f"{path}: topology.link_delay: the delay of h0–tor0 plus switch.latency is 4.29497 ms; "
                       "a link's delay must be below 4.29497 ms (2**32 ps)")


def test_links_fit_the_bits_an_event_has_for_them(tmp_path, capsys, monkeypatch):
    from fabsim.native import codes

    path = write(tmp_path, FAT_TREE)  # k = 4: 48 cables, 96 links
    monkeypatch.setattr(codes, "EV_LINK_MASK", 95)
    code, _, err = cli(tmp_path, capsys, "validate", path)
    assert code == 0, err
    monkeypatch.setattr(codes, "EV_LINK_MASK", 94)
    message = refused(tmp_path, capsys, "validate", path)
    assert message == (f"{path}: topology: the fabric has 96 links (directions of its cables); the packet engine "
                       f"numbers them in {codes.EV_LINK_BITS} bits, at most 95")


def test_tasks_fit_the_bits_a_packet_has_for_its_flow(tmp_path, capsys, monkeypatch):
    from fabsim.native import codes
    from fabsim.scenario import runnable

    assert runnable.MAX_TASKS == 2**codes.META_FLOW_BITS
    flow = '[[traffic]]\nkind = "flow"\nsrc = 1\ndst = 2\nsize = "1MB"\n'
    path = write(tmp_path, FAT_TREE + flow)
    monkeypatch.setattr(runnable, "MAX_TASKS", 2)
    code, _, err = cli(tmp_path, capsys, "validate", path)
    assert code == 0, err
    monkeypatch.setattr(runnable, "MAX_TASKS", 1)
    message = assert_same_everywhere(tmp_path, capsys, path)
    assert message == (f"{path}: traffic: the traffic has 2 tasks (flows, compute tasks and scale-up transfers); "
                       "a run may have at most 1")


def test_link_delay_of_one_cable_of_a_file_fabric(tmp_path, capsys):
    csv = "a,b,rate,delay\nh0,swA,,\nh1,swA,,\nh2,swA,,5ms\n"
    text = SPLIT.replace('dst = "h3"', 'dst = "h2"')
    message = refused(tmp_path, capsys, "validate", write(tmp_path, text, csv))
    assert message.endswith("topology.path: the delay of h2–swA plus switch.latency is 5 ms; a link's delay "
                            "must be below 4.29497 ms (2**32 ps)")


# ---- run.seed -----------------------------------------------------------------------------------


def test_seed_must_fit_in_a_signed_64_bit_integer(tmp_path, capsys):
    path = write(tmp_path, FAT_TREE)
    expected = f"{path}: run.seed: seed must be ≤ {2**63 - 1}, got {2**63}"
    assert assert_same_everywhere(tmp_path, capsys, path, "--seed", str(2**63)) == expected
    assert refused(tmp_path, capsys, "validate", path, "--set", f"run.seed={2**63}") == expected
    in_file = write(tmp_path, f"[run]\nseed = {2**63 - 1}\n" + FAT_TREE)
    code, _, err = cli(tmp_path, capsys, "validate", in_file)
    assert code == 0, err


# ---- host names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "index"), [("h0", 0), ("h12", 12), ("sw0", None), ("h", None), ("h1x", None)])
def test_host_name_rule(name, index):
    assert parse_host_name(name) == index


@pytest.mark.parametrize("name", ["h01", "h00", "h007"])
def test_host_names_with_leading_zeros_are_refused(name):
    with pytest.raises(ValueError, match="no leading zeros"):
        parse_host_name(name)


def test_leading_zero_host_in_a_fabric_csv_is_refused_at_its_line(tmp_path, capsys):
    path = write(tmp_path, SPLIT, "a,b,rate,delay\nh0,swA,,\nh01,swA,,\n")
    message = assert_same_everywhere(tmp_path, capsys, path)
    bad = '"h01" is not a host name: hosts are h<i> with no leading zeros (h1)'
    assert message == f"{path}: topology.path: fabric.csv line 3: {bad}"


@pytest.mark.parametrize(("override", "key"), [
    ('traffic[0].dst="h05"', "traffic[0].dst"),
    ('failures=[{target="link:h01-tor0", at="1ms"}]', "failures[0].target"),
    ('failures=[{target="switch:h00", at="1ms"}]', "failures[0].target"),
])
def test_leading_zero_host_in_a_scenario_names_the_key(tmp_path, capsys, override, key):
    path = write(tmp_path, FAT_TREE)
    message = refused(tmp_path, capsys, "validate", path, "--set", override)
    assert message.startswith(f"{path}: {key}: ") and "no leading zeros" in message


# ---- PFC that can never fire --------------------------------------------------------------------


def test_ingress_bound_of_each_buffer_policy(tmp_path):
    def bound(**switch):
        sc = fabsim.load_scenario(write(tmp_path, FAT_TREE), overrides={f"switch.{k}": v for k, v in switch.items()})
        return ingress_bound_bytes(sc, build_model(sc).fabric)

    w = 4096 + 48
    assert bound(buffer=1_000_000, buffer_policy="static") == (1_000_000, 4)
    assert bound(buffer=1_000_001, buffer_policy="static") == (4 * 250_000, 4)
    # dynamic: buffer · (1 − (1 + α)^−4) + 4 · w, never above the buffer
    assert bound(buffer=1_000_000) == (937_500 + 4 * w, 4)
    assert bound(buffer=1_000_000, dt_alpha=0.125) == (int(np.ceil(1e6 * (1 - 1.125**-4))) + 4 * w, 4)
    assert bound(buffer=1_000_000, dt_alpha=1000.0) == (1_000_000, 4)


@pytest.mark.parametrize("alpha", [0.0625, 0.5, 1.0, 4.0])
@pytest.mark.parametrize("ports", [2, 4, 8])
def test_dynamic_ingress_bound_holds_against_random_admissions_and_departures(alpha, ports):
    """The admission rule of the packet kernel (native/queues.py; docs/packet-engine.md,
    "Admission") with one ingress feeding every port, which are served at random or not at all
    (paused): the bytes held never reach the bound the warning uses, and filling the ports one
    after the other comes close to it."""
    buffer, w = 200_000, 1_000
    bound = int(np.ceil(buffer * -np.expm1(-ports * np.log1p(alpha)))) + ports * w
    rng = random.Random(ports * 1000 + int(alpha * 16))
    for trial in range(20):
        queues = [[] for _ in range(ports)]
        used = 0
        drain = rng.random() * 0.5
        for _ in range(3_000):
            e = rng.randrange(ports)
            if rng.random() < drain and queues[e]:
                used -= queues[e].pop(0)
                continue
            size = rng.choice((64, w // 2, w))
            if float(sum(queues[e])) < alpha * float(buffer - used) and used + size <= buffer:
                queues[e].append(size)
                used += size
            assert used < min(bound, buffer + 1)
    # sequential filling: port after port until it refuses
    queues, used = [0] * ports, 0
    for e in range(ports):
        while queues[e] < alpha * (buffer - used) and used + w <= buffer:
            queues[e] += w
            used += w
    assert used < bound
    assert used > min(buffer * -np.expm1(-ports * np.log1p(alpha)), buffer) - ports * w


def test_unreachable_pfc_xoff_is_a_warning_in_validate(tmp_path, capsys):
    path = write(tmp_path, FAT_TREE + '[switch]\nbuffer = "1MB"\npfc_xoff = "1MB"\npfc_xon = "900KB"\n')
    code, out, err = cli(tmp_path, capsys, "validate", path)
    assert code == 0 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert lines == [
        f"warning: {path}: switch.pfc_xoff: 1000000 bytes is at or above the most one ingress can hold "
        f'(954076 bytes; buffer_policy = "dynamic", dt_alpha = 1: buffer × (1 − (1 + dt_alpha)^−ports) + ports × '
        "packet with 4 ports): PFC would never fire"
    ]
    code, out, err = cli(tmp_path, capsys, "validate", path, "--json")
    assert code == 0
    assert json.loads(out)["warnings"] == [lines[0].removeprefix("warning: ")]
    assert "PFC would never fire" in err

    # static: 4 × (1 MB // 4) = 1 MB is the bound
    code, _, err = cli(tmp_path, capsys, "validate", path, "--set", 'switch.buffer_policy="static"')
    assert code == 0 and 'at or above the most one ingress can hold (1000000 bytes; buffer_policy = "static"' in err
    # no warning: just below the bound, or with PFC off
    for override in ("switch.pfc_xoff=954075", "switch.pfc=false"):
        code, out, err = cli(tmp_path, capsys, "validate", path, "--set", override, "--json")
        assert code == 0 and json.loads(out)["warnings"] == [] and "warning" not in err, override


def test_valid_scenario_has_no_warning(tmp_path, capsys):
    path = write(tmp_path, FAT_TREE)
    code, out, err = cli(tmp_path, capsys, "validate", path)
    assert code == 0 and "warning" not in err
    code, out, _ = cli(tmp_path, capsys, "validate", path, "--json")
    assert json.loads(out)["warnings"] == []


def test_run_prints_the_warning_and_keeps_it_in_the_summary(tmp_path, capsys):
    path = write(tmp_path, FAT_TREE + '[switch]\nbuffer = "1MB"\npfc_xoff = "1MB"\npfc_xon = "900KB"\n')
    code, _, err = cli(tmp_path, capsys, "run-flow", path)
    assert code == 0, err
    # once, on a line of its own (a cold kernel cache puts the compile notice before it)
    warned = [line for line in err.splitlines() if "PFC would never fire" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: ") and err.count("PFC would never fire") == 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert len(summary["warnings"]) == 1 and "switch.pfc_xoff" in summary["warnings"][0]


@pytest.mark.parametrize(("sweep", "key"), [
    (f"seeds = [1, {2**63}]", "sweep.seeds[1]"),
    ("seeds = 3", "sweep.seeds"),  # run.seed = 2⁶³ − 2: the third seed would be 2⁶³
])
def test_sweep_seeds_must_fit_in_a_signed_64_bit_integer(tmp_path, capsys, sweep, key):
    path = tmp_path / "s.toml"
    path.write_text(f"[run]\nseed = {2**63 - 2}\n" + FAT_TREE + f"[sweep]\n{sweep}\n")
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {key}: " in err and str(2**63 - 1) in err and "Traceback" not in err
