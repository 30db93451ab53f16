"""Presets: the shipped ones load and do what they say; malformed ones fail clearly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from randomizers import PresetError, available_presets, load_preset
from randomizers.assets import asset_dir
from randomizers.presets import preset_dir


def test_shipped_presets() -> None:
    assert {"none", "tobin", "physics", "target"} <= set(available_presets())
    kinds = {name: [r.kind for r in load_preset(name).randomizers] for name in available_presets()}
    assert kinds["none"] == []
    assert kinds["physics"] == ["physics"]
    assert set(kinds["tobin"]) == {"distractors", "texture", "lighting", "camera", "image_noise"}
    assert "physics" not in kinds["target"]


def test_target_appearance_lies_outside_the_training_ranges_camera_inside() -> None:
    """The held-out domain: lighting and textures outside tobin's, the calibrated camera well
    inside tobin's camera range; target_camera_shift moves the camera outside it."""
    tobin = {r.kind: r for r in load_preset("tobin").randomizers}
    for name in ("target", "target_camera_shift"):
        held_out = {r.kind: r for r in load_preset(name).randomizers}
        assert "physics" not in held_out
        assert held_out["lighting"].elevation.high <= tobin["lighting"].elevation.low
        assert (held_out["lighting"].scalars["ambient"].low
                >= tobin["lighting"].scalars["ambient"].high)  # fmt: skip
        assert held_out["texture"].bank.sources == ("image",)
        assert set(tobin["texture"].bank.sources).isdisjoint(held_out["texture"].bank.sources)
    target = {r.kind: r for r in load_preset("target").randomizers}
    shift = {r.kind: r for r in load_preset("target_camera_shift").randomizers}
    for axis in range(3):
        lo, hi = tobin["camera"].eye_offset[axis].bounds
        t_lo, t_hi = target["camera"].eye_offset[axis].bounds
        assert lo < t_lo < 0 < t_hi < hi and t_hi <= 0.01  # calibration error: millimetres
        assert shift["camera"].eye_offset[axis].low >= hi
    assert shift["camera"].fov_scale.low > tobin["camera"].fov_scale.high


