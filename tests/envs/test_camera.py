"""Camera geometry: intrinsics, extrinsics, projection against segmentation, metric depth."""

from __future__ import annotations

import numpy as np
import pytest

from envs.camera import Camera, CameraConfig


def test_intrinsics_follow_vertical_fov(make_env) -> None:
    env = make_env("domrand/Push-v0", obs_mode="rgb", image_size=(60, 80))
    K = env.camera.K
    fy = 60 / (2 * np.tan(np.deg2rad(env.camera.config.fov) / 2))
    np.testing.assert_allclose(K, [[fy, 0, 40], [0, fy, 30], [0, 0, 1]])


def test_extrinsics_is_a_rigid_world_to_camera_transform(make_env) -> None:
    env = make_env("domrand/Push-v0")
    T = env.camera.extrinsics
    R = T[:3, :3]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-6)  # float32 from PyBullet
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-6)
    cfg = env.camera.config
    # the eye maps to the origin and the look-at point lies straight ahead (+z)
    np.testing.assert_allclose(
        env.camera.world_to_camera(np.array(cfg.eye)), [[0, 0, 0]], atol=1e-6
    )
    tgt = env.camera.world_to_camera(np.array(cfg.target))[0]
    assert tgt[2] > 0 and abs(tgt[0]) < 1e-6 and abs(tgt[1]) < 1e-6
    # world +z (up) points to image up, i.e. -y in OpenCV camera axes
    assert (R @ np.array([0, 0, 1.0]))[1] < 0


def test_info_follows_every_camera_move_and_is_the_callers_own(make_env) -> None:
    """``info()`` is built once per view: it must still change with the randomized camera,
    and a caller editing its lists must not change the next call's."""
    env = make_env("domrand/Push-v0", randomization="tobin")
    infos = []
    for seed in (0, 1):
        _, reset_info = env.reset(seed=seed)
        info = env.camera.info()
        np.testing.assert_array_equal(info["extrinsics"], env.camera.extrinsics)
        np.testing.assert_array_equal(info["K"], env.camera.K)
        assert reset_info["camera"] == info
        infos.append(info)
    assert infos[0]["extrinsics"] != infos[1]["extrinsics"]  # tobin moves the camera
    infos[1]["K"][0][0] = -1.0
    infos[1]["extrinsics"][0][0] = -1.0
    again = env.camera.info()
    assert again["K"][0][0] > 0 and again["extrinsics"][0][0] != -1.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_projected_object_centre_lies_in_its_mask(make_env, env_id: str, seed: int) -> None:
    env = make_env(env_id, obs_mode="rgb", image_size=96)
    env.reset(seed=seed)
    name = env.task.target_body()
    body = env.scene.sim.body(name)
    labels = env.render_labels()
    mask = labels["segmentation"] == body
    assert mask.sum() > 3, f"{name} not visible"
    centre = env.scene.sim.pose(name)[0]
    u, v = env.camera.project(centre[None])[0]
    assert mask[int(v), int(u)], f"projected centre ({u:.1f}, {v:.1f}) is outside the mask"
    rows, cols = np.nonzero(mask)
    assert abs(cols.mean() + 0.5 - u) < 2.0 and abs(rows.mean() + 0.5 - v) < 2.0


def test_depth_is_metric_along_the_optical_axis(make_env) -> None:
    env = make_env("domrand/Lift-v0", obs_mode="rgbd", image_size=128)
    env.reset(seed=0)
    labels = env.render_labels()
    # the table top: every visible table pixel sits on the plane z = table_top
    table = labels["segmentation"] == env.scene.sim.body("table")
    rows, cols = np.nonzero(table)
    pick = np.linspace(0, len(rows) - 1, 25).astype(int)
    K_inv = np.linalg.inv(env.camera.K)
    T_inv = np.linalg.inv(env.camera.extrinsics)
    for r, c in zip(rows[pick], cols[pick], strict=True):
        z = labels["depth"][r, c]
        p_cam = z * (K_inv @ np.array([c + 0.5, r + 0.5, 1.0]))
        p_world = T_inv[:3, :3] @ p_cam + T_inv[:3, 3]
        assert p_world[2] == pytest.approx(env.scene.table_top, abs=0.01)


def test_segmentation_names_every_visible_body(make_env) -> None:
    env = make_env("domrand/Push-v0")
    env.reset(seed=0)
    seg = env.render_labels()["segmentation"]
    names = env.scene.sim.body_names()
    visible = {names[i] for i in np.unique(seg) if i >= 0}
    assert {"table", "robot", "cube", "goal"} <= visible


