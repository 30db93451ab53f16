"""The candidate verifier: crop geometry, the re-ranking rule, deterministic training with
choices made on validation, checkpoints, the ``A.pt+V.pt`` spec and its refusals, and the
scripts end to end with a tiny budget."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.perception.ensemble import load_localizer_spec
from agents.perception.flip_average import FlipAveraged
from agents.perception.heatmap_net import HeatmapNet
from agents.perception.localizer import (
    INFERENCE_BATCH,
    LocalizerConfig,
    heatmap_peaks,
    load_data,
    save_localizer,
    window_soft_argmax,
)
from agents.perception.localizer_training import train_localizer
from agents.perception.shift_average import ShiftAveraged
from agents.perception.verifier import (
    CropNet,
    VerifiedLocalizer,
    Verifier,
    VerifierConfig,
    averaged,
    batch_peaks,
    crops,
    load_verifier,
    mirror_crops,
    pad_images,
    save_verifier,
    select,
)
from agents.perception.verifier_training import (
    ALPHAS,
    PEAKS,
    SeenInputs,
    mine_candidates,
    mine_variants,
    train_verifier,
)
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from scripts import evaluate_localizer as evaluate_script
from scripts import train_verifier as train_script

TINY = VerifierConfig(epochs=2, batch_size=16, width=4, crop=16, k=3, seed=5)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("verifier")
    out = {}
    for name, preset, n, seed, size in (("train", "tobin", 48, 0, 32), ("val", "tobin", 16, 1, 32),
                                        ("big", "tobin", 4, 3, 48)):  # fmt: skip
        out[name] = export_dataset(
            ExportConfig(env_id="domrand/Lift-v0", preset=preset, num_images=n, size=size,
                         out=str(root / name), seed=seed, visibility=False),
            progress=False,
        )  # fmt: skip
    loc = train_localizer(load_data(out["train"], "cube"), None,
                          LocalizerConfig(epochs=1, batch_size=16, width=4, seed=3),
                          env_id="domrand/Lift-v0", progress=False)  # fmt: skip
    out["loc"] = save_localizer(loc, root / "loc.pt")
    return out


def test_crops_are_centred_on_the_rounded_pixel_and_zero_padded() -> None:
    images = torch.zeros(2, 3, 10, 10, dtype=torch.uint8)
    images[0, :, 3, 7] = 200  # row v=3, column u=7
    images[1, 1, 0, 0] = 99
    x, c = crops(pad_images(images, 4), torch.tensor([0, 1, 1]),
                 np.array([[7.4, 3.2], [0.0, 0.0], [9.6, 9.6]]), 4)  # fmt: skip
    assert x.dtype == torch.uint8 and x.shape == (3, 3, 4, 4)
    np.testing.assert_array_equal(c, [[7, 3], [0, 0], [10, 10]])
    # a crop covers [c - 2, c + 2): the marked pixel sits at index 2 of both axes
    assert x[0, :, 2, 2].tolist() == [200, 200, 200] and int(x[0].sum()) == 600
    assert x[1, 1, 2, 2] == 99 and int(x[1, :, :2].sum()) == 0  # outside the image: zeros
    assert int(x[2].sum()) == 0  # a crop past the corner holds only padding


@pytest.mark.parametrize("centre_u", [27, 30, 33])
def test_mirrored_crops_keep_the_offset_to_the_object(centre_u: int) -> None:
    """The object sits at crop // 2 + offset in a crop and in its mirror image, whose centre
    pixel moves one column left (the label of a mirrored training crop)."""
    images = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)
    images[0, :, 20, 30] = 255  # row v=20, column u=30
    x, c = crops(pad_images(images, 32), torch.tensor([0]), np.array([[centre_u, 22.0]]), 32)
    offset = torch.tensor([[30.0, 20.0]]) - torch.as_tensor(c, dtype=torch.float32)
    for patch, off in ((x, offset), mirror_crops(x, offset)):
        row, col = np.argwhere(patch[0, 0].numpy() == 255)[0]
        assert (col, row) == (16 + off[0, 0].item(), 16 + off[0, 1].item())
    assert mirror_crops(x, offset)[1][0].tolist() == [-1.0 - offset[0, 0].item(), -2.0]


def test_select_combines_scores_skips_missing_peaks_and_refines() -> None:
    cands = np.array([[[5.0, 5.0], [20.2, 9.7], [30.0, 30.0]]])
    out = np.array([[[0.0, 0.0, 0.0], [1.5, 0.5, -1.0], [9.0, 0.0, 0.0]]])
    logp = np.array([[-0.1, -2.0, -np.inf]])  # the third peak does not exist
    np.testing.assert_array_equal(select(cands, logp, out, 0.0, False), [[20.2, 9.7]])
    # alpha 1: 0 - 0.1 beats 1.5 - 2.0
    np.testing.assert_array_equal(select(cands, logp, out, 1.0, False), [[5.0, 5.0]])
    np.testing.assert_allclose(select(cands, logp, out, 0.5, True), [[20.5, 9.0]])


def test_shared_scores_equal_each_sets_own_scores_bit_for_bit() -> None:
    """Candidate sets of the same images score every distinct crop once (the averaging
    variants mostly round to the same pixels): each set's outputs are its own scores', bit
    for bit, in its own order, duplicates and crops beyond the border included."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=gen)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        verifier = Verifier(CropNet(8).eval(), VerifierConfig(width=8, crop=16), {})
    rng = np.random.default_rng(0)
    first = rng.uniform(-3, 35, (40, 5, 2))
    second = np.rint(first) + rng.uniform(-0.4, 0.4, first.shape)  # the same rounded pixels
    second[:, 3:] = rng.uniform(0, 32, (40, 2, 2))  # and others
    third = first[:, ::-1].copy()
    shared = verifier.shared_scores(images, [first, second, third])
    for got, cands in zip(shared, (first, second, third), strict=True):
        assert got.shape == (40, 5, 3) and got.dtype == np.float64
        np.testing.assert_array_equal(got, verifier.scores(images, cands))
    np.testing.assert_array_equal(shared[0][:, :3], shared[1][:, :3])


