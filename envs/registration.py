"""The one place where the ``domrand/*`` Gymnasium ids are declared and registered."""

from __future__ import annotations

ENTRY_POINTS: dict[str, str] = {
    "domrand/Reach-v0": "envs.tasks.reach:ReachEnv",
    "domrand/Push-v0": "envs.tasks.push:PushEnv",
    "domrand/Lift-v0": "envs.tasks.lift:LiftEnv",
}
# Must equal each task's ``default_max_episode_steps`` (a test checks it); kept here so
# registering imports nothing heavy.
MAX_EPISODE_STEPS: dict[str, int] = {
    "domrand/Reach-v0": 50,
    "domrand/Push-v0": 100,
    "domrand/Lift-v0": 100,
}
ENV_IDS: tuple[str, ...] = tuple(ENTRY_POINTS)


def state_names(env_id: str) -> tuple[str, ...]:
    """The names of a registered env's state-vector entries (imports only its module)."""
    import importlib

    module, _, name = ENTRY_POINTS[env_id].partition(":")
    return tuple(getattr(importlib.import_module(module), name).task_cls.state_names)


def register_envs() -> None:
    """Register every id in :data:`ENV_IDS` with Gymnasium (idempotent)."""
    import gymnasium
    from gymnasium.envs.registration import WrapperSpec

    # The env keeps its own time limit (and emits ``timeout``); SyncTimeLimit hands it
    # the value of ``gym.make(id, max_episode_steps=N)`` when a user passes one.
    sync = WrapperSpec("SyncTimeLimit", "envs.wrappers:SyncTimeLimit", kwargs={})
    for env_id, entry_point in ENTRY_POINTS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=entry_point,
                max_episode_steps=MAX_EPISODE_STEPS[env_id],
                additional_wrappers=(sync,),
            )
