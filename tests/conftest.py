"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def room_for_one_flow_context():
    """Packet-engine runs start with room for one flow context (native/packet_state.py), so
    that contexts are given back and taken again, and grow, in every run of the module."""
    from fabsim.native import packet_state

    saved = packet_state.CONTEXTS_INITIAL
    packet_state.CONTEXTS_INITIAL = 1
    yield
    packet_state.CONTEXTS_INITIAL = saved
