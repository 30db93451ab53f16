"""Throughput of the envs next to raw PyBullet doing the same work on the same scene.

The raw baseline loads the same URDFs and primitives through a bare ``BulletClient``,
replays the exact joint targets the env commanded (so both simulate the same motion),
and calls ``getCameraImage`` with the env camera's matrices. The figure that matters is
the ratio env / raw, measured in the same process and run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils import bullet_client

from envs.panda_env import MAX_IMAGE_SIZE, PandaTaskEnv
from envs.robot import ARM_JOINTS, FINGER_JOINTS
from envs.seeding import action_rng


def check_arguments(
    *,
    env_ids: tuple[str, ...],
    sizes: tuple[int, ...],
    steps: int,
    resets: int,
    repeats: int,
    presets: tuple[str, ...] = (),
    processes: tuple[int, ...] = (1,),
) -> None:
    """Refuse (``ValueError``, one line) benchmark settings that would fail or divide by zero
    later: unknown env ids or presets, image sizes outside 1..MAX_IMAGE_SIZE, counts < 1."""
    from envs.registration import ENV_IDS

    if not env_ids:
        raise ValueError(f"no env to benchmark; give --env with one or more of {', '.join(ENV_IDS)}")
    unknown = [e for e in env_ids if e not in ENV_IDS]
    if unknown:
        raise ValueError(f"unknown env id(s) {unknown}; allowed: {', '.join(ENV_IDS)}")
    if not sizes:
        raise ValueError("no image size to benchmark; give --sizes with one or more sizes (px)")
    bad = [s for s in sizes if not 1 <= s <= MAX_IMAGE_SIZE]
    if bad:
        raise ValueError(
            f"image sizes must be 1..{MAX_IMAGE_SIZE} px, got {bad}; pick sizes such as 64 128"
        )
    for name, value in (("steps", steps), ("resets", resets), ("repeats", repeats)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if not processes or min(processes) < 1:
        raise ValueError(f"process counts must be >= 1 (at least one), got {list(processes)}")
    if presets:
        from randomizers.errors import PresetError
        from randomizers.presets import load_preset

        for preset in presets:
            try:
                load_preset(preset)
            except PresetError as exc:
                raise ValueError(str(exc)) from None


@dataclass
class Measurement:
    """One benchmark row: env rate, raw rate, ratio."""

    env_id: str
    metric: str
    env: float
    raw: float | None
    unit: str

    @property
    def ratio(self) -> float | None:
        """env / raw for rates, raw / env for times (so > 1 always means the env is faster)."""
        if self.raw is None or self.env == 0:
            return None
        return self.env / self.raw if self.unit.endswith("/s") else self.raw / self.env

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready row."""
        return {
            "env_id": self.env_id,
            "metric": self.metric,
            "env": self.env,
            "raw": self.raw,
            "unit": self.unit,
            "ratio": self.ratio,
        }


