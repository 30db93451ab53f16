"""LeRobot datasets: the folder rules (run everywhere) and, with LeRobot installed, a recording
read back with ``LeRobotDataset`` and replayed from its stored seed and params.

LeRobot pins its own torch, so ``.[test]`` does not install it and the tests that need it
skip in CI (see README "LeRobot and Rerun" for the environment they were run in)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from agents.cli.rollout import main as rollout_main
from agents.recording.folder import EPISODES_FILE, SETTINGS_FILE, LeRobotRecordError, check_folder
from agents.recording.lerobot import LeRobotSettings, recorded_episodes
from agents.recording.steps import StepEvent
from agents.rollout import RolloutConfig
from envs.seeding import episode_seed

ENV = "domrand/Lift-v0"
KWARGS = {"randomization": "tobin"}


def _settings(video: bool = False, **changes: object) -> LeRobotSettings:
    base = dict(env_id=ENV, env_kwargs=KWARGS, policy="expert", seed=0, image_size=32,
                task="pick up the cube and lift it", fps=24, repo_id="domrand/lift", video=video)  # fmt: skip
    base.update(changes)
    return LeRobotSettings(**base)  # type: ignore[arg-type]


def _fake_dataset(root: Path, settings: LeRobotSettings) -> None:
    from dataclasses import asdict

    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"total_episodes": 0}))
    (root / SETTINGS_FILE).write_text(json.dumps(asdict(settings)))
    (root / EPISODES_FILE).touch()


def test_folder_rules(tmp_path: Path) -> None:
    settings = _settings()
    assert check_folder(tmp_path / "new", settings, resume=False, overwrite=False) == 0
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("x")
    with pytest.raises(FileExistsError, match=r"pass --resume .* --overwrite"):
        check_folder(notes, settings, resume=False, overwrite=False)
    for flag in ("resume", "overwrite"):
        with pytest.raises(LeRobotRecordError, match=f"refusing to {flag} .*thesis.tex"):
            check_folder(notes, settings, resume=flag == "resume", overwrite=flag == "overwrite")
    ours = tmp_path / "ours"
    _fake_dataset(ours, settings)
    assert check_folder(ours, settings, resume=True, overwrite=False) == 0
    assert check_folder(ours, settings, resume=False, overwrite=True) == 0
    with pytest.raises(LeRobotRecordError, match=r"settings differ .*\['seed'\]"):
        check_folder(ours, _settings(seed=1), resume=True, overwrite=False)
    (ours / "analysis.ipynb").write_text("{}")
    with pytest.raises(LeRobotRecordError, match=r"holds analysis\.ipynb, which a LeRobot"):
        check_folder(ours, settings, resume=False, overwrite=True)
    with pytest.raises(LeRobotRecordError, match="not both"):
        check_folder(ours, settings, resume=True, overwrite=True)


def test_cli_without_lerobot_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "lerobot", None)
    code = rollout_main(["--env", ENV, "--episodes", "1", "--record-lerobot",
                         str(tmp_path / "ds"), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("error: LeRobot datasets and policies need LeRobot 0.4.4")
    assert err.strip().endswith("install it with: pip install 'domrand[lerobot]'")
    assert not (tmp_path / "ds").exists()
    assert rollout_main(["--episodes", "1", "--overwrite", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == "error: --overwrite: only with --record-lerobot DIR"


def _record(root: Path, episodes: int, *, resume: bool = False, video: bool = False,
            size: int = 32) -> tuple[object, dict[int, list[StepEvent]]]:  # fmt: skip
    from agents.recording.lerobot import record_lerobot

    seen: dict[int, list[StepEvent]] = {}
    config = RolloutConfig(env_id=ENV, episodes=episodes, obs_mode="state+rgb", image_size=size,
                           env_kwargs=KWARGS)  # fmt: skip
    out = record_lerobot(config, root, _settings(video, image_size=size), resume=resume,
                         progress=False,
                         on_step=lambda e: seen.setdefault(e.episode, []).append(e))  # fmt: skip
    return out, seen


def test_dataset_matches_the_rollout_and_replays(tmp_path: Path) -> None:
    pytest.importorskip("lerobot", reason="LeRobot not installed: pip install 'domrand[lerobot]'")
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from agents.recording.lerobot import PROPRIO

    root = tmp_path / "lift"
    _, seen = _record(root, 2)
    out2, seen2 = _record(root, 1, resume=True)  # appends the run's episode 2
    seen.update(seen2)
    assert [r.index for r in out2.results] == [2]
    ds = LeRobotDataset("domrand/lift", root=root)
    lengths = [len(seen[i]) - 1 for i in range(3)]  # a reset, then one event per step
    assert ds.num_episodes == 3 and ds.num_frames == sum(lengths)
    assert list(ds.meta.episodes["dataset_from_index"]) == [0, lengths[0], sum(lengths[:2])]
    assert list(ds.meta.episodes["dataset_to_index"]) == np.cumsum(lengths).tolist()
    assert ds.fps == 24 and ds.meta.tasks.index.tolist() == ["pick up the cube and lift it"]
    names = list(gym.make(ENV).unwrapped.task.state_names)  # type: ignore[attr-defined]
    proprio = [names.index(n) for n in PROPRIO]
    k = 0
    for ep in range(3):
        events = seen[ep]
        for t in range(lengths[ep]):
            item = ds[k]
            image = (item["observation.images.front"].permute(1, 2, 0).numpy() * 255).round()
            np.testing.assert_array_equal(image.astype(np.uint8), events[t].observation["rgb"])
            np.testing.assert_array_equal(item["observation.state"].numpy(),
                                          events[t].observation["state"][proprio])  # fmt: skip
            np.testing.assert_array_equal(item["action"].numpy(), events[t + 1].action)
            assert float(item["next.reward"]) == pytest.approx(events[t + 1].reward)
            assert bool(item["next.done"]) == (t == lengths[ep] - 1)
            assert int(item["episode_index"]) == ep and int(item["frame_index"]) == t
            k += 1
    rows = recorded_episodes(root)
    assert [(r["episode_index"], r["run_episode"], r["seed"]) for r in rows] == [
        (i, i, episode_seed(0, i)) for i in range(3)
    ]
    assert [r["length"] for r in rows] == lengths
    assert [r["events"] for r in rows] == [dict.fromkeys(("grasp_success", "success"), 1)] * 3
    # replay episode 1 from its stored seed and params: the same frames for the same actions
    env = gym.make(ENV, obs_mode="state+rgb", image_size=32, **KWARGS)
    obs, _ = env.reset(seed=rows[1]["seed"], options={"randomization": rows[1]["params"]})
    start = lengths[0]
    for t in range(lengths[1]):
        item = ds[start + t]
        image = (item["observation.images.front"].permute(1, 2, 0).numpy() * 255).round()
        np.testing.assert_array_equal(obs["rgb"], image.astype(np.uint8))
        obs, *_ = env.step(item["action"].numpy())
    env.close()


def test_video_dataset_and_overwrite(tmp_path: Path) -> None:
    pytest.importorskip("lerobot", reason="LeRobot not installed: pip install 'domrand[lerobot]'")
    av = pytest.importorskip("av")
    root = tmp_path / "lift"
    _record(root, 1, video=True, size=64)
    from agents.recording.lerobot import record_lerobot

    config = RolloutConfig(env_id=ENV, episodes=1, obs_mode="state+rgb", image_size=64,
                           env_kwargs=KWARGS)  # fmt: skip
    with pytest.raises(FileExistsError):
        record_lerobot(config, root, _settings(True, image_size=64), progress=False)
    out, seen = _record_overwrite(root, config)
    videos = sorted((root / "videos").rglob("*.mp4"))
    assert len(videos) == 1 and len(recorded_episodes(root)) == 1
    with av.open(str(videos[0])) as f:
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(frames) == out.frames == len(seen) - 1
    err = np.mean([np.abs(a.astype(int) - e.observation["rgb"]).mean()
                   for a, e in zip(frames, seen, strict=False)])  # fmt: skip
    assert err < 12  # lossy AV1 of 64 px frames


def _record_overwrite(root: Path, config: RolloutConfig) -> tuple[object, list[StepEvent]]:
    from agents.recording.lerobot import record_lerobot

    seen: list[StepEvent] = []
    out = record_lerobot(config, root, _settings(True, image_size=64), overwrite=True,
                         progress=False, on_step=seen.append)  # fmt: skip
    return out, seen


def test_parallel_envs_write_the_same_dataset(tmp_path: Path) -> None:
    pytest.importorskip("lerobot", reason="LeRobot not installed: pip install 'domrand[lerobot]'")
    import pandas as pd

    from agents.recording.lerobot import record_lerobot

    for n in (1, 2):  # episodes end out of order in parallel envs; the dataset keeps run order
        config = RolloutConfig(env_id="domrand/Reach-v0", episodes=3, obs_mode="state+rgb",
                               image_size=32, num_envs=n, env_kwargs=KWARGS)  # fmt: skip
        settings = _settings(env_id="domrand/Reach-v0", repo_id="domrand/reach")
        record_lerobot(config, tmp_path / f"n{n}", settings, progress=False)
    one, two = (pd.read_parquet(tmp_path / f"n{n}" / "data" / "chunk-000" / "file-000.parquet")
                for n in (1, 2))  # fmt: skip
    for column in ("action", "observation.state", "episode_index", "next.reward"):
        assert [np.asarray(v).tolist() for v in one[column]] == [
            np.asarray(v).tolist() for v in two[column]
        ]
    assert recorded_episodes(tmp_path / "n1") == recorded_episodes(tmp_path / "n2")


def test_an_interrupted_recording_keeps_its_saved_episodes(tmp_path: Path) -> None:
    """Ctrl-C in episode 2: episodes 0 and 1 stay readable and listed; --resume goes on."""
    pytest.importorskip("lerobot", reason="LeRobot not installed: pip install 'domrand[lerobot]'")
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from agents.recording.lerobot import record_lerobot

    def stop_in_episode_2(event: StepEvent) -> None:
        if event.episode == 2:
            raise KeyboardInterrupt

    root = tmp_path / "lift"
    config = RolloutConfig(env_id=ENV, episodes=3, obs_mode="state+rgb", image_size=32,
                           env_kwargs=KWARGS)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        record_lerobot(config, root, _settings(), progress=False, on_step=stop_in_episode_2)
    assert LeRobotDataset("domrand/lift", root=root).num_episodes == 2
    assert [r["episode_index"] for r in recorded_episodes(root)] == [0, 1]
    out, _ = _record(root, 1, resume=True)
    assert [r.index for r in out.results] == [2]  # type: ignore[attr-defined]
    assert LeRobotDataset("domrand/lift", root=root).num_episodes == 3
    assert [r["run_episode"] for r in recorded_episodes(root)] == [0, 1, 2]
