"""DAgger (agents.dagger.loop, agents.dagger.net, scripts/train_dagger.py): a tiny run end to end,
determinism, image+proprio-only inputs, checkpoint and argument refusals; one slow test of
the Lift headline at a reduced budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the envs)
from agents.dagger.net import DaggerPolicy
from agents.policies.bc import PROPRIO_NAMES
from agents.policies.contract import PolicyError
from agents.policies.loading import load_policy
from scripts import rollout, train_dagger

SIZE = 32  # tiny images keep the tests fast (the recipe uses 64)
TINY = ["--iterations", "2", "--episodes-per-iteration", "1", "--epochs", "0.5",
        "--val-episodes", "1", "--width", "4", "--batch-size", "8", "--image-size", str(SIZE),
        "--no-progress"]  # fmt: skip


def _train(out: Path, env_id: str = "domrand/Lift-v0", *extra: str) -> int:
    return train_dagger.main(["--env", env_id, "--out", str(out), *TINY, *extra])


@pytest.fixture(scope="module")
def lift_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dagger") / "lift.pt"
    assert _train(out) == 0
    return out


def test_tiny_run_writes_checkpoint_log_and_curve(lift_ckpt: Path) -> None:
    log = json.loads(lift_ckpt.with_suffix(".log.json").read_text())
    assert [r["iteration"] for r in log["iterations"]] == [0, 1]
    assert log["iterations"][0]["beta"] == 1.0 and log["iterations"][1]["beta"] == 0.8
    assert {"val_success", "rollout_success", "action_mse", "keypoint_loss"} <= set(log["iterations"][1])
    assert lift_ckpt.with_suffix(".curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    policy = load_policy(lift_ckpt, env_id="domrand/Lift-v0", obs_mode="state+rgb")
    assert isinstance(policy, DaggerPolicy)
    assert policy.meta.algo == "dagger" and policy.meta.image_size == SIZE
    assert policy.meta.preset == "tobin_photos_calibrated" and policy.keypoints == ("cube", "ee")


def test_same_seed_gives_identical_weights(lift_ckpt: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.pt"
    assert _train(again) == 0
    a = torch.load(lift_ckpt, weights_only=True)["state_dict"]
    b = torch.load(again, weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    other = tmp_path / "other.pt"
    assert _train(other, "domrand/Lift-v0", "--seed", "1") == 0
    c = torch.load(other, weights_only=True)["state_dict"]
    assert not all(_same(a[k], c[k]) for k in a)


def _same(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Bitwise equal, NaN matching NaN (the end effector's plane height is NaN)."""
    return torch.equal(x.isnan(), y.isnan()) and torch.equal(x.nan_to_num(), y.nan_to_num())


def test_interrupted_run_leaves_its_best_iteration(tmp_path: Path) -> None:
    from agents.dagger.loop import DaggerConfig, run_dagger

    out = tmp_path / "cut.pt"
    config = DaggerConfig(iterations=3, episodes_per_iteration=1, epochs=0.5, val_episodes=1,
                          width=4, hidden=16, batch_size=8, image_size=SIZE, head_steps=5)  # fmt: skip

    def stop(row: dict[str, Any]) -> None:
        if row["iteration"] == 1:
            raise KeyboardInterrupt

    before = torch.get_rng_state()
    with pytest.raises(KeyboardInterrupt):
        run_dagger("domrand/Lift-v0", None, config, progress=False, log=stop, checkpoint=out)
    assert torch.equal(torch.get_rng_state(), before)  # seeded through generators only
    policy = load_policy(out)
    assert policy.meta.extra["finished"] is False
    assert [r["iteration"] for r in policy.meta.extra["log"]] in ([0], [0, 1])


def test_frozen_trunk_keeps_its_weights_while_heads_learn() -> None:
    from agents.dagger.loop import DaggerConfig, run_dagger
    from agents.dagger.net import KeypointNet
    from agents.training import seeded

    config = DaggerConfig(iterations=2, episodes_per_iteration=1, epochs=0.5, val_episodes=0,
                          width=4, hidden=16, batch_size=8, image_size=SIZE, head_steps=5,
                          freeze_trunk=1)  # fmt: skip
    with seeded(config.seed):
        fresh = KeypointNet(SIZE, len(PROPRIO_NAMES), 4, 2, config.width, config.hidden)
    frozen = run_dagger("domrand/Lift-v0", None, DaggerConfig(**{**config.__dict__,
                        "iterations": 1}), progress=False).policy.model  # fmt: skip
    moved = run_dagger("domrand/Lift-v0", None, config, progress=False).policy.model
    for model, same in ((frozen, True), (moved, False)):
        pairs = zip(model.trunk_parameters(), fresh.trunk_parameters(), strict=True)
        assert all(torch.equal(a, b) for a, b in pairs) is same
        assert not torch.equal(model.heads.weight, fresh.heads.weight)
    with pytest.raises(ValueError, match="freeze_trunk must be an int >= 0, got -1"):
        DaggerConfig(freeze_trunk=-1)