class RawScene:
    """The env's scene rebuilt with bare PyBullet calls (no env code on the hot path)."""

    def __init__(self, env: PandaTaskEnv) -> None:
        sim = env.scene.sim
        self.client = c = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
        c.setAdditionalSearchPath(pybullet_data.getDataPath())
        c.setTimeStep(sim.physics.timestep)
        c.setGravity(*sim.physics.gravity)
        self.n_substeps = sim.physics.n_substeps
        src = sim.client
        self.bodies: dict[str, int] = {}
        for name, body in sim.bodies.items():
            pos, orn = _urdf_frame(src, body)
            if name == "table":
                self.bodies[name] = c.loadURDF("table/table.urdf", pos, orn, useFixedBase=True)
            elif name == "robot":
                self.bodies[name] = c.loadURDF(
                    env.robot.urdf_path, pos, orn, useFixedBase=True,
                    flags=c.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
                )  # fmt: skip
            else:
                self.bodies[name] = _clone_primitive(src, body, c, pos, orn)
        for name, body in sim.bodies.items():  # same friction, so the same contact work
            for link in range(-1, src.getNumJoints(body)):
                d = src.getDynamicsInfo(body, link)
                c.changeDynamics(
                    self.bodies[name], link, lateralFriction=d[1], restitution=d[5],
                    rollingFriction=d[6], spinningFriction=d[7],
                )  # fmt: skip
        self.joints = [*ARM_JOINTS, *FINGER_JOINTS]
        for j, q in zip(self.joints, env.robot.joint_positions(), strict=True):
            c.resetJointState(self.bodies["robot"], j, q)
        self.forces = list(env.robot.control.arm_force) + [env.robot.control.finger_force] * 2
        cam = env.camera
        self.size = (cam.config.width, cam.config.height)
        self.view, self.proj = cam.view_matrix, cam.projection_matrix

    def teleport(self, state: dict[str, Any]) -> None:
        """Copy the env's state after one of its resets (joint angles and body poses)."""
        c = self.client
        robot = self.bodies["robot"]
        for j, q in zip(self.joints, state["joints"], strict=True):
            c.resetJointState(robot, j, q, 0.0)
        for name, (pos, orn) in state["poses"].items():
            c.resetBasePositionAndOrientation(self.bodies[name], pos, orn)
            c.resetBaseVelocity(self.bodies[name], [0, 0, 0], [0, 0, 0])

    def step(self, targets: list[float]) -> None:
        """The same motor command and physics stepping as one env step."""
        c = self.client
        c.setJointMotorControlArray(
            self.bodies["robot"], self.joints, c.POSITION_CONTROL,
            targetPositions=targets, forces=self.forces,
        )  # fmt: skip
        for _ in range(self.n_substeps):
            c.stepSimulation()

    def render(self) -> np.ndarray:
        """The same ``getCameraImage`` call the env makes for an RGB observation."""
        c = self.client
        out = c.getCameraImage(
            self.size[0], self.size[1], self.view, self.proj,
            renderer=c.ER_TINY_RENDERER, flags=c.ER_NO_SEGMENTATION_MASK,
        )  # fmt: skip
        return out[2]

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()


def _urdf_frame(client: Any, body: int) -> tuple[Any, Any]:
    """Base pose in the URDF link frame (PyBullet reports the inertial frame)."""
    com_pos, com_orn = client.getBasePositionAndOrientation(body)
    info = client.getDynamicsInfo(body, -1)
    inv_pos, inv_orn = client.invertTransform(info[3], info[4])
    return client.multiplyTransforms(com_pos, com_orn, inv_pos, inv_orn)


def _clone_primitive(src: Any, body: int, dst: Any, pos: Any, orn: Any) -> int:
    vis = src.getVisualShapeData(body)[0]
    geom, dims, rgba = vis[2], vis[3], vis[7]
    mass = src.getDynamicsInfo(body, -1)[0]
    if geom == dst.GEOM_BOX:
        half = [d / 2 for d in dims]
        v = dst.createVisualShape(geom, halfExtents=half, rgbaColor=rgba)
        col = dst.createCollisionShape(geom, halfExtents=half) if mass > 0 else -1
    elif geom == dst.GEOM_SPHERE:
        v = dst.createVisualShape(geom, radius=dims[0], rgbaColor=rgba)
        col = dst.createCollisionShape(geom, radius=dims[0]) if mass > 0 else -1
    else:  # cylinder: dims = (length, radius)
        v = dst.createVisualShape(geom, radius=dims[1], length=dims[0], rgbaColor=rgba)
        col = dst.createCollisionShape(geom, radius=dims[1], height=dims[0]) if mass > 0 else -1
    return dst.createMultiBody(mass, col, v, pos, orn)


def _env_state(env: PandaTaskEnv) -> dict[str, Any]:
    c = env.scene.client
    poses = {
        name: c.getBasePositionAndOrientation(body)
        for name, body in env.scene.sim.bodies.items()
        if name not in ("floor", "table", "robot")
    }
    return {"joints": env.robot.joint_positions().tolist(), "poses": poses}


