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


# ---- the packet engine (native/packet.py and its modules; docs/packet-engine.md) ----

STATUS_POOL_FULL = 3  # the packet pool ran out in the middle of an event (a sizing error)
STATUS_POOL_LOW = 4  # stopped before an event: fewer than POOL_RESERVE free packets; grow the pool
POOL_RESERVE = 4  # an event allocates at most two packets (e.g. a RESUME and a data packet)
STATUS_EVENTS_LOW = 5  # stopped before an event: the event set has room for fewer than
# params[P_EV_RESERVE] more events; grow it (wheel.grow_wheel)
STATUS_CONTEXTS_LOW = 6  # stopped before an event: no flow context is free; grow them
# (packet_state.grow_contexts)
START_PORT = 16  # a handler's return value ≥ START_PORT: run try_start on port (value − START_PORT)

# Event kinds, in the low EV_BITS bits of an event value (value = object << EV_BITS | kind).
EV_START = 0
EV_TX_DONE = 1
EV_ARRIVE = 2
EV_RTO = 3
EV_PACE = 4  # a paced flow may send again
EV_CNP = 5  # paper: the receiver's deferred CNP for a flow falls due
EV_CHECK = 6  # a scale-up transfer of a server (the object) may have finished sending
EV_DONE = 7  # a compute task ends, or a scale-up transfer is received (the object is the task)
EV_NACK = 8  # a receiver's paced trim NACK (the object: the packet row that holds it) is due
EV_BITS = 4  # the event value is (object << EV_BITS) | kind
EV_MASK = 15
# TX_DONE and ARRIVE name their link and also a packet — the one being sent, the one at the head of
# the pipe — as (packet << EV_PACKET_SHIFT) | (link << EV_BITS) | kind: the event loop asks for that
# packet's row before the event is handled, and the handler takes the packet from the value, without
# first reading the port's or pipe's head
EV_LINK_BITS = 26
EV_LINK_MASK = (1 << EV_LINK_BITS) - 1
EV_PACKET_SHIFT = EV_BITS + EV_LINK_BITS

# Task kinds of the packet engine (PacketNet.f_kind).
KIND_FABRIC = 0  # packets through the fabric
KIND_SCALEUP = 1  # fluid, between two GPUs of one server (native/scaleup.py)
KIND_COMPUTE = 2  # a compute task: DONE after its duration

# Columns of PacketState.pkt (int32[pool, PK_SIZE]): one 16-byte row per packet, four to a
# cache line, so that a packet's fields share a line and the pool of a large fabric, where
# hundreds of thousands of packets are queued at once, stays small enough for the cache.
PK_NEXT = 0  # next packet in its queue, pipe or the free list
PK_META = 1  # the kind (bits 0–3: PKT_* with the PKT_LOST flag), the ECN mark (META_MARK; an ACK
# or NACK: the echo), META_SHORT, and the flow (bits META_FLOW_SHIFT up)
PK_SEQ = 2  # data: sequence number; ACK/NACK: cumulative ack
PK_IN_LINK = 3  # link it arrived on at the switch holding it
# the same slot while the packet is on a wire (it has left the switch): ps from its arrival at the
# far end to that of the packet behind it on the same wire (unsigned; 0 ≤ gap ≤ the link's delay,
# which the packet engine keeps below 2**32 ps, ``PIPE_DELAY_LIMIT_PS``)
PK_GAP = PK_IN_LINK
PK_SIZE = 4
META_KIND = 15  # the kind, with the PKT_LOST flag
META_MARK_SHIFT = 4
META_MARK = 1 << META_MARK_SHIFT  # the ECN mark
# a data packet with less than an MTU of payload (a flow's last): its wire bytes are computed from
# the flow's size; every other data packet is host.mtu + host.header, every other kind a control
# frame (CONTROL_WIRE_BYTES), so a packet's row does not hold its size (``packet_state._wire``)
META_SHORT = 32
META_FLOW_SHIFT = 6
META_FLOW_BITS = 26  # tasks of a packet run are numbered below 2**26 (fabsim.scenario.runnable)
META_FLOW_MASK = (1 << META_FLOW_BITS) - 1
# Columns of PacketState.pkx (int32[pool, PX_SIZE]; rows only in the full variant of the kernel)
PX_ENTROPY = 0  # the entropy value (ecmp = spray or reps; an ACK or NACK: the one of the packet it answers)
PX_SACK = 1  # an ACK under selective repeat: the sequence number of the packet it answers
PX_SIZE = 2
PIPE_DELAY_LIMIT_PS = 2**32

# Packet kinds.
PKT_DATA = 0
PKT_ACK = 1
PKT_PAUSE = 2
PKT_RESUME = 3
PKT_NACK = 4
PKT_CNP = 5
PKT_TRIM = 6  # a data packet trimmed to its header by a switch (switch.trim), on its way to the receiver
PKT_LOST = 8  # flag on the kind of a packet on a failed link's wire: dropped where the wire ends
CONTROL_WIRE_BYTES = 64  # ACK, NACK, CNP, PAUSE and RESUME frames: the Ethernet minimum frame

