"""Composable randomizers: textures, lighting, camera, physics, object poses, distractors,
image noise; presets; automatic domain randomization; user kinds by registration.

Every randomizer declares its parameter space, samples plain JSON params from a
``np.random.Generator`` without touching a simulator, and applies params to a scene.
"""

from randomizers.base import Randomizer
from randomizers.camera import CameraPose
from randomizers.compose import Compose
from randomizers.distractors import Distractors
from randomizers.distributions import Distribution
from randomizers.errors import PresetError
from randomizers.image_noise import ImageNoise
from randomizers.lighting import Lighting
from randomizers.object_pose import ObjectPose
from randomizers.physics import Physics
from randomizers.presets import available_presets, build_randomizer, load_preset, to_preset
from randomizers.registry import (
    KINDS,
    known_kinds,
    register_randomizer,
    unregister_randomizer,
)
from randomizers.spaces import ParamSpec, decode, encode
from randomizers.texture import Texture

__all__ = [
    "KINDS",
    "CameraPose",
    "Compose",
    "Distractors",
    "Distribution",
    "ImageNoise",
    "Lighting",
    "ObjectPose",
    "ParamSpec",
    "Physics",
    "PresetError",
    "Randomizer",
    "Texture",
    "available_presets",
    "build_randomizer",
    "decode",
    "encode",
    "known_kinds",
    "load_preset",
    "register_randomizer",
    "to_preset",
    "unregister_randomizer",
]
