"""Dataset export: labels, formats that their tools load, determinism, resume, errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents.dataset import RandomizedImageDataset
from envs.dataset.export import ExportConfig, export_dataset

N = 12


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "push"
    cfg = ExportConfig(num_images=N, size=64, out=str(out), formats=("coco", "bop"), depth=True)
    return export_dataset(cfg, progress=False)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_files_and_manifest(exported: Path) -> None:
    assert len(list((exported / "rgb").glob("*.png"))) == N
    assert len((exported / "samples.jsonl").read_text().splitlines()) == N
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["env_id"] == "domrand/Push-v0" and manifest["num_images"] == N
    assert "distractors" in manifest["preset"]["contents"]


def test_labels_match_the_pixels(exported: Path) -> None:
    records = [json.loads(line) for line in (exported / "samples.jsonl").read_text().splitlines()]
    for r in records:
        inst = np.asarray(Image.open(exported / r["instances"]))
        depth = np.asarray(Image.open(exported / r["depth"])).astype(float) / 1000.0
        K = np.asarray(r["camera"]["K"])
        for obj in r["objects"]:
            mask = inst == obj["instance"]
            assert mask.sum() == obj["visible_pixels"]
            if obj["bbox"] is None:
                continue
            x, y, w, h = obj["bbox"]
            rows, cols = np.nonzero(mask)
            assert (cols.min(), rows.min(), cols.max() - x + 1, rows.max() - y + 1) == (x, y, w, h)
            assert 0 < obj["visible_fraction"] <= 1.0
            if obj["category"] == "cube" and mask.sum() > 10:
                # the cube centre projects near its mask, and depth agrees with the pose
                p = np.asarray(obj["camera_pose"]["position"])
                u, v = (K @ p)[:2] / p[2]
                assert abs(u - (cols.mean() + 0.5)) < 3 and abs(v - (rows.mean() + 0.5)) < 3
                assert abs(np.median(depth[mask]) - p[2]) < 0.05
        assert r["randomization"]["distractors"]["count"] >= 0


def test_coco_loads_and_masks_decode_exactly(exported: Path) -> None:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    coco = COCO(str(exported / "annotations.json"))
    assert len(coco.getImgIds()) == N
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} >= {"robot", "cube", "goal_region"}
    records = [json.loads(line) for line in (exported / "samples.jsonl").read_text().splitlines()]
    checked = 0
    for ann in coco.loadAnns(coco.getAnnIds()):
        r = records[ann["image_id"] - 1]
        inst = np.asarray(Image.open(exported / r["instances"]))
        obj = next(
            o
            for o in r["objects"]
            if o["bbox"] == ann["bbox"]
            and coco.loadCats(ann["category_id"])[0]["name"] == o["category"]
        )
        decoded = mask_utils.decode(coco.annToRLE(ann)).astype(bool)
        assert np.array_equal(decoded, inst == obj["instance"])
        assert ann["area"] == obj["visible_pixels"]
        checked += 1
    assert checked > N


def test_bop_files(exported: Path) -> None:
    cams = json.loads((exported / "bop" / "scene_camera.json").read_text())
    gt = json.loads((exported / "bop" / "scene_gt.json").read_text())
    info = json.loads((exported / "bop" / "scene_gt_info.json").read_text())
    assert set(cams) == set(gt) == set(info) == {str(i) for i in range(N)}
    first = gt["0"][0]
    assert len(first["cam_R_m2c"]) == 9 and len(first["cam_t_m2c"]) == 3
    R = np.asarray(first["cam_R_m2c"]).reshape(3, 3)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-5)
    assert 200 < first["cam_t_m2c"][2] < 3000  # millimetres
    assert len(cams["0"]["cam_K"]) == 9 and cams["0"]["depth_scale"] == 1.0
    assert all(0 <= e["visib_fract"] <= 1 for e in info["0"])


def test_one_and_two_workers_write_the_same_bytes(tmp_path) -> None:
    a = export_dataset(ExportConfig(num_images=6, size=48, out=str(tmp_path / "a")), progress=False)
    done: list[int] = []
    b = export_dataset(
        ExportConfig(num_images=6, size=48, out=str(tmp_path / "b"), workers=2),
        progress=False, on_done=done.append,
    )  # fmt: skip
    assert _tree(a) == _tree(b)
    assert sum(done) == 6


def test_interrupted_export_resumes_to_the_same_bytes(tmp_path) -> None:
    full = export_dataset(
        ExportConfig(num_images=6, size=48, out=str(tmp_path / "full")), progress=False
    )
    part = tmp_path / "part"
    export_dataset(ExportConfig(num_images=6, size=48, out=str(part)), progress=False)
    for i in (2, 4):  # as if killed while these samples were in flight
        (part / "labels" / f"{i:06d}.json").unlink()
        (part / "rgb" / f"{i:06d}.png").write_bytes(b"truncated")
    (part / "samples.jsonl").unlink()
    with pytest.raises(FileExistsError, match="pass resume=True"):
        export_dataset(ExportConfig(num_images=6, size=48, out=str(part)), progress=False)
    export_dataset(ExportConfig(num_images=6, size=48, out=str(part), resume=True), progress=False)
    assert _tree(full) == _tree(part)
    with pytest.raises(ValueError, match=r"settings differ from the first run in \['size'\]"):
        export_dataset(
            ExportConfig(num_images=6, size=32, out=str(part), resume=True), progress=False
        )


def test_torch_dataset(exported: Path) -> None:
    ds = RandomizedImageDataset(exported, load_masks=True)
    assert len(ds) == N
    image, label = ds[3]
    assert (
        image.shape == (3, 64, 64) and image.dtype.name == "float32"
        if hasattr(image.dtype, "name")
        else True
    )
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert label["index"] == 3 and label["instance_mask"].shape == (64, 64)
    assert float(label["depth_m"].max()) <= 4.0
    with pytest.raises(FileNotFoundError, match="export a dataset first"):
        RandomizedImageDataset(exported / "missing")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_images": 0}, "num_images must be >= 1"),
        ({"formats": ("voc",)}, r"unknown format\(s\) \['voc'\]; allowed: coco, bop"),
        ({"steps": -1}, "steps must be >= 0"),
        ({"steps": 5, "max_steps": 2}, r"max_steps must be >= steps \(5\), got 2"),
    ],
)
def test_bad_export_config(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ExportConfig(**kwargs)


def test_script(tmp_path, capsys) -> None:
    from scripts import export_dataset as script

    out = tmp_path / "s"
    args = [
        "--num-images",
        "3",
        "--size",
        "32",
        "--out",
        str(out),
        "--format",
        "coco",
        "--no-progress",
    ]
    assert script.main(args) == 0
    assert (out / "annotations.json").exists()
    assert "wrote 3 samples" in capsys.readouterr().out
    assert script.main(args) == 2  # not empty and no --resume
    assert "pass resume=True" in capsys.readouterr().err


def test_ray_backend_writes_the_same_bytes(tmp_path) -> None:
    ray = pytest.importorskip("ray", reason="Ray not installed: pip install -e .[ray]")
    local = export_dataset(
        ExportConfig(num_images=5, size=32, out=str(tmp_path / "l")), progress=False
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        cfg = ExportConfig(
            num_images=5, size=32, out=str(tmp_path / "r"), backend="ray", shard_size=2
        )
        remote = export_dataset(cfg, progress=False)
    finally:
        ray.shutdown()
    assert _tree(local) == _tree(remote)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="allowed: local, ray"):
        ExportConfig(backend="dask")


def test_projected_centres_lie_in_boxes_of_fully_visible_objects(exported: Path) -> None:
    checked = 0
    for line in (exported / "samples.jsonl").read_text().splitlines():
        r = json.loads(line)
        K = np.asarray(r["camera"]["K"])
        for obj in r["objects"]:
            if obj["category"] == "robot" or obj["bbox"] is None:
                continue
            if obj["visible_fraction"] < 0.95 or obj["visible_pixels"] < 20:
                continue
            p = np.asarray(obj["camera_pose"]["position"])
            u, v = (K @ p)[:2] / p[2]
            x, y, w, h = obj["bbox"]
            assert x - 1 <= u <= x + w + 1 and y - 1 <= v <= y + h + 1, obj["name"]
            checked += 1
    assert checked >= N


def test_overwrite_and_contact_sheet(tmp_path) -> None:
    out = tmp_path / "o"
    export_dataset(ExportConfig(num_images=3, size=32, out=str(out)), progress=False)
    (out / "stale.txt").write_text("old")  # a file an export never writes: refused, kept
    config = ExportConfig(num_images=3, size=32, out=str(out), overwrite=True)
    with pytest.raises(RuntimeError, match=r"refusing to overwrite .*it holds stale\.txt"):
        export_dataset(config, progress=False)
    assert (out / "stale.txt").read_text() == "old"
    (out / "stale.txt").unlink()  # moved away: now the overwrite goes ahead
    export_dataset(config, progress=False)
    with Image.open(out / "preview.png") as im:
        width, height = im.size  # 3 tiles of 32 px x2 on a 2 x 2 sheet, 2 px apart, captioned
    assert width == 2 * (64 + 2) + 2 and height > width and (height - width) % 2 == 0
    from scripts import preview

    assert (
        preview.main(["--dataset", str(out), "--num", "2", "--out", str(tmp_path / "s.png")]) == 0
    )
    with pytest.raises(ValueError, match="exclude each other"):
        ExportConfig(resume=True, overwrite=True)


def test_a_failing_sample_names_its_index_and_keeps_earlier_ones(tmp_path, monkeypatch) -> None:
    import envs.dataset.export as export

    real = export._export_sample

    def flaky(index: int) -> int:
        if index == 3:
            raise OSError("disk full")
        return real(index)

    monkeypatch.setattr(export, "_export_sample", flaky)
    out = tmp_path / "f"
    with pytest.raises(export.SampleError, match="sample 3 failed: OSError: disk full"):
        export_dataset(ExportConfig(num_images=5, size=32, out=str(out)), progress=False)
    assert sorted(p.name for p in (out / "labels").glob("*.json")) == [
        "000000.json", "000001.json", "000002.json"
    ]  # fmt: skip


def test_a_step_range_draws_a_count_per_sample_reproducibly(tmp_path) -> None:
    def cube_x(out: Path) -> list[float]:
        rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        return [next(o for o in r["objects"] if o["name"] == "cube")["world_pose"]["position"][0]
                for r in rows]  # fmt: skip

    config = ExportConfig(num_images=6, size=16, steps=0, max_steps=40, policy="expert",
                          seed=3, visibility=False, out=str(tmp_path / "a"))  # fmt: skip
    a = export_dataset(config, progress=False)
    b = export_dataset(replace(config, out=str(tmp_path / "b")), progress=False)
    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()
    assert json.loads((a / "manifest.json").read_text())["max_steps"] == 40
    fixed = export_dataset(replace(config, max_steps=None, out=str(tmp_path / "c")),
                           progress=False)  # fmt: skip
    pushed = np.abs(np.subtract(cube_x(a), cube_x(fixed))) > 1e-3  # same scenes, 0 steps
    assert 0 < pushed.sum() < 6  # some samples were captured mid-push, some before contact


@pytest.mark.parametrize("text", ["x", "3:", "5:2", "-1"])
def test_script_refuses_a_bad_step_range(text: str, capsys) -> None:
    from scripts import export_dataset as script

    with pytest.raises(SystemExit):
        script.main(["--out", "unused", "--steps", text])
    assert "argument --steps: expected" in capsys.readouterr().err


def test_expert_steps_before_capture_move_the_robot(tmp_path) -> None:
    still = export_dataset(
        ExportConfig(num_images=2, size=32, out=str(tmp_path / "a")), progress=False
    )
    moved = export_dataset(
        ExportConfig(num_images=2, size=32, out=str(tmp_path / "b"), steps=6, policy="expert"),
        progress=False,
    )
    a = json.loads((still / "labels" / "000000.json").read_text())
    b = json.loads((moved / "labels" / "000000.json").read_text())
    ra = next(o for o in a["objects"] if o["name"] == "robot")
    rb = next(o for o in b["objects"] if o["name"] == "robot")
    assert ra["bbox"] != rb["bbox"]


def test_manifest_records_a_preset_file_given_by_path(tmp_path) -> None:
    preset = tmp_path / "mine.yaml"
    preset.write_text("camera:\n  roll: [-2, 2]\n")
    out = export_dataset(
        ExportConfig(num_images=1, size=32, preset=str(preset), out=str(tmp_path / "d")),
        progress=False,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preset"]["contents"] == preset.read_text()


def _occlusions_preset(tmp_path: Path) -> str:
    """The ablation's occlusion test set: 2-5 photo-textured occluders around the target."""
    import yaml

    from agents.experiments.ablation import eval_preset

    path = tmp_path / "occlusions.yaml"
    path.write_text(yaml.safe_dump(eval_preset("occlusions")))
    return str(path)


