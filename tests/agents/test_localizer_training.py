"""Localizer training aids: photometric augmentation, the auxiliary mask head, object masks
from an export, and training on several exports at once."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.perception import localizer_training, pose_data
from agents.perception.localizer import (
    LocalizerConfig,
    load_data,
    load_localizer,
    save_localizer,
    world_positions,
)
from agents.perception.localizer_training import (
    half_size,
    mask_targets,
    mirror_batch,
    train_localizer,
)
from agents.perception.photometric import JITTER_CHUNK, color_jitter
from agents.perception.pose_data import concat_pose_data, load_object_masks
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from scripts import train_localizer as train_script

TINY = LocalizerConfig(epochs=2, batch_size=16, width=4, seed=5, mask_weight=1.0,
                       color_jitter=0.4)  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loctrain")
    out = {}
    for name, env, n, seed, size in (("a", "Lift", 24, 0, 32), ("b", "Lift", 16, 1, 32),
                                     ("push", "Push", 4, 2, 32), ("big", "Lift", 16, 3, 64)):  # fmt: skip
        out[name] = export_dataset(
            ExportConfig(env_id=f"domrand/{env}-v0", preset="tobin", num_images=n, size=size,
                         out=str(root / name), seed=seed, visibility=False),
            progress=False,
        )  # fmt: skip
    return out


def test_color_jitter_is_seeded_per_image_and_bounded() -> None:
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    plain = color_jitter(images, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(plain, images.float() / 255.0)
    a = color_jitter(images, 0.4, torch.Generator().manual_seed(1))
    b = color_jitter(images, 0.4, torch.Generator().manual_seed(1))
    c = color_jitter(images, 0.4, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0 and a.dtype == torch.float32
    gray = torch.full((64, 3, 4, 4), 128, dtype=torch.uint8)  # a mid-grey image, many draws
    means = color_jitter(gray, 0.4, torch.Generator().manual_seed(3)).mean((1, 2, 3))
    assert len(torch.unique(means)) == 64  # every image gets its own factors
    # brightness 0.6..1.4 then gamma exp(+-0.4) of 128 / 255: within 0.167..0.789, spread wide
    assert 0.166 < float(means.min()) < 0.3 and 0.65 < float(means.max()) < 0.79
    with pytest.raises(ValueError, match=r"strength must lie in \[0, 1\), got 1.5"):
        color_jitter(images, 1.5, torch.Generator())


def test_color_jitter_in_place_matches_the_out_of_place_formula() -> None:
    """The in-place arithmetic, a chunk of images at a time, gives exactly the values of the
    plain formula on the whole batch and never writes into its input (a float batch
    included)."""
    n = 2 * JITTER_CHUNK + 5  # two whole chunks and a part
    images = torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8)
    gen = torch.Generator().manual_seed(4)
    b, c, s = (0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=gen) for _ in range(3))
    x = (images.float() / 255.0 * b).clamp(0, 1)
    m = x.mean((1, 2, 3), keepdim=True)
    x = ((x - m) * c + m).clamp(0, 1)
    gray = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    x = ((x - gray) * s + gray).clamp(0, 1)
    expected = x.clamp_min(1e-6).pow((0.8 * torch.rand(n, 1, 1, 1, generator=gen) - 0.4).exp())
    # the reference drew its factors in color_jitter's order: brightness, contrast, saturation
    # and gamma, all from one generator with the same seed
    got = color_jitter(images, 0.4, torch.Generator().manual_seed(4))
    assert torch.equal(got, expected)
    floats = images.float()
    before = floats.clone()
    color_jitter(floats, 0.4, torch.Generator().manual_seed(4))
    assert torch.equal(floats, before)


def test_object_masks_match_the_export_labels(data) -> None:
    part = load_data(data["a"], "cube")
    masks = load_object_masks(part, "cube")
    assert masks.shape == (24, 32, 32) and masks.dtype == torch.bool
    records = [json.loads(line) for line in (data["a"] / "samples.jsonl").read_text().splitlines()]
    for mask, record in zip(masks, records, strict=True):
        cube = next(o for o in record["objects"] if o["name"] == "cube")
        assert int(mask.sum()) == cube["visible_pixels"]
        if cube["visible_pixels"]:
            x, y, w, h = cube["bbox"]
            ys, xs = np.nonzero(mask.numpy())
            assert xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + h
    sub = load_object_masks(part.subset(np.array([3, 1])), "cube")
    assert torch.equal(sub, masks[[3, 1]])
    cover = mask_targets(masks, 2)
    assert cover.shape == (24, 16, 16)
    np.testing.assert_allclose(cover.sum((1, 2)).numpy() * 4, masks.sum((1, 2)).numpy())
    with pytest.raises(ValueError, match="no object named 'mug'"):
        load_object_masks(part, "mug")


def test_masks_and_positions_come_from_the_records_read_with_the_images(data, monkeypatch) -> None:
    """samples.jsonl is parsed once: masks (also of a subset) and world positions reuse it."""
    part, other = load_data(data["a"], "cube"), load_data(data["b"], "cube")
    expected = load_object_masks(part, "cube")
    np.testing.assert_array_equal(part.world, world_positions(data["a"], "cube"))
    monkeypatch.setattr(pose_data, "_read_records", lambda *a: pytest.fail("parsed again"))
    assert torch.equal(load_object_masks(part, "cube"), expected)
    sub = part.subset(np.array([5, 2]))
    assert torch.equal(load_object_masks(sub, "cube"), expected[[5, 2]])
    np.testing.assert_array_equal(sub.world, part.world[[5, 2]])
    both = concat_pose_data([part, other])
    assert both.world is not None and len(both.world) == len(both) and both.mask_refs is None


def test_mirrored_samples_carry_mirrored_labels_and_masks() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 8, 8, generator=gen)
    pixels = torch.tensor([[0.25, -0.5], [-0.75, 0.1], [0.0, 0.0]])
    cover = torch.rand(3, 4, 4, generator=gen)
    flip = torch.tensor([True, False, True])
    original = x.clone()
    mx, mp, mc = mirror_batch(x, pixels, cover, flip)
    assert mx is x  # in place: the batch is a fresh training input
    assert torch.equal(mx[0], original[0].flip(-1)) and torch.equal(mx[1], original[1])
    expected = torch.where(flip[:, None, None, None], original.flip(-1), original)
    assert torch.equal(mx, expected)  # what the copying version gave, bit for bit
    assert mc is not None and torch.equal(mc[2], cover[2].flip(-1)) and torch.equal(mc[1], cover[1])
    # pixel u becomes W - 1 - u: in [-1, 1] that is -p - 2 / W; v stays
    torch.testing.assert_close(mp, torch.tensor([[-0.5, -0.5], [-0.75, 0.1], [-0.25, 0.0]]))
    back = mirror_batch(mx, mp, mc, flip)  # mirroring twice gives the batch back
    assert torch.equal(back[0], original) and torch.equal(back[2], cover)
    torch.testing.assert_close(back[1], pixels)
    assert mirror_batch(x, pixels, None, flip)[2] is None
    with pytest.raises(ValueError, match="mirror must be True or False"):
        LocalizerConfig(mirror=1)  # type: ignore[arg-type]


def test_half_size_keeps_every_label_on_the_object() -> None:
    images = torch.zeros((2, 3, 16, 16), dtype=torch.uint8)
    images[0, :, 10:12, 6:8] = 200  # a 2 x 2 block centred on full-size pixel (6.5, 10.5)
    images[1, 1, 0:2, 0:2] = torch.tensor([[1, 2], [3, 5]], dtype=torch.uint8)
    pixels = torch.tensor([[2 * 6.5 / 16 - 1, 2 * 10.5 / 16 - 1], [0.0, 0.0]])  # p = 2u / W - 1
    cover = torch.zeros(2, 8, 8)
    cover[0, 5, 3] = 1.0
    small, half_pixels, half_cover = half_size(images, pixels, cover, chunk=1)
    assert small.shape == (2, 3, 8, 8) and small.dtype == torch.uint8
    assert int(small[0, 0, 5, 3]) == 200 and int(small[0].sum()) == 3 * 200  # one pixel
    assert int(small[1, 1, 0, 0]) == 3  # (1 + 2 + 3 + 5) / 4 = 2.75, rounded
    # the block is the half-size pixel (3, 5): p' = 2u' / (W / 2) - 1, which is p - 1 / W
    torch.testing.assert_close(half_pixels[0], torch.tensor([2 * 3 / 8 - 1, 2 * 5 / 8 - 1]))
    assert half_cover is not None and half_cover.shape == (2, 4, 4)
    assert float(half_cover[0, 2, 1]) == 0.25 and float(half_cover.sum()) == 0.25
    assert half_size(images, pixels, None)[2] is None


@pytest.mark.parametrize(("low", "says"), [
    (2, r"low_res_epochs must be an int in \[0, epochs\) = \[0, 2\)"),
    (-1, "low_res_epochs must be an int in"),
    (True, "got True"),
])  # fmt: skip
def test_low_res_epochs_must_leave_a_full_size_epoch(low: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        LocalizerConfig(epochs=2, low_res_epochs=low)  # type: ignore[arg-type]


def test_low_res_epochs_train_at_half_size_first(data, monkeypatch: pytest.MonkeyPatch) -> None:
    train = concat_pose_data([load_data(data["a"], "cube"), load_data(data["b"], "cube")])
    masks = torch.cat(
        [load_object_masks(load_data(d, "cube"), "cube") for d in (data["a"], data["b"])]
    )
    sizes: list[int] = []
    real = localizer_training.batch_loss
    monkeypatch.setattr(localizer_training, "batch_loss",
                        lambda model, x, *rest: sizes.append(x.shape[-1]) or real(model, x, *rest))  # fmt: skip
    config = replace(TINY, epochs=3, low_res_epochs=2, mirror=True)
    a = train_localizer(train, None, config, env_id="domrand/Lift-v0", masks=masks, progress=False)
    assert sizes == [16] * 4 + [32] * 2  # 40 images, batches of 16: two steps per epoch
    b = train_localizer(train, None, config, env_id="domrand/Lift-v0", masks=masks, progress=False)
    plain = train_localizer(train, None, replace(config, low_res_epochs=0), env_id="domrand/Lift-v0",
                            masks=masks, progress=False)  # fmt: skip
    state = a.model.state_dict()
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in state.items())  # seeded
    assert not all(torch.equal(v, plain.model.state_dict()[k]) for k, v in state.items())
    assert a.config.low_res_epochs == 2 and len(a.history) == 3
    odd = replace(train, images=train.images[..., :30, :30])  # a multiple of 2, not of 4
    with pytest.raises(ValueError, match="low_res_epochs needs an image size that is a multiple of 4"):
        train_localizer(odd, None, replace(config, mask_weight=0.0), env_id="domrand/Lift-v0",
                        progress=False)  # fmt: skip


def test_mask_head_training_is_deterministic_and_round_trips(data, tmp_path: Path) -> None:
    train = concat_pose_data([load_data(data["a"], "cube"), load_data(data["b"], "cube")])
    assert len(train) == 40 and train.pixels is not None and train.pixels.shape == (40, 2)
    one = load_data(data["a"], "cube").subset(np.array([3, 1]))
    assert concat_pose_data([one]) is one  # keeps its root and index for reading labels
    masks = torch.cat(
        [load_object_masks(load_data(d, "cube"), "cube") for d in (data["a"], data["b"])]
    )
    a = train_localizer(train, None, TINY, env_id="domrand/Lift-v0", masks=masks, progress=False)
    b = train_localizer(train, None, TINY, env_id="domrand/Lift-v0", masks=masks, progress=False)
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert a.model.head.out_channels == 2 and a.model(torch.zeros(1, 3, 32, 32)).shape == (
        1,
        16,
        16,
    )
    back = load_localizer(save_localizer(a, tmp_path / "m.pt"))
    assert back.config.mask_weight == 1.0 and back.config.color_jitter == 0.4
    np.testing.assert_array_equal(back.positions(train.images), a.positions(train.images))
    mirrored = replace(TINY, mirror=True)
    m = train_localizer(train, None, mirrored, env_id="domrand/Lift-v0", masks=masks,
                        progress=False)  # fmt: skip
    again = train_localizer(train, None, mirrored, env_id="domrand/Lift-v0", masks=masks,
                            progress=False)  # fmt: skip
    weights = [(v, again.model.state_dict()[k], a.model.state_dict()[k])
               for k, v in m.model.state_dict().items()]  # fmt: skip
    assert all(torch.equal(v, w) for v, w, _ in weights)  # seeded
    assert not all(torch.equal(v, u) for v, _, u in weights)  # and it changes the training
    assert load_localizer(save_localizer(m, tmp_path / "mirror.pt")).config.mirror is True
    with pytest.raises(ValueError, match=r"needs one 32x32 object mask per training sample"):
        train_localizer(train, None, TINY, env_id="domrand/Lift-v0", masks=None, progress=False)


def test_bf16_training_is_seeded_learns_like_fp32_and_is_recorded(data, tmp_path: Path) -> None:
    """bfloat16 forward passes (about 2x faster on CPUs with AMX): the same seed gives the
    same float32 weights, the losses follow fp32's closely, and the checkpoint says so."""
    train = concat_pose_data([load_data(data["a"], "cube"), load_data(data["b"], "cube")])
    masks = torch.cat(
        [load_object_masks(load_data(d, "cube"), "cube") for d in (data["a"], data["b"])]
    )
    bf16 = replace(TINY, precision="bf16")
    a, b, full = (train_localizer(train, None, c, env_id="domrand/Lift-v0", masks=masks,
                                  progress=False) for c in (bf16, bf16, TINY))  # fmt: skip
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
        assert v.dtype == full.model.state_dict()[k].dtype, k
    assert not torch.equal(a.model.head.weight, full.model.head.weight)
    losses = [[r["loss"] for r in m.history] for m in (a, full)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=0.05)
    back = load_localizer(save_localizer(a, tmp_path / "bf16.pt"))
    assert back.config.precision == "bf16"
    np.testing.assert_array_equal(back.positions(train.images), a.positions(train.images))
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, got 'half'"):
        LocalizerConfig(precision="half")


