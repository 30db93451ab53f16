"""DAgger: a visuomotor keypoint policy distilled from the privileged expert in randomized simulation."""
