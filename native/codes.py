"""Integer codes shared by the kernels and the Python front.

Module-level integer constants are folded into the kernels at compile time.
"""

# Node roles (fabric.node_role).
ROLE_HOST = 0
ROLE_TOR = 1
ROLE_AGG = 2
ROLE_CORE = 3
ROLE_LEAF = 4
ROLE_SPINE = 5
ROLE_SWITCH = 6  # the star's switch, and switches of file topologies with free-form names

# Routing tables (native/routing.py).
DIST_UNREACHABLE = 127  # int8 hop distance meaning "no path"
ROUTE_LOCAL = -1  # next-hop group: the destination host hangs off this switch
ROUTE_UNREACHABLE = -2  # next-hop group: no live path toward the destination

# Kernel return status (the driver turns anything but DONE/SLICE into an error).
STATUS_DONE = 0  # no event left: every flow that could run has completed
STATUS_SLICE = 1  # stopped at the slice end t_end; call again to continue
STATUS_HEAP_FULL = 2  # the event heap overflowed its preallocated capacity

# Flow-engine flow states.
FLOW_WAITING = 0  # predecessors not yet received
FLOW_READY = 1  # start event pending
FLOW_ACTIVE = 2  # transmitting at its max-min rate
FLOW_SENT = 3  # last byte on the wire, not yet received
FLOW_DONE = 4  # fully received
