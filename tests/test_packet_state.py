"""The kernel boundary: ``make_net`` checks every field of the packet engine's static inputs."""

from __future__ import annotations

import numpy as np
import pytest

import fabsim
from fabsim.native import packet_state
from fabsim.run.packet import build_net
from fabsim.traffic import build_flow_table


@pytest.fixture(scope="module")
def fields() -> dict:
    sc = fabsim.load_scenario({
        "topology": {"kind": "fat_tree", "k": 4}, "cc": {"algorithm": "dcqcn"},
        "traffic": [{"kind": "collective", "op": "allreduce", "size": "1MB", "ranks": 8}],
    })
    model = fabsim.build_model(sc)
    return build_net(model, build_flow_table(sc, model.fabric))._asdict()


def test_every_field_has_a_contract(fields):
    assert list(packet_state.NET_FIELDS) == list(packet_state.PacketNet._fields)
    assert packet_state.make_net(**fields) == packet_state.PacketNet(**fields)


@pytest.mark.parametrize("name", ["link_rate_bps", "f_src", "h_rai", "fparams"])
def test_a_wrong_dtype_is_refused_naming_the_field(fields, name):
    with pytest.raises(TypeError, match=f"make_net: {name} must be {fields[name].dtype}, got float32"):
        packet_state.make_net(**{**fields, name: fields[name].astype(np.float32)})


@pytest.mark.parametrize("name", ["dist", "group_ptr", "link_up"])
def test_a_wrong_dtype_in_the_routing_tables_is_refused_naming_the_field(fields, name):
    routing = fields["routing"]
    bad = routing._replace(**{name: getattr(routing, name).astype(np.int64 if name != "group_ptr" else np.int32)})
    with pytest.raises(TypeError, match=f"make_net: routing.{name} must be {getattr(routing, name).dtype}, got"):
        packet_state.make_net(**{**fields, "routing": bad})


def test_a_wrong_shape_or_a_missing_field_is_refused(fields):
    with pytest.raises(ValueError, match="make_net: f_dst has .* where the other fields have F ="):
        packet_state.make_net(**{**fields, "f_dst": fields["f_dst"][:-1]})
    with pytest.raises(ValueError, match="make_net: params must have length"):
        packet_state.make_net(**{**fields, "params": np.zeros(3, np.int64)})
    with pytest.raises(ValueError, match="dimension"):
        packet_state.make_net(**{**fields, "routing": fields["routing"]._replace(dist=fields["routing"].dist.ravel())})
    with pytest.raises(TypeError, match="routing must be a RoutingTables"):
        packet_state.make_net(**{**fields, "routing": tuple(fields["routing"])})
    with pytest.raises(TypeError, match="missing fields \\['kmax'\\]"):
        packet_state.make_net(**{k: v for k, v in fields.items() if k != "kmax"})
    with pytest.raises(TypeError, match="must be a NumPy array"):
        packet_state.make_net(**{**fields, "kmin": fields["kmin"].tolist()})
    with pytest.raises(ValueError, match=r"variant must be variant_for\(params\)"):
        packet_state.make_net(**{**fields, "variant": np.zeros((0, 0), np.int8)})


