"""The offset refiner: config checks, the crop geometry it learns (a synthetic square it
must find), deterministic training with the epoch and steps chosen on validation,
checkpoints, the ``A.pt+V.pt+R.pt`` spec and its refusals, and the script end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.perception import localizer as localizer_module
from agents.perception import verifier as verifier_module
from agents.perception.ensemble import load_localizer_spec
from agents.perception.localizer import LocalizerConfig, load_data, load_localizer, save_localizer
from agents.perception.localizer_training import train_localizer
from agents.perception.refiner import (
    STEPS,
    RefinedLocalizer,
    Refiner,
    RefinerConfig,
    load_refiner,
    save_refiner,
    with_refiner,
    without_offset,
)
from agents.perception.refiner_training import jittered_centres, train_refiner
from agents.perception.verifier import CropNet, VerifierConfig, save_verifier, verify
from agents.perception.verifier_training import train_verifier
from agents.training import seeded
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from scripts import evaluate_localizer as evaluate_script
from scripts import train_refiner as train_script
from scripts import train_verifier as verifier_script

TINY = RefinerConfig(epochs=2, batch_size=16, width=4, crop=16, jitter_px=2.0, max_jitter_px=4.0,
                     seed=5)  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("refiner")
    out = {}
    for name, n, seed, size in (("train", 48, 0, 32), ("val", 16, 1, 32), ("big", 4, 3, 48)):
        out[name] = export_dataset(
            ExportConfig(env_id="domrand/Lift-v0", preset="tobin", num_images=n, size=size,
                         out=str(root / name), seed=seed, visibility=False),
            progress=False,
        )  # fmt: skip
    train, val = load_data(out["train"], "cube"), load_data(out["val"], "cube")
    loc = train_localizer(train, None, LocalizerConfig(epochs=1, batch_size=16, width=4, seed=3),
                          env_id="domrand/Lift-v0", progress=False)  # fmt: skip
    out["loc"] = save_localizer(loc, root / "loc.pt")
    ver = train_verifier(loc, train, val, VerifierConfig(epochs=1, batch_size=16, width=4, crop=16),
                         localizer_name="loc.pt", progress=False)  # fmt: skip
    out["ver"] = save_verifier(ver, root / "ver.pt")
    return out


@pytest.mark.parametrize(("change", "says"), [
    ({"crop": 18}, "crop must be a multiple of 4"),
    ({"jitter_px": 0.0}, "jitter_px must be a finite number > 0, got 0.0"),
    ({"max_jitter_px": 8.0}, "must stay below half the crop (8 px)"),
    ({"epochs": 0}, "epochs must be an int >= 1, got 0"),
    ({"color_jitter": 1.0}, "color_jitter must lie in [0, 1)"),
    ({"precision": "fp8"}, "fp8"),
])  # fmt: skip
def test_config_refuses_bad_values(change: dict, says: str) -> None:
    with pytest.raises(ValueError) as err:
        replace(TINY, **change)
    assert says in str(err.value)


def test_jittered_centres_are_clipped_and_seeded() -> None:
    true = np.zeros((2000, 2))
    a = jittered_centres(true, TINY, torch.Generator().manual_seed(1))
    b = jittered_centres(true, TINY, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= TINY.max_jitter_px and 1.5 < a[np.abs(a) < 4].std() < 2.5


def test_refine_moves_to_the_crop_centre_plus_the_predicted_offset() -> None:
    """A network that always answers (+1.25, -0.75) moves a pixel by that from its rounded
    crop centre, once per step; zero steps keep the pixels."""
    net = CropNet(4)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.head.bias.copy_(torch.tensor([0.0, 1.25, -0.75]))
    r = Refiner(net, replace(TINY, crop=16), {"steps": 2})
    images = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    start = np.array([[10.2, 20.7], [3.0, 4.0]])
    np.testing.assert_allclose(r.refine(images, start), [[12.25, 19.25], [5.25, 2.25]])
    np.testing.assert_allclose(r.refine(images, start, 1), [[11.25, 20.25], [4.25, 3.25]])
    np.testing.assert_array_equal(r.refine(images, start, 0), start)


def test_training_is_deterministic_chooses_on_validation_and_round_trips(data, tmp_path) -> None:
    loc = load_localizer_spec(f"{data['loc']}+{data['ver']}")
    train, val = load_data(data["train"], "cube"), load_data(data["val"], "cube")
    before = torch.get_rng_state()
    a = train_refiner(loc, train, val, TINY, localizer_name="spec", progress=False)
    b = train_refiner(loc, train, val, TINY, localizer_name="spec", progress=False)
    assert torch.equal(torch.get_rng_state(), before)  # seeded through generators only
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    m = a.meta
    best = int(np.argmin([r["val_px_mean"] for r in a.history])) + 1
    assert m["selected_epoch"] == best and [r["epoch"] for r in a.history] == [1, 2]
    trials = {t["steps"]: t for t in m["val_trials"]}
    assert sorted(trials) == list(STEPS) and m["steps"] in STEPS
    assert trials[m["steps"]]["px_mean"] == min(t["px_mean"] for t in trials.values())
    # zero steps is the verifier's pick (its own offset left out); one step chose the epoch
    start = without_offset(loc).pixels(val.images)
    own = np.linalg.norm(start - (val.pixels.numpy() + 1) * 16, axis=1)
    assert trials[0]["px_mean"] == pytest.approx(own.mean())
    assert trials[1]["px_mean"] == pytest.approx(a.history[best - 1]["val_px_mean"])
    assert (m["object"], m["image_size"], m["num_train"]) == ("cube", 32, 48)
    path = save_refiner(a, tmp_path / "r.pt")
    back = load_refiner(path)
    assert back.meta == m and back.config == TINY
    spec = f"{data['loc']}+{data['ver']}+{path}"
    combined = load_localizer_spec(spec)
    assert isinstance(combined, RefinedLocalizer) and combined.meta["refiner"] == str(path)
    np.testing.assert_allclose(combined.pixels(val.images), a.refine(val.images, start))
    cand, _ = combined.peaks(val.images[:1], k=3)
    np.testing.assert_array_equal(cand, loc.peaks(val.images[:1], k=3)[0])
    # the order in the spec does not matter, and a localizer alone can be refined too
    assert isinstance(load_localizer_spec(f"{path}+{data['loc']}"), RefinedLocalizer)


def test_the_refiner_starts_from_the_verifiers_pick_without_its_offset(data) -> None:
    loc = load_localizer_spec(f"{data['loc']}+{data['ver']}")
    on = replace(loc, verifier=replace(loc.verifier, meta={**loc.verifier.meta, "refine": True}))
    off = without_offset(on)
    assert off.verifier.meta["refine"] is False and on.verifier.meta["refine"] is True
    assert off.verifier.model is on.verifier.model and off.meta == on.meta
    plain = load_localizer_spec(data["loc"])
    assert without_offset(plain) is plain


def test_answers_do_not_depend_on_the_inference_batch_sizes(data, monkeypatch) -> None:
    """Inference runs in small batches (their activations stay in the CPU's cache); a full
    spec with both test-time averages answers the bytes that large batches give."""
    ver = load_localizer_spec(f"{data['loc']}+{data['ver']}").verifier
    ver = replace(ver, meta={**ver.meta, "flip": True, "shift": True, "peaks": 5})
    loc = verify(load_localizer(data["loc"]), ver, ("loc.pt", "ver.pt"))
    with seeded(1):
        net = CropNet(4)
    ref = Refiner(net, TINY, {k: loc.meta[k] for k in ("object", "env_id", "image_size")})
    spec = with_refiner(loc, ref, ("loc.pt+ver.pt", "ref.pt"))
    images = torch.cat([load_data(data[n], "cube").images for n in ("train", "val")])
    assert localizer_module.INFERENCE_BATCH < len(images) and 5 * len(images) > verifier_module.CROP_BATCH
    small = spec.pixels(images)
    # verifier.CROP_BATCH sets the refiner's batches too (verifier.crop_outputs)
    for module, name, big in ((localizer_module, "INFERENCE_BATCH", 256),
                              (verifier_module, "INFERENCE_BATCH", 256),
                              (verifier_module, "CROP_BATCH", 4096)):  # fmt: skip
        monkeypatch.setattr(module, name, big)
    np.testing.assert_array_equal(spec.pixels(images), small)


def test_script_trains_from_the_verifier_then_evaluates_with_the_spec(data, tmp_path, capsys) -> None:
    out = tmp_path / "r.pt"
    spec = f"{data['loc']}+{data['ver']}"
    common = ["--train", str(data["train"]), "--val", str(data["val"]), "--epochs", "1",
              "--batch-size", "16", "--width", "4", "--crop", "16", "--max-jitter-px", "4",
              "--no-progress"]  # fmt: skip
    assert train_script.main(["--localizer", spec, "--out", str(out), *common]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "px mean" in printed
    r = load_refiner(out)
    assert r.meta["init"] == "verifier" and r.meta["train_roots"] == [str(data["train"])]
    assert evaluate_script.main(["--model", f"{spec}+{out}", "--data", str(data["val"]),
                                 "--json", "--camera", "recorded", "--plot-dir", str(tmp_path)]) == 0  # fmt: skip
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["n"] == 16 and np.isfinite(row["mean_cm"])
    scratch = tmp_path / "scratch.pt"
    assert train_script.main(["--localizer", spec, "--out", str(scratch), "--from-scratch",
                              *common]) == 0  # fmt: skip
    assert load_refiner(scratch).meta["init"] is None
    assert not torch.equal(load_refiner(scratch).model.head.weight, r.model.head.weight)


def test_bad_specs_and_inputs_say_what_is_wrong(data, tmp_path, capsys) -> None:
    loc = load_localizer_spec(data["loc"])
    refiner = train_refiner(loc, load_data(data["train"], "cube"), load_data(data["val"], "cube"),
                            replace(TINY, epochs=1), localizer_name="loc.pt", progress=False)  # fmt: skip
    r = save_refiner(refiner, tmp_path / "r.pt")
    with pytest.raises(ValueError, match=r"names 2 refiners"):
        load_localizer_spec(f"{data['loc']}+{r}+{r}")
    with pytest.raises(ValueError, match=r"names a refiner but no localizer"):
        load_localizer_spec(str(r))
    save_refiner(replace(refiner, meta={**refiner.meta, "object": "ball"}), tmp_path / "ball.pt")
    with pytest.raises(ValueError, match=r"ball.pt' refines the object 'ball'; .*loc.pt' has 'cube'"):
        load_localizer_spec(f"{data['loc']}+{tmp_path / 'ball.pt'}")
    common = ["--val", str(data["val"]), "--out", str(tmp_path / "w.pt"), "--no-progress",
              "--crop", "16", "--max-jitter-px", "4"]  # fmt: skip
    assert train_script.main(["--localizer", f"{data['loc']}+{r}", "--train",
                              str(data["train"]), *common]) == 2  # fmt: skip
    assert "already holds a refiner" in capsys.readouterr().err
    assert verifier_script.main(["--localizer", f"{data['loc']}+{r}", "--train",
                                 str(data["train"]), *common[:4]]) == 2  # fmt: skip
    assert "already holds a refiner" in capsys.readouterr().err
    assert train_script.main(["--localizer", f"{data['loc']}+{data['ver']}", "--train",
                              str(data["train"]), "--width", "8", *common]) == 2  # fmt: skip
    assert "the spec's verifier has width 4, this refiner 8: give --width 4 or --from-scratch" \
        in capsys.readouterr().err
    assert train_script.main(["--localizer", str(data["loc"]), "--train", str(data["big"]),
                              *common]) == 2  # fmt: skip
    assert "trained on 32 px images" in capsys.readouterr().err
    assert train_script.main(["--localizer", str(data["loc"]), "--train", str(data["train"]),
                              *common[:-2], "--max-jitter-px", "9"]) == 2  # fmt: skip
    assert "must stay below half the crop (8 px)" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    torch.save({"format": "domrand-refiner", "version": 1, "config": {"crop": 3}}, bad)
    with pytest.raises(ValueError, match=r"bad.pt' is a damaged refiner checkpoint"):
        load_localizer_spec(f"{data['loc']}+{bad}")
    assert not (tmp_path / "w.pt").exists()


def test_the_verifiers_validation_picks_stand_in_only_for_the_same_images_and_network(
        data: dict[str, Path]) -> None:  # fmt: skip
    """A refiner validates from the verifier's picks unmoved by its offset: those the
    verifier made while choosing its settings are the very same numbers, reused on its
    validation images and network, recomputed on any others."""
    from agents.perception.verifier_training import validation_picks

    loc = load_localizer_spec(f"{data['loc']}+{data['ver']}")
    val, train = load_data(data["val"], "cube"), load_data(data["train"], "cube")
    stored = validation_picks(loc, val.images)
    assert stored is not None and stored.shape == (len(val), 2)
    np.testing.assert_array_equal(stored, without_offset(loc).pixels(val.images))
    assert validation_picks(loc, train.images) is None  # other images
    other = load_localizer_spec(f"{data['loc']}+{data['ver']}")
    with torch.no_grad():
        next(other.model.parameters()).add_(1.0)
    assert validation_picks(other, val.images) is None  # another network
    assert validation_picks(load_localizer_spec(str(data["loc"])), val.images) is None
