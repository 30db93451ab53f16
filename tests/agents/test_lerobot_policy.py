"""A LeRobot policy in this project's rollouts (``rollout.py --lerobot-policy DIR``): a tiny,
untrained ACT made from a recorded dataset's features and statistics, saved as
``lerobot-train`` saves one, runs the seeded episodes deterministically. Skips without LeRobot
(it pins its own torch; see README "LeRobot and Rerun")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.cli.rollout import main as rollout_main
from agents.recording.lerobot import LeRobotSettings, record_lerobot
from agents.rollout import RolloutConfig
from envs.seeding import episode_seed

pytest.importorskip("lerobot", reason="LeRobot not installed: pip install 'domrand[lerobot]'")

ENV = "domrand/Reach-v0"


@pytest.fixture(scope="module")
def tiny_act(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    root = tmp_path_factory.mktemp("lerobot") / "reach"
    config = RolloutConfig(env_id=ENV, episodes=2, obs_mode="state+rgb", image_size=32)
    settings = LeRobotSettings(env_id=ENV, env_kwargs={}, policy="expert", seed=0, image_size=32,
                               task="reach", fps=24, repo_id="domrand/reach", video=False)  # fmt: skip
    record_lerobot(config, root, settings, progress=False)
    meta = LeRobotDatasetMetadata("domrand/reach", root=root)
    cfg = ACTConfig(device="cpu", pretrained_backbone_weights=None, chunk_size=4,
                    n_action_steps=4, dim_model=16, dim_feedforward=32, n_heads=2,
                    n_encoder_layers=1, n_decoder_layers=1, latent_dim=4,
                    n_vae_encoder_layers=1)  # fmt: skip
    policy = make_policy(cfg, ds_meta=meta)
    pre, post = make_pre_post_processors(cfg, dataset_stats=meta.stats)
    out = root.parent / "pretrained_model"
    for part in (policy, pre, post):
        part.save_pretrained(out)
    return out


def test_lerobot_policy_runs_the_seeded_episodes(tiny_act: Path) -> None:
    from agents.recording.lerobot_policy import evaluate_lerobot_policy

    runs = [evaluate_lerobot_policy(tiny_act, ENV, episodes=2, seed=3, progress=False)
            for _ in range(2)]  # fmt: skip
    (summary, results), (_, again) = runs
    assert summary.episodes == 2 and summary.policy == f"lerobot:{tiny_act}"
    assert [r.seed for r in results] == [episode_seed(3, i) for i in range(2)]
    assert [(r.length, r.episode_return) for r in results] == [
        (r.length, r.episode_return) for r in again
    ]  # deterministic at inference


def test_cli_prints_success_with_its_interval(
    tiny_act: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--env", ENV, "--episodes", "1", "--lerobot-policy", str(tiny_act), "--json",
            "--no-progress"]  # fmt: skip
    assert rollout_main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["episodes"] == 1 and out["policy"] == f"lerobot:{tiny_act}"
    low, high = out["success_interval"]
    assert 0.0 <= low <= out["success_rate"] <= high <= 1.0 and high - low > 0.5  # one episode
    assert rollout_main([*argv, "--num-envs", "2"]) == 2
    assert "--lerobot-policy runs alone" in capsys.readouterr().err
    assert rollout_main(["--env", ENV, "--episodes", "1", "--lerobot-policy",
                         str(tiny_act.parent), "--no-progress"]) == 2  # fmt: skip
    assert "is not a LeRobot pretrained_model folder" in capsys.readouterr().err
