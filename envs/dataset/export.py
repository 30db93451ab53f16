"""Randomized, labelled image datasets: native JSONL, COCO and BOP; parallel and resumable.

Sample ``i`` is a pure function of (env id, preset, seed, i) (see :mod:`envs.dataset.sample`),
so 1 worker and K workers, or a resumed run, write the same bytes. Every file is written under
a temporary name and renamed, each sample's label file last, so an interrupted export loses at
most the samples in flight and ``resume=True`` continues where it stopped, after checking the
finished samples and the manifest (:mod:`envs.dataset.resume`). ``overwrite=True`` replaces
only a folder that holds an export of this project and nothing else, and only once the new
export has succeeded (:mod:`envs.dataset.swap`). A pool worker that dies stops the run with
an error naming the samples in flight (:mod:`envs.dataset.pool`). One export holds at most
``MAX_NUM_IMAGES`` samples; split a larger dataset into several exports.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from envs.dataset.config import (
    ExportConfig,
    ExportError,
    PolicyFactory,
    SampleError,
    WorkerDiedError,
    check_policy_factory,
)
from envs.dataset.formats import write_index
from envs.dataset.layout import MANIFEST, SUBFOLDERS, make_folder, remove_temporaries, write_file
from envs.dataset.manifest import build_manifest, check_is_export
from envs.dataset.pool import import_ray, run_pool, run_ray, run_serial
from envs.dataset.resume import check_resume, finished_samples
from envs.dataset.sample import episodes
from envs.dataset.swap import (
    check_only_export_entries,
    replace_folder,
    restore_interrupted_swap,
    swap_target,
)


def _stderr_note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def export_dataset(
    config: ExportConfig,
    *,
    progress: bool = True,
    on_done: Callable[[int], None] | None = None,
    note: Callable[[str], None] | None = None,
    policy_factory: PolicyFactory | None = None,
) -> Path:
    """Render and label ``num_images`` samples into ``config.out``; returns the folder.
    ``on_done(n)`` is called in this process each time ``n`` more samples are finished;
    ``note(message)`` receives remarks (default: one ``note: ...`` line on stderr).
    ``policy_factory(env_id)`` makes the policy (called on ``env.privileged_state()``) that
    acts during the steps before each capture when ``config.policy`` is not "random", e.g.
    ``agents.policies.experts.make_expert``; a module-level function, so it can be pickled
    to the worker processes and Ray tasks."""
    note = note or _stderr_note
    check_policy_factory(config, policy_factory)
    out = Path(config.out)
    restore_interrupted_swap(out, note)  # first: an overwrite killed mid-swap is undone
    if config.backend == "ray":
        import_ray()  # before anything is created, so a plain rerun works
    rows = None if config.episodes_file is None else len(episodes(config.episodes_file))
    if rows is not None and rows != config.num_images:
        raise ValueError(
            f"num_images ({config.num_images}) must equal the rows of {config.episodes_file!r} "
            f"({rows})"
        )
    if out.exists() and not out.is_dir():
        raise ExportError(
            f"--out {str(out)!r} is an existing file, not a folder; choose a folder path"
        )
    manifest = build_manifest(config)

    def write(folder: Path) -> None:
        settings = config if folder == out else replace(config, out=str(folder))
        _export_into(folder, settings, policy_factory, manifest, progress, on_done, note)

    if out.is_dir() and any(out.iterdir()):
        if config.overwrite:
            check_is_export(out, "overwrite")
            check_only_export_entries(out)
            replace_folder(swap_target(out), write, note)
            return out
        if not config.resume:
            raise FileExistsError(
                f"{str(out)!r} is not empty; pass resume=True (--resume) to continue an "
                "interrupted export with the same settings, overwrite=True (--overwrite) to "
                "replace it, or choose another folder"
            )
        check_resume(out, manifest)
    try:
        write(out)
    except (SampleError, WorkerDiedError) as exc:
        done = len(list((out / "labels").glob("*.json")))
        raise type(exc)(
            f"{exc}; the {done} finished samples in {str(out)!r} are kept: rerun with "
            "--resume (resume=True) to finish"
        ) from exc
    return out


def _export_into(
    out: Path,
    config: ExportConfig,
    policy_factory: PolicyFactory | None,
    manifest: dict[str, Any],
    progress: bool,
    on_done: Callable[[int], None] | None,
    note: Callable[[str], None],
) -> None:
    """Write the manifest, the missing samples and the index files into ``out``."""
    make_folder(out)
    remove_temporaries(out, config.camera_names or ())
    write_file(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    for sub in SUBFOLDERS[:3] + (("depth",) if config.depth else ()):
        make_folder(out / sub)
        if sub != "labels":
            for name in config.camera_names or ():  # several cameras: a folder each
                make_folder(out / sub / name)
    finished = finished_samples(out, config, note)
    count = config.num_images - len(finished)  # images to do, in index order (lazily)
    todo = (i for i in range(config.num_images) if i not in finished)
    workers = min(config.workers, os.cpu_count() or 1, max(count, 1))
    if workers < config.workers and config.backend == "local":
        note(f"--workers {config.workers} capped to {workers} ({os.cpu_count()} CPUs, "
             f"{count} images to do)")  # fmt: skip
    bar = tqdm(total=config.num_images, initial=config.num_images - count, unit="img",
               disable=not progress, desc="export")  # fmt: skip

    def done(n: int) -> None:
        bar.update(n)
        if on_done is not None:
            on_done(n)

    try:
        if config.backend == "ray":
            run_ray(config, policy_factory, todo, done)
        elif workers == 1:
            run_serial(config, policy_factory, todo, done)
        else:
            run_pool(config, policy_factory, todo, workers, done)
    finally:
        bar.close()
    write_index(out, config)
