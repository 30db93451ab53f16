"""Policy checkpoints: tiny SAC / PPO training, the meta inside the zip, safe loading,
refusals (wrong env, wrong obs mode, corrupt files), rollouts and evaluation with a
checkpoint, and the Wilson interval."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="needs Stable-Baselines3: pip install -e .[rl]")

from agents.experiments.balance import BalanceConfig
from agents.experiments.evaluation import EvalConfig, evaluate, wilson_interval
from agents.policies.contract import META_MEMBER, PolicyError, PolicyMeta, PolicyMismatchError
from agents.policies.loading import load_policy
from agents.policies.sb3 import read_meta
from agents.rl.config import TrainConfig
from agents.rl.train import train
from agents.rollout import RolloutConfig, run_rollouts
from scripts import evaluate_policy as evaluate_script
from scripts import train_policy as train_script

PUSH = "domrand/Push-v0"


@pytest.fixture(scope="module")
def sac_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sac") / "push_sac.zip"
    config = TrainConfig(
        env_id=PUSH, algo="sac", preset="physics", steps=200, out=str(out), demos=1,
        pretrain_steps=5, bc_weight=1.0, tensorboard=False,
        hyperparams={"learning_starts": 100, "batch_size": 32, "buffer_size": 1000},
    )  # fmt: skip
    return train(config, progress=False).path


@pytest.fixture(scope="module")
def ppo_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ppo") / "push_ppo.zip"
    config = TrainConfig(
        env_id=PUSH, algo="ppo", preset="none", steps=200, out=str(out), num_envs=2,
        vec_env="dummy", hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1},
    )  # fmt: skip
    return train(config, progress=False).path


def _vector_obs(n: int = 3) -> np.ndarray:
    envs = gym.make_vec(PUSH, num_envs=n)
    try:
        return envs.reset(seed=0)[0]
    finally:
        envs.close()


@pytest.mark.parametrize("ckpt", ["sac_ckpt", "ppo_ckpt"])
def test_checkpoint_records_meta_and_acts_deterministically(ckpt, request) -> None:
    path = request.getfixturevalue(ckpt)
    with zipfile.ZipFile(path) as archive:
        assert META_MEMBER in archive.namelist()
    meta = read_meta(path)
    assert (meta.kind, meta.env_id, meta.obs_mode) == ("sb3", PUSH, "state")
    assert meta.algo == ("sac" if ckpt == "sac_ckpt" else "ppo")
    assert meta.preset == ("physics" if ckpt == "sac_ckpt" else "none")
    assert meta.extra["train"]["steps"] == 200
    policy = load_policy(path, env_id=PUSH, obs_mode="state")
    obs = _vector_obs(3)
    actions = policy.act(obs)
    assert actions.shape == (3, 3) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 1.0)
    np.testing.assert_array_equal(actions, policy.act(obs))
    np.testing.assert_array_equal(actions, load_policy(path).act(obs))


def test_safe_load_matches_trusted_load(sac_ckpt) -> None:
    obs = _vector_obs(2)
    safe = load_policy(sac_ckpt).act(obs)
    np.testing.assert_array_equal(safe, load_policy(sac_ckpt, trusted=True).act(obs))


def test_wrong_env_or_obs_mode_is_refused(sac_ckpt) -> None:
    with pytest.raises(PolicyMismatchError, match=r"trained on domrand/Push-v0 with obs_mode "
                       r"'state'; you asked for env domrand/Reach-v0"):  # fmt: skip
        load_policy(sac_ckpt, env_id="domrand/Reach-v0")
    with pytest.raises(PolicyMismatchError, match=r"you asked for obs_mode 'rgb'"):
        load_policy(sac_ckpt, obs_mode="rgb")
    with pytest.raises(PolicyMismatchError, match="Reach"):
        RolloutConfig(env_id="domrand/Reach-v0", policy=str(sac_ckpt))
    with pytest.raises(PolicyMismatchError, match="rgbd"):
        RolloutConfig(env_id=PUSH, policy=str(sac_ckpt), obs_mode="rgbd")
    with pytest.raises(PolicyMismatchError, match="Lift"):
        BalanceConfig(env_id="domrand/Lift-v0", policy=str(sac_ckpt))


def test_missing_corrupt_and_metaless_checkpoints(tmp_path, sac_ckpt) -> None:
    with pytest.raises(PolicyError, match=r"does not exist.*train_policy"):
        load_policy(tmp_path / "nope.zip")
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"this is not a zip file")
    with pytest.raises(PolicyError, match=r"garbage\.zip is not a readable zip"):
        load_policy(garbage)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(sac_ckpt.read_bytes()[:2000])
    with pytest.raises(PolicyError, match=r"truncated\.zip"):
        load_policy(truncated)
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(sac_ckpt) as src, zipfile.ZipFile(bare, "w") as dst:
        for name in src.namelist():
            if name != META_MEMBER:
                dst.writestr(name, src.read(name))
    with pytest.raises(PolicyError, match=r"bare\.zip has no domrand\.json.*save_sb3"):
        load_policy(bare)
    bad_weights = tmp_path / "bad_weights.zip"
    with zipfile.ZipFile(sac_ckpt) as src, zipfile.ZipFile(bad_weights, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"garbage" if name == "policy.pth" else src.read(name))
    with pytest.raises(PolicyError, match=r"bad_weights\.zip: Stable-Baselines3 could not load"):
        load_policy(bad_weights)
    with pytest.raises(PolicyError, match="unknown checkpoint type"):
        (tmp_path / "x.pkl").write_bytes(b"")
        load_policy(tmp_path / "x.pkl")


def test_policy_meta_round_trip_and_validation() -> None:
    meta = PolicyMeta(kind="bc", algo="bc", env_id=PUSH, preset="tobin", obs_mode="rgb",
                      image_size=64, extra={"epochs": 3})  # fmt: skip
    assert PolicyMeta.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta
    with pytest.raises(PolicyError, match="unknown policy meta key"):
        PolicyMeta.from_dict({**meta.to_dict(), "colour": "red"})
    with pytest.raises(PolicyError, match="lacks required key"):
        PolicyMeta.from_dict({"kind": "bc"})
    with pytest.raises(PolicyError, match="obs_mode must be one of"):
        PolicyMeta(kind="bc", algo="bc", env_id=PUSH, obs_mode="lidar")
    with pytest.raises(PolicyError, match="kind must be one of"):
        PolicyMeta(kind="tf", algo="bc", env_id=PUSH)


def test_rollouts_with_a_checkpoint_match_across_num_envs(sac_ckpt) -> None:
    cfg = RolloutConfig(env_id=PUSH, episodes=3, policy=str(sac_ckpt), seed=5)
    assert (cfg.obs_mode, cfg.image_size) == ("state", 64)  # from the checkpoint's meta
    s1, r1 = run_rollouts(cfg, progress=False)
    cfg2 = RolloutConfig(env_id=PUSH, episodes=3, policy=str(sac_ckpt), seed=5, num_envs=2)
    _, r2 = run_rollouts(cfg2, progress=False)
    key = [(r.index, r.seed, r.length, r.episode_return, r.events) for r in r1]
    assert key == [(r.index, r.seed, r.length, r.episode_return, r.events) for r in r2]
    assert s1.policy == str(sac_ckpt)


def test_evaluation_reports_a_wilson_interval(ppo_ckpt) -> None:
    report, results = evaluate(
        EvalConfig(policy=str(ppo_ckpt), env_id=PUSH, preset="shifted_dynamics", episodes=2),
        progress=False,
    )
    assert report.episodes == 2 == len(results)
    assert 0.0 <= report.ci_low <= report.success_rate <= report.ci_high <= 1.0
    assert results[0].params["physics"]["mass"] >= 2.5  # the held-out preset was applied


def test_wilson_interval_known_values() -> None:
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


def test_scripts_train_then_evaluate(tmp_path, capsys) -> None:
    out = tmp_path / "reach.zip"
    code = train_script.main(
        ["--env", "domrand/Reach-v0", "--algo", "ppo", "--steps", "64", "--out", str(out),
         "--hp", "n_steps=64", "--hp", "batch_size=32", "--hp", "n_epochs=1",
         "--no-progress", "--json"]
    )  # fmt: skip
    assert code == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert trained["checkpoint"] == str(out) and Path(trained["tensorboard"]).is_dir()
    code = evaluate_script.main(
        ["--model", str(out), "--episodes", "2", "--json", "--no-progress"]
    )  # env defaults to the checkpoint's
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["env_id"] == "domrand/Reach-v0" and report["episodes"] == 2
    assert {"ci_low", "ci_high", "mean_return", "episodes_with_event"} <= set(report)
    assert evaluate_script.main(["--model", str(out), "--env", PUSH, "--no-progress"]) == 2
    assert "you asked for env domrand/Push-v0" in capsys.readouterr().err


def test_script_errors_are_clear(tmp_path, capsys) -> None:
    assert train_script.main(["--preset", "no_such_preset", "--steps", "10"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert train_script.main(["--hp", "gama=0.9", "--steps", "10"]) == 2
    assert "unknown sac hyperparameter" in capsys.readouterr().err
    assert train_script.main(["--algo", "ppo", "--demos", "5", "--steps", "10"]) == 2
    assert "off-policy" in capsys.readouterr().err
    assert evaluate_script.main(["--model", str(tmp_path / "none.zip"), "--env", PUSH]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_pt_files_dispatch_to_behaviour_cloning(tmp_path, monkeypatch) -> None:
    import sys
    import types

    meta = PolicyMeta(kind="bc", algo="bc", env_id="domrand/Reach-v0")
    calls = []

    class Stub:
        def __init__(self) -> None:
            self.meta = meta

        def act(self, obs):
            return np.zeros((len(obs), 3), dtype=np.float32)

    def load_bc_policy(path):
        calls.append(path)
        return Stub()

    monkeypatch.setitem(sys.modules, "agents.policies.bc", types.SimpleNamespace(load_bc_policy=load_bc_policy))
    ckpt = tmp_path / "bc.pt"
    ckpt.write_bytes(b"")
    assert load_policy(ckpt, env_id="domrand/Reach-v0").meta is meta and calls == [ckpt]
    with pytest.raises(PolicyMismatchError, match="trained on domrand/Reach-v0"):
        load_policy(ckpt, env_id=PUSH)


def test_rollout_script_takes_a_checkpoint(sac_ckpt, capsys) -> None:
    from scripts import rollout as rollout_script

    args = ["--env", PUSH, "--episodes", "1", "--json", "--no-progress"]
    assert rollout_script.main([*args, "--policy", str(sac_ckpt)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["policy"] == str(sac_ckpt) and out["episodes"] == 1
    assert rollout_script.main([*args, "--policy", "greedy"]) == 2
    assert "random, expert, pixel-expert or the path of a checkpoint" in capsys.readouterr().err


def test_image_policy_checkpoint_sets_the_rollout_obs_mode(tmp_path) -> None:
    out = tmp_path / "reach_rgb.zip"
    config = TrainConfig(
        env_id="domrand/Reach-v0", algo="ppo", obs_mode="rgb", image_size=48, steps=32,
        out=str(out), tensorboard=False,
        hyperparams={"n_steps": 32, "batch_size": 32, "n_epochs": 1},
    )  # fmt: skip
    train(config, progress=False)
    policy = load_policy(out, env_id="domrand/Reach-v0", obs_mode="rgb")
    envs = gym.make_vec("domrand/Reach-v0", num_envs=2, obs_mode="rgb", image_size=48)
    try:
        obs = envs.reset(seed=0)[0]
    finally:
        envs.close()
    assert obs.shape == (2, 48, 48, 3) and policy.act(obs).shape == (2, 3)
    cfg = RolloutConfig(env_id="domrand/Reach-v0", episodes=1, policy=str(out))
    assert (cfg.obs_mode, cfg.image_size) == ("rgb", 48)
    with pytest.raises(ValueError, match="trained on 48 px images"):
        RolloutConfig(env_id="domrand/Reach-v0", policy=str(out), image_size=64)
    summary, _ = run_rollouts(cfg, progress=False)
    assert summary.episodes == 1


def test_training_is_deterministic(tmp_path) -> None:
    def run(name: str) -> np.ndarray:
        config = TrainConfig(
            env_id="domrand/Reach-v0", algo="sac", steps=120, out=str(tmp_path / name),
            demos=1, pretrain_steps=3, bc_weight=1.0, tensorboard=False, seed=7,
            hyperparams={"batch_size": 16, "buffer_size": 500},
        )  # fmt: skip
        return load_policy(train(config, progress=False).path).act(obs)

    envs = gym.make_vec("domrand/Reach-v0", num_envs=4)
    try:
        obs = envs.reset(seed=1)[0]
    finally:
        envs.close()
    np.testing.assert_array_equal(run("a.zip"), run("b.zip"))


def test_robustness_table_from_existing_checkpoints(tmp_path, sac_ckpt, ppo_ckpt, capsys) -> None:
    from scripts import robustness as robustness_script

    code = robustness_script.main(
        ["--checkpoint", f"none={ppo_ckpt}", "--checkpoint", f"physics={sac_ckpt}",
         "--eval-presets", "none", "shifted_dynamics", "--episodes", "1",
         "--out", str(tmp_path), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    table = (tmp_path / "robustness.md").read_text()
    assert "PPO trained on `none`" in table and "SAC trained on `physics`" in table
    assert "scripted expert (reference)" in table
    assert "success on `shifted_dynamics` [95% CI]" in capsys.readouterr().out
    data = json.loads((tmp_path / "robustness.json").read_text())
    assert [r["checkpoint"] for r in data["rows"][:2]] == [str(ppo_ckpt), str(sac_ckpt)]
    assert robustness_script.main(["--checkpoint", "tobin=x.zip"]) == 2
    assert "not training presets" in capsys.readouterr().err


def test_shifted_dynamics_lies_outside_the_physics_training_ranges() -> None:
    from randomizers import load_preset

    (physics,) = load_preset("physics").randomizers
    (shifted,) = load_preset("shifted_dynamics").randomizers
    assert set(shifted.quantities) == {"mass", "lateral_friction"}
    for name in ("mass", "lateral_friction"):
        assert shifted.quantities[name].bounds[0] > physics.quantities[name].bounds[1]


def test_balancing_runs_its_rollouts_with_a_checkpoint(sac_ckpt) -> None:
    from agents.experiments.balance import _rollouts

    config = BalanceConfig(env_id=PUSH, preset="physics", policy=str(sac_ckpt), event="timeout",
                           rollouts=3, k_neighbors=1)  # fmt: skip
    first = _rollouts(config, 3, 0, None, False)
    again = _rollouts(config, 3, 0, [r.params for r in first], False)
    assert [r.episode_return for r in first] == [r.episode_return for r in again]
    random = _rollouts(BalanceConfig(env_id=PUSH, preset="physics", policy="random",
                                     event="timeout", rollouts=3), 3, 0, None, False)  # fmt: skip
    assert [r.params for r in random] == [r.params for r in first]  # same domains...
    assert [r.episode_return for r in random] != [r.episode_return for r in first]  # ...other actor


def test_the_contract_imports_no_policy_implementation() -> None:
    """Formats (sb3, bc, DAgger) import the contract; only agents.policies.loading imports them."""
    import ast

    import agents.policies.contract as contract

    tree = ast.parse(Path(contract.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.split(".")[0] in ("agents", "envs", "scripts")}
