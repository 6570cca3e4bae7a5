"""Figures computed from a run's traces or raw results, shared by the trace assembly, the
report tables and the plots: ``collectives`` (spans, ideal times), ``flows`` (flow groups,
hottest links), ``jobs`` (per-job figures) and ``sweeps`` (what a sweep directory holds)."""
