"""Appearance GAN: training on a folder, checkpoints (safe loading, clear errors), sampling,
the ``gan`` texture source in an env, determinism, the quality report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from PIL import Image

from agents.gan.data import CropConfig, ImageCrops
from agents.gan.metrics import kid, procedural_textures, quality_report
from agents.gan.train import TrainConfig, train_gan
from randomizers import PresetError, load_preset
from randomizers.assets import asset_dir
from randomizers.gan_generator import (
    GanCheckpointError,
    GANConfig,
    generate,
    latents,
    load_generator,
    read_checkpoint,
    sample_textures,
)
from randomizers.presets import preset_dir

TINY = GANConfig(size=32, z_dim=8, g_channels=32, d_channels=8)


def _write_photos(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        yy, xx = np.mgrid[0:48, 0:64]
        base = rng.uniform(0, 255, 3)
        img = (base + 60 * np.sin(xx[..., None] / (3 + i)) * np.cos(yy[..., None] / 5)).clip(0, 255)
        Image.fromarray(img.astype(np.uint8)).save(folder / f"photo{i}.png")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(image folder, checkpoint) of a tiny GAN trained for 3 steps."""
    root = tmp_path_factory.mktemp("gan")
    photos = _write_photos(root / "photos")
    result = train_gan(
        photos, root / "tiny.pt", TINY, CropConfig(size=32, scale=(0.3, 0.6), holdout=0.25),
        TrainConfig(steps=3, batch=4, sample_every=2, threads=1), progress=False,
    )  # fmt: skip
    assert result.steps == 3 and len(result.losses["generator"]) == 3
    assert [p.name for p in result.grids] == ["step_000002.png", "step_000003.png"]
    assert result.loss_plot is not None and result.loss_plot.is_file()
    return photos, result.checkpoint


def test_checkpoint_loads_with_weights_only(trained: tuple[Path, Path]) -> None:
    _, ckpt = trained
    data = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert data["format"] == "domrand-gan" and data["model"] == TINY.to_dict()
    assert {"generator", "discriminator", "crops", "train", "losses", "images"} <= set(data)
    assert data["images"] == ["photo0.png", "photo1.png", "photo2.png"]
    assert read_checkpoint(ckpt)["model"] == TINY


def test_samples_are_uint8_textures_and_seeded(trained: tuple[Path, Path]) -> None:
    g = load_generator(trained[1])
    a = sample_textures(g, 5, seed=0)
    assert a.shape == (5, 32, 32, 3) and a.dtype == np.uint8
    assert a.tobytes() == sample_textures(load_generator(trained[1]), 5, seed=0).tobytes()
    assert a.tobytes() != sample_textures(g, 5, seed=1).tobytes()
    # a texture does not depend on how many are drawn with it
    assert sample_textures(g, 40, seed=0)[:5].tobytes() == a.tobytes()
    assert generate(g, latents(0, 3, TINY.z_dim), size=16).shape == (3, 16, 16, 3)


def test_training_is_deterministic(trained: tuple[Path, Path], tmp_path: Path) -> None:
    photos, ckpt = trained
    again = train_gan(
        photos, tmp_path / "again.pt", TINY, CropConfig(size=32, scale=(0.3, 0.6), holdout=0.25),
        TrainConfig(steps=3, batch=4, sample_every=2, threads=1), progress=False,
    )  # fmt: skip
    a, b = read_checkpoint(ckpt), read_checkpoint(again.checkpoint)
    assert a["losses"] == b["losses"]
    for k, v in a["generator"].items():
        assert torch.equal(v, b["generator"][k]), k


def _gan_preset(ckpt: Path, **extra: object) -> dict:
    texture = {"sources": ["gan", "flat"], "gan_checkpoint": str(ckpt), "bank_size": 6,
               "size": 16, **extra}  # fmt: skip
    return {"texture": texture}


