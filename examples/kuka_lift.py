"""The Kuka iiwa with its WSG50 gripper doing Lift, driven by the scripted expert.

python examples/kuka_lift.py --out /tmp/kuka --episodes 3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
from PIL import Image

from agents.policies.experts import make_expert


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("examples_out/kuka"))
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    # the same env id, another robot: only the robot config changes
    env = gym.make("domrand/Lift-v0", robot="kuka", render_mode="rgb_array", render_size=128)
    successes, lengths = 0, []
    for episode in range(args.episodes):
        env.reset(seed=args.seed + episode)
        expert = make_expert("domrand/Lift-v0")
        steps, done = 0, False
        while not done:
            action = expert(env.get_wrapper_attr("privileged_state")())
            _, _, terminated, truncated, info = env.step(action)
            steps, done = steps + 1, terminated or truncated
        successes += bool(info["is_success"])
        lengths.append(steps)
    frame: Any = env.render()  # an RGB array in rgb_array mode
    Image.fromarray(frame).save(args.out / "kuka_last_frame.png")
    env.close()
    print(json.dumps({"robot": "kuka", "episodes": args.episodes, "successes": successes,
                      "lengths": lengths, "frame": str(args.out / "kuka_last_frame.png")}))  # fmt: skip


if __name__ == "__main__":
    main()