def test_script_trains_on_several_exports(data, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "loc.pt"
    assert train_script.main(["--train", str(data["a"]), str(data["b"]), "--out", str(out),
                              "--epochs", "1", "--batch-size", "16", "--width", "4",
                              "--mask-weight", "0.5", "--color-jitter", "0.3",
                              "--precision", "bf16", "--no-progress"]) == 0  # fmt: skip
    loc = load_localizer(out)
    assert loc.config.precision == "bf16"
    assert loc.meta["num_train"] == 40
    assert loc.meta["train_roots"] == [str(data["a"]), str(data["b"])]
    assert (loc.config.mask_weight, loc.config.color_jitter) == (0.5, 0.3)
    tuned = tmp_path / "tuned.pt"
    assert train_script.main(["--train", str(data["b"]), "--out", str(tuned), "--init", str(out),
                              "--epochs", "1", "--batch-size", "16", "--width", "4",
                              "--mask-weight", "0.5", "--no-progress"]) == 0  # fmt: skip
    assert load_localizer(tuned).meta["init"] == str(out)
    finer = tmp_path / "finer.pt"  # twice the resolution, stride-2 stem: the same 16 x 16 heatmap
    assert train_script.main(["--train", str(data["big"]), "--out", str(finer), "--init", str(out),
                              "--epochs", "1", "--batch-size", "16", "--width", "4",
                              "--stem-stride", "2", "--mask-weight", "0.5", "--no-progress"]) == 0  # fmt: skip
    fine = load_localizer(finer)
    assert (fine.image_size, fine.config.stem_stride, fine.meta["init"]) == (64, 2, str(out))
    capsys.readouterr()
    bad = [(["--train", str(data["b"]), "--init", str(out), "--width", "8", "--mask-weight", "0.5",
             "--batch-size", "16"],
            "cannot start from a localizer with (width, mask head, heatmap side, merge) "
            "(4, True, 16, 'concat'): this training has (8, True, 16, 'concat')"),
           (["--train", str(data["big"]), "--init", str(out), "--width", "4", "--mask-weight", "0.5",
             "--batch-size", "16"],
            "(4, True, 16, 'concat'): this training has (4, True, 32, 'concat')"),
           (["--train", str(data["b"]), "--init", str(out), "--width", "4", "--mask-weight", "0.5",
             "--batch-size", "16", "--merge", "add"],
            "(4, True, 16, 'concat'): this training has (4, True, 16, 'add')"),
           (["--train", str(data["push"]), "--init", str(out), "--width", "4", "--object", "goal"],
            "localizes 'cube', not 'goal'")]  # fmt: skip
    bad += [
        (["--train", str(data["a"]), str(data["push"])], "was exported from domrand/Push-v0"),
        (["--train", str(data["a"]), str(data["big"])], "exports of different image sizes"),
        (["--train", str(data["a"]), "--color-jitter", "1"], "color_jitter must lie in [0, 1)"),
        (["--train", str(data["a"]), "--mask-weight", "-1"], "mask_weight must be finite"),
    ]
    for argv, words in bad:
        assert train_script.main([*argv, "--out", str(tmp_path / "x.pt")]) == 2
        assert words in capsys.readouterr().err
