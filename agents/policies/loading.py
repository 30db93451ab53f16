"""Open any policy checkpoint: the one entry point above the checkpoint formats.

:func:`load_policy` dispatches on the suffix (``.zip``: :mod:`agents.policies.sb3`, ``.pt``:
:mod:`agents.policies.bc`) and refuses a policy trained for another env or obs mode. The
formats import only :mod:`agents.policies.contract`, never this module, so the dependency
runs one way; each format is imported when a file of it is opened (Stable-Baselines3 and
torch stay optional until then).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from agents.policies.contract import LoadedPolicy, PolicyError, PolicyMeta, existing_checkpoint


def load_policy(
    path: str | Path,
    *,
    env_id: str | None = None,
    obs_mode: str | None = None,
    trusted: bool = False,
) -> LoadedPolicy:
    """Load a policy checkpoint (SB3 ``.zip`` or behaviour-cloning ``.pt``), refusing one
    trained for another ``env_id`` or ``obs_mode`` than given.

    ``trusted=True`` lets SB3 unpickle its own entries (needed only for checkpoints with
    custom objects that :func:`agents.policies.sb3.save_sb3` does not record).
    """
    path = existing_checkpoint(path)
    suffix = path.suffix.lower()
    policy: LoadedPolicy
    if suffix == ".zip":
        from agents.policies.sb3 import load_sb3, read_meta

        read_meta(path).check(env_id=env_id, obs_mode=obs_mode)  # before any weights: fail fast
        policy = load_sb3(path, trusted=trusted)
    elif suffix == ".pt":
        from agents.policies.bc import load_bc_policy

        policy = cast(LoadedPolicy, load_bc_policy(path))
    else:
        raise PolicyError(
            f"unknown checkpoint type {str(path)!r}: expected a Stable-Baselines3 .zip "
            f"(scripts/train_policy.py) or a behaviour-cloning .pt"
        )
    policy.meta.check(env_id=env_id, obs_mode=obs_mode)
    return policy


def policy_meta(path: str | Path) -> PolicyMeta:
    """The meta of any checkpoint: read from the zip for SB3 (no weights loaded); a
    behaviour-cloning ``.pt`` is loaded to read it."""
    path = existing_checkpoint(path)
    if path.suffix.lower() == ".zip":
        from agents.policies.sb3 import check_sb3_archive

        return check_sb3_archive(path)
    return load_policy(path).meta
