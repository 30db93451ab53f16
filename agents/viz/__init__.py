"""Viewers of episodes and datasets: Rerun (:mod:`agents.viz.rerun_log`, extra ``viz``)."""
