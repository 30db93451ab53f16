"""The ``gan`` texture source: texture-bank entries drawn from a trained appearance GAN.

Imported only when a preset uses ``source: gan`` (it pulls in torch, through
:mod:`randomizers.gan_generator`). The checkpoint is read and checked when the preset
loads, so a missing, corrupt or mismatched file (or one with NaN weights, or a symlink
loop) fails there, naming the file. Entry ``i`` of a bank is the generator's image for
the latent vector drawn from ``np.random.default_rng([bank_seed, i])``, rendered once at
setup in fixed batches on one thread, so the same checkpoint and seed give the same bytes.
"""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import numpy as np

from randomizers.errors import PresetError
from randomizers.gan_generator import (
    GanCheckpointError,
    Generator,
    generate,
    latents,
    load_generator,
)

_LOADED: dict[tuple[str, int, int], GanSource] = {}


class GanSource:
    """A loaded generator and the identity (content hash) of its checkpoint."""

    def __init__(self, path: Path, generator: Generator, digest: str) -> None:
        self.path, self.generator, self.digest = path, generator, digest

    @classmethod
    def load(cls, path: str | Path, where: str) -> GanSource:
        """Load (once per file version) and check a checkpoint; errors are
        :class:`PresetError` naming ``where`` and the file."""
        p = Path(path).expanduser()
        try:
            p = p.resolve(strict=True)
            stat = p.stat()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
                raise PresetError(f"{where}: GAN checkpoint {str(p)!r} is a symlink loop") from None
            raise PresetError(
                f"{where}: GAN checkpoint {str(p)!r} does not exist; train one first with "
                f"python scripts/train_gan.py --images DIR --out {p}"
            ) from None
        if not p.is_file():
            raise PresetError(
                f"{where}: GAN checkpoint {str(p)!r} is a folder, not a checkpoint file"
            )
        key = (str(p), stat.st_mtime_ns, stat.st_size)
        if key not in _LOADED:
            try:
                generator = load_generator(p)
            except (FileNotFoundError, GanCheckpointError) as exc:
                raise PresetError(f"{where}: {exc}") from None
            bad = [n for n, t in generator.state_dict().items()
                   if t.is_floating_point() and not bool(t.isfinite().all())]  # fmt: skip
            if bad:
                raise PresetError(
                    f"{where}: GAN checkpoint {str(p)!r} holds NaN or infinite weights "
                    f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); the training "
                    "diverged: retrain or use an earlier checkpoint"
                )
            digest = hashlib.sha1(p.read_bytes()).hexdigest()[:16]
            _LOADED[key] = cls(p, generator, digest)
        return _LOADED[key]

    def textures(self, seed: int, indices: list[int], size: int) -> dict[int, np.ndarray]:
        """Bank entries ``indices`` as (size, size, 3) uint8 arrays."""
        z_dim = self.generator.config.z_dim
        if not indices:
            return {}
        z = np.concatenate([latents([seed, i], 1, z_dim) for i in indices])
        images = generate(self.generator, z, size)
        return {i: images[k] for k, i in enumerate(indices)}


__all__ = ["GanSource"]
