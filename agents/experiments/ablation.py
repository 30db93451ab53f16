"""Tobin et al. (2017) Table II in simulation: which randomizations the pose regressor needs.

Trains the regressor with the full ``tobin`` preset, with one part removed at a time
(image noise, camera, distractors) and with no randomization, then evaluates every model
on held-out ``target``-domain test sets: the object alone, among distractors, and
partially occluded (samples whose target is 10-90% visible). All datasets, checkpoints and
results live in one folder, so a rerun with ``resume`` redoes only what is missing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.perception.pose_data import PoseData, load_pose_data
from agents.perception.pose_regressor import (
    RegressorConfig,
    error_summary,
    position_errors,
    save_regressor,
    train_regressor,
)
from agents.plots import bar_chart
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from envs.files import write_atomic
from randomizers.assets import asset_dir
from randomizers.presets import preset_dir, read_yaml, resolve_paths

TRAIN_CONFIGS: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (base preset, kinds removed)
    "full": ("tobin", ()),
    "no_noise": ("tobin", ("image_noise",)),
    "no_camera": ("tobin", ("camera",)),
    "no_distractors": ("tobin", ("distractors",)),
    "none": ("none", ()),
    "tobin_gan": ("tobin_gan", ()),  # not in Table II: tobin plus appearance-GAN textures
}
TABLE_II = ("full", "no_noise", "no_camera", "no_distractors", "none")
TRAIN_LABELS = {
    "full": "full randomization",
    "no_noise": "no image noise",
    "no_camera": "no camera randomization",
    "no_distractors": "no distractors",
    "none": "no randomization",
    "tobin_gan": "full + GAN textures",
}
TEST_SETS = ("object_only", "distractors", "occlusions")
HELD_OUT = ("target", "target_camera_shift")  # the held-out domains the test sets build on
OCCLUDED = (0.1, 0.9)  # visible-fraction range of the target that counts as occluded


def _photo_dir() -> str:
    return str((asset_dir() / "textures" / "photos").resolve())


def _load_yaml(name: str) -> dict[str, Any]:
    path = preset_dir() / f"{name}.yaml"
    data = read_yaml(path.read_text(), str(path)) or {}
    # the derived presets are written elsewhere: make their paths absolute
    return {
        k: resolve_paths(v, preset_dir()) if isinstance(v, dict) else v for k, v in data.items()
    }


def train_preset(name: str) -> dict[str, Any]:
    """The preset of one training configuration of :data:`TRAIN_CONFIGS`."""
    if name not in TRAIN_CONFIGS:
        raise ValueError(f"unknown configuration {name!r}; allowed: {', '.join(TRAIN_CONFIGS)}")
    base, drop = TRAIN_CONFIGS[name]
    data = _load_yaml(base)
    return {k: v for k, v in data.items() if k not in drop}


def eval_preset(name: str, domain: str = "target") -> dict[str, Any]:
    """A held-out domain (:data:`HELD_OUT`), alone or with photo-textured distractors
    (spread over the table, or placed around the target to occlude it)."""
    if domain not in HELD_OUT:
        raise ValueError(f"unknown held-out domain {domain!r}; allowed: {', '.join(HELD_OUT)}")
    data = _load_yaml(domain)
    clutter = {
        "shapes": ["random", "sphere", "cylinder"],
        "image_dir": _photo_dir(),
        "sources": ["image"],
        "pool_seed": 7,  # other bodies than any training pool
    }
    if name == "object_only":
        return data
    if name == "distractors":
        return {**data, "distractors": {**clutter, "count": [2, 10]}}
    if name == "occlusions":
        occluders = {**clutter, "count": [2, 5], "around": "target",
                     "x": [-0.08, 0.08], "y": [-0.08, 0.08]}  # fmt: skip
        return {**data, "distractors": occluders}
    raise ValueError(f"unknown test set {name!r}; allowed: {', '.join(TEST_SETS)}")


@dataclass(frozen=True)
class AblationConfig:
    """Sizes and budgets of the whole ablation."""

    out: str = "runs/ablation"
    env_id: str = "domrand/Lift-v0"
    size: int = 64
    train_images: int = 3000
    test_images: int = 300
    epochs: int = 20
    workers: int = 2
    seed: int = 0
    configs: tuple[str, ...] = TABLE_II
    object_name: str = "cube"
    occlusion_oversample: int = 4  # occluded test samples are filtered from this many x more
    domain: str = "target"  # held-out domain of the test sets: target or target_camera_shift

    def __post_init__(self) -> None:
        unknown = [c for c in self.configs if c not in TRAIN_CONFIGS]
        if unknown:
            raise ValueError(
                f"unknown configuration(s) {unknown}; allowed: {', '.join(TRAIN_CONFIGS)}"
            )
        if self.domain not in HELD_OUT:
            raise ValueError(
                f"unknown held-out domain {self.domain!r}; allowed: {', '.join(HELD_OUT)}"
            )
        for key in ("train_images", "test_images", "epochs", "workers", "occlusion_oversample"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")


def _write_preset(out: Path, name: str, data: Mapping[str, Any]) -> str:
    path = out / "presets" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(dict(data), sort_keys=False)
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
    return str(path)


def _export(config: AblationConfig, preset: str, folder: Path, n: int, seed: int,
            progress: bool) -> Path:  # fmt: skip
    if (folder / "samples.jsonl").exists():
        rows = sum(1 for line in (folder / "samples.jsonl").read_text().splitlines() if line)
        if rows == n:
            return folder
    return export_dataset(
        ExportConfig(env_id=config.env_id, preset=preset, num_images=n, size=config.size,
                     out=str(folder), seed=seed, workers=config.workers, resume=True),
        progress=progress,
    )  # fmt: skip


def export_test_sets(
    config: AblationConfig,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    timings: dict[str, float] | None = None,
) -> dict[str, PoseData]:
    """Export (or reuse) the held-out test sets of :data:`TEST_SETS` under
    ``config.out/data``; the occlusions set keeps the images whose target is 10-90% visible."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    timings = {} if timings is None else timings
    tests = {}
    for i, name in enumerate(TEST_SETS):
        t0 = time.perf_counter()
        test = f"test_{name}" if config.domain == "target" else f"test_{config.domain}_{name}"
        preset = _write_preset(out, test, eval_preset(name, config.domain))
        n = config.test_images * (config.occlusion_oversample if name == "occlusions" else 1)
        folder = _export(config, preset, out / "data" / test, n,
                         seed=10_000 + config.seed * 100 + i, progress=progress)  # fmt: skip
        data = load_pose_data(folder, config.object_name)
        if name == "occlusions":
            lo, hi = OCCLUDED
            keep = (data.visible_fraction >= lo) & (data.visible_fraction <= hi)
            data = data.subset(np.flatnonzero(keep)[: config.test_images])
        tests[name] = data
        timings[f"export test_{name}"] = time.perf_counter() - t0
        log(f"test set {name}: {len(data)} images in {folder} "
            f"(target visible fraction mean {np.nanmean(data.visible_fraction):.2f})")  # fmt: skip
    return tests


