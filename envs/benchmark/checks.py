"""Benchmark settings refused up front, before any measurement runs."""

from __future__ import annotations

from envs.panda_env import MAX_IMAGE_SIZE


def check_arguments(
    *,
    env_ids: tuple[str, ...],
    sizes: tuple[int, ...],
    steps: int,
    resets: int,
    repeats: int,
    presets: tuple[str, ...] = (),
    processes: tuple[int, ...] = (1,),
) -> None:
    """Refuse (``ValueError``, one line) benchmark settings that would fail or divide by zero
    later: unknown env ids or presets, image sizes outside 1..MAX_IMAGE_SIZE, counts < 1."""
    from envs.registration import ENV_IDS, check_env_id

    if not env_ids:
        raise ValueError(f"no env to benchmark; give --env with one or more of {', '.join(ENV_IDS)}")
    for env_id in env_ids:
        check_env_id(env_id)
    if not sizes:
        raise ValueError("no image size to benchmark; give --sizes with one or more sizes (px)")
    bad = [s for s in sizes if not 1 <= s <= MAX_IMAGE_SIZE]
    if bad:
        raise ValueError(
            f"image sizes must be 1..{MAX_IMAGE_SIZE} px, got {bad}; pick sizes such as 64 128"
        )
    for name, value in (("steps", steps), ("resets", resets), ("repeats", repeats)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if not processes or min(processes) < 1:
        raise ValueError(f"process counts must be >= 1 (at least one), got {list(processes)}")
    if presets:
        from randomizers.errors import PresetError
        from randomizers.presets import load_preset

        for preset in presets:
            try:
                load_preset(preset)
            except PresetError as exc:
                raise ValueError(str(exc)) from None


__all__ = ["check_arguments"]
