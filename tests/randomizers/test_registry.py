"""User randomizer kinds: registered by a call or an entry point, usable in presets, listed
in errors; and the README's recipe, run exactly as printed."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import randomizers
from randomizers import (
    KINDS,
    ParamSpec,
    PresetError,
    Randomizer,
    load_preset,
    register_randomizer,
    to_preset,
    unregister_randomizer,
)
from randomizers.registry import known_kinds, registered_kinds

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _forget_registrations() -> Iterator[None]:
    """Each test starts and ends with the kinds registered before it."""
    before = set(registered_kinds())
    yield
    for kind in set(registered_kinds()) - before:
        unregister_randomizer(kind)


class Wind(Randomizer):
    """A user kind with two options and the default ``_from_options`` (``cls(**options)``)."""

    options = ("strength", "gust")

    def __init__(self, *, strength: float = 1.0, gust: bool = False, name: str | None = None):
        super().__init__(name=name)
        if strength < 0:
            raise ValueError(f"strength must be >= 0, got {strength}")
        self.strength, self.gust = strength, gust

    def space(self) -> list[ParamSpec]:
        return [ParamSpec("force", "continuous", 0.0, self.strength)]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"force": float(rng.uniform(0.0, self.strength))}

    def apply(self, scene: Any, params: Any) -> None:
        pass


def readme_recipe() -> str:
    """The Python block of README.md's "Tasks and randomizer plugins" subsection that
    registers a randomizer kind."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### Tasks and randomizer plugins")
    blocks = re.findall(r"```python\n(.*?)```", text[start:], flags=re.S)
    recipe = [b for b in blocks if "register_randomizer(" in b]
    assert len(recipe) >= 1, "README.md lost its custom randomizer recipe"
    return recipe[0]


def test_the_readme_recipe_runs_and_replays_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "readme_recipe"}
    exec(compile(readme_recipe(), "README.md", "exec"), namespace)  # its asserts are the replay
    assert "table_tint" in registered_kinds()
    grey = namespace["info"]["randomization"]["table_tint"]["grey"]
    assert 0.1 <= grey <= 0.5
    # the kind acts: another grey gives another image; the same grey the same bytes
    env = gym.make("domrand/Push-v0", obs_mode="rgb", image_size=64, randomization="tint.yaml")
    params = dict(namespace["info"]["randomization"])
    first, _ = env.reset(seed=7, options={"randomization": params})
    assert first.tobytes() == namespace["obs"].tobytes()
    other, _ = env.reset(
        seed=7, options={"randomization": {**params, "table_tint": {"grey": 0.45}}}
    )
    assert other.tobytes() != first.tobytes()
    with pytest.raises(PresetError, match=r"table_tint\.grey: 0\.9 is outside the allowed range"):
        env.reset(options={"randomization": {**params, "table_tint": {"grey": 0.9}}})
    env.close()


def test_a_registered_kind_is_a_preset_key_applied_after_the_built_ins() -> None:
    register_randomizer("wind", Wind)
    assert Wind.kind == "wind"
    compose = load_preset({"wind": {"strength": 2.0}, "physics": {"mass": [0.5, 2.0]}})
    assert [r.kind for r in compose.randomizers] == ["physics", "wind"]
    wind = compose["wind"]
    assert isinstance(wind, Wind) and (wind.strength, wind.gust) == (2.0, False)
    assert list(known_kinds()) == [*KINDS, "wind"]
    assert to_preset(compose) == {"physics": {"mass": [0.5, 2.0]}, "wind": {"strength": 2.0}}


def test_yaml_presets_name_registered_kinds(tmp_path: Path) -> None:
    register_randomizer("wind", Wind)
    path = tmp_path / "windy.yaml"
    path.write_text("wind:\n  strength: 3.0\n  gust: true\n  name: breeze\n")
    (wind,) = load_preset(str(path)).randomizers
    assert (type(wind), wind.name, wind.strength, wind.gust) == (Wind, "breeze", 3.0, True)


