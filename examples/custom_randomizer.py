"""A randomizer kind of your own (the target's colour from a hue range), registered, used
in a YAML preset next to built-in kinds, and replayed exactly from its params."""

from __future__ import annotations

import argparse
import colorsys
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image

import randomizers
from randomizers import ParamSpec, Randomizer


class TargetHue(Randomizer):
    """Paints the task's target object a saturated colour of hue in [low, high]."""

    options = ("low", "high")  # its YAML keys, each a keyword argument of __init__

    def __init__(self, *, low: float = 0.0, high: float = 1.0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.low, self.high = low, high  # hues in [0, 1]

    def space(self) -> list[ParamSpec]:
        return [ParamSpec("hue", "continuous", self.low, self.high)]

    def sample(self, rng: np.random.Generator) -> dict:
        return {"hue": float(rng.uniform(self.low, self.high))}  # pure: no simulator here

    def apply(self, scene, params) -> None:  # type: ignore[no-untyped-def]
        rgb = colorsys.hsv_to_rgb(params["hue"], 0.9, 0.9)
        for name in scene.body_names("target"):
            scene.client.changeVisualShape(scene.sim.body(name), -1, rgbaColor=[*rgb, 1.0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("examples_out/custom_randomizer"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    randomizers.register_randomizer("target_hue", TargetHue)  # now a preset key
    preset = args.out / "hue.yaml"
    preset.write_text("target_hue: {low: 0.3, high: 0.7}\nlighting: {}\ncamera: {}\n")
    env = gym.make("domrand/PickPlace-v0", obs_mode="rgb", randomization=str(preset))
    first, info = env.reset(seed=0)
    env.reset(seed=1)  # another episode in between
    again, _ = env.reset(seed=123, options={"randomization": info["randomization"]})
    env.close()
    for name, image in (("first", first), ("replayed", again)):
        Image.fromarray(image).save(args.out / f"{name}.png")
    print(json.dumps({"hue": info["randomization"]["target_hue"]["hue"],
                      "same_bytes": first.tobytes() == again.tobytes()}))  # fmt: skip


if __name__ == "__main__":
    main()
