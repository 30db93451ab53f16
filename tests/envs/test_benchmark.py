"""The benchmark measures the env and a raw PyBullet replay of the same motion."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from envs.benchmark.export import steady_rate
from envs.benchmark.frames import measure_env
from envs.benchmark.raw import RawScene
from envs.benchmark.tables import Measurement, markdown_table
from scripts import benchmark as benchmark_script


def test_raw_scene_replays_the_env_motion(make_env, capfd) -> None:
    env = make_env("domrand/Reach-v0")
    env.reset(seed=0)
    capfd.readouterr()
    raw = RawScene(env)
    assert capfd.readouterr().out == ""  # PyBullet's "argv[0]=" stays off stdout
    for _ in range(10):
        env.step(np.array([0.5, -0.3, 0.2]))
        raw.step(list(env.robot.last_command))
    env_q = env.robot.joint_positions()
    raw_q = np.array([s[0] for s in raw.client.getJointStates(raw.bodies["robot"], raw.joints)])
    np.testing.assert_allclose(raw_q, env_q, atol=1e-6)
    env_img = env.camera.render().rgb
    raw_img = np.reshape(raw.render(), (*env_img.shape[:2], 4))[:, :, :3]
    assert (raw_img == env_img).mean() > 0.99  # same scene, same camera
    raw.close()


def test_measure_env_rows() -> None:
    rows = measure_env("domrand/Push-v0", n_steps=10, sizes=(32,), n_resets=5, repeats=1)
    assert [r.metric for r in rows] == ["physics steps (state)", "reset", "frames (rgb 32px)"]
    assert all(r.env > 0 for r in rows)
    assert rows[0].raw is not None and rows[0].ratio == rows[0].env / rows[0].raw
    assert rows[1].raw is None and rows[1].ratio is None


def test_ratio_direction() -> None:
    assert Measurement("x", "a", 90.0, 100.0, "frames/s").ratio == 0.9
    assert Measurement("x", "b", 2.0, 1.0, "ms").ratio == 0.5


def test_script_writes_json_and_markdown(tmp_path, capsys) -> None:
    code = benchmark_script.main(
        ["--env", "domrand/Reach-v0", "--steps", "5", "--sizes", "32", "--resets", "3",
         "--repeats", "1", "--presets", "tobin", "--out-dir", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    data = json.loads((tmp_path / "benchmark.json").read_text())
    metrics = [r["metric"] for r in data["rows"]]
    assert metrics == [
        "physics steps (state)", "reset", "frames (rgb 32px)", "reset (no randomization)",
        "reset (tobin)", "frames (tobin, rgb 32px, stepping; raw: plain rgb stepping)",
        "bare render of the tobin scenes, 32px (raw: of the plain scene): the stepping "
        "ratio's ceiling",
        "frames (tobin, rgb 32px, new domain every frame)",
    ]  # fmt: skip
    assert all(r["env"] > 0 for r in data["rows"])
    # the randomized rows carry their references: plain stepping, the plain scene's bare
    # render, the bare render of the same scenes
    assert all(r["raw"] > 0 and r["ratio"] == r["env"] / r["raw"] for r in data["rows"][-3:])
    assert not (tmp_path / "scaling.png").exists()  # no --scaling: no plot
    assert "| env | metric |" in (tmp_path / "benchmark.md").read_text()
    assert markdown_table([]).count("\n") == 1


def test_scaling_rows_for_processes_and_details() -> None:
    from envs.benchmark.scaling import measure_scaling

    rows = measure_scaling(
        "domrand/Reach-v0", "tobin", sizes=(32,), processes=(1, 2), details=("low",),
        renderers=("tiny",), n_frames=3,
    )  # fmt: skip
    assert [r.metric for r in rows] == [
        "tobin frames, 32px, 1 proc, low, tiny",
        "tobin frames, 32px, 2 proc, low, tiny",
    ]
    assert all(r.env > 0 and r.raw > 0 for r in rows)


def test_bare_render_times_each_scene_once(make_env) -> None:
    """The raw reference renders every scene the env built (not the last one n times)."""
    from envs.benchmark.scaling import bare_render_seconds

    env = make_env("domrand/Push-v0", obs_mode="rgb", image_size=32, randomization="tobin")
    env.reset(seed=0)
    calls = []
    client = env.scene.client
    real = client.getCameraImage
    def counted(*a: Any, **k: Any) -> Any:
        if a[:2] != (1, 1):  # not a 1 x 1 image of Simulation.restore (history_free)
            calls.append(env.randomization["task"])
        return real(*a, **k)

    client.getCameraImage = counted
    try:
        assert bare_render_seconds(env, [3, 4, 5]) > 0
    finally:
        client.getCameraImage = real
    assert len(calls) == 6  # each reset renders its observation, then the one bare render
    assert calls[1] != calls[3] != calls[5]  # three different scenes


def test_camera_pair_rows() -> None:
    from envs.benchmark.cameras import measure_cameras

    rows = measure_cameras("domrand/Push-v0", None, 24, n_steps=4, repeats=1)
    assert [r.metric for r in rows] == [
        "steps (no randomization, state, no image)",
        "steps (no randomization, rgb 24px, front camera only)",
        "steps (no randomization, rgb 24px, wrist camera only)",
        "steps (no randomization, rgb 24px, front + wrist; raw: physics + front's and "
        "wrist's image work)",
    ]
    assert all(r.env > 0 for r in rows) and rows[-1].raw is not None and rows[-1].raw > 0
    assert [r.raw for r in rows[:3]] == [None, None, None]


def test_scaling_plot(tmp_path) -> None:
    from envs.benchmark.plot import plot_scaling, scaling_series

    rows = [
        Measurement("e", f"tobin frames, {s}px, {k} proc, low, tiny", 100.0 * k / s,
                    200.0 * k / s, "frames/s")
        for s in (128, 64) for k in (1, 2)
    ] + [Measurement("e", "reset", 0.1, None, "ms")]  # fmt: skip
    series = scaling_series(rows)
    assert series == {
        ("low", "tiny", 1): [(64, 100 / 64, 200 / 64), (128, 100 / 128, 200 / 128)],
        ("low", "tiny", 2): [(64, 200 / 64, 400 / 64), (128, 200 / 128, 400 / 128)],
    }
    out = plot_scaling(rows, tmp_path / "scaling.png")
    assert out is not None and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_scaling(rows[-1:], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_export_rows_steady_state_and_start_up() -> None:
    from envs.benchmark.export import measure_export
    from envs.benchmark.tables import export_table

    rows = measure_export("domrand/Reach-v0", "tobin", sizes=(32,), workers=(1, 2), n_images=24)
    assert [(r.size, r.workers) for r in rows] == [(32, 1), (32, 2)]
    for r in rows:
        assert r.steady > 0 and r.total > 0 and r.raw > 0
        # the labels of these 24 scenes need 59 window renders in all, whatever the split,
        # drawing 0.62 of a frame per image
        assert r.alone_renders == 59 / 24 and 0.6 < r.alone_area < 0.66
        assert r.overhead == r.raw / r.steady - 1
        assert r.measurements()[0].metric.endswith("steady state)")
    table = export_table(rows)
    assert table.count("\n| tobin, 32 px") == 2 and "2 workers / 1 worker" in table


def test_steady_rate_starts_after_the_first_chunk() -> None:
    # 8 images finished at these times; the window opens at the 4th (every worker's first chunk)
    stamps = [1.0, 1.0, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert steady_rate(stamps, 4) == 4 / (3.0 - 1.0)
    assert steady_rate(stamps, 1) == 7 / (3.0 - 1.0)
    assert steady_rate(stamps, 8) is None  # nothing after the window opens
    assert steady_rate([2.0, 2.0], 1) is None  # no time passed


def test_breakdown_times_every_randomizer_and_adds_up() -> None:
    """One row per randomizer's sample and apply and per fixed part, largest first; the
    parts and 'the rest' add up to the whole reset."""
    from envs.benchmark.breakdown import measure_breakdown

    rows = measure_breakdown("domrand/Reach-v0", "tobin", 32, n_frames=4)
    labels = [r.metric.split(": ", 1)[1] for r in rows[:-1]]
    for kind in ("distractors", "texture", "lighting", "camera", "image_noise"):
        assert f"{kind}: sample" in labels and f"{kind}: apply" in labels
    assert "render (getCameraImage and its arrays)" in labels and labels[-1] == "the rest"
    parts = [r.env for r in rows[:-2]]
    assert parts == sorted(parts, reverse=True) and all(p > 0 for p in parts)
    assert rows[-1].metric == "tobin 32px reset: whole" and rows[-1].unit == "us"
    assert sum(r.env for r in rows[:-1]) == pytest.approx(rows[-1].env, rel=1e-6)


def test_training_rows_compare_each_precision_and_merge_with_fp32_concat(tmp_path, capsys
                                                                        ) -> None:  # fmt: skip
    """``--training-only``: the localizer's training images/s per trunk merge and
    forward-pass precision, and no env rows (nor a renderer named in the header)."""
    assert benchmark_script.main(["--training-only", "--sizes", "32", "--repeats", "1",
                                  "--out-dir", str(tmp_path)]) == 0  # fmt: skip
    data = json.loads((tmp_path / "benchmark.json").read_text())
    rows = [(r["merge"], r["precision"]) for r in data["training"]]
    assert data["rows"] == [] and rows == [("concat", "fp32"), ("concat", "bf16"),
                                           ("add", "fp32"), ("add", "bf16")]  # fmt: skip
    assert all(r["images_per_s"] > 0 and (r["size"], r["batch"]) == (32, 64)
               for r in data["training"])  # fmt: skip
    table = (tmp_path / "benchmark.md").read_text()
    fp32, bf16, add32, add16 = (r["images_per_s"] for r in data["training"])
    assert "| heatmap localizer, 32 px | concat | 64 | fp32 |" in table and "| 1.00 |" in table
    assert "| heatmap localizer, 32 px | add | 64 | bf16 |" in table
    for speed in (bf16, add32, add16):
        assert f"| {speed / fp32:.2f} |" in table
    assert "| env | metric |" not in table
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("Benchmark ") and "TinyRenderer" not in header


def test_training_measurement_refuses_bad_settings() -> None:
    from agents.perception.throughput import measure_training

    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, got 'fp8'"):
        measure_training(precisions=("fp8",))
    with pytest.raises(ValueError, match="merge must be one of concat, add, got 'sum'"):
        measure_training(merges=("sum",))
    with pytest.raises(ValueError, match="need size a multiple of 4"):
        measure_training(size=30)