# ECMP modes and buffer policies (PacketNet.params).
ECMP_FLOW = 0
ECMP_PACKET = 1
ECMP_ADAPTIVE = 2
ECMP_SPRAY = 3  # sender-chosen entropy, cycled (oblivious spraying)
ECMP_REPS = 4  # sender-chosen entropy, recycled (REPS)
ECMP_FLOWLET = 5  # a switch moves a flow to its least-loaded candidate after a gap
FLOWLET_SLOTS = 1024  # entries of each switch's flowlet table (indexed by the flow hash)
BUFFER_DYNAMIC = 0
BUFFER_STATIC = 1
PACKET_SPRAY_STRIDE = 65536  # channel + stride·(seq + 1) re-hashes every packet

# Slots of PacketNet.params (int64).
P_N_HOSTS = 0
P_MTU = 1
P_HEADER = 2
P_RTO = 3
P_ECMP = 4
P_BUFFER_POLICY = 5
P_BUFFER = 6
P_ECN = 7
P_ECN_DEQUEUE = 8
P_PFC = 9
P_XOFF = 10
P_XON = 11
P_SEED = 12
P_NACK = 13
P_CC = 14  # CC_NONE, CC_PAPER or CC_HPCC (docs/dcqcn.md)
P_CNP_INTERVAL = 15  # paper: at most one CNP per flow per interval (ps)
P_ALPHA_TIMER = 16  # ps
P_RATE_TIMER = 17  # ps
P_DEC_INTERVAL = 18  # hpcc: period of the rate-decrease check (ps)
P_BYTE_COUNTER = 19  # paper: bytes per byte-counter expiry; 0 = off
P_FAST_RECOVERY = 20  # F
P_RETRIES = 21  # consecutive timeouts of one packet a flow survives (host.retries)
P_SROUTE = 22  # packets follow their flow's source route (PacketNet.sr_*) instead of per-hop routing:
# 1 (routes never change), 2 (with failures: routes are traced again after each convergence, and a
# packet off its route is routed hop by hop, so the per-hop hashes are passed too); 0: per hop
P_EV_RESERVE = 23  # most events one event can schedule (64 + the most successors of a task + the
# most scale-up transfers of a server): run_until stops with STATUS_EVENTS_LOW below this room
P_ACK_EVERY = 24  # host.ack_every: an in-order packet is ACKed when rcv_nxt % N == 0 or it is the last
P_TRANSPORT = 25  # TRANSPORT_GBN or TRANSPORT_SR (host.transport)
P_SR_WINDOW = 26  # sr: W, packets a flow may have outstanding beyond snd_una (a multiple of 64)
P_SR_REORDER = 27  # sr: R, the reorder allowance (packets)
P_TRIM = 28  # switch.trim: a data packet that would be dropped is trimmed instead
P_TRIM_QUEUE = 29  # switch.trim_queue: also trim where the data queue would exceed this (bytes; 0: off)
P_ENTROPIES = 30  # routing.entropies: E, the entropy values of spray and reps
P_REPS_BUFFER = 31  # routing.reps_buffer: B, slots of a flow's buffer of recycled entropy values
P_FLOWLET_GAP = 32  # routing.flowlet_gap (ps): a longer gap starts a new flowlet
P_PACE_TRIM_NACKS = 33  # host.pace_trim_nacks: a receiver sends trim NACKs at its link's pace
P_TRIMS_PER_DATA = 34  # switch.trims_per_data: T, trims a switch port sends while data waits, then one data packet (0: strict)
P_SIZE = 35
# Slots of PacketNet.fparams (float64).
F_DT_ALPHA = 0
F_PMAX = 1
F_G = 2  # DCQCN alpha gain
F_ALPHA0 = 3  # initial alpha
F_MIN_RATE = 4  # bit/s
F_SIZE = 5

TRANSPORT_GBN = 0  # go-back-N (RoCE)
TRANSPORT_SR = 1  # selective repeat (native/selective.py)

CC_NONE = 0
CC_PAPER = 1  # Zhu et al. 2015 as in htsim and the DESIGN: CNP packets, cut on each CNP
CC_HPCC = 2  # Mellanox CX4 as in the HPCC ns-3 code: ECN echo on ACKs, periodic decrease check
# RP flag bits
RP_RUNNING = 1  # the first congestion signal has arrived: the timers run
RP_ALPHA_CNP = 2  # hpcc: a signal arrived in the current alpha period
RP_DEC_CNP = 4  # hpcc: a signal arrived since the last decrease check
# busy bits of a port
BUSY_TX = 1  # a packet is being transmitted (its TX_DONE is pending)
BUSY_DEAD = 2  # the link is failed: it starts nothing
# f_abandon states of a flow
ABANDON_NONE = 0
ABANDON_UNREACHABLE = 1  # destination unreachable: the timer stops at its next expiry
ABANDON_STOPPED = 2  # unreachable and its timer has stopped (revive() restarts it)
ABANDON_RETRIES = 3  # gave up after host.retries consecutive timeouts: over at both ends
# in_ring states of a flow
RING_OUT = 0
RING_IN = 1
RING_PACED = 2  # waiting for its EV_PACE

# Slots of PacketState.clock (int64).
C_T_NOW = 0
C_SEQ = 1
C_PENDING = 2  # events pending (set when run_until returns)
C_EVENTS = 3
C_HOPS = 4
C_FREE = 5  # head of the free list of packets used and freed (−1: empty)
C_IN_USE = 6  # packets allocated
C_DONE = 7  # flows received
C_HWM = 8  # packets of the pool ever used: _alloc takes the next one when the free list is empty
C_CX_FREE = 9  # head of the free list of flow contexts given back (−1: empty)
C_CX_HWM = 10  # flow contexts ever used: _take_context takes the next one when the free list is empty
C_SIZE = 11

