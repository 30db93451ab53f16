"""translate_export: a copy of an export with its RGB images translated and its labels
hard-linked, built in OUT.partial and renamed; its refusals; the geometry report on a
localizer whose answers are known; the translate-export script with its geometry and KID
checks. (The translator itself: tests/agents/test_translator.py.)"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from agents.cli import translate_export as translate_cli
from agents.gan.frames import collect_frames
from agents.gan.translate_export import geometry_report, translate_export
from agents.gan.translator import (
    Translator,
    TranslatorNet,
    load_translator,
    save_translator,
)
from agents.perception.localizer import LocalizerConfig, load_data, save_localizer
from agents.perception.localizer_training import train_localizer
from tests.agents.translator_data import ENV, TINY, export_rgb, tiny_export


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 12-image 16 px export, a 4-image 32 px export, 8 target frames at 16 px and an
    untrained 16 px translator's checkpoint (its meta as training would write it)."""
    root = tmp_path_factory.mktemp("translate")
    frames = root / "frames"
    collect_frames(ENV, "target", frames, num=8, size=16, seed=1000)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = TranslatorNet(TINY)
    ckpt = save_translator(root / "tiny.pt", net, TINY, {"frames": str(frames), "num_frames": 8})
    return {"root": root, "export": tiny_export(root / "exp", 12, 16, 0),
            "big": tiny_export(root / "big", 4, 32, 1), "frames": frames, "ckpt": ckpt}  # fmt: skip


@pytest.fixture(scope="module")
def translated(data) -> tuple[Translator, Path]:
    """The tiny translator and the export translated with it."""
    translator = load_translator(data["ckpt"])
    out = translate_export(translator, data["export"], data["root"] / "exp_cut",
                           checkpoint="tiny.pt", progress=False)  # fmt: skip
    return translator, out


def test_translate_export_keeps_labels_and_translatesexport_rgb(data, translated) -> None:
    translator, out = translated
    src = data["export"]
    assert out == data["root"] / "exp_cut" and not (data["root"] / "exp_cut.partial").exists()
    assert (out / "samples.jsonl").read_bytes() == (src / "samples.jsonl").read_bytes()
    for sub in ("labels", "instances"):
        names = sorted(p.name for p in (src / sub).iterdir())
        assert names and names == sorted(p.name for p in (out / sub).iterdir())
        for name in names:  # hard links: the very same files
            assert os.path.samefile(src / sub / name, out / sub / name)
    before, after = export_rgb(src), export_rgb(out)
    assert [p.name for p in sorted((out / "rgb").iterdir())] == [
        f"{i:06d}.png" for i in range(12)]  # fmt: skip
    np.testing.assert_array_equal(after, translator(before))
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    manifest = json.loads((out / "manifest.json").read_text())
    source_manifest = json.loads((src / "manifest.json").read_text())
    assert manifest.pop("translation") == {"checkpoint": "tiny.pt", "source": str(src),
                                           "frames": str(data["frames"]), "num_frames": 8}  # fmt: skip
    assert manifest == source_manifest


def test_translate_export_refuses_existing_out_other_size_and_non_exports(
    data, translated, tmp_path: Path
) -> None:
    translator, out = translated
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(ValueError, match=r"exp_cut' already exists; choose a new folder"):
        translate_export(translator, data["export"], out, progress=False)
    assert sorted(p.name for p in out.rglob("*")) == before
    with pytest.raises(ValueError, match=r"big' holds 32 px images; the translator works at 16 px"):
        translate_export(translator, data["big"], tmp_path / "big_cut", progress=False)
    assert list(tmp_path.iterdir()) == []  # refused before a .partial folder was made
    with pytest.raises(FileNotFoundError, match=r"manifest\.json' not found: --data must be an"):
        translate_export(translator, data["frames"], tmp_path / "x", progress=False)


