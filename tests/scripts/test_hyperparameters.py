"""``train-policy --hp``: bad hyperparameters fail before any env, in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.scripts.script_support import REACH, call, one_line_error

# ------------------------------------------------------------ hyperparameters (--hp)


def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the training env (and so collecting demos) fails the test: a bad
    hyperparameter must be refused before."""
    import agents.rl.train

    def refuse(config: Any) -> Any:
        raise AssertionError("the training env was built before the hyperparameters were checked")

    monkeypatch.setattr(agents.rl.train, "make_train_env", refuse)


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
    import agents.rl.train
    from scripts import train_policy

    def no_demos(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("demos were collected before SB3 accepted the hyperparameters")

    monkeypatch.setattr(agents.rl.train, "add_expert_demos", no_demos)
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
    from agents.cli.train_policy import parse_hyperparams
    from agents.rl.config import TrainConfig

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
    from agents.cli.train_policy import build_parser
    from agents.rl.hyperparams import HYPERPARAMS, _allowed_names

    for algo, table in HYPERPARAMS.items():
        assert set(table) == _allowed_names(algo), algo
    assert build_parser().parse_args([]).hp == []
