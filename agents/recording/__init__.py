"""Episodes recorded as they run: the per-step events of a rollout
(:mod:`agents.recording.steps`), LeRobot datasets (:mod:`agents.recording.lerobot`, the folder
rules in :mod:`agents.recording.folder`) and trained LeRobot policies scored on this project's
episodes (:mod:`agents.recording.lerobot_policy`); the last two need the ``lerobot`` extra."""
