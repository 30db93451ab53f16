"""The translator's semantic-consistency term (agents/gan/keep_loss.py): labelled renders,
the frozen localizer's loss, training and CLI with --keep; starting from a translator (--init)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agents.cli.train_translator import main as train_main
from agents.gan.frames import collect_frames
from agents.gan.keep_loss import frozen, keep_loss, labelled_renders
from agents.gan.translator import TranslatorConfig, load_translator
from agents.gan.translator_train import TranslatorTraining, train_translator
from agents.perception.localizer import load_localizer
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset

ENV = "domrand/Lift-v0"
LOCALIZER = Path(__file__).resolve().parents[2] / "assets" / "models" / "lift_cube64.pt"
SMALL = TranslatorConfig(size=64, ngf=4, blocks=1, ndf=4, nce_layers=(0, 1, 3), patches=16)
STEPS = TranslatorTraining(steps=2, batch=2, max_sources=6, sample_every=2, threads=1,
                           lambda_keep=1.0)  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 6-image 64 px Lift export (nominal visuals, so the shipped localizer finds the cube)
    and 8 target frames."""
    root = tmp_path_factory.mktemp("keep")
    export = export_dataset(
        ExportConfig(env_id=ENV, preset="none", num_images=6, size=64, out=str(root / "exp"),
                     seed=0, visibility=False),
        progress=False,
    )  # fmt: skip
    frames = root / "frames"
    collect_frames(ENV, "target", frames, num=8, size=64, seed=5)
    return {"export": Path(export), "frames": frames}


def test_labelled_renders_pair_images_with_centres_and_masks(data) -> None:
    got = labelled_renders([data["export"]], 4, 64, "cube")
    assert got.images.shape == (4, 64, 64, 3) and got.images.dtype == np.uint8
    assert got.pixels.shape == (4, 2) and bool((got.pixels.abs() <= 1).all())
    assert got.masks.shape == (4, 64, 64) and got.masks.dtype == torch.bool
    for image_mask, centre in zip(got.masks, got.pixels, strict=True):
        ys, xs = np.nonzero(image_mask.numpy())
        assert len(xs) > 0  # the cube is visible in every nominal render
        u, v = ((centre.numpy() + 1) * 32).tolist()
        assert abs(xs.mean() + 0.5 - u) < 3 and abs(ys.mean() + 0.5 - v) < 3


def test_labelled_renders_refuse_another_size_and_no_exports(data) -> None:
    with pytest.raises(ValueError, match=r"64 px images .*translator works at 32 px"):
        labelled_renders([data["export"]], 4, 32, "cube")
    with pytest.raises(ValueError, match="no export folders"):
        labelled_renders([], 4, 64, "cube")


def test_keep_loss_is_low_for_the_true_labels_and_high_for_wrong_ones(data) -> None:
    loc = frozen(load_localizer(LOCALIZER))
    got = labelled_renders([data["export"]], 6, 64, "cube")
    x = torch.from_numpy(got.images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        right = keep_loss(loc, x, got.pixels, got.masks)
        wrong = keep_loss(loc, x, -got.pixels, got.masks.flip(1, 2))
    assert float(right) < 0.5 * float(wrong)
    assert not any(p.requires_grad for p in loc.model.parameters())


def test_training_with_keep_records_the_term_and_leaves_the_localizer(data, tmp_path) -> None:
    before = {k: v.clone() for k, v in load_localizer(LOCALIZER).model.state_dict().items()}
    result = train_translator([data["export"]], data["frames"], tmp_path / "k.pt", SMALL, STEPS,
                              progress=False, keep=LOCALIZER)  # fmt: skip
    assert len(result.losses) == 2
    assert all(np.isfinite(r["keep"]) and r["keep"] > 0 for r in result.losses)
    assert load_translator(tmp_path / "k.pt").meta["keep"] == "cube"
    after = load_localizer(LOCALIZER).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_keep_and_its_weight_go_together(data, tmp_path) -> None:
    plain = TranslatorTraining(steps=1, batch=2, max_sources=4, threads=1)
    with pytest.raises(ValueError, match="lambda_keep > 0 and a keep localizer go together"):
        train_translator([data["export"]], data["frames"], tmp_path / "a.pt", SMALL, plain,
                         progress=False, keep=LOCALIZER)  # fmt: skip
    with pytest.raises(ValueError, match="go together"):
        train_translator([data["export"]], data["frames"], tmp_path / "b.pt", SMALL, STEPS,
                         progress=False)  # fmt: skip
    small = TranslatorConfig(size=32, ngf=4, blocks=1, ndf=4, nce_layers=(0, 1, 3), patches=16)
    with pytest.raises(ValueError, match="reads 64 px images; the translator works at 32 px"):
        train_translator([data["export"]], data["frames"], tmp_path / "c.pt", small, STEPS,
                         progress=False, keep=LOCALIZER)  # fmt: skip


def test_script_refuses_a_keep_weight_without_a_keep_localizer(data, tmp_path, capsys) -> None:
    argv = ["--source", str(data["export"]), "--frames", str(data["frames"]),
            "--out", str(tmp_path / "t.pt"), "--lambda-keep", "2", "--quiet"]  # fmt: skip
    assert train_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --lambda-keep weighs the --keep localizer's loss; give --keep too"
    assert not (tmp_path / "t.pt").exists()


def test_init_starts_from_a_translator_and_refuses_another_config(data, tmp_path) -> None:
    plain = TranslatorTraining(steps=1, batch=2, max_sources=4, threads=1)
    train_translator([data["export"]], data["frames"], tmp_path / "a.pt", SMALL, plain,
                     progress=False)  # fmt: skip
    still = TranslatorTraining(steps=1, batch=2, max_sources=4, threads=1, lr=1e-12)
    train_translator([data["export"]], data["frames"], tmp_path / "b.pt", SMALL, still,
                     progress=False, init=tmp_path / "a.pt")  # fmt: skip
    a, b = load_translator(tmp_path / "a.pt"), load_translator(tmp_path / "b.pt")
    for key, value in a.net.state_dict().items():
        torch.testing.assert_close(b.net.state_dict()[key], value, atol=1e-6, rtol=0)
    assert b.meta["init"] == str(tmp_path / "a.pt")
    wider = TranslatorConfig(size=64, ngf=8, blocks=1, ndf=4, nce_layers=(0, 1, 3), patches=16)
    with pytest.raises(ValueError, match=r"cannot start from .*a\.pt.*'ngf': 4"):
        train_translator([data["export"]], data["frames"], tmp_path / "c.pt", wider, plain,
                         progress=False, init=tmp_path / "a.pt")  # fmt: skip
