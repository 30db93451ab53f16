"""What an export is asked to do: :class:`ExportConfig`, its limits, the policy factory that
acts before each capture, and the errors an export raises."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.camera import CameraConfig
from envs.dataset.png import PNG_LEVEL
from envs.panda_env import MAX_IMAGE_SIZE
from randomizers.base import Randomizer
from randomizers.presets import check_preset_spec

FORMATS = ("coco", "bop")
BACKENDS = ("local", "ray")
MAX_NUM_IMAGES = 10_000_000  # per export: index files and resume checks stay in memory

Policy = Callable[[Mapping[str, np.ndarray]], np.ndarray]  # privileged state -> action
PolicyFactory = Callable[[str], Policy]  # env id -> a fresh policy (one per sample)


class ExportError(RuntimeError):
    """An export cannot start or go on; the one-line message names the file and the fix."""


class SampleError(ExportError):
    """Exporting one sample failed; the message names the sample index."""


class WorkerDiedError(ExportError):
    """A pool worker process died; the message names the samples that were in flight."""


@dataclass(frozen=True)
class ExportConfig:
    """What to export."""

    env_id: str = "domrand/Push-v0"
    # a preset name or .yaml path, a preset dict, a randomizers.Randomizer, or None; the
    # manifest records its contents (a dict's and a Randomizer's options as canonical YAML)
    preset: str | Path | Mapping[str, Any] | Randomizer | None = "tobin"
    num_images: int = 100
    size: int = 128
    out: str = "datasets/export"
    seed: int = 0
    workers: int = 1
    resume: bool = False
    formats: tuple[str, ...] = ()
    depth: bool = False
    steps: int = 0  # actions before the capture (varied robot and object states)
    max_steps: int | None = None  # each sample draws its step count from steps..max_steps
    visibility: bool = True
    # zlib level of the RGB PNGs: 0 stores them (~7x faster to write, ~4x to read, ~1.5x the
    # bytes at 128 px); instance and depth PNGs keep level 1 (they shrink ~30x). Same pixels.
    png_level: int = PNG_LEVEL
    # who acts during the ``steps`` before the capture, as recorded in the manifest: "random"
    # (uniform actions), or the name of the policy that ``export_dataset``'s factory makes
    policy: str = "random"
    overwrite: bool = False
    episodes_file: str | None = None  # JSONL of {"seed", "params"}: replay these episodes
    backend: str = "local"  # "local" (process pool) or "ray"
    address: str | None = None  # Ray cluster address; None starts a local Ray
    shard_size: int = 50  # samples per Ray task
    width: int | None = None  # non-square images: width and height in px (None: size)
    height: int | None = None
    # named cameras (the first is the main one), each resized to the export's image size;
    # None: the env's one camera. Several cameras: one image per camera per sample
    cameras: Mapping[str, CameraConfig] | None = None
    # more ``gym.make`` arguments, as JSON data: e.g. {"robot": "kuka", "task_kwargs":
    # {"object": "mug"}, "fixtures": [...]}; recorded in the manifest, compared on resume
    env_kwargs: Mapping[str, Any] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of every exported image."""
        return (self.height or self.size, self.width or self.size)

    @property
    def camera_names(self) -> list[str] | None:
        """The camera names when several cameras are exported (their own subfolders)."""
        return list(self.cameras) if self.cameras is not None and len(self.cameras) > 1 else None

    def __post_init__(self) -> None:
        check_preset_spec(self.preset, resume=self.resume)
        if not 1 <= self.num_images <= MAX_NUM_IMAGES:
            raise ValueError(
                f"num_images must be >= 1 and <= {MAX_NUM_IMAGES:,} per export, got "
                f"{self.num_images:,}; split a larger dataset into several exports (each its "
                "own --out and --seed)"
            )
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        for key in ("size", "width", "height"):
            value = getattr(self, key)
            if value is not None and not 1 <= value <= MAX_IMAGE_SIZE:
                raise ValueError(
                    f"{key} must be 1..{MAX_IMAGE_SIZE} px per side, got {value}; pick a "
                    "size in that range (TinyRenderer's frame cost grows with its square)"
                )
        if self.cameras is not None:
            from envs.cameras import camera_configs

            camera_configs(None, self.cameras)  # bad names and values fail here
        if self.env_kwargs is not None:
            check_env_kwargs(self.env_kwargs)
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}; episode seeds derive from it")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.max_steps is not None and self.max_steps < self.steps:
            raise ValueError(f"max_steps must be >= steps ({self.steps}), got {self.max_steps}")
        if not self.policy or not self.policy.strip():
            raise ValueError("policy must be a name ('random', 'expert', ...), got ''")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other; pick one")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; allowed: {', '.join(BACKENDS)}")
        if isinstance(self.png_level, bool) or self.png_level not in range(10):
            raise ValueError(f"png_level must be an int in 0..9 (zlib), got {self.png_level!r}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown format(s) {unknown}; allowed: {', '.join(FORMATS)}")


def check_policy_factory(config: ExportConfig, policy_factory: Any) -> None:
    """Refuse a policy name without a factory (or a factory under the name "random"), and a
    factory that cannot reach other processes (pool workers under spawn, Ray tasks)."""
    if config.policy == "random":
        if policy_factory is not None:
            raise ValueError(
                "a policy_factory was given but policy is 'random' (uniform actions); set "
                "policy to the factory's name (e.g. 'expert') so the manifest records who acted"
            )
        return
    if policy_factory is None:
        fix = "agents.policies.experts.make_expert" if config.policy == "expert" else "<factory>"
        raise ValueError(
            f"policy {config.policy!r} needs a policy_factory (env id -> a policy called on "
            f"env.privileged_state()); pass policy_factory={fix} to export_dataset"
        )
    if not callable(policy_factory):
        raise ValueError(f"policy_factory must be callable, got {policy_factory!r}")
    if config.workers > 1 or config.backend == "ray":
        try:
            pickle.dumps(policy_factory)
        except Exception as exc:
            raise ValueError(
                f"policy_factory {policy_factory!r} cannot be pickled ({exc}), so it cannot "
                "reach the worker processes; pass a module-level function"
            ) from None


OWN_ENV_ARGS = ("obs_mode", "image_size", "randomization", "cameras")
"""``gym.make`` arguments the exporter sets itself (from ``size``, ``preset``, ``cameras``)"""


def check_env_kwargs(env_kwargs: Mapping[str, Any]) -> None:
    """Refuse ``env_kwargs`` the exporter sets itself or cannot record as JSON."""
    import json

    if not isinstance(env_kwargs, Mapping):
        raise ValueError(f"env_kwargs must be a dict of gym.make arguments, got {env_kwargs!r}")
    own = sorted(set(env_kwargs) & set(OWN_ENV_ARGS))
    if own:
        raise ValueError(
            f"env_kwargs may not set {', '.join(own)}: the export sets them (use size, "
            "preset and cameras)"
        )
    try:
        json.dumps(dict(env_kwargs), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"env_kwargs must be JSON data (names, numbers, lists, dicts) so the manifest "
            f"can record them: {exc}; pass a robot, object or fixture by name or as a dict"
        ) from None