def run_ablation(
    config: AblationConfig,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Export, train and evaluate every configuration; write ``table.md``, ``results.json``
    and ``ablation.png`` into ``config.out`` and return the results."""
    out = Path(config.out)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    tests = export_test_sets(config, progress=progress, log=log, timings=timings)
    results: dict[str, Any] = {"config": asdict(config), "rows": {}, "timings_s": timings}
    for name in config.configs:
        j = list(TRAIN_CONFIGS).index(name)  # the data seed follows the name, not the order
        t0 = time.perf_counter()
        preset = _write_preset(out, f"train_{name}", train_preset(name))
        folder = _export(config, preset, out / "data" / f"train_{name}", config.train_images,
                         seed=config.seed * 100 + j, progress=progress)  # fmt: skip
        timings[f"export train_{name}"] = time.perf_counter() - t0
        train = load_pose_data(folder, config.object_name)
        ckpt = out / "models" / f"{name}.pt"
        row_file = out / "rows" / f"{name}.json"
        settings = {"env_id": config.env_id, "size": config.size, "seed": config.seed,
                    "train_images": config.train_images, "epochs": config.epochs,
                    "test_images": config.test_images, "object": config.object_name,
                    "domain": config.domain}  # fmt: skip
        done = json.loads(row_file.read_text()) if row_file.exists() else None
        if done is not None and done["settings"] == settings and ckpt.exists():
            row = done["row"]  # finished in an earlier run with the same settings
            log(f"{TRAIN_LABELS[name]:<26} reused from {row_file}")
        else:
            t0 = time.perf_counter()
            result = train_regressor(
                train, None,
                RegressorConfig(epochs=config.epochs, seed=config.seed,
                                object_name=config.object_name),
                progress=progress,
            )  # fmt: skip
            save_regressor(result, ckpt, {"env_id": config.env_id, "preset": name,
                                          "object": config.object_name, "num_train": len(train)})  # fmt: skip
            timings[f"train {name}"] = time.perf_counter() - t0
            row = {t: error_summary(position_errors(result, data)) for t, data in tests.items()}
            row_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(row_file, json.dumps({"settings": settings, "row": row}, indent=1))
        results["rows"][name] = row
        log(f"{TRAIN_LABELS[name]:<26}" + "".join(
            f"{t}: {row[t]['mean_cm']:.2f} +- {row[t]['std_cm']:.2f} cm   " for t in TEST_SETS))  # fmt: skip
    results["wall_s"] = time.perf_counter() - t_start
    write_atomic(out / "results.json", json.dumps(results, indent=1))
    write_atomic(out / "table.md", markdown_table(results))
    series = {
        t.replace("_", " "): [results["rows"][c][t]["mean_cm"] for c in results["rows"]]
        for t in TEST_SETS
    }
    chart = bar_chart(
        [TRAIN_LABELS[c] for c in results["rows"]],
        series,
        errors={t.replace("_", " "): [results["rows"][c][t]["std_cm"] for c in results["rows"]]
                for t in TEST_SETS},
        error_label="± 1 std over test images",
        title=f"pose error on {config.domain} ({config.size} px, {config.train_images} "
        "training images)",
        ylabel="mean error (cm)",
    )  # fmt: skip
    chart.save(out / "ablation.png")
    return results


def markdown_table(results: Mapping[str, Any]) -> str:
    """Mean +- std error (cm) per training configuration and test set."""
    lines = [
        "| training data | object only | with distractors | with occlusions |",
        "|---|---:|---:|---:|",
    ]
    for name, row in results["rows"].items():
        cells = [f"{row[t]['mean_cm']:.1f} ± {row[t]['std_cm']:.1f}" for t in TEST_SETS]
        lines.append(f"| {TRAIN_LABELS[name]} | " + " | ".join(cells) + " |")
    n = (
        {t: next(iter(results["rows"].values()))[t]["n"] for t in TEST_SETS}
        if results["rows"]
        else {}
    )
    lines.append("")
    domain = results.get("config", {}).get("domain", "target")
    lines.append(
        f"Mean ± std position error in cm on the held-out `{domain}` domain "
        f"(test images: {', '.join(f'{t} {n[t]}' for t in n)}); "
        f"this invocation {results.get('wall_s', 0) / 60:.1f} min (configurations finished by "
        "an earlier run with the same settings are reused, not retrained)."
    )
    return "\n".join(lines) + "\n"


def localizer_rows(paths: Sequence[str], tests: Mapping[str, PoseData]) -> dict[str, Any]:
    """Evaluate localizer checkpoints on the same test sets as the regressors (position
    error through the calibrated camera): ``{checkpoint: {test set: summary}}``."""
    from agents.perception.ensemble import load_localizer_spec
    from agents.perception.localizer import check_compatible, evaluate_localizer

    rows: dict[str, Any] = {}
    for path in paths:
        loc = load_localizer_spec(path)  # CKPT or an ensemble CKPT+CKPT
        rows[str(path)] = {}
        for name, data in tests.items():
            check_compatible(loc, data, path)
            summary = evaluate_localizer(loc, data)
            rows[str(path)][name] = {k: v for k, v in summary.items() if not k.endswith("_xy")}
    return rows


def localizer_table(rows: Mapping[str, Any]) -> str:
    """Markdown: mean ± std (median) cm per localizer and test set."""
    from agents.perception.ensemble import spec_name

    lines = ["| localizer | object only | with distractors | with occlusions |",
             "|---|---:|---:|---:|"]  # fmt: skip
    for path, sets in rows.items():
        cells = [f"{sets[t]['mean_cm']:.2f} ± {sets[t]['std_cm']:.2f} "
                 f"({sets[t]['median_cm']:.2f})" for t in TEST_SETS]  # fmt: skip
        lines.append(f"| `{spec_name(path)}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
