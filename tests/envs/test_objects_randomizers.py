"""Target choice and object scale: pooled bodies swapped in per episode (nothing loads at a
reset), the task following the swapped object, exact replay, and their preset errors."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from agents.policies.experts import make_expert
from randomizers import PresetError, load_preset

PRESET: dict[str, Any] = {
    "target_object": {"objects": ["cube", "duck", "mug", {"name": "lego", "category": "brick"}]},
    "object_scale": {"scales": [0.8, 1.0, 1.25]},
}


def _episode(env: Any, seed: int, options: dict | None = None) -> tuple[dict, np.ndarray]:
    """Run the expert for up to 40 steps; (reset info, the states)."""
    obs, info = env.reset(seed=seed, options=options)
    expert = make_expert("domrand/Lift-v0")
    states = [obs]
    for _ in range(40):
        obs, _, term, trunc, _ = env.step(expert(env.unwrapped.privileged_state()))
        states.append(obs)
        if term or trunc:
            break
    return info, np.array(states)


@pytest.fixture
def env() -> Any:
    made = gym.make("domrand/Lift-v0", randomization=PRESET)
    yield made
    made.close()


def test_each_choice_swaps_in_its_pooled_body(env: Any) -> None:
    u = env.unwrapped
    client = u.scene.client
    bodies = client.getNumBodies()
    seen = set()
    for seed in range(12):
        _, info = env.reset(seed=seed)
        label = info["randomization"]["target_object"]["object"]
        scale = info["randomization"]["object_scale"]["scale"]
        name = u.scene.roles["target"][0]
        category = {"cube": "cube", "duck": "duck", "mug": "mug", "brick": "brick"}[label]
        assert u.task.objects == {name: category} and u.task.body_name == name
        ob = u.scene.objects[name]
        base = u.scene.objects[u.scene.store["objects/base_of"][name][0]]
        assert ob.spec.scale == pytest.approx(base.spec.scale * scale)
        pos = client.getBasePositionAndOrientation(ob.body)[0]
        assert pos[2] == pytest.approx(u.scene.table_top + ob.rest_z)  # at rest, its own height
        assert u.task.target_z == pytest.approx(u.scene.table_top + ob.rest_z + 0.1)
        parked = [o for n, o in u.scene.objects.items() if n != name]
        assert all(client.getDynamicsInfo(o.body, -1)[0] == 0.0 for o in parked)
        assert client.getDynamicsInfo(ob.body, -1)[0] == pytest.approx(ob.mass)
        seen.add((label, scale))
    assert len(seen) >= 6
    assert client.getNumBodies() == bodies, "a reset loads nothing"
    assert len(u.scene.objects) == 4 * 3  # four objects (the cube is the task's) x three sizes


def test_replay_is_exact_after_other_episodes(env: Any) -> None:
    info, first = _episode(env, seed=3)
    params = info["randomization"]
    for seed in (4, 5, 3, 7):  # other objects, and the same one again, in between
        _episode(env, seed=seed)
    _, again = _episode(env, seed=123, options={"randomization": params})
    np.testing.assert_array_equal(first, again)
    fresh = gym.make("domrand/Lift-v0", randomization=PRESET)
    try:
        _, other_env = _episode(fresh, seed=9, options={"randomization": params})
    finally:
        fresh.close()
    np.testing.assert_array_equal(first, other_env)


def test_the_nominal_object_comes_back_after_a_swap(env: Any) -> None:
    u = env.unwrapped
    params = None
    for seed in range(20):
        _, info = env.reset(seed=seed)
        r = info["randomization"]
        if r["target_object"]["object"] != "cube" or r["object_scale"]["scale"] != 1.0:
            params = r
            break
    assert params is not None
    nominal = {**params, "target_object": {"object": "cube"}, "object_scale": {"scale": 1.0}}
    env.reset(options={"randomization": nominal})
    assert u.scene.roles["target"] == ["cube"] and u.task.objects == {"cube": "cube"}
    assert u.scene.client.getDynamicsInfo(u.task.cube, -1)[0] == pytest.approx(0.1)


def test_scale_alone_scales_the_task_object(make_env) -> None:
    env = make_env("domrand/Lift-v0", task_kwargs={"object": "soccer_ball"},
                   randomization={"object_scale": {"scales": [0.5, 2.0]}})  # fmt: skip
    heights = {}
    for seed in range(6):
        _, info = env.reset(seed=seed)
        s = info["randomization"]["object_scale"]["scale"]
        heights[s] = env.scene.objects[env.task.body_name].half[2]
        assert env.task.objects == {env.task.body_name: "soccer_ball"}
    assert heights[2.0] / heights[0.5] == pytest.approx(4.0, rel=0.02)


def test_distractors_draw_from_objects(make_env) -> None:
    preset = {"distractors": {"count": [3, 3], "objects": ["duck", "jenga"], "pool_size": 4,
                              "bank_size": 2}}  # fmt: skip
    env = make_env("domrand/Lift-v0", randomization=preset)
    env.reset(seed=0)
    pool = env.scene.roles["distractors"]
    assert {env.scene.objects[n].category for n in pool} <= {"duck", "jenga"}
    assert all(env.scene.objects[n].static for n in pool)
    from envs.dataset.labels import labelled_objects

    placed = [c for n, c in labelled_objects(env) if n in pool]
    assert placed == ["distractor"] * 3


@pytest.mark.parametrize(
    ("preset", "match"),
    [
        ({"target_object": {}}, r"target_object.objects: required"),
        ({"target_object": {"objects": []}}, r"non-empty list"),
        ({"target_object": {"objects": ["duck", "duck"]}}, r"\['duck'\] more than once"),
        ({"target_object": {"objects": [3]}}, r"objects\[0\]: expected a built-in object name"),
        ({"object_scale": {"scales": [0.1]}}, r"object_scale.scales: expected 1 to 16 factors"),
        ({"object_scale": {"scales": [1.0, 1.0]}}, r"each factor may appear once"),
        ({"distractors": {"objects": ["duck"], "shapes": ["box"]}}, r"shapes or objects"),
    ],
)
def test_bad_presets_fail_at_load(preset: dict, match: str) -> None:
    with pytest.raises(PresetError, match=match):
        load_preset(preset)


def test_an_unknown_object_fails_when_the_env_is_built() -> None:
    with pytest.raises(ValueError, match=r"unknown object 'duk'; built-in objects: cube, duck"):
        gym.make("domrand/Lift-v0", randomization={"target_object": {"objects": ["duk"]}})
