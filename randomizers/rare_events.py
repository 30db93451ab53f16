"""Rare-event balancing in randomization-parameter space, with re-simulation.

Episodes are labelled by whether an event happened; their params are encoded through the
declared parameter spaces; imbalanced-learn's SMOTE (SMOTE-NC when some params are
categorical, SMOTEN when all are) proposes new params between rare-event episodes; the
proposals are decoded back into the declared space and *re-simulated*, so every added
sample is a real episode labelled by what actually happened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from randomizers.compose import Compose
from randomizers.spaces import decode, encode

METHODS = ("auto", "smote", "borderline")


def _imblearn() -> Any:
    try:
        import imblearn.over_sampling as over
    except ImportError:
        raise ImportError(
            "rare-event balancing needs imbalanced-learn: pip install -e '.[balance]'"
        ) from None
    return over


@dataclass
class Proposals:
    """SMOTE's proposed params (decoded, valid) and what was fitted."""

    params: list[dict[str, Any]]
    n_rare: int
    n_total: int
    method: str
    vectors: np.ndarray = field(repr=False)


def propose(
    compose: Compose,
    params: Sequence[Mapping[str, Any]],
    labels: np.ndarray,
    n_proposals: int,
    *,
    k_neighbors: int = 5,
    seed: int = 0,
    method: str = "auto",
    event: str = "the event",
) -> Proposals:
    """New params near the rare-event ones (label 1), decoded into the declared space.

    ``method``: ``auto`` (SMOTE, SMOTE-NC or SMOTEN by the param kinds) or ``borderline``
    (Borderline-SMOTE; continuous params only).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if n_proposals < 1:
        raise ValueError(f"n_proposals must be >= 1, got {n_proposals}")
    labels = np.asarray(labels, dtype=int)
    n_rare = int(labels.sum())
    if n_rare < k_neighbors + 1:
        raise ValueError(
            f"found {n_rare} episodes with {event} out of {len(labels)}; SMOTE needs at least "
            f"k_neighbors + 1 = {k_neighbors + 1}. Run more rollouts or lower k_neighbors."
        )
    if n_rare == len(labels):
        raise ValueError(f"every one of the {len(labels)} episodes had {event}; nothing to balance")
    specs = compose.space()
    if not specs:
        raise ValueError("the preset has no parameters to balance; use a preset that randomizes")
    X = np.stack([encode(specs, compose.flatten(p)) for p in params])
    # one column per encoded number; categorical params occupy one column each
    categorical: list[int] = []
    col = 0
    for s in specs:
        if s.kind == "categorical":
            categorical.append(col)
            col += 1
        else:
            col += s.size
    over = _imblearn()
    strategy = {1: n_rare + n_proposals}
    if method == "borderline":
        if categorical:
            raise ValueError("Borderline-SMOTE needs continuous params only; use method='auto'")
        sampler = over.BorderlineSMOTE(
            sampling_strategy=strategy, k_neighbors=k_neighbors, random_state=seed
        )
        used = "Borderline-SMOTE"
    elif categorical and len(categorical) == X.shape[1]:
        sampler = over.SMOTEN(
            sampling_strategy=strategy, k_neighbors=k_neighbors, random_state=seed
        )
        used = "SMOTEN"
    elif categorical:
        sampler = over.SMOTENC(categorical_features=categorical, sampling_strategy=strategy,
                               k_neighbors=k_neighbors, random_state=seed)  # fmt: skip
        used = "SMOTE-NC"
    else:
        sampler = over.SMOTE(sampling_strategy=strategy, k_neighbors=k_neighbors, random_state=seed)
        used = "SMOTE"
    X_res, _ = sampler.fit_resample(X, labels)
    synthetic = np.asarray(X_res[len(X) :], dtype=np.float64)
    decoded = [compose.unflatten(decode(specs, v)) for v in synthetic]
    valid = [compose.validate(p, "proposal") for p in decoded]
    return Proposals(valid, n_rare, len(labels), used, synthetic)


@dataclass
class BalanceReport:
    """Rates of the event: natural, among re-simulated proposals, in the balanced set."""

    event: str
    natural_rate: float
    proposal_rate: float
    balanced_rate: float
    n_natural: int
    n_proposals: int
    method: str
    rounds: int

    def table(self) -> str:
        """Human-readable summary."""
        return "\n".join([
            f"event                 {self.event}",
            f"natural rate          {self.natural_rate:.3f}  ({self.n_natural} rollouts)",
            f"rate in proposals     {self.proposal_rate:.3f}  ({self.n_proposals} re-simulated, {self.method}, {self.rounds} round(s))",
            f"rate in balanced set  {self.balanced_rate:.3f}  ({self.n_natural + self.n_proposals} episodes)",
            f"proposal / natural    {self.proposal_rate / max(self.natural_rate, 1e-12):.1f}x",
        ])  # fmt: skip


def proposals_needed(n_total: int, n_rare: int, target_rate: float, proposal_rate: float) -> int:
    """How many more re-simulated proposals bring the set's rate to ``target_rate``."""
    if n_rare >= target_rate * n_total:
        return 0
    if proposal_rate <= target_rate:
        return -1  # the target cannot be reached with this proposal rate
    return math.ceil((target_rate * n_total - n_rare) / (proposal_rate - target_rate))
