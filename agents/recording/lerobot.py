"""Rollout episodes as a LeRobot dataset (v3: Parquet, one MP4 per camera, or PNG frames),
written through LeRobot's own ``LeRobotDataset`` API (optional extra ``lerobot``).

Frame ``t`` of an episode holds the observation before step ``t`` (every camera as
``observation.images.<camera>``, the proprioception as ``observation.state``), the action of
step ``t`` and what the step returned (``next.reward``, ``next.done``, ``next.success``), plus
the ``task`` text. Beside LeRobot's files, ``meta/domrand.json`` records the run's settings and
``meta/domrand_episodes.jsonl`` one row per episode (``seed``, randomization ``params``, success,
return, length, events): ``env.reset(seed=row["seed"], options={"randomization":
row["params"]})`` and the recorded actions replay an episode exactly, and the file is also an
``ExportConfig.episodes_file`` for the exporter (labelled images of those domains).

A folder that is not empty is refused unless ``resume`` (append episodes with the same
settings: the run continues at the next episode index) or ``overwrite`` (replace a dataset
recorded by domrand, swapped in only once the new one is complete, as the exporter does).
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from agents.episodes import EpisodeResult, RolloutSummary
from agents.policies.bc import PROPRIO_NAMES
from agents.recording.folder import (
    EPISODES_FILE,
    SETTINGS_FILE,
    SETTINGS_FORMAT,
    LeRobotRecordError,
    check_folder,
)
from agents.recording.steps import StepEvent
from agents.rollout import RolloutConfig, run_rollouts
from envs.dataset.swap import replace_folder, restore_interrupted_swap, swap_target

INSTALL = "pip install 'domrand[lerobot]'"
TESTED_LEROBOT = "0.4.4"
PROPRIO = PROPRIO_NAMES
"""``observation.state``: the robot's own state, as the project's pixel policies read it"""
TASKS = {
    "domrand/Reach-v0": "move the gripper to the target",
    "domrand/Push-v0": "push the cube to the goal",
    "domrand/Lift-v0": "pick up the cube and lift it",
    "domrand/PickPlace-v0": "pick up the cube and place it at the goal",
    "domrand/Stack-v0": "stack one cube on the other",
}


def import_lerobot() -> Any:
    """``lerobot.datasets.lerobot_dataset.LeRobotDataset``; a one-line ImportError naming the
    install command when LeRobot (or one of its imports) is missing."""
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as exc:
        raise ImportError(
            f"LeRobot datasets and policies need LeRobot {TESTED_LEROBOT} ({exc}); "
            f"install it with: {INSTALL}"
        ) from None
    return LeRobotDataset


@dataclass(frozen=True)
class LeRobotSettings:
    """What a recorded dataset is; a resume must match all of it (``episodes`` apart)."""

    env_id: str
    env_kwargs: dict[str, Any]
    policy: str
    seed: int
    image_size: int
    task: str
    fps: int
    repo_id: str
    video: bool = True
    """one MP4 per camera (LeRobot's default, lossy); False: lossless PNG frames in Parquet"""
    privileged_state: bool = False
    """also store the task's full state vector as ``observation.environment_state`` (object
    and goal positions: what a state policy reads, not a pixel policy)"""
    format: str = SETTINGS_FORMAT


def default_task(env_id: str) -> str:
    """The ``task`` text of a built-in env (a user env: its class docstring's first line)."""
    if env_id in TASKS:
        return TASKS[env_id]
    from envs.registration import env_class

    doc = (env_class(env_id).__doc__ or env_id).strip().splitlines()[0]
    return doc.rstrip(".")


def features(env: Any, settings: LeRobotSettings) -> dict[str, dict[str, Any]]:
    """LeRobot feature specs of ``env``'s cameras, proprioception, actions and step results."""
    kind = "video" if settings.video else "image"
    out: dict[str, dict[str, Any]] = {}
    for name, cam in env.cameras.items():
        shape = (cam.config.height, cam.config.width, 3)
        out[f"observation.images.{name}"] = {"dtype": kind, "shape": shape,
                                              "names": ["height", "width", "channels"]}  # fmt: skip
    names = list(env.task.state_names)
    out["observation.state"] = {
        "dtype": "float32",
        "shape": (len(PROPRIO),),
        "names": list(PROPRIO),
    }
    if settings.privileged_state:
        out["observation.environment_state"] = {"dtype": "float32", "shape": (len(names),),
                                                "names": names}  # fmt: skip
    n = env.action_space.shape[0]
    out["action"] = {"dtype": "float32", "shape": (n,),
                     "names": ["dx", "dy", "dz", "gripper"][:n]}  # fmt: skip
    for key, dtype in (("next.reward", "float32"), ("next.done", "bool"), ("next.success", "bool")):
        out[key] = {"dtype": dtype, "shape": (1,), "names": None}
    return out


class LeRobotWriter:
    """A ``StepEvent`` consumer that turns episodes into LeRobot episodes, in run order."""

    def __init__(self, dataset: Any, settings: LeRobotSettings, env: Any, root: Path) -> None:
        self.dataset = dataset
        self.settings = settings
        self.root = root
        self.cameras = list(env.cameras)
        names = list(env.task.state_names)
        self.proprio = [names.index(n) for n in PROPRIO]
        self._open: dict[int, list[dict[str, Any]]] = {}  # episode -> frames so far
        self._events: dict[int, dict[str, int]] = {}
        self._last_obs: dict[int, Any] = {}
        self._done: dict[int, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
        self.next_episode: int | None = None
        self.episodes_written = 0
        self.frames_written = 0

    def __call__(self, event: StepEvent) -> None:
        """Buffer the frame that ``event`` completes; save finished episodes in order."""
        if event.t == 0:
            if self.next_episode is None:
                self.next_episode = event.episode
            self._open[event.episode] = []
            self._events[event.episode] = {}
            self._last_obs[event.episode] = event.observation
            return
        counts = self._events[event.episode]
        for name in event.events:
            counts[name] = counts.get(name, 0) + 1
        frame = self._frame(self._last_obs[event.episode], event)
        self._open[event.episode].append(frame)
        self._last_obs[event.episode] = event.observation
        if event.terminated or event.truncated:
            frames = self._open.pop(event.episode)
            events = self._events.pop(event.episode)
            del self._last_obs[event.episode]
            row = {"seed": event.seed, "params": _plain(event.params), "run_episode": event.episode,
                   "success": event.success, "length": len(frames), "events": events,
                   "return": float(sum(float(f["next.reward"][0]) for f in frames))}  # fmt: skip
            self._done[event.episode] = (frames, row)
            self._flush()

    def _frame(self, obs: Any, event: StepEvent) -> dict[str, Any]:
        rgb = obs["rgb"]
        images = rgb if isinstance(rgb, Mapping) else {self.cameras[0]: rgb}
        state = np.asarray(obs["state"], dtype=np.float32)
        frame: dict[str, Any] = {
            f"observation.images.{k}": np.asarray(v) for k, v in images.items()
        }
        frame["observation.state"] = state[self.proprio]
        if self.settings.privileged_state:
            frame["observation.environment_state"] = state
        frame["action"] = np.asarray(event.action, dtype=np.float32)
        frame["next.reward"] = np.array([event.reward], dtype=np.float32)
        frame["next.done"] = np.array([event.terminated or event.truncated])
        frame["next.success"] = np.array([event.success])
        frame["task"] = self.settings.task
        return frame

    def _flush(self) -> None:
        """Save the finished episodes that come next in run order (parallel envs finish out
        of order; the dataset keeps the run's order)."""
        while self.next_episode in self._done:
            frames, row = self._done.pop(self.next_episode)
            row = {"episode_index": int(self.dataset.meta.total_episodes), **row}
            with (self.root / EPISODES_FILE).open("a") as f:  # before LeRobot's own files
                f.write(json.dumps(row, sort_keys=True) + "\n")
            for frame in frames:
                self.dataset.add_frame(frame)
            self.dataset.save_episode()
            self.episodes_written += 1
            self.frames_written += len(frames)
            self.next_episode += 1


def _plain(value: Any) -> Any:
    """JSON data (NumPy scalars and arrays as Python numbers and lists)."""
    return json.loads(json.dumps(value, default=lambda v: np.asarray(v).tolist()))


def recorded_episodes(root: str | Path) -> list[dict[str, Any]]:
    """The rows of ``meta/domrand_episodes.jsonl`` (one per LeRobot episode, in order):
    ``episode_index``, ``seed``, ``params``, ``success``, ``return``, ``length``."""
    path = Path(root) / EPISODES_FILE
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise FileNotFoundError(f"no {EPISODES_FILE} in {str(root)!r} ({exc.strerror}); "
                                "was it recorded by domrand?") from None  # fmt: skip
    return [json.loads(line) for line in lines if line.strip()]


@dataclass
class LeRobotRecording:
    """What :func:`record_lerobot` wrote."""

    root: Path
    summary: RolloutSummary
    results: list[EpisodeResult]
    episodes: int
    """episodes in the dataset now (earlier runs' included)"""
    frames: int


def record_lerobot(
    config: RolloutConfig,
    root: str | Path,
    settings: LeRobotSettings,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_step: Callable[[StepEvent], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> LeRobotRecording:
    """Run ``config`` (``state+rgb`` observations) and write its episodes into the LeRobot
    dataset at ``root``; ``on_step`` also receives every event (a viewer)."""
    LeRobotDataset = import_lerobot()
    note = note or (lambda m: print(f"note: {m}", file=sys.stderr))
    out = Path(root)
    restore_interrupted_swap(out, note)
    done = check_folder(out, settings, resume=resume, overwrite=overwrite)
    if resume:
        config = replace(config, first_episode=done)
    result: dict[str, Any] = {}

    def write(folder: Path) -> None:
        result.update(_write(LeRobotDataset, config, folder, settings, resume, progress, on_step))

    if overwrite and out.is_dir() and any(out.iterdir()):
        replace_folder(swap_target(out), write, note)
    else:
        if out.is_dir() and not resume:
            out.rmdir()  # empty: LeRobot creates the folder itself
        write(out)
    return LeRobotRecording(out, **result)


def _write(
    LeRobotDataset: Any,
    config: RolloutConfig,
    root: Path,
    settings: LeRobotSettings,
    resume: bool,
    progress: bool,
    on_step: Callable[[StepEvent], None] | None,
) -> dict[str, Any]:
    import gymnasium as gym

    probe = gym.make(config.env_id, obs_mode=config.obs_mode, image_size=config.image_size,
                     **config.env_kwargs)  # fmt: skip
    try:
        spec = features(probe.unwrapped, settings)
        if resume:
            try:
                dataset = LeRobotDataset(settings.repo_id, root=root)
            except Exception as exc:  # LeRobot's own errors on a damaged dataset vary
                raise LeRobotRecordError(
                    f"cannot resume {str(root)!r}: LeRobot cannot read it ({type(exc).__name__}: "
                    f"{exc}); record to a new folder, or pass --overwrite"
                ) from None
        else:
            dataset = LeRobotDataset.create(settings.repo_id, fps=settings.fps, features=spec,
                                            root=root, robot_type=_robot(config),
                                            use_videos=settings.video)  # fmt: skip
            (root / SETTINGS_FILE).write_text(
                json.dumps(asdict(settings), indent=2, sort_keys=True, default=str)
            )
            (root / EPISODES_FILE).touch()
        writer = LeRobotWriter(dataset, settings, probe.unwrapped, root)
    finally:
        probe.close()

    def both(event: StepEvent) -> None:
        writer(event)
        if on_step is not None:
            on_step(event)

    try:
        with _quiet(not progress):
            summary, results = run_rollouts(config, progress=progress, on_step=both)
    finally:
        dataset.finalize()  # LeRobot's Parquet footers: the episodes saved so far stay readable
    return {"summary": summary, "results": results, "episodes": int(dataset.meta.total_episodes),
            "frames": int(dataset.meta.total_frames)}  # fmt: skip


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    """Without a progress bar: no per-episode progress bars and warnings from LeRobot's
    libraries (``datasets`` maps, its statistics of bool features) either."""
    if not on:
        yield
        return
    import datasets

    was = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Converting input from bool")
            yield
    finally:
        if was:
            datasets.enable_progress_bars()


def _robot(config: RolloutConfig) -> str:
    robot = config.env_kwargs.get("robot") or "panda"
    return robot if isinstance(robot, str) else str(getattr(robot, "name", "custom"))
