"""Procedural texture sources: dead leaves (shapes, colours, coverage, determinism) and the
preset that trains with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from randomizers import load_preset
from randomizers.texture_sources import PROCEDURAL, dead_leaves, procedural


def test_dead_leaves_are_deterministic_and_seed_dependent() -> None:
    a = procedural("leaves", 64, [0.1, 0.2, 0.3], [0.9, 0.8, 0.7], 4.0, 0.0, 7)
    b = procedural("leaves", 64, [0.1, 0.2, 0.3], [0.9, 0.8, 0.7], 4.0, 0.0, 7)
    c = procedural("leaves", 64, [0.1, 0.2, 0.3], [0.9, 0.8, 0.7], 4.0, 0.0, 8)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert "leaves" in PROCEDURAL


def test_dead_leaves_colours_lie_between_the_two_colours() -> None:
    lo, hi = np.array([0.2, 0.0, 0.5]), np.array([0.4, 1.0, 0.6])
    img = procedural("leaves", 64, lo.tolist(), hi.tolist(), 3.0, 0.0, 1).reshape(-1, 3)
    assert (img >= np.floor(lo * 255) - 1).all() and (img <= np.ceil(hi * 255) + 1).all()
    assert len(np.unique(img, axis=0)) > 100  # many leaves, each its own colour


def test_dead_leaves_cover_the_texture_at_every_scale() -> None:
    """Leaves of many sizes and colours cover the texture (no colour, the first one painted
    included, covers much of it), and smaller leaves (larger ``scale``) make more edges."""
    edges = []
    for scale in (2.0, 10.0):
        img = dead_leaves(64, [0, 0, 0], [1, 1, 1], scale, 3)
        _, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
        assert counts.max() / counts.sum() < 0.35
        edges.append(float((np.abs(np.diff(img, axis=1)).sum(-1) > 0).mean()))
    assert edges[1] > edges[0]


def test_tobin_leaves_preset_adds_the_source_everywhere() -> None:
    kinds = {r.kind: r for r in load_preset("tobin_leaves").randomizers}
    photos = {r.kind: r for r in load_preset("tobin_photos").randomizers}
    assert kinds["texture"].bank.sources == (*photos["texture"].bank.sources, "leaves")
    assert "leaves" in kinds["distractors"].bank.sources
    assert set(kinds) == set(photos)


@pytest.mark.parametrize("scale", [1.0, 64.0])
def test_dead_leaves_accept_the_scale_limits(scale: float) -> None:
    img = dead_leaves(32, [0, 0, 0], [1, 1, 1], scale, 0)
    assert img.shape == (32, 32, 3) and np.isfinite(img).all()


def test_a_bank_texture_written_as_bmp_renders_as_its_png_did(tmp_path, monkeypatch) -> None:
    """Banks go to PyBullet as uncompressed BMP files in RAM (thousands per worker start):
    a texture renders exactly as the PNG it replaced, and the RAM folder is optional."""
    import os

    import pybullet as pb
    from PIL import Image

    from randomizers.texture import memory_tempdir

    tex = procedural("leaves", 64, [0.1, 0.2, 0.3], [0.9, 0.8, 0.7], 4.0, 0.0, 7)
    Image.fromarray(tex).save(tmp_path / "t.png", compress_level=0)
    Image.fromarray(tex).save(tmp_path / "t.bmp")
    client = pb.connect(pb.DIRECT)
    try:
        half = [0.2, 0.2, 0.2]
        body = pb.createMultiBody(0, -1, pb.createVisualShape(pb.GEOM_BOX, halfExtents=half,
                                                              physicsClientId=client),
                                  physicsClientId=client)  # fmt: skip
        view = pb.computeViewMatrix([0.5, 0.4, 0.6], [0, 0, 0], [0, 0, 1])
        proj = pb.computeProjectionMatrixFOV(60, 1, 0.05, 4)
        frames = []
        for name in ("t.png", "t.bmp"):
            tid = pb.loadTexture(str(tmp_path / name), physicsClientId=client)
            pb.changeVisualShape(body, -1, textureUniqueId=tid, physicsClientId=client)
            rgba = pb.getCameraImage(64, 64, view, proj, renderer=pb.ER_TINY_RENDERER,
                                     physicsClientId=client)[2]  # fmt: skip
            frames.append(np.reshape(rgba, (64, 64, 4)))
    finally:
        pb.disconnect(client)
    assert np.array_equal(frames[0], frames[1])
    assert len(np.unique(frames[0].reshape(-1, 4), axis=0)) > 50  # the texture shows
    assert memory_tempdir() in ("/dev/shm", None)
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    assert memory_tempdir() is None  # not writable: the default temporary folder


def test_a_bank_uploads_one_file_at_a_time_and_leaves_none(tmp_path, monkeypatch) -> None:
    """Each bank texture is removed once PyBullet has loaded it: a container's 64 MB
    ``/dev/shm`` holds a 4,096-texture bank of any size, and nothing is left behind."""
    from types import SimpleNamespace

    from randomizers import texture

    shm = tmp_path / "shm"
    shm.mkdir()
    monkeypatch.setattr(texture, "memory_tempdir", lambda: str(shm))
    seen: list[list[str]] = []

    def load(path: str) -> int:
        seen.append(sorted(p.name for p in Path(path).parent.iterdir()))
        assert Image.open(path).format == "BMP" and Image.open(path).size == (16, 16)
        return len(seen)

    bank = texture.TextureBank.from_config({"bank_size": 12, "size": 16}, "texture",
                                           ("flat", "checker"))  # fmt: skip
    ids = bank.upload(SimpleNamespace(store={}, client=SimpleNamespace(loadTexture=load)))
    assert ids == list(range(1, 13)) and seen == [[f"{i}.bmp"] for i in range(12)]
    assert list(shm.iterdir()) == []
