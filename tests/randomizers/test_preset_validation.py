"""Hostile presets fail when they load, with a PresetError naming the key, the rule, the
allowed values and what was received; their valid neighbours still load and run.

Every case here was accepted by the loader before (and then crashed at reset, froze the
cube, gave NaN or inf values, or was silently ignored) or failed with another exception.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from envs.camera import CameraConfig
from randomizers import PresetError, available_presets, load_preset
from randomizers.assets import asset_dir

GAN_CHECKPOINT = asset_dir() / "gan" / "tobin_gan.pt"


def _choice(*values: Any) -> dict[str, Any]:
    return {"dist": "choice", "values": list(values)}


def _raises(spec: Any, words: list[str]) -> str:
    with pytest.raises(PresetError) as info:
        load_preset(spec)
    message = str(info.value)
    missing = [w for w in words if w not in message]
    assert not missing, f"{missing} not in: {message}"
    assert "\n" not in message
    return message


# (id, preset dict, words the message must hold)
DICT_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    # integers
    ("count-fraction", {"distractors": {"count": [0, 10.7]}},
     ["distractors.count", "integers in [0, 64]", "high=10.7", "not a whole number"]),
    ("count-choice-fraction", {"distractors": {"count": _choice(0, 2.5)}},
     ["distractors.count", "integers in [0, 64]", "values[1]=2.5"]),
    ("count-choice-text", {"distractors": {"count": _choice("many")}},
     ["distractors.count.values[0]", "expected a finite number", "'many'"]),
    ("latency-fraction", {"physics": {"latency": [0, 2.5]}},
     ["physics.latency", "integers in [0, 20] (env steps)", "high=2.5"]),
    ("latency-constant-fraction", {"physics": {"latency": 1.5}},
     ["physics.latency", "integers in [0, 20]", "value=1.5"]),
    ("latency-mode-scale", {"physics": {"latency": {"dist": "uniform", "low": 0, "high": 2,
                                                    "mode": "scale"}}},
     ["physics.latency.mode", "'scale' is not allowed here", "allowed: absolute"]),
    # physics limits
    ("mass-zero", {"physics": {"mass": 0}},
     ["physics.mass", "numbers in (0, 100] (x nominal)", "mode scale", "value=0", "static"]),
    ("mass-absolute-zero", {"physics": {"mass": {"dist": "constant", "value": 0,
                                                 "mode": "absolute"}}},
     ["physics.mass", "numbers in (0, 100] (kg)", "value=0"]),
    ("mass-absolute-500kg", {"physics": {"mass": {"dist": "uniform", "low": 1, "high": 500,
                                                  "mode": "absolute"}}},
     ["physics.mass", "(0, 100] (kg)", "high=500"]),
    ("mass-1e308", {"physics": {"mass": 1e308}},
     ["physics.mass", "(0, 100]", "value=1e+308"]),
    ("mass-mode-add", {"physics": {"mass": {"dist": "uniform", "low": 0.1, "high": 0.2,
                                            "mode": "add"}}},
     ["physics.mass.mode", "'add' is not allowed here", "allowed: scale, absolute"]),
    ("observation-noise-1e300", {"physics": {"observation_noise": 1e300}},
     ["physics.observation_noise", "numbers in [0, 1]", "value=1e+300"]),
    ("action-noise-5", {"physics": {"action_noise": [0, 5]}},
     ["physics.action_noise", "numbers in [0, 1]", "high=5"]),
    ("gravity-1e6", {"physics": {"gravity": [-1e6, -9.8]}},
     ["physics.gravity", "numbers in [-50, 50] (m/s^2, z)", "low=-1000000"]),
    ("restitution-5", {"physics": {"restitution": 5}},
     ["physics.restitution", "numbers in [0, 1]", "value=5"]),
    ("friction-1e10", {"physics": {"lateral_friction": [0, 1e10]}},
     ["physics.lateral_friction", "numbers in [0, 10] (x nominal)", "high=10000000000"]),
    ("joint-damping-1e9", {"physics": {"joint_damping": [0, 1e9]}},
     ["physics.joint_damping", "numbers in [0, 20]", "high=1000000000"]),
    ("actuator-force-zero", {"physics": {"actuator_force": 0}},
     ["physics.actuator_force", "numbers in (0, 10]", "value=0", "stalls the arm"]),
    ("normal-mean-outside", {"physics": {"restitution": {"dist": "normal", "mean": 5, "std": 0.1,
                                                         "low": 0, "high": 1}}},
     ["physics.restitution.mean", "must lie in [low, high] = [0, 1]", "got 5"]),
    # choice values
    ("choice-text", {"physics": {"mass": _choice("heavy", 1.0)}},
     ["physics.mass.values[0]", "expected a finite number", "'heavy'"]),
    ("choice-bool", {"physics": {"mass": _choice(True, 1.0)}},
     ["physics.mass.values[0]", "expected a finite number", "True"]),
    ("choice-null", {"physics": {"mass": _choice(None)}},
     ["physics.mass.values[0]", "expected a finite number", "None"]),
    ("choice-list", {"lighting": {"ambient": _choice([0.1, 0.2])}},
     ["lighting.ambient.values[0]", "expected a finite number", "[0.1, 0.2]"]),
    ("choice-values-number", {"camera": {"roll": {"dist": "choice", "values": 5}}},
     ["camera.roll.values", "expected a list of values", "got 5"]),
    ("choice-values-text", {"camera": {"roll": {"dist": "choice", "values": "abc"}}},
     ["camera.roll.values", "expected a list of values", "'abc'"]),
    ("choice-p-number", {"camera": {"roll": {"dist": "choice", "values": [1, 2], "p": 0.5}}},
     ["camera.roll.p", "expected a list of 2 probabilities", "0.5"]),
    ("texture-color-choice-text", {"texture": {"color": _choice("red"), "bank_size": 4}},
     ["texture.color.values[0]", "expected a finite number", "'red'"]),
    ("blur-choice-text", {"image_noise": {"blur_sigma": _choice(0.0, "x")}},
     ["image_noise.blur_sigma.values[1]", "expected a finite number", "'x'"]),
    # other numbers and types
    ("int-beyond-float", {"camera": {"roll": 10**400}},
     ["camera.roll", "expected a finite number", "..."]),
    ("lighting-distance-1e300", {"lighting": {"distance": [1, 1e300]}},
     ["lighting.distance", "numbers in [0.01, 50]", "high=1e+300"]),
    ("lighting-azimuth-1e300", {"lighting": {"azimuth": [0, 1e300]}},
     ["lighting.azimuth", "numbers in [-360, 360] (degrees)", "high=1e+300"]),
    ("camera-eye-above-target", {"camera": {"eye_offset": [-0.53, 0.0]}},
     ["camera.eye_offset", "numbers in [-0.25, 0.25] (m per axis)", "low=-0.53"]),
    ("texture-bank-1.6GB", {"texture": {"bank_size": 8192, "size": 256}},
     ["texture", "8192 textures of 256 x 256 px", "536.9 M pixels", "lower bank_size or size"]),
    ("texture-targets-twice", {"texture": {"targets": ["table", "table"], "bank_size": 4}},
     ["texture.targets", "each value may appear once", "['table']"]),
    ("name-with-slash", {"camera": {"name": "cam/a"}},
     ["camera.name", "letters, digits", "'cam/a'"]),
    ("name-number", {"lighting": {"name": 5}}, ["lighting.name", "got 5"]),
    ("option-null", {"lighting": {"ambient": None}},
     ["lighting.ambient", "got null", "leave the key out"]),
    ("option-key-not-text", {"camera": {1: [0, 1], "zoom": 2}},
     ["camera", "option names are text", "[1]", "allowed:"]),
]  # fmt: skip


@pytest.mark.parametrize(("preset", "words"), [c[1:] for c in DICT_CASES],
                         ids=[c[0] for c in DICT_CASES])  # fmt: skip
def test_hostile_dict_preset_fails_at_load(preset: dict[str, Any], words: list[str]) -> None:
    _raises(preset, words)


# (id, YAML text, words): written to a file, so messages name it too
YAML_CASES: list[tuple[str, str, list[str]]] = [
    ("count-fraction", "distractors:\n  count: [0, 10.7]\n",
     ["distractors.count", "integers in [0, 64]", "high=10.7"]),
    ("duplicate-kind", "physics:\n  mass: [0.5, 2.0]\ncamera: {}\nphysics:\n  mass: 0.5\n",
     ["key 'physics' appears twice", "line 1 and line 4", "merge the two entries"]),
    ("duplicate-option", "physics:\n  mass: [0.5, 2.0]\n  mass: [1.0, 3.0]\n",
     ["key 'mass' appears twice", "line 2 and line 3"]),
    ("duplicate-in-flow-mapping", "camera:\n  roll: {dist: uniform, low: 0, high: 1, high: 2}\n",
     ["key 'high' appears twice", "both on line 2"]),
    ("choice-nan", "lighting:\n  ambient: {dist: choice, values: [0.5, .nan]}\n",
     ["lighting.ambient.values[1]", "expected a finite number", "nan"]),
    ("mass-1e308", "physics:\n  mass: 1.0e+308\n", ["physics.mass", "(0, 100]", "1e+308"]),
    ("normal-mean-outside", "physics:\n  gravity: {dist: normal, mean: -9.8, std: 1, low: 0, high: 5}\n",
     ["physics.gravity.mean", "must lie in [low, high] = [0, 5]", "-9.8"]),
    # scalars Python refuses to convert: named by key and line, not a bare ValueError
    ("latency-5000-digits", "physics:\n  latency: 1" + "0" * 5000 + "\n",
     ["physics.latency", "the integer at line 2, column 12 has 5001 digits", "allowed range"]),
    ("count-choice-5000-digits",
     "distractors:\n  count: {dist: choice, values: [1, 1" + "0" * 5000 + "]}\n",
     ["distractors.count.values[1]", "has 5001 digits", "line 2"]),
    ("mass-impossible-date", "physics:\n  mass: 2024-13-45\n",
     ["physics.mass", "'2024-13-45' at line 2, column 9 cannot be read", "month must be in 1..12"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in YAML_CASES],
                         ids=[c[0] for c in YAML_CASES])  # fmt: skip
def test_hostile_yaml_preset_fails_at_load(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    message = _raises(path, words)
    assert "hostile.yaml" in message


def test_preset_file_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"physics:\n  mass: \xff\xfe\x00\n")
    _raises(path, ["binary.yaml", "is not UTF-8 text", "byte"])


def test_yaml_keeps_safe_load_semantics(tmp_path: Path) -> None:
    """Merge keys may still be overridden, and tags stay refused."""
    path = tmp_path / "merge.yaml"
    path.write_text("physics:\n  <<: {mass: [0.5, 2.0], restitution: 0.1}\n  mass: [0.8, 1.2]\n")
    physics = load_preset(path)["physics"]
    assert physics.quantities["mass"].bounds == (0.8, 1.2)  # type: ignore[attr-defined]
    assert physics.quantities["restitution"].bounds == (0.1, 0.1)  # type: ignore[attr-defined]
    path.write_text("physics: !!python/object/apply:os.getcwd []\n")
    _raises(path, ["is not valid YAML"])


# -- image folders and GAN checkpoints -------------------------------------------------
def _png(path: Path, size: int = 8) -> Path:
    Image.new("RGB", (size, size), (200, 30, 30)).save(path)
    return path


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` pixels (no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def _corrupt_png(path: Path) -> Path:
    data = bytearray(_png(path, 32).read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _truncated_jpeg(path: Path) -> Path:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _folder(tmp_path: Path, bad: str) -> Path:
    """A photo folder with one good image and one ``bad`` entry."""
    folder = tmp_path / "photos"
    folder.mkdir()
    _png(folder / "good.png")
    if bad == "corrupt-png":
        _corrupt_png(folder / "bad.png")
    elif bad == "truncated-jpeg":
        _truncated_jpeg(folder / "bad.jpg")
    elif bad == "huge-image":
        _png_header(folder / "bad.png", 8000, 8000)
    elif bad == "decompression-bomb":
        _png_header(folder / "bad.png", 20000, 20000)
    elif bad == "symlink-loop":
        (folder / "bad.png").symlink_to(folder / "bad.png")
    elif bad == "broken-link":
        (folder / "bad.jpg").symlink_to(tmp_path / "gone.jpg")
    elif bad == "text-as-image":
        (folder / "bad.jpg").write_text("not a photo")
    elif bad == "folder-as-image":
        (folder / "bad.png").mkdir()
    return folder


IMAGE_CASES: list[tuple[str, list[str]]] = [
    ("corrupt-png", ["texture.image_dir", "bad.png", "corrupt or truncated", "fix or remove it"]),
    ("truncated-jpeg", ["texture.image_dir", "bad.jpg", "truncated"]),
    ("huge-image", ["texture.image_dir", "bad.png", "8000 x 8000 pixels", "at most 50 megapixels"]),
    ("decompression-bomb", ["texture.image_dir", "bad.png", "too large to decode safely"]),
    ("symlink-loop", ["texture.image_dir", "bad.png", "a symlink loop"]),
    ("broken-link", ["texture.image_dir", "bad.jpg", "a broken link"]),
    ("text-as-image", ["texture.image_dir", "bad.jpg", "not an image"]),
    ("folder-as-image", ["texture.image_dir", "bad.png", "is not a file"]),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "words"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_image_in_folder_is_named_at_load(tmp_path: Path, bad: str, words: list[str]) -> None:
    folder = _folder(tmp_path, bad)
    _raises({"texture": {"image_dir": str(folder), "bank_size": 4}}, words)


def test_image_folder_of_hidden_and_other_files_only(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "._photo.jpg").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork
    (folder / "notes.txt").write_text("not a photo")
    _raises({"texture": {"image_dir": str(folder)}}, ["texture.image_dir", "no images in"])


def _nan_checkpoint(path: Path) -> Path:
    import torch

    data = torch.load(GAN_CHECKPOINT, map_location="cpu", weights_only=True)
    name = next(k for k, v in data["generator"].items() if v.is_floating_point())
    data["generator"][name].fill_(float("nan"))
    torch.save(data, path)
    return path


@pytest.mark.skipif(not GAN_CHECKPOINT.is_file(), reason="no shipped GAN checkpoint")
@pytest.mark.parametrize("bad", ["symlink-loop", "nan-weights"])
def test_bad_gan_checkpoint_is_named_at_load(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "bad.pt"
    if bad == "symlink-loop":
        path.symlink_to(path)
        words = ["texture.gan_checkpoint", "bad.pt", "a symlink loop"]
    else:
        _nan_checkpoint(path)
        words = ["texture.gan_checkpoint", "bad.pt", "NaN or infinite weights", "retrain"]
    _raises({"texture": {"gan_checkpoint": str(path), "bank_size": 4}}, words)


# -- checks against the env's own camera, when the env is built (before any reset) -------
CAMERA_CASES: list[tuple[str, CameraConfig, dict[str, Any], list[str]]] = [
    ("offsets-reach-vertical-view",
     CameraConfig(eye=(0.5, 0.0, 1.2), target=(0.42, 0.0, 0.68)),
     {"camera": {"eye_offset": [-0.1, 0.1]}},
     ["camera", "eye_offset and target_offset", "along up", "narrow the offsets"]),
    ("fov-beyond-170",
     CameraConfig(fov=90.0),
     {"camera": {"fov_scale": [0.9, 2.0]}},
     ["camera.fov_scale", "90 degrees gives 180", "at most 170 degrees"]),
]  # fmt: skip


@pytest.mark.parametrize(("camera", "preset", "words"), [c[1:] for c in CAMERA_CASES],
                         ids=[c[0] for c in CAMERA_CASES])  # fmt: skip
def test_camera_ranges_checked_against_the_env_camera(
    camera: CameraConfig, preset: dict[str, Any], words: list[str]
) -> None:
    load_preset(preset)  # the ranges alone are fine; this camera makes them degenerate
    with pytest.raises(PresetError) as info:
        gym.make("domrand/Reach-v0", randomization=preset, camera=camera, obs_mode="state")
    assert all(w in str(info.value) for w in words), str(info.value)


# -- valid neighbours of the cases that used to fail at reset (or silently) ------------
def _good_folder(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "photos"
    folder.mkdir()
    _png(folder / "a.png")
    _png(folder / "b.jpg", 16)
    (folder / "notes.txt").write_text("ignored: not an image extension")
    (folder / "._a.png").write_bytes(b"\x00\x05\x16\x07")  # hidden: ignored
    (folder / "sub").mkdir()  # subfolders: ignored
    return {"texture": {"image_dir": str(folder), "targets": ["table"], "bank_size": 4,
                        "size": 8}}  # fmt: skip


NEIGHBOURS: list[tuple[str, str, Any]] = [
    ("count-integer-range", "domrand/Push-v0",
     {"distractors": {"count": [0, 10], "bank_size": 4, "shapes": ["sphere"]}}),
    ("latency-choice", "domrand/Reach-v0", {"physics": {"latency": _choice(0, 1, 2)}}),
    ("mass-scale", "domrand/Lift-v0", {"physics": {"mass": [0.5, 100.0]}}),
    ("mass-absolute-kg", "domrand/Push-v0",
     {"physics": {"mass": {"dist": "uniform", "low": 0.05, "high": 2, "mode": "absolute"}}}),
    ("noise-std", "domrand/Lift-v0", {"physics": {"observation_noise": 0.01, "action_noise": 1}}),
    ("actuator-force", "domrand/Push-v0", {"physics": {"actuator_force": [0.5, 10]}}),
    ("gravity-add", "domrand/Lift-v0",
     {"physics": {"gravity": {"dist": "uniform", "low": -1, "high": 1, "mode": "add"}}}),
    ("choice-numbers", "domrand/Lift-v0", {"physics": {"mass": _choice(0.5, 2)}}),
    ("camera-jitter", "domrand/Reach-v0",
     {"camera": {"eye_offset": [-0.25, 0.25], "target_offset": [-0.25, 0.25]}}),
    ("photo-folder", "domrand/Reach-v0", _good_folder),
]  # fmt: skip


@pytest.mark.parametrize(("env_id", "preset"), [c[1:] for c in NEIGHBOURS],
                         ids=[c[0] for c in NEIGHBOURS])  # fmt: skip
def test_valid_neighbour_loads_and_runs(tmp_path: Path, env_id: str, preset: Any) -> None:
    if callable(preset):
        preset = preset(tmp_path)
    load_preset(preset)
    env = gym.make(env_id, randomization=preset, obs_mode="state")
    try:
        for seed in range(3):
            obs, info = env.reset(seed=seed)
            assert np.all(np.isfinite(obs)) and info["randomization"]
        obs, reward, *_ = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs)) and np.isfinite(reward)
        if "mass" in preset.get("physics", {}):
            scene = env.unwrapped.scene  # the cube stays dynamic: its mass is never 0
            assert scene.client.getDynamicsInfo(scene.sim.body("cube"), -1)[0] > 0
    finally:
        env.close()


def test_shipped_presets_load_within_their_limits() -> None:
    names = available_presets()
    assert {"none", "tobin", "physics", "target"} <= set(names)
    for name in names:
        load_preset(name)


def test_every_kind_documents_its_limits() -> None:
    from randomizers import (
        camera,
        distractors,
        image_noise,
        lighting,
        object_pose,
        physics,
        texture,
    )

    for module in (camera, distractors, image_noise, lighting, object_pose, physics, texture):
        limits = module.LIMITS
        assert limits, module.__name__
        for entry in limits.values():
            for lim in entry.values() if isinstance(entry, dict) else [entry]:
                assert lim.describe().startswith(("numbers", "integers"))
