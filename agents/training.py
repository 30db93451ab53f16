"""The one supervised fit loop of :mod:`agents`: every torch model that learns from labelled
data (the localizer, the pose regressor, DAgger's network and action head, behaviour
cloning) supplies its data size and a loss ``(batch indices, generator) -> loss``; the loop
owns epochs or steps, the minibatches, the optimizer and its schedule, validation with
best-epoch selection, progress and determinism.

Determinism: batches and any augmentation the loss draws come from one explicit
``torch.Generator``; weight initialization runs under :func:`seeded`, which restores
torch's global random state afterwards. The same seed gives the same weights and no call
here changes the global state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LRScheduler, OneCycleLR
from tqdm import tqdm

LossOutput = torch.Tensor | tuple[torch.Tensor, Mapping[str, torch.Tensor]]
"""the loss to minimize, optionally with named parts to log (averaged like the loss)"""
LossFn = Callable[[torch.Tensor, torch.Generator], LossOutput]
"""(indices of the batch's samples, the loop's generator for augmentation) -> loss"""
Schedule = Callable[[torch.optim.Optimizer, int], LRScheduler]
"""(optimizer, total optimizer steps) -> a scheduler stepped after every update"""


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global generator for the block (weight initialization, which takes no
    generator) and restore its previous state on exit."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


PRECISIONS = ("fp32", "bf16")
"""number formats of a network's forward pass in training (:func:`forward_precision`)"""


def check_precision(precision: object) -> None:
    """Refuse an unknown precision, naming the allowed ones."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def forward_precision(precision: str) -> AbstractContextManager[None]:
    """The number format of a forward pass: ``"bf16"`` runs convolutions and matrix products
    in bfloat16 under CPU autocast (weights, gradients and the optimizer stay float32; about
    2x faster training where the CPU has AMX or AVX-512 BF16, slower where it emulates
    them), ``"fp32"`` changes nothing. Compute losses on ``out.float()`` outside the block."""
    check_precision(precision)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


@dataclass(frozen=True)
class FitConfig:
    """How :func:`fit` draws batches and updates."""

    batch_size: int
    epochs: int = 1
    steps: int | None = None
    """None: an epoch is one shuffled pass over the data; an int: an epoch is this many
    batches drawn uniformly with replacement"""
    drop_last: bool = False
    """shuffled passes only: skip the last batch when it is smaller than ``batch_size``"""
    lr: float = 1e-3
    """of the AdamW optimizer :func:`fit` makes when it is given none"""
    weight_decay: float = 1e-4
    desc: str = "train"
    """progress-bar label"""
    leave: bool = True
    """keep the progress bar on screen when done"""

    def __post_init__(self) -> None:
        for key in ("batch_size", "epochs"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        if self.steps is not None and (isinstance(self.steps, bool) or self.steps < 1):
            raise ValueError(f"steps must be None or an int >= 1, got {self.steps!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")

    def batches_per_epoch(self, n: int) -> int:
        """Optimizer steps in one epoch over ``n`` samples."""
        if self.steps is not None:
            return self.steps
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def one_cycle(max_lr: float, pct_start: float = 0.3) -> Schedule:
    """:class:`torch.optim.lr_scheduler.OneCycleLR` over the whole fit."""
    return lambda opt, total: OneCycleLR(opt, max_lr=max_lr, total_steps=total,
                                         pct_start=pct_start)  # fmt: skip


def cosine_annealing() -> Schedule:
    """:class:`torch.optim.lr_scheduler.CosineAnnealingLR` from the optimizer's rate to 0."""
    return lambda opt, total: CosineAnnealingLR(opt, total)


def cosine_decay(floor: float = 0.0) -> Schedule:
    """Half a cosine from the optimizer's rate down to ``floor`` times it, by formula (so a
    scheduler made anew on a reused optimizer starts from its first rate again)."""
    half = (1.0 - floor) / 2

    def make(opt: torch.optim.Optimizer, total: int) -> LRScheduler:
        return LambdaLR(opt, lambda step: floor + half * (1 + math.cos(math.pi * step / total)))

    return make


