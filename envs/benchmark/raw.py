"""The raw PyBullet reference: the env's scene rebuilt with a bare ``BulletClient``, which
replays the exact joint targets the env commanded (so both simulate the same motion) and
calls ``getCameraImage`` with the env camera's matrices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils import bullet_client

from envs.panda_env import PandaTaskEnv
from envs.robots.panda import ARM_JOINTS, FINGER_JOINTS
from envs.sim import quiet_stdout


class RawScene:
    """The env's scene rebuilt with bare PyBullet calls (no env code on the hot path)."""

    def __init__(self, env: PandaTaskEnv) -> None:
        sim = env.scene.sim
        with quiet_stdout():  # the shared-memory probe prints "argv[0]=" to stdout
            self.client = c = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
        c.setAdditionalSearchPath(pybullet_data.getDataPath())
        c.setTimeStep(sim.physics.timestep)
        c.setGravity(*sim.physics.gravity)
        self.n_substeps = sim.physics.n_substeps
        src = sim.client
        self.bodies: dict[str, int] = {}
        for name, body in sim.bodies.items():
            pos, orn = _urdf_frame(src, body)
            if name == "table":
                self.bodies[name] = c.loadURDF("table/table.urdf", pos, orn, useFixedBase=True)
            elif name == "robot":
                self.bodies[name] = c.loadURDF(
                    env.robot.urdf_path, pos, orn, useFixedBase=True,
                    flags=c.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
                )  # fmt: skip
            else:
                self.bodies[name] = _clone_primitive(src, body, c, pos, orn)
        for name, body in sim.bodies.items():  # same friction, so the same contact work
            for link in range(-1, src.getNumJoints(body)):
                d = src.getDynamicsInfo(body, link)
                c.changeDynamics(
                    self.bodies[name], link, lateralFriction=d[1], restitution=d[5],
                    rollingFriction=d[6], spinningFriction=d[7],
                )  # fmt: skip
        self.joints = [*ARM_JOINTS, *FINGER_JOINTS]
        for j, q in zip(self.joints, env.robot.joint_positions(), strict=True):
            c.resetJointState(self.bodies["robot"], j, q)
        self.forces = list(env.robot.control.arm_force) + [env.robot.control.finger_force] * 2
        cam = env.camera
        self.size = (cam.config.width, cam.config.height)
        self.view, self.proj = cam.view_matrix, cam.projection_matrix

    def teleport(self, state: dict[str, Any]) -> None:
        """Copy the env's state after one of its resets (joint angles and body poses)."""
        c = self.client
        robot = self.bodies["robot"]
        for j, q in zip(self.joints, state["joints"], strict=True):
            c.resetJointState(robot, j, q, 0.0)
        for name, (pos, orn) in state["poses"].items():
            c.resetBasePositionAndOrientation(self.bodies[name], pos, orn)
            c.resetBaseVelocity(self.bodies[name], [0, 0, 0], [0, 0, 0])

    def step(self, targets: list[float]) -> None:
        """The same motor command and physics stepping as one env step."""
        c = self.client
        c.setJointMotorControlArray(
            self.bodies["robot"], self.joints, c.POSITION_CONTROL,
            targetPositions=targets, forces=self.forces,
        )  # fmt: skip
        for _ in range(self.n_substeps):
            c.stepSimulation()

    def render(self) -> np.ndarray:
        """The same ``getCameraImage`` call the env makes for an RGB observation."""
        c = self.client
        out = c.getCameraImage(
            self.size[0], self.size[1], self.view, self.proj,
            renderer=c.ER_TINY_RENDERER, flags=c.ER_NO_SEGMENTATION_MASK,
        )  # fmt: skip
        return out[2]

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()


def env_state(env: PandaTaskEnv) -> dict[str, Any]:
    """Joint angles and free-body poses of the env: what :meth:`RawScene.teleport` copies."""
    c = env.scene.client
    poses = {
        name: c.getBasePositionAndOrientation(body)
        for name, body in env.scene.sim.bodies.items()
        if name not in ("floor", "table", "robot")
    }
    return {"joints": env.robot.joint_positions().tolist(), "poses": poses}


def _urdf_frame(client: Any, body: int) -> tuple[Any, Any]:
    """Base pose in the URDF link frame (PyBullet reports the inertial frame)."""
    com_pos, com_orn = client.getBasePositionAndOrientation(body)
    info = client.getDynamicsInfo(body, -1)
    inv_pos, inv_orn = client.invertTransform(info[3], info[4])
    return client.multiplyTransforms(com_pos, com_orn, inv_pos, inv_orn)


def _clone_primitive(src: Any, body: int, dst: Any, pos: Any, orn: Any) -> int:
    vis = src.getVisualShapeData(body)[0]
    geom, dims, rgba = vis[2], vis[3], vis[7]
    mass = src.getDynamicsInfo(body, -1)[0]
    if geom == dst.GEOM_BOX:
        half = [d / 2 for d in dims]
        v = dst.createVisualShape(geom, halfExtents=half, rgbaColor=rgba)
        col = dst.createCollisionShape(geom, halfExtents=half) if mass > 0 else -1
    elif geom == dst.GEOM_SPHERE:
        v = dst.createVisualShape(geom, radius=dims[0], rgbaColor=rgba)
        col = dst.createCollisionShape(geom, radius=dims[0]) if mass > 0 else -1
    else:  # cylinder: dims = (length, radius)
        v = dst.createVisualShape(geom, radius=dims[1], length=dims[0], rgbaColor=rgba)
        col = dst.createCollisionShape(geom, radius=dims[1], height=dims[0]) if mass > 0 else -1
    return dst.createMultiBody(mass, col, v, pos, orn)


__all__ = ["RawScene", "env_state"]