ALONE_CASES = [  # env id, preset, image size, expert steps before the capture, samples
    ("domrand/Push-v0", "tobin", 64, 0, 60),
    ("domrand/Push-v0", "occlusions", 48, 0, 40),
    ("domrand/Lift-v0", "occlusions", 64, 0, 40),
    ("domrand/Lift-v0", "tobin", 48, 25, 20),  # the cube in the gripper
    ("domrand/Reach-v0", "tobin", 64, 10, 20),
]


def test_fewer_alone_renders_give_the_same_counts(make_env, tmp_path) -> None:
    """The planned alone-renders (none for bodies nothing can hide, shared renders, partial
    robots) count exactly what rendering each object alone counts, occluded objects too."""
    from agents.policies.experts import make_expert
    from envs.dataset.labels import (
        alone_pixel_counts,
        grouped_alone_counts,
        labelled_objects,
        plan_alone_renders,
    )
    from envs.seeding import episode_seed

    seen = {"clear": 0, "shared": 0, "partial": 0, "hidden": 0}
    for env_id, preset, size, steps, n in ALONE_CASES:
        if preset == "occlusions":
            preset = _occlusions_preset(tmp_path)
        env = make_env(env_id, obs_mode="state", image_size=size, randomization=preset)
        expert = make_expert(env_id)
        c = env.scene.client
        robot = env.scene.sim.body("robot")
        for i in range(n):
            env.reset(seed=episode_seed(7, i))
            for _ in range(steps):
                _, _, term, trunc, _ = env.step(expert(env.privileged_state()))
                if term or trunc:
                    break
            frame = env.camera.render(rgb=True, segmentation=True)
            bodies = [env.scene.sim.body(name) for name, _ in labelled_objects(env)]
            expected = alone_pixel_counts(env, bodies)
            got = grouped_alone_counts(env, bodies, frame.segmentation)
            assert got == expected, (env_id, i)
            after = env.camera.render(rgb=True, segmentation=True)  # colours restored
            assert np.array_equal(after.rgb, frame.rgb)
            assert np.array_equal(after.segmentation, frame.segmentation)
            rows = {b: list(c.getVisualShapeData(b)) for b in range(c.getNumBodies())}
            clear, groups = plan_alone_renders(env, bodies, rows)
            seen["clear"] += len(clear)
            seen["shared"] += sum(len(g) > 1 for g in groups)
            seen["partial"] += any(
                j.body == robot and len(j.links) < len(rows[robot]) for g in groups for j in g
            )
            seen["hidden"] += sum(
                int((frame.segmentation == b).sum()) < expected[b] for b in bodies
            )
    assert min(seen.values()) >= 10, seen  # every path taken, occluded objects among the cases


def test_png_round_trips_and_is_deterministic() -> None:
    import io

    from envs.dataset.export import _png

    rng = np.random.default_rng(0)
    for array in (
        rng.integers(0, 256, (17, 9, 3), dtype=np.uint8),
        rng.integers(0, 65536, (5, 7), dtype=np.uint16),
        rng.integers(0, 256, (1, 4), dtype=np.uint8),
    ):
        data = _png(array)
        assert data == _png(array.copy())
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), array)
    with pytest.raises(ValueError, match="cannot write a float32 array"):
        _png(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="colour PNGs need 3 channels"):
        _png(np.zeros((2, 2, 4), dtype=np.uint8))
