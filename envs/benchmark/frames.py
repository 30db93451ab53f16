"""Single-process throughput of the envs: physics steps/s and frames/s next to the raw
PyBullet replay of the same motion (:class:`~envs.benchmark.raw.RawScene`), reset time per
preset, and randomized frames/s. The figure that matters is the ratio env / raw, measured
in the same process and run."""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np

from envs.benchmark.raw import RawScene, env_state
from envs.benchmark.tables import Measurement
from envs.panda_env import PandaTaskEnv
from envs.seeding import action_rng


def rollout_trace(
    env: PandaTaskEnv, n_steps: int, seed: int
) -> tuple[float, list[tuple[list[float], dict[str, Any] | None]]]:
    """Step the env with seeded random actions; return (seconds in ``step``, trace).

    The trace holds, per step, the joint targets the env commanded and, after a step that
    ended an episode, the state the env reset to, so the raw scene can follow exactly.
    """
    rng = action_rng(seed)  # not default_rng(seed): that would tie the actions to the reset
    actions = rng.uniform(-1, 1, size=(n_steps, *(env.action_space.shape or ()))).astype(np.float32)
    env.reset(seed=seed)
    trace: list[tuple[list[float], dict[str, Any] | None]] = []
    elapsed = 0.0
    for a in actions:
        t0 = time.perf_counter()
        _, _, term, trunc, _ = env.step(a)
        elapsed += time.perf_counter() - t0
        reset_state = None
        if term or trunc:
            env.reset()
            reset_state = env_state(env)
        trace.append((list(env.robot.last_command), reset_state))
    return elapsed, trace


def measure_env(
    env_id: str,
    *,
    n_steps: int = 300,
    sizes: tuple[int, ...] = (64, 128),
    seed: int = 0,
    n_resets: int = 200,
    repeats: int = 3,
) -> list[Measurement]:
    """Physics steps/s (state mode), frames/s (rgb mode) per size, and mean reset time."""
    import gymnasium as gym

    rows: list[Measurement] = []
    configs: list[tuple[str, int | None]] = [("state", None)] + [("rgb", s) for s in sizes]
    for obs_mode, size in configs:
        env = cast(
            PandaTaskEnv, gym.make(env_id, obs_mode=obs_mode, image_size=size or 64).unwrapped
        )
        env.reset(seed=seed)
        raw = RawScene(env)
        start = env_state(env)
        best_env, best_raw = 0.0, 0.0
        for _ in range(repeats):  # best of N damps noise from other processes
            env_s, trace = rollout_trace(env, n_steps, seed)
            raw.teleport(start)
            raw_s = 0.0
            for q, reset_state in trace:
                t0 = time.perf_counter()
                raw.step(q)
                if obs_mode == "rgb":
                    raw.render()
                raw_s += time.perf_counter() - t0
                if reset_state is not None:
                    raw.teleport(reset_state)
            best_env = max(best_env, n_steps / env_s)
            best_raw = max(best_raw, n_steps / raw_s)
        metric = "physics steps (state)" if size is None else f"frames (rgb {size}px)"
        unit = "steps/s" if size is None else "frames/s"
        rows.append(Measurement(env_id, metric, best_env, best_raw, unit))
        raw.close()
        if obs_mode == "state":
            t0 = time.perf_counter()
            for i in range(n_resets):
                env.reset(seed=seed + i)
            rows.append(
                Measurement(
                    env_id, "reset", (time.perf_counter() - t0) / n_resets * 1e3, None, "ms"
                )
            )
        env.close()
    return rows


def measure_presets(
    env_id: str, presets: tuple[str, ...], *, n_resets: int = 200, seed: int = 0
) -> list[Measurement]:
    """Mean reset time (state mode: no rendering) with each preset, next to no preset."""
    import gymnasium as gym

    rows = []
    for preset in (None, *presets):
        env = gym.make(env_id, randomization=preset).unwrapped
        env.reset(seed=seed)
        t0 = time.perf_counter()
        for i in range(n_resets):
            env.reset(seed=seed + i)
        ms = (time.perf_counter() - t0) / n_resets * 1e3
        rows.append(Measurement(env_id, f"reset ({preset or 'no randomization'})", ms, None, "ms"))
        env.close()
    return rows


def stepping_seconds(env: PandaTaskEnv, actions: np.ndarray, seed: int) -> float:
    """Seconds to step ``env`` through ``actions`` (resetting when an episode ends)."""
    env.reset(seed=seed)
    t0 = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    return time.perf_counter() - t0


def measure_randomized_frames(
    env_id: str, preset: str, sizes: tuple[int, ...], *, n_steps: int = 200, seed: int = 0,
    repeats: int = 3,
) -> list[Measurement]:  # fmt: skip
    """RGB frames/s while stepping with a preset (one domain per episode) next to plain
    RGB stepping with the same actions (best of ``repeats``, interleaved); the bare render of
    the randomized scenes next to that of the plain scene (distractors and textures cost
    render time, so no env overhead at all would still leave stepping below 1.0 by this
    much); and frames/s when every frame is a new domain (a randomized reset plus its
    render) next to one bare ``getCameraImage`` of each of the same scenes."""
    import gymnasium as gym

    from envs.benchmark.scaling import bare_render_seconds

    rows = []
    rng = action_rng(seed)
    for size in sizes:
        env, plain = (
            cast(PandaTaskEnv, gym.make(env_id, obs_mode="rgb", image_size=size,
                                        randomization=p).unwrapped)
            for p in (preset, None)
        )  # fmt: skip
        actions = rng.uniform(-1, 1, (n_steps, *(env.action_space.shape or ())))
        best, best_plain = 0.0, 0.0
        for _ in range(repeats):
            best = max(best, n_steps / stepping_seconds(env, actions, seed))
            best_plain = max(best_plain, n_steps / stepping_seconds(plain, actions, seed))
        rows.append(
            Measurement(env_id, f"frames ({preset}, rgb {size}px, stepping; raw: plain rgb "
                        "stepping)", best, best_plain, "frames/s")
        )  # fmt: skip
        seeds = [seed + i for i in range(n_steps)]
        scene = plain_scene = 0.0
        for _ in range(repeats):
            scene = max(scene, n_steps / bare_render_seconds(env, seeds))
            plain_scene = max(plain_scene, n_steps / bare_render_seconds(plain, seeds))
        rows.append(
            Measurement(env_id, f"bare render of the {preset} scenes, {size}px (raw: of the "
                        "plain scene): the stepping ratio's ceiling", scene, plain_scene,
                        "frames/s")
        )  # fmt: skip
        plain.close()
        env.reset(seed=seed)
        best = raw = 0.0
        for _ in range(repeats):
            t0 = time.perf_counter()
            for s in seeds:
                env.reset(seed=s)
            best = max(best, n_steps / (time.perf_counter() - t0))
            raw = max(raw, n_steps / bare_render_seconds(env, seeds))
        rows.append(
            Measurement(env_id, f"frames ({preset}, rgb {size}px, new domain every frame)",
                        best, raw, "frames/s")
        )  # fmt: skip
        env.close()
    return rows


__all__ = ["measure_env", "measure_presets", "measure_randomized_frames", "rollout_trace"]
