"""Gymnasium environments over PyBullet scenes: a Franka Panda at a table.

Importing this package is cheap (PyBullet loads with the first env); the ids in
:data:`ENV_IDS` are registered with Gymnasium automatically after ``pip install``. A user
task (a subclass of :class:`envs.tasks.Task`) becomes an id with :func:`register_task`
(docs/TASKS.md).
"""

from __future__ import annotations

from typing import Any

from envs.registration import (
    ENV_IDS,
    check_env_id,
    domrand_env_ids,
    register_envs,
    register_task,
)

__all__ = [
    "ENV_IDS",
    "OBS_MODES",
    "Camera",
    "CameraConfig",
    "LiftEnv",
    "PandaTaskEnv",
    "PushEnv",
    "ReachEnv",
    "Task",
    "check_env_id",
    "domrand_env_ids",
    "register_envs",
    "register_task",
]

_LAZY = {
    "Camera": "envs.camera",
    "CameraConfig": "envs.camera",
    "OBS_MODES": "envs.panda_env",
    "PandaTaskEnv": "envs.panda_env",
    "ReachEnv": "envs.tasks.reach",
    "PushEnv": "envs.tasks.push",
    "LiftEnv": "envs.tasks.lift",
    "Task": "envs.tasks.base",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'envs' has no attribute {name!r}")