def test_env_accepts_name_path_dict_and_rejects_other_types(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("camera:\n  roll: [-2, 2]\n")
    for spec in ("tobin", str(path), {"camera": {"roll": [-2, 2]}}):
        env = gym.make("domrand/Reach-v0", randomization=spec)
        _, info = env.reset(seed=0)
        assert info["randomization"]
        env.close()
    with pytest.raises(TypeError, match="randomization must be None, a preset name"):
        gym.make("domrand/Reach-v0", randomization=3)


BAD_PRESETS = [
    ("not a mapping", [1, 2], "expected a mapping of randomizer kinds, got list"),
    ("unknown kind", {"colour": {}}, r"unknown randomizer kind\(s\) \['colour'\]; allowed: target_object, object_scale, object_pose"),
    ("options not a mapping", {"lighting": [1, 2]}, "lighting: expected a mapping of options, got list"),
    ("unknown key", {"camera": {"zoom": [1, 2]}}, r"camera: unknown option\(s\) \['zoom'\]; allowed:"),
    ("low > high", {"camera": {"roll": [5, -5]}}, r"camera\.roll: low must be <= high, got low=5\.0, high=-5\.0"),
    ("negative scale", {"physics": {"mass": [-1.0, 2.0]}}, r"physics\.mass: values must be numbers in \(0, 100\] \(x nominal\), mode scale; got low=-1"),
    ("wrong type", {"lighting": {"ambient": "bright"}}, r"lighting\.ambient: expected a number, a \[low, high\] range"),
    ("probability > 1", {"lighting": {"shadow_probability": 1.5}}, r"shadow_probability: expected a probability in \[0, 1\], got 1\.5"),
    ("choice probabilities", {"physics": {"latency": {"dist": "choice", "values": [0, 1], "p": [0.5, 0.6]}}}, r"latency\.p: expected 2 probabilities in \[0, 1\] summing to 1"),
    ("unknown distribution", {"camera": {"roll": {"dist": "cauchy"}}}, r"camera\.roll\.dist: unknown distribution 'cauchy'; allowed: constant, uniform"),
    ("missing image folder", {"texture": {"image_dir": "/nonexistent/photos"}}, r"texture\.image_dir: image folder '/nonexistent/photos' does not exist"),
    ("image source without folder", {"texture": {"sources": ["image"]}}, r"the 'image' source needs image_dir"),
    ("unknown texture source", {"texture": {"sources": ["plaid"]}}, r"texture\.sources: unknown value 'plaid'; allowed: flat, checker"),
    ("unknown target", {"texture": {"targets": ["ceiling"]}}, r"texture\.targets: unknown value 'ceiling'"),
    ("every_n_steps unsupported", {"texture": {"every_n_steps": 5}}, r"every_n_steps is not supported by the 'texture' randomizer"),
    ("every_n_steps not positive", {"camera": {"every_n_steps": 0}}, r"camera\.every_n_steps: expected an int >= 1, got 0"),
    ("log-uniform at zero", {"physics": {"restitution": {"dist": "log_uniform", "low": 0, "high": 1}}}, r"log_uniform needs low > 0"),
    ("negative std", {"camera": {"roll": {"dist": "normal", "mean": 0, "std": -1}}}, r"roll\.std: must be >= 0, got -1"),
    ("distribution key typo", {"camera": {"roll": {"dist": "uniform", "low": 0, "hgh": 1}}}, r"unknown key\(s\) \['hgh'\] for dist 'uniform'"),
    ("bad mode", {"lighting": {"ambient": {"dist": "uniform", "low": 0, "high": 1, "mode": "scale"}}}, r"lighting\.ambient\.mode: 'scale' is not allowed here; allowed: absolute"),
    ("pool smaller than count", {"distractors": {"count": [0, 8], "pool_size": 3}}, r"pool_size: must be >= the largest count \(8\), got 3"),
    ("collide not bool", {"distractors": {"collide": "yes"}}, r"collide: expected true or false, got 'yes'"),
    ("negative scale as a choice", {"physics": {"mass": {"dist": "choice", "values": [-1.0, 2.0]}}}, r"physics\.mass: values must be numbers in \(0, 100\] .*; got values\[0\]=-1"),
    ("latency choice too long", {"physics": {"latency": {"dist": "choice", "values": [0, 30]}}}, r"physics\.latency: values must be integers in \[0, 20\] \(env steps\); got values\[1\]=30"),
    ("texture size too large", {"texture": {"size": 4096}}, r"texture\.size: expected an int in \[4, 256\], got 4096"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "preset", "match"), BAD_PRESETS, ids=[c[0] for c in BAD_PRESETS])
def test_malformed_presets_fail_at_load_with_a_clear_message(case, preset, match) -> None:
    with pytest.raises(PresetError, match=match):
        load_preset(preset)


def test_errors_in_files_name_the_file(tmp_path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("camera:\n  roll: [5, -5]\n")
    with pytest.raises(
        PresetError, match=r"preset '.*broken\.yaml': camera\.roll: low must be <= high"
    ):
        load_preset(path)
    path.write_text("camera: [unclosed\n")
    with pytest.raises(PresetError, match="is not valid YAML"):
        load_preset(path)
    with pytest.raises(
        PresetError,
        match=r"unknown preset 'tobbin'; use one of \[.*'physics'.*'tobin'.*\]",
    ):
        load_preset("tobbin")
    with pytest.raises(PresetError, match="does not exist"):
        load_preset(tmp_path / "missing.yaml")


def test_empty_image_folder_names_the_extensions(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(
        PresetError, match=r"no images in '.*'; looked for files ending in \.png, \.jpg"
    ):
        load_preset({"texture": {"image_dir": str(tmp_path)}})


def test_relative_image_dir_resolves_against_the_preset_file() -> None:
    target = load_preset("target")
    tex = target["texture"]
    assert tex.bank.images and all(p.startswith(str(asset_dir())) for p in tex.bank.images)


def test_physics_preset_moves_push_dynamics() -> None:
    env = gym.make("domrand/Push-v0", randomization="physics").unwrapped
    masses = set()
    for seed in range(3):
        env.reset(seed=seed)
        masses.add(env.scene.client.getDynamicsInfo(env.scene.sim.body("cube"), -1)[0])
    assert len(masses) == 3 and all(0.05 <= m <= 0.2 for m in masses)
    env.close()


def test_target_preset_renders_photographs() -> None:
    env = gym.make("domrand/Push-v0", randomization="target", obs_mode="rgb", image_size=64)
    obs, _ = env.reset(seed=0)
    plain = gym.make("domrand/Push-v0", obs_mode="rgb", image_size=64)
    obs0, _ = plain.reset(seed=0)
    assert np.abs(obs.astype(int) - obs0).mean() > 10
    bank = env.unwrapped.randomizer["texture"].bank
    crops = [bank.generate(i) for i in range(8)]
    # photo crops have rich local texture: many distinct colours, unlike procedural ones
    assert np.median([len(np.unique(c.reshape(-1, 3), axis=0)) for c in crops]) > 1000
    env.close()
    plain.close()


def test_preview_script_writes_a_labelled_grid(tmp_path, capsys) -> None:
    from PIL import Image

    from scripts import preview

    out = tmp_path / "grid.png"
    args = ["--env", "domrand/Reach-v0", "--preset", "tobin", "--num", "4", "--size", "32"]
    assert preview.main([*args, "--out", str(out)]) == 0
    with Image.open(out) as im:  # 2 x 2 tiles of 32 px, 2 px apart, a caption under each
        width, height = im.size
    assert width == 2 * (32 + 2) + 2 and height > width and (height - width) % 2 == 0
    assert preview.main(["--preset", "tobbin", "--out", str(out)]) == 2
    assert "unknown preset 'tobbin'" in capsys.readouterr().err


def test_assets_are_found_in_a_checkout_and_in_a_wheel(tmp_path, monkeypatch) -> None:
    import randomizers.assets

    assert preset_dir() == asset_dir() / "presets"
    assert {"presets", "textures", "gan"} <= {p.name for p in asset_dir().iterdir()}
    wheel = tmp_path / "site-packages" / "randomizers"  # a wheel carries randomizers/_assets
    (wheel / "_assets" / "presets").mkdir(parents=True)
    monkeypatch.setattr(randomizers.assets, "files", lambda package: wheel)
    assert asset_dir() == wheel / "_assets"
    (wheel / "_assets" / "presets").rmdir()
    with pytest.raises(FileNotFoundError, match="the assets folder is missing"):
        asset_dir()


def test_gan_source_without_torch_names_the_extra(monkeypatch) -> None:
    import sys

    for name in ("torch", "randomizers.gan_generator", "randomizers.gan_source"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "torch", None)  # what an install without torch sees
    with pytest.raises(PresetError, match=r"texture\.sources: the 'gan' texture source needs "
                       r"torch; install it with: pip install 'domrand\[learn\]'"):  # fmt: skip
        load_preset({"texture": {"sources": ["gan"], "gan_checkpoint": "gan.pt"}})


def raw(name: str) -> dict:
    """A shipped preset's YAML as written, before validation."""
    import yaml

    return yaml.safe_load((preset_dir() / f"{name}.yaml").read_text())


def test_calibrated_validation_preset_is_tobin_photos_with_targets_camera() -> None:
    """Validation for back-projecting policies: every appearance randomization of training,
    the camera model of the held-out domain (its distributions, not its draws)."""
    calibrated, photos, target = raw("tobin_photos_calibrated"), raw("tobin_photos"), raw("target")
    assert calibrated["camera"] == target["camera"]
    assert {k: v for k, v in calibrated.items() if k != "camera"} == {
        k: v for k, v in photos.items() if k != "camera"
    }
    load_preset("tobin_photos_calibrated")  # valid as a preset


@pytest.mark.parametrize("base", ["tobin_photos", "tobin_photos_occluders"])
def test_large_bank_presets_differ_from_their_base_in_bank_size_only(base: str) -> None:
    """The localizer recipe's presets: the same randomization, 16x the textures to draw from."""
    large, plain = raw(f"{base}_large_bank"), raw(base)
    for key in ("texture", "distractors"):
        assert large[key].pop("bank_size") == 4096
    assert large == plain
    randomizer = load_preset(f"{base}_large_bank")
    banks = {type(r).__name__: r.bank.bank_size for r in randomizer.randomizers
             if hasattr(r, "bank")}
    assert banks == {"Texture": 4096, "Distractors": 4096}


@pytest.mark.parametrize("base", ["tobin_photos", "tobin_photos_occluders"])
def test_large_pool_presets_differ_from_their_large_bank_base_in_pool_size_only(base: str) -> None:
    """The 128 px localizer recipe's presets: 256 distractor bodies of every shape and scale
    instead of twice the largest count, the same in everything else."""
    pool, bank = raw(f"{base}_large_pool"), raw(f"{base}_large_bank")
    assert pool["distractors"].pop("pool_size") == 256
    assert pool == bank
    randomizer = load_preset(f"{base}_large_pool")
    (distractors,) = [r for r in randomizer.randomizers if type(r).__name__ == "Distractors"]
    assert distractors.pool_size == 256


def test_crowded_preset_differs_from_the_large_pool_one_in_count_only() -> None:
    """6-10 distractors in every image, everything else `tobin_photos_large_pool`."""
    crowded, pool = raw("tobin_photos_crowded"), raw("tobin_photos_large_pool")
    assert crowded["distractors"].pop("count") == [6, 10]
    pool["distractors"].pop("count")
    assert crowded == pool
    (distractors,) = [r for r in load_preset("tobin_photos_crowded").randomizers
                      if type(r).__name__ == "Distractors"]  # fmt: skip
    assert distractors.count.bounds == (6, 10) and distractors.pool_size == 256


def test_photos_everywhere_preset_is_the_crowded_one_with_photos_only() -> None:
    """2-10 distractors and photographs on every surface, the rest `tobin_photos_crowded`."""
    every, crowded = raw("tobin_photos_everywhere"), raw("tobin_photos_crowded")
    assert every["distractors"].pop("count") == [2, 10]
    crowded["distractors"].pop("count")
    for part in ("distractors", "texture"):
        assert every[part].pop("sources") == ["image"]
        assert crowded[part].pop("sources") == ["flat", "gradient", "checker", "image"]
    assert every == crowded
    randomizers = {type(r).__name__: r for r in load_preset("tobin_photos_everywhere").randomizers}
    assert randomizers["Distractors"].count.bounds == (2, 10)


def test_photos_everywhere_occluders_preset_places_the_photo_clutter_around_the_cube() -> None:
    """1-5 occluders within 10 cm of the target, everything else `tobin_photos_everywhere`."""
    occl, every = raw("tobin_photos_everywhere_occluders"), raw("tobin_photos_everywhere")
    assert occl["distractors"].pop("count") == [1, 5]
    assert occl["distractors"].pop("around") == "target"
    assert occl["distractors"].pop("x") == occl["distractors"].pop("y") == [-0.1, 0.1]
    every["distractors"].pop("count")
    assert occl == every
    randomizers = {type(r).__name__: r
                   for r in load_preset("tobin_photos_everywhere_occluders").randomizers}  # fmt: skip
    assert randomizers["Distractors"].count.bounds == (1, 5)
    assert randomizers["Distractors"].around == "target"
