"""One exported sample: reset the env with the sample's seed, act, render, label and write.

Sample ``i`` is a pure function of (env id, preset, seed, i): its reset seed is
``episode_seed(seed, i)`` (or row ``i`` of an episodes file), so any process writes the same
bytes for it. Each process holds one env, built once by :func:`init_worker`. The label file
is written last: a sample is finished once it exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np

from envs.camera import Camera
from envs.dataset.config import ExportConfig, Policy, PolicyFactory, SampleError
from envs.dataset.labels import body_index, sample_labels
from envs.dataset.layout import dump, write_file
from envs.dataset.png import encode_png
from envs.panda_env import PandaTaskEnv
from envs.seeding import action_rng, episode_seed


class _Worker:
    """This process's env and settings (one env per process, created once)."""

    env: PandaTaskEnv | None = None
    config: ExportConfig | None = None
    policy_factory: PolicyFactory | None = None


def init_worker(config: ExportConfig, policy_factory: PolicyFactory | None = None) -> None:
    """Build this process's env; ``policy_factory`` makes the policy of non-random steps."""
    import gymnasium as gym

    _Worker.config = config
    _Worker.policy_factory = policy_factory
    # state observations: a reset renders nothing; the one render per sample is ours
    h, w = config.shape
    image_size = config.size if (h, w) == (config.size, config.size) else (h, w)
    cameras: dict[str, Any] = {} if config.cameras is None else {"cameras": dict(config.cameras)}
    made = gym.make(
        config.env_id, obs_mode="state", image_size=image_size, randomization=config.preset,
        **cameras, **dict(config.env_kwargs or {}),
    )  # fmt: skip
    _Worker.env = cast(PandaTaskEnv, made.unwrapped)
    # a sample's bytes must not depend on which samples this worker drew before it
    _Worker.env.scene.sim.history_free = True


def close_worker() -> None:
    """Close this process's env."""
    assert _Worker.env is not None
    _Worker.env.close()


def export_one(index: int) -> int:
    """Export sample ``index``; :class:`SampleError` naming it when that fails."""
    try:
        return export_sample(index)
    except Exception as exc:
        raise SampleError(f"sample {index} failed: {type(exc).__name__}: {exc}") from exc


def _policy(config: ExportConfig) -> Policy | None:
    """A fresh policy for one sample's steps (None: uniform random actions)."""
    if config.policy == "random":
        return None
    assert _Worker.policy_factory is not None, "checked by export_dataset"
    return _Worker.policy_factory(config.env_id)


def export_sample(index: int) -> int:
    """Render, label and write sample ``index`` into ``config.out``; returns ``index``."""
    env, config = _Worker.env, _Worker.config
    assert env is not None and config is not None
    out = Path(config.out)
    seed = episode_seed(config.seed, index)
    options = None
    if config.episodes_file is not None:
        row = episodes(config.episodes_file)[index]
        seed, options = int(row["seed"]), {"randomization": row["params"]}
    _, info = env.reset(seed=seed, options=options)
    events: list[str] = []
    rng = action_rng(seed)  # a stream apart from the one reset draws the scene from
    steps = config.steps
    if config.max_steps is not None:  # drawn first: the action stream stays apart from it
        steps = int(rng.integers(config.steps, config.max_steps + 1))
    policy = _policy(config) if steps else None
    for _ in range(steps):
        if policy is not None:
            action = policy(env.privileged_state())
        else:
            action = rng.uniform(-1, 1, env.action_space.shape)
        _, _, term, trunc, step_info = env.step(action)
        events += step_info["events"]
        if term or trunc:
            break
    stem = f"{index:06d}"
    record: dict[str, Any] = {
        "index": index, "seed": seed, "randomization": info["randomization"], "events": events,
    }  # fmt: skip
    names = config.camera_names
    if names is None:
        record.update(capture(env, config, env.camera, stem))
    else:  # the main camera's view also at the top level, for one-camera readers
        views = {name: capture(env, config, env.cams[name], f"{name}/{stem}") for name in names}
        record.update({**views[names[0]], "views": views})
    write_file(out / "labels" / f"{stem}.json", dump(record).encode())  # written last
    return index


def capture(env: PandaTaskEnv, config: ExportConfig, cam: Camera, stem: str) -> dict[str, Any]:
    """Render ``cam``, write its images as ``<rgb|instances|depth>/<stem>.png`` and return
    its part of the sample record: file names, labelled objects and the camera's K and
    extrinsics."""
    out = Path(config.out)
    frame = cam.render(rgb=True, depth=config.depth, segmentation=True)
    assert frame.rgb is not None and frame.segmentation is not None
    rgb = env._filter(frame.rgb)
    labels = sample_labels(env, frame.segmentation, visibility=config.visibility, camera=cam)
    bodies = [obj["body"] for obj in labels["objects"]]  # instance i + 1 is bodies[i]
    index = body_index(frame.segmentation, bodies)
    instances = np.where(index < len(bodies), index + 1, 0).astype(np.uint16)
    write_file(out / "rgb" / f"{stem}.png", encode_png(rgb, config.png_level))
    write_file(out / "instances" / f"{stem}.png", encode_png(instances))
    if config.depth:
        assert frame.depth is not None
        mm = np.clip(np.rint(frame.depth * 1000.0), 0, 65535).astype(np.uint16)
        write_file(out / "depth" / f"{stem}.png", encode_png(mm))
    return {
        "rgb": f"rgb/{stem}.png",
        "instances": f"instances/{stem}.png",
        "depth": f"depth/{stem}.png" if config.depth else None,
        "depth_scale_mm": 1.0 if config.depth else None,
        **labels,
    }


_EPISODES: dict[tuple[str, int], list[dict[str, Any]]] = {}  # per-process file cache


def episodes(path: str) -> list[dict[str, Any]]:
    """Rows of an episodes file (read once per process and file version)."""
    try:
        key = (path, Path(path).stat().st_mtime_ns)
        if key not in _EPISODES:
            lines = Path(path).read_text().splitlines()
            _EPISODES[key] = [json.loads(line) for line in lines if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read episodes file {path!r}: {exc}") from None
    rows = _EPISODES[key]
    for i, row in enumerate(rows):
        if "seed" not in row or "params" not in row:
            raise ValueError(f"{path!r} line {i + 1}: each row needs 'seed' and 'params'")
    return rows