def test_peaks_of_a_batch_are_each_heatmaps_own_strongest_maxima() -> None:
    """All heatmaps of a batch at once: per heatmap, its local maxima by log-probability
    (equal ones in row-major order), refined by the windowed soft-argmax, -inf padded."""
    logits = torch.randn(6, 8, 8, generator=torch.Generator().manual_seed(0)) * 3
    logits[4] = 0.0  # flat: every cell is a maximum of the same log-probability
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    logits[5] = -((yy - 3) ** 2 + (xx - 3) ** 2)  # one maximum only, at cell (3, 3)
    cands, logp = batch_peaks(logits, 5, stride=4)
    assert cands.shape == (6, 5, 2) and logp.shape == (6, 5)
    for i in range(4):
        log_p = torch.log_softmax(logits[i].reshape(-1), 0).reshape(8, 8)
        pooled = torch.nn.functional.max_pool2d(log_p[None, None], 5, 1, 2)[0, 0]
        maxima = sorted(((float(log_p[y, x]), y, x) for y in range(8) for x in range(8)
                         if log_p[y, x] >= pooled[y, x]), reverse=True)[:5]  # fmt: skip
        got = np.isfinite(logp[i])
        assert got.sum() == min(5, len(maxima))
        np.testing.assert_allclose(logp[i, got], [m[0] for m in maxima], rtol=1e-6)
        cy, cx = torch.tensor([m[1] for m in maxima]), torch.tensor([m[2] for m in maxima])
        cells = window_soft_argmax(log_p[None].expand(len(maxima), 8, 8), cy, cx)
        np.testing.assert_allclose(cands[i, got], cells.numpy() * 4, rtol=1e-6)
        one_cells, one_logp = heatmap_peaks(logits[i], 5)  # one heatmap: the same bits
        assert np.array_equal(one_logp.numpy(), logp[i, got])
        assert np.array_equal(one_cells.numpy() * 4, cands[i, got])
    flat = batch_peaks(logits[4:5], 3, stride=1)[0][0]
    # row-major: cells (0, 0), (0, 1), (0, 2), each its edge-clipped window's centre
    np.testing.assert_allclose(flat, [[1.5, 1.5], [2.0, 1.5], [2.5, 1.5]], atol=1e-5)
    assert np.isfinite(logp[5]).sum() == 1 and np.all(cands[5, 1:] == 0)
    np.testing.assert_allclose(cands[5, 0], [3.5 * 4, 3.5 * 4], atol=1e-4)  # a symmetric window


