"""Pose regressor: labels in the robot frame, training, checkpoints, scripts, ablation."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.experiments.ablation import (
    TEST_SETS,
    AblationConfig,
    eval_preset,
    run_ablation,
    train_preset,
)
from agents.perception.pose_data import load_pose_data, object_position_in_robot_frame
from agents.perception.pose_networks import ARCHITECTURES, PoseNet, build_network
from agents.perception.pose_regressor import (
    RegressorConfig,
    check_compatible,
    error_summary,
    load_regressor,
    position_errors,
    predict,
    save_regressor,
    train_regressor,
)
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pose") / "data"
    export_dataset(
        ExportConfig(env_id="domrand/Lift-v0", preset="tobin", num_images=24, size=32,
                     out=str(out), seed=3, visibility=False),
        progress=False,
    )  # fmt: skip
    return out


def test_position_in_robot_frame_uses_the_base_pose() -> None:
    record = {"index": 0, "objects": [
        {"name": "robot", "world_pose": {"position": [1.0, 2.0, 0.5],
                                         "quaternion": [0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)]}},
        {"name": "cube", "world_pose": {"position": [1.0, 3.0, 0.5], "quaternion": [0, 0, 0, 1]}},
    ]}  # fmt: skip
    # the base is turned 90 degrees about z: world +y is the robot's +x
    np.testing.assert_allclose(object_position_in_robot_frame(record, "cube"), [1.0, 0.0, 0.0],
                               atol=1e-12)  # fmt: skip
    with pytest.raises(KeyError, match=r"no object named 'mug'.*cube"):
        object_position_in_robot_frame(record, "mug")


def test_dataset_targets_match_the_labels(tiny_data: Path) -> None:
    data = load_pose_data(tiny_data)
    assert data.images.shape == (24, 3, 32, 32) and data.images.dtype == torch.uint8
    first = json.loads((tiny_data / "samples.jsonl").read_text().splitlines()[0])
    cube = next(o for o in first["objects"] if o["name"] == "cube")["world_pose"]["position"]
    robot = next(o for o in first["objects"] if o["name"] == "robot")["world_pose"]["position"]
    np.testing.assert_allclose(data.targets[0].numpy(), np.subtract(cube, robot), atol=1e-6)
    # the auxiliary keypoint target is the cube's projected centre: inside its box
    for line, pix in zip((tiny_data / "samples.jsonl").read_text().splitlines(), data.pixels, strict=True):
        box = next(o for o in json.loads(line)["objects"] if o["name"] == "cube")["bbox"]
        if box is None:
            continue
        u, v = (pix.numpy() + 1.0) / 2.0 * 32
        assert box[0] - 1 <= u <= box[0] + box[2] + 1 and box[1] - 1 <= v <= box[1] + box[3] + 1


def test_images_decode_in_chunks_in_order_and_channels_last(tiny_data: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """PNGs decode in chunks beside the index's parsing: any chunk size gives each
    sample its own image, in the (N, 3, H, W) channels-last memory the networks read."""
    from PIL import Image

    from agents.perception import pose_data

    whole = load_pose_data(tiny_data)
    monkeypatch.setattr(pose_data, "DECODE_CHUNK", 5)  # 24 images: 4 full chunks and a rest
    chunked = load_pose_data(tiny_data)
    assert torch.equal(whole.images, chunked.images) and torch.equal(whole.pixels, chunked.pixels)
    assert chunked.images.is_contiguous(memory_format=torch.channels_last)
    for i in (0, 4, 5, 23):
        png = np.asarray(Image.open(tiny_data / "rgb" / f"{i:06d}.png").convert("RGB"))
        assert np.array_equal(chunked.images[i].permute(1, 2, 0).numpy(), png), i


def test_missing_dataset_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="export a dataset first"):
        load_pose_data(tmp_path)
    assert gc.isenabled()  # the collector paused for the parse runs again after an error


def test_reading_pauses_the_garbage_collector_and_restores_its_state(
        tiny_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The parse builds millions of acyclic objects; the collector's passes over them cost
    two thirds of it, so it pauses, then returns to the state it was in."""
    from agents.perception import pose_data

    seen = []
    parse = pose_data._iter_records

    def spy(*args: object) -> Iterator[tuple[int, dict]]:
        seen.append(gc.isenabled())
        yield from parse(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pose_data, "_iter_records", spy)
    load_pose_data(tiny_data)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        load_pose_data(tiny_data)
        assert not gc.isenabled()  # a caller's own pause is left alone
    finally:
        gc.enable()


