"""--resume refuses to mix datasets when a photo or GAN checkpoint the preset reads changed
(the manifest records their content hashes)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.envs.test_export_support import (
    GAN,
    PHOTOS,
    SIZE,
    export_small,
    one_line_error,
    run_script,
    tree,
)


def _photo_preset(tmp_path: Path) -> tuple[Path, Path]:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("brick.jpg", "grass.jpg", "gravel.jpg"):
        shutil.copy(PHOTOS / name, photos / name)
    preset = tmp_path / "photos.yaml"
    preset.write_text(f"texture:\n  targets: [table, floor]\n  image_dir: {photos}\n"
                      "  size: 16\n  bank_size: 4\n")  # fmt: skip
    return preset, photos


def _gan_preset(tmp_path: Path) -> tuple[Path, Path]:
    ckpt = tmp_path / "gan.pt"
    shutil.copy(GAN, ckpt)
    preset = tmp_path / "gan.yaml"
    preset.write_text(f"texture:\n  targets: [table]\n  sources: [gan]\n"
                      f"  gan_checkpoint: {ckpt}\n  size: 16\n  bank_size: 2\n")  # fmt: skip
    return preset, ckpt


def _change_photo(path: Path, out: Path) -> str:
    shutil.copy(path / "grass.jpg", path / "brick.jpg")
    return "brick.jpg' of randomizer 'texture' changed"


def _remove_photo(path: Path, out: Path) -> str:
    (path / "gravel.jpg").unlink()
    return "gravel.jpg' of randomizer 'texture' was removed"


def _add_photo(path: Path, out: Path) -> str:
    shutil.copy(PHOTOS / "coffee.jpg", path / "coffee.jpg")
    return "coffee.jpg' of randomizer 'texture' was added"


def _manifest_without_hashes(path: Path, out: Path) -> str:
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["sources"]  # as an exporter before content hashes wrote it
    (out / "manifest.json").write_text(json.dumps(manifest))
    return "records no content hashes"


def _retrain_gan(path: Path, out: Path) -> str:
    import torch

    data = torch.load(path, map_location="cpu", weights_only=True)
    first = next(iter(data["generator"]))
    data["generator"][first] = data["generator"][first] * 1.01
    torch.save(data, path)
    return f"GAN checkpoint '{path}' of randomizer 'texture' changed"


@pytest.mark.parametrize(
    ("make_preset", "change"),
    [(_photo_preset, _change_photo), (_photo_preset, _remove_photo),
     (_photo_preset, _add_photo), (_gan_preset, _retrain_gan),
     (_photo_preset, _manifest_without_hashes)],
    ids=["photo-changed", "photo-removed", "photo-added", "gan-checkpoint-changed",
         "old-manifest-without-hashes"],
)  # fmt: skip
def test_resume_refuses_changed_source_files(
    make_preset: Callable[[Path], tuple[Path, Path]], change: Callable[[Path], str],
    tmp_path: Path, capsys: Any,
) -> None:  # fmt: skip
    preset, source = make_preset(tmp_path)
    out = export_small(tmp_path / "d", num_images=2, preset=str(preset))
    sources = json.loads((out / "manifest.json").read_text())["sources"]["texture"]
    assert len(sources.get("images", {})) == 3 or len(sources["gan_sha256"]) == 64
    why = change(source, out)
    before = tree(out)
    code, err = run_script(["--out", str(out), "--resume", "--preset", str(preset),
                         "--num-images", "4", "--size", str(SIZE)], capsys)  # fmt: skip
    line = one_line_error(err)
    assert code == 2 and why in line and "cannot resume" in line
    assert tree(out) == before
