"""Dynamics: masses, friction, restitution, damping, actuators, gravity, latency and noise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from randomizers.base import Randomizer, draw
from randomizers.distributions import Distribution, Limits
from randomizers.options import choice_list
from randomizers.options import name as option_name
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec

PYBULLET_DAMPING = 0.04  # PyBullet's default linear and angular damping
ROLES = ("target", "objects", "table", "robot", "distractors")
MAX_LATENCY = 20  # env steps

_MULT = "x nominal"
# option -> {mode: limits of the sampled value}; the first mode is the default. In ``scale``
# mode a number multiplies each body's nominal value, in ``absolute`` mode it replaces it,
# in ``add`` mode it is added. Per-body quantities take no ``add``: their nominal values
# differ per body (0.1 kg cube, static table), so one offset means nothing sane.
LIMITS: dict[str, dict[str, Limits]] = {
    "mass": {
        "scale": Limits(0, 100, low_open=True, unit=_MULT,
                        why_low="a mass of 0 makes a dynamic body static (frozen)"),
        "absolute": Limits(0, 100, low_open=True, unit="kg",
                           why_low="a mass of 0 makes a dynamic body static (frozen)"),
    },
    "lateral_friction": {"scale": Limits(0, 10, unit=_MULT),
                         "absolute": Limits(0, 10, unit="coefficient")},
    "spinning_friction": {"scale": Limits(0, 100, unit=_MULT),
                          "absolute": Limits(0, 1, unit="coefficient")},
    "rolling_friction": {"scale": Limits(0, 100, unit=_MULT),
                         "absolute": Limits(0, 1, unit="coefficient")},
    "restitution": {"absolute": Limits(0, 1, unit="coefficient"),
                    "scale": Limits(0, 1, unit=_MULT)},
    "linear_damping": {"absolute": Limits(0, 1, unit="coefficient"),
                       "scale": Limits(0, 25, unit=_MULT)},
    "angular_damping": {"absolute": Limits(0, 1, unit="coefficient"),
                        "scale": Limits(0, 25, unit=_MULT)},
    "joint_damping": {"absolute": Limits(0, 20, unit="N m s/rad"),
                      "scale": Limits(0, 10, unit=_MULT)},
    "actuator_force": {
        "scale": Limits(0, 10, low_open=True, unit=_MULT, why_low="a force of 0 stalls the arm"),
        "absolute": Limits(0, 10, low_open=True, unit=_MULT,
                           why_low="a force of 0 stalls the arm"),
    },
    "gravity": {"absolute": Limits(-50, 50, unit="m/s^2, z"),
                "add": Limits(-40, 40, unit="m/s^2 added to z"),
                "scale": Limits(-5, 5, unit=_MULT)},
    "latency": {"absolute": Limits(0, MAX_LATENCY, integer=True, unit="env steps")},
    "action_noise": {"absolute": Limits(0, 1, unit="std, normalized action units")},
    "observation_noise": {"absolute": Limits(0, 1, unit="std, state units (m, m/s)")},
}  # fmt: skip
_DYNAMICS_KEYS = {
    "mass": "mass",
    "lateral_friction": "lateralFriction",
    "spinning_friction": "spinningFriction",
    "rolling_friction": "rollingFriction",
    "restitution": "restitution",
    "linear_damping": "linearDamping",
    "angular_damping": "angularDamping",
}


class Physics(Randomizer):
    """One value per configured quantity, applied to every body of the chosen roles.

    Options (each a distribution; ``mode`` defaults to ``scale`` for mass, friction and
    actuator force, ``absolute`` otherwise): ``mass``, ``lateral_friction``,
    ``spinning_friction``, ``rolling_friction``, ``restitution``, ``linear_damping``,
    ``angular_damping``, ``joint_damping``, ``actuator_force``, ``gravity`` (z, m/s^2),
    ``latency`` (env steps, integer), ``action_noise`` and ``observation_noise`` (std).
    ``bodies``: roles whose contact properties change (default target, objects, table,
    robot fingers). Unconfigured quantities stay at their nominal values.

    The allowed modes and the sane range of each, per mode, are :data:`LIMITS`:

    ==================  ==========================  ================================
    option              scale (x nominal)           absolute
    ==================  ==========================  ================================
    mass                (0, 100]                    (0, 100] kg
    lateral_friction    [0, 10]                     [0, 10]
    spinning, rolling   [0, 100]                    [0, 1]
    restitution         [0, 1]                      [0, 1]
    linear/angular      [0, 25]                     [0, 1]
    damping
    joint_damping       [0, 10]                     [0, 20] N m s/rad
    actuator_force      (0, 10]                     (0, 10] (same as scale)
    gravity             [-5, 5]                     [-50, 50] m/s^2 (add: [-40, 40])
    latency             -                           integers in [0, 20] env steps
    action_noise        -                           [0, 1] std (actions in [-1, 1])
    observation_noise   -                           [0, 1] std
    ==================  ==========================  ================================
    """

    kind = "physics"
    step_schedulable = False
    options = (*LIMITS, "bodies")

    def __init__(
        self,
        quantities: Mapping[str, Distribution] | None = None,
        *,
        bodies: tuple[str, ...] = ("target", "objects", "table", "robot"),
        name: str | None = None,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name=name, every_n_steps=every_n_steps)
        quantities = dict(quantities or {})
        unknown = sorted(set(quantities) - set(LIMITS))
        if unknown:
            raise ValueError(f"unknown physics quantities {unknown}; allowed: {sorted(LIMITS)}")
        self.quantities = quantities
        self.bodies = bodies

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        quantities = {}
        for key, limits in LIMITS.items():
            if key in config:
                quantities[key] = Distribution.parse(
                    config[key], f"{where}.{key}", limits=limits, default_mode=next(iter(limits))
                )
        return cls(
            quantities,
            bodies=choice_list(
                config, "bodies", where, ROLES, ("target", "objects", "table", "robot"), unique=True
            ),
            name=option_name(config, where),
            every_n_steps=config.get("every_n_steps"),
        )

    def space(self) -> list[ParamSpec]:
        return [d.spec(k, integer=k == "latency") for k, d in self.quantities.items()]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for k, d in self.quantities.items():
            v = draw(d, rng)
            params[k] = int(round(v)) if k == "latency" else float(v)
        return params

    def setup(self, scene: Scene) -> None:
        """Capture the nominal values once per scene (so nothing drifts across episodes)."""
        if "physics/nominal" in scene.store:
            return
        c = scene.client
        links: dict[tuple[str, int], dict[str, float]] = {}
        for role in ROLES:
            for name in scene.body_names(role):
                body = scene.sim.body(name)
                link_ids = [-1, *range(c.getNumJoints(body))]
                if role == "robot":  # the fingers: the robot's contact surfaces
                    link_ids = list(scene.robot.link_roles["fingers"])
                for link in link_ids:
                    d = c.getDynamicsInfo(body, link)
                    links[(name, link)] = {
                        "mass": d[0], "lateralFriction": d[1], "restitution": d[5],
                        "rollingFriction": d[6], "spinningFriction": d[7],
                        "linearDamping": PYBULLET_DAMPING, "angularDamping": PYBULLET_DAMPING,
                    }  # fmt: skip
        robot = scene.robot
        joints = {j: c.getJointInfo(robot.id, j)[6] for j in range(c.getNumJoints(robot.id))}
        scene.store["physics/nominal"] = {
            "links": links,
            "joint_damping": joints,
            "gravity": tuple(scene.sim.physics.gravity),
        }

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        nominal = scene.store["physics/nominal"]
        c = scene.client
        q = self.quantities
        roles = {name for role in self.bodies for name in scene.body_names(role)}
        for (name, link), nom in nominal["links"].items():
            if name not in roles:
                continue
            body = scene.sim.body(name)
            kwargs = {}
            for key, pb_key in _DYNAMICS_KEYS.items():
                if key in params:
                    if key == "mass" and nom["mass"] == 0:
                        continue  # static bodies stay static
                    kwargs[pb_key] = q[key].combine(params[key], nom[pb_key])
            if kwargs:
                c.changeDynamics(body, link, **kwargs)
        if "joint_damping" in params:
            for j, nom in nominal["joint_damping"].items():
                c.changeDynamics(
                    scene.robot.id,
                    j,
                    jointDamping=q["joint_damping"].combine(params["joint_damping"], nom),
                )
        if "actuator_force" in params:
            scene.robot.force_scale = q["actuator_force"].combine(params["actuator_force"], 1.0)
        if "gravity" in params:
            gx, gy, gz = nominal["gravity"]
            c.setGravity(gx, gy, q["gravity"].combine(params["gravity"], gz))
        fx = scene.effects
        if "latency" in params:
            fx.action_latency = int(params["latency"])
        if "action_noise" in params:
            fx.action_noise = float(params["action_noise"])
        if "observation_noise" in params:
            fx.observation_noise = float(params["observation_noise"])