def test_env_renders_gan_textures_and_same_seed_same_bytes(trained: tuple[Path, Path]) -> None:
    _, ckpt = trained
    frames = []
    for _ in range(2):
        env = gym.make("domrand/Push-v0", obs_mode="rgb", image_size=32,
                       randomization=_gan_preset(ckpt))  # fmt: skip
        obs, info = env.reset(seed=3)
        assert obs.shape == (32, 32, 3) and obs.dtype == np.uint8
        assert "table.texture" in info["randomization"]["texture"]
        bank = env.unwrapped.randomizer["texture"].bank
        frames.append((obs.tobytes(), [bank.generate(i).tobytes() for i in range(6)]))
        env.close()
    assert frames[0] == frames[1]
    # even entries are GAN textures: the generator's image of latent [bank_seed, i], resized
    g = load_generator(ckpt)
    expected = generate(g, latents([0, 2], 1, TINY.z_dim), size=16)[0]
    assert frames[0][1][2] == expected.tobytes()


def test_bank_seed_changes_gan_textures(trained: tuple[Path, Path]) -> None:
    _, ckpt = trained
    a = load_preset(_gan_preset(ckpt))["texture"].bank
    b = load_preset(_gan_preset(ckpt, bank_seed=1))["texture"].bank
    assert a.generate(0).tobytes() != b.generate(0).tobytes()
    assert a.key != b.key


def test_gan_source_without_checkpoint_is_a_preset_error() -> None:
    with pytest.raises(PresetError, match=r"texture\.sources: the 'gan' source needs gan_checkpoint"):
        load_preset({"texture": {"sources": ["gan"]}})


def test_missing_checkpoint_says_to_train_one(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match=r"gan_checkpoint: GAN checkpoint '.*nope\.pt' does not "
                       r"exist; train one first with python scripts/train_gan.py"):  # fmt: skip
        load_preset(_gan_preset(tmp_path / "nope.pt"))