def test_training_is_deterministic_and_checkpoints_round_trip(tiny_data: Path, tmp_path: Path) -> None:
    data = load_pose_data(tiny_data)
    config = RegressorConfig(epochs=2, batch_size=8, width=8, seed=1)
    a = train_regressor(data, data, config, progress=False)
    b = train_regressor(data, data, config, progress=False)
    for (ka, va), (_, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka
    assert len(a.train_loss) == 2 and len(a.val_error_cm) == 2
    path = save_regressor(a, tmp_path / "m.pt", {"env_id": "domrand/Lift-v0", "preset": "tobin"})
    loaded = load_regressor(path)
    assert loaded.meta["preset"] == "tobin"
    np.testing.assert_array_equal(predict(a, data.images), predict(loaded, data.images))
    errors = position_errors(loaded, data)
    assert errors.shape == (24,) and np.all(errors >= 0)
    s = error_summary(errors)
    assert s["n"] == 24 and s["mean_cm"] == pytest.approx(errors.mean() * 100)


def test_bad_checkpoints_are_refused_with_a_reason(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train one with"):
        load_regressor(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_regressor(corrupt)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not a pose-regressor checkpoint"):
        load_regressor(other)
    data = load_pose_data(tiny_data)
    result = train_regressor(data, None, RegressorConfig(epochs=1, width=8), progress=False)
    good = save_regressor(result, tmp_path / "good.pt", {})
    payload = torch.load(good, weights_only=True)
    payload["state_dict"].pop(list(payload["state_dict"])[-1])
    torch.save(payload, tmp_path / "bad_weights.pt")
    with pytest.raises(ValueError, match="weights do not fit"):
        load_regressor(tmp_path / "bad_weights.pt")
    for arch in ARCHITECTURES:
        assert build_network(arch, 64, 8)(torch.zeros(2, 3, 64, 64)).shape == (2, 3)
    data64 = data.subset(np.arange(2))
    data64.images = torch.zeros(2, 3, 64, 64, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"trained on 32 px images.*--size 32"):
        check_compatible(load_regressor(good), data64, good)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        RegressorConfig(epochs=0)
    with pytest.raises(ValueError, match="power of two"):
        PoseNet(48)
    with pytest.raises(ValueError, match="unknown architecture 'vit'"):
        RegressorConfig(arch="vit")


def test_train_and_evaluate_scripts(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import evaluate_regressor
    from scripts import train_regressor as train_script

    ckpt = tmp_path / "r.pt"
    assert train_script.main(["--train", str(tiny_data), "--val", str(tiny_data), "--out", str(ckpt),
                              "--epochs", "1", "--width", "8", "--no-progress"]) == 0  # fmt: skip
    assert ckpt.exists() and ckpt.with_suffix(".curve.png").exists()
    capsys.readouterr()
    assert evaluate_regressor.main(["--model", str(ckpt), "--data", str(tiny_data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 24 and report["mean_cm"] > 0 and Path(report["plot"]).exists()
    assert evaluate_regressor.main(["--model", str(tmp_path / "nope.pt"), "--data", str(tiny_data)]) == 2
    assert "not found" in capsys.readouterr().err


def test_ablation_presets_remove_one_part_each() -> None:
    full = train_preset("full")
    assert {"distractors", "texture", "lighting", "camera", "image_noise"} <= set(full)
    assert "image_noise" not in train_preset("no_noise")
    assert "camera" not in train_preset("no_camera")
    assert "distractors" not in train_preset("no_distractors")
    assert train_preset("none") == {}
    assert "distractors" not in eval_preset("object_only")
    assert eval_preset("occlusions")["distractors"]["around"] == "target"
    assert Path(eval_preset("distractors")["distractors"]["image_dir"]).is_dir()
    with pytest.raises(ValueError, match="unknown configuration 'fancy'"):
        train_preset("fancy")
    with pytest.raises(ValueError, match="unknown configuration"):
        AblationConfig(configs=("full", "fancy"))


def test_occluders_sit_around_the_target() -> None:
    import gymnasium as gym

    env = gym.make("domrand/Lift-v0", randomization={"distractors": eval_preset("occlusions")["distractors"]})
    try:
        _, info = env.reset(seed=4)
        u = env.unwrapped
        c = u.scene.client
        cube = np.array(c.getBasePositionAndOrientation(u.scene.sim.body("cube"))[0][:2])
        params = info["randomization"]["distractors"]
        count = params["count"]
        assert 2 <= count <= 5
        pool = u.scene.store["distractors/pool"]
        for i in range(count):
            body = pool[params[f"slot{i}.body"]]["body"]
            xy = np.array(c.getBasePositionAndOrientation(body)[0][:2])
            assert np.all(np.abs(xy - cube) <= 0.08 + 1e-9)
    finally:
        env.close()


def test_tiny_ablation_writes_table_chart_and_results(tmp_path: Path) -> None:
    config = AblationConfig(out=str(tmp_path / "abl"), size=32, train_images=8, test_images=4,
                            epochs=1, workers=1, configs=("full", "none"),
                            occlusion_oversample=3)  # fmt: skip
    lines: list[str] = []
    results = run_ablation(config, progress=False, log=lines.append)
    assert set(results["rows"]) == {"full", "none"}
    assert set(results["rows"]["full"]) == set(TEST_SETS)
    table = (tmp_path / "abl" / "table.md").read_text()
    assert "| full randomization |" in table and "| no randomization |" in table
    assert (tmp_path / "abl" / "ablation.png").stat().st_size > 1000
    assert (tmp_path / "abl" / "models" / "full.pt").exists()
    occluded = results["rows"]["full"]["occlusions"]["n"]
    assert 0 <= occluded <= 4
    # a rerun reuses the exported data and gives the same numbers
    again = run_ablation(config, progress=False, log=lines.append)
    assert again["rows"] == results["rows"]
    assert any("reused from" in line for line in lines)


@pytest.mark.slow
def test_regressor_beats_the_mean_baseline_three_times(tmp_path: Path) -> None:
    """About 15 minutes on 2 cores: 6,000 tobin images, 30 epochs at 64 px.

    The median error must be 3x below the predict-the-mean baseline's and the mean error
    1.5x below: the mean carries a tail of confusions with distractors (errors grow with
    the distractor count), which more images shrink (see the README's ablation notes).
    """

    def export(n: int, seed: int, name: str) -> Path:
        return export_dataset(ExportConfig(env_id="domrand/Lift-v0", preset="tobin", num_images=n,
                                           size=64, out=str(tmp_path / name), seed=seed,
                                           workers=2, visibility=False), progress=False)  # fmt: skip

    train, test = load_pose_data(export(6000, 1, "train")), load_pose_data(export(300, 2, "test"))
    result = train_regressor(train, None, RegressorConfig(epochs=30), progress=False)
    baseline = np.linalg.norm(test.targets.numpy() - train.targets.numpy().mean(0), axis=1)
    errors = position_errors(result, test)
    assert np.median(errors) * 3 < np.median(baseline)
    assert errors.mean() * 1.5 < baseline.mean()


def test_gan_configuration_points_at_the_shipped_checkpoint() -> None:
    preset = train_preset("tobin_gan")
    for kind in ("texture", "distractors"):
        assert Path(preset[kind]["gan_checkpoint"]).is_file()


def test_ablation_script_evaluates_localizers_on_the_same_test_sets(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agents.experiments.ablation import export_test_sets
    from agents.perception.localizer import (
        LocalizerConfig,
        load_data,
        save_localizer,
    )
    from agents.perception.localizer_training import train_localizer
    from scripts import ablation as script

    loc = train_localizer(load_data(tiny_data, "cube"), None,
                          LocalizerConfig(epochs=1, batch_size=8, width=4),
                          env_id="domrand/Lift-v0", progress=False)  # fmt: skip
    ckpt = save_localizer(loc, tmp_path / "loc.pt")
    out = str(tmp_path / "abl")
    argv = ["--out", out, "--size", "32", "--test-images", "3", "--workers", "1",
            "--configs", "", "--localizer", str(ckpt), "--no-progress"]  # fmt: skip
    assert script.main(argv) == 0
    rows = json.loads((tmp_path / "abl" / "localizers.json").read_text())[str(ckpt)]
    config = AblationConfig(out=out, size=32, test_images=3, workers=1)
    tests = export_test_sets(config, progress=False, log=lambda _: None)  # reused, not redone
    assert {k: v["n"] for k, v in rows.items()} == {k: len(v) for k, v in tests.items()}
    assert "| `loc.pt` |" in (tmp_path / "abl" / "localizers.md").read_text()
    assert not (tmp_path / "abl" / "models").exists()  # no regressor was trained
    capsys.readouterr()
    assert script.main([*argv[:-2], str(tmp_path / "missing.pt"), "--no-progress"]) == 2
    assert "missing.pt' not found" in capsys.readouterr().err
