"""The CUT-style image translator: network shapes and PatchNCE, deterministic tiny training
with a loadable checkpoint, refusals naming the file or both sizes, and the train-translator
script end to end (translate_export: tests/agents/test_translate_export.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from agents.checkpoints import save_checkpoint
from agents.cli import train_translator as train_cli
from agents.gan.frames import collect_frames
from agents.gan.translator import (
    PatchProjector,
    Translator,
    TranslatorConfig,
    TranslatorNet,
    load_translator,
    patch_nce,
)
from agents.gan.translator_train import (
    TranslatorTraining,
    _augment,
    export_images,
    resized,
    train_translator,
)
from tests.agents.translator_data import ENV, TINY, export_rgb, tiny_export

TRAIN = TranslatorTraining(steps=3, batch=4, max_sources=8, sample_every=2, threads=1)
TINY_FLAGS = ["--size", "16", "--ngf", "4", "--batch", "2", "--steps", "2", "--max-sources", "8",
              "--sample-every", "1", "--threads", "1", "--quiet"]  # fmt: skip




@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 12-image 16 px export, a 4-image 32 px export and 8 target frames at 16 px."""
    root = tmp_path_factory.mktemp("translator")
    frames = root / "frames"
    collect_frames(ENV, "target", frames, num=8, size=16, seed=1000)
    return {"root": root, "export": tiny_export(root / "exp", 12, 16, 0),
            "big": tiny_export(root / "big", 4, 32, 1), "frames": frames}  # fmt: skip


@pytest.fixture(scope="module")
def trained(data) -> dict[str, object]:
    """Two 3-step runs with the same seed (the second to the same path, after a copy of the
    first), with torch's thread count and RNG state before and after the first."""
    root, threads = data["root"], torch.get_num_threads()
    ckpt = root / "tiny.pt"
    try:
        torch.set_num_threads(2)
        rng_before = torch.get_rng_state()
        a = train_translator([data["export"]], data["frames"], ckpt, TINY, TRAIN, progress=False)
        after = (torch.get_num_threads(), torch.get_rng_state())
        bytes_a, state_a = ckpt.read_bytes(), torch.load(ckpt, weights_only=True)["generator"]
        b = train_translator([data["export"]], data["frames"], ckpt, TINY, TRAIN, progress=False)
    finally:
        torch.set_num_threads(threads)
    return {"a": a, "b": b, "ckpt": ckpt, "bytes_a": bytes_a, "state_a": state_a,
            "threads_after": after[0], "rng_changed": not torch.equal(rng_before, after[1])}  # fmt: skip


# --- networks ---------------------------------------------------------------------------


def test_translator_keeps_shape_and_dtype_and_translates_each_image_alone() -> None:
    torch.manual_seed(0)
    translator = Translator(TranslatorNet(TINY), TINY)
    images = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    out = translator(images)
    assert out.shape == (5, 16, 16, 3) and out.dtype == np.uint8
    assert not np.array_equal(out, images) and len(np.unique(out)) > 10  # an untrained net
    # instance norm: an image's translation does not depend on its batch
    np.testing.assert_array_equal(translator(images, batch=2), out)
    np.testing.assert_array_equal(translator(images[3:4]), out[3:4])
    assert not translator.net.training


@pytest.mark.parametrize(("shape", "dtype", "got"), [
    ((2, 32, 32, 3), np.uint8, r"got uint8 \(2, 32, 32, 3\)"),
    ((2, 16, 16, 3), np.float32, r"got float32 \(2, 16, 16, 3\)"),
    ((16, 16, 3), np.uint8, r"got uint8 \(16, 16, 3\)"),
    ((2, 3, 16, 16), np.uint8, r"got uint8 \(2, 3, 16, 16\)"),
])  # fmt: skip
def test_translator_refuses_other_shapes_naming_the_expected_one(shape, dtype, got) -> None:
    translator = Translator(TranslatorNet(TINY), TINY)
    with pytest.raises(ValueError, match=r"reads uint8 images of shape \(N, 16, 16, 3\), " + got):
        translator(np.zeros(shape, dtype))


def test_translator_accepts_an_empty_batch() -> None:
    translator = Translator(TranslatorNet(TINY), TINY)
    assert translator(np.zeros((0, 16, 16, 3), np.uint8)).shape == (0, 16, 16, 3)


