"""Scripts and training entry points under careless inputs (issue 12, "Nothing lost, every bad
input a clear error"): independent random streams, a dead vector-env worker, Minari
recordings that replay, limits checked before any training, and one-line errors (exit 2,
``error: ...``, no traceback) for bad paths, checkpoints, sizes, envs and presets.

Every parametrized case failed on the code before this change (a traceback, a hang, a
silent default or a silently replaced file). Data and training are tiny: a few images, a
few steps."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from PIL import Image

from envs.panda_env import PandaTaskEnv

PUSH, REACH, LIFT = "domrand/Push-v0", "domrand/Reach-v0", "domrand/Lift-v0"


# ------------------------------------------------------------------------ helpers


def call(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """A script's exit code, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """The script's stderr: one ``error: ...`` line holding every key word, no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def _writable(folder: Path) -> bool:
    try:
        fd, probe = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can create files in (a chmod 555 folder; as root, where permission
    bits do not bind, sysfs)."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if not _writable(folder):
            yield folder
        elif Path("/sys").is_dir() and not _writable(Path("/sys")):
            yield Path("/sys")
        else:
            pytest.skip("no read-only folder available (running as root without sysfs)")
    finally:
        folder.chmod(0o755)


@pytest.fixture(scope="module")
def minari_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("minari")
    path = str(tmp_path_factory.mktemp("minari"))
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", path)
    yield path
    mp.undo()


def _export(root: Path, env_id: str, size: int, n: int = 4) -> Path:
    from envs.dataset.export import ExportConfig, export_dataset

    out = root / f"{env_id.split('/')[1]}_{size}"
    export_dataset(ExportConfig(env_id=env_id, preset="none", num_images=n, size=size,
                                out=str(out), workers=1), progress=False)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny exported datasets (Lift 32 px, Lift 64 px, Push 32 px, Lift 48 px) and a
    pose-regressor checkpoint trained one epoch on the first."""
    from scripts import train_regressor

    root = tmp_path_factory.mktemp("data")
    out = {"lift32": _export(root, LIFT, 32), "lift64": _export(root, LIFT, 64, 2),
           "push32": _export(root, PUSH, 32, 2), "lift48": _export(root, LIFT, 48, 2)}  # fmt: skip
    ckpt = root / "regressor.pt"
    assert train_regressor.main(["--train", str(out["lift32"]), "--out", str(ckpt),
                                 "--epochs", "1", "--width", "8", "--no-progress"]) == 0  # fmt: skip
    out["regressor"] = ckpt
    return out


@pytest.fixture(scope="module")
def gan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two noise photos and a GAN checkpoint trained one step on them."""
    from scripts import train_gan

    root = tmp_path_factory.mktemp("gan")
    photos = root / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    ckpt = root / "gan.pt"
    assert train_gan.main(["--images", str(photos), "--out", str(ckpt), "--steps", "1",
                           "--size", "32", "--batch", "4", "--g-channels", "16",
                           "--d-channels", "8", "--z-dim", "8", "--threads", "1",
                           "--quiet"]) == 0  # fmt: skip
    return {"photos": photos, "ckpt": ckpt}