def test_averaged_wraps_the_heatmap_in_the_chosen_test_time_views() -> None:
    net = HeatmapNet(4, 2).train()
    assert averaged(net, False, False) is net
    flip, shift, both = averaged(net, True, False), averaged(net, False, True), averaged(net, True, True)
    assert isinstance(flip, FlipAveraged) and flip.model is net
    assert isinstance(shift, ShiftAveraged) and shift.model is net
    assert isinstance(both, FlipAveraged) and isinstance(both.model, ShiftAveraged)
    assert not net.training  # test-time views read the network in eval mode
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert both(x).shape == shift(x).shape == (2, 8, 8)


def test_the_four_averaging_settings_share_eight_forward_passes_per_batch(data) -> None:
    loc = load_localizer_spec(str(data["loc"]))
    val = load_data(data["train"], "cube")  # 48 images: two inference batches (32 + 16)
    calls = []
    net = loc.model
    hook = net.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    variants = ((False, False), (True, False), (False, True), (True, True))
    seen = SeenInputs(net.eval())
    together = mine_variants([averaged(seen, f, s) for f, s in variants], val, 5)
    batches = -(-len(val) // INFERENCE_BATCH)
    assert batches == 2 and len(calls) == 8 * batches  # x, xf and three shifts of each
    assert not seen.seen  # then forgotten
    mine_variants([averaged(seen, True, True)], val, 5)  # only wrapped: still forgotten
    assert not seen.seen
    hook.remove()
    for (flip, shift), (cands, logp) in zip(variants, together, strict=True):
        alone = mine_candidates(replace(loc, model=averaged(loc.model, flip, shift)), val, 5)
        assert np.array_equal(cands, alone[0]) and np.array_equal(logp, alone[1])  # same bytes


def test_training_is_deterministic_chooses_on_validation_and_round_trips(data, tmp_path) -> None:
    loc = load_localizer_spec(data["loc"])
    train, val = load_data(data["train"], "cube"), load_data(data["val"], "cube")
    before = torch.get_rng_state()
    a = train_verifier(loc, train, val, TINY, localizer_name="loc.pt", progress=False)
    b = train_verifier(loc, train, val, TINY, localizer_name="loc.pt", progress=False)
    assert torch.equal(torch.get_rng_state(), before)  # seeded through generators only
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    m = a.meta
    best = int(np.argmin([r["val_px_mean"] for r in a.history])) + 1
    assert m["selected_epoch"] == best and [r["epoch"] for r in a.history] == [1, 2]
    assert m["alpha"] in ALPHAS and isinstance(m["refine"], bool) and m["peaks"] in PEAKS
    assert isinstance(m["flip"], bool) and a.flip == m["flip"] and a.peaks == m["peaks"]
    assert isinstance(m["shift"], bool) and a.shift == m["shift"]
    assert len(m["val_trials"]) == 2 * len(ALPHAS) * len(PEAKS) * 2 * 2
    assert {(t["flip"], t["shift"]) for t in m["val_trials"]} == {
        (False, False), (True, False), (False, True), (True, True)}
    assert m["val_with"]["px_mean"] == min(t["px_mean"] for t in m["val_trials"])
    assert set(m["val_without"]) == {"px_mean", "px_median", "miss"}
    assert (m["object"], m["image_size"], m["env_id"]) == ("cube", 32, "domrand/Lift-v0")
    assert 0 < m["positive_share"] < 1 and m["num_train"] == 48
    path = save_verifier(a, tmp_path / "v.pt")
    back = load_verifier(path)
    assert back.meta == m and back.config == TINY
    combined = load_localizer_spec(f"{data['loc']}+{path}")
    assert isinstance(combined, VerifiedLocalizer) and combined.meta["verifier"] == str(path)
    pixels = combined.pixels(val.images)
    assert pixels.shape == (16, 2) and np.isfinite(pixels).all()
    cand, score = combined.peaks(val.images[:1], k=3)
    assert cand.shape[1] == 2 and len(cand) == len(score) and (np.diff(score) <= 0).all()


def test_scripts_train_then_evaluate_with_the_spec(data, tmp_path, capsys) -> None:
    out = tmp_path / "v.pt"
    assert train_script.main(["--localizer", str(data["loc"]), "--train", str(data["train"]),
                              "--val", str(data["val"]), "--out", str(out), "--epochs", "1",
                              "--batch-size", "16", "--width", "4", "--crop", "16",
                              "--offset-weight", "0.5", "--no-progress"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "look-alike wins" in printed
    assert load_verifier(out).config.offset_weight == 0.5
    spec = f"{data['loc']}+{out}"
    assert evaluate_script.main(["--model", spec, "--data", str(data["val"]), "--json",
                                 "--camera", "recorded", "--plot-dir", str(tmp_path)]) == 0  # fmt: skip
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["n"] == 16 and np.isfinite(row["mean_cm"])
    # a fine-tune starts from the first one's weights; another width cannot
    tiny = ["--localizer", str(data["loc"]), "--train", str(data["train"]), "--val",
            str(data["val"]), "--epochs", "1", "--batch-size", "16", "--crop", "16",
            "--no-progress", "--init", str(out)]  # fmt: skip
    assert train_script.main([*tiny, "--width", "4", "--out", str(tmp_path / "ft.pt"),
                              "--precision", "bf16"]) == 0  # fmt: skip
    tuned = load_verifier(tmp_path / "ft.pt")
    assert tuned.meta["init"] == str(out) and tuned.config.precision == "bf16"
    assert train_script.main([*tiny, "--width", "8", "--out", str(tmp_path / "w8.pt")]) == 2
    assert "cannot start from a verifier with (width, crop) (4, 16)" in capsys.readouterr().err
    assert not (tmp_path / "w8.pt").exists()
    # several validation sets are joined, and recorded
    two = tmp_path / "two_val.pt"
    assert train_script.main(["--localizer", str(data["loc"]), "--train", str(data["train"]),
                              "--val", str(data["val"]), str(data["train"]), "--out", str(two),
                              "--epochs", "1", "--batch-size", "16", "--width", "4", "--crop",
                              "16", "--no-progress"]) == 0  # fmt: skip
    assert load_verifier(two).meta["val_roots"] == [str(data["val"]), str(data["train"])]
    assert f"validation ({data['val']}, {data['train']})" in capsys.readouterr().out
    # --settings-only keeps the weights and chooses the inference settings again
    redo = tmp_path / "redo.pt"
    assert train_script.main(["--localizer", str(data["loc"]), "--init", str(out),
                              "--settings-only", "--val", str(data["train"]), "--out",
                              str(redo)]) == 0  # fmt: skip
    first, again = load_verifier(out), load_verifier(redo)
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k]), k
    assert again.meta["val_roots"] == [str(data["train"])] and "peaks" in again.meta
    assert len(again.meta["val_trials"]) == 2 * len(ALPHAS) * len(PEAKS) * 2 * 2
    assert "flip" in capsys.readouterr().out
    for argv, says in ((["--settings-only"], "give it as --init"),
                       ([], "--train DIR is required")):  # fmt: skip
        assert train_script.main(["--localizer", str(data["loc"]), "--val", str(data["val"]),
                                  "--out", str(tmp_path / "no.pt"), *argv]) == 2  # fmt: skip
        assert says in capsys.readouterr().err
    assert not (tmp_path / "no.pt").exists()


def test_bad_specs_and_inputs_say_what_is_wrong(data, tmp_path, capsys) -> None:
    loc = load_localizer_spec(data["loc"])
    verifier = train_verifier(loc, load_data(data["train"], "cube"), load_data(data["val"], "cube"),
                              replace(TINY, epochs=1), localizer_name="loc.pt", progress=False)  # fmt: skip
    v = save_verifier(verifier, tmp_path / "v.pt")
    with pytest.raises(ValueError, match=r"names 2 verifiers"):
        load_localizer_spec(f"{data['loc']}+{v}+{v}")
    with pytest.raises(ValueError, match=r"names a verifier but no localizer"):
        load_localizer_spec(f"{v}+{v}".replace(f"+{v}", "", 1))
    other = replace(verifier, meta={**verifier.meta, "image_size": 48})
    save_verifier(other, tmp_path / "v48.pt")
    with pytest.raises(ValueError, match=r"v48.pt' verifies the image size 48; .*loc.pt' has 32"):
        load_localizer_spec(f"{data['loc']}+{tmp_path / 'v48.pt'}")
    # training: a spec that already verifies, and data of another size, are refused
    common = ["--val", str(data["val"]), "--out", str(tmp_path / "w.pt"), "--no-progress"]
    assert train_script.main(["--localizer", f"{data['loc']}+{v}", "--train",
                              str(data["train"]), *common]) == 2  # fmt: skip
    assert "already holds a verifier" in capsys.readouterr().err
    assert train_script.main(["--localizer", str(data["loc"]), "--train", str(data["big"]),
                              *common]) == 2  # fmt: skip
    assert "trained on 32 px images" in capsys.readouterr().err
    assert train_script.main(["--localizer", str(data["loc"]), "--train", str(data["train"]),
                              "--offset-weight", "-1", *common]) == 2  # fmt: skip
    assert "offset_weight must be finite and >= 0, got -1.0" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    torch.save({"format": "domrand-verifier", "version": 1, "config": {"k": 0}}, bad)
    with pytest.raises(ValueError, match=r"bad.pt' is a damaged verifier checkpoint"):
        load_localizer_spec(f"{data['loc']}+{bad}")
    assert not (tmp_path / "w.pt").exists()


@pytest.mark.parametrize(("names", "flip", "peaks"), [
    (("lift_cube128_crowded.pt", "lift_cube128_pool_v2.pt", "lift_cube128_verifier.pt"),
     False, 3),
    (("lift_cube128_photos.pt", "lift_cube128_pool_photos.pt",
      "lift_cube128_verifier_photos.pt"), False, 3),
    (("lift_cube128_photos_mirror.pt", "lift_cube128_pool_photos_mirror.pt",
      "lift_cube128_verifier_photos_mirror.pt"), True, 5),
    (("lift_cube128_photoocl.pt", "lift_cube128_pool_photoocl.pt",
      "lift_cube128_verifier_photoocl.pt"), True, 5),
    (("lift_cube128_photoocl_v2.pt", "lift_cube128_pool_photoocl_v2.pt",
      "lift_cube128_verifier_photoocl_v2.pt"), True, 3),
    (("lift_cube128_photobank.pt", "lift_cube128_pool_photobank.pt",
      "lift_cube128_verifier_photobank.pt"), True, 3),
], ids=["crowded", "photos", "mirror", "photoocl", "photoocl_v2", "photobank"])  # fmt: skip
def test_the_shipped_verifier_joins_its_pair(names: tuple[str, str, str], flip: bool,
                                            peaks: int) -> None:
    """Each shipped verifier joins the README's pair it was trained on as one verified
    localizer, with the settings chosen on validation (mirror averaging and peaks: those
    chosen since mirroring; older checkpoints keep no mirror and their training 3)."""
    models = Path(__file__).resolve().parents[2] / "assets" / "models"
    loc = load_localizer_spec("+".join(str(models / n) for n in names))
    assert isinstance(loc, VerifiedLocalizer) and loc.verifier is not None
    assert loc.image_size == 128 and len(loc.meta["ensemble"]) == 2
    assert loc.verifier.config.k == 3 and loc.verifier.meta["refine"] is True
    assert loc.verifier.meta["val_with"]["px_mean"] < loc.verifier.meta["val_without"]["px_mean"]
    pixels = loc.pixels(torch.zeros(2, 3, 128, 128, dtype=torch.uint8))
    assert pixels.shape == (2, 2) and np.isfinite(pixels).all()
    assert loc.verifier.flip is flip and loc.verifier.peaks == peaks
    assert isinstance(loc.model, FlipAveraged) is flip
    assert loc.verifier.shift is False  # chosen before shift averaging existed