def test_corrupt_checkpoints_fail_naming_the_file(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, ckpt = trained
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    cases = [
        (truncated, r"cannot read GAN checkpoint '.*truncated\.pt' \(truncated, corrupt"),
        (garbage, r"cannot read GAN checkpoint '.*garbage\.pt'"),
        (other, r"'.*other\.pt' is not a domrand GAN checkpoint"),
    ]
    for path, message in cases:
        with pytest.raises(GanCheckpointError, match=message):
            load_generator(path)
        with pytest.raises(PresetError, match=r"texture\.gan_checkpoint: " + message):
            load_preset(_gan_preset(path))


def test_mismatched_checkpoints_fail_naming_the_file(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    data = torch.load(trained[1], map_location="cpu", weights_only=True)
    wrong_shape = tmp_path / "wrong_shape.pt"
    torch.save({**data, "model": {**data["model"], "g_channels": 64}}, wrong_shape)
    missing_key = tmp_path / "missing_key.pt"
    weights = dict(data["generator"])
    weights.pop(next(iter(weights)))
    torch.save({**data, "generator": weights}, missing_key)
    bad_config = tmp_path / "bad_config.pt"
    torch.save({**data, "model": {**data["model"], "size": 48}}, bad_config)
    for path, message in [
        (wrong_shape, r"'.*wrong_shape\.pt': generator weights do not match its config .*size mismatch"),
        (missing_key, r"'.*missing_key\.pt': generator weights do not match .*Missing key"),
        (bad_config, r"'.*bad_config\.pt': bad model config: GAN size must be one of"),
    ]:
        with pytest.raises(GanCheckpointError, match=message):
            load_generator(path)
        with pytest.raises(PresetError, match=message):
            load_preset(_gan_preset(path))


def test_empty_folder_names_the_folder_and_extensions(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images")
    message = rf"no images in '{tmp_path}'; looked for files ending in \.png, \.jpg"
    with pytest.raises(FileNotFoundError, match=message):
        train_gan(tmp_path, tmp_path / "x.pt", TINY, CropConfig(size=32), TrainConfig(steps=1))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(FileNotFoundError, match=rf"no readable images in '{tmp_path}' "
                       r"\(unreadable: broken\.png\); looked for files ending in \.png"):  # fmt: skip
        ImageCrops(tmp_path, CropConfig(size=32))


def test_crops_split_each_photo_into_train_and_heldout(trained: tuple[Path, Path]) -> None:
    photos, _ = trained
    config = CropConfig(size=32, holdout=0.25)
    train, held = ImageCrops(photos, config, "train"), ImageCrops(photos, config, "heldout")
    assert [t.shape[2] for t in train.images] == [48] * 3  # 64 px wide, the last 16 held out
    assert [t.shape[2] for t in held.images] == [16] * 3
    a = train.sample_uint8(4, np.random.default_rng(0))
    assert a.shape == (4, 32, 32, 3) and a.dtype == np.uint8
    assert a.tobytes() == train.sample_uint8(4, np.random.default_rng(0)).tobytes()


def test_quality_report_ranks_real_crops_closest(trained: tuple[Path, Path]) -> None:
    photos, ckpt = trained
    rows = {r.name: r for r in quality_report(ckpt, photos, num=60)}
    real = rows["real crops, train split (floor)"]
    procedural = rows["procedural (flat/checker/gradient/stripes/noise)"]
    assert set(rows) >= {"GAN"} and real.kid < procedural.kid
    assert real.color_w1 < procedural.color_w1
    assert 0.0 <= real.c2st <= procedural.c2st <= 1.0


def test_kid_is_near_zero_for_one_distribution() -> None:
    rng = np.random.default_rng(0)
    x, y, z = rng.normal(size=(300, 16)), rng.normal(size=(300, 16)), rng.normal(1, 1, (300, 16))
    same, _ = kid(x, y, subsets=10, subset_size=200)
    different, _ = kid(x, z, subsets=10, subset_size=200)
    assert abs(same) < 0.05 < different
    assert procedural_textures(10, 16).shape == (10, 16, 16, 3)


def test_scripts_train_sample_and_score(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from scripts import gan_quality, sample_gan
    from scripts import train_gan as train_script

    photos, ckpt = trained
    args = ["--images", str(photos), "--out", str(tmp_path / "s.pt"), "--steps", "2", "--size",
            "32", "--batch", "4", "--g-channels", "32", "--d-channels", "8", "--z-dim", "8",
            "--threads", "1", "--quiet"]  # fmt: skip
    assert train_script.main(args) == 0
    assert (tmp_path / "s_samples" / "step_000002.png").is_file()
    assert (tmp_path / "s_losses.png").is_file()
    assert sample_gan.main(["--model", str(ckpt), "--num", "3", "--out", str(tmp_path / "t")]) == 0
    pngs = sorted((tmp_path / "t").glob("*.png"))
    assert [p.name for p in pngs] == ["000000.png", "000001.png", "000002.png"]
    assert np.asarray(Image.open(pngs[0])).shape == (32, 32, 3)
    assert gan_quality.main(["--model", str(ckpt), "--images", str(photos), "--num", "30"]) == 0
    assert sample_gan.main(["--model", str(tmp_path / "none.pt"), "--num", "1",
                            "--out", str(tmp_path)]) == 2  # fmt: skip


def test_gan_code_is_imported_only_when_used() -> None:
    code = (
        "import sys, gymnasium as gym; from randomizers import load_preset; load_preset('tobin');"
        "gym.make('domrand/Reach-v0', randomization='tobin').reset(seed=0);"
        "print(sorted(m for m in sys.modules if m.startswith(('agents.gan', 'randomizers.gan', 'torch'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_tobin_gan_preset_needs_its_checkpoint(tmp_path: Path) -> None:
    text = (preset_dir() / "tobin_gan.yaml").read_text()
    assert "gan_checkpoint: ../gan/tobin_gan.pt" in text
    copy = tmp_path / "presets" / "tobin_gan.yaml"
    copy.parent.mkdir()
    copy.write_text(text)  # resolves ../gan/tobin_gan.pt next to the copy: missing
    with pytest.raises(PresetError, match=r"distractors\.gan_checkpoint: GAN checkpoint "
                       r"'.*gan/tobin_gan\.pt' does not exist; train one first with "
                       r"python scripts/train_gan.py"):  # fmt: skip
        load_preset(copy)
    shipped = asset_dir() / "gan" / "tobin_gan.pt"
    if shipped.is_file():
        kinds = {r.kind: r for r in load_preset("tobin_gan").randomizers}
        assert kinds["texture"].bank.sources == ("flat", "gradient", "checker", "gan")