@pytest.fixture(scope="module")
def bc(minari_home: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 2-episode Reach recording (32 px) and a BC checkpoint trained one epoch on it."""
    from scripts import rollout, train_bc

    assert rollout.main(["--env", REACH, "--episodes", "2", "--record", "domrand/rel-v0",
                         "--image-size", "32", "--no-progress"]) == 0  # fmt: skip
    ckpt = tmp_path_factory.mktemp("bc") / "bc.pt"
    assert train_bc.main(["--dataset", "domrand/rel-v0", "--out", str(ckpt), "--epochs", "1",
                          "--width", "8", "--no-progress"]) == 0  # fmt: skip
    return {"dataset": "domrand/rel-v0", "ckpt": ckpt}


@pytest.fixture(scope="module")
def sb3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Push SAC checkpoint of 20 steps (no gradient step: only its files matter here)."""
    pytest.importorskip("stable_baselines3")
    from agents.rl import TrainConfig, train

    out = tmp_path_factory.mktemp("sb3") / "push.zip"
    config = TrainConfig(env_id=PUSH, algo="sac", steps=20, out=str(out), tensorboard=False,
                         hyperparams={"learning_starts": 100, "buffer_size": 200})  # fmt: skip
    return train(config, progress=False).path


def _craft_zip(src: Path, dst: Path, *, meta: Callable[[dict], None] | None = None,
               replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> Path:  # fmt: skip
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            payload = zin.read(name)
            if name == "domrand.json" and meta is not None:
                data = json.loads(payload)
                meta(data)
                payload = json.dumps(data).encode()
            zout.writestr(name, (replace or {}).get(name, payload))
    return dst


# ------------------------------------------------------------ 1. random streams


def _first_actions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Record (cube x at reset, first action x) of every episode stepped in this process."""
    pairs: list[tuple[float, float]] = []
    step = PandaTaskEnv.step

    def spy(self: PandaTaskEnv, action: Any) -> Any:
        if self.elapsed_steps == 0:
            pairs.append((float(self.privileged_state()["object_pos"][0]), float(action[0])))
        return step(self, action)

    monkeypatch.setattr(PandaTaskEnv, "step", spy)
    return pairs


def _stop_after_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Episodes end after their first step (only first actions matter; keeps it fast)."""
    step = PandaTaskEnv.step

    def short(self: PandaTaskEnv, action: Any) -> Any:
        obs, reward, term, _, info = step(self, action)
        return obs, reward, term, True, info

    monkeypatch.setattr(PandaTaskEnv, "step", short)


def _rollout_pairs() -> None:
    from agents.rollout import RolloutConfig, run_rollouts

    run_rollouts(RolloutConfig(env_id=PUSH, episodes=40, policy="random"), progress=False)


def _failure_predictor_pairs() -> None:
    from agents.failure_predictor import collect_steps

    collect_steps(PUSH, None, "object_off_table", episodes=40, policy="random", progress=False)


def _benchmark_pairs() -> None:
    from envs.benchmark.core import _rollout_trace
    from envs.seeding import episode_seed

    env = gym.make(PUSH).unwrapped
    try:
        for i in range(40):
            _rollout_trace(env, 1, episode_seed(0, i))
    finally:
        env.close()


@pytest.mark.parametrize(
    "run", [_rollout_pairs, _failure_predictor_pairs, _benchmark_pairs],
    ids=["rollout", "failure_predictor", "benchmark"],
)  # fmt: skip
def test_random_actions_are_independent_of_the_initial_state(
    run: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stop_after_one_step(monkeypatch)
    pairs = _first_actions(monkeypatch)
    run()
    cube_x, action_x = np.array(pairs[:40]).T
    assert len(pairs) >= 40
    assert abs(np.corrcoef(cube_x, action_x)[0, 1]) < 0.5


def test_random_rollouts_stay_deterministic() -> None:
    from agents.rollout import RolloutConfig, run_rollouts

    config = RolloutConfig(env_id=PUSH, episodes=3, policy="random", seed=7)
    (s1, r1), (s2, r2) = (run_rollouts(config, progress=False) for _ in range(2))
    assert [(r.seed, r.episode_return, r.length, r.events) for r in r1] == [
        (r.seed, r.episode_return, r.length, r.events) for r in r2
    ]
    assert {**s1.as_dict(), "seconds": 0, "steps_per_second": 0} == {
        **s2.as_dict(), "seconds": 0, "steps_per_second": 0
    }


# --------------------------------------------------------- 2. dead vector-env worker


def _die_in_workers(monkeypatch: pytest.MonkeyPatch, how: str, at_step: int = 3) -> None:
    """Worker processes (forked, so they inherit this patch) die at their ``at_step``-th
    env step; the test process itself never does."""
    parent = os.getpid()
    step = PandaTaskEnv.step
    count = {"n": 0}

    def dying(self: PandaTaskEnv, action: Any) -> Any:
        if os.getpid() != parent:
            count["n"] += 1
            if count["n"] == at_step:
                if how == "sigkill":
                    os.kill(os.getpid(), signal.SIGKILL)
                os._exit(1)
        return step(self, action)

    monkeypatch.setattr(PandaTaskEnv, "step", dying)


def _fork_subproc_vec_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import stable_baselines3.common.vec_env as vec_env

    class ForkSubprocVecEnv(vec_env.SubprocVecEnv):
        def __init__(self, env_fns: Any, start_method: str | None = None) -> None:
            super().__init__(env_fns, start_method="fork")

    monkeypatch.setattr(vec_env, "SubprocVecEnv", ForkSubprocVecEnv)


@pytest.mark.parametrize(
    ("script", "how"),
    [("rollout", "exit"), ("rollout", "sigkill"), ("evaluate_policy", "sigkill"),
     ("train_policy", "sigkill")],
    ids=["rollout-exit", "rollout-sigkill", "evaluate_policy-sigkill", "train_policy-sigkill"],
)  # fmt: skip
def test_a_dead_vector_env_worker_is_one_clear_error(
    script: str, how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import importlib

    module = importlib.import_module(f"scripts.{script}")
    argv = {
        "rollout": ["--env", REACH, "--episodes", "4", "--num-envs", "2", "--policy", "random",
                    "--no-progress"],
        "evaluate_policy": ["--model", "random", "--env", REACH, "--episodes", "4",
                            "--num-envs", "2", "--no-progress"],
        "train_policy": ["--env", REACH, "--algo", "ppo", "--steps", "256", "--num-envs", "2",
                         "--vec-env", "subproc", "--hp", "n_steps=64", "--hp", "batch_size=64",
                         "--out", str(tmp_path / "p.zip"), "--no-tensorboard", "--no-progress"],
    }[script]  # fmt: skip
    if script == "train_policy":
        pytest.importorskip("stable_baselines3")
        _fork_subproc_vec_env(monkeypatch)
    _die_in_workers(monkeypatch, how)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)  # two worker processes on any machine
    assert call(module.main, argv) == 2
    one_line_error(capsys, "a vector-env worker process died (", "--num-envs 1")


# ----------------------------------------------------------- 3. recordings that replay


def test_record_prints_the_rollout_summary(bc: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import rollout

    capsys.readouterr()
    assert rollout.main(["--env", REACH, "--episodes", "2", "--record", "domrand/rel-table-v0",
                         "--image-size", "32", "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "success rate   1.000" in out and "robot_table_collision" in out
    assert "recorded 2 episodes" in out


def test_recorded_episodes_replay_their_domain(minari_home: str) -> None:
    import minari

    from agents.policies.bc import OBS_MODE, record_demonstrations, recorded_episodes

    record_demonstrations(PUSH, "domrand/rel-replay-v0", episodes=2, preset="tobin",
                          image_size=32, seed=3, progress=False)  # fmt: skip
    episodes = recorded_episodes("domrand/rel-replay-v0")
    dataset = minari.load_dataset("domrand/rel-replay-v0")
    env = gym.make(PUSH, obs_mode=OBS_MODE, image_size=32, randomization="tobin")
    try:
        for meta, ep in zip(episodes, dataset.iterate_episodes(), strict=True):
            assert set(meta) >= {"seed", "randomization", "success", "events"}
            obs, _ = env.reset(seed=12345, options={"randomization": meta["randomization"]})
            np.testing.assert_array_equal(obs["rgb"], ep.observations["rgb"][0])
            np.testing.assert_allclose(obs["state"], ep.observations["state"][0], atol=1e-6)
    finally:
        env.close()


def test_record_refuses_a_bad_dataset_id_before_stepping(
    minari_home: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import rollout

    def never(self: PandaTaskEnv, action: Any) -> Any:
        raise AssertionError("the env was stepped before the dataset id was checked")

    monkeypatch.setattr(PandaTaskEnv, "step", never)
    assert rollout.main(["--episodes", "1", "--record", "bad name", "--no-progress"]) == 2
    one_line_error(capsys, "malformed Minari dataset id 'bad name'", "name-v(version)")


# ------------------------------------------------------------------ 4. image sizes


@pytest.mark.parametrize(
    ("script", "argv", "words"),
    [
        ("rollout", ["--obs-mode", "rgb", "--image-size", "0"], ["image_size must be 1..2048", "got 0"]),
        ("rollout", ["--obs-mode", "rgb", "--image-size", "-5"], ["image_size must be 1..2048", "got -5"]),
        ("rollout", ["--obs-mode", "rgb", "--image-size", "4096"], ["image_size must be 1..2048", "got 4096"]),
        ("rollout", ["--record", "domrand/rel-size-v0", "--image-size", "0"], ["image_size must be 1..2048"]),
        ("train_policy", ["--obs-mode", "rgb", "--image-size", "4096", "--steps", "5",
                          "--no-tensorboard"], ["image_size must be 1..2048", "got 4096"]),
        ("bc_transfer", ["--image-size", "0", "--demos", "1,1", "--eval-episodes", "1"], ["image_size must be 1..2048", "got 0"]),
        ("bc_transfer", ["--image-size", "40", "--demos", "1,1", "--eval-episodes", "1"], ["multiple of 16", "got 40"]),
        ("ablation", ["--size", "0"], ["--size must be a power of two >= 32", "got 0"]),
        ("balance_rare_events", ["--rollouts", "2", "--export", "EXPORT", "--size", "0"],
         ["--size must be 1..2048", "got 0"]),
    ],
    ids=["rollout-0", "rollout-negative", "rollout-4096", "record-0", "train_policy-4096",
         "bc_transfer-0", "bc_transfer-40", "ablation-0", "balance_export-0"],
)  # fmt: skip
def test_image_sizes_out_of_range_are_errors(
    script: str, argv: list[str], words: list[str], minari_home: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import importlib

    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(f"scripts.{script}")
    argv = [str(tmp_path / "export") if a == "EXPORT" else a for a in argv]
    assert call(module.main, [*argv, "--no-progress"]) == 2
    one_line_error(capsys, *words)


# ------------------------------------------------------------------ benchmark arguments


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--sizes", "0"], ["image sizes must be 1..2048", "[0]"]),
        (["--sizes", "64", "4096"], ["image sizes must be 1..2048", "[4096]"]),
        (["--steps", "0"], ["steps must be >= 1", "got 0"]),
        (["--resets", "0"], ["resets must be >= 1", "got 0"]),
        (["--env", "--export"], ["no env to benchmark", "--env"]),
        (["--presets", "nosuch"], ["unknown preset 'nosuch'"]),
        (["--scaling", "--processes", "0"], ["process counts must be >= 1"]),
    ],
    ids=["sizes-0", "sizes-4096", "steps-0", "resets-0", "no-env", "unknown-preset", "processes-0"],
)  # fmt: skip
def test_benchmark_argument_errors(argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import benchmark

    base = ["--env", REACH, "--sizes", "16", "--steps", "2", "--resets", "1", "--repeats", "1",
            "--presets", "none"]  # fmt: skip
    assert call(benchmark.main, [*base, *argv]) == 2
    one_line_error(capsys, *words)


# ------------------------------------------------------------ 4/5. output paths


def _plain_file(path: Path) -> Path:
    path.write_text("my notes, not a checkpoint\n")
    return path


@pytest.mark.parametrize(
    ("script", "existing", "words"),
    [
        ("train_gan", "regressor", ["already exists and is a pose-regressor checkpoint", "--force"]),
        ("train_bc", "gan", ["already exists and is a appearance-GAN checkpoint", "--force"]),
        ("train_regressor", "notes", ["already exists and is not a domrand checkpoint", "--force"]),
        ("train_policy", "zip", ["already exists and is not a domrand checkpoint", "--force"]),
    ],
    ids=["train_gan-over-regressor", "train_bc-over-gan", "train_regressor-over-notes",
         "train_policy-over-zip"],
)  # fmt: skip
def test_training_refuses_to_overwrite_another_kind_of_file(
    script: str, existing: str, words: list[str], data: dict[str, Path], gan: dict[str, Path],
    bc: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import importlib
    import shutil

    if existing == "regressor":
        target = tmp_path / "model.pt"
        shutil.copy(data["regressor"], target)
    elif existing == "gan":
        target = tmp_path / "model.pt"
        shutil.copy(gan["ckpt"], target)
    elif existing == "notes":
        target = _plain_file(tmp_path / "model.pt")
    else:
        target = tmp_path / "photos.zip"
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("a.txt", "holiday photos")
    before = target.read_bytes()
    argv = _training_argv(script, target, data, gan, bc)
    module = importlib.import_module(f"scripts.{script}")
    capsys.readouterr()
    assert call(module.main, argv) == 2
    one_line_error(capsys, *words)
    assert target.read_bytes() == before


def _training_argv(script: str, out: Path, data: dict[str, Path], gan: dict[str, Path],
                   bc: dict[str, Any]) -> list[str]:  # fmt: skip
    if script == "train_gan":
        return ["--images", str(gan["photos"]), "--out", str(out), "--steps", "1", "--size", "32",
                "--batch", "4", "--g-channels", "16", "--d-channels", "8", "--z-dim", "8",
                "--quiet"]  # fmt: skip
    if script == "train_bc":
        return ["--dataset", bc["dataset"], "--out", str(out), "--epochs", "1", "--width", "8",
                "--no-progress"]  # fmt: skip
    if script == "train_regressor":
        return ["--train", str(data["lift32"]), "--out", str(out), "--epochs", "1", "--width", "8",
                "--no-progress"]  # fmt: skip
    return ["--env", PUSH, "--steps", "5", "--out", str(out), "--no-tensorboard", "--no-progress"]


def test_force_replaces_another_kind_of_file(data: dict[str, Path], gan: dict[str, Path],
                                             tmp_path: Path) -> None:  # fmt: skip
    import shutil

    from agents.policies.contract import checkpoint_kind
    from scripts import train_gan

    target = tmp_path / "model.pt"
    shutil.copy(data["regressor"], target)
    argv = _training_argv("train_gan", target, data, gan, {})
    assert train_gan.main([*argv, "--force"]) == 0
    assert checkpoint_kind(target) == "gan"
    assert train_gan.main(argv) == 0  # its own kind is replaced without --force


@pytest.mark.parametrize(
    ("script", "where", "words"),
    [
        ("train_regressor", "folder", ["is an existing folder", "give a file path"]),
        ("train_policy", "folder", ["is an existing folder", "give a file path"]),
        ("train_gan", "folder", ["is an existing folder", "give a file path"]),
        ("train_bc", "readonly", ["is not writable", "choose a writable location"]),
        ("train_gan", "readonly", ["is not writable", "choose a writable location"]),
        ("train_regressor", "readonly", ["is not writable", "choose a writable location"]),
        ("train_policy", "readonly", ["is not writable", "choose a writable location"]),
        ("train_regressor", "under-a-file", ["is a file, not a folder"]),
    ],
    ids=["train_regressor-folder", "train_policy-folder", "train_gan-folder", "train_bc-readonly",
         "train_gan-readonly", "train_regressor-readonly", "train_policy-readonly",
         "train_regressor-under-a-file"],
)  # fmt: skip
def test_training_checks_out_before_training(
    script: str, where: str, words: list[str], data: dict[str, Path], gan: dict[str, Path],
    bc: dict[str, Any], tmp_path: Path, readonly_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import importlib

    suffix = ".zip" if script == "train_policy" else ".pt"
    if where == "folder":
        out = tmp_path / f"model{suffix}"
        out.mkdir()
    elif where == "readonly":
        out = readonly_dir / f"domrand-test-model{suffix}"
    else:
        out = _plain_file(tmp_path / "notes.txt") / f"model{suffix}"
    module = importlib.import_module(f"scripts.{script}")
    trained = {"n": 0}
    for attr in ("train", "train_bc", "train_gan", "train_regressor"):  # nothing may train
        if hasattr(module, attr):
            def spy(*args: Any, _attr: str = attr, **kwargs: Any) -> Any:
                trained["n"] += 1
                raise AssertionError(f"{_attr} ran before --out was checked")

            monkeypatch.setattr(module, attr, spy)
    capsys.readouterr()
    assert call(module.main, _training_argv(script, out, data, gan, bc)) == 2
    one_line_error(capsys, *words)
    assert trained["n"] == 0


@pytest.mark.parametrize(
    ("script", "argv", "words"),
    [
        ("evaluate_regressor", ["--model", "REGRESSOR", "--data", "LIFT32", "--plot", "RO/p.png"],
         ["--plot", "is not writable"]),
        ("rollout", ["--episodes", "1", "--video", "RO/v.gif", "--no-progress"],
         ["--video", "is not writable"]),
        ("sample_gan", ["--model", "GAN", "--num", "2", "--out", "RO/textures"],
         ["--out", "is not writable"]),
        ("benchmark", ["--env", REACH, "--sizes", "16", "--steps", "2", "--resets", "1",
                       "--repeats", "1", "--presets", "none", "--out-dir", "RO/bench"],
         ["--out-dir", "is not writable"]),
        ("robustness", ["--train-presets", "none", "--checkpoint", "none=SB3", "--episodes", "1",
                        "--out", "RO/robustness", "--no-progress"], ["--out", "is not writable"]),
        ("ablation", ["--out", "RO/ablation", "--train-images", "2", "--test-images", "2",
                      "--epochs", "1", "--no-progress"], ["--out", "is not writable"]),
    ],
    ids=["evaluate_regressor-plot", "rollout-video", "sample_gan-out", "benchmark-out-dir",
         "robustness-out", "ablation-out"],
)  # fmt: skip
def test_read_only_outputs_fail_before_the_work(
    script: str, argv: list[str], words: list[str], data: dict[str, Path], gan: dict[str, Path],
    sb3: Path, readonly_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import importlib

    subst = {"REGRESSOR": str(data["regressor"]), "LIFT32": str(data["lift32"]),
             "GAN": str(gan["ckpt"]), "SB3": str(sb3)}  # fmt: skip
    argv = [subst.get(a, a.replace("RO/", f"{readonly_dir}/domrand-test-")) for a in argv]
    argv = [a.replace("=SB3", f"={sb3}") for a in argv]
    if script == "robustness":
        argv += ["--env", PUSH]
    module = importlib.import_module(f"scripts.{script}")
    capsys.readouterr()
    assert call(module.main, argv) == 2
    one_line_error(capsys, *words)


# ------------------------------------------------------------ regressor validation data


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--val", "LIFT64"], ["--val", "holds 64 px images", "--size 32"]),
        (["--val", "PUSH32"], ["--val", "exported from domrand/Push-v0", "domrand/Lift-v0"]),
        (["--threads", "-1"], ["threads must be >= 0", "got -1"]),
        (["--train", "LIFT48"], ["48x48 px images", "power of two >= 32"]),
    ],
    ids=["val-other-size", "val-other-env", "threads-negative", "train-48px"],
)  # fmt: skip
def test_regressor_training_checks_its_data_first(
    argv: list[str], words: list[str], data: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from scripts import train_regressor

    subst = {"LIFT64": str(data["lift64"]), "PUSH32": str(data["push32"]),
             "LIFT48": str(data["lift48"])}  # fmt: skip
    base = ["--train", str(data["lift32"]), "--out", str(tmp_path / "r.pt"), "--epochs", "1",
            "--width", "8", "--no-progress"]  # fmt: skip
    capsys.readouterr()
    assert train_regressor.main([*base, *[subst.get(a, a) for a in argv]]) == 2
    one_line_error(capsys, *words)
    assert not (tmp_path / "r.pt").exists()


# ------------------------------------------------------------ SB3 checkpoints


def _no_sb3_load(monkeypatch: pytest.MonkeyPatch) -> None:
    import stable_baselines3.common.base_class as base_class

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("SB3 opened (and would unpickle) a checkpoint that fails its meta check")

    monkeypatch.setattr(base_class, "load_from_zip_file", refuse)


@pytest.mark.parametrize(
    ("craft", "words", "unread"),
    [
        ("meta-only", ["is not a Stable-Baselines3 checkpoint", "lacks the member(s)"], True),
        ("other-obs-space", ["was trained with observation_space (5,)", "has (26,)"], True),
        ("obs-mode-lie", ["observation_space (26,)", "obs_mode 'rgb' has (3, 64, 64)"], True),
        ("kind-bc", ["says kind 'bc'", "behaviour-cloning policies are .pt files"], True),
        ("pickled-weights", ["Stable-Baselines3 could not load it", "UnpicklingError"], False),
    ],
    ids=["zip-not-sb3", "zip-other-obs-space", "zip-other-obs-mode", "zip-kind-bc",
         "zip-pickled-weights"],
)  # fmt: skip
def test_sb3_checkpoints_failing_the_meta_check_are_refused(
    craft: str, words: list[str], unread: bool, sb3: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import pickle

    from scripts import rollout

    bad = tmp_path / f"{craft}.zip"
    if craft == "meta-only":
        with zipfile.ZipFile(sb3) as src, zipfile.ZipFile(bad, "w") as dst:
            dst.writestr("domrand.json", src.read("domrand.json"))
    elif craft == "other-obs-space":
        _craft_zip(sb3, bad, meta=lambda m: m["extra"]["observation_space"].update(shape=[5]))
    elif craft == "obs-mode-lie":
        _craft_zip(sb3, bad, meta=lambda m: m.update(obs_mode="rgb"))
    elif craft == "kind-bc":
        _craft_zip(sb3, bad, meta=lambda m: m.update(kind="bc", algo="bc"))
    else:
        from fractions import Fraction  # any class a weights-only unpickler refuses

        _craft_zip(sb3, bad, replace={"policy.pth": pickle.dumps({"weights": Fraction(1, 3)})})
    if unread:
        _no_sb3_load(monkeypatch)
    capsys.readouterr()
    assert rollout.main(["--env", PUSH, "--episodes", "1", "--policy", str(bad), "--no-progress"]) == 2
    one_line_error(capsys, *words)


# ------------------------------------------------------------ corrupt checkpoints


def _damaged_regressor(src: Path, dst: Path, how: str) -> Path:
    payload = torch.load(src, weights_only=True)
    if how == "no-config":
        del payload["config"]
    else:
        payload["config"]["depth"] = 7
    torch.save(payload, dst)
    return dst


def _damaged_bc(src: Path, dst: Path, how: str) -> Path:
    payload = torch.load(src, weights_only=True)
    if how == "no-dims":
        del payload["dims"]
    else:
        payload["meta"] = "{not json"
    torch.save(payload, dst)
    return dst


@pytest.mark.parametrize(
    ("loader", "how", "words"),
    [
        ("regressor", "no-config", ["damaged pose-regressor checkpoint", "lacks 'config'"]),
        ("regressor", "unknown-config-key", ["damaged pose-regressor checkpoint", "depth"]),
        ("bc", "no-dims", ["damaged behaviour-cloning checkpoint", "lacks 'dims'"]),
        ("bc", "meta-not-json", ["damaged behaviour-cloning checkpoint", "JSONDecodeError"]),
        ("gan", "a-regressor", ["is not a domrand GAN checkpoint", "--out NEW.pt"]),
    ],
    ids=["regressor-no-config", "regressor-unknown-config-key", "bc-no-dims", "bc-meta-not-json",
         "gan-given-a-regressor"],
)  # fmt: skip
def test_corrupt_checkpoints_are_one_line_errors(
    loader: str, how: str, words: list[str], data: dict[str, Path], bc: dict[str, Any],
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from scripts import evaluate_regressor, rollout, sample_gan

    capsys.readouterr()
    if loader == "regressor":
        bad = _damaged_regressor(data["regressor"], tmp_path / "r.pt", how)
        code = evaluate_regressor.main(["--model", str(bad), "--data", str(data["lift32"])])
    elif loader == "bc":
        bad = _damaged_bc(bc["ckpt"], tmp_path / "b.pt", how)
        code = rollout.main(["--env", REACH, "--episodes", "1", "--policy", str(bad),
                             "--no-progress"])  # fmt: skip
    else:
        code = sample_gan.main(["--model", str(data["regressor"]), "--out", str(tmp_path / "t")])
    assert code == 2
    line = one_line_error(capsys, *words)
    if loader == "gan":  # the hint must not suggest overwriting the file it could not read
        assert f"--out {data['regressor']}" not in line


# ------------------------------------------------------------ other careless inputs


@pytest.mark.parametrize(
    ("script", "argv", "words"),
    [
        ("gan_quality", ["--num", "1"], ["num must be at least 20", "got 1"]),
        ("gan_quality", ["--num", "0"], ["num must be at least 20", "got 0"]),
        ("train_gan", ["--device", "cuda"], ["device 'cuda' is not available", "--device cpu"]),
        ("rollout", ["--preset", "nosuch"], ["unknown preset 'nosuch'"]),
        ("robustness", ["--train-presets", "nosuch", "--steps", "5"], ["unknown preset 'nosuch'"]),
        ("bc_transfer", ["--tasks", "nosuch", "--demos", "1"], ["unknown task(s) ['nosuch']"]),
        ("bc_transfer", ["--demos", "x"], ["--demos expects comma-separated episode counts"]),
        ("train_failure_predictor", ["--episodes", "0"], ["episodes must be >= 2", "got 0"]),
        ("train_bc", ["--lr", "-1"], ["lr must be > 0", "got -1.0"]),
    ],
    ids=["gan_quality-num-1", "gan_quality-num-0", "train_gan-no-cuda", "rollout-unknown-preset",
         "robustness-unknown-train-preset", "bc_transfer-unknown-task", "bc_transfer-demos-x",
         "failure_predictor-episodes-0", "train_bc-negative-lr"],
)  # fmt: skip
def test_careless_inputs_are_one_line_errors(
    script: str, argv: list[str], words: list[str], gan: dict[str, Path], bc: dict[str, Any],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import importlib

    if script == "train_gan" and torch.cuda.is_available():
        pytest.skip("a CUDA device exists here")
    monkeypatch.chdir(tmp_path)
    base = {
        "gan_quality": ["--model", str(gan["ckpt"]), "--images", str(gan["photos"])],
        "train_gan": _training_argv("train_gan", tmp_path / "g.pt", {}, gan, {}),
        "rollout": ["--episodes", "1", "--no-progress"],
        "robustness": ["--out", str(tmp_path / "rb"), "--no-progress"],
        "bc_transfer": ["--out", str(tmp_path / "bt"), "--demos", "1,1", "--eval-episodes", "1",
                        "--epochs", "1", "--no-progress"],
        "train_failure_predictor": ["--no-progress"],
        "train_bc": _training_argv("train_bc", tmp_path / "b.pt", {}, {}, bc),
    }[script]
    module = importlib.import_module(f"scripts.{script}")
    capsys.readouterr()
    assert call(module.main, [*base, *argv]) == 2
    one_line_error(capsys, *words)


# ------------------------------------------------------------ hyperparameters (--hp)


def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the training env (and so collecting demos) fails the test: a bad
    hyperparameter must be refused before."""
    import agents.rl

    def refuse(config: Any) -> Any:
        raise AssertionError("the training env was built before the hyperparameters were checked")

    monkeypatch.setattr(agents.rl, "make_train_env", refuse)


HP_CASES: list[tuple[str, list[str], list[str]]] = [
    ("learning_rate-text", ["--hp", "learning_rate=abc"],
     ["sac hyperparameter learning_rate must be a finite number > 0", "got 'abc'",
      "--hp learning_rate=3e-4"]),
    ("policy_kwargs-text", ["--hp", "policy_kwargs=foo"],
     ["hyperparameter policy_kwargs must be a mapping", "got 'foo'", "net_arch: [64, 64]"]),
    ("learning_starts-text", ["--hp", "learning_starts=x"],
     ["learning_starts must be an integer >= 0", "got 'x'"]),
    ("ppo-n_steps-0", ["--algo", "ppo", "--hp", "n_steps=0"],
     ["ppo hyperparameter n_steps must be an integer >= 1", "got 0"]),
    ("bc_weight-nan", ["--demos", "1", "--pretrain-steps", "1", "--bc-weight", "nan"],
     ["bc_weight must be a finite number >= 0", "got nan"]),
    ("gamma-2", ["--hp", "gamma=2"], ["gamma must be a finite number in (0, 1]", "got 2"]),
    ("gamma-yaml-nan", ["--hp", "gamma=.nan"], ["gamma must be a finite number in (0, 1]", "got nan"]),
    ("gamma-text-nan", ["--hp", "gamma=nan"], ["gamma must be", "got 'nan'"]),
    ("tau-0", ["--hp", "tau=0"], ["tau must be a finite number in (0, 1]", "got 0"]),
    ("batch_size-fraction", ["--hp", "batch_size=32.5"],
     ["batch_size must be an integer >= 1", "got 32.5", "not a whole number"]),
    ("batch_size-true", ["--hp", "batch_size=true"], ["batch_size must be an integer", "got True"]),
    ("buffer_size-0", ["--hp", "buffer_size=0"], ["buffer_size must be an integer >= 1", "got 0"]),
    ("gradient_steps-0", ["--hp", "gradient_steps=0"], ["gradient_steps must be an integer >= 1, or -1"]),
    ("train_freq-hours", ["--hp", "train_freq=[1,hour]"],
     ["train_freq must be", "[count, step] or [count, episode]", "got [1, 'hour']"]),
    ("train_freq-episodes-2-envs", ["--num-envs", "2", "--hp", "train_freq=[1,episode]"],
     ["train_freq=[1, 'episode'] counts episodes, which needs one env", "num_envs=2"]),
    ("ent_coef-auto_0", ["--hp", "ent_coef=auto_0"],
     ["ent_coef must be", "'auto_<initial value > 0>'", "got 'auto_0'"]),
    ("ppo-ent_coef-auto", ["--algo", "ppo", "--hp", "ent_coef=auto"],
     ["ppo hyperparameter ent_coef must be a finite number >= 0", "got 'auto'"]),
    ("net_arch-zero-width", ["--hp", "policy_kwargs={net_arch: [64, 0]}"],
     ["policy_kwargs must be", "got {'net_arch': [64, 0]}", "layer widths >= 1"]),
    ("net_arch-other-head", ["--hp", "policy_kwargs.net_arch={pi: [8], vf: [8]}"],
     ["policy_kwargs must be", "net_arch keys ['vf'] are not among ['pi', 'qf']"]),
    ("policy_kwargs-unknown-key", ["--hp", "policy_kwargs={foo: 1}"],
     ["policy_kwargs has unknown key(s) ['foo'] for SACPolicy", "net_arch"]),
    ("activation_fn-text", ["--hp", "policy_kwargs.activation_fn=relu"],
     ["policy_kwargs must be", "activation_fn takes a Python class"]),
    ("ppo-batch_size-1", ["--algo", "ppo", "--hp", "batch_size=1"],
     ["ppo hyperparameter batch_size must be an integer >= 2", "got 1"]),
    ("ppo-n_steps-1-one-env", ["--algo", "ppo", "--hp", "n_steps=1"],
     ["n_steps x num_envs must be >= 2", "n_steps=1 x 1"]),
    ("learning_starts-5000-digits", ["--hp", "learning_starts=1" + "0" * 5000],
     ["--hp learning_starts: cannot parse", "Exceeds the limit"]),
    ("rgb-16px-image", ["--algo", "ppo", "--obs-mode", "rgb", "--image-size", "16"],
     ["obs_mode 'rgb' trains Stable-Baselines3's NatureCNN", "at least 36 px", "got image_size 16"]),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "words"), [c[1:] for c in HP_CASES], ids=[c[0] for c in HP_CASES])
def test_bad_hyperparameters_fail_before_any_env(
    argv: list[str], words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    pytest.importorskip("stable_baselines3")
    from scripts import train_policy

    _no_env(monkeypatch)
    out = tmp_path / "x.zip"
    capsys.readouterr()
    code = call(train_policy.main, ["--env", REACH, "--steps", "200", "--no-tensorboard",
                                    "--no-progress", "--out", str(out), *argv])  # fmt: skip
    assert code == 2
    one_line_error(capsys, *words)
    assert not out.exists()


def test_hyperparameters_sb3_refuses_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A combination only SB3's constructor knows is wrong: one line naming the
    hyperparameter, before any demo is collected."""
    pytest.importorskip("stable_baselines3")
    import agents.rl
    from scripts import train_policy

    def no_demos(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("demos were collected before SB3 accepted the hyperparameters")

    monkeypatch.setattr(agents.rl, "add_expert_demos", no_demos)
    capsys.readouterr()
    code = call(train_policy.main, ["--env", REACH, "--steps", "200", "--no-tensorboard",
                                    "--no-progress", "--out", str(tmp_path / "x.zip"),
                                    "--demos", "1", "--hp", "optimize_memory_usage=true"])  # fmt: skip
    assert code == 2
    one_line_error(capsys, "Stable-Baselines3 SAC refused hyperparameter(s) optimize_memory_usage=True",
                   "ValueError", "change or drop those --hp values")  # fmt: skip


def test_hyperparameters_written_as_text_become_numbers() -> None:
    """YAML 1.1 reads 3e-4 and 1e3 as text: they are numbers for SB3, and a dotted key
    sets one entry of policy_kwargs."""
    pytest.importorskip("stable_baselines3")
    from agents.rl import TrainConfig
    from scripts.train_policy import parse_hyperparams

    hp = parse_hyperparams(["learning_rate=3e-4", "buffer_size=1e3", "train_freq=[2,step]",
                            "policy_kwargs.net_arch=[8,8]", "ent_coef=auto_0.1"])  # fmt: skip
    config = TrainConfig(env_id=REACH, steps=10, hyperparams=hp, tensorboard=False)
    assert config.hyperparams == {"learning_rate": 3e-4, "buffer_size": 1000, "train_freq": (2, "step"),
                                  "policy_kwargs": {"net_arch": [8, 8]}, "ent_coef": "auto_0.1"}  # fmt: skip
    assert type(config.hyperparams["buffer_size"]) is int
    kwargs = config.algo_kwargs()
    kwargs["policy_kwargs"]["use_sde"] = False  # SB3 writes into the dict it is given
    assert "use_sde" not in config.algo_kwargs()["policy_kwargs"]


def test_every_sb3_hyperparameter_has_a_rule() -> None:
    pytest.importorskip("stable_baselines3")
    from agents.rl import HYPERPARAMS, _allowed_names
    from scripts.train_policy import parse_args

    for algo, table in HYPERPARAMS.items():
        assert set(table) == _allowed_names(algo), algo
    assert parse_args([]).hp == []


# ------------------------------------------------------------ damaged exported datasets


def _damage_dataset(src: Path, dst: Path, how: str) -> Path:
    import shutil

    shutil.copytree(src, dst)
    index = dst / "samples.jsonl"
    lines = index.read_text().splitlines()
    if how == "line4-not-json":
        lines[3] = lines[3][:40] + "#" + lines[3][41:]
    elif how == "line4-not-a-record":
        lines[3] = "[1, 2]"
    elif how == "line2-no-objects":
        record = json.loads(lines[1])
        del record["objects"]
        lines[1] = json.dumps(record)
    elif how == "image-missing":
        (dst / "rgb" / "000002.png").unlink()
    elif how == "image-undecodable":
        (dst / "rgb" / "000001.png").write_bytes(b"not a png")
    if how == "not-utf8":
        index.write_bytes(b"\xff\xfe" + index.read_bytes())
    else:
        index.write_text("\n".join(lines) + "\n")
    return dst


DATA_CASES: list[tuple[str, str, str, list[str]]] = [
    ("train-line4-not-json", "train_regressor", "line4-not-json",
     ["samples.jsonl' line 4 is not valid JSON", "Expecting value", "--resume"]),
    ("evaluate-line4-not-json", "evaluate_regressor", "line4-not-json",
     ["samples.jsonl' line 4 is not valid JSON", "--resume"]),
    ("train-line4-not-a-record", "train_regressor", "line4-not-a-record",
     ["samples.jsonl' line 4 is not a sample record", "--resume"]),
    ("evaluate-line2-no-objects", "evaluate_regressor", "line2-no-objects",
     ["samples.jsonl' line 2: the record of sample 1 lacks 'objects'", "--resume"]),
    ("train-image-missing", "train_regressor", "image-missing",
     ["rgb/000002.png' (the image of sample 2, samples.jsonl line 3) does not exist", "--resume"]),
    ("evaluate-image-undecodable", "evaluate_regressor", "image-undecodable",
     ["rgb/000001.png' (the image of sample 1, samples.jsonl line 2) does not decode as an image",
      "--resume"]),
    ("train-not-utf8", "train_regressor", "not-utf8",
     ["samples.jsonl' is not UTF-8 text (byte 0)", "--resume"]),
]  # fmt: skip


@pytest.mark.parametrize(("script", "how", "words"), [c[1:] for c in DATA_CASES],
                         ids=[c[0] for c in DATA_CASES])  # fmt: skip
def test_damaged_datasets_name_the_file(
    script: str, how: str, words: list[str], data: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from scripts import evaluate_regressor, train_regressor

    bad = _damage_dataset(data["lift32"], tmp_path / "dmg", how)
    capsys.readouterr()
    if script == "train_regressor":
        code = train_regressor.main(["--train", str(bad), "--out", str(tmp_path / "r.pt"),
                                     "--epochs", "1", "--width", "8", "--no-progress"])  # fmt: skip
    else:
        code = evaluate_regressor.main(["--model", str(data["regressor"]), "--data", str(bad)])
    assert code == 2
    line = one_line_error(capsys, *words)
    assert str(bad) in line
    assert not (tmp_path / "r.pt").exists()


# ------------------------------------------------------------ more envs than useful


@pytest.mark.parametrize(
    ("episodes", "cpus", "words"),
    [(2, 4, "--num-envs 500 capped to 2 (2 episodes, 4 CPUs)"),
     (3, 2, "--num-envs 500 capped to 2 (3 episodes, 2 CPUs)")],
    ids=["episodes", "cpus"],
)  # fmt: skip
def test_num_envs_is_capped_and_episodes_do_not_change(
    episodes: int, cpus: int, words: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import agents.rollout
    from agents.rollout import RolloutConfig, run_rollouts
    from scripts import rollout

    make = agents.rollout.make_vector_env

    def capped(config: Any) -> Any:
        assert config.num_envs <= min(episodes, cpus), f"{config.num_envs} env processes"
        return make(config)

    monkeypatch.setattr(agents.rollout, "make_vector_env", capped)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    argv = ["--env", REACH, "--episodes", str(episodes), "--policy", "random", "--json",
            "--no-progress"]  # fmt: skip
    capsys.readouterr()
    assert rollout.main([*argv, "--num-envs", "500"]) == 0
    out, err = capsys.readouterr()
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and words in notes[0], err
    many = json.loads(out)
    assert rollout.main([*argv, "--num-envs", "1"]) == 0
    one = json.loads(capsys.readouterr().out)
    for key in ("episodes", "success_rate", "mean_return", "std_return", "mean_length",
                "event_counts"):  # fmt: skip
        assert many[key] == one[key], key
    cfg = {"env_id": REACH, "episodes": episodes, "policy": "random", "seed": 3}
    _, r1 = run_rollouts(RolloutConfig(**cfg, num_envs=1), progress=False)
    _, rn = run_rollouts(RolloutConfig(**cfg, num_envs=500), progress=False, note=lambda m: None)
    assert [(r.seed, r.episode_return, r.length, r.params) for r in r1] == [
        (r.seed, r.episode_return, r.length, r.params) for r in rn
    ]
