"""Unlabelled frames of a held-out domain: collect_frames writes plain, seeded RGB PNGs and
nothing else; load_frames reads a folder back in name order and refuses, naming the count
or the file, what cannot serve as frames; the collect-frames script end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents.cli import collect_frames as collect_cli
from agents.gan.frames import MAX_FRAMES, MIN_FRAMES, collect_frames, load_frames

ENV = "domrand/Lift-v0"


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """(folder, returned paths) of 8 target-preset frames at 16 px, seed 5."""
    folder = tmp_path_factory.mktemp("frames") / "target"
    return folder, collect_frames(ENV, "target", folder, num=8, size=16, seed=5)


def _png(path: Path, value: int | tuple[int, ...], size: tuple[int, int] = (16, 16),
         mode: str = "RGB") -> Path:  # fmt: skip
    Image.new(mode, size, value).save(path)
    return path


def test_collect_frames_writes_numbered_rgb_pngs_and_nothing_else(frames) -> None:
    folder, paths = frames
    names = [f"frame_{i:04d}.png" for i in range(8)]
    assert [p.name for p in paths] == names and all(p.parent == folder for p in paths)
    assert sorted(p.name for p in folder.iterdir()) == names  # no labels, json or temporaries
    for p in paths:
        with Image.open(p) as im:
            assert (im.format, im.mode, im.size) == ("PNG", "RGB", (16, 16))
    images = load_frames(folder)
    assert images.shape == (8, 16, 16, 3) and images.dtype == np.uint8
    assert len({im.tobytes() for im in images}) == 8  # every reset is a different scene
    assert all(im.std() > 0 for im in images)  # rendered scenes, not blank images


def test_collect_frames_is_seeded(frames, tmp_path: Path) -> None:
    folder, _ = frames
    again = collect_frames(ENV, "target", tmp_path / "same", num=8, size=16, seed=5)
    other = collect_frames(ENV, "target", tmp_path / "other", num=8, size=16, seed=6)
    assert (
        [p.name for p in again]
        == [p.name for p in other]
        == [f"frame_{i:04d}.png" for i in range(8)]
    )
    for a in again:
        assert a.read_bytes() == (folder / a.name).read_bytes(), a.name
    first, second = load_frames(folder), load_frames(tmp_path / "other")
    assert all(not np.array_equal(x, y) for x, y in zip(first, second, strict=True))


@pytest.mark.parametrize("num", [MIN_FRAMES - 1, MAX_FRAMES + 1, 0])
def test_collect_frames_refuses_a_count_outside_the_range(num: int, tmp_path: Path) -> None:
    out = tmp_path / "new"
    with pytest.raises(ValueError, match=rf"num must be 8\.\.200 frames .*got {num}$"):
        collect_frames(ENV, "target", out, num=num, size=16)
    assert not out.exists()  # refused before anything was made


def test_collect_frames_refuses_a_folder_that_already_holds_frames(tmp_path: Path) -> None:
    _png(tmp_path / "frame_0003.png", (1, 2, 3))
    before = (tmp_path / "frame_0003.png").read_bytes()
    with pytest.raises(ValueError, match=r"already holds 1 frame_\*\.png files; choose an empty"):
        collect_frames(ENV, "target", tmp_path, num=8, size=16)
    assert [p.name for p in tmp_path.iterdir()] == ["frame_0003.png"]
    assert (tmp_path / "frame_0003.png").read_bytes() == before


def test_collect_frames_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f"
    argv = ["--env", ENV, "--preset", "target", "--num", "8", "--size", "16", "--seed", "3",
            "--quiet"]  # fmt: skip
    assert collect_cli.main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("wrote 8 unlabelled 16 px frames of domrand/Lift-v0 (target)")
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{i:04d}.png" for i in range(8)]
    assert load_frames(out).shape == (8, 16, 16, 3)
    for bad, words in ((["--size", "0"], "--size must be 1.."), (["--seed", "-1"], "--seed must be >= 0"),
                       (["--num", "3"], "8..200 frames"),
                       ([], "already holds 8 frame_*.png files")):  # fmt: skip
        assert collect_cli.main([*argv, *bad, "--out", str(out)]) == 2, bad
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1, err


def test_load_frames_reads_every_image_in_name_order(tmp_path: Path) -> None:
    for i in (9, 2, 0, 5, 7, 1, 3, 8):  # written out of order
        _png(tmp_path / f"f{i}.png", (i, 10 * i, 255 - i))
    _png(tmp_path / "f6.png", 60, mode="L")  # grayscale and RGBA become RGB
    _png(tmp_path / "f4.png", (4, 40, 251, 128), mode="RGBA")
    (tmp_path / "notes.txt").write_text("not an image")  # other files are skipped
    _png(tmp_path / ".hidden.png", (0, 0, 0))
    images = load_frames(tmp_path)
    assert images.shape == (10, 16, 16, 3) and images.dtype == np.uint8
    expected = [(i, 10 * i, 255 - i) for i in range(10)]
    expected[6] = (60, 60, 60)
    np.testing.assert_array_equal(images[:, 5, 7], expected)
    assert (images == images[:, :1, :1]).all()  # each file's own constant colour


def test_load_frames_refuses_too_few_naming_the_count(tmp_path: Path) -> None:
    for i in range(3):
        _png(tmp_path / f"{i}.png", (i, i, i))
    with pytest.raises(ValueError, match=r"holds 3 image\(s\); at least 8 unlabelled frames"):
        load_frames(tmp_path)
    assert load_frames(tmp_path, min_count=3).shape == (3, 16, 16, 3)
    with pytest.raises(ValueError, match=r"holds 3 image\(s\); at least 4 "):
        load_frames(tmp_path, min_count=4)


def test_load_frames_refuses_mixed_sizes_naming_both_files(tmp_path: Path) -> None:
    for i in range(7):
        _png(tmp_path / f"a{i}.png", (i, i, i))
    _png(tmp_path / "b.png", (9, 9, 9), size=(20, 12))
    with pytest.raises(
        ValueError, match=r"mixed sizes: a0\.png is 16x16 px but b\.png is 20x12 px"
    ):
        load_frames(tmp_path)


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_load_frames_refuses_a_file_that_is_not_an_image(kind: str, tmp_path: Path) -> None:
    for i in range(8):
        _png(tmp_path / f"a{i}.png", (i, i, i))
    bad = tmp_path / "a3.png"
    if kind == "garbage":
        bad.write_bytes(b"this is no png at all" * 10)
    else:
        noise = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(noise).save(bad)
        bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"a3\.png' is not a readable image"):
        load_frames(tmp_path)


def test_load_frames_refuses_an_empty_or_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=r"no images in .*; looked for files ending in"):
        load_frames(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"'.*missing' does not exist or is not a folder"):
        load_frames(tmp_path / "missing")
