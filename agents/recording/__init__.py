"""Episodes recorded or shown as they run: the per-step events of a rollout
(:mod:`agents.recording.steps`) and LeRobot datasets (:mod:`agents.recording.lerobot`, needs
the ``lerobot`` extra)."""