def test_an_unknown_kind_lists_built_in_and_registered_kinds() -> None:
    register_randomizer("wind", Wind)
    with pytest.raises(PresetError) as err:
        load_preset({"rain": {}})
    assert str(err.value) == (
        "preset: unknown randomizer kind(s) ['rain']; allowed: target_object, object_scale, "
        "object_pose, distractors, table_height, "
        "physics, texture, lighting, camera, image_noise, wind; register your own with "
        "randomizers.register_randomizer(kind, cls) or an entry point in the "
        "'domrand.randomizers' group"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"speed": 1.0}, r"preset: wind: unknown option\(s\) \['speed'\]; allowed: "
         r"\['every_n_steps', 'gust', 'name', 'strength'\]"),
        ({"strength": -1.0}, r"preset: wind: strength must be >= 0, got -1.0"),
        ({"every_n_steps": 2}, "every_n_steps is not supported by the 'wind' randomizer"),
    ],
)  # fmt: skip
def test_default_options_parsing_reports_bad_options(options: dict, message: str) -> None:
    register_randomizer("wind", Wind)
    with pytest.raises(PresetError, match=message):
        load_preset({"wind": options})


def test_registering_checks_its_arguments() -> None:
    register_randomizer("wind", Wind)
    register_randomizer("wind", Wind)  # the same class again: nothing happens

    class Other(Wind):
        pass

    class Named(Wind):
        kind = "breeze"

    with pytest.raises(ValueError, match=r"'wind' is already registered as .*Wind; "
                       r"unregister_randomizer\('wind'\) first"):  # fmt: skip
        register_randomizer("wind", Other)
    with pytest.raises(ValueError, match="'texture' is a built-in randomizer kind"):
        register_randomizer("texture", Other)
    with pytest.raises(ValueError, match=r"Named.kind is 'breeze' but it is registered as 'gale'"):
        register_randomizer("gale", Named)
    with pytest.raises(ValueError, match=r"lower-case letters, digits and '_'.*got 'Gale Force'"):
        register_randomizer("Gale Force", Other)
    with pytest.raises(TypeError, match=r"expects a subclass of randomizers\.Randomizer, got"):
        register_randomizer("gale", dict)  # type: ignore[arg-type]
    unregister_randomizer("wind")
    with pytest.raises(KeyError, match="'wind' is not a registered kind"):
        unregister_randomizer("wind")


def test_a_randomizer_built_in_code_has_no_preset() -> None:
    register_randomizer("wind", Wind)
    assert to_preset(Wind(strength=2.0)) is None
    built = load_preset({"wind": {"strength": 2.0}})
    assert to_preset(built["wind"]) == {"wind": {"strength": 2.0}}
    swapped = randomizers.Compose([built["wind"], load_preset("physics").randomizers[0]])
    assert to_preset(swapped) is None  # another order would draw params in another order


PLUGIN = """
from randomizers import ParamSpec, Randomizer


class Fog(Randomizer):
    options = ("density",)

    def __init__(self, *, density=0.5, name=None):
        super().__init__(name=name)
        self.density = density

    def space(self):
        return [ParamSpec("density", "continuous", 0.0, self.density)]

    def sample(self, rng):
        return {"density": float(rng.uniform(0.0, self.density))}

    def apply(self, scene, params):
        pass
"""

CHECK = """
import sys
from randomizers import load_preset, PresetError
from randomizers.registry import registered_kinds
load_preset("tobin")
assert "fog_plugin" not in sys.modules, "entry points load only for an unknown kind"
(fog,) = load_preset({"fog": {"density": 0.25}}).randomizers
print(type(fog).__module__, fog.kind, fog.density, sorted(registered_kinds()))
try:
    load_preset({"smoke": {}})
except PresetError as exc:
    print(exc)
"""


def test_entry_points_register_kinds_lazily(tmp_path: Path) -> None:
    (tmp_path / "fog_plugin.py").write_text(PLUGIN)
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('no smoke today')\n")
    info = tmp_path / "fog_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fog-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
        [domrand.randomizers]
        fog = fog_plugin:Fog
        smoke = broken_plugin:Smoke
    """)
    )
    proc = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**_env(), "PYTHONPATH": f"{tmp_path}:{ROOT}"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "fog_plugin fog 0.25 ['fog']"
    assert lines[1] == (
        "preset: cannot load entry point smoke = 'broken_plugin:Smoke' of group "
        "'domrand.randomizers' (package fog-plugin): RuntimeError: no smoke today"
    )


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
