"""agents.cli.args: flags made from a config dataclass's fields carry its types and defaults."""

from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass, field

import pytest

from agents.cli.args import add_fields, config_kwargs, field_default


@dataclass(frozen=True)
class Settings:
    """A config with one field of each kind the helper handles."""

    env_id: str = "domrand/Reach-v0"
    episodes: int = 10
    rate: float = 0.5
    image_size: int | None = None
    label: str | None = "tobin"
    depth: bool = False
    visibility: bool = True
    env_kwargs: dict[str, int] = field(default_factory=dict)
    out: str = "runs/out"


FIELDS = ["env_id", "episodes", "rate", "image_size", "label", "depth", "visibility", "out"]


def _parser(**kwargs: object) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="test")
    add_fields(p, Settings, FIELDS, **kwargs)  # type: ignore[arg-type]
    return p


def test_defaults_are_the_dataclass_defaults() -> None:
    args = _parser().parse_args([])
    assert config_kwargs(args, Settings, FIELDS) == {
        "env_id": "domrand/Reach-v0", "episodes": 10, "rate": 0.5, "image_size": None,
        "label": "tobin", "depth": False, "visibility": True, "out": "runs/out",
    }  # fmt: skip
    assert Settings(**config_kwargs(args, Settings, FIELDS)) == Settings()


def test_flags_parse_to_the_annotated_types() -> None:
    args = _parser(flags={"env_id": "--env"}).parse_args(
        ["--env", "domrand/Lift-v0", "--episodes", "3", "--rate", "0.25", "--image-size", "64",
         "--label", "none", "--depth", "--no-visibility", "--out", "x"]
    )  # fmt: skip
    got = config_kwargs(args, Settings, FIELDS)
    assert got == {"env_id": "domrand/Lift-v0", "episodes": 3, "rate": 0.25, "image_size": 64,
                   "label": "none", "depth": True, "visibility": False, "out": "x"}  # fmt: skip
    assert type(got["episodes"]) is int and type(got["rate"]) is float


def test_a_wrong_type_is_argparse_s_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["--episodes", "ten"])
    assert exc.value.code == 2
    assert "argument --episodes: invalid int value: 'ten'" in capsys.readouterr().err


def test_help_metavars_and_extra_keywords() -> None:
    p = _parser(help={"episodes": "how many"}, flags={"env_id": "--env"},
                extra={"env_id": {"choices": ["a", "b"]}, "out": {"required": True}})  # fmt: skip
    text = p.format_help()
    assert "--env {a,b}" in text  # choices, not ENV_ID
    assert re.search(r"--episodes EPISODES +how many", text)
    assert "--image-size IMAGE_SIZE" in text
    assert "--no-visibility" in text and "--depth" in text
    with pytest.raises(SystemExit):
        p.parse_args([])  # --out is required now
    assert p.parse_args(["--out", "o", "--env", "b"]).env_id == "b"


def test_unknown_field_names_raise() -> None:
    p = argparse.ArgumentParser()
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['episode'\] of Settings; fields: env_id"):
        add_fields(p, Settings, ["episode"])
    with pytest.raises(ValueError, match="unknown field"):
        add_fields(p, Settings, ["episodes"], help={"nope": "x"})
    with pytest.raises(ValueError, match="unknown field"):
        config_kwargs(argparse.Namespace(), Settings, ["nope"])


def test_fields_without_a_scalar_type_are_refused() -> None:
    with pytest.raises(TypeError, match=r"Settings.env_kwargs is annotated .*declare this flag by hand"):
        add_fields(argparse.ArgumentParser(), Settings, ["env_kwargs"])
    with pytest.raises(TypeError, match="expected a dataclass"):
        add_fields(argparse.ArgumentParser(), dict, ["x"])


def test_field_default_uses_the_factory() -> None:
    assert field_default(Settings, "env_kwargs") == {}
    assert field_default(Settings, "rate") == 0.5


@pytest.mark.parametrize(
    ("module", "config"),
    [("agents.cli.rollout", "RolloutConfig"), ("agents.cli.export", "ExportConfig")],
)
def test_rollout_and_export_defaults_come_from_their_configs(module: str, config: str) -> None:
    import importlib

    cli = importlib.import_module(module)
    cls = getattr(cli, config)  # the dataclass the command builds
    argv = ["--out", "somewhere"] if module.endswith("export") else []
    args = cli.build_parser().parse_args(argv)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name in cli.FIELDS:
        if name == "out":
            continue  # required on the command line
        assert getattr(args, name) == defaults[name], name