def test_runs_through_rollout_script(lift_ckpt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--env", "domrand/Lift-v0", "--policy", str(lift_ckpt), "--preset", "target",
            "--episodes", "1", "--json", "--no-progress"]  # fmt: skip
    assert rollout.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["episodes"] == 1 and 0.0 <= out["success_rate"] <= 1.0


def test_policy_reads_only_image_and_proprio(lift_ckpt: Path) -> None:
    policy = load_policy(lift_ckpt)
    env = gym.make("domrand/Lift-v0", obs_mode="state+rgb", image_size=SIZE)
    try:
        names = list(env.unwrapped.task.state_names)  # type: ignore[attr-defined]
        obs, _ = env.reset(seed=3)
        for _ in range(3):
            obs, *_ = env.step(env.action_space.sample())
    finally:
        env.close()
    hidden = [i for i, n in enumerate(names) if n not in PROPRIO_NAMES]
    assert "cube_x" in [names[i] for i in hidden]
    rng = np.random.default_rng(0)
    corrupted = dict(obs, state=obs["state"].copy())
    corrupted["state"][hidden] = rng.normal(0, 10, len(hidden)).astype(np.float32)
    assert np.array_equal(policy.act(obs), policy.act(corrupted))
    moved = dict(obs, state=obs["state"].copy())
    moved["state"][names.index("ee_z")] += 0.3  # proprioception is read
    assert not np.array_equal(policy.act(obs), policy.act(moved))


# ------------------------------------------------------------------------ refusals

BAD_ARGS = {
    "env-without-keypoints": (["--env", "domrand/Reach-v0"], ["DAgger runs on", "domrand/Reach-v0"]),
    "iterations-0": (["--iterations", "0"], ["iterations must be an int >= 1", "got 0"]),
    "episodes-0": (["--episodes-per-iteration", "0"], ["episodes_per_iteration", ">= 1", "got 0"]),
    "epochs-0": (["--epochs", "0"], ["epochs must be a finite number > 0", "got 0"]),
    "epochs-nan": (["--epochs", "nan"], ["epochs must be a finite number > 0", "nan"]),
    "val-episodes-negative": (["--val-episodes", "-1"], ["val_episodes must be an int >= 0", "-1"]),
    "threads-0": (["--threads", "0"], ["--threads must be >= 1", "got 0"]),
    "image-size-not-multiple-of-4": (["--image-size", "30"], ["multiple of 4", "got 30"]),
    "beta-decay-above-1": (["--beta-decay", "1.5"], ["beta_decay must be in [0, 1]", "1.5"]),
    "lr-0": (["--lr", "0"], ["lr must be a finite number > 0", "got 0"]),
    "aux-weight-negative": (["--aux-weight", "-1"], ["aux_weight", ">= 0", "-1"]),
    "shift-negative": (["--shift", "-2"], ["shift must be an int >= 0", "-2"]),
    "unknown-preset": (["--preset", "no_such_preset"], ["no_such_preset"]),
    "out-not-pt": (["--out", "{tmp}/model.zip"], ["--out must end in .pt"]),
    "out-foreign-file": (["--out", "{tmp}/notes.pt"], ["already exists", "not a domrand checkpoint", "--force"]),
    "init-localizer-missing": (["--init-localizer", "{tmp}/none.pt"], ["localizer checkpoint", "none.pt", "not found"]),
    "init-localizer-not-a-localizer": (["--init-localizer", "{tmp}/notes.pt"], ["notes.pt", "not a readable localizer checkpoint"]),
    "init-localizer-other-size": (["--init-localizer", "{root}/assets/models/lift_cube64.pt"],
                                  ["width 16, stem stride 1 on 64 px images", f"width 4, stem stride 1 on {SIZE} px"]),
    "image-size-stride-2-not-multiple-of-8": (["--stem-stride", "2", "--image-size", "36"], ["multiple of 8", "got 36"]),
    "init-localizer-other-stride": (["--init-localizer", "{root}/assets/models/push_cube128.pt", "--image-size", "128", "--width", "16"],
                                    ["width 16, stem stride 2 on 128 px images", "width 16, stem stride 1 on 128 px"]),
}  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def test_stride_2_stem_trains_loads_and_starts_from_a_128_px_localizer(tmp_path: Path) -> None:
    """``--stem-stride 2``: the checkpoint records the stride and loads back; a 128 px
    stride-2 localizer's trunk and heatmap head start the network."""
    from agents.dagger.loop import init_from_localizer
    from agents.dagger.net import KEYPOINTS, KeypointNet
    from agents.perception.localizer import load_localizer

    out = tmp_path / "s2.pt"
    assert _train(out, "domrand/Lift-v0", "--stem-stride", "2") == 0
    policy = load_policy(str(out), env_id="domrand/Lift-v0", obs_mode="state+rgb")
    assert isinstance(policy, DaggerPolicy) and policy.model.dims[6:] == [2]
    assert policy.model.stride == 4
    path = ROOT / "assets/models/push_cube128.pt"
    names = KEYPOINTS["domrand/Push-v0"]
    net = KeypointNet(128, len(PROPRIO_NAMES), 3, len(names), 16, 32, stem_stride=2)
    init_from_localizer(net, str(path), names, 128)
    loc = load_localizer(path).model.state_dict()
    assert torch.equal(net.stem[0].weight, loc["stem.0.weight"])
    assert torch.equal(net.heads.weight[names.index("cube")], loc["head.weight"][0])


