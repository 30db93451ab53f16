"""Visible fractions: the planned alone-renders count exactly what rendering each object
alone counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _occlusions_preset(tmp_path: Path) -> str:
    """The ablation's occlusion test set: 2-5 photo-textured occluders around the target."""
    import yaml

    from agents.experiments.ablation import eval_preset

    path = tmp_path / "occlusions.yaml"
    path.write_text(yaml.safe_dump(eval_preset("occlusions")))
    return str(path)


ALONE_CASES = [  # env id, preset, image size, expert steps before the capture, samples
    ("domrand/Push-v0", "tobin", 64, 0, 60),
    ("domrand/Push-v0", "occlusions", 48, 0, 40),
    ("domrand/Lift-v0", "occlusions", 64, 0, 40),
    ("domrand/Lift-v0", "tobin", 48, 25, 20),  # the cube in the gripper
    ("domrand/Reach-v0", "tobin", 64, 10, 20),
]


def test_fewer_alone_renders_give_the_same_counts(make_env, tmp_path) -> None:
    """The planned alone-renders (none for bodies nothing can hide, shared renders, partial
    robots, small windows, none where the main render already tells) count exactly what
    rendering each object alone counts, occluded objects too."""
    from agents.policies.experts import make_expert
    from envs.dataset.labels import labelled_objects
    from envs.dataset.visibility import (
        alone_pixel_counts,
        grouped_alone_counts,
        plan_alone_renders,
        unseen_pixels,
    )
    from envs.seeding import episode_seed

    seen = {"clear": 0, "shared": 0, "partial": 0, "hidden": 0, "window": 0, "no render": 0}
    for env_id, preset, size, steps, n in ALONE_CASES:
        if preset == "occlusions":
            preset = _occlusions_preset(tmp_path)
        env = make_env(env_id, obs_mode="state", image_size=size, randomization=preset)
        expert = make_expert(env_id)
        c = env.scene.client
        robot = env.scene.sim.body("robot")
        for i in range(n):
            env.reset(seed=episode_seed(7, i))
            for _ in range(steps):
                _, _, term, trunc, _ = env.step(expert(env.privileged_state()))
                if term or trunc:
                    break
            frame = env.camera.render(rgb=True, segmentation=True)
            bodies = [env.scene.sim.body(name) for name, _ in labelled_objects(env)]
            expected = alone_pixel_counts(env, bodies)
            got = grouped_alone_counts(env, bodies, frame.segmentation)
            assert got == expected, (env_id, i)
            after = env.camera.render(rgb=True, segmentation=True)  # colours restored
            assert np.array_equal(after.rgb, frame.rgb)
            assert np.array_equal(after.segmentation, frame.segmentation)
            rows = {b: list(c.getVisualShapeData(b)) for b in range(c.getNumBodies())}
            clear, groups = plan_alone_renders(env, bodies, rows)
            seen["clear"] += len(clear)
            seen["shared"] += sum(len(g) > 1 for g in groups)
            seen["partial"] += any(
                j.body == robot and len(j.links) < len(rows[robot]) for g in groups for j in g
            )
            windows = [w for w, _ in unseen_pixels(groups, frame.segmentation)]
            seen["window"] += sum(w is not None and (w[2] - w[0]) * (w[3] - w[1]) < size**2 / 2
                                  for w in windows)  # fmt: skip
            seen["no render"] += sum(w is None for w in windows)
            seen["hidden"] += sum(
                int((frame.segmentation == b).sum()) < expected[b] for b in bodies
            )
    # every path taken, occluded objects among the cases (a group whose hazards show no
    # other body needs no render: rare, 2 of these 180 scenes)
    assert seen["no render"] >= 1, seen
    assert all(n >= 10 for path, n in seen.items() if path != "no render"), seen


def test_mask_stats_match_each_bodys_own_mask() -> None:
    """One pass gives every body's pixel count and tight box, absent bodies and the
    background (-1) included, as its own mask would."""
    from envs.dataset.labels import mask_stats

    rng = np.random.default_rng(0)
    for shape in [(64, 64), (48, 80), (1, 7)]:
        seg = rng.choice([-1, 0, 1, 2, 5, 9], size=shape, p=[0.5, 0.2, 0.2, 0.05, 0.04, 0.01])
        seg[: shape[0] // 2] = np.where(seg[: shape[0] // 2] == 5, -1, seg[: shape[0] // 2])
        bodies = [2, 5, 9, 0, 4, 31]  # 4 and 31: not in the image
        counts, boxes = mask_stats(seg, bodies)
        for body, count, box in zip(bodies, counts, boxes, strict=True):
            rows, cols = np.nonzero(seg == body)
            assert count == rows.size
            if rows.size == 0:
                assert box is None
            else:
                x, y = int(cols.min()), int(rows.min())
                assert box == [x, y, int(cols.max()) - x + 1, int(rows.max()) - y + 1]
                assert all(type(v) is int for v in box)
    assert mask_stats(np.full((4, 4), -1), []) == ([], [])


def test_labelling_a_frame_leaves_the_scene_as_it_was(make_env) -> None:
    """Labels read the scene without moving it by a bit: a second camera's labels of the same
    frame (or a second call) see the same poses, whatever was labelled before."""
    from envs.dataset.labels import sample_labels
    from envs.seeding import episode_seed

    env = make_env("domrand/Push-v0", obs_mode="state", image_size=48, randomization="tobin")
    for i in range(8):
        env.reset(seed=episode_seed(0, i))
        seg = env.camera.render(rgb=False, segmentation=True).segmentation
        assert sample_labels(env, seg) == sample_labels(env, seg), i


def test_local_boxes_measured_together_equal_each_measured_alone(make_env) -> None:
    """The first label measures every body's own box under one saved state (a pool of 256
    distractors costs one save, not 256): the same boxes as measuring each body alone,
    and every pose in the scene bit for bit as it was."""
    from envs.dataset.labels import _local_boxes, local_box

    env = make_env("domrand/Lift-v0", obs_mode="state", image_size=48, randomization="tobin")
    env.reset(seed=3)
    c, sim = env.scene.client, env.scene.sim
    before = {n: c.getBasePositionAndOrientation(b) for n, b in sim.bodies.items()}
    distractors = env.scene.body_names("distractors")
    assert len(distractors) > 4
    local_box(env, "cube")
    cache = env.scene.store["labels/local_box"]
    assert set(cache) == set(sim.bodies) - {"robot"}  # measured together, once
    assert {n: c.getBasePositionAndOrientation(b) for n, b in sim.bodies.items()} == before
    for name in ["cube", *distractors[:4]]:
        (centre, half), = _local_boxes(env, [name]).values()
        assert np.array_equal(local_box(env, name)[0], centre)
        assert np.array_equal(local_box(env, name)[1], half) and half.min() > 0
    assert local_box(env, "robot") is None