def test_encoder_features_have_the_documented_channels_and_strides() -> None:
    config = TranslatorConfig(size=16, ngf=4, blocks=2)
    net = TranslatorNet(config)
    assert net.channels == [4, 8, 16, 16, 16]
    feats = net.features(torch.zeros(2, 3, 16, 16), (0, 1, 2, 4))
    assert [tuple(f.shape) for f in feats] == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4),
                                               (2, 16, 4, 4)]  # fmt: skip
    assert tuple(net(torch.zeros(2, 3, 16, 16)).shape) == (2, 3, 16, 16)


def test_patch_nce_is_lowest_when_each_query_meets_its_own_key() -> None:
    gen = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(2, 32, 16, generator=gen), dim=-1).requires_grad_()
    k = F.normalize(q.detach() + 0.1 * torch.randn(2, 32, 16, generator=gen), dim=-1)
    k.requires_grad_()
    same = patch_nce(q, k, 0.07)
    shuffled = patch_nce(q, k[:, torch.randperm(32, generator=gen)], 0.07)
    assert same.item() < 0.1 < math.log(32) < shuffled.item()
    logits = torch.einsum("bpd,bqd->bpq", q, k) / 0.07  # the same InfoNCE, written out
    expected = -torch.log_softmax(logits, -1).diagonal(dim1=1, dim2=2).mean()
    assert same.item() == pytest.approx(expected.item(), rel=1e-5)
    same.backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is None  # keys are targets: no gradient flows into the input's features


def test_patch_projector_maps_sampled_patches_to_unit_vectors() -> None:
    proj = PatchProjector([4, 8], dim=32)
    feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4)]
    ids = [torch.tensor([0, 5, 63]), torch.tensor([1, 2, 3, 15, 0])]
    out = proj(feats, ids)
    assert [tuple(o.shape) for o in out] == [(2, 3, 32), (2, 5, 32)]
    for o in out:
        np.testing.assert_allclose(o.norm(dim=-1).detach().numpy(), 1.0, atol=1e-5)
    # patch 5 of the first layer is row 0, column 5 of the feature map
    alone = proj([feats[0][:, :, :1, 5:6], feats[1]], [torch.tensor([0]), ids[1]])[0]
    torch.testing.assert_close(alone[:, 0], out[0][:, 1])


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"size": 18}, "size must be a multiple of 4 and >= 16, got 18"),
    ({"size": 12}, "size must be a multiple of 4 and >= 16, got 12"),
    ({"ngf": 0}, "ngf must be >= 1, got 0"),
    ({"patches": 0}, "patches must be >= 1, got 0"),
    ({"blocks": 1, "nce_layers": (0, 4)}, "nce_layers must index the 4 encoder layers, got (0, 4)"),
    ({"nce_layers": (-1, 2)}, "nce_layers must index the 7 encoder layers"),
    ({"nce_layers": ()}, "nce_layers must index the 7 encoder layers, got ()"),
])  # fmt: skip
def test_translator_config_refuses_bad_values(kwargs, words) -> None:
    with pytest.raises(ValueError) as info:
        TranslatorConfig(**kwargs)
    assert str(info.value) == words or str(info.value).startswith(words)
    assert TranslatorConfig.from_dict(TINY.to_dict()) == TINY


# --- training ---------------------------------------------------------------------------


def test_training_writes_a_checkpoint_that_loads_safely(data, trained) -> None:
    ckpt = trained["ckpt"]
    payload = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert (payload["format"], payload["version"]) == ("domrand-translator", 1)
    assert payload["config"] == TINY.to_dict() and set(payload) == {
        "format", "version", "config", "meta", "generator"}  # fmt: skip
    meta = payload["meta"]
    assert meta["num_frames"] == 8 and meta["frame_size"] == [16, 16]
    assert meta["sources"] == [str(data["export"])] and meta["frames"] == str(data["frames"])
    assert meta["num_renders"] == 8 and meta["steps"] == 3 and meta["training"]["seed"] == 0
    assert [row["step"] for row in meta["losses"]] == [1, 2, 3]
    back = load_translator(ckpt)
    assert back.config == TINY and back.meta["num_frames"] == 8 and not back.net.training
    for key, value in payload["generator"].items():
        assert torch.equal(back.net.state_dict()[key], value), key


