"""Experiment drivers: evaluation, ablations, robustness sweeps, BC transfer and rare-event balancing."""
