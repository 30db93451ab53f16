"""A Lift export whose object is a mug (or a per-episode choice): COCO, BOP, the contact
sheet and the torch dataset label it, with the category ids the manifest lists."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from envs.objects.categories import BASE_CATEGORIES, category_ids, category_list
from envs.tasks.lift import LiftEnv

MUG_ID = "test/LiftMug-v0"
CHOICE = {"target_object": {"objects": ["mug", "duck"]},
          "texture": {"bank_size": 4}, "distractors": {"count": [0, 2], "bank_size": 4}}  # fmt: skip


@pytest.fixture(scope="module")
def mug_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if MUG_ID not in gym.registry:
        gym.register(MUG_ID, entry_point=LiftEnv, kwargs={"task_kwargs": {"object": "mug"}})
    out = tmp_path_factory.mktemp("objects") / "mug"
    config = ExportConfig(env_id=MUG_ID, num_images=4, size=48, out=str(out),
                          formats=("coco", "bop"))  # fmt: skip
    return export_dataset(config, progress=False)


def test_category_ids_keep_the_fixed_ones_first() -> None:
    assert category_list(["mug", "cube", "duck"]) == [*BASE_CATEGORIES, "duck", "mug"]
    assert category_ids(["robot", "mug"], seen=["zebra", "mug"]) == {"robot": 1, "mug": 2,
                                                                    "zebra": 3}  # fmt: skip


def test_mug_export_writes_coco_bop_and_sheet_with_the_manifest_ids(mug_export: Path) -> None:
    manifest = json.loads((mug_export / "manifest.json").read_text())
    assert manifest["categories"] == [*BASE_CATEGORIES, "mug"]
    ids = {name: i + 1 for i, name in enumerate(manifest["categories"])}
    coco = json.loads((mug_export / "annotations.json").read_text())
    assert {c["name"]: c["id"] for c in coco["categories"]} == ids
    mugs = [a for a in coco["annotations"] if a["category_id"] == ids["mug"]]
    assert len(mugs) >= 3, "the mug is in (nearly) every image"
    records = [json.loads(x) for x in (mug_export / "samples.jsonl").read_text().splitlines()]
    assert all(any(o["category"] == "mug" for o in r["objects"]) for r in records)
    gt = json.loads((mug_export / "bop" / "scene_gt.json").read_text())
    assert {g["obj_id"] for v in gt.values() for g in v} >= {ids["mug"]}
    assert ids["cube"] not in {g["obj_id"] for v in gt.values() for g in v}
    sheet = Image.open(mug_export / "preview.png")
    assert sheet.size[0] >= 48 * 2


def test_torch_dataset_gives_the_manifest_ids(mug_export: Path) -> None:
    pytest.importorskip("torch")
    from agents.perception.dataset import RandomizedImageDataset

    ds = RandomizedImageDataset(mug_export, load_masks=True)
    assert ds.categories == [*BASE_CATEGORIES, "mug"]
    _, label = ds[0]
    for obj in label["objects"]:
        assert obj["category_id"] == ds.categories.index(obj["category"]) + 1
    mug = next(o for o in label["objects"] if o["category"] == "mug")
    assert (label["instance_mask"].numpy() == mug["instance"]).sum() == mug["visible_pixels"]


def test_target_choice_export_lists_every_candidate(tmp_path: Path) -> None:
    out = tmp_path / "choice"
    config = ExportConfig(env_id="domrand/Lift-v0", preset=CHOICE, num_images=3, size=32,
                          out=str(out), formats=("coco",))  # fmt: skip
    export_dataset(config, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["categories"] == [*BASE_CATEGORIES, "duck", "mug"]
    coco = json.loads((out / "annotations.json").read_text())
    assert [c["name"] for c in coco["categories"]] == manifest["categories"]
    records = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    shown = {o["category"] for r in records for o in r["objects"]} & {"duck", "mug"}
    assert shown and not any(o["category"] == "cube" for r in records for o in r["objects"])


def test_contact_sheet_colours_new_categories(mug_export: Path) -> None:
    from envs.dataset.sheets import _COLOURS, contact_sheet

    sheet = np.asarray(contact_sheet(mug_export, num=1, scale=1)).astype(int)
    colour = _COLOURS[[*BASE_CATEGORIES, "mug"].index("mug") % len(_COLOURS)]
    assert (np.abs(sheet - colour).sum(axis=2) < 10).sum() >= 9  # the caption's swatch