def test_training_writes_a_three_row_sample_grid_and_finite_losses(trained) -> None:
    result = trained["b"]
    assert result.checkpoint == trained["ckpt"] and result.grid.name == "tiny_samples.png"
    with Image.open(result.grid) as grid:
        # 8 tiles of 16 px per row, 2 px padding: rows of renders, translations, frames
        assert grid.size == (8 * 16 + 9 * 2, 3 * 16 + 4 * 2)
    assert len(result.losses) == TRAIN.steps
    for row in result.losses:
        assert set(row) == {"step", "d", "gan", "nce", "nce_idt", "keep"}
        assert row["keep"] == 0.0  # no keep localizer
        assert all(math.isfinite(v) for v in row.values())
        assert row["nce"] > 0 and row["nce_idt"] > 0  # cross-entropies, never exactly 0


def test_training_with_the_same_seed_gives_the_same_weights(data, trained, tmp_path) -> None:
    state_b = torch.load(trained["ckpt"], weights_only=True)["generator"]
    assert state_b.keys() == trained["state_a"].keys()
    for key, value in trained["state_a"].items():
        assert torch.equal(value, state_b[key]), key
    assert trained["a"].losses == trained["b"].losses
    other = TranslatorTraining(steps=1, batch=4, max_sources=8, sample_every=1, threads=1, seed=1)
    threads = torch.get_num_threads()
    try:
        train_translator([data["export"]], data["frames"], tmp_path / "s1.pt", TINY, other,
                         progress=False)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    state_1 = torch.load(tmp_path / "s1.pt", weights_only=True)["generator"]
    assert any(not torch.equal(v, state_1[k]) for k, v in state_b.items())


def test_training_with_the_same_seed_writes_the_same_bytes(trained) -> None:
    assert trained["ckpt"].read_bytes() == trained["bytes_a"]


def test_training_leaves_torch_thread_count_as_it_was(trained) -> None:
    assert trained["threads_after"] == 2


def test_training_leaves_torch_global_rng_untouched(trained) -> None:
    assert not trained["rng_changed"]


def test_export_images_draws_renders_from_exports(data, tmp_path: Path) -> None:
    every = export_rgb(data["export"])
    np.testing.assert_array_equal(export_images([data["export"]], 100, 16), every)
    some = export_images([data["export"]], 5, 16, seed=3)
    assert some.shape == (5, 16, 16, 3) and some.dtype == np.uint8
    rows = [int(np.flatnonzero((every == im).all((1, 2, 3)))[0]) for im in some]
    assert rows == sorted(set(rows))  # distinct renders, in file order
    np.testing.assert_array_equal(export_images([data["export"]], 5, 16, seed=3), some)
    two = export_images([data["export"], data["export"]], 6, 16, seed=3)
    assert two.shape == (6, 16, 16, 3)  # 3 from each, limit respected


def test_export_images_refuses_another_size_or_a_non_export(data, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"rgb/000000\.png' is 32x32 px; the translator is "
                       r"trained at 16 px \(export with --size 16\)"):  # fmt: skip
        export_images([data["export"], data["big"]], 8, 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images in"):
        export_images([tmp_path / "empty"], 8, 16)
    (tmp_path / "empty" / "rgb").mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no rgb/\*\.png and no images: give an "
                       r"export folder"):  # fmt: skip
        export_images([tmp_path / "empty"], 8, 16)


def test_export_images_reads_a_plain_image_folder_resized(data) -> None:
    frames = export_images([data["frames"]], 100, 8)
    assert frames.shape == (8, 8, 8, 3) and frames.dtype == np.uint8
    full = export_images([data["frames"]], 100, 16)
    np.testing.assert_array_equal(frames, resized(full, 8))


def test_export_images_refuses_no_exports_clearly() -> None:
    with pytest.raises(ValueError, match="export"):
        export_images([], 8, 16)


def test_resized_and_augment_keep_shapes_and_content() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (2, 20, 24, 3), dtype=np.uint8)
    small = resized(frames, 16)
    assert small.shape == (2, 16, 16, 3) and small.dtype == np.uint8
    assert resized(small, 16) is small
    x = torch.rand(6, 3, 8, 8) * 2 - 1
    flipped = _augment(x, torch.Generator().manual_seed(0), shift=0)
    for a, b in zip(x, flipped, strict=True):  # no shift: each image as it is, or mirrored
        assert torch.equal(a, b) or torch.equal(a.flip(2), b)
    assert any(
        torch.equal(a.flip(2), b) and not torch.equal(a, b) for a, b in zip(x, flipped, strict=True)
    )
    shifted = _augment(x, torch.Generator().manual_seed(1))
    assert shifted.shape == x.shape
    assert torch.equal(shifted, _augment(x, torch.Generator().manual_seed(1)))


