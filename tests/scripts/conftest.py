"""Fixtures the script tests share, built once per session: a read-only folder, a Minari
home, tiny exports with a pose-regressor checkpoint, a GAN, a BC recording and checkpoint,
and an SB3 checkpoint. Data and training are tiny: a few images, a few steps."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.scripts.script_support import LIFT, PUSH, REACH


def _writable(folder: Path) -> bool:
    try:
        fd, probe = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can create files in (a chmod 555 folder; as root, where permission
    bits do not bind, sysfs)."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if not _writable(folder):
            yield folder
        elif Path("/sys").is_dir() and not _writable(Path("/sys")):
            yield Path("/sys")
        else:
            pytest.skip("no read-only folder available (running as root without sysfs)")
    finally:
        folder.chmod(0o755)


@pytest.fixture(scope="session")
def minari_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("minari")
    path = str(tmp_path_factory.mktemp("minari"))
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", path)
    yield path
    mp.undo()


def _export(root: Path, env_id: str, size: int, n: int = 4) -> Path:
    from envs.dataset.config import ExportConfig
    from envs.dataset.export import export_dataset

    out = root / f"{env_id.split('/')[1]}_{size}"
    export_dataset(ExportConfig(env_id=env_id, preset="none", num_images=n, size=size,
                                out=str(out), workers=1), progress=False)  # fmt: skip
    return out


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny exported datasets (Lift 32 px, Lift 64 px, Push 32 px, Lift 48 px) and a
    pose-regressor checkpoint trained one epoch on the first."""
    from scripts import train_regressor

    root = tmp_path_factory.mktemp("data")
    out = {"lift32": _export(root, LIFT, 32), "lift64": _export(root, LIFT, 64, 2),
           "push32": _export(root, PUSH, 32, 2), "lift48": _export(root, LIFT, 48, 2)}  # fmt: skip
    ckpt = root / "regressor.pt"
    assert train_regressor.main(["--train", str(out["lift32"]), "--out", str(ckpt),
                                 "--epochs", "1", "--width", "8", "--no-progress"]) == 0  # fmt: skip
    out["regressor"] = ckpt
    return out


@pytest.fixture(scope="session")
def gan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two noise photos and a GAN checkpoint trained one step on them."""
    from scripts import train_gan

    root = tmp_path_factory.mktemp("gan")
    photos = root / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    ckpt = root / "gan.pt"
    assert train_gan.main(["--images", str(photos), "--out", str(ckpt), "--steps", "1",
                           "--size", "32", "--batch", "4", "--g-channels", "16",
                           "--d-channels", "8", "--z-dim", "8", "--threads", "1",
                           "--quiet"]) == 0  # fmt: skip
    return {"photos": photos, "ckpt": ckpt}


@pytest.fixture(scope="session")
def bc(minari_home: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 2-episode Reach recording (32 px) and a BC checkpoint trained one epoch on it."""
    from scripts import rollout, train_bc

    assert rollout.main(["--env", REACH, "--episodes", "2", "--record", "domrand/rel-v0",
                         "--image-size", "32", "--no-progress"]) == 0  # fmt: skip
    ckpt = tmp_path_factory.mktemp("bc") / "bc.pt"
    assert train_bc.main(["--dataset", "domrand/rel-v0", "--out", str(ckpt), "--epochs", "1",
                          "--width", "8", "--no-progress"]) == 0  # fmt: skip
    return {"dataset": "domrand/rel-v0", "ckpt": ckpt}


@pytest.fixture(scope="session")
def sb3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Push SAC checkpoint of 20 steps (no gradient step: only its files matter here)."""
    pytest.importorskip("stable_baselines3")
    from agents.rl.config import TrainConfig
    from agents.rl.train import train

    out = tmp_path_factory.mktemp("sb3") / "push.zip"
    config = TrainConfig(env_id=PUSH, algo="sac", steps=20, out=str(out), tensorboard=False,
                         hyperparams={"learning_starts": 100, "buffer_size": 200})  # fmt: skip
    return train(config, progress=False).path
