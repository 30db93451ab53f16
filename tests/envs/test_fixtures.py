"""Fixtures: composed before the snapshot (resets restore them), overlaps and bad specs
fail at construction, a body added after gym.make fails with a clear error (or joins
through scene.add_fixture), and placement keeps clear of fixtures and of each other."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from envs.fixtures import FixtureSpec
from randomizers.placement import body_rect, count_overlaps

TRAY = FixtureSpec("tray/traybox.urdf", position=(0.55, 0.3), scale=0.5)


def _overlaps(env: Any) -> tuple[int, int]:
    """(overlapping pairs among the target, the distractors on the table and the fixtures,
    distractors on the table) measured from PyBullet's AABBs, no margin."""
    scene = env.unwrapped.scene
    c = scene.client
    fixed = [body_rect(c, scene.sim.body(n)) for n in scene.roles["fixtures"]]
    on_table = [
        n for n in scene.roles["distractors"] if scene.sim.pose(n)[0][2] > scene.table_top - 0.05
    ]
    rects = [body_rect(c, scene.sim.body(n)) for n in [*on_table, *scene.roles["target"]]]
    return count_overlaps(rects, fixed), len(on_table)


def _tray_overlaps(n: int) -> tuple[int, int]:
    env = gym.make("domrand/Lift-v0", randomization="tobin", fixtures=[TRAY])
    total = placed = 0
    for seed in range(n):
        env.reset(seed=seed)
        count, on_table = _overlaps(env)
        total += count
        placed += on_table
    env.close()
    return total, placed


def test_tray_and_tobin_distractors_never_overlap() -> None:
    overlaps, placed = _tray_overlaps(100)
    assert overlaps == 0
    assert placed > 300  # about 5 distractors an episode: the check is not vacuous


@pytest.mark.slow
def test_tray_and_tobin_distractors_never_overlap_over_1000_resets() -> None:
    overlaps, placed = _tray_overlaps(1000)
    assert overlaps == 0
    assert placed > 3000


def test_without_the_fix_distractors_land_in_the_tray() -> None:
    """The bug the fix closes: where the tray stands, undeclared, distractors land in it."""
    env = gym.make("domrand/Lift-v0", randomization="tobin")
    scene = env.unwrapped.scene
    into = 0
    for seed in range(50):
        env.reset(seed=seed)
        tray = (0.399, 0.149, 0.701, 0.451)
        rects = [
            body_rect(scene.client, scene.sim.body(n))
            for n in scene.roles["distractors"]
            if scene.sim.pose(n)[0][2] > scene.table_top - 0.05
        ]
        into += count_overlaps(rects, [tray]) > 0
    env.close()
    assert into >= 20  # 31 of 50 when measured


def test_resets_restore_fixtures_and_replay_exactly() -> None:
    env = gym.make("domrand/Lift-v0", randomization="tobin", fixtures=[TRAY])
    u = env.unwrapped
    _, info = env.reset(seed=3)
    pose = u.scene.sim.pose("fixture0")
    first = [u.scene.sim.pose(n)[0] for n in u.scene.roles["distractors"]]
    u.scene.sim.set_pose("fixture0", (0.0, 0.0, 2.0))  # knocked away mid-episode
    env.reset(seed=99, options={"randomization": info["randomization"]})
    np.testing.assert_array_equal(u.scene.sim.pose("fixture0")[0], pose[0])
    again = [u.scene.sim.pose(n)[0] for n in u.scene.roles["distractors"]]
    np.testing.assert_array_equal(np.array(again), np.array(first))
    env.close()


def test_task_object_and_push_goal_avoid_the_fixture() -> None:
    # a box over the middle of the object box: the cube and the goal must go around it
    wall = FixtureSpec("box", position=(0.5, 0.0), size=(0.03, 0.15, 0.05))
    env = gym.make("domrand/Push-v0", fixtures=[wall])
    u = env.unwrapped
    fixed = [body_rect(u.scene.client, u.scene.sim.body("fixture0"))]
    for seed in range(30):
        _, info = env.reset(seed=seed)
        state = info["randomization"]["task"]
        cube = body_rect(u.scene.client, u.scene.sim.body("cube"))
        assert count_overlaps([cube], fixed) == 0, state
        gx, gy = state["goal.x"], state["goal.y"]
        goal = (gx - 0.05, gy - 0.05, gx + 0.05, gy + 0.05)
        assert count_overlaps([goal], fixed) == 0, state
    env.close()