def _rollout_trace(
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
            reset_state = _env_state(env)
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
        start = _env_state(env)
        best_env, best_raw = 0.0, 0.0
        for _ in range(repeats):  # best of N damps noise from other processes
            env_s, trace = _rollout_trace(env, n_steps, seed)
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


def markdown_table(rows: list[Measurement]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| env | metric | env | raw PyBullet | env / raw |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        raw = "" if r.raw is None else f"{r.raw:,.1f} {r.unit}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(f"| {r.env_id} | {r.metric} | {r.env:,.1f} {r.unit} | {raw} | {ratio} |")
    return "\n".join(lines)


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


def measure_randomized_frames(
    env_id: str, preset: str, sizes: tuple[int, ...], *, n_steps: int = 200, seed: int = 0
) -> list[Measurement]:
    """RGB frames/s while stepping with a preset (one domain per episode), and frames/s
    when every frame is a new domain (a randomized reset plus its render)."""
    import gymnasium as gym

    rows = []
    rng = action_rng(seed)
    for size in sizes:
        env = cast(
            PandaTaskEnv,
            gym.make(env_id, obs_mode="rgb", image_size=size, randomization=preset).unwrapped,
        )
        env.reset(seed=seed)
        actions = rng.uniform(-1, 1, (n_steps, *(env.action_space.shape or ())))
        t0 = time.perf_counter()
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        rows.append(
            Measurement(env_id, f"frames ({preset}, rgb {size}px, stepping)",
                        n_steps / (time.perf_counter() - t0), None, "frames/s")
        )  # fmt: skip
        t0 = time.perf_counter()
        for i in range(n_steps):
            env.reset(seed=seed + i)
        rows.append(
            Measurement(env_id, f"frames ({preset}, rgb {size}px, new domain every frame)",
                        n_steps / (time.perf_counter() - t0), None, "frames/s")
        )  # fmt: skip
        env.close()
    return rows


def _randomized_worker(
    env_id: str, preset: str, size: int, detail: str, renderer: str, n_frames: int, seed: int,
    barrier: Any, results: Any,
) -> None:  # fmt: skip
    """One process: build the env, wait for the others, time ``n_frames`` randomized frames
    (a new domain each), then time bare ``getCameraImage`` calls on the same scene."""
    import warnings

    import gymnasium as gym

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = gym.make(
            env_id, obs_mode="rgb", image_size=size, randomization=preset,
            visual_detail=detail, renderer=renderer,
        )  # fmt: skip
        env = cast(PandaTaskEnv, made.unwrapped)
    env.reset(seed=seed)
    barrier.wait()
    t0 = time.perf_counter()
    for i in range(n_frames):
        env.reset(seed=seed + i)
    t1 = time.perf_counter()
    cam, c = env.camera, env.scene.client
    flags = c.ER_NO_SEGMENTATION_MASK
    args = (size, size, cam.view_matrix, cam.projection_matrix)
    r0 = time.perf_counter()
    for _ in range(n_frames):
        c.getCameraImage(*args, renderer=cam._renderer, flags=flags, **cam.light)
    r1 = time.perf_counter()
    results.put((t0, t1, r1 - r0, env.scene.sim.renderer))
    env.close()


def measure_scaling(
    env_id: str,
    preset: str = "tobin",
    *,
    sizes: tuple[int, ...] = (64, 128),
    processes: tuple[int, ...] = (1, 2),
    details: tuple[str, ...] = ("low", "full"),
    renderers: tuple[str, ...] = ("tiny", "egl"),
    n_frames: int = 200,
    seed: int = 0,
) -> list[Measurement]:
    """Randomized frames/s (a new ``preset`` domain every frame) for every combination of
    size, process count, visual detail and renderer. The raw column is bare
    ``getCameraImage`` on the same randomized scenes, in the same processes."""
    import multiprocessing as mp

    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    rows = []
    for renderer in renderers:
        for detail in details:
            for size in sizes:
                for k in processes:
                    barrier, results = ctx.Barrier(k), ctx.Queue()
                    procs = [
                        ctx.Process(
                            target=_randomized_worker,
                            args=(
                                env_id,
                                preset,
                                size,
                                detail,
                                renderer,
                                n_frames,
                                seed + 100_000 * w,
                                barrier,
                                results,
                            ),
                        )
                        for w in range(k)
                    ]
                    for p in procs:
                        p.start()
                    out = [results.get(timeout=600) for _ in procs]
                    for p in procs:
                        p.join()
                    wall = max(o[1] for o in out) - min(o[0] for o in out)
                    env_fps = k * n_frames / wall
                    raw_fps = sum(n_frames / o[2] for o in out)
                    used = out[0][3]
                    label = f"{preset} frames, {size}px, {k} proc, {detail}, {used}"
                    if used != renderer:
                        label += f" (asked {renderer})"
                    rows.append(Measurement(env_id, label, env_fps, raw_fps, "frames/s"))
    return rows


@dataclass
class ExportRow:
    """Export throughput at one image size and worker count, next to bare rendering of the
    same randomized scenes by as many processes."""

    env_id: str
    preset: str
    size: int
    workers: int
    steady: float  # images/s once every worker has finished its first samples
    total: float  # images/s of the whole call: pool start-up, env creation, index files
    raw: float  # images/s of bare ``getCameraImage`` (RGB + segmentation), same scenes
    alone_renders: float  # extra renders per image for visible fractions (not in ``raw``)

    @property
    def overhead(self) -> float:
        """Time per image beyond the bare render, as a fraction of it (steady state)."""
        return self.raw / self.steady - 1.0

    def measurements(self) -> list[Measurement]:
        """The two rows (steady state; start-up included) in the generic benchmark table."""
        plural = "s" * (self.workers > 1)
        name = f"export ({self.preset}, {self.size}px, {self.workers} worker{plural}"
        return [
            Measurement(self.env_id, f"{name}, steady state)", self.steady, self.raw, "images/s"),
            Measurement(self.env_id, f"{name}, incl. start-up)", self.total, self.raw, "images/s"),
        ]


EXPORT_DEFINITIONS = (
    "steady = images/s from the first finished samples (every worker's first pool chunk) to "
    "the last; incl. start-up = images/s "
    "of the whole export call (pool start-up, env creation, samples.jsonl and preview); raw = "
    "bare getCameraImage (RGB + segmentation, TinyRenderer) of the same randomized scenes, "
    "timed alone (not the reset that builds each scene), in as many processes as workers; "
    "overhead beyond rendering = export time per image / raw render time per image - 1 "
    "(steady state); the labels' visible fractions need the listed extra renders per image "
    "(alone-renders of some objects or links), which raw does not include"
)


def export_table(rows: list[ExportRow]) -> str:
    """The export rows as a Markdown table, with 2-worker scaling where measured."""
    lines = [
        "| export | images/s (steady) | images/s (incl. start-up) | raw render | steady / raw "
        "| overhead beyond rendering | extra renders / image |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.preset}, {r.size} px, {r.workers} worker{'s' * (r.workers > 1)} "
            f"| {r.steady:,.1f} | {r.total:,.1f} | {r.raw:,.1f} | {r.steady / r.raw:.2f} "
            f"| {r.overhead:.0%} | {r.alone_renders:.1f} |"
        )
    one = {r.size: r for r in rows if r.workers == 1}
    for r in rows:
        if r.workers > 1 and r.size in one:
            base = one[r.size]
            lines.append(
                f"\n{r.size} px, {r.workers} workers / 1 worker: {r.steady / base.steady:.2f}x "
                f"steady, {r.total / base.total:.2f}x incl. start-up"
            )
    return "\n".join(lines)


def _raw_export_worker(
    env_id: str, preset: str, size: int, seeds: list[int], plan: bool, barrier: Any,
    results: Any,
) -> None:  # fmt: skip
    """One process: the exporter's env, then per scene a reset (untimed) and one timed bare
    ``getCameraImage`` like the export's main render; optionally count alone-renders."""
    import gymnasium as gym

    from envs.dataset.labels import labelled_objects, plan_alone_renders

    made = gym.make(env_id, obs_mode="state", image_size=size, randomization=preset)
    env = cast(PandaTaskEnv, made.unwrapped)
    c, cam = env.scene.client, env.camera
    barrier.wait()
    seconds, renders = 0.0, 0
    for seed in seeds:
        env.reset(seed=seed)
        light = {**cam.config.light, **cam.light}
        t0 = time.perf_counter()
        c.getCameraImage(size, size, cam.view_matrix, cam.projection_matrix,
                         renderer=cam._renderer, **light)  # fmt: skip
        seconds += time.perf_counter() - t0
        if plan:
            bodies = [env.scene.sim.body(n) for n, _ in labelled_objects(env)]
            rows = {b: list(c.getVisualShapeData(b)) for b in range(c.getNumBodies())}
            renders += len(plan_alone_renders(env, bodies, rows)[1])
    results.put((len(seeds), seconds, renders))
    env.close()


def _raw_export_rate(
    env_id: str, preset: str, size: int, seeds: list[int], processes: int, plan: bool
) -> tuple[float, float]:
    """(images/s of bare renders of ``seeds`` split over ``processes`` running at once,
    mean alone-renders per image when ``plan``)."""
    import multiprocessing as mp

    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=_raw_export_worker, args=(
            env_id, preset, size, seeds[w::processes], plan, barrier, results))
        for w in range(processes)
    ]  # fmt: skip
    for p in procs:
        p.start()
    out = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return sum(n / s for n, s, _ in out), sum(r for _, _, r in out) / len(seeds)


