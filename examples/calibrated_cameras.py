"""A front camera from a real-looking calibration (K with fx != fy, off-centre principal
point, T_world_camera) and a wrist camera on the hand; both images saved as PNG.

    python examples/calibrated_cameras.py --out /tmp/cams
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image

from envs import CameraConfig


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 4x4 camera pose in the world, OpenCV axes (z forward, y down, x right)."""
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, [0.0, 0.0, 1.0])  # horizontal: right in the image
    x /= np.linalg.norm(x)
    T = np.eye(4)
    T[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    T[:3, 3] = eye
    return T


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("examples_out/cameras"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    K = np.array([[118.0, 0.0, 67.5], [0.0, 114.0, 45.2], [0.0, 0.0, 1.0]])  # 128 x 96 px
    T = look_at(np.array([1.25, 0.15, 1.15]), np.array([0.5, 0.0, 0.65]))
    front = CameraConfig.from_calibration(K, T, 128, 96)
    wrist = CameraConfig(mount="panda_hand", eye=(0.06, 0, 0), target=(0.06, 0, 0.2),
                         up=(1, 0, 0), fov=80, width=64, height=64)  # fmt: skip
    env = gym.make("domrand/Lift-v0", obs_mode="rgb", cameras={"front": front, "wrist": wrist})
    obs, info = env.reset(seed=0)
    for name, image in obs.items():
        Image.fromarray(image).save(args.out / f"{name}.png")
    # where the calibration says the cube's centre is: K [R|t] applied to its world position
    cube = env.get_wrapper_attr("privileged_state")()["object_pos"]
    cam = np.linalg.inv(T) @ np.append(cube, 1.0)
    u, v, w = K @ cam[:3]
    env.close()
    rgb = obs["front"][int(v / w), int(u / w)].tolist()  # the red cube is seen there
    print(json.dumps({"images": {n: list(a.shape) for n, a in obs.items()},
                      "K": info["cameras"]["front"]["K"],
                      "cube_pixel": [round(u / w, 1), round(v / w, 1)], "cube_rgb": rgb}))  # fmt: skip


if __name__ == "__main__":
    main()
