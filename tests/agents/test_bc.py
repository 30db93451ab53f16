"""Image behaviour cloning: Minari recording, training, checkpoints, running the policy."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("minari")

from agents.demos import load_demonstrations, record_demonstrations
from agents.policies.bc import OBS_MODE, BCConfig, load_bc_policy, save_bc, train_bc
from agents.policies.contract import PolicyError, PolicyMeta
from agents.policies.loading import load_policy


@pytest.fixture(scope="module")
def minari_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("minari"))
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", path)
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def demos(minari_home: str):
    record_demonstrations("domrand/Reach-v0", "domrand/reach-test-v0", episodes=4,
                          preset="tobin", image_size=32, seed=5, progress=False)  # fmt: skip
    return load_demonstrations("domrand/reach-test-v0")


def _meta(demos) -> PolicyMeta:
    return PolicyMeta(kind="bc", algo="bc", env_id=demos.env_id, preset=demos.preset,
                      obs_mode=OBS_MODE, image_size=32)  # fmt: skip


def test_recorded_dataset_holds_the_expert_steps(demos, minari_home: str) -> None:
    import minari

    dataset = minari.load_dataset("domrand/reach-test-v0")
    assert dataset.total_episodes == 4
    assert demos.env_id == "domrand/Reach-v0" and demos.preset == "tobin"
    n = dataset.total_steps
    assert demos.images.shape == (n, 3, 32, 32) and demos.images.dtype == torch.uint8
    assert demos.proprio.shape == (n, 7) and demos.actions.shape == (n, 3)
    assert torch.all(demos.actions.abs() <= 1.0)
    # lossless: the first recorded frame is the env's observation after the same reset
    env = gym.make("domrand/Reach-v0", obs_mode=OBS_MODE, image_size=32, randomization="tobin")
    from envs.seeding import episode_seed

    obs, _ = env.reset(seed=episode_seed(5, 0))
    env.close()
    np.testing.assert_array_equal(demos.images[0].numpy().transpose(1, 2, 0), obs["rgb"])
    with pytest.raises(FileExistsError, match="already exists"):
        record_demonstrations("domrand/Reach-v0", "domrand/reach-test-v0", episodes=1)
    with pytest.raises(FileNotFoundError, match="--record domrand/nothing-v0"):
        load_demonstrations("domrand/nothing-v0")


def test_train_save_load_and_act(demos, tmp_path: Path) -> None:
    config = BCConfig(epochs=2, width=8, seed=3)
    global_state = torch.random.get_rng_state()
    a = train_bc(demos, config, _meta(demos), progress=False)
    assert torch.equal(torch.random.get_rng_state(), global_state)  # no global side effect
    b = train_bc(demos, config, _meta(demos), progress=False)
    assert a.history["loss"] == b.history["loss"]
    same = [torch.equal(wa, wb) for wa, wb in zip(a.model.state_dict().values(),
                                                  b.model.state_dict().values(), strict=True)]
    assert all(same)  # same seed, same weights
    other = train_bc(demos, BCConfig(epochs=1, width=8, seed=4), _meta(demos), progress=False)
    assert not torch.equal(other.model.head[0].weight, a.model.head[0].weight)
    path = save_bc(a, tmp_path / "bc.pt")
    loaded = load_policy(path, env_id="domrand/Reach-v0", obs_mode=OBS_MODE)
    assert loaded.meta.preset == "tobin" and loaded.meta.extra["episodes"] == 4
    envs = gym.make_vec("domrand/Reach-v0", num_envs=2, obs_mode=OBS_MODE, image_size=32)
    obs, _ = envs.reset(seed=1)
    envs.close()
    actions = loaded.act(obs)
    assert actions.shape == (2, 3) and np.all(np.abs(actions) <= 1.0)
    np.testing.assert_array_equal(actions, a.act(obs))
    single = {k: v[0] for k, v in obs.items()}
    np.testing.assert_allclose(loaded.act(single), actions[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(PolicyError, match="trained on domrand/Reach-v0"):
        load_policy(path, env_id="domrand/Push-v0")
    with pytest.raises(PolicyError, match="needs 'state\\+rgb' observations"):
        loaded.act(np.zeros((2, 13), np.float32))


def test_bad_bc_checkpoints(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(PolicyError, match="truncated or corrupt"):
        load_bc_policy(bad)
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(PolicyError, match="not a behaviour-cloning checkpoint"):
        load_bc_policy(tmp_path / "other.pt")
    with pytest.raises(PolicyError, match="not found"):
        load_bc_policy(tmp_path / "missing.pt")


def test_bc_policy_runs_in_rollouts(demos, tmp_path: Path) -> None:
    from agents.rollout import RolloutConfig, run_rollouts

    policy = train_bc(demos, BCConfig(epochs=1, width=8), _meta(demos), progress=False)
    path = save_bc(policy, tmp_path / "bc.pt")
    config = RolloutConfig(env_id="domrand/Reach-v0", episodes=2, policy=str(path),
                           env_kwargs={"randomization": "target"})  # fmt: skip
    summary, results = run_rollouts(config, progress=False)
    _, again = run_rollouts(config, progress=False)
    assert summary.episodes == 2 and len(results) == 2
    assert [r.episode_return for r in results] == [r.episode_return for r in again]


def test_tiny_transfer_run_writes_a_table(minari_home: str, tmp_path: Path) -> None:
    from agents.experiments.bc_transfer import TransferConfig, run_transfer

    config = TransferConfig(out=str(tmp_path / "t"), tasks=("domrand/Reach-v0",), demos=(2,),
                            eval_episodes=2, image_size=32, epochs=1)  # fmt: skip
    results = run_transfer(config, progress=False, log=lambda _: None)
    assert len(results["rows"]) == 6
    assert {(r["trained_on"], r["evaluated_on"]) for r in results["rows"]} == {
        (trained, evaluated)
        for trained in ("tobin", "none")
        for evaluated in ("target", "target_camera_shift", "none")
    }
    table = (tmp_path / "t" / "table.md").read_text()
    assert "| domrand/Reach-v0 | randomized (`tobin`) |" in table
    assert "| domrand/Reach-v0 | nominal visuals |" in table


def test_rollout_script_records_a_minari_dataset(
    minari_home: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import rollout

    argv = ["--env", "domrand/Push-v0", "--episodes", "2", "--policy", "expert", "--preset",
            "tobin", "--image-size", "32", "--record", "domrand/push-script-v0", "--no-progress"]  # fmt: skip
    assert rollout.main(argv) == 0
    assert "recorded 2 episodes" in capsys.readouterr().out
    demos = load_demonstrations("domrand/push-script-v0")
    assert demos.preset == "tobin" and demos.images.shape[-1] == 32
    assert rollout.main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert rollout.main([*argv[:5], "random", *argv[6:]]) == 2
