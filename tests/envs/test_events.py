"""Events: onset logic, and each named event produced by real simulation."""

from __future__ import annotations

import numpy as np

from agents.policies.experts import make_expert
from envs.events import EVENT_NAMES, EventTracker


def test_tracker_fires_on_onsets_only() -> None:
    t = EventTracker()
    t.reset()
    assert t.update({"robot_table_collision": True}) == ["robot_table_collision"]
    assert t.update({"robot_table_collision": True}) == []
    assert t.update({"robot_table_collision": False}) == []
    assert t.update({"robot_table_collision": True}) == ["robot_table_collision"]
    assert t.counts["robot_table_collision"] == 2


def test_tracker_grasp_then_drop() -> None:
    t = EventTracker()
    t.reset()
    assert t.update({"grasped": True, "held": False}) == []
    assert t.update({"grasped": True, "held": True}) == ["grasp_success"]
    assert t.update({"grasped": True, "held": False}) == []  # lowered, still in hand
    assert t.update({"grasped": False, "held": False}) == ["object_dropped"]
    assert t.update({"grasped": False, "held": False}) == []
    assert t.counts == {**dict.fromkeys(EVENT_NAMES, 0), "grasp_success": 1, "object_dropped": 1}


def test_pressing_into_the_table_is_a_collision(make_env) -> None:
    env = make_env("domrand/Push-v0")
    env.reset(seed=0)
    seen = []
    for _ in range(30):
        _, _, _, _, info = env.step(np.array([0.0, 0.0, -1.0]))
        seen += info["events"]
    assert seen.count("robot_table_collision") == 1  # one onset while it stays pressed
    assert info["episode_events"]["robot_table_collision"] == 1


def test_lift_grasp_then_release_drops_the_cube(make_env) -> None:
    env = make_env("domrand/Lift-v0", terminate_on_success=False)
    expert = make_expert("domrand/Lift-v0")
    env.reset(seed=1)
    events: list[str] = []
    t_grasp = None
    for t in range(80):
        action = expert(env.privileged_state())
        if t_grasp is not None and t >= t_grasp + 3:
            action[3] = 1.0  # open the hand mid-air
        _, _, _, _, info = env.step(action)
        events += info["events"]
        if "grasp_success" in info["events"]:
            t_grasp = t
        if "object_dropped" in events:
            break
    assert events.index("grasp_success") < events.index("object_dropped")


def test_cube_leaving_the_table_ends_the_episode(make_env) -> None:
    env = make_env("domrand/Push-v0")
    env.reset(seed=0)
    env.scene.sim.set_pose("cube", [0.5, 0.7, 0.9])  # beyond the table's edge (|y| > 0.5)
    _, _, term, trunc, info = env.step(np.zeros(3))
    assert "object_off_table" in info["events"] and term and not trunc
    assert not info["is_success"]
