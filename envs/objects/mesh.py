"""Meshes as collision shapes: STL read into OBJ, and a convex decomposition (PyBullet's
VHACD) cached in the user's cache folder, keyed by the file's sha256 and the parameters.

A concave mesh used as a dynamic body collides as its convex hull in Bullet; VHACD splits it
into convex parts so a mug has a hollow and a handle. The decomposition takes seconds, so it
runs once per file content and parameters (``$DOMRAND_CACHE`` moves the cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

from envs.sim import pybullet, quiet_stdout
from envs.visuals import cache_dir

VHACD_VERSION = 1  # bump to invalidate cached decompositions


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # parallel workers never read a half-written file


def read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) and triangles (M, 3) of an ASCII or binary STL file."""
    data = path.read_bytes()
    if len(data) >= 84:
        (n,) = struct.unpack_from("<I", data, 80)
        if 84 + 50 * n == len(data):  # binary: a 50-byte record per triangle
            rec = np.frombuffer(data, dtype=np.uint8, offset=84).reshape(n, 50)
            tri = rec[:, 12:48].copy().view("<f4").reshape(n, 3, 3)
            return _indexed(tri.astype(np.float64))
    text = data.decode("ascii", errors="replace").split()
    values: list[float] = []
    for i, word in enumerate(text):
        if word == "vertex":
            values.extend(float(v) for v in text[i + 1 : i + 4])
    if not values or len(values) % 9:
        raise ValueError(f"cannot read STL file {str(path)!r}: no triangles found")
    return _indexed(np.array(values).reshape(-1, 3, 3))


def _indexed(tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    verts, inverse = np.unique(tri.reshape(-1, 3), axis=0, return_inverse=True)
    return verts, inverse.reshape(-1, 3)


def obj_file(path: Path) -> Path:
    """``path`` if it is an OBJ file, else the STL converted to a cached OBJ."""
    if path.suffix.lower() != ".stl":
        return path
    out = cache_dir() / "meshes" / f"{path.stem}_{sha256_file(path)[:16]}.obj"
    if not out.exists():
        verts, faces = read_stl(path)
        lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in verts]
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
        _atomic_write(out, ("\n".join(lines) + "\n").encode())
    return out


def convex_decomposition(path: Path, resolution: int) -> Path:
    """The VHACD decomposition of the OBJ at ``path`` (computed once, then cached)."""
    params = {"resolution": resolution, "version": VHACD_VERSION}
    key = hashlib.sha256(
        (sha256_file(path) + json.dumps(params, sort_keys=True)).encode()
    ).hexdigest()[:20]
    out = cache_dir() / "vhacd" / f"{path.stem}_{key}.obj"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp.obj")
    log = out.with_suffix(f".{os.getpid()}.log")
    try:
        with quiet_stdout():  # VHACD prints its progress
            pybullet.vhacd(str(path), str(tmp), str(log), resolution=resolution)
    finally:
        log.unlink(missing_ok=True)
    if not tmp.exists() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"cannot load mesh {str(path)!r}: VHACD found no geometry in it")
    tmp.replace(out)
    return out
