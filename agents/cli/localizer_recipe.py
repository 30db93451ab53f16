"""Run the 128 px localizer recipe end to end and time it: the validation and training
exports, the heatmap network, its verifier and its refiner (the README's "A full-resolution
refiner"), in one process so that the three trainings read the 48,000 training images once.
Writes ``loc.pt``, ``ver.pt``, ``ref.pt`` (the spec ``loc.pt+ver.pt+ref.pt``), and
``recipe.json`` / ``recipe.md`` with each stage's wall time and the spec's calibrated
validation error. A rerun keeps every finished export and checkpoint (an interrupted recipe
resumes), so only a run in which every stage ran times the whole recipe. Every choice is
made on randomized validation data; the held-out domains are not touched.

The training exports skip the visible fractions (no training reads them) and store their
RGB PNGs uncompressed (zlib level 0: faster to write and to read, the same pixels).

Example (from scratch on a 2-core AMD EPYC whose speed varies, every stage run: 34.0-39.5
min before the cheaper inference of 2026-12-04 night, 32.0 and 31.4 min after; 27.2 and
27.1 min with freed memory kept and stored training PNGs, 28.4 without in that faster hour;
the same weights bit for bit throughout):
    python scripts/localizer_recipe.py --data data/recipe --out runs/recipe
    python scripts/evaluate_localizer.py --model runs/recipe/loc.pt+runs/recipe/ver.pt+runs/recipe/ref.pt \\
        --data data/target128 --json   # held out, once
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from agents.allocator import keep_freed_memory
from agents.cli import export, train_localizer, train_refiner, train_verifier
from agents.cli.args import add_precision_flag
from agents.cli.evaluate_localizer import visible_subset
from agents.experiments.localizer_recipe import (
    TRAIN_PNG_LEVEL,
    RecipeConfig,
    Stages,
    check_export_folder,
    cpu_name,
    export_visibility,
    exported,
    recipe_markdown,
)
from agents.outputs import OutputPathError, check_output_dir
from agents.perception.ensemble import load_localizer_spec
from agents.perception.heatmap_net import MERGES
from agents.perception.localizer import evaluate_localizer, load_data
from agents.perception.pose_data import PoseDataCache, concat_pose_data
from envs.files import write_atomic


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    d = RecipeConfig()
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--data", default="data/localizer_recipe",
                   help="folder for the exports (one subfolder each; finished ones are kept)")
    p.add_argument("--out", default="runs/localizer_recipe",
                   help="folder for the checkpoints, recipe.json and recipe.md")
    p.add_argument("--seed", type=int, default=d.seed, help="the three trainings' seed")
    p.add_argument("--size", type=int, default=d.size, help="image size (px)")
    p.add_argument("--train-images", type=int, default=None,
                   help="images per training export (default 12,000; four exports)")
    p.add_argument("--val-images", type=int, default=None,
                   help="images per validation export (default 300 / 1,600 / 800 / 800)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="network epochs")
    p.add_argument("--low-res-epochs", type=int, default=d.low_res_epochs,
                   help="the first N network epochs on half-size images (train_localizer.py)")
    p.add_argument("--verifier-epochs", type=int, default=d.verifier_epochs)
    p.add_argument("--refiner-epochs", type=int, default=d.refiner_epochs)
    p.add_argument("--merge", default=d.merge, choices=MERGES,
                   help="the network's merge of its context stage (train_localizer.py --merge)")
    p.add_argument("--crop", type=int, default=d.crop,
                   help="the verifier's and the refiner's crop side (px, multiple of 4)")
    add_precision_flag(p, default=d.precision)
    p.add_argument("--workers", type=int, default=d.workers, help="export processes")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    keep_freed_memory()  # the same results, fewer page faults per step and per image read
    try:
        config = RecipeConfig(seed=args.seed, size=args.size, train_images=args.train_images,
                              val_images=args.val_images, epochs=args.epochs,
                              low_res_epochs=args.low_res_epochs,
                              verifier_epochs=args.verifier_epochs,
                              refiner_epochs=args.refiner_epochs, merge=args.merge,
                              crop=args.crop,
                              precision=args.precision,
                              workers=args.workers, threads=args.threads)  # fmt: skip
        data_dir = check_output_dir(args.data, flag="--data")
        out = check_output_dir(args.out)
        report = run_recipe(config, data_dir, out, progress=not args.no_progress)
    except (ValueError, OutputPathError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"recipe: {report['recipe_minutes']:.1f} min "
          f"({'every stage ran' if report['every_stage_ran'] else 'some stages kept'}); "
          f"spec {report['spec']}")  # fmt: skip
    for name, s in report["validation"].items():
        print(f"validation {name}: {s['mean_cm']:.3f} cm mean, {s['median_cm']:.3f} median "
              f"(n {s['n']})")  # fmt: skip
    print(f"wrote {out / 'recipe.json'} and {out / 'recipe.md'}")
    return 0


def run_recipe(config: RecipeConfig, data_dir: Path, out: Path, *, progress: bool = True,
               log: Callable[[str], None] = print) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) the recipe: exports under ``data_dir``, checkpoints and the report
    under ``out``. Returns the report written to ``out/recipe.json``."""
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / "recipe.json"
    loc, ver, ref = out / "loc.pt", out / "ver.pt", out / "ref.pt"
    if not report_path.exists() and any(p.exists() for p in (loc, ver, ref)):
        raise ValueError(f"{str(out)!r} holds checkpoints that no recipe run there made "
                         "(no recipe.json): choose another --out")  # fmt: skip
    if report_path.exists():
        try:
            earlier = RecipeConfig.settings_of(json.loads(report_path.read_bytes())["settings"])
        except (ValueError, AttributeError, KeyError, TypeError):
            earlier = None
        if earlier != config.settings():
            raise ValueError(f"{str(out)!r} holds a recipe run with other settings "
                             f"({str(report_path)!r}): choose another --out")  # fmt: skip
    if not report_path.exists():  # an earlier run's report stays until this one replaces it
        write_atomic(report_path, json.dumps({"settings": config.settings(), "complete": False}))
    quiet = [] if progress else ["--no-progress"]
    stages = Stages(log)
    t_start = time.perf_counter()
    for item in config.all_exports():
        folder = data_dir / item.name
        check_export_folder(folder, item)
        done = (folder / "samples.jsonl").exists() and exported(folder, item.num_images)
        argv = ["--env", config.env_id, "--size", str(config.size), "--workers",
                str(config.workers), "--preset", item.preset, "--num-images",
                str(item.num_images), "--out", str(folder), "--seed", str(item.seed),
                "--resume", *([] if export_visibility(folder, item) else ["--no-visibility"]),
                *(["--png-level", str(TRAIN_PNG_LEVEL)] if item.use == "train" else []),
                *quiet]  # fmt: skip
        stages.run(f"export {item.name}", done, partial(export.main, argv))
    val = [str(data_dir / name) for name in config.names(use="choose")]
    train = [str(data_dir / name) for name in config.names(use="train")]
    common = ["--threads", str(config.threads), "--precision", config.precision,
              "--seed", str(config.seed), *quiet]  # fmt: skip
    cache = PoseDataCache(load_data)
    # a stage is kept only when the stages it builds on were: a new network needs a new verifier
    keep_loc = loc.exists()
    keep_ver = keep_loc and ver.exists()
    keep_ref = keep_ver and ref.exists()
    stages.train("network", keep_loc, lambda: train_localizer.main(
        ["--train", *train, "--val", *val, "--stem-stride", "2", "--merge", config.merge,
         "--out", str(loc), "--epochs", str(config.epochs),
         "--low-res-epochs", str(config.low_res_epochs), "--mask-weight", "1",
         "--color-jitter", "0.4",
         "--mirror", "--sigma", "0.5", *common], load=cache))  # fmt: skip
    stages.train("verifier", keep_ver, lambda: train_verifier.main(
        ["--localizer", str(loc), "--train", *train, "--val", *val, "--out", str(ver),
         "--epochs", str(config.verifier_epochs), "--crop", str(config.crop), *common],
        load=cache))  # fmt: skip
    stages.train("refiner", keep_ref, lambda: train_refiner.main(
        ["--localizer", f"{loc}+{ver}", "--train", *train, "--val", *val, "--out", str(ref),
         "--epochs", str(config.refiner_epochs), "--crop", str(config.crop), *common],
        load=cache))  # fmt: skip
    recipe_s = time.perf_counter() - t_start
    spec = f"{loc}+{ver}+{ref}"
    t0 = time.perf_counter()
    validation = validation_report(spec, config, data_dir, cache)
    report = {
        "settings": config.settings(), "complete": True, "spec": spec,
        "every_stage_ran": all(r["ran"] for r in stages.rows),
        "recipe_minutes": round(recipe_s / 60, 2), "stages": stages.rows,
        "validation": validation, "validation_seconds": round(time.perf_counter() - t0, 1),
        "machine": {"cpu": cpu_name(), "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
    }  # fmt: skip
    write_atomic(report_path, json.dumps(report, indent=2))
    write_atomic(out / "recipe.md", recipe_markdown(report))
    return report


def validation_report(spec: str, config: RecipeConfig, data_dir: Path, load: PoseDataCache
                      ) -> dict[str, Any]:  # fmt: skip
    """The finished spec on the calibrated validation sets through the nominal camera, in
    cm: occluded (10-90 % visible) and clutter (each figure's exports pooled)."""
    loc = load_localizer_spec(spec)
    obj = loc.meta["object"]
    out = {}
    for report in ("occluded", "clutter"):
        data = concat_pose_data([load(data_dir / n, obj) for n in config.names(report=report)])
        if report == "occluded":
            data = visible_subset(data, 0.1, 0.9)
        s = evaluate_localizer(loc, data, camera="nominal")
        out[f"calibrated_{report}"] = {k: round(s[k], 3) for k in ("mean_cm", "median_cm", "p90_cm")
                                       } | {"n": len(data)}  # fmt: skip
    return out
