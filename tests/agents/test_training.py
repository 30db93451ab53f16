"""The shared fit loop (agents.training): determinism without touching torch's global random
state, batch counts, per-sample loss means, schedules, best-epoch selection; and the pose
regressor trained through it leaves the global state alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from agents.perception.pose_data import PoseData
from agents.perception.pose_regressor import RegressorConfig, train_regressor
from agents.training import (
    BestState,
    FitConfig,
    LossOutput,
    cosine_decay,
    fit,
    forward_precision,
    one_cycle,
    seeded,
)

X = torch.linspace(-1, 1, 30)[:, None].repeat(1, 3)
Y = X @ torch.tensor([[0.5], [-1.0], [2.0]])


def _fit(seed: int, epochs: int = 3, **kwargs: object) -> tuple[nn.Linear, list[dict[str, float]]]:
    with seeded(seed):
        model = nn.Linear(3, 1)

    def loss_fn(idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        noise = 0.1 * torch.randn(len(idx), 3, generator=gen)  # augmentation: the loop's generator
        return nn.functional.mse_loss(model(X[idx] + noise), Y[idx])

    done = fit(model, loss_fn, len(X), FitConfig(batch_size=8, epochs=epochs, lr=0.05),
               gen=torch.Generator().manual_seed(seed), progress=False, **kwargs)  # type: ignore[arg-type]  # fmt: skip
    return model, done.history


def test_same_seed_same_weights_and_the_global_state_is_untouched() -> None:
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    a, history = _fit(0)
    b, _ = _fit(0)
    c, _ = _fit(1)
    assert torch.equal(torch.get_rng_state(), before)
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(torch.equal(p, q) for p, q in pairs)
    assert not torch.equal(a.weight, c.weight)
    assert [r["epoch"] for r in history] == [1, 2, 3] and history[-1]["loss"] < history[0]["loss"]
    assert not a.training  # left in eval mode


def _scalar() -> tuple[nn.Module, nn.Parameter]:
    """A module holding one scalar parameter, for losses that ignore the data."""
    holder = nn.Module()
    holder.w = nn.Parameter(torch.zeros(()))
    return holder, holder.w


def test_batches_per_epoch() -> None:
    assert FitConfig(batch_size=4).batches_per_epoch(10) == 3  # the short last batch is kept
    assert FitConfig(batch_size=4, drop_last=True).batches_per_epoch(10) == 2
    assert FitConfig(batch_size=4, steps=7).batches_per_epoch(10) == 7
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        FitConfig(batch_size=0)
    with pytest.raises(ValueError, match="steps must be None or an int >= 1, got 0"):
        FitConfig(batch_size=1, steps=0)


@pytest.mark.parametrize(("drop_last", "steps", "batches", "samples"),
                         [(False, None, 3, 10), (True, None, 2, 8), (False, 5, 5, 20)])  # fmt: skip
def test_each_row_is_the_per_sample_mean_over_the_batches_drawn(
    drop_last: bool, steps: int | None, batches: int, samples: int
) -> None:
    value = torch.arange(10, dtype=torch.float32)
    holder, w = _scalar()
    seen: list[torch.Tensor] = []

    def loss_fn(idx: torch.Tensor, _: torch.Generator) -> LossOutput:
        seen.append(idx)
        return value[idx].mean() + 0 * w, {"double": 2 * value[idx].mean()}

    done = fit(holder, loss_fn, 10, FitConfig(batch_size=4, drop_last=drop_last, steps=steps),
               gen=torch.Generator().manual_seed(0), progress=False)  # fmt: skip
    drawn = torch.cat(seen)
    assert len(seen) == batches and len(drawn) == samples
    if steps is None:  # one shuffled pass: no sample twice
        assert len(set(drawn.tolist())) == samples
    row = done.history[0]
    assert row["loss"] == pytest.approx(float(value[drawn].mean()))
    assert row["double"] == pytest.approx(2 * row["loss"])


def test_validation_selects_the_best_epoch_and_restores_its_weights() -> None:
    model = nn.Linear(3, 1)
    scores = iter([3.0, 1.0, 1.0, 2.0])  # epoch 2 is best; epoch 3 only ties it
    snapshots: list[torch.Tensor] = []

    def loss_fn(idx: torch.Tensor, _: torch.Generator) -> torch.Tensor:
        return nn.functional.mse_loss(model(X[idx]), Y[idx])

    done = fit(model, loss_fn, len(X), FitConfig(batch_size=8, epochs=4, lr=0.05),
               gen=torch.Generator().manual_seed(0), validate=lambda: {"score": next(scores)},
               select="score", on_epoch=lambda _: snapshots.append(model.weight.detach().clone()),
               progress=False)  # fmt: skip
    assert [r["score"] for r in done.history] == [3.0, 1.0, 1.0, 2.0] and done.best_epoch == 2
    assert torch.equal(model.weight, snapshots[1]) and not torch.equal(snapshots[1], snapshots[3])


def test_best_state_modes_and_ties() -> None:
    model = nn.Linear(1, 1)
    low = BestState()
    offers = [low.offer(s, model, i) for i, s in enumerate([2.0, 1.0, 1.0, 3.0])]
    assert offers == [True, True, False, False]
    assert low.tag == 1
    high = BestState(mode="max", ties="last")
    assert [high.offer(s, model, i) for i, s in enumerate([0.5, 0.5, 0.2])] == [True, True, False]
    assert high.tag == 1 and high.restore(model) == 1
    assert BestState().restore(model) is None
    with pytest.raises(ValueError, match="select='score' needs a validate callback"):
        _fit(0, select="score")


def test_cosine_decay_restarts_on_a_reused_optimizer() -> None:
    holder, w = _scalar()
    opt = torch.optim.SGD([w], lr=0.2)
    lrs: list[float] = []

    def loss_fn(idx: torch.Tensor, _: torch.Generator) -> torch.Tensor:
        lrs.append(opt.param_groups[0]["lr"])
        return w * 0.0 + w.square()

    for _ in range(2):
        fit(holder, loss_fn, 4, FitConfig(batch_size=2, steps=4), gen=torch.Generator(),
            optimizer=opt, schedule=cosine_decay(0.1), progress=False)  # fmt: skip
    want = [0.2 * (0.1 + 0.45 * (1 + math.cos(math.pi * s / 4))) for s in range(4)]
    assert lrs == want + want


def test_one_cycle_peaks_at_max_lr() -> None:
    lrs: list[float] = []
    holder, w = _scalar()
    opt = torch.optim.AdamW([w], lr=1.0)

    def loss_fn(idx: torch.Tensor, _: torch.Generator) -> torch.Tensor:
        lrs.append(opt.param_groups[0]["lr"])
        return w.square()

    fit(holder, loss_fn, 10, FitConfig(batch_size=1, epochs=2), gen=torch.Generator(),
        optimizer=opt, schedule=one_cycle(0.3, pct_start=0.25), progress=False)  # fmt: skip
    assert len(lrs) == 20 and max(lrs) == pytest.approx(0.3) and lrs[0] == pytest.approx(0.3 / 25)
    assert int(np.argmax(lrs)) == round(0.25 * 20) - 1


def test_regressor_training_leaves_the_global_state_alone() -> None:
    g = torch.Generator().manual_seed(0)
    data = PoseData(images=(torch.rand(12, 3, 32, 32, generator=g) * 255).to(torch.uint8),
                    targets=torch.rand(12, 3, generator=g), visible_fraction=np.ones(12),
                    root="memory", manifest={}, pixels=torch.rand(12, 2, generator=g) * 2 - 1)  # fmt: skip
    threads = torch.get_num_threads()
    before = torch.get_rng_state()
    config = RegressorConfig(epochs=1, batch_size=8, width=4, seed=2, threads=1)
    a = train_regressor(data, data, config, progress=False)
    b = train_regressor(data, data, config, progress=False)
    assert torch.equal(torch.get_rng_state(), before) and torch.get_num_threads() == threads
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert len(a.train_loss) == 1 and len(a.val_error_cm) == 1 and a.val_error_cm[0] > 0


def test_bf16_forward_passes_round_near_fp32_and_leave_the_weights_float32() -> None:
    with seeded(0):
        conv = nn.Conv2d(3, 8, 3)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with forward_precision("fp32"):
        exact = conv(x)
    with forward_precision("bf16"):
        rounded = conv(x)
    assert exact.dtype == torch.float32 and rounded.dtype == torch.bfloat16
    assert not torch.equal(rounded.float(), exact)  # it did run in bfloat16
    np.testing.assert_allclose(rounded.detach().float().numpy(), exact.detach().numpy(), atol=0.05)
    rounded.float().square().mean().backward()
    assert conv.weight.dtype == conv.weight.grad.dtype == torch.float32  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, got 'fp16'"):
        forward_precision("fp16")
