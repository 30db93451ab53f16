"""Gymnasium ids: the built-in ``domrand/*`` ids, user tasks, and checking an id by name.

The built-in ids are declared here and registered when ``gymnasium`` is imported (see
``domrand_gymnasium_hook``). A user task becomes an id with :func:`register_task`; every
command's ``--env`` accepts any registered id whose env is a
:class:`envs.panda_env.PandaTaskEnv`, and ``module:Id`` imports ``module`` (which registers
``Id``) first. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from envs.panda_env import PandaTaskEnv
    from envs.tasks.base import Task

ENTRY_POINTS: dict[str, str] = {
    "domrand/Reach-v0": "envs.tasks.reach:ReachEnv",
    "domrand/Push-v0": "envs.tasks.push:PushEnv",
    "domrand/Lift-v0": "envs.tasks.lift:LiftEnv",
    "domrand/PickPlace-v0": "envs.tasks.pick_place:PickPlaceEnv",
    "domrand/Stack-v0": "envs.tasks.stack:StackEnv",
}
# Must equal each task's ``default_max_episode_steps`` (a test checks it); kept here so
# registering imports nothing heavy.
MAX_EPISODE_STEPS: dict[str, int] = {
    "domrand/Reach-v0": 50,
    "domrand/Push-v0": 100,
    "domrand/Lift-v0": 100,
    "domrand/PickPlace-v0": 150,
    "domrand/Stack-v0": 150,
}
ENV_IDS: tuple[str, ...] = tuple(ENTRY_POINTS)
# What a Task subclass must give a value (the env reads them before building the task).
TASK_CLASS_ATTRIBUTES = ("name", "default_max_episode_steps", "uses_gripper", "state_names")


def _sync_wrapper() -> Any:
    """The env keeps its own time limit (and emits ``timeout``); SyncTimeLimit hands it the
    value of ``gym.make(id, max_episode_steps=N)`` when a user passes one."""
    from gymnasium.envs.registration import WrapperSpec

    return WrapperSpec("SyncTimeLimit", "envs.wrappers:SyncTimeLimit", kwargs={})


def register_envs() -> None:
    """Register every id in :data:`ENV_IDS` with Gymnasium (idempotent)."""
    import gymnasium

    for env_id, entry_point in ENTRY_POINTS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=entry_point,
                max_episode_steps=MAX_EPISODE_STEPS[env_id],
                additional_wrappers=(_sync_wrapper(),),
            )


def register_task(
    env_id: str, task: type[Task] | type[PandaTaskEnv], *, max_episode_steps: int | None = None
) -> type[PandaTaskEnv]:
    """Register a :class:`envs.tasks.base.Task` subclass (or a ``PandaTaskEnv`` subclass
    that sets ``task_cls``) as the Gymnasium id ``env_id``; returns the env class.

    ``max_episode_steps`` defaults to the task's ``default_max_episode_steps``. Registering
    the same class under the same id again does nothing.
    """
    import gymnasium

    from envs.panda_env import PandaTaskEnv
    from envs.tasks.base import Task

    if not isinstance(env_id, str) or not env_id or ":" in env_id:
        raise ValueError(f"env_id must be text such as 'user/Tiny-v0' (no ':'), got {env_id!r}")
    if isinstance(task, type) and issubclass(task, PandaTaskEnv):
        env_cls = task
        task_cls = getattr(env_cls, "task_cls", None)
    elif isinstance(task, type) and issubclass(task, Task):
        task_cls = task
        env_cls = type(
            f"{task.__name__.removesuffix('Task') or task.__name__}Env",
            (PandaTaskEnv,),
            {"task_cls": task, "__module__": task.__module__,
             "__doc__": f"The Panda at the table doing {task.__name__} (registered {env_id})."},
        )  # fmt: skip
    else:
        raise TypeError(
            f"register_task({env_id!r}, ...) expects a subclass of envs.tasks.base.Task or of "
            f"envs.panda_env.PandaTaskEnv, got {task!r}"
        )
    task_cls = check_task_class(task_cls, env_id)
    steps = task_cls.default_max_episode_steps if max_episode_steps is None else max_episode_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"max_episode_steps must be an int >= 1, got {steps!r}")
    known = gymnasium.registry.get(env_id)
    if known is not None:
        old = known.entry_point
        if getattr(old, "task_cls", None) is task_cls and known.max_episode_steps == steps:
            return cast("type[PandaTaskEnv]", old)
    gymnasium.register(
        id=env_id, entry_point=cast(Any, env_cls), max_episode_steps=steps,
        additional_wrappers=(_sync_wrapper(),),
    )  # fmt: skip
    return env_cls


def check_task_class(task_cls: Any, env_id: str) -> type[Task]:
    """``task_cls``, checked: a Task subclass with every method and class attribute defined."""
    from envs.tasks.base import Task

    if not (isinstance(task_cls, type) and issubclass(task_cls, Task)):
        raise TypeError(f"{env_id}: task_cls must be a subclass of envs.tasks.base.Task, "
                        f"got {task_cls!r}")  # fmt: skip
    missing = [a for a in TASK_CLASS_ATTRIBUTES if not hasattr(task_cls, a)]
    abstract = sorted(getattr(task_cls, "__abstractmethods__", ()))
    if missing or abstract:
        raise TypeError(
            f"{env_id}: {task_cls.__name__} does not define "
            f"{', '.join([*missing, *(f'{m}()' for m in abstract)])}; see docs/TASKS.md"
        )
    return task_cls


def env_class(env_id: str) -> type[PandaTaskEnv]:
    """The env class of a registered domrand-compatible id (imports its module); a
    ``ValueError`` says why an id is not one."""
    import gymnasium

    from envs.panda_env import PandaTaskEnv

    spec = gymnasium.registry.get(env_id)
    if spec is None:
        raise ValueError(unknown_env_message(env_id))
    entry = spec.entry_point
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        try:
            entry = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(
                f"cannot load env {env_id!r} (entry point {spec.entry_point!r}): "
                f"{type(exc).__name__}: {exc}"
            ) from None
    if not (isinstance(entry, type) and issubclass(entry, PandaTaskEnv)):
        raise ValueError(
            f"env {env_id!r} is registered but is not a domrand env (its entry point "
            f"{spec.entry_point!r} is not a subclass of envs.panda_env.PandaTaskEnv); "
            f"registered domrand-compatible ids: {', '.join(domrand_env_ids())}"
        )
    return entry


def domrand_env_ids() -> tuple[str, ...]:
    """Registered ids whose env is a ``PandaTaskEnv``: the built-in ones, and user ids whose
    module is already imported (nothing is imported to find out)."""
    import gymnasium

    panda = sys.modules.get("envs.panda_env")
    ids = [i for i in ENV_IDS if i in gymnasium.registry]
    for env_id, spec in gymnasium.registry.items():
        if env_id in ENV_IDS or panda is None:
            continue
        entry = spec.entry_point
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = getattr(sys.modules.get(module), attr, None)
        if isinstance(entry, type) and issubclass(entry, panda.PandaTaskEnv):
            ids.append(env_id)
    return tuple(ids)


def unknown_env_message(env_id: str) -> str:
    """The one line for an id that is not registered."""
    return (
        f"unknown env {env_id!r}; registered domrand-compatible ids: "
        f"{', '.join(domrand_env_ids())}; pass module:Id to import the module that registers it"
    )


def check_env_id(env_id: str) -> str:
    """The registered domrand-compatible id that ``env_id`` names: an id, or ``module:Id``
    (imports ``module``, which registers ``Id``, and returns ``Id``). A ``ValueError`` with
    one line saying what is wrong otherwise."""
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"expected an env id such as 'domrand/Push-v0', got {env_id!r}")
    module, sep, name = env_id.rpartition(":")
    if sep:
        if not module or not name:
            raise ValueError(f"expected module:Id (e.g. my_tasks:user/Tiny-v0), got {env_id!r}")
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(
                f"cannot import module {module!r} of env {env_id!r}: {type(exc).__name__}: {exc}"
            ) from None
        import gymnasium

        if name not in gymnasium.registry:
            raise ValueError(
                f"module {module!r} was imported but registers no env {name!r}; "
                f"registered domrand-compatible ids: {', '.join(domrand_env_ids())}"
            )
        env_id = name
    env_class(env_id)
    return env_id


def state_names(env_id: str) -> tuple[str, ...]:
    """The names of a registered env's state-vector entries (imports only its module)."""
    return tuple(env_class(env_id).task_cls.state_names)


__all__ = [
    "ENV_IDS",
    "check_env_id",
    "domrand_env_ids",
    "env_class",
    "register_envs",
    "register_task",
    "state_names",
]
