"""The localizer recipe end to end at a tiny budget: every stage runs and is timed, the
network it trains is the one ``train_localizer.py`` trains from the same exports (reading
each export once changes nothing), a rerun keeps every finished stage, and a folder from
other settings, foreign checkpoints or an export of another size are refused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from agents.cli import localizer_recipe as recipe_cli
from agents.experiments.localizer_recipe import (
    EXPORTS,
    RecipeConfig,
    RecipeExport,
    check_export_folder,
    export_visibility,
)
from agents.perception.ensemble import load_localizer_spec
from agents.perception.pose_data import PoseDataCache
from scripts import train_localizer as localizer_script

# the recipe's roles with quick presets, 64 validation and 256 training images
QUICK = (
    RecipeExport("v2_val", "tobin", 64, 93, "choose"),
    RecipeExport("val_caloccl", "val_photo_bank_calibrated_occluders", 64, 522, "choose",
                 "occluded"),
    RecipeExport("val_calclutter", "tobin", 64, 523, "choose", "clutter"),
    RecipeExport("val_calclutter_b", "tobin", 64, 524, "report", "clutter"),
    RecipeExport("c_pb", "tobin", 128, 736, "train"),
    RecipeExport("b_pbdense", "val_photo_bank_calibrated_occluders", 128, 733, "train"),
)  # fmt: skip
TINY = RecipeConfig(size=32, epochs=2, low_res_epochs=1, verifier_epochs=1, refiner_epochs=1,
                    crop=24, workers=1, threads=1, exports=QUICK)  # fmt: skip


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("recipe")
    report = recipe_cli.run_recipe(TINY, root / "data", root / "out", progress=False,
                                   log=lambda _: None)  # fmt: skip
    return root / "data", root / "out", report


def test_every_stage_runs_and_is_timed(ran: tuple[Path, Path, dict]) -> None:
    data, out, report = ran
    names = [r["stage"] for r in report["stages"]]
    assert names == [f"export {e.name}" for e in QUICK] + ["network", "verifier", "refiner"]
    assert report["every_stage_ran"] and all(r["seconds"] > 0 for r in report["stages"])
    total = sum(r["seconds"] for r in report["stages"]) / 60
    assert report["recipe_minutes"] == pytest.approx(total, abs=0.02)
    assert json.loads((out / "recipe.json").read_text()) == report
    assert report["settings"] == TINY.settings() and report["machine"]["cpu"]
    md = (out / "recipe.md").read_text()
    assert "every stage ran" in md and f"--model {report['spec']} --data" in md
    loc = load_localizer_spec(report["spec"])
    assert loc.refiner.meta["localizer"] == f"{out / 'loc.pt'}+{out / 'ver.pt'}"
    assert loc.base.verifier.config.crop == loc.refiner.config.crop == TINY.crop  # passed on
    occl, clutter = report["validation"]["calibrated_occluded"], report["validation"]["calibrated_clutter"]
    assert clutter["n"] == 128 and 0 < occl["n"] < 64  # 10-90 % visible cubes only
    assert 0 <= occl["median_cm"] <= occl["p90_cm"]
    assert sorted(p.name for p in data.iterdir()) == sorted(e.name for e in QUICK)


def test_only_the_choosing_and_report_exports_label_visible_fractions(
        ran: tuple[Path, Path, dict], tmp_path: Path) -> None:  # fmt: skip
    """Nothing trains on visible fractions, and their alone-renders cost about a sixth of
    an export: training exports skip them, unless an earlier one there has them."""
    data, _, _ = ran
    for e in QUICK:
        manifest = json.loads((data / e.name / "manifest.json").read_text())
        first = json.loads((data / e.name / "samples.jsonl").read_text().splitlines()[0])
        cube = next(o for o in first["objects"] if o["name"] == "cube")
        assert manifest["visibility"] is ("visible_fraction" in cube) is (e.use != "train")
    train = next(e for e in QUICK if e.use == "train")
    assert not export_visibility(tmp_path / "none_yet", train)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({"visibility": True}))
    assert export_visibility(tmp_path / "old", train)  # a resume must match it
    assert export_visibility(tmp_path / "none_yet", QUICK[0])


def test_training_exports_store_their_rgb_pngs(ran: tuple[Path, Path, dict]) -> None:
    """Written once and read once: the training exports' RGB PNGs are stored (zlib level
    0), the validation exports keep the default level; instance masks always compress."""
    data, _, _ = ran
    for e in QUICK:
        first = json.loads((data / e.name / "samples.jsonl").read_text().splitlines()[0])
        rgb = (data / e.name / first["rgb"]).stat().st_size
        raw = 3 * TINY.size * TINY.size
        assert (rgb > raw) is (e.use == "train"), (e.name, rgb, raw)
        assert (data / e.name / first["instances"]).stat().st_size < raw


def test_the_network_is_what_the_training_script_makes(ran: tuple[Path, Path, dict],
                                                       tmp_path: Path) -> None:  # fmt: skip
    data, out, _ = ran
    train = [str(data / n) for n in TINY.names(use="train")]
    val = [str(data / n) for n in TINY.names(use="choose")]
    alone = tmp_path / "loc.pt"
    assert localizer_script.main(
        ["--train", *train, "--val", *val, "--stem-stride", "2", "--merge", TINY.merge,
         "--out", str(alone),
         "--epochs", "2", "--low-res-epochs", "1", "--mask-weight", "1", "--color-jitter", "0.4", "--mirror",
         "--sigma", "0.5", "--threads", "1", "--precision", "bf16", "--seed", "0",
         "--no-progress"]) == 0  # fmt: skip
    a = torch.load(out / "loc.pt", weights_only=True)["state_dict"]
    b = torch.load(alone, weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_rerun_keeps_every_stage(ran: tuple[Path, Path, dict]) -> None:
    data, out, first = ran
    before = {p: (out / p).read_bytes() for p in ("loc.pt", "ver.pt", "ref.pt")}
    again = recipe_cli.run_recipe(TINY, data, out, progress=False, log=lambda _: None)
    assert not again["every_stage_ran"]
    assert [r["ran"] for r in again["stages"]] == [False] * len(first["stages"])
    assert {p: (out / p).read_bytes() for p in before} == before
    assert again["validation"] == first["validation"]
    assert "some stages kept" in (out / "recipe.md").read_text()


def test_a_run_from_before_a_setting_existed_resumes_as_it_trained(
        ran: tuple[Path, Path, dict], tmp_path: Path) -> None:  # fmt: skip
    data, out, _ = ran
    old = tmp_path / "old"
    old.mkdir()
    for p in ("loc.pt", "ver.pt", "ref.pt"):
        (old / p).write_bytes((out / p).read_bytes())
    # what a run before the three flags trained
    concat = replace(TINY, merge="concat", crop=32, low_res_epochs=0)
    saved = {k: v for k, v in concat.settings().items()
             if k not in ("merge", "crop", "low_res_epochs")}  # fmt: skip
    (old / "recipe.json").write_text(json.dumps({"settings": saved, "complete": True}))
    with pytest.raises(ValueError, match="other settings"):
        recipe_cli.run_recipe(TINY, data, old, progress=False, log=lambda _: None)
    again = recipe_cli.run_recipe(concat, data, old, progress=False, log=lambda _: None)
    assert not again["every_stage_ran"] and again["settings"] == concat.settings()


def test_a_failed_rerun_keeps_the_last_report(ran: tuple[Path, Path, dict],
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    data, out, _ = ran
    before = (out / "recipe.json").read_bytes()
    monkeypatch.setattr(recipe_cli.export, "main", lambda argv: 2)
    with pytest.raises(RuntimeError, match=r"stage 'export v2_val' failed.*kept: fix the cause"):
        recipe_cli.run_recipe(TINY, data, out, progress=False, log=lambda _: None)
    assert (out / "recipe.json").read_bytes() == before


def test_other_settings_or_foreign_checkpoints_are_refused(ran: tuple[Path, Path, dict],
                                                           tmp_path: Path) -> None:  # fmt: skip
    data, out, _ = ran
    with pytest.raises(ValueError, match=r"other settings.*choose another --out"):
        recipe_cli.run_recipe(replace(TINY, seed=1), data, out, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "loc.pt").write_bytes(b"mine")
    with pytest.raises(ValueError, match="no recipe run there made"):
        recipe_cli.run_recipe(TINY, data, foreign, progress=False)
    assert (foreign / "loc.pt").read_bytes() == b"mine"
    with pytest.raises(ValueError, match="holds an export of 128 images; the recipe wants 80"):
        check_export_folder(data / "c_pb", replace(QUICK[4], num_images=80))


@pytest.mark.parametrize(("change", "says"), [
    ({"epochs": 0}, "epochs must be an int >= 1"),
    ({"precision": "fp16"}, "precision must be one of fp32, bf16, got 'fp16'"),
    ({"merge": "sum"}, "merge must be one of concat, add, got 'sum'"),
    ({"crop": 30}, "crop must be a multiple of 4"),
    ({"low_res_epochs": 2}, r"low_res_epochs must be an int in \[0, epochs\) = \[0, 2\)"),
    ({"crop": 20}, r"max_jitter_px \(10.0\) must stay below half the crop \(10 px\)"),
    ({"train_images": 10}, "train_images must be an int >= 64"),
    ({"train_images": 100}, "hold 200 images; a training batch needs 256"),
    ({"exports": QUICK[:4]}, "at least one export with use 'train'"),
    ({"exports": (*QUICK, QUICK[0])}, "export names must differ"),
    ({"exports": tuple(e for e in QUICK if e.report != "occluded")}, "report 'occluded'"),
])  # fmt: skip
def test_config_errors(change: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        replace(TINY, **change)


def test_counts_scale_by_use() -> None:
    c = RecipeConfig(train_images=100, val_images=70)
    counts = {e.name: e.num_images for e in c.all_exports()}
    assert {counts[n] for n in c.names(use="train")} == {100}
    assert {counts[e.name] for e in EXPORTS if e.use != "train"} == {70}
    assert [e.num_images for e in RecipeConfig().all_exports()] == [e.num_images for e in EXPORTS]
    with pytest.raises(ValueError, match="use must be one of"):
        RecipeExport("x", "tobin", 64, 0, "test")


def test_the_cache_reads_each_export_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    cache = PoseDataCache(lambda root, obj: calls.append((root, obj)) or object())  # type: ignore[arg-type, func-returns-value]
    monkeypatch.chdir(tmp_path)
    first = cache("data/a", "cube")
    assert cache(tmp_path / "data" / "a", "cube") is first  # the same folder, spelt otherwise
    cache("data/a", "mug")
    assert len(calls) == 2 and len(cache) == 2


def test_the_command_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert recipe_cli.main(["--out", str(tmp_path / "file"), "--data", str(tmp_path / "d")]) == 2
    assert "is an existing file, but a folder is expected" in capsys.readouterr().err
    assert recipe_cli.main(["--out", str(tmp_path / "o"), "--train-images", "8"]) == 2
    assert "train_images must be an int >= 64" in capsys.readouterr().err
