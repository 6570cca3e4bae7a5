#!/usr/bin/env python3
"""Plot a run's DCQCN rates trace: docs/img/dcqcn-rates.png is made by

    fabsim run scenarios/examples/dcqcn-two-flows.toml --out runs/dcqcn-two-flows
    tools/plot_dcqcn_rates.py runs/dcqcn-two-flows docs/img/dcqcn-rates.png
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fabsim.trace import read_run  # noqa: E402

run, out = sys.argv[1], sys.argv[2]
rates = read_run(run)["rates"]
t_ms = np.asarray(rates["t_ns"]) / 1e6
flow = np.asarray(rates["flow_id"])
fig, (ax_rate, ax_alpha) = plt.subplots(2, 1, sharex=True, figsize=(8, 5.5), height_ratios=[2, 1])
for f in np.unique(flow):
    sel = flow == f
    (line,) = ax_rate.plot(t_ms[sel], np.asarray(rates["rate_bps"])[sel] / 1e9, label=f"flow {f}: Rc")
    ax_rate.plot(t_ms[sel], np.asarray(rates["target_bps"])[sel] / 1e9, "--", color=line.get_color(), label=f"flow {f}: Rt")
    ax_alpha.plot(t_ms[sel], np.asarray(rates["alpha"])[sel], color=line.get_color())
ax_rate.set_ylabel("rate (Gb/s)")
ax_rate.legend(loc="lower right", ncol=2)
ax_rate.grid(alpha=0.3)
ax_alpha.set_ylabel("α")
ax_alpha.set_xlabel("simulated time (ms)")
ax_alpha.grid(alpha=0.3)
fig.suptitle("DCQCN (paper dialect): two flows into one 40 Gb/s receiver")
fig.tight_layout()
fig.savefig(out, dpi=110)
