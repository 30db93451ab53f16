"""The one place where the ``domrand/*`` Gymnasium ids are declared and registered."""

from __future__ import annotations

ENTRY_POINTS: dict[str, str] = {
    "domrand/Reach-v0": "envs.tasks.reach:ReachEnv",
    "domrand/Push-v0": "envs.tasks.push:PushEnv",
    "domrand/Lift-v0": "envs.tasks.lift:LiftEnv",
}
ENV_IDS: tuple[str, ...] = tuple(ENTRY_POINTS)


def register_envs() -> None:
    """Register every id in :data:`ENV_IDS` with Gymnasium (idempotent)."""
    import gymnasium

    for env_id, entry_point in ENTRY_POINTS.items():
        if env_id not in gymnasium.registry:
            # The time limit lives inside the env (it emits a ``timeout`` event),
            # so no TimeLimit wrapper is added here.
            gymnasium.register(id=env_id, entry_point=entry_point)