def test_object_pose_randomizer_avoids_fixture() -> None:
    preset = {"object_pose": {"x": [0.45, 0.65], "y": [0.1, 0.4]}}
    env = gym.make("domrand/Lift-v0", randomization=preset, fixtures=[TRAY])
    u = env.unwrapped
    fixed = [body_rect(u.scene.client, u.scene.sim.body("fixture0"))]
    moved = 0
    for seed in range(30):
        _, info = env.reset(seed=seed)
        params = info["randomization"]["object_pose"]
        pos = u.scene.sim.pose("cube")[0]
        assert count_overlaps([body_rect(u.scene.client, u.scene.sim.body("cube"))], fixed) == 0
        moved += not np.isclose(pos[0], params["target.x"])
    assert moved > 0  # some proposed poses were inside the tray and drawn again
    env.close()


def test_overlapping_fixtures_fail_naming_both() -> None:
    box = FixtureSpec("box", position=(0.6, 0.35), size=(0.05, 0.05, 0.05), name="bin")
    with pytest.raises(ValueError, match=r"fixtures 'fixture0' .* and 'bin' .* overlap"):
        gym.make("domrand/Lift-v0", fixtures=[TRAY, box])


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"source": "tray/traybox.urdf", "posiion": (0.5, 0.0)}, "unknown FixtureSpec field"),
        ({"source": "shelf.blend"}, r"\.urdf, \.sdf, \.obj or \.stl"),
        ({"source": "box"}, "needs size"),
        ({"source": "tray/traybox.urdf", "scale": -1.0}, "scale must be"),
        ({"source": "tray/traybox.urdf", "position": (3.0, 0.0)}, "not over the table top"),
        ({"source": "no/such/file.urdf"}, "cannot load 'no/such/file.urdf'"),
    ],
)
def test_bad_fixture_specs_fail_at_construction(spec: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make("domrand/Lift-v0", fixtures=[spec])


def test_fixtures_from_sdf_mesh_and_primitives_rest_on_the_table() -> None:
    import pybullet_data

    mesh = f"{pybullet_data.getDataPath()}/tray/tray_textured.obj"  # 1 m wide, scaled down
    fixtures = [
        FixtureSpec("kiva_shelf/model.sdf", position=(1.0, -0.3), scale=0.2),
        FixtureSpec(mesh, position=(0.25, 0.35), scale=0.15),
        {"source": "cylinder", "position": (0.9, 0.35), "size": (0.04, 0.1)},
    ]
    env = gym.make("domrand/Reach-v0", fixtures=fixtures)
    scene = env.unwrapped.scene
    env.reset(seed=0)
    assert scene.roles["fixtures"] == ["fixture0", "fixture1", "fixture2"]
    for f in scene.fixtures.values():
        assert f.low[2] == pytest.approx(scene.table_top, abs=0.011)  # resting on the top
    env.close()


def test_a_body_added_after_make_fails_with_a_clear_error() -> None:
    env = gym.make("domrand/Lift-v0")
    env.reset(seed=0)
    env.unwrapped.scene.sim.load_urdf("mytray", "tray/traybox.urdf", (0.5, 0.3, 0.63))
    with pytest.raises(RuntimeError, match=r"bodies \['mytray'\] were added .* fixtures="):
        env.reset(seed=1)
    env.close()


def test_scene_add_fixture_after_make_takes_a_new_snapshot() -> None:
    env = gym.make("domrand/Lift-v0")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.unwrapped.scene.add_fixture(TRAY)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        assert np.isfinite(obs).all()
    assert env.unwrapped.scene.sim.pose("fixture0")[0][0] == pytest.approx(0.55)
    env.close()
