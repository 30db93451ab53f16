"""Every command's ``--env`` accepts any registered domrand id and ``module:Id``, and an
unknown id ends the command with one line naming the registered ids (exit status 2)."""

from __future__ import annotations

import pytest

from agents.cli import COMMANDS, load
from envs.registration import domrand_env_ids

MODULE_ID = "tests.envs.tiny_task:user/Tiny-v0"
# the commands with an --env flag, and the other flags each one requires
ENV_COMMANDS: dict[str, list[str]] = {
    "rollout": [],
    "export": ["--out", "unused"],
    "preview": [],
    "benchmark": [],
    "train-policy": [],
    "evaluate-policy": ["--model", "unused.zip"],
    "robustness": [],
    "train-dagger": ["--out", "unused.pt"],
    "train-localizer": ["--train", "unused", "--out", "unused.pt"],
    "calibration-floor": [],
    "ablation": [],
    "balance": [],
    "train-failure-predictor": [],
    "collect-frames": ["--out", "unused"],
}


def test_these_are_the_commands_with_an_env_flag() -> None:
    with_env = [c for c in COMMANDS if "--env " in load(c).build_parser(c).format_usage()]
    assert sorted(with_env) == sorted(ENV_COMMANDS)


@pytest.mark.parametrize("command", list(ENV_COMMANDS))
def test_module_id_imports_the_module_and_gives_the_id(command: str) -> None:
    args = (
        load(command).build_parser(command).parse_args(["--env", MODULE_ID, *ENV_COMMANDS[command]])
    )
    dest = "env_id" if hasattr(args, "env_id") else "env"
    assert getattr(args, dest) in ("user/Tiny-v0", ["user/Tiny-v0"])
    assert "user/Tiny-v0" in domrand_env_ids()


@pytest.mark.parametrize("command", list(ENV_COMMANDS))
def test_an_unknown_env_is_one_line_and_exit_2(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = load(command).build_parser(command)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--env", "user/Nope-v0", *ENV_COMMANDS[command]])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "error: unknown env 'user/Nope-v0'; registered domrand-compatible ids: "
        f"{', '.join(domrand_env_ids())}; pass module:Id to import the module that "
        "registers it\n"
    )


def test_a_registered_id_that_is_not_a_domrand_env_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        load("rollout").build_parser("rollout").parse_args(["--env", "CartPole-v1"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(
        "error: env 'CartPole-v1' is registered but is not a domrand env (its entry point "
        "'gymnasium.envs.classic_control.cartpole:CartPoleEnv' is not a subclass of "
        "envs.panda_env.PandaTaskEnv)"
    )


def test_benchmark_takes_several_ids() -> None:
    args = (
        load("benchmark")
        .build_parser("benchmark")
        .parse_args(["--env", "domrand/Reach-v0", MODULE_ID])
    )
    assert args.env == ["domrand/Reach-v0", "user/Tiny-v0"]
