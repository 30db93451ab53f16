"""The heatmap localizer: geometry of its outputs, deterministic training, safe checkpoints,
scripts end to end with a tiny budget, and refusals that name both sides."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.perception.heatmap_net import HeatmapNet
from agents.perception.localizer import (
    LocalizerConfig,
    evaluate_localizer,
    load_data,
    load_localizer,
    local_soft_argmax,
    save_localizer,
    soft_argmax,
)
from agents.perception.localizer_training import train_localizer
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from scripts import evaluate_localizer as evaluate_script
from scripts import train_localizer as train_script

TINY = LocalizerConfig(epochs=2, batch_size=16, width=4, seed=3)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loc")
    out = {}
    for name, preset, n, seed, size in (("train", "tobin", 48, 0, 32), ("val", "tobin", 16, 1, 32),
                                        ("target", "target", 16, 2, 32),
                                        ("big", "tobin", 4, 3, 48)):  # fmt: skip
        out[name] = export_dataset(
            ExportConfig(env_id="domrand/Lift-v0", preset=preset, num_images=n, size=size,
                         out=str(root / name), seed=seed, visibility=False),
            progress=False,
        )  # fmt: skip
    return out


def test_soft_argmax_finds_a_peak_with_sub_cell_precision() -> None:
    logits = torch.full((2, 8, 8), -50.0)
    logits[0, 2, 5] = 0.0  # one sharp peak: the centre of cell (x=5, y=2)
    logits[1, 6, 1] = logits[1, 6, 2] = 0.0  # two equal cells: halfway between them
    logits[1, 0, 7] = 10.0 - 50.0  # a weaker far peak the local window must ignore
    np.testing.assert_allclose(soft_argmax(logits[:1]).numpy(), [[5.5, 2.5]], atol=1e-4)
    local = local_soft_argmax(logits, radius=2).numpy()
    np.testing.assert_allclose(local, [[5.5, 2.5], [2.0, 6.5]], atol=1e-4)


def test_training_is_deterministic_and_checkpoints_round_trip(data, tmp_path: Path) -> None:
    train, val = load_data(data["train"], "cube"), load_data(data["val"], "cube")
    before = torch.get_rng_state()
    a = train_localizer(train, val, TINY, env_id="domrand/Lift-v0", progress=False)
    b = train_localizer(train, val, TINY, env_id="domrand/Lift-v0", progress=False)
    assert torch.equal(torch.get_rng_state(), before)  # seeded through generators only
    best = int(np.argmin([r["val_px_mean"] for r in a.history])) + 1
    assert a.meta["selected_epoch"] == best and [r["epoch"] for r in a.history] == [1, 2]
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert a.meta["plane_z"] == pytest.approx(0.645, abs=1e-3)  # the cube rests on the table
    assert np.asarray(a.meta["camera"]["K"]).shape == (3, 3) and len(a.history) == 2
    path = save_localizer(a, tmp_path / "loc.pt")
    back = load_localizer(path)
    np.testing.assert_array_equal(back.positions(val.images), a.positions(val.images))
    assert back.positions(val.images).shape == (16, 3)


def test_weights_stay_channels_last_and_predict_as_contiguous_ones(data, tmp_path: Path) -> None:
    """NHWC weights are the fast layout on CPU; a loaded checkpoint keeps it, and the layout
    changes no prediction beyond float rounding."""
    val = load_data(data["val"], "cube")
    loc = train_localizer(val, None, replace(TINY, epochs=1), env_id="domrand/Lift-v0",
                          progress=False)  # fmt: skip
    back = load_localizer(save_localizer(loc, tmp_path / "loc.pt"))
    convs = [p for p in back.model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    nhwc = back.pixels(val.images)
    back.model.to(memory_format=torch.contiguous_format)
    np.testing.assert_allclose(back.pixels(val.images), nhwc, atol=1e-3)


def test_the_upsampling_gradient_fix_changes_no_gradient() -> None:
    """The trunk hands its upsampling a channels-last gradient (a speed fix): every weight's
    gradient is bit-identical to the plain graph's."""
    torch.manual_seed(0)
    net = HeatmapNet(8, 2, True)
    x = torch.rand(4, 3, 32, 32) * 2 - 1

    def grads() -> list[torch.Tensor]:
        net.zero_grad()
        net.outputs(x).square().mean().backward()
        return [p.grad.clone() for p in net.parameters() if p.grad is not None]

    fixed = grads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("agents.perception.heatmap_net._ChannelsLastGrad.apply", lambda t: t)
        plain = grads()
    assert len(fixed) == len(plain) > 0
    assert all(torch.equal(a, b) for a, b in zip(fixed, plain, strict=True))


