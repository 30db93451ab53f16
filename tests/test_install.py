"""The lean install: environments and randomizers run without torch, matplotlib or SB3; a
command that needs an extra says which one; the metadata bounds every dependency; the
``domrand`` command lists every script."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# every extra's modules: none of them is in the base install
EXTRA_ONLY = ("torch", "matplotlib", "stable_baselines3", "tensorboard", "pycocotools", "minari",
              "imblearn", "sklearn", "ray", "imageio")  # fmt: skip
# runs before anything else in the child: importing any of these fails as if not installed
NO_EXTRAS = f"import sys\nfor _m in {EXTRA_ONLY!r}:\n    sys.modules[_m] = None\n"


def _without_extras(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    code = f"BLOCKED = {EXTRA_ONLY!r}\n" + code
    return subprocess.run([sys.executable, "-c", NO_EXTRAS + code], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)  # fmt: skip


def test_envs_and_randomizers_run_without_torch(tmp_path: Path) -> None:
    code = """
import json
import gymnasium as gym
import numpy as np
import envs, randomizers
env = gym.make("domrand/Lift-v0", randomization="tobin", obs_mode="state+rgb", image_size=16,
               render_mode="rgb_array", render_size=24)
obs, _ = env.reset(seed=0)
obs, reward, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
frame = env.render()
env.close()
print(json.dumps({"rgb": obs["rgb"].shape, "frame": frame.shape, "reward": float(reward),
                  "blocked": [m for m in BLOCKED if sys.modules.get(m, 0) is None]}))
"""
    proc = _without_extras(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rgb"] == [16, 16, 3] and out["frame"] == [24, 24, 3]
    assert out["reward"] < 0  # dense reward: minus a distance
    assert out["blocked"] == list(EXTRA_ONLY)  # the prelude held: nothing imported them


def test_commands_name_the_extra_they_need(tmp_path: Path) -> None:
    code = """
import json
from agents.cli import main
codes = {}
for argv in (["train-localizer", "--help"], ["train-regressor", "--help"]):
    codes[argv[0]] = main(argv)
codes["rollout"] = main(["rollout", "--env", "domrand/Lift-v0", "--episodes", "1",
                         "--video", "lift.gif", "--render-size", "32", "--no-progress"])
codes["pixel-expert"] = main(["rollout", "--env", "domrand/Lift-v0", "--episodes", "1",
                              "--policy", "pixel-expert", "--no-progress"])
print(json.dumps(codes))
"""
    proc = _without_extras(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {
        "train-localizer": 2, "train-regressor": 2, "rollout": 0, "pixel-expert": 2}  # fmt: skip
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors[0] == "error: this command needs PyTorch: pip install 'domrand[learn]'"
    # train-regressor needs both: whichever its imports reach first is named
    assert re.fullmatch(r"error: this command needs (PyTorch|matplotlib): "
                        r"pip install 'domrand\[learn\]'", errors[1])  # fmt: skip
    # a rollout whose policy needs torch names the extra too, without a traceback
    assert errors[2] == "error: this command needs PyTorch: pip install 'domrand[learn]'"
    assert len(errors) == 3
    assert "Traceback" not in proc.stderr
    # the README's quick start (scripted expert, .gif video) needs no extra
    assert "success rate" in proc.stdout and (tmp_path / "lift.gif").stat().st_size > 0


def _requirement(text: str) -> tuple[str, str]:
    """``name[extras]>=lo,<hi ; marker`` -> (name, version specifier)."""
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*([^;]*)", text.split(";")[0].strip())
    assert m, text
    return m.group(1).lower(), m.group(3).replace(" ", "")


def test_dependencies_have_bounds() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = dict(map(_requirement, project["dependencies"]))
    assert set(base) == {"pybullet", "gymnasium", "numpy", "pillow", "pyyaml", "tqdm"}
    assert ">=1.1" in base["gymnasium"].split(",")  # gymnasium.vector.AutoresetMode
    extras = project["optional-dependencies"]
    for name, spec in [*base.items(), *(_requirement(r) for reqs in extras.values()
                                         for r in reqs if not r.startswith("domrand["))]:
        assert re.search(r"(^|,)>=[0-9.]+(,|$)", spec) and re.search(r"(^|,)<[0-9.]+(,|$)", spec), (
            f"{name}{spec}: give a lower bound and an upper bound below the next major version")
    assert "domrand[learn,dataset,rl,balance,offline]" in extras["test"]
    assert {"torch", "matplotlib"} == {_requirement(r)[0] for r in extras["learn"]}
    assert "domrand[learn]" in extras["rl"]
    assert project["scripts"] == {"domrand": "agents.cli:main"}
    assert "gymnasium.envs" not in project.get("entry-points", {})
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert {"domrand_gymnasium.pth", "domrand_gymnasium_hook.py"} <= set(
        wheel["targets"]["wheel"]["force-include"].values())  # gym.make without an import


def _wrapped_module(script: Path) -> str:
    """The ``agents.cli`` module a thin ``scripts/*.py`` wrapper runs (it must do nothing else)."""
    tree = ast.parse(script.read_text())
    body = [node for node in tree.body
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]  # fmt: skip
    assert len(body) == 2, f"{script.name}: a wrapper is one import and the __main__ guard"
    imp, guard = body
    assert isinstance(imp, ast.ImportFrom) and [a.name for a in imp.names] == ["main"], script.name
    assert isinstance(guard, ast.If) and "__main__" in ast.unparse(guard.test), script.name
    assert ast.unparse(guard.body[0]) == "raise SystemExit(main())", script.name
    assert imp.module and imp.module.startswith("agents.cli."), script.name
    return imp.module


def test_every_script_is_a_domrand_command(capsys: pytest.CaptureFixture[str]) -> None:
    from agents.cli import COMMANDS, main, module_name

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    listed = re.findall(r"^  ([a-z-]+) +\S", capsys.readouterr().out, flags=re.M)
    scripts = sorted(p for p in (ROOT / "scripts").glob("*.py") if p.name != "__init__.py")
    commands = []
    for script in scripts:
        module = _wrapped_module(script)
        wrapper = importlib.import_module(f"scripts.{script.stem}")
        assert wrapper.main is importlib.import_module(module).main, script.name
        command = module.removeprefix("agents.cli.").replace("_", "-")
        assert module_name(command) == module
        commands.append(command)
    assert sorted(commands) == sorted(COMMANDS) == sorted(listed)
    assert len(commands) == 28


def test_the_installed_console_command_is_the_dispatcher() -> None:
    from importlib.metadata import entry_points

    import agents.cli

    (script,) = entry_points(group="console_scripts", name="domrand")
    assert script.load() is agents.cli.main
