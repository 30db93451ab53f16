"""Who renders: 1 or K processes and Ray write the same bytes; a failing sample or a dead pool
worker stops the run with an error naming the samples (never a hang); workers are capped."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import envs.dataset.sample as sample
from envs.dataset.config import ExportConfig, SampleError, WorkerDiedError
from envs.dataset.export import export_dataset
from tests.envs.test_export_support import (
    deadline,
    export_small,
    kill_at,
    reference_export,
    run_script,
    tree,
)


def test_one_and_two_workers_write_the_same_bytes(tmp_path) -> None:
    a = export_dataset(ExportConfig(num_images=6, size=48, out=str(tmp_path / "a")), progress=False)
    done: list[int] = []
    b = export_dataset(
        ExportConfig(num_images=6, size=48, out=str(tmp_path / "b"), workers=2),
        progress=False, on_done=done.append,
    )  # fmt: skip
    assert tree(a) == tree(b)
    assert sum(done) == 6


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
    assert tree(local) == tree(remote)


def test_a_failing_sample_names_its_index_and_keeps_earlier_ones(tmp_path, monkeypatch) -> None:

    real = sample.export_sample

    def flaky(index: int) -> int:
        if index == 3:
            raise OSError("disk full")
        return real(index)

    monkeypatch.setattr(sample, "export_sample", flaky)
    out = tmp_path / "f"
    with pytest.raises(SampleError, match="sample 3 failed: OSError: disk full"):
        export_dataset(ExportConfig(num_images=5, size=32, out=str(out)), progress=False)
    assert sorted(p.name for p in (out / "labels").glob("*.json")) == [
        "000000.json", "000001.json", "000002.json"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("workers", "images", "capped"),
    [(64, 2, "--workers 64 capped to"), (2, 1, "--workers 2 capped to 1")],
    ids=["more-than-cpus", "more-than-images"],
)
def test_workers_are_capped_with_a_note(
    workers: int, images: int, capped: str, tmp_path: Path, capsys: Any
) -> None:
    code, err = run_script(["--out", str(tmp_path / "w"), "--num-images", str(images), "--size",
                         "16", "--workers", str(workers), "--preset", "none"], capsys)  # fmt: skip
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert code == 0 and len(notes) == 1 and capped in notes[0], err
    assert len(list((tmp_path / "w" / "labels").iterdir())) == images


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted export (6 images, 32 px) that the damaged copies must return to."""
    return reference_export(tmp_path_factory)


@pytest.mark.parametrize(
    ("killed", "resume_workers"),
    [(0, 2), (2, 1), (5, 2)],
    ids=["first-sample", "mid-chunk", "last-chunk"],
)
def test_a_killed_worker_stops_the_run_and_resume_completes_it(
    killed: int, resume_workers: int, reference: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    out = tmp_path / "k"
    kill_at(monkeypatch, killed)
    t0 = time.perf_counter()
    with deadline(60), pytest.raises(WorkerDiedError) as info:
        export_small(out, workers=2)
    assert time.perf_counter() - t0 < 30
    message = str(info.value)
    assert "worker process died" in message and "--resume" in message
    in_flight = json.loads(message.split("while samples ")[1].split(" were queued or")[0])
    assert killed in in_flight
    monkeypatch.undo()
    export_small(out, workers=resume_workers, resume=True)
    assert tree(out) == tree(reference)


@pytest.mark.parametrize("killed", [2, 3], ids=["mid-chunk", "end-of-chunk"])
def test_a_dead_worker_names_only_unfinished_samples(
    killed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Samples 0..killed-1 of the dying worker's chunk were finished before it died."""
    out = tmp_path / "k"
    kill_at(monkeypatch, killed)
    with deadline(60), pytest.raises(WorkerDiedError) as info:
        export_small(out, workers=2)
    message = str(info.value)
    listed = json.loads(message.split("while samples ")[1].split("]")[0] + "]")
    assert killed in listed and not set(range(killed)) & set(listed), message
    assert "were queued or running" in message
    assert all((out / "labels" / f"{i:06d}.json").exists() for i in range(killed))


def test_a_sample_is_the_same_whatever_its_worker_drew_before(tmp_path) -> None:
    """Sample 5,557 of the recipe's ``c_pb`` export is one that TinyRenderer drew a few
    pixels one level apart after some histories (the pool hands samples to workers by
    timing): rendered in a fresh worker, then again after samples 5,548-5,551 and 5,556 (a
    history that gave other bytes before :meth:`Simulation.restore` drew its 1 x 1 image),
    its files are the same. A plain env leaves the 1 x 1 image off (a third of a 64 px
    randomized reset)."""
    config = ExportConfig(env_id="domrand/Lift-v0", preset="tobin_photo_bank_everywhere",
                          num_images=12000, size=128, out=str(tmp_path), seed=736,
                          visibility=False)  # fmt: skip
    for sub in ("rgb", "instances", "labels"):
        (tmp_path / sub).mkdir()
    sample.init_worker(config)
    try:
        assert sample._Worker.env is not None and sample._Worker.env.scene.sim.history_free
        files = ("rgb/005557.png", "instances/005557.png", "labels/005557.json")
        sample.export_sample(5557)
        fresh = [(tmp_path / f).read_bytes() for f in files]
        for i in (5548, 5549, 5550, 5551, 5556, 5557):
            sample.export_sample(i)
        assert [(tmp_path / f).read_bytes() for f in files] == fresh
    finally:
        sample.close_worker()
    from envs.sim import Simulation

    sim = Simulation()
    try:
        assert not sim.history_free
    finally:
        sim.close()
