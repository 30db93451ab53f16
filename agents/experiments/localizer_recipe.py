"""What the 128 px localizer recipe is made of (``domrand localizer-recipe``): its exports,
its settings, the timing of its stages and its Markdown report. The recipe is the README's
"A full-resolution refiner": the heatmap network, its verifier and its refiner on 48,000
photo-bank images, every choice made on randomized validation data.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from agents.perception.heatmap_net import check_merge
from agents.perception.localizer import LocalizerConfig
from agents.perception.refiner import RefinerConfig
from agents.perception.verifier import VerifierConfig
from agents.training import check_precision

USES = ("choose", "report", "train")  # validation that chooses settings, report only, training
REPORTS = ("occluded", "clutter")  # the calibrated validation figures the report gives
# what a run from before each setting's flag trained
LEGACY = {"merge": "concat", "crop": 32, "low_res_epochs": 0}
# the training exports' RGB PNGs are stored (zlib level 0): 48,000 images written once and
# read once, ~0.7 ms less to write each and ~0.3 ms to read, the same pixels, ~1.5x the bytes
TRAIN_PNG_LEVEL = 0
MIN_TRAINING = max(RefinerConfig().batch_size, VerifierConfig().batch_size)  # one batch


@dataclass(frozen=True)
class RecipeExport:
    """One export of the recipe: its folder name under the data folder, preset, size and
    seed, what it is for (``use``) and which report figure it joins, if any."""

    name: str
    preset: str
    num_images: int
    seed: int
    use: str
    report: str | None = None

    def __post_init__(self) -> None:
        if self.use not in USES:
            raise ValueError(f"use must be one of {', '.join(USES)}, got {self.use!r}")
        if self.report is not None and self.report not in REPORTS:
            raise ValueError(f"report must be None or one of {', '.join(REPORTS)}, "
                             f"got {self.report!r}")  # fmt: skip


# the README's exports: tobin_photos and the two calibrated sets choose epochs and settings
# (occluded figures count 10-90 % visible cubes), the second clutter set only joins the report
EXPORTS = (
    RecipeExport("v2_val", "tobin_photos", 300, 93, "choose"),
    RecipeExport("val_caloccl", "val_photo_bank_calibrated_occluders", 1600, 522, "choose",
                 "occluded"),
    RecipeExport("val_calclutter", "val_photo_bank_calibrated_clutter", 800, 523, "choose",
                 "clutter"),
    RecipeExport("val_calclutter_b", "val_photo_bank_calibrated_clutter", 800, 524, "report",
                 "clutter"),
    RecipeExport("c_pb", "tobin_photo_bank_everywhere", 12000, 736, "train"),
    RecipeExport("b_pb", "tobin_photo_bank_everywhere", 12000, 734, "train"),
    RecipeExport("c_pbdense", "tobin_photo_bank_dense_occluders", 12000, 735, "train"),
    RecipeExport("b_pbdense", "tobin_photo_bank_dense_occluders", 12000, 733, "train"),
)  # fmt: skip


@dataclass(frozen=True)
class RecipeConfig:
    """What the recipe trains; the defaults are the README's seed-0 refiner recipe."""

    seed: int = 0
    size: int = 128
    train_images: int | None = None  # per training export (None: each export's own count)
    val_images: int | None = None  # per validation export (None: each export's own count)
    epochs: int = 9
    low_res_epochs: int = 0  # the first of those on half-size images (train_localizer.py)
    verifier_epochs: int = 4
    refiner_epochs: int = 8
    merge: str = "add"  # the network's trunk (heatmap_net.MERGES): ~1.4x the images/s of concat
    crop: int = 24  # the verifier's and refiner's crop side (px): 1.8x the crops/s of 32
    precision: str = "bf16"
    workers: int = 2
    threads: int = 2
    env_id: str = "domrand/Lift-v0"
    exports: tuple[RecipeExport, ...] = EXPORTS

    def __post_init__(self) -> None:
        check_precision(self.precision)  # here, not after minutes of exports
        check_merge(self.merge)
        LocalizerConfig(epochs=self.epochs, low_res_epochs=self.low_res_epochs)
        VerifierConfig(crop=self.crop)  # their own checks, here, not after the network
        RefinerConfig(crop=self.crop)
        for key in ("size", "epochs", "verifier_epochs", "refiner_epochs", "workers", "threads"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        for key in ("train_images", "val_images"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 64):  # fmt: skip
                raise ValueError(f"{key} must be an int >= 64 (a training batch), got {value!r}")
        names = [e.name for e in self.exports]
        for use in ("choose", "train"):
            if not any(e.use == use for e in self.exports):
                raise ValueError(f"the recipe needs at least one export with use {use!r}")
        for report in REPORTS:
            if not any(e.report == report for e in self.exports):
                raise ValueError(f"the recipe needs at least one export with report {report!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"export names must differ, got {names}")
        total = sum(e.num_images for e in self.all_exports() if e.use == "train")
        if total < MIN_TRAINING:
            raise ValueError(f"the training exports hold {total} images; a training batch "
                             f"needs {MIN_TRAINING}: raise train_images")  # fmt: skip

    def all_exports(self) -> list[RecipeExport]:
        """The exports in order, image counts replaced by ``train_images`` (training) and
        ``val_images`` (the others) when given."""
        out = []
        for e in self.exports:
            count = self.train_images if e.use == "train" else self.val_images
            out.append(e if count is None else replace(e, num_images=count))
        return out

    def names(self, *, use: str | None = None, report: str | None = None) -> list[str]:
        """The names of the exports with that use (or report figure), in order."""
        return [e.name for e in self.exports
                if (use is None or e.use == use) and (report is None or e.report == report)]  # fmt: skip

    @staticmethod
    def settings_of(saved: dict[str, Any]) -> dict[str, Any]:
        """Settings read from an earlier run's recipe.json, with the keys added since filled
        in as that run trained (a run before ``merge`` trained ``concat``)."""
        return {**LEGACY, **saved}

    def settings(self) -> dict[str, Any]:
        """Everything that decides the result, as JSON reads it back (a rerun into the same
        folder must match)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("workers", "threads")}
        out["exports"] = [asdict(e) for e in self.all_exports()]
        return json.loads(json.dumps(out))  # type: ignore[no-any-return]


def cpu_name() -> str:
    """The CPU's model name (the recipe's wall time depends on it: AMX or not)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def check_export_folder(folder: Path, item: RecipeExport) -> None:
    """Refuse an earlier export in ``folder`` with another image count: resuming it would
    rewrite its index to the new count."""
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return
    try:
        had = json.loads(manifest.read_bytes()).get("num_images")
    except ValueError:
        return  # the export's own resume check names the damage
    if had is not None and had != item.num_images:
        raise ValueError(f"{str(folder)!r} holds an export of {had} images; the recipe wants "
                         f"{item.num_images} there: choose another --data folder")  # fmt: skip


def export_visibility(folder: Path, item: RecipeExport) -> bool:
    """Whether ``item``'s export labels visible fractions: the choosing and report exports
    do (the occluded figure counts 10-90 % visible cubes), training exports do not (no
    training reads them, and their alone-renders cost about a sixth of an export), except
    an earlier one in ``folder`` made with them, which a resume must match."""
    if item.use != "train":
        return True
    try:
        return bool(json.loads((folder / "manifest.json").read_bytes()).get("visibility", True))
    except (OSError, ValueError, AttributeError):
        return False  # none yet, or damaged: the export's own resume check names the damage


class Stages:
    """Times each stage and records whether it ran or kept an earlier result."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.rows: list[dict[str, Any]] = []
        self.log = log

    def run(self, name: str, kept: bool, work: Callable[[], int]) -> None:
        """Time ``work`` (an exit status; a kept export's work is its resume check)."""
        t0 = time.perf_counter()
        rc = work()
        if rc:
            raise RuntimeError(f"the recipe's stage {name!r} failed (exit status {rc}); "
                               "the stages before it are kept: fix the cause and rerun")  # fmt: skip
        seconds = time.perf_counter() - t0
        self.rows.append({"stage": name, "seconds": round(seconds, 1), "ran": not kept})
        self.log(f"{name}: {'kept' if kept else 'done'} in {seconds / 60:.1f} min")

    def train(self, name: str, kept: bool, work: Callable[[], int]) -> None:
        """Run a training stage, or keep its earlier checkpoint (nothing runs)."""
        self.run(name, kept, (lambda: 0) if kept else work)


def exported(folder: Path, num_images: int) -> bool:
    """Whether ``folder``'s index lists ``num_images`` samples (a finished export)."""
    with open(folder / "samples.jsonl", "rb") as f:
        return sum(1 for line in f if line.strip()) == num_images


def recipe_markdown(report: dict[str, Any]) -> str:
    """The stage table, the total and the validation figures as Markdown."""
    m = report["machine"]
    lines = [f"# Localizer recipe (seed {report['settings']['seed']})", "",
             f"{m['cpu']}, {m['cpu_count']} CPUs, {m['torch_threads']} torch threads, "
             f"torch {m['torch']}", "", "| stage | wall (min) | |", "|---|---:|---|"]  # fmt: skip
    for r in report["stages"]:
        lines.append(f"| {r['stage']} | {r['seconds'] / 60:.2f} | {'ran' if r['ran'] else 'kept'} |")
    whole = "every stage ran" if report["every_stage_ran"] else "some stages kept: not a full timing"
    lines += [f"| **recipe** | **{report['recipe_minutes']:.2f}** | {whole} |", "",
              "| validation (nominal camera) | mean cm | median | p90 | n |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for name, s in report["validation"].items():
        lines.append(f"| {name} | {s['mean_cm']:.3f} | {s['median_cm']:.3f} | "
                     f"{s['p90_cm']:.3f} | {s['n']} |")  # fmt: skip
    lines += ["", f"Spec: `{report['spec']}`. Held out, once per finished recipe:", "",
              f"    python scripts/evaluate_localizer.py --model {report['spec']} --data "
              "TARGET_DIR --json"]  # fmt: skip
    return "\n".join(lines) + "\n"
