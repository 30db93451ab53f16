"""Rollout episodes as a LeRobot dataset (v3: Parquet, one MP4 per camera, or PNG frames),
written through LeRobot's own ``LeRobotDataset`` API (optional extra ``lerobot``).

Frame ``t`` of an episode holds the observation before step ``t`` (every camera as
``observation.images.<camera>``, the proprioception as ``observation.state``), the action of
step ``t`` and what the step returned (``next.reward``, ``next.done``, ``next.success``), plus
the ``task`` text. Beside LeRobot's files, ``meta/domrand.json`` records the run's settings and
``meta/domrand_episodes.jsonl`` one row per episode (``seed``, randomization ``params``, success,
return, length, events): ``env.reset(seed=row["seed"], options={"randomization":
row["params"]})`` and the recorded actions replay an episode exactly, and the file is also an
``--episodes-file`` for ``scripts/export_dataset.py``.

A folder that is not empty is refused unless ``resume`` (append episodes with the same
settings: the run continues at the next episode index) or ``overwrite`` (replace a dataset
recorded by domrand, swapped in only once the new one is complete, as the exporter does).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from agents.episodes import EpisodeResult, RolloutSummary
from agents.recording.steps import StepEvent
from agents.rollout import RolloutConfig, run_rollouts
from envs.dataset.layout import listing
from envs.dataset.swap import replace_folder, restore_interrupted_swap, swap_target

INSTALL = "pip install 'domrand[lerobot]'"
TESTED_LEROBOT = "0.4.4"
SETTINGS_FILE = "meta/domrand.json"
EPISODES_FILE = "meta/domrand_episodes.jsonl"
SETTINGS_FORMAT = "domrand-lerobot/1"
LEROBOT_ENTRIES = frozenset(("meta", "data", "videos", "images", "README.md"))
"""what a LeRobot dataset folder holds at its top level (``overwrite`` deletes only these)"""
PROPRIO = ("ee_x", "ee_y", "ee_z", "ee_vx", "ee_vy", "ee_vz", "finger_width")
"""``observation.state``: the robot's own state, as the project's pixel policies read it"""
TASKS = {
    "domrand/Reach-v0": "move the gripper to the red target sphere",
    "domrand/Push-v0": "push the cube to the green goal",
    "domrand/Lift-v0": "pick up the cube and lift it",
    "domrand/PickPlace-v0": "pick up the cube and place it at the goal",
    "domrand/Stack-v0": "stack the cube on the other cube",
}


class LeRobotRecordError(ValueError):
    """A LeRobot dataset folder that must not be written (checked before any episode)."""


def import_lerobot() -> Any:
    """``lerobot.datasets.lerobot_dataset.LeRobotDataset``; a one-line ImportError naming the
    install command when LeRobot (or one of its imports) is missing."""
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as exc:
        raise ImportError(
            f"recording LeRobot datasets needs LeRobot {TESTED_LEROBOT} ({exc}); "
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
            self._last_obs[event.episode] = event.observation
            return
        frame = self._frame(self._last_obs[event.episode], event)
        self._open[event.episode].append(frame)
        self._last_obs[event.episode] = event.observation
        if event.terminated or event.truncated:
            frames = self._open.pop(event.episode)
            del self._last_obs[event.episode]
            row = {"seed": event.seed, "params": _plain(event.params), "run_episode": event.episode,
                   "success": event.success, "length": len(frames),
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


def read_settings(root: Path) -> dict[str, Any] | None:
    """``meta/domrand.json`` of ``root`` (None when absent)."""
    path = root / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LeRobotRecordError(f"cannot read {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != SETTINGS_FORMAT:
        raise LeRobotRecordError(f"{str(path)!r} is not a domrand LeRobot settings file")
    return data


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


def check_folder(root: Path, settings: LeRobotSettings, *, resume: bool, overwrite: bool) -> int:
    """Refuse (before any episode) a folder the recording must not write; returns the
    episodes already recorded (resume) or 0."""
    if resume and overwrite:
        raise LeRobotRecordError("give --resume or --overwrite, not both")
    if root.exists() and not root.is_dir():
        raise LeRobotRecordError(
            f"--record-lerobot {str(root)!r} is an existing file; give a folder"
        )
    if not root.is_dir() or not any(root.iterdir()):
        if resume:
            raise LeRobotRecordError(
                f"cannot resume {str(root)!r}: it holds no dataset; drop --resume"
            )
        return 0
    if not (resume or overwrite):
        raise FileExistsError(
            f"{str(root)!r} is not empty; pass --resume to append episodes to the LeRobot "
            "dataset there (same settings), --overwrite to replace it, or choose another folder"
        )
    why = "resume" if resume else "overwrite"
    old = read_settings(root)
    if old is None or not (root / "meta" / "info.json").is_file():
        raise LeRobotRecordError(
            f"refusing to {why} {str(root)!r}: it is not a LeRobot dataset recorded by domrand "
            f"(no {SETTINGS_FILE} and meta/info.json; it holds {listing(root)}); choose another "
            "folder, or move its contents away yourself"
        )
    if overwrite:
        foreign = sorted(p.name for p in root.iterdir() if p.name not in LEROBOT_ENTRIES)
        if foreign:
            raise LeRobotRecordError(
                f"refusing to overwrite {str(root)!r}: it holds {', '.join(foreign[:5])}, which "
                "a LeRobot dataset never holds, and --overwrite would delete them; move them "
                "out of the folder (or choose another folder), then rerun"
            )
        return 0
    new = _json(asdict(settings))
    changed = sorted(k for k in new if old.get(k) != new[k])
    if changed:
        shown = "; ".join(f"{k}: {json.dumps(old.get(k))} then, {json.dumps(new[k])} now"
                          for k in changed)  # fmt: skip
        raise LeRobotRecordError(
            f"cannot resume {str(root)!r}: settings differ from the first run in {changed} "
            f"({shown}); rerun with the first run's settings, or record to a new folder"
        )
    info = json.loads((root / "meta" / "info.json").read_text())
    total = int(info.get("total_episodes", 0))
    rows = recorded_episodes(root) if (root / EPISODES_FILE).is_file() else []
    if len(rows) < total:
        raise LeRobotRecordError(
            f"cannot resume {str(root)!r}: {EPISODES_FILE} holds {len(rows)} episodes but the "
            f"dataset {total}; record to a new folder, or pass --overwrite"
        )
    if len(rows) > total:  # killed between our row and LeRobot's save: the row is redone
        (root / EPISODES_FILE).write_text("".join(json.dumps(r, sort_keys=True) + "\n"
                                                  for r in rows[:total]))  # fmt: skip
    return max((int(r["run_episode"]) + 1 for r in rows[:total]), default=0)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


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
            dataset = LeRobotDataset(settings.repo_id, root=root)
        else:
            dataset = LeRobotDataset.create(settings.repo_id, fps=settings.fps, features=spec,
                                            root=root, robot_type=_robot(config),
                                            use_videos=settings.video)  # fmt: skip
            (root / SETTINGS_FILE).write_text(
                json.dumps(asdict(settings), indent=2, sort_keys=True)
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
        summary, results = run_rollouts(config, progress=progress, on_step=both)
    finally:
        dataset.finalize()  # LeRobot's Parquet footers: the episodes saved so far stay readable
    return {"summary": summary, "results": results, "episodes": int(dataset.meta.total_episodes),
            "frames": int(dataset.meta.total_frames)}  # fmt: skip


def _robot(config: RolloutConfig) -> str:
    robot = config.env_kwargs.get("robot") or "panda"
    return robot if isinstance(robot, str) else str(getattr(robot, "name", "custom"))