def test_translate_export_replaces_a_stale_partial_folder(data, translated, tmp_path) -> None:
    translator, _ = translated
    stale = tmp_path / "cut.partial"
    stale.mkdir()
    (stale / "junk.txt").write_text("left by a killed run")
    out = translate_export(translator, data["export"], tmp_path / "cut", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut"]
    assert not (out / "junk.txt").exists() and len(list((out / "rgb").iterdir())) == 12


def test_translate_export_keeps_coco_annotations(data, translated, tmp_path: Path) -> None:
    src = tiny_export(tmp_path / "coco", 2, 16, 4, formats=("coco",))
    out = translate_export(translated[0], src, tmp_path / "coco_cut", progress=False)
    assert (out / "annotations.json").read_bytes() == (src / "annotations.json").read_bytes()


class _StubLocalizer:
    """Answers the true centre for the export's own images and the truth + ``offset`` px
    for any other images: a localizer whose behaviour the test knows exactly."""

    def __init__(self, data, offset: tuple[float, float]) -> None:
        self.data, self.offset = data, np.asarray(offset)
        self.truth = (data.pixels.numpy() + 1.0) * data.images.shape[-1] / 2.0
        self.config = SimpleNamespace(mask_weight=0.0)

    def pixels(self, images: torch.Tensor) -> np.ndarray:
        same = torch.equal(images, self.data.images)
        return self.truth + (0.0 if same else self.offset)


def test_geometry_report_measures_the_centre_shift(data) -> None:
    pose = load_data(data["export"], "cube")
    identity = pose.images.permute(0, 2, 3, 1).numpy()
    report = geometry_report(_StubLocalizer(pose, (3.0, 4.0)), pose, identity)
    assert report["n"] == report["n_found"] == 12
    assert report["centre_shift_px_median"] == report["centre_shift_px_p90"] == 0.0
    assert report["error_px_translated_median"] == 0.0 and report["found_translated"] == 1.0
    moved = geometry_report(_StubLocalizer(pose, (3.0, 4.0)), pose, identity[:, ::-1].copy())
    assert moved["centre_shift_px_median"] == pytest.approx(5.0)
    assert moved["centre_shift_px_mean"] == pytest.approx(5.0)
    assert moved["error_px_render_median"] == 0.0 and moved["found_render"] == 1.0
    assert moved["error_px_translated_median"] == pytest.approx(5.0)
    assert moved["found_translated"] == 0.0 and "mask_iou_render" not in moved
    with pytest.raises(ValueError, match=r"translated images \(12, 3, 8, 8\) do not match the "
                       r"export's \(12, 3, 16, 16\)"):  # fmt: skip
        geometry_report(_StubLocalizer(pose, (0, 0)), pose, identity[:, ::2, ::2])


def test_script_translates_then_checks_geometry_and_kid(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loc = train_localizer(load_data(data["export"], "cube"), None,
                          LocalizerConfig(epochs=1, batch_size=8, width=4, seed=3),
                          env_id=ENV, progress=False)  # fmt: skip
    save_localizer(loc, tmp_path / "loc.pt")
    out = tmp_path / "cut"
    argv = ["--model", str(data["ckpt"]), "--data", str(data["export"]), "--out", str(out),
            "--quiet"]  # fmt: skip
    assert translate_cli.main([*argv, "--json", "--check", str(tmp_path / "loc.pt"),
                               "--heldout-frames", str(data["frames"])]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["out"] == str(out) and len(list((out / "rgb").iterdir())) == 12
    for key in ("kid_x1000_render", "kid_x1000_translated"):
        assert len(report[key]) == 2 and all(math.isfinite(v) for v in report[key]), report
    assert report["kid_x1000_render"] != report["kid_x1000_translated"]
    geometry = report["geometry"]
    assert geometry["n"] == 12 and 0 <= geometry["n_found"] <= 12
    assert {"centre_shift_px_median", "centre_shift_px_p90", "error_px_render_median",
            "error_px_translated_median", "found_render", "found_translated"} <= set(geometry)  # fmt: skip
    assert translate_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cut' already exists; choose a new folder" in err


def test_script_refuses_bad_inputs_with_one_line_errors(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, export = str(data["ckpt"]), str(data["export"])
    cases = [
        (["--model", str(tmp_path / "none.pt"), "--data", export], "none.pt' not found"),
        (["--model", model, "--data", str(data["big"])], "holds 32 px images; the translator works at 16 px"),
        (["--model", model, "--data", str(data["frames"])], "manifest.json' not found"),
    ]  # fmt: skip
    for argv, words in cases:
        assert translate_cli.main([*argv, "--out", str(tmp_path / "o"), "--quiet"]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []  # nothing written, no .partial folder
