"""Shared by the randomizer tests (and the rare-event tests): one small, fully-configured
preset per kind, and a Push env built with a preset."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

# One small, fully-configured preset per kind (fast: small texture banks).
# One small, fully-configured preset per kind (fast: small texture banks).
KIND_PRESETS: dict[str, dict] = {
    "target_object": {"target_object": {"objects": ["cube", "lego", "soccer_ball"]}},
    "object_scale": {"object_scale": {"scales": [0.8, 1.0, 1.25]}},
    "table_height": {"table_height": {"offset": [-0.1, 0.05]}},
    "object_pose": {"object_pose": {"x": [0.4, 0.6], "y": [-0.1, 0.1], "yaw": [-1.0, 1.0]}},
    "distractors": {"distractors": {"count": [1, 4], "bank_size": 8, "tint": [0.2, 1.0]}},
    "physics": {
        "physics": {
            "mass": [2.0, 3.0],
            "lateral_friction": [0.2, 0.4],
            "restitution": [0.1, 0.3],
            "gravity": [-6.0, -5.0],
            "joint_damping": [0.1, 0.2],
            "actuator_force": [0.5, 0.6],
            "latency": {"dist": "choice", "values": [1, 2]},
            "action_noise": [0.01, 0.02],
            "observation_noise": [0.01, 0.02],
        }
    },
    "texture": {"texture": {"bank_size": 8, "tint": [0.2, 1.0]}},
    "lighting": {
        "lighting": {
            "azimuth": [0, 360],
            "elevation": [20, 80],
            "color": [0.5, 1.0],
            "ambient": [0.2, 0.8],
            "diffuse": [0.2, 0.8],
            "specular": [0.0, 0.5],
            "distance": [1, 4],
            "shadow_probability": 0.5,
        }
    },
    "camera": {
        "camera": {
            "eye_offset": [-0.05, 0.05],
            "target_offset": [-0.03, 0.03],
            "roll": [-5, 5],
            "fov_scale": [0.9, 1.1],
        }
    },
    "image_noise": {
        "image_noise": {
            "gaussian_std": [2, 8],
            "blur_sigma": [0.5, 1.0],
            "brightness": [-0.1, 0.1],
            "contrast": [0.8, 1.2],
            "saturation": [0.5, 1.5],
        }
    },
}


def push_env(preset: Any, **kw: Any) -> Any:
    """The unwrapped ``domrand/Push-v0`` with ``randomization=preset``."""
    return gym.make("domrand/Push-v0", randomization=preset, **kw).unwrapped