def multiply_adds(net: torch.nn.Module, x: torch.Tensor) -> int:
    """The convolutions' multiply-adds for one image of ``x``'s size."""
    total = 0

    def hook(m: torch.nn.Conv2d, _: object, out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]

    hooks = [m.register_forward_hook(hook) for m in net.modules()
             if isinstance(m, torch.nn.Conv2d)]  # fmt: skip
    with torch.no_grad():
        net(x[:1])
    for h in hooks:
        h.remove()
    return total


def test_the_add_merge_projects_before_upsampling_and_round_trips(data, tmp_path: Path) -> None:
    """``merge="add"`` projects the context at stride 4, which equals projecting after the
    upsampling (both linear); it has fewer weights than ``concat``, and its checkpoint
    records it. A checkpoint from before ``merge`` existed reads as ``concat``."""
    torch.manual_seed(0)
    net = HeatmapNet(8, 2, True, merge="add").eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        half = net.stride2_features(x)
        ctx = torch.nn.functional.interpolate(net.context(half), size=half.shape[-2:],
                                              mode="bilinear", align_corners=False)  # fmt: skip
        late = net.up(net.lateral(ctx) + half)
        torch.testing.assert_close(net.features(x), late, atol=1e-5, rtol=1e-5)
    assert multiply_adds(net, x) < 0.7 * multiply_adds(HeatmapNet(8, 2, True).eval(), x)
    with pytest.raises(ValueError, match="merge must be one of concat, add, got 'sum'"):
        LocalizerConfig(merge="sum")

    val = load_data(data["val"], "cube")
    add = train_localizer(val, None, replace(TINY, epochs=1, merge="add"),
                          env_id="domrand/Lift-v0", progress=False)  # fmt: skip
    back = load_localizer(save_localizer(add, tmp_path / "add.pt"))
    assert back.config.merge == "add" and hasattr(back.model, "lateral")
    np.testing.assert_array_equal(back.pixels(val.images), add.pixels(val.images))

    old = train_localizer(val, None, replace(TINY, epochs=1), env_id="domrand/Lift-v0",
                          progress=False)  # fmt: skip
    path = save_localizer(old, tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    del payload["config"]["merge"]  # as every checkpoint written before 2026-12-04
    torch.save(payload, path)
    back = load_localizer(path)
    assert back.config.merge == "concat"
    np.testing.assert_array_equal(back.pixels(val.images), old.pixels(val.images))


def test_scripts_train_then_evaluate(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "loc.pt"
    assert train_script.main(["--train", str(data["train"]), "--val", str(data["val"]),
                              "--out", str(ckpt), "--epochs", "1", "--batch-size", "16",
                              "--width", "4", "--no-progress"]) == 0  # fmt: skip
    assert "selected" in capsys.readouterr().out
    two = tmp_path / "two.pt"
    assert train_script.main(["--train", str(data["train"]), "--val", str(data["val"]),
                              str(data["target"]), "--out", str(two), "--epochs", "1",
                              "--batch-size", "16", "--width", "4", "--sigma", "0.5",
                              "--pixel-weight", "0.25", "--no-progress"]) == 0  # fmt: skip
    loaded = load_localizer(two)
    assert loaded.meta["val_roots"] == [str(data["val"]), str(data["target"])]
    assert (loaded.config.sigma, loaded.config.pixel_weight) == (0.5, 0.25)
    out = capsys.readouterr().out
    assert f"validation ({data['val']}):" in out and f"validation ({data['target']}):" in out
    assert evaluate_script.main(["--model", str(ckpt), "--data", str(data["target"]),
                                 str(data["val"]), "--json"]) == 0  # fmt: skip
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["n"] for r in rows] == [16, 16]
    assert evaluate_script.main(["--model", str(ckpt), "--data", str(data["val"]), "--json",
                                 "--camera", "recorded"]) == 0  # fmt: skip
    rows += [json.loads(capsys.readouterr().out)]
    assert rows[-1]["camera"] == "recorded" and rows[-1]["px_mean"] == rows[1]["px_mean"]
    for r in rows:
        assert {"mean_cm", "median_cm", "p90_cm", "n", "px_mean"} <= set(r)
        assert 0 <= r["median_cm"] <= r["p90_cm"] and Path(r["plot"]).is_file()


def test_bad_inputs_name_both_sides(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "loc.pt"
    loc = train_localizer(load_data(data["train"], "cube"), None, TINY, env_id="domrand/Lift-v0",
                          progress=False)  # fmt: skip
    save_localizer(loc, ckpt)
    cases = [
        (["--model", str(ckpt), "--data", str(data["big"])], "trained on 32 px images"),
        (["--model", str(tmp_path / "missing.pt"), "--data", str(data["val"])], "not found"),
    ]
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(ckpt.read_bytes()[:100])
    cases.append((["--model", str(corrupt), "--data", str(data["val"])], "truncated or corrupt"))
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "something-else"}, foreign)
    cases.append(
        (["--model", str(foreign), "--data", str(data["val"])], "not a localizer checkpoint")
    )
    cases += [
        (["--model", str(ckpt), "--data", str(data["val"]), "--visible", "0.9", "0.1"],
         "--visible needs 0 <= LO <= HI <= 1, got 0.9 0.1"),
        (["--model", str(ckpt), "--data", str(data["val"]), "--visible", "0.1", "0.9"],
         "has its object 0.1..0.9 visible"),  # exported without visible fractions
    ]  # fmt: skip
    for argv, words in cases:
        assert evaluate_script.main(argv) == 2
        assert words in capsys.readouterr().err
    assert train_script.main(["--train", str(data["train"]), "--out", str(foreign)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert train_script.main(["--train", str(data["train"]), "--out", str(tmp_path / "x.pt"),
                              "--object", "mug"]) == 2  # fmt: skip
    assert "mug" in capsys.readouterr().err
    assert train_script.main(["--train", str(data["train"]), "--val", str(data["val"]),
                              str(data["big"]), "--out", str(tmp_path / "x.pt")]) == 2  # fmt: skip
    assert f"--val {str(data['big'])!r}" in capsys.readouterr().err
    assert train_script.main(["--train", str(data["train"]), "--val", str(data["big"]),
                              "--out", str(tmp_path / "x.pt")]) == 2  # fmt: skip
    assert "does not match --train" in capsys.readouterr().err
    assert train_script.main(["--train", str(data["train"]), "--out", str(tmp_path / "x.pt"),
                              "--sigma", "0"]) == 2  # fmt: skip
    assert "sigma must be a finite number > 0, got 0.0" in capsys.readouterr().err


def test_evaluating_a_subset_pairs_each_image_with_its_own_label(data) -> None:
    loc = train_localizer(load_data(data["train"], "cube"), None, TINY, env_id="domrand/Lift-v0",
                          progress=False)  # fmt: skip
    val = load_data(data["val"], "cube")
    whole = evaluate_localizer(loc, val)
    part = evaluate_localizer(loc, val.subset(np.array([5, 2, 9])))
    assert part["n"] == 3
    np.testing.assert_allclose(part["true_xy"], np.asarray(whole["true_xy"])[[5, 2, 9]])
    np.testing.assert_allclose(part["predicted_xy"], np.asarray(whole["predicted_xy"])[[5, 2, 9]],
                               atol=1e-4)  # batch size may change the last float bits


def test_evaluation_runs_the_network_once_and_reuses_the_loaded_labels(
    data, monkeypatch: pytest.MonkeyPatch
) -> None:
    loc = train_localizer(load_data(data["train"], "cube"), None, TINY, env_id="domrand/Lift-v0",
                          progress=False)  # fmt: skip
    val = load_data(data["val"], "cube").subset(np.array([7, 1, 4, 0]))
    parsed = evaluate_localizer(loc, replace(val, world=None))  # labels parsed from the export
    calls = []
    pixels = loc.pixels
    monkeypatch.setattr(loc, "pixels", lambda images: calls.append(len(images)) or pixels(images))
    monkeypatch.setattr("agents.perception.localizer._records", lambda root: 1 / 0)
    held = evaluate_localizer(loc, val)
    assert calls == [4]
    for key in ("mean_cm", "px_mean", "true_xy", "predicted_xy"):
        np.testing.assert_allclose(held[key], parsed[key])
    with pytest.raises(ZeroDivisionError):  # the recorded cameras still come from the export
        evaluate_localizer(loc, val, camera="recorded")


def test_an_ensemble_averages_heatmaps_and_refuses_mismatched_members(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``A.pt+B.pt`` averages the members' heatmap log-probabilities: an ensemble of one
    checkpoint with itself finds what it finds, two different ones something of both; members
    made for other images are refused naming both; the scripts take the ``+`` form."""
    from agents.perception.ensemble import ensemble, load_localizer_spec

    train, val = load_data(data["train"], "cube"), load_data(data["val"], "cube")
    a = save_localizer(train_localizer(train, val, TINY, env_id="domrand/Lift-v0",
                                       progress=False), tmp_path / "a.pt")  # fmt: skip
    b = save_localizer(train_localizer(train, val, replace(TINY, seed=4), env_id="domrand/Lift-v0",
                                       progress=False), tmp_path / "b.pt")  # fmt: skip
    one, two = load_localizer(a), load_localizer(b)
    self_pair = load_localizer_spec(f"{a}+{a}")
    assert self_pair.meta["ensemble"] == [str(a), str(a)]
    np.testing.assert_allclose(self_pair.pixels(val.images), one.pixels(val.images), atol=1e-4)
    pair = load_localizer_spec(f"{a}+{b}")
    got = pair.pixels(val.images)
    assert not np.allclose(got, one.pixels(val.images)) and not np.allclose(got, two.pixels(val.images))
    with torch.no_grad():
        logits = pair.model(val.images[:2].float() / 255)
        assert logits.shape == one.model(val.images[:2].float() / 255).shape
    total = torch.logsumexp(logits.flatten(-2), -1).exp()  # a geometric mean of distributions
    assert ((total > 0.5) & (total <= 1 + 1e-5)).all(), total
    big = train_localizer(load_data(data["big"], "cube"), load_data(data["big"], "cube"),
                          replace(TINY, epochs=1, batch_size=4), env_id="domrand/Lift-v0",
                          progress=False)  # fmt: skip
    with pytest.raises(ValueError, match=r"'big' takes images of size 48; 'a' takes images of "
                       r"size 32: they cannot form an ensemble"):  # fmt: skip
        ensemble([one, big], ["a", "big"])
    low = replace(two, meta={**two.meta, "plane_z": two.meta["plane_z"] + 5e-4})
    assert ensemble([one, low], ["a", "low"]).meta["plane_z"] == one.meta["plane_z"]
    high = replace(two, meta={**two.meta, "plane_z": two.meta["plane_z"] + 0.01})
    with pytest.raises(ValueError, match=r"'high' rests at .*: they cannot form an ensemble"):
        ensemble([one, high], ["a", "high"])
    with pytest.raises(ValueError, match=r"at least 2 localizers"):
        ensemble([one], ["a"])
    with pytest.raises(ValueError, match=r"no empty part"):
        load_localizer_spec(f"{a}+")
    with pytest.raises(FileNotFoundError):
        load_localizer_spec(f"{a}+{tmp_path / 'missing.pt'}")
    assert evaluate_script.main(["--model", f"{a}+{b}", "--data", str(data["val"]),
                                 "--json", "--plot-dir", str(tmp_path)]) == 0  # fmt: skip
    row = json.loads(capsys.readouterr().out)
    assert row["n"] == 16 and row["model"] == f"{a}+{b}"
    assert Path(row["plot"]).name == "a+b_on_val.png"


@pytest.mark.parametrize("a, b", [("lift_cube128.pt", "lift_cube128_pool.pt"),
                                  ("lift_cube128_v2.pt", "lift_cube128_pool_v2.pt"),
                                  ("lift_cube128_crowded.pt", "lift_cube128_pool_v2.pt"),
                                  ("lift_cube128_photos.pt", "lift_cube128_pool_photos.pt"),
                                  ("lift_cube128_photos_mirror.pt",
                                   "lift_cube128_pool_photos_mirror.pt"),
                                  ("lift_cube128_photoocl.pt", "lift_cube128_pool_photoocl.pt"),
                                  ("lift_cube128_photoocl_v2.pt",
                                   "lift_cube128_pool_photoocl_v2.pt"),
                                  ("lift_cube128_photobank.pt",
                                   "lift_cube128_pool_photobank.pt")])  # fmt: skip
def test_the_shipped_pair_forms_an_ensemble(a: str, b: str) -> None:
    """The README's ensembles of two shipped 128 px cube localizers load as one."""
    from agents.perception.ensemble import load_localizer_spec, spec_name

    models = Path(__file__).resolve().parents[2] / "assets" / "models"
    spec = f"{models / a}+{models / b}"
    loc = load_localizer_spec(spec)
    assert loc.image_size == 128 and loc.meta["object"] == "cube" and len(loc.meta["ensemble"]) == 2
    assert spec_name(spec) == f"{a}+{b}"
    pixels = loc.pixels(torch.zeros(1, 3, 128, 128, dtype=torch.uint8))
    assert pixels.shape == (1, 2) and np.isfinite(pixels).all()


def test_plots_of_a_shipped_model_stay_out_of_the_package(tmp_path: Path) -> None:
    """Evaluating a shipped checkpoint must not write PNGs into assets/models; a user's
    checkpoint keeps its plots beside it."""
    from agents.cli.evaluate_localizer import default_plot_dir

    models = Path(__file__).resolve().parents[2] / "assets" / "models"
    shipped = f"{models / 'lift_cube128_photobank.pt'}+{models / 'lift_cube128_pool_photobank.pt'}"
    assert default_plot_dir(shipped) == Path("runs") / "localizer_plots"
    mine = tmp_path / "runs" / "mine.pt"
    assert default_plot_dir(f"{mine}+{models / 'lift_cube128_pool_photobank.pt'}") == mine.parent


def _concatenated_stem_input(net: HeatmapNet, x: torch.Tensor) -> torch.Tensor:
    """The trunk's stride-2 features from a plain (contiguous) concatenation of the image and
    its coordinate channels: what the trunk computed before it wrote them channels-last."""
    n, _, h, w = x.shape
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    inputs = torch.cat([x, xx.expand(n, 1, h, w), yy.expand(n, 1, h, w)], 1)
    return net.down(net.stem(inputs))  # type: ignore[no-any-return]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_channels_last_stem_input_changes_no_bit(precision: str) -> None:
    """The coordinate channels written straight into channels-last memory give the same
    outputs and the same gradients, bit for bit, as a concatenation (in either training
    precision): a speed-up, not a change of the recipe's numbers."""
    from agents.training import forward_precision

    torch.manual_seed(0)
    net = HeatmapNet(16, 2, True, merge="add").train()
    x = (torch.rand(8, 3, 64, 64) * 2 - 1).contiguous(memory_format=torch.channels_last)
    runs = []
    for concatenated in (False, True):
        model = copy.deepcopy(net)
        if concatenated:
            model.stride2_features = lambda t, m=model: _concatenated_stem_input(m, t)  # type: ignore[method-assign]
        with forward_precision(precision):
            out = model.outputs(x)
        out.float().square().mean().backward()
        runs.append((out.detach(), [p.grad for p in model.parameters()]))
    (out_a, grads_a), (out_b, grads_b) = runs
    assert torch.equal(out_a, out_b)
    assert all(a is not None and b is not None and torch.equal(a, b)
               for a, b in zip(grads_a, grads_b, strict=True))  # fmt: skip
    assert net.stride2_features(x).is_contiguous(memory_format=torch.channels_last)
