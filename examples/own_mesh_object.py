"""Your own mesh as the Lift target, then a labelled export with COCO annotations.

python examples/own_mesh_object.py --out /tmp/widget --images 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym

from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from envs.objects import ObjectSpec
from envs.tasks.lift import LiftEnv


def write_box_obj(path: Path, half: tuple[float, float, float]) -> Path:
    """A closed box mesh (8 vertices, 12 triangles), in metres."""
    x, y, z = half
    corners = [(sx * x, sy * y, sz * z) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
    faces = [(1, 3, 4, 2), (5, 6, 8, 7), (1, 2, 6, 5), (3, 7, 8, 4), (1, 5, 7, 3), (2, 4, 8, 6)]
    lines = [f"v {a:.4f} {b:.4f} {c:.4f}" for a, b, c in corners]
    lines += [f"f {a} {b} {c}\nf {a} {c} {d}" for a, b, c, d in faces]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("examples_out/own_mesh"))
    p.add_argument("--images", type=int, default=4)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    mesh = write_box_obj(args.out / "widget.obj", (0.02, 0.03, 0.02))
    widget = ObjectSpec(str(mesh), category="widget", mass=0.08, rgba=(0.9, 0.6, 0.1, 1.0))

    # a Gymnasium id for Lift with the widget, so the exporter (and its workers) can make it
    gym.register("example/LiftWidget-v0", entry_point=LiftEnv,
                 kwargs={"task_kwargs": {"object": widget}})  # fmt: skip
    config = ExportConfig(env_id="example/LiftWidget-v0", preset="tobin", size=64,
                          num_images=args.images, out=str(args.out / "dataset"),
                          formats=("coco",), overwrite=True)  # fmt: skip
    folder = export_dataset(config, progress=False)
    coco = json.loads((folder / "annotations.json").read_text())
    ids = {c["name"]: c["id"] for c in coco["categories"]}
    widgets = sum(a["category_id"] == ids["widget"] for a in coco["annotations"])
    print(json.dumps({"dataset": str(folder), "images": len(coco["images"]),
                      "widget_id": ids["widget"], "widget_annotations": widgets}))  # fmt: skip


if __name__ == "__main__":
    main()