def _export_rates(config: Any) -> tuple[float, float]:
    """(steady-state images/s, images/s including start-up) of one export. A pool returns
    results in chunks: the steady window starts once every worker's first chunk is back."""
    from envs.dataset.export import POOL_CHUNK, export_dataset

    stamps: list[float] = []
    t0 = time.perf_counter()
    export_dataset(
        config, progress=False, on_done=lambda n: stamps.extend([time.perf_counter()] * n)
    )
    total = config.num_images / (time.perf_counter() - t0)
    first = 1 if config.workers == 1 else config.workers * POOL_CHUNK
    if len(stamps) <= first or stamps[-1] <= stamps[first - 1]:
        return total, total
    return (len(stamps) - first) / (stamps[-1] - stamps[first - 1]), total


def measure_export(
    env_id: str,
    preset: str = "tobin",
    *,
    sizes: tuple[int, ...] = (64, 128),
    workers: tuple[int, ...] = (1, 2),
    n_images: int = 200,
    repeats: int = 1,
) -> list[ExportRow]:
    """Export throughput (steady state and with start-up; best of ``repeats``) next to bare
    ``getCameraImage`` of the same randomized scenes by as many processes."""
    import shutil
    import tempfile

    from envs.dataset.export import ExportConfig
    from envs.seeding import episode_seed

    seeds = [episode_seed(0, i) for i in range(n_images)]  # the scenes ExportConfig(seed=0) makes
    rows = []
    for size in sizes:
        renders = 0.0
        for k in workers:
            raw = 0.0
            for rep in range(repeats):
                first = rep == 0 and k == workers[0]  # count alone-renders once per size
                rate, planned = _raw_export_rate(env_id, preset, size, seeds, k, plan=first)
                raw = max(raw, rate)
                renders = planned if first else renders
            steady = total = 0.0
            for _ in range(repeats):
                tmp = tempfile.mkdtemp(prefix="domrand-bench-")
                try:
                    cfg = ExportConfig(env_id=env_id, preset=preset, num_images=n_images,
                                       size=size, out=str(Path(tmp) / "ds"), workers=k)  # fmt: skip
                    s, t = _export_rates(cfg)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                steady, total = max(steady, s), max(total, t)
            rows.append(ExportRow(env_id, preset, size, k, steady, total, raw, renders))
    return rows