@pytest.mark.parametrize("host,switch,routing,full", [
    ({}, {}, {}, False),
    ({"transport": "sr"}, {}, {}, True),
    ({"transport": "sr"}, {"trim": True}, {}, True),
    ({}, {}, {"ecmp": "spray"}, True),
    ({}, {}, {"ecmp": "reps"}, True),
    ({}, {}, {"ecmp": "packet"}, False),
    ({}, {}, {"ecmp": "flowlet"}, False),
])
def test_the_kernel_variant_follows_the_features_a_run_uses(host, switch, routing, full):
    """The plain variant (go-back-N, no trimming, no sender-chosen entropy) leaves out the code
    of the rest; any of those selects the full one (PacketNet.variant)."""
    sc = fabsim.load_scenario({"topology": {"kind": "star", "hosts": 3}, "host": host, "switch": switch,
                               "routing": routing, "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 100}]})
    model = fabsim.build_model(sc)
    net = build_net(model, build_flow_table(sc, model.fabric))
    assert net.variant.ndim == (2 if full else 1)
    assert fabsim.api.kernel_set(sc) == ("packet-full-core" if full else "packet-core")  # compiled ahead


def test_the_ecmp_inputs_are_passed_only_where_the_kernel_reads_them(fields):
    """With source routes the flow hashes are left out (the kernel follows the routes); without
    them, an empty hash array the kernel would read is refused, as are ecmp = "packet"'s hash
    ids and channels."""
    from fabsim.native import codes

    n = fields["f_src"].shape[0]
    assert fields["params"][codes.P_SROUTE] == 1
    assert all(fields[name].shape == (0,) for name in ("f_hash", "f_hash_fwd", "f_hash_rev", "f_channel"))
    per_hop = fields["params"].copy()
    per_hop[codes.P_SROUTE] = 0
    with pytest.raises(ValueError, match=f"make_net: f_hash_fwd must have {n} entries: the kernel reads it"):
        packet_state.make_net(**{**fields, "params": per_hop})
    moving = fields["params"].copy()
    moving[codes.P_SROUTE] = 2  # routes traced again after failures: packets off them go hop by hop
    with pytest.raises(ValueError, match="make_net: f_hash_fwd must have"):
        packet_state.make_net(**{**fields, "params": moving})
    spray = fields["params"].copy()
    spray[codes.P_ECMP] = codes.ECMP_PACKET
    with pytest.raises(ValueError, match=f"make_net: f_hash must have {n} entries"):
        packet_state.make_net(**{**fields, "params": spray})
    ids = np.zeros(n, np.int64)
    assert packet_state.make_net(**{**fields, "params": spray, "f_hash": ids, "f_channel": ids})
    with pytest.raises(ValueError, match="make_net: f_channel has 3 entries"):
        packet_state.make_net(**{**fields, "params": spray, "f_hash": ids, "f_channel": ids[:3]})


def test_source_routes_are_on_for_flow_ecmp_and_match_per_hop_routing():
    import fabsim
    from fabsim.model import build_model
    from fabsim.native import codes
    from fabsim.run.packet import build_net
    from fabsim.traffic import build_flow_table

    raw = {"topology": {"kind": "fat_tree", "k": 4}, "traffic": [{"kind": "permutation", "size": "64KB"}]}
    for ecmp, failures, on in (("flow", [], 1), ("packet", [], 0), ("flow", [{"target": "link:tor0-agg0", "at": "1ms"}], 2)):
        sc = fabsim.load_scenario({**raw, "routing": {"ecmp": ecmp}, "failures": failures})
        model = build_model(sc)
        flows = build_flow_table(sc, model.fabric)
        net = build_net(model, flows)
        assert net.params[codes.P_SROUTE] == on
        # with failures, the per-hop hashes stay for packets routed before a change
        assert net.f_hash_fwd.shape == ((len(flows),) if failures else (0,))
        if on:  # the data route runs from src to dst, the ACK route from dst to src
            ptr, fwd = net.sr_ptr, net.sr_fwd
            for f in range(len(flows)):
                hops = fwd[ptr[f]:ptr[f + 1]]
                assert model.fabric.link_src[hops[0]] == flows.src[f] and model.fabric.link_dst[hops[-1]] == flows.dst[f]
                back = net.sr_rev[ptr[f]:ptr[f + 1]]
                assert model.fabric.link_src[back[0]] == flows.dst[f] and model.fabric.link_dst[back[-1]] == flows.src[f]


def test_a_packet_row_keeps_its_flow_kind_mark_and_size():
    """A packet's 16-byte row packs the kind, the ECN mark, the short flag and the flow into one
    word and stores no size: the top flow id of the 26 bits, every kind with and without the
    lost flag, and the sizes derived from the kind (and a flow's last, shorter packet) read back
    as written."""
    from fabsim.native import codes
    from fabsim.run.packet import _wheel_geometry

    sc = fabsim.load_scenario({
        "topology": {"kind": "fat_tree", "k": 4}, "cc": {"algorithm": "none"},
        "traffic": [{"kind": "flow", "src": 0, "dst": 5, "size": 2 * 4096 + 1000}],
    })
    model = fabsim.build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    net = build_net(model, flows)
    st = packet_state.new_state(net, flows.pred_count, 64, *_wheel_geometry(model))
    top = 2**codes.META_FLOW_BITS - 1
    kinds = [codes.PKT_DATA, codes.PKT_ACK, codes.PKT_PAUSE, codes.PKT_RESUME, codes.PKT_NACK, codes.PKT_CNP,
             codes.PKT_TRIM]
    for flow in (0, 1, top):
        for kind in kinds:
            for short in (False, True):
                p = packet_state._alloc(st, flow, kind, 7, short)
                assert (packet_state.pk_flow(st, p), packet_state.pk_kind(st, p)) == (flow, kind)
                assert packet_state.pk_mark(st, p) == 0 and st.pkt[p, codes.PK_SEQ] == 7
                st.pkt[p, codes.PK_META] |= codes.META_MARK | codes.PKT_LOST
                assert (packet_state.pk_flow(st, p), packet_state.pk_kind(st, p)) == (flow, kind | codes.PKT_LOST)
                assert packet_state.pk_mark(st, p) == 1
                if kind != codes.PKT_DATA:
                    assert packet_state._wire(net, st, p) == codes.CONTROL_WIRE_BYTES
                elif not short:
                    assert packet_state._wire(net, st, p) == 4096 + 48
                packet_state._free(st, p)
    # the flow's packets: two full ones and a last one of 1,000 bytes of payload
    for seq, short, wire in ((0, False, 4144), (1, False, 4144), (2, True, 1048)):
        p = packet_state._alloc(st, 0, codes.PKT_DATA, seq, short)
        assert packet_state._wire(net, st, p) == packet_state._data_wire(net, st, p) == wire
        packet_state._free(st, p)
