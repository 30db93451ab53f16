"""The photo bank: training, validation and `target` pictures are disjoint, every file's
source and license is listed, and its presets change nothing but the pictures."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from randomizers import load_preset
from randomizers.assets import asset_dir
from tests.randomizers.test_presets import raw

BANK = asset_dir() / "textures" / "photo_bank"


def _files(folder: str) -> list:
    return sorted(p for p in (BANK / folder).iterdir() if p.suffix == ".jpg")


def _thumbs(path) -> np.ndarray:
    """The whole picture and its centre square, each 24 x 24 grey with zero mean and unit
    norm: a near-copy (resized, squashed or recompressed) correlates near 1 with one of them."""
    with Image.open(path) as im:
        grey = im.convert("L")
        w, h = grey.size
        side = min(w, h)
        square = grey.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
        views = [np.asarray(v.resize((24, 24), Image.Resampling.BILINEAR), float).ravel()
                 for v in (grey, square)]  # fmt: skip
    views = [v - v.mean() for v in views]
    return np.stack([v / max(float(np.linalg.norm(v)), 1e-9) for v in views])


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float((a @ b.T).max())


def test_bank_sizes_and_the_six_older_training_pictures() -> None:
    train, val = _files("train"), _files("val")
    assert (len(train), len(val)) == (76, 23)
    older = {p.stem for p in (asset_dir() / "textures" / "train_photos").glob("*.png")}
    assert {f"skimage_{n}" for n in older} <= {p.stem for p in train}


@pytest.mark.parametrize("a, b", [("train", "val"), ("train", "target"), ("val", "target")])
def test_no_picture_is_shared_between_splits_or_with_target(a: str, b: str) -> None:
    """Content, not names: a near-copy (another size or format of the same picture) counts."""
    def load(split: str) -> dict:
        folder = asset_dir() / "textures" / "photos" if split == "target" else BANK / split
        return {p.name: _thumbs(p) for p in sorted(folder.iterdir()) if p.suffix in (".jpg", ".png")}

    left, right = load(a), load(b)
    worst = max((_similarity(x, y), n, m) for n, x in left.items() for m, y in right.items())
    assert worst[0] < 0.95, f"{worst[1]} ({a}) looks like {worst[2]} ({b}): correlation {worst[0]:.3f}"


def test_a_near_copy_is_caught(tmp_path) -> None:
    """The check above works: a squashed, recompressed copy correlates above its threshold."""
    src = _files("val")[0]
    with Image.open(src) as im:
        copy = im.resize((im.width // 2, im.height // 3)).convert("RGB")
    path = tmp_path / "copy.jpg"
    copy.save(path, quality=60)
    assert _similarity(_thumbs(src), _thumbs(path)) > 0.98


def test_readme_lists_every_file_with_a_license() -> None:
    text = (BANK / "README.md").read_text()
    for split in ("train", "val"):
        section = text.split(f"## `{split}/`")[1].split("## ")[0]
        listed = re.findall(r"^\| `([^`]+\.jpg)` \| .+ \| (.+) \|$", section, flags=re.M)
        assert sorted(n for n, _ in listed) == [p.name for p in _files(split)]
        assert all(lic.strip() for _, lic in listed)


@pytest.mark.parametrize("base, bank", [
    ("tobin_photos_everywhere", "tobin_photo_bank_everywhere"),
    ("tobin_photos_everywhere_occluders", "tobin_photo_bank_occluders"),
])  # fmt: skip
def test_photo_bank_presets_change_only_the_pictures(base: str, bank: str) -> None:
    old, new, val = raw(base), raw(bank), raw(bank.replace("tobin_", "val_"))
    for part in ("distractors", "texture"):
        assert old[part].pop("image_dir") == "../textures/train_photos"
        assert new[part].pop("image_dir") == "../textures/photo_bank/train"
        assert val[part].pop("image_dir") == "../textures/photo_bank/val"
    assert val["distractors"].pop("pool_seed") == 123  # distractor shapes training never sees
    assert old == new == val
    for name, split in ((bank, "train"), (bank.replace("tobin_", "val_"), "val")):
        texture = {r.kind: r for r in load_preset(name).randomizers}["texture"]
        assert [p.split("/")[-2:] for p in texture.bank.images] == [
            [split, p.name] for p in _files(split)
        ]


def test_dense_occluders_preset_is_the_occluder_preset_with_table_two_layout() -> None:
    dense, occl = raw("tobin_photo_bank_dense_occluders"), raw("tobin_photo_bank_occluders")
    assert dense["distractors"].pop("count") == [2, 5] and occl["distractors"].pop("count") == [1, 5]
    for axis in ("x", "y"):
        assert dense["distractors"].pop(axis) == [-0.08, 0.08]
        assert occl["distractors"].pop(axis) == [-0.1, 0.1]
    assert dense == occl


@pytest.mark.parametrize("test_set, name", [
    ("occlusions", "val_photo_bank_calibrated_occluders"),
    ("distractors", "val_photo_bank_calibrated_clutter"),
])  # fmt: skip
def test_calibrated_validation_presets_are_table_two_with_validation_appearance(
    test_set: str, name: str
) -> None:
    """Table II's layout and camera; `tobin`'s lighting and noise; validation pictures and shapes."""
    from agents.experiments.ablation import eval_preset

    table_two, val, train = eval_preset(test_set), raw(name), raw("tobin_photo_bank_occluders")
    for part in ("texture", "distractors"):
        assert table_two[part].pop("image_dir").endswith("photos")
        assert val[part].pop("image_dir") == "../textures/photo_bank/val"
    assert (table_two["distractors"].pop("pool_seed"), val["distractors"].pop("pool_seed")) == (7, 123)
    assert val.pop("lighting") == train["lighting"] != table_two.pop("lighting")
    assert val.pop("image_noise") == train["image_noise"] and "image_noise" not in table_two
    assert val == table_two