@pytest.mark.parametrize("case", list(BAD_ARGS), ids=list(BAD_ARGS))
def test_bad_arguments_exit_2(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args, words = BAD_ARGS[case]
    (tmp_path / "notes.pt").write_text("my notes")
    argv = ["--env", "domrand/Lift-v0", "--out", str(tmp_path / "x.pt"), *TINY]
    argv += [a.replace("{tmp}", str(tmp_path)).replace("{root}", str(ROOT)) for a in args]  # argparse: the last one wins
    assert train_dagger.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)
    assert not (tmp_path / "x.pt").exists()


def _edit(src: Path, dst: Path, **changes: Any) -> Path:
    payload = torch.load(src, weights_only=True)
    for key, value in changes.items():
        if key == "meta_image_size":
            meta = json.loads(payload["meta"])
            meta["image_size"] = value
            payload["meta"] = json.dumps(meta)
        else:
            payload[key] = value
    torch.save(payload, dst)
    return dst


BAD_CHECKPOINTS = {
    "other-env": (["--env", "domrand/Push-v0"], None, ["trained on domrand/Lift-v0", "you asked for env domrand/Push-v0"]),
    "other-image-size": (["--image-size", "64"], None, [f"trained on {SIZE} px images", "image_size 64"]),
    "other-obs-mode": (["--obs-mode", "rgb"], None, ["obs_mode 'state+rgb'", "obs_mode 'rgb'"]),
    "truncated": ([], "truncated", ["not a readable behaviour-cloning checkpoint", "truncated or corrupt"]),
    "unknown-network": ([], {"net": "transformer"}, ["damaged", "unknown network 'transformer'", "reads bcnet, keypoint"]),
    "meta-size-differs-from-network": ([], {"meta_image_size": 64}, ["damaged", f"network built for {SIZE} px", "meta says 64 px"]),
    "keypoints-for-another-env": ([], {"keypoints": ["cube", "goal", "ee"]}, ["damaged", "keypoints", "domrand/Lift-v0"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS), ids=list(BAD_CHECKPOINTS))
def test_bad_checkpoints_are_refused(case: str, lift_ckpt: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    args, damage, words = BAD_CHECKPOINTS[case]
    ckpt = lift_ckpt
    if damage == "truncated":
        ckpt = tmp_path / "cut.pt"
        ckpt.write_bytes(lift_ckpt.read_bytes()[:1000])
    elif isinstance(damage, dict):
        ckpt = _edit(lift_ckpt, tmp_path / "edited.pt", **damage)
    argv = ["--env", "domrand/Lift-v0", "--policy", str(ckpt), "--episodes", "1", "--no-progress"]
    assert rollout.main(argv + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    for word in words:
        assert word in err, (word, err)


@pytest.mark.parametrize("shape", [(1, 64, 64, 3), (1, 16, 16, 3)], ids=["larger", "smaller"])
def test_act_refuses_other_image_sizes(lift_ckpt: Path, shape: tuple[int, ...]) -> None:
    policy = load_policy(lift_ckpt)
    obs = {"rgb": np.zeros(shape, np.uint8), "state": np.zeros((1, 21), np.float32)}
    with pytest.raises(PolicyError, match=rf"trained on {SIZE} px images; the observation is {shape[1]}x{shape[2]} px"):
        policy.act(obs)


# ------------------------------------------------------------------------ headline (slow)


@pytest.mark.slow
def test_lift_headline_at_reduced_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 item 3b: Lift (the README's recipe, the first 3 of its 6 iterations)
    succeeds >= 70% on the held-out target."""
    out = tmp_path / "lift.pt"
    argv = ["--env", "domrand/Lift-v0", "--out", str(out), "--iterations", "3",
            "--init-localizer", str(ROOT / "assets/models/lift_cube64.pt"), "--threads", "1",
            "--no-progress"]  # fmt: skip
    assert train_dagger.main(argv) == 0
    capsys.readouterr()
    argv = ["--env", "domrand/Lift-v0", "--policy", str(out), "--preset", "target",
            "--episodes", "60", "--json", "--no-progress", "--seed", "123"]  # fmt: skip
    assert rollout.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["success_rate"] >= 0.7