# --- checkpoints ------------------------------------------------------------------------


def test_load_translator_refuses_missing_corrupt_and_foreign_files(trained, tmp_path) -> None:
    good = trained["ckpt"].read_bytes()
    missing = tmp_path / "missing.pt"
    with pytest.raises(FileNotFoundError, match=r"translator checkpoint '.*missing\.pt' not found"):
        load_translator(missing)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"'.*corrupt\.pt' is not a readable translator "
                       r"checkpoint .*truncated or corrupt"):  # fmt: skip
        load_translator(corrupt)
    foreign = save_checkpoint(tmp_path / "loc.pt", {"format": "domrand-localizer", "version": 1})
    with pytest.raises(ValueError, match=r"'.*loc\.pt' is not a translator checkpoint "
                       r"\(expected format 'domrand-translator'\)"):  # fmt: skip
        load_translator(foreign)
    payload = torch.load(trained["ckpt"], weights_only=True)
    save_checkpoint(tmp_path / "v2.pt", {**payload, "version": 2})
    with pytest.raises(ValueError, match=r"'.*v2\.pt' has checkpoint version 2"):
        load_translator(tmp_path / "v2.pt")
    save_checkpoint(tmp_path / "wide.pt", {**payload, "config": {**payload["config"], "ngf": 8}})
    with pytest.raises(ValueError, match=r"'.*wide\.pt': weights do not match the stored config"):
        load_translator(tmp_path / "wide.pt")


# --- scripts ----------------------------------------------------------------------------


def test_train_script_writes_a_checkpoint_and_keeps_other_kinds(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "t.pt"
    argv = ["--source", str(data["export"]), "--frames", str(data["frames"]), "--out", str(ckpt),
            "--blocks", "2", *TINY_FLAGS]  # fmt: skip
    threads = torch.get_num_threads()
    try:
        assert train_cli.main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    assert printed.startswith("trained 2 steps in ") and f"checkpoint  {ckpt}" in printed
    assert f"samples     {tmp_path / 't_samples.png'}" in printed
    assert (tmp_path / "t_samples.png").is_file()
    back = load_translator(ckpt)
    assert back.config == TranslatorConfig(size=16, ngf=4, blocks=2) and back.meta["steps"] == 2
    other = save_checkpoint(tmp_path / "loc.pt", {"format": "domrand-localizer", "version": 1})
    before = other.read_bytes()
    argv[argv.index(str(ckpt))] = str(other)
    assert train_cli.main(argv) == 2  # another kind of checkpoint is not replaced
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "already exists and is a localizer checkpoint" in err
    assert other.read_bytes() == before


def test_train_script_refuses_bad_inputs_with_one_line_errors(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    few = tmp_path / "few"
    few.mkdir()
    for i in range(3):
        Image.new("RGB", (16, 16), (i, i, i)).save(few / f"{i}.png")
    base = ["--source", str(data["export"]), "--out", str(tmp_path / "t.pt"), *TINY_FLAGS]
    cases = [
        ([*base, "--frames", str(few), "--blocks", "2"], "holds 3 image(s); at least 8"),
        ([*base, "--frames", str(data["frames"]), "--size", "18"], "size must be a multiple of 4"),
        ([*base, "--frames", str(data["frames"]), "--steps", "0"], "steps must be an int >= 1, got 0"),
        ([*base, "--frames", str(data["frames"]), "--blocks", "2", "--max-sources", "0"],
         "max_sources must be an int >= 1, got 0"),
        (["--source", str(few / "none"), "--frames", str(data["frames"]), "--out",
          str(tmp_path / "t.pt"), "--blocks", "2", *TINY_FLAGS], "does not exist"),
    ]  # fmt: skip
    for argv, words in cases:
        assert train_cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few"]  # nothing written


def test_train_script_accepts_one_residual_block(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--source", str(data["export"]), "--frames", str(data["frames"]),
            "--out", str(tmp_path / "t.pt"), "--blocks", "1", *TINY_FLAGS]  # fmt: skip
    threads = torch.get_num_threads()
    try:
        assert train_cli.main(argv) == 0, capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)