def test_rgb_only_render_skips_other_buffers(make_env) -> None:
    env = make_env("domrand/Reach-v0")
    env.reset(seed=0)
    frame = env.camera.render(rgb=True)
    assert frame.depth is None and frame.segmentation is None
    assert frame.rgb.flags["C_CONTIGUOUS"]


def test_roll_rotates_the_image(make_env) -> None:
    env = make_env("domrand/Push-v0")
    env.reset(seed=0)
    cam = Camera(env.scene.client, CameraConfig(width=64, height=64, roll=90.0))
    base = Camera(env.scene.client, CameraConfig(width=64, height=64))
    a = base.render(segmentation=True).segmentation
    b = cam.render(segmentation=True).segmentation
    # a 90 degree roll about the optical axis maps the image onto its rotation; compare
    # inside the central disc, which a rotation maps onto itself
    yy, xx = np.mgrid[:64, :64] + 0.5
    disc = (yy - 32) ** 2 + (xx - 32) ** 2 < 30**2
    agree = [(np.rot90(a, k) == b)[disc].mean() for k in range(4)]
    assert max(agree[1], agree[3]) > 0.95  # edge pixels rasterize slightly differently
    assert agree[0] < 0.85 and agree[2] < 0.85


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 0}, "width must be > 0"),
        ({"height": 2.5}, "height must be an int"),
        ({"fov": 0}, "fov must be in \\(0, 180\\)"),
        ({"near": 1.0, "far": 0.5}, "0 < near < far"),
        ({"eye": (0.5, 0, 1), "target": (0.5, 0, 1)}, "must differ"),
    ],
)
def test_bad_camera_config(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        CameraConfig(**kwargs)


@pytest.mark.parametrize(
    ("env_id", "size", "camera"),
    [
        ("domrand/Push-v0", 64, None),
        ("domrand/Lift-v0", (48, 80), None),  # not square
        ("domrand/Lift-v0", 64, "wrist"),  # a camera on the hand
    ],
)
def test_a_window_render_equals_that_part_of_the_full_image(make_env, env_id, size, camera) -> None:
    """``render(window=)`` draws the pixels of the full frame it covers: the same
    segmentation, the same depth, colours within texture rounding; random windows of
    randomized scenes."""
    wrist = CameraConfig(mount="panda_hand", eye=(0.06, 0.0, 0.0), target=(0.06, 0.0, 0.2),
                         up=(1.0, 0.0, 0.0), width=64, height=64)  # fmt: skip
    kwargs = {"cameras": {"front": CameraConfig(), "wrist": wrist}} if camera else {}
    env = make_env(env_id, obs_mode="state", image_size=size, randomization="tobin", **kwargs)
    cam = env.cams["wrist"] if camera else env.camera
    h, w = cam.config.height, cam.config.width
    rng = np.random.default_rng(0)
    for seed in range(6):
        env.reset(seed=seed)
        full = cam.render(rgb=True, depth=True, segmentation=True)
        for _ in range(4):
            u0, v0 = int(rng.integers(0, w - 1)), int(rng.integers(0, h - 1))
            u1, v1 = int(rng.integers(u0 + 1, w + 1)), int(rng.integers(v0 + 1, h + 1))
            part = cam.render(rgb=True, depth=True, segmentation=True, window=(u0, v0, u1, v1))
            assert part.segmentation.shape == (v1 - v0, u1 - u0)
            np.testing.assert_array_equal(part.segmentation, full.segmentation[v0:v1, u0:u1])
            np.testing.assert_allclose(part.depth, full.depth[v0:v1, u0:u1], atol=5e-5)
            # texture lookups may round differently: a few levels in ~0.1 % of the pixels
            diff = np.abs(part.rgb.astype(int) - full.rgb[v0:v1, u0:u1])
            assert diff.max() <= 16 and (diff > 0).any(axis=-1).mean() <= 0.02


@pytest.mark.parametrize("window", [(0, 0, 0, 5), (3, 3, 2, 9), (-1, 0, 4, 4), (0, 0, 65, 10)])
def test_a_window_outside_the_image_is_refused(make_env, window) -> None:
    env = make_env("domrand/Push-v0", obs_mode="state", image_size=64)
    with pytest.raises(ValueError, match=r"not a non-empty part of the 64x64 image"):
        env.camera.render(window=window)
