"""``rollout --record``: the summary printed, recorded episodes that replay their domain,
a bad dataset id refused before any step."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from envs.panda_env import PandaTaskEnv
from tests.scripts.script_support import PUSH, REACH, one_line_error

# ------------------------------------------------------------ 3. recordings that replay


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

    from agents.demos import record_demonstrations, recorded_episodes
    from agents.policies.bc import OBS_MODE

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
