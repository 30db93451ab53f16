"""Objects as configuration: specs and names, the built-in set, meshes (VHACD, cached),
URDFs and primitives as the task object, and the errors a wrong object gives."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from envs.objects import BUILTIN_OBJECTS, CUBE, ObjectSpec, resolve_object
from envs.objects.mesh import read_stl

BUILTIN = list(BUILTIN_OBJECTS)


def _box_faces(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float):
    v = [(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    return v, [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]


def l_bracket_obj(path: Path) -> Path:
    """A concave L-shaped part, 4 x 4 x 3 cm, as an OBJ file."""
    verts: list[tuple[float, ...]] = []
    faces: list[tuple[int, ...]] = []
    for box in ((0, 0.04, 0, 0.012, 0, 0.03), (0, 0.012, 0, 0.04, 0, 0.03)):
        v, f = _box_faces(*box)
        faces += [tuple(len(verts) + i for i in t) for t in f]
        verts += v
    lines = [f"v {x} {y} {z}" for x, y, z in verts] + [
        f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def box_stl(path: Path, half: float = 0.02) -> Path:
    """A binary STL cube of half extent ``half``."""
    v, faces = _box_faces(-half, half, -half, half, -half, half)
    data = bytearray(80) + struct.pack("<I", len(faces))
    for tri in faces:
        data += struct.pack("<3f", 0, 0, 0)
        for i in tri:
            data += struct.pack("<3f", *v[i])
        data += b"\0\0"
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DOMRAND_CACHE", str(folder))
    return folder


# -- specs and names ---------------------------------------------------------------------
def test_names_paths_dicts_and_specs_resolve() -> None:
    assert resolve_object("cube") == CUBE
    mug = resolve_object("mug")
    assert mug.kind == "urdf" and mug.category == "mug"
    assert resolve_object("objects/mug.urdf").category == "mug"  # relative to pybullet_data
    bigger = resolve_object({"name": "duck", "scale": 2.0, "category": "toy"})
    assert (
        bigger.scale == pytest.approx(2 * BUILTIN_OBJECTS["duck"].scale)
        and bigger.category == "toy"
    )
    box = resolve_object({"source": "box", "size": [0.01, 0.02, 0.03], "mass": 0.2})
    assert box.size == (0.01, 0.02, 0.03) and box.category == "box" and box.mass == 0.2
    spec = ObjectSpec("sphere", size=(0.03,), category="ball")
    assert resolve_object(spec) is spec and spec.scaled(2).scale == 2.0


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("mugg", r"unknown object 'mugg'; built-in objects: cube, duck, teddy, mug"),
        ("no/such/part.obj", r"object file 'no/such/part.obj' not found"),
        ("box", r"object 'box' needs a size"),
        ({"name": "duck", "colour": 1}, r"unknown object field\(s\) \['colour'\]"),
        ({"scale": 2}, r"needs 'source' .* or 'name'"),
        (ObjectSpec, r"unknown object"),
    ],
)
def test_bad_objects_say_what_is_wrong(value: Any, match: str) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        resolve_object(value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"source": "box", "size": (0.1,)}, "needs 3 numbers"),
        ({"source": "box", "size": (0.1, 0.1, -0.1)}, "must be > 0"),
        ({"source": "sphere", "size": (0.1,), "scale": 0}, "scale must be > 0"),
        ({"source": "sphere", "size": (0.1,), "mass": -1}, "mass must be > 0"),
        ({"source": "sphere", "size": (0.1,), "rgba": (1, 0, 0)}, "rgba needs 4 numbers"),
        ({"source": "part.step"}, "neither a primitive"),
        ({"source": "part.obj", "size": (0.1,)}, "for primitives only"),
    ],
)
def test_bad_specs_fail_at_construction(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ObjectSpec(**kwargs)


# -- the built-in set as the Lift object --------------------------------------------------
@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_objects_rest_on_the_table_and_fit_the_gripper(name: str, make_env) -> None:
    env = make_env("domrand/Lift-v0", task_kwargs={"object": name})
    env.reset(seed=1)
    task, scene = env.task, env.scene
    assert task.objects == {task.body_name: BUILTIN_OBJECTS[name].category}
    assert scene.roles["target"] == [task.body_name]
    start = np.array(scene.sim.pose(task.body_name)[0])
    for _ in range(10):
        env.step(np.array([0, 0, 0, 1], dtype=np.float32))
    end = np.array(scene.sim.pose(task.body_name)[0])
    assert np.linalg.norm(end - start) < 0.003, "placed at rest: it neither falls nor jumps"
    ob = scene.objects[task.body_name]
    table = scene.sim.body("table")
    assert scene.client.getContactPoints(ob.body, table), "it rests on the table"
    width = 2 * ob.half[:2]  # the grasp width (narrow side) and the long side
    assert 0.01 <= width.min() <= 0.05 and width.max() <= 0.065, width
    worst = (width[0] + width[1]) / np.sqrt(2)  # across the fingers at 45 deg of yaw
    assert worst < 0.075, "fits the Panda's 8 cm opening at any yaw of the task"


def test_other_objects_use_their_own_params_and_the_cube_keeps_its_names(make_env) -> None:
    cube = make_env("domrand/Push-v0")
    mug = make_env("domrand/Push-v0", task_kwargs={"object": "mug"})
    assert [s.name for s in cube.task.state_space()][:3] == ["cube.x", "cube.y", "cube.yaw"]
    assert [s.name for s in mug.task.state_space()][:3] == ["object.x", "object.y", "object.yaw"]
    _, info = mug.reset(seed=0)
    assert set(info["randomization"]["task"]) == {"object.x", "object.y", "object.yaw",
                                                  "goal.x", "goal.y"}  # fmt: skip
    assert mug.task.objects == {"mug": "mug", "goal": "goal_region"}


def test_a_path_and_a_spec_work_like_a_name(make_env) -> None:
    import pybullet_data

    path = Path(pybullet_data.getDataPath()) / "lego" / "lego.urdf"
    env = make_env("domrand/Lift-v0", task_kwargs={"object": str(path)})
    assert env.task.objects == {"lego": "lego"}
    spec = ObjectSpec("cylinder", size=(0.02, 0.05), category="peg", mass=0.05)
    env = make_env("domrand/Lift-v0", task_kwargs={"object": spec})
    env.reset(seed=0)
    assert env.task.objects == {"peg": "peg"}
    assert env.task.rest_z == pytest.approx(env.scene.table_top + 0.025)


def test_unknown_object_fails_at_construction(make_env) -> None:
    with pytest.raises(ValueError, match="unknown object 'mugg'; built-in objects: cube, duck"):
        make_env("domrand/Lift-v0", task_kwargs={"object": "mugg"})


# -- meshes ----------------------------------------------------------------------------
def test_a_mesh_is_decomposed_once_and_cached(tmp_path: Path, cache: Path, make_env) -> None:
    part = l_bracket_obj(tmp_path / "bracket.obj")
    spec = {"source": str(part), "category": "bracket", "vhacd_resolution": 10_000}
    env = make_env("domrand/Lift-v0", task_kwargs={"object": spec})
    env.reset(seed=0)
    assert env.task.objects == {"bracket": "bracket"}
    cached = sorted((cache / "vhacd").glob("*.obj"))
    assert len(cached) == 1 and cached[0].stat().st_size > 0
    stamp = cached[0].stat().st_mtime_ns
    make_env("domrand/Lift-v0", task_kwargs={"object": spec})  # the same file: the cache
    assert cached[0].stat().st_mtime_ns == stamp
    make_env("domrand/Lift-v0", task_kwargs={"object": {**spec, "vhacd_resolution": 20_000}})
    assert len(list((cache / "vhacd").glob("*.obj"))) == 2  # other parameters: a new entry
    for _ in range(5):
        env.step(np.array([0, 0, 0, 1], dtype=np.float32))
    table = env.scene.sim.body("table")
    assert env.scene.client.getContactPoints(env.task.cube, table)  # it stands on the table


def test_stl_meshes_load(tmp_path: Path, cache: Path, make_env) -> None:
    stl = box_stl(tmp_path / "block.stl")
    verts, faces = read_stl(stl)
    assert verts.shape == (8, 3) and faces.shape == (12, 3)
    env = make_env("domrand/Lift-v0", task_kwargs={"object": {"source": str(stl),
                                                              "vhacd_resolution": 10_000}})  # fmt: skip
    assert env.task.objects == {"block": "block"}
    np.testing.assert_allclose(env.scene.objects["block"].half, 0.02, atol=0.004)


def test_a_mesh_that_cannot_be_loaded_names_the_file(tmp_path: Path, cache: Path, make_env) -> None:
    bad = tmp_path / "broken.obj"
    bad.write_text("this is not a mesh\n")
    with pytest.raises(ValueError, match=r"broken\.obj"):
        make_env("domrand/Lift-v0", task_kwargs={"object": str(bad)})
    bad_stl = tmp_path / "broken.stl"
    bad_stl.write_text("solid nothing\nendsolid\n")
    with pytest.raises(ValueError, match=r"broken\.stl"):
        make_env("domrand/Lift-v0", task_kwargs={"object": str(bad_stl)})
