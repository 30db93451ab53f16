"""Scripted experts: Cartesian controllers over the env's privileged state.

An expert reads ``env.unwrapped.privileged_state()`` (or ``envs.call("privileged_state")``
on a vector env) and returns an action in the env's normalized action space. They prove
the tasks are solvable and supply demonstrations for behaviour cloning.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np

MAX_EE_DELTA = 0.05  # must match ControlConfig.max_ee_delta for full-speed moves


class Expert(ABC):
    """A stateful scripted policy; call :meth:`reset` at the start of every episode.

    Args:
        noise: std of Gaussian noise added to the action (for diverse demonstrations).
        rng: generator for the noise (required when ``noise > 0``).
        max_ee_delta: the env's end-effector step in metres per unit action.
    """

    action_dim: int = 3

    def __init__(
        self,
        *,
        noise: float = 0.0,
        rng: np.random.Generator | None = None,
        max_ee_delta: float = MAX_EE_DELTA,
    ) -> None:
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        if noise > 0 and rng is None:
            raise ValueError("an rng (np.random.Generator) is required when noise > 0")
        self.noise = noise
        self.rng = rng
        self.max_ee_delta = max_ee_delta
        self.reset()

    def reset(self) -> None:
        """Forget the previous episode."""
        self.phase = 0
        self.counter = 0

    def __call__(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        """The action for ``state`` (float32, clipped to [-1, 1])."""
        action = self.act(state)
        if self.noise > 0:
            assert self.rng is not None
            action = action + self.rng.normal(0.0, self.noise, size=action.shape)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    @abstractmethod
    def act(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        """The noiseless action."""

    def move(self, ee: np.ndarray, target: np.ndarray, speed: float = 1.0) -> np.ndarray:
        """Normalized displacement toward ``target``, at most ``speed`` per axis."""
        return np.clip((target - ee) / self.max_ee_delta, -speed, speed)


class ReachExpert(Expert):
    """Move straight at the target."""

    def act(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.move(state["ee_pos"], state["goal_pos"])


class PushExpert(Expert):
    """Get behind the cube on the cube-goal line, lower the fingertips, push; if the cube
    slips sideways off the line, rise and start over. Heights are above the table top: the
    state's ``table_top``, else the goal disc's height (it lies on the table)."""

    hover_height = 0.08  # above the table top while moving to the pre-push point
    push_height = 0.018  # end effector above the table top while pushing
    goal_height = 0.001  # the goal disc's centre above the table top
    standoff = 0.055  # end effector behind the cube centre when starting a push

    def act(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        ee, cube, goal = state["ee_pos"], state["object_pos"], state["goal_pos"]
        top = state.get("table_top")
        top_z = float(top[0]) if top is not None else float(goal[2]) - self.goal_height
        hover = top_z + self.hover_height
        push_z = top_z + self.push_height
        to_goal = goal[:2] - cube[:2]
        d = to_goal / max(np.linalg.norm(to_goal), 1e-6)
        behind = cube[:2] - d * self.standoff
        rel = ee[:2] - cube[:2]
        along = float(rel @ d)
        lateral = abs(float(rel @ np.array([-d[1], d[0]])))
        if self.phase == 0:  # above the pre-push point
            target = np.array([*behind, hover])
            if np.linalg.norm(ee[:2] - behind) < 0.01:
                self.phase = 1
        elif self.phase == 1:  # down behind the cube
            target = np.array([*behind, push_z])
            if abs(ee[2] - push_z) < 0.01:
                self.phase = 2
        elif self.phase == 2:  # push along the line through the cube
            target = np.array([*(cube[:2] + d * 0.04), push_z])
            if lateral > 0.02 or along > -0.01:
                self.phase = 3
            return self.move(ee, target, speed=0.5)
        else:  # rise clear of the cube, then approach again
            target = np.array([*ee[:2], hover])
            if ee[2] > hover - 0.01:
                self.phase = 0
        return self.move(ee, target)


class LiftExpert(Expert):
    """Open above the object's grasp point (``grasp_pos``: its box centre, no deeper than the
    fingers reach below its top; the centre for the cube), descend, close until the fingers
    stop closing (read from the measured finger width, so a slower gripper gets more
    steps), lift. The gripper keeps its fixed yaw (the actions have no wrist turn)."""

    action_dim = 4
    close_steps = 6  # at least this many steps closing
    max_close_steps = 18  # at most this many, even if the fingers still close
    closing = 0.005  # metres per step: fingers closing faster than this are still moving

    def reset(self) -> None:
        super().reset()
        self.last_width = float("inf")

    def act(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        # the grasp point planned from the object's box (the cube's centre for the cube)
        ee, cube = state["ee_pos"], state.get("grasp_pos", state["object_pos"])
        goal_z = float(state["goal_pos"][2])
        grip = 1.0
        if self.phase == 0:  # above the cube, gripper open
            target = np.array([cube[0], cube[1], cube[2] + 0.08])
            if np.linalg.norm(ee[:2] - cube[:2]) < 0.006:
                self.phase = 1
        elif self.phase == 1:  # down around it
            target = cube.copy()
            if abs(ee[2] - cube[2]) < 0.006:
                self.phase = 2
        elif self.phase == 2:  # close
            target, grip = cube.copy(), -1.0
            self.counter += 1
            width = float(state["finger_width"][0])
            still = width > self.last_width - self.closing
            self.last_width = width
            if (self.counter >= self.close_steps and still) or self.counter >= self.max_close_steps:
                self.phase = 3
        else:  # lift
            target, grip = np.array([ee[0], ee[1], goal_z + 0.04]), -1.0
        return np.append(self.move(ee, target), grip)


EXPERTS: dict[str, type[Expert]] = {
    "domrand/Reach-v0": ReachExpert,
    "domrand/Push-v0": PushExpert,
    "domrand/Lift-v0": LiftExpert,
}


def make_expert(env_id: str, **kwargs: object) -> Expert:
    """The scripted expert for a registered env id."""
    try:
        cls = EXPERTS[env_id]
    except KeyError:
        raise ValueError(f"no expert for {env_id!r}; known: {', '.join(EXPERTS)}") from None
    return cls(**kwargs)  # type: ignore[arg-type]
