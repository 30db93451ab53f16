"""Torch checkpoints shared by every model: atomic writes and safe, checked reads.

A checkpoint is a dict of tensors and plain data with a ``format`` tag and a ``version``;
it is read with ``torch.load(..., weights_only=True)``, so no code in the file ever runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from envs.files import atomic_path

C = TypeVar("C")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to a temporary name beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)  # a file object: the archive's inner name is not the temp name
    return path


def read_checkpoint(
    path: str | Path,
    *,
    fmt: str,
    version: int,
    what: str,
    train_hint: str,
    error: type[Exception] = ValueError,
    missing: type[Exception] = FileNotFoundError,
) -> dict[str, Any]:
    """The payload of a checkpoint tagged ``fmt`` at ``version``; anything else (missing,
    truncated, foreign, another version) raises with a one-line reason naming the file.

    ``what`` names the kind ("localizer"), ``train_hint`` says how to make one.
    """
    path = Path(path)
    if not path.is_file():
        raise missing(f"{what} checkpoint {str(path)!r} not found; train one with {train_hint}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise error(
            f"{str(path)!r} is not a readable {what} checkpoint ({type(exc).__name__}: {first}); "
            f"it may be truncated or corrupt: train it again with {train_hint}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise error(
            f"{str(path)!r} is not a {what} checkpoint (expected format {fmt!r}); was it "
            f"written by {train_hint.split(' --')[0]}?"
        )
    if payload.get("version") != version:
        raise error(
            f"{str(path)!r} has checkpoint version {payload.get('version')}; this code reads "
            f"version {version}"
        )
    return payload


def save_model_checkpoint(path: str | Path, *, fmt: str, version: int, config: Any,
                          meta: dict[str, Any], history: list[dict[str, float]],
                          model: nn.Module) -> Path:  # fmt: skip
    """A network checkpoint of the common shape: settings (a dataclass), what the model
    assumes and its training history (JSON strings), and its weights (atomic)."""
    return save_checkpoint(path, {
        "format": fmt, "version": version, "config": asdict(config),
        "meta": json.dumps(meta, sort_keys=True), "history": json.dumps(history),
        "state_dict": model.state_dict(),
    })  # fmt: skip


def load_model_checkpoint(
    path: str | Path,
    *,
    fmt: str,
    version: int,
    what: str,
    train_hint: str,
    config_type: Callable[..., C],
    build: Callable[[C], nn.Module],
) -> tuple[C, nn.Module, dict[str, Any], list[dict[str, float]]]:
    """Read a :func:`save_model_checkpoint` file: (config, network in eval mode with its
    weights, meta, history). Settings or weights that do not fit are a ValueError naming
    the file as a damaged ``what`` checkpoint."""
    payload = read_checkpoint(path, fmt=fmt, version=version, what=what, train_hint=train_hint)
    try:
        config = config_type(**payload["config"])
        model = build(config)
        model.load_state_dict(payload["state_dict"])
        meta, history = json.loads(payload["meta"]), json.loads(payload["history"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{str(Path(path))!r} is a damaged {what} checkpoint: "
                         f"{str(exc).splitlines()[0]}") from None  # fmt: skip
    return config, model.eval(), meta, history