@dataclass
class BestState:
    """The best score offered so far and a copy of the weights that scored it."""

    mode: Literal["min", "max"] = "min"
    ties: Literal["first", "last"] = "first"
    """which of equal scores wins"""
    score: float | None = None
    tag: int | None = None
    """what the caller named the best offer (an epoch, an iteration)"""
    state: dict[str, torch.Tensor] | None = None

    def offer(self, score: float, model: nn.Module, tag: int) -> bool:
        """Keep ``model``'s weights if ``score`` beats the best so far; True if it did."""
        if self.score is not None:
            better = score < self.score if self.mode == "min" else score > self.score
            if not (better or (self.ties == "last" and score == self.score)):
                return False
        self.score, self.tag = score, tag
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    def restore(self, model: nn.Module) -> int | None:
        """Load the best weights into ``model``; the best offer's tag (None: no offer)."""
        if self.state is not None:
            model.load_state_dict(self.state)
        return self.tag


@dataclass
class FitResult:
    """One row per epoch (``epoch`` from 1, mean ``loss`` and parts per sample, ``seconds``
    of training, then the validation metrics), the selected epoch and the total time."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    seconds: float = 0.0


def _batches(n: int, config: FitConfig, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Index tensors of one epoch, drawn lazily so the loss's own draws interleave."""
    if config.steps is not None:
        for _ in range(config.steps):
            yield torch.randint(0, n, (config.batch_size,), generator=gen)
        return
    order = torch.randperm(n, generator=gen)
    for b in range(config.batches_per_epoch(n)):
        yield order[b * config.batch_size : (b + 1) * config.batch_size]


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    n: int,
    config: FitConfig,
    *,
    gen: torch.Generator,
    optimizer: torch.optim.Optimizer | None = None,
    schedule: Schedule | None = None,
    validate: Callable[[], Mapping[str, float]] | None = None,
    select: str | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    progress: bool = True,
) -> FitResult:
    """Minimize ``loss_fn`` over ``n`` samples; ``model`` is put in train mode for the
    updates and left in eval mode.

    ``optimizer``: None makes AdamW over ``model``'s parameters (``config.lr``,
    ``config.weight_decay``); pass one to continue its state across fits. ``validate`` runs
    after every epoch and its metrics join the epoch's row; with ``select``, the epoch with
    the lowest ``select`` metric (the first of equals) is restored at the end.
    """
    if n < 1 or (config.drop_last and config.steps is None and n < config.batch_size):
        raise ValueError(f"need at least {config.batch_size if config.drop_last else 1} "
                         f"samples to fit, got {n}")  # fmt: skip
    if select is not None and validate is None:
        raise ValueError(f"select={select!r} needs a validate callback")
    opt = optimizer or torch.optim.AdamW(model.parameters(), lr=config.lr,
                                         weight_decay=config.weight_decay)  # fmt: skip
    per_epoch = config.batches_per_epoch(n)
    sched = schedule(opt, config.epochs * per_epoch) if schedule is not None else None
    seen = per_epoch * config.batch_size if config.steps is not None else min(
        n, per_epoch * config.batch_size)  # fmt: skip
    result, best = FitResult(), BestState()
    start = time.perf_counter()
    bar = tqdm(total=config.epochs * seen, desc=config.desc, unit="img", unit_scale=True,
               leave=config.leave, disable=not progress)  # fmt: skip
    try:
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            totals: dict[str, float] = {}
            for idx in _batches(n, config, gen):
                out = loss_fn(idx, gen)
                loss, parts = (out, {}) if isinstance(out, torch.Tensor) else out
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                for key, value in {"loss": loss, **parts}.items():
                    totals[key] = totals.get(key, 0.0) + float(value.detach()) * len(idx)
                bar.update(len(idx))
            row: dict[str, float] = {"epoch": epoch}
            row |= {k: v / seen for k, v in totals.items()}
            row["seconds"] = time.perf_counter() - t0
            if validate is not None:
                row |= validate()
                if select is not None:
                    best.offer(row[select], model, epoch)
            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k not in ("epoch", "seconds")})
            result.history.append(row)
            if on_epoch is not None:
                on_epoch(row)
    finally:
        bar.close()
    result.best_epoch = best.restore(model)
    model.eval()
    result.seconds = time.perf_counter() - start
    return result
