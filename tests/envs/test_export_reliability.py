"""Export reliability: nothing lost, every bad input a clear error (issue 12).

--overwrite deletes only an export and only after the new one succeeded; a dead pool worker
stops the run naming the samples queued or running; --resume refuses to mix datasets and redoes
damaged samples; index files are written atomically; random steps draw from their own
stream; limits and argument errors are one-line messages before anything is created.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import envs.dataset.export as export
from envs.dataset.export import ExportConfig, export_dataset

N, SIZE = 6, 32
PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "textures" / "photos"
GAN = Path(__file__).resolve().parents[1] / "assets" / "gan" / "tobin_gan.pt"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _quiet(_: str) -> None:
    pass


def _export(out: Path, **kwargs: Any) -> Path:
    settings: dict[str, Any] = {"num_images": N, "size": SIZE, "out": str(out), **kwargs}
    return export_dataset(ExportConfig(**settings), progress=False, note=_quiet)


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted export (6 images, 32 px) that the damaged copies must return to."""
    return _export(tmp_path_factory.mktemp("reference") / "ref")


@pytest.fixture
def copy(reference: Path, tmp_path: Path) -> Path:
    """A private copy of the reference export."""
    return Path(shutil.copytree(reference, tmp_path / "data"))


def _script(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from scripts import export_dataset as script

    code = script.main([*argv, "--no-progress"])
    return code, capsys.readouterr().err


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _kill_at(monkeypatch: pytest.MonkeyPatch, index: int) -> None:
    """Pool workers (forked: the patch survives) SIGKILL themselves on sample ``index``."""
    real, parent = export._export_sample, os.getpid()

    def dying(i: int) -> int:
        if i == index and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(i)

    monkeypatch.setattr(export, "_export_sample", dying)


def _fail_at(monkeypatch: pytest.MonkeyPatch, index: int) -> None:
    real = export._export_sample

    def failing(i: int) -> int:
        if i == index:
            raise OSError("disk full")
        return real(i)

    monkeypatch.setattr(export, "_export_sample", failing)


# --- 1. --overwrite never destroys what it should not ---------------------------------------


def _thesis(d: Path, reference: Path) -> str:
    (d / "thesis.tex").write_text("\\chapter{Results}")
    (d / "src").mkdir()
    (d / "src" / "main.py").write_text("print('mine')")
    return "no manifest.json"


def _manifest_not_json(d: Path, reference: Path) -> str:
    (d / "manifest.json").write_text("{oops")
    (d / "results.csv").write_text("a,b\n1,2\n")
    return "is not valid JSON"


def _manifest_list(d: Path, reference: Path) -> str:
    (d / "manifest.json").write_text("[1, 2]")
    (d / "results.csv").write_text("a,b\n1,2\n")
    return "holds a JSON list"


def _manifest_of_another_tool(d: Path, reference: Path) -> str:
    (d / "manifest.json").write_text('{"name": "my-web-app", "version": "1.0"}')
    (d / "index.html").write_text("<html></html>")
    return "is not an export manifest"


def _samples_without_manifest(d: Path, reference: Path) -> str:
    for sub in ("labels", "rgb"):
        shutil.copytree(reference / sub, d / sub)
    return "no manifest.json"


@pytest.mark.parametrize(
    "make",
    [_thesis, _manifest_not_json, _manifest_list, _manifest_of_another_tool,
     _samples_without_manifest],
    ids=["thesis-and-src", "manifest-not-json", "manifest-a-list", "manifest-of-another-tool",
         "samples-without-manifest"],
)  # fmt: skip
def test_overwrite_refuses_a_folder_that_is_not_an_export(
    make: Callable[[Path, Path], str], reference: Path, tmp_path: Path, capsys: Any
) -> None:
    d = tmp_path / "mine"
    d.mkdir()
    why = make(d, reference)
    before = _tree(d)
    code, err = _script(["--out", str(d), "--overwrite", "--num-images", "2", "--size", "32"],
                        capsys)  # fmt: skip
    line = _one_line_error(err)
    assert code == 2 and "refusing to overwrite" in line and why in line
    assert _tree(d) == before
    first = sorted(p.name for p in d.iterdir())[0]
    assert first in line  # names what is there


@pytest.mark.parametrize(
    ("workers", "breaks"),
    [(1, _fail_at), (2, _kill_at)],
    ids=["a-sample-fails", "a-worker-is-killed"],
)
def test_a_failed_overwrite_keeps_the_old_dataset(
    workers: int, breaks: Callable[[pytest.MonkeyPatch, int], None], copy: Path,
    reference: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    breaks(monkeypatch, 1)
    with _deadline(60), pytest.raises(export.ExportError, match="nothing was replaced"):
        _export(copy, num_images=4, seed=3, workers=workers, overwrite=True)
    assert _tree(copy) == _tree(reference)
    assert sorted(p.name for p in copy.parent.iterdir()) == ["data"]  # no partial folder left


def test_overwrite_replaces_an_export_old_manifest_or_new(copy: Path, tmp_path: Path) -> None:
    """A manifest without the "format" marker (older exporter) is still recognized."""
    manifest = json.loads((copy / "manifest.json").read_text())
    for key in ("format", "sources"):
        manifest.pop(key)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    _export(copy, num_images=2, seed=3, overwrite=True)
    assert json.loads((copy / "manifest.json").read_text())["format"] == "domrand-export"
    assert len(list((copy / "labels").iterdir())) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    _export(copy, num_images=2, seed=4, overwrite=True)  # a new-style manifest too
    assert json.loads((copy / "manifest.json").read_text())["seed"] == 4


# --- 2. a dead worker never hangs the run --------------------------------------------------


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
    _kill_at(monkeypatch, killed)
    t0 = time.perf_counter()
    with _deadline(60), pytest.raises(export.WorkerDiedError) as info:
        _export(out, workers=2)
    assert time.perf_counter() - t0 < 30
    message = str(info.value)
    assert "worker process died" in message and "--resume" in message
    in_flight = json.loads(message.split("while samples ")[1].split(" were queued or")[0])
    assert killed in in_flight
    monkeypatch.undo()
    _export(out, workers=resume_workers, resume=True)
    assert _tree(out) == _tree(reference)


# --- 3. --resume never mixes datasets ------------------------------------------------------


@pytest.mark.parametrize("keep", ["labels-and-rgb", "rgb-only", "foreign-files"])
def test_resume_refuses_a_folder_without_a_manifest(keep: str, copy: Path, capsys: Any) -> None:
    (copy / "manifest.json").unlink()
    if keep == "rgb-only":
        shutil.rmtree(copy / "labels")
    if keep == "foreign-files":
        for sub in ("labels", "rgb", "instances"):
            shutil.rmtree(copy / sub)
        (copy / "samples.jsonl").unlink()
        (copy / "preview.png").unlink()
        (copy / "thesis.tex").write_text("\\chapter{Results}")
    before = _tree(copy)
    code, err = _script(["--out", str(copy), "--resume", "--seed", "7", "--num-images", "8",
                         "--size", "32"], capsys)  # fmt: skip
    line = _one_line_error(err)
    assert code == 2 and "no manifest.json" in line and str(copy) in line
    assert _tree(copy) == before


def _photo_preset(tmp_path: Path) -> tuple[Path, Path]:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("brick.jpg", "grass.jpg", "gravel.jpg"):
        shutil.copy(PHOTOS / name, photos / name)
    preset = tmp_path / "photos.yaml"
    preset.write_text(f"texture:\n  targets: [table, floor]\n  image_dir: {photos}\n"
                      "  size: 16\n  bank_size: 4\n")  # fmt: skip
    return preset, photos


def _gan_preset(tmp_path: Path) -> tuple[Path, Path]:
    ckpt = tmp_path / "gan.pt"
    shutil.copy(GAN, ckpt)
    preset = tmp_path / "gan.yaml"
    preset.write_text(f"texture:\n  targets: [table]\n  sources: [gan]\n"
                      f"  gan_checkpoint: {ckpt}\n  size: 16\n  bank_size: 2\n")  # fmt: skip
    return preset, ckpt


def _change_photo(path: Path, out: Path) -> str:
    shutil.copy(path / "grass.jpg", path / "brick.jpg")
    return "brick.jpg' of randomizer 'texture' changed"


def _remove_photo(path: Path, out: Path) -> str:
    (path / "gravel.jpg").unlink()
    return "gravel.jpg' of randomizer 'texture' was removed"


def _add_photo(path: Path, out: Path) -> str:
    shutil.copy(PHOTOS / "coffee.jpg", path / "coffee.jpg")
    return "coffee.jpg' of randomizer 'texture' was added"


def _manifest_without_hashes(path: Path, out: Path) -> str:
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["sources"]  # as an exporter before content hashes wrote it
    (out / "manifest.json").write_text(json.dumps(manifest))
    return "records no content hashes"


def _retrain_gan(path: Path, out: Path) -> str:
    import torch

    data = torch.load(path, map_location="cpu", weights_only=True)
    first = next(iter(data["generator"]))
    data["generator"][first] = data["generator"][first] * 1.01
    torch.save(data, path)
    return f"GAN checkpoint '{path}' of randomizer 'texture' changed"


@pytest.mark.parametrize(
    ("make_preset", "change"),
    [(_photo_preset, _change_photo), (_photo_preset, _remove_photo),
     (_photo_preset, _add_photo), (_gan_preset, _retrain_gan),
     (_photo_preset, _manifest_without_hashes)],
    ids=["photo-changed", "photo-removed", "photo-added", "gan-checkpoint-changed",
         "old-manifest-without-hashes"],
)  # fmt: skip
def test_resume_refuses_changed_source_files(
    make_preset: Callable[[Path], tuple[Path, Path]], change: Callable[[Path], str],
    tmp_path: Path, capsys: Any,
) -> None:  # fmt: skip
    preset, source = make_preset(tmp_path)
    out = _export(tmp_path / "d", num_images=2, preset=str(preset))
    sources = json.loads((out / "manifest.json").read_text())["sources"]["texture"]
    assert len(sources.get("images", {})) == 3 or len(sources["gan_sha256"]) == 64
    why = change(source, out)
    before = _tree(out)
    code, err = _script(["--out", str(out), "--resume", "--preset", str(preset),
                         "--num-images", "4", "--size", str(SIZE)], capsys)  # fmt: skip
    line = _one_line_error(err)
    assert code == 2 and why in line and "cannot resume" in line
    assert _tree(out) == before


@pytest.mark.parametrize(
    ("text", "why"),
    [("{not json", "is not valid JSON"), ("[1, 2, 3]", "holds a JSON list"),
     ('"a string"', "holds a JSON str"), ('{"pages": 3}', "is not an export manifest")],
    ids=["not-json", "a-list", "a-string", "an-object-of-another-tool"],
)  # fmt: skip
def test_resume_names_a_bad_manifest(text: str, why: str, copy: Path, capsys: Any) -> None:
    (copy / "manifest.json").write_text(text)
    before = _tree(copy)
    code, err = _script(["--out", str(copy), "--resume", "--num-images", str(N), "--size",
                         str(SIZE)], capsys)  # fmt: skip
    line = _one_line_error(err)
    assert code == 2 and why in line and str(copy / "manifest.json") in line
    assert _tree(copy) == before


# --- 4. every file written atomically, and verified on resume ------------------------------


def _png_of(shape: tuple[int, ...]) -> bytes:
    return export._png(np.zeros(shape, dtype=np.uint8))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "label-truncated": lambda d: (d / "labels/000002.json").write_text('{"index": 2, "rgb"'),
    "label-a-list": lambda d: (d / "labels/000002.json").write_text("[2]"),
    "label-of-another-index": lambda d: shutil.copy(d / "labels/000001.json",
                                                    d / "labels/000002.json"),
    "rgb-truncated": lambda d: (d / "rgb/000002.png").write_bytes(
        (d / "rgb/000002.png").read_bytes()[:100]),
    "rgb-wrong-size": lambda d: (d / "rgb/000002.png").write_bytes(_png_of((16, 16, 3))),
    "rgb-not-a-png": lambda d: (d / "rgb/000002.png").write_bytes(b"\x00" * 64),
    "instances-missing": lambda d: (d / "instances/000002.png").unlink(),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_redoes_damaged_samples(damage: str, copy: Path, reference: Path) -> None:
    DAMAGE[damage](copy)
    (copy / "samples.jsonl").unlink()
    notes: list[str] = []
    export_dataset(ExportConfig(num_images=N, size=SIZE, out=str(copy), resume=True),
                   progress=False, note=notes.append)  # fmt: skip
    assert _tree(copy) == _tree(reference)
    assert any("redoing 1 damaged sample(s) [2]" in n for n in notes), notes


@pytest.mark.parametrize("folder", ["labels", "rgb", "top-level"])
def test_resume_removes_temporary_files_of_killed_writes(
    folder: str, copy: Path, reference: Path
) -> None:
    """A process killed inside ``_write_atomic`` leaves ``.<name>.<pid>.tmp`` behind."""
    (copy / "labels" / "000002.json").unlink()  # the sample whose write was cut
    name = {"labels": "labels/.000002.json", "rgb": "rgb/.000002.png",
            "top-level": ".samples.jsonl"}[folder]  # fmt: skip
    (copy / f"{name}.4242.tmp").write_bytes(b'{"index": 2, "rg')
    _export(copy, resume=True)
    assert _tree(copy) == _tree(reference)


@pytest.fixture(scope="module")
def with_formats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(tmp_path_factory.mktemp("formats") / "f", num_images=2, formats=("coco", "bop"))


def _write_samples(out: Path) -> None:
    export.write_index(out, ExportConfig(num_images=2, size=SIZE, out=str(out)))


def _write_coco(out: Path) -> None:
    export.write_coco(out, list(export.iter_labels(out, 2)), SIZE)


def _write_bop(out: Path) -> None:
    export.write_bop(out, list(export.iter_labels(out, 2)))


WRITERS = {  # file whose size sets the limit, what rewrites it
    "samples.jsonl": ("samples.jsonl", _write_samples),
    "annotations.json": ("annotations.json", _write_coco),
    "bop-scene-json": ("bop/scene_gt_info.json", _write_bop),
    "preview.png": ("preview.png", _write_samples),
}


@pytest.mark.parametrize("target", list(WRITERS))
def test_a_failed_write_keeps_the_previous_file(
    target: str, with_formats: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails half-way (``ulimit -f`` below the file's size, or the encoder
    failing after its first bytes): the old bytes stay, no temporary file is left."""
    out = Path(shutil.copytree(with_formats, tmp_path / "f"))
    name, write = WRITERS[target]
    before = _tree(out)
    if target == "preview.png":
        from PIL import PngImagePlugin

        def half_written(im: Any, fp: Any, filename: Any, *args: Any) -> None:
            fp.write(b"\x89PNG\r\n\x1a\n")
            raise OSError(27, "File too large")

        monkeypatch.setattr(PngImagePlugin, "_save", half_written)
        monkeypatch.setitem(Image.SAVE, "PNG", half_written)
        with pytest.raises(OSError, match="File too large"):
            write(out)
    else:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, ((out / name).stat().st_size - 1, hard))
        try:
            with pytest.raises(export.ExportError, match=r"cannot write '.*': File too large"):
                write(out)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert _tree(out) == before


# --- 5. independent random streams ---------------------------------------------------------


def test_random_steps_draw_from_their_own_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envs.panda_env import PandaTaskEnv

    firsts: list[tuple[float, float]] = []
    real_step = PandaTaskEnv.step

    def step(self: Any, action: Any) -> Any:
        if self.elapsed_steps == 0:
            firsts.append((float(self.privileged_state()["object_pos"][0]), float(action[0])))
        return real_step(self, action)

    monkeypatch.setattr(PandaTaskEnv, "step", step)
    _export(tmp_path / "c", num_images=40, size=16, steps=1, visibility=False, preset="none")
    cube_x, action_x = np.asarray(firsts).T
    assert len(firsts) == 40 and abs(np.corrcoef(cube_x, action_x)[0, 1]) < 0.5
    monkeypatch.undo()
    a = _export(tmp_path / "a", num_images=3, steps=2)
    b = _export(tmp_path / "b", num_images=3, steps=2, workers=2)
    assert _tree(a) == _tree(b)  # the same seed still gives the same bytes


# --- 6. limits checked up front ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["--size", "4096"], "size must be 1..2048 px per side, got 4096"),
     (["--size", "0"], "size must be 1..2048 px per side, got 0"),
     (["--size", "-8"], "size must be 1..2048 px per side, got -8"),
     (["--seed", "-1"], "seed must be >= 0, got -1")],
    ids=["size-above-max", "size-zero", "size-negative", "seed-negative"],
)  # fmt: skip
def test_limits_fail_before_anything_is_created(
    args: list[str], expected: str, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "never"
    code, err = _script(["--out", str(out), "--num-images", "2", *args], capsys)
    assert code == 2 and expected in _one_line_error(err)
    assert not out.exists()


@pytest.mark.parametrize(
    ("workers", "images", "capped"),
    [(64, 2, "--workers 64 capped to"), (2, 1, "--workers 2 capped to 1")],
    ids=["more-than-cpus", "more-than-images"],
)
def test_workers_are_capped_with_a_note(
    workers: int, images: int, capped: str, tmp_path: Path, capsys: Any
) -> None:
    code, err = _script(["--out", str(tmp_path / "w"), "--num-images", str(images), "--size",
                         "16", "--workers", str(workers), "--preset", "none"], capsys)  # fmt: skip
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert code == 0 and len(notes) == 1 and capped in notes[0], err
    assert len(list((tmp_path / "w" / "labels").iterdir())) == images


# --- 7. one-line errors --------------------------------------------------------------------


def _read_only(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder nobody may write into (root ignores mode bits: the OS's answer is patched in)."""
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() != 0:
        return

    def refuse(real: Callable[..., Any]) -> Callable[..., Any]:
        def patched(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self.is_relative_to(out) and self != out:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)

        return patched

    for name in ("mkdir", "write_bytes", "write_text", "touch"):
        monkeypatch.setattr(Path, name, refuse(getattr(Path, name)))


@pytest.mark.parametrize(
    ("case", "expected"),
    [("read-only-folder", "Permission denied"), ("out-is-a-file", "is an existing file"),
     ("out-under-a-file", "cannot create folder"), ("ray-not-installed", "needs Ray")],
    ids=["read-only-folder", "out-is-a-file", "out-under-a-file", "ray-not-installed"],
)  # fmt: skip
def test_script_errors_are_one_line(
    case: str, expected: str, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    extra: list[str] = []
    if case == "read-only-folder":
        _read_only(out, monkeypatch)
    elif case == "out-is-a-file":
        out.write_text("notes")
    elif case == "out-under-a-file":
        (tmp_path / "file").write_text("notes")
        out = tmp_path / "file" / "o"
    else:
        monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
        extra = ["--backend", "ray"]
    before = _tree(tmp_path)
    code, err = _script(["--out", str(out), "--num-images", "2", "--size", "16", *extra], capsys)
    line = _one_line_error(err)
    assert code == 2 and expected in line
    assert str(out) in line or case == "ray-not-installed"
    assert _tree(tmp_path) == before  # nothing written
    if case == "ray-not-installed":
        assert not out.exists()
        code, _ = _script(["--out", str(out), "--num-images", "2", "--size", "16"], capsys)
        assert code == 0  # a plain rerun works


def _corrupt_line(d: Path) -> None:
    lines = (d / "samples.jsonl").read_text().splitlines()
    (d / "samples.jsonl").write_text(lines[0] + "\n" + lines[1][:40] + "\n")


def _record_without_keys(d: Path) -> None:
    (d / "samples.jsonl").write_text("{}\n")


@pytest.mark.parametrize(
    ("case", "argv", "expected"),
    [("num-zero", ["--num", "0"], "--num must be 1..1024, got 0"),
     ("num-negative", ["--num", "-2"], "--num must be 1..1024, got -2"),
     ("out-folder-missing", ["--out", "{tmp}/missing/p.png"], "does not exist; create it"),
     ("out-unknown-extension", ["--out", "{tmp}/p.txt"], "unknown image extension '.txt'"),
     ("out-is-a-folder", ["--out", "{tmp}"], "is a folder"),
     ("samples-line-corrupt", [], "samples.jsonl' line 2 is not valid JSON"),
     ("samples-record-without-keys", [], "samples.jsonl' line 1: expected a sample record"),
     ("grid-seed-negative", ["--seed", "-1"], "--seed must be >= 0, got -1"),
     ("grid-size-above-max", ["--size", "4096"], "--size must be 1..2048 px, got 4096")],
    ids=["num-zero", "num-negative", "out-folder-missing", "out-unknown-extension",
         "out-is-a-folder", "samples-line-corrupt", "samples-record-without-keys",
         "grid-seed-negative", "grid-size-above-max"],
)  # fmt: skip
def test_preview_script_errors(
    case: str, argv: list[str], expected: str, reference: Path, tmp_path: Path, capsys: Any
) -> None:
    from scripts import preview

    data = Path(shutil.copytree(reference, tmp_path / "data"))
    if case == "samples-line-corrupt":
        _corrupt_line(data)
    elif case == "samples-record-without-keys":
        _record_without_keys(data)
    args = ["--out", str(tmp_path / "sheet.png"), "--num", "2"]
    if not case.startswith("grid-"):
        args += ["--dataset", str(data)]
    args += [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert preview.main(args) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert expected in line
    assert not (tmp_path / "sheet.png").exists()


@pytest.mark.parametrize("kind", ["partial", "old"])
def test_overwrite_removes_folders_a_killed_overwrite_left(
    kind: str, copy: Path, tmp_path: Path
) -> None:
    stale = tmp_path / f".data.{kind}-999999999"  # above any pid_max: no such process
    shutil.copytree(copy, stale)
    notes: list[str] = []
    export_dataset(ExportConfig(num_images=2, size=SIZE, out=str(copy), overwrite=True),
                   progress=False, note=notes.append)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert any(str(stale) in n and "left behind" in n for n in notes), notes


# --- 8. review fixes: symlinks, interrupted swaps, the current folder, limits, names -------


@pytest.mark.parametrize("relative", [False, True], ids=["absolute-link", "relative-link"])
def test_overwrite_through_a_symlink_swaps_the_real_folder(
    relative: bool, copy: Path, tmp_path: Path, capsys: Any
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    link = links / "link"
    link.symlink_to(os.path.relpath(copy, links) if relative else copy)
    for seed in ("3", "4"):
        code, err = _script(["--out", str(link), "--overwrite", "--num-images", "2", "--size",
                             str(SIZE), "--seed", seed], capsys)  # fmt: skip
        assert code == 0 and "note:" not in err, err  # nothing stale, no phantom "removed"
        assert link.is_symlink() and link.resolve() == copy.resolve()
        assert json.loads((copy / "manifest.json").read_text())["seed"] == int(seed)
        assert sorted(p.name for p in (copy / "labels").iterdir()) == [
            "000000.json", "000001.json"
        ]  # fmt: skip
        assert sorted(p.name for p in links.iterdir()) == ["link"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "links"]


@pytest.mark.parametrize("dangling", [False, True], ids=["link-to-a-folder", "dangling-link"])
def test_overwrite_unlinks_stale_symlinks(dangling: bool, copy: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    stale = tmp_path / ".data.old-999999999"  # as an overwrite through a symlink once left
    stale.symlink_to(tmp_path / "gone" if dangling else elsewhere)
    notes: list[str] = []
    export_dataset(ExportConfig(num_images=2, size=SIZE, out=str(copy), overwrite=True),
                   progress=False, note=notes.append)  # fmt: skip
    assert not stale.is_symlink() and (elsewhere / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "elsewhere"]
    assert notes == [f"removed {str(stale)!r}, left behind by an overwrite that was killed"]


@pytest.mark.parametrize("case", ["resume", "overwrite", "two-old-folders"])
def test_a_swap_killed_between_its_renames_is_undone(
    case: str, copy: Path, reference: Path, tmp_path: Path, capsys: Any
) -> None:
    """Killed after ``out -> .out.old-<pid>`` and before ``.out.partial-<pid> -> out``."""
    old = tmp_path / ".data.old-999999999"
    shutil.copytree(copy, tmp_path / ".data.partial-999999999")
    copy.rename(old)
    if case == "two-old-folders":
        shutil.copytree(old, tmp_path / ".data.old-999999998")
    before = _tree(tmp_path)
    flags = ["--overwrite", "--seed", "3"] if case == "overwrite" else ["--resume"]
    code, err = _script(["--out", str(copy), *flags, "--num-images", str(N), "--size",
                         str(SIZE)], capsys)  # fmt: skip
    if case == "two-old-folders":
        line = _one_line_error(err)
        assert code == 2 and "several old datasets" in line and str(old) in line
        assert _tree(tmp_path) == before  # nothing deleted while out is missing
        return
    assert code == 0 and f"note: restored {str(copy)!r} from {str(old)!r}" in err, err
    assert not old.exists()
    if case == "resume":
        assert _tree(copy) == _tree(reference)
    else:
        assert json.loads((copy / "manifest.json").read_text())["seed"] == 3
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # stale partial removed


@pytest.mark.parametrize(
    ("out_arg", "cwd", "where"),
    [(".", "", "the current folder"), ("..", "labels", "a folder above the current one")],
    ids=["dot", "dot-dot"],
)
def test_overwrite_of_the_current_folder_is_refused_before_any_work(
    out_arg: str, cwd: str, where: str, copy: Path, tmp_path: Path, capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(copy / cwd)
    before = _tree(tmp_path)
    t0 = time.perf_counter()
    code, err = _script(["--out", out_arg, "--overwrite", "--num-images", "2", "--size",
                         str(SIZE)], capsys)  # fmt: skip
    line = _one_line_error(err)
    assert code == 2 and "refusing to overwrite" in line and where in line and "cd " in line
    assert time.perf_counter() - t0 < 5  # before any export work
    assert _tree(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize("num", ["10000000000", "10000001"], ids=["ten-billion", "max-plus-one"])
def test_num_images_has_an_upper_bound(num: str, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "big"
    code, err = _script(["--out", str(out), "--num-images", num, "--size", "8"], capsys)
    line = _one_line_error(err)
    assert code == 2 and "num_images must be >= 1 and <= 10,000,000 per export" in line
    assert "split a larger dataset into several exports" in line
    assert not out.exists()


@pytest.mark.parametrize("resume", [False, True], ids=["fresh", "resume"])
def test_finished_samples_come_from_one_listing(resume: bool, copy: Path) -> None:
    """At the largest allowed size, finding the 6 finished samples lists labels/ once
    (it probed 10,000,000 paths, ~30 s, and built a set that size)."""
    config = ExportConfig(num_images=10_000_000, size=SIZE, out=str(copy), resume=resume)
    (copy / "labels" / "0000003.json").write_text("{}")  # a look-alike name: not index 3
    t0 = time.perf_counter()
    assert export._finished(copy, config, _quiet) == set(range(N))
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize(
    ("name", "lookalike"),
    [("run[1]", "run1"), ("run*", "runX"), ("run?", "runs")],
    ids=["brackets", "star", "question-mark"],
)
def test_stale_cleanup_matches_the_name_literally(
    name: str, lookalike: str, copy: Path, tmp_path: Path
) -> None:
    out = copy.rename(tmp_path / name)
    other = tmp_path / f".{lookalike}.old-999999999"  # another dataset's: not to be touched
    shutil.copytree(out / "labels", other)
    own = tmp_path / f".{name}.old-999999999"
    own.mkdir()
    notes: list[str] = []
    export_dataset(ExportConfig(num_images=2, size=SIZE, out=str(out), overwrite=True),
                   progress=False, note=notes.append)  # fmt: skip
    assert other.is_dir() and len(list(other.iterdir())) == N
    assert not own.exists() and len(notes) == 1 and str(own) in notes[0]


@pytest.mark.parametrize(
    ("make", "shown"),
    [(lambda d: (d / "notes.txt").write_text("important"), "notes.txt"),
     (lambda d: (d / "analysis").mkdir() or (d / "analysis" / "fit.py").write_text("1"),
      "analysis/"),
     (lambda d: (d / ".notes").write_text("important"), ".notes")],
    ids=["a-text-file", "a-folder", "a-hidden-file"],
)  # fmt: skip
def test_overwrite_refuses_an_export_holding_other_files(
    make: Callable[[Path], Any], shown: str, copy: Path, capsys: Any
) -> None:
    make(copy)
    before = _tree(copy)
    code, err = _script(["--out", str(copy), "--overwrite", "--num-images", "2", "--size",
                         str(SIZE)], capsys)  # fmt: skip
    line = _one_line_error(err)
    assert code == 2 and "refusing to overwrite" in line and f"holds {shown}," in line
    assert "move them out of the folder" in line
    assert _tree(copy) == before


@pytest.mark.parametrize("killed", [2, 3], ids=["mid-chunk", "end-of-chunk"])
def test_a_dead_worker_names_only_unfinished_samples(
    killed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Samples 0..killed-1 of the dying worker's chunk were finished before it died."""
    out = tmp_path / "k"
    _kill_at(monkeypatch, killed)
    with _deadline(60), pytest.raises(export.WorkerDiedError) as info:
        _export(out, workers=2)
    message = str(info.value)
    listed = json.loads(message.split("while samples ")[1].split("]")[0] + "]")
    assert killed in listed and not set(range(killed)) & set(listed), message
    assert "were queued or running" in message
    assert all((out / "labels" / f"{i:06d}.json").exists() for i in range(killed))


def _preset_case(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Change to the folder the resume runs from; return its --preset and --out arguments."""
    if case == "another-relative-path":
        (tmp_path / "sub").mkdir()
        monkeypatch.chdir(tmp_path / "sub")
        return ["--preset", "../ph/p.yaml", "--out", "../d"]
    if case == "absolute-path":
        return ["--preset", str(tmp_path / "ph" / "p.yaml"), "--out", "d"]
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "ph" / "p.yaml", tmp_path / "copy" / "p.yaml")
    return ["--preset", "copy/p.yaml", "--out", "d"]


@pytest.mark.parametrize("case", ["another-relative-path", "absolute-path", "a-copy-elsewhere"])
def test_resume_compares_the_preset_by_its_contents(
    case: str, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from randomizers.presets import preset_text

    (tmp_path / "ph").mkdir()
    (tmp_path / "ph" / "p.yaml").write_text(preset_text("tobin"))
    monkeypatch.chdir(tmp_path)
    size = ["--size", "16"]
    code, err = _script(["--preset", "ph/p.yaml", "--out", "d", "--num-images", "2", *size],
                        capsys)  # fmt: skip
    assert code == 0, err
    args = _preset_case(case, tmp_path, monkeypatch)
    code, err = _script([*args, "--resume", "--num-images", "4", *size], capsys)
    assert code == 0, err
    assert len(list((tmp_path / "d" / "labels").iterdir())) == 4


@pytest.mark.parametrize(
    ("argv", "shown"),
    [(["--seed", "7"], "seed: 0 then, 7 now"),
     (["--steps", "2"], "steps: 0 then, 2 now"),
     (["--preset", "none"], "preset: 'tobin' (contents sha256 ")],
    ids=["seed", "steps", "preset-contents"],
)  # fmt: skip
def test_resume_shows_old_and_new_values(
    argv: list[str], shown: str, copy: Path, capsys: Any
) -> None:
    before = _tree(copy)
    code, err = _script(["--out", str(copy), "--resume", "--num-images", str(N), "--size",
                         str(SIZE), *argv], capsys)  # fmt: skip
    line = _one_line_error(err)
    assert code == 2 and "settings differ from the first run in" in line and shown in line
    assert "then, 'none' (contents sha256" in line or "preset" not in shown
    assert _tree(copy) == before
