"""Localizer ensembles: checkpoints of one object whose heatmaps are averaged (as
log-probabilities per cell), named on the command line as ``A.pt+B.pt``. Two networks
trained on different data rarely take the same look-alike for the object, so their
average picks it less often than either."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from agents.perception.heatmap_net import HeatmapNet
from agents.perception.localizer import Localizer, load_localizer, log_probs
from agents.perception.refiner import is_refiner_checkpoint, load_refiner, with_refiner
from agents.perception.verifier import is_verifier_checkpoint, load_verifier, verify

SEPARATOR = "+"
PLANE_TOLERANCE_M = 1e-3  # rest heights estimated from two datasets may differ this much


class HeatmapEnsemble(nn.Module):
    """The mean of the members' heatmap log-probabilities (log-softmax over the cells)."""

    def __init__(self, members: Sequence[HeatmapNet]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.stride = int(members[0].stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, h, w) averaged log-probabilities of the object's centre cell."""
        return torch.stack([log_probs(m(x)) for m in self.members]).mean(dim=0)


def ensemble(members: Sequence[Localizer], names: Sequence[str]) -> Localizer:
    """One localizer from ``members`` (their ``names`` for errors): same object, env,
    image size, heatmap and calibrated camera, or a ValueError naming both sides."""
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least 2 localizers, got {len(members)}")
    first = members[0]
    for loc, name in zip(members[1:], names[1:], strict=True):
        plane_apart = abs(loc.meta["plane_z"] - first.meta["plane_z"]) > PLANE_TOLERANCE_M
        for key, what, differ in (
            ("object", "localizes", loc.meta["object"] != first.meta["object"]),
            ("env_id", "was trained on", loc.meta["env_id"] != first.meta["env_id"]),
            ("image_size", "takes images of size", loc.image_size != first.image_size),
            ("plane_z", "rests at", plane_apart),
        ):
            if differ:
                raise ValueError(f"{name!r} {what} {loc.meta[key]!r}; {names[0]!r} "
                                 f"{what} {first.meta[key]!r}: they cannot form an ensemble")  # fmt: skip
        if loc.model.stride != first.model.stride:
            raise ValueError(f"{name!r} has a heatmap stride of {loc.model.stride} px, "
                             f"{names[0]!r} of {first.model.stride}: they cannot form an ensemble")  # fmt: skip
        for part in ("K", "extrinsics"):
            if not np.allclose(loc.meta["camera"][part], first.meta["camera"][part]):
                raise ValueError(f"{name!r} and {names[0]!r} were trained for different "
                                 f"cameras ({part} differs): they cannot form an ensemble")  # fmt: skip
    model = HeatmapEnsemble([loc.model for loc in members]).eval()
    meta = {**first.meta, "ensemble": [str(n) for n in names]}
    # it stands in for one HeatmapNet wherever only its heatmap is read (pixels, peaks)
    return replace(first, model=cast(Any, model), meta=meta, history=[])


def spec_paths(spec: str | Path) -> list[str]:
    """The checkpoint paths of a spec: ``A.pt+B.pt`` -> [A.pt, B.pt]; a path that exists is
    one checkpoint, even with a ``+`` in its name."""
    text = str(spec)
    if SEPARATOR not in text or Path(text).exists():
        return [text]
    names = text.split(SEPARATOR)
    if any(not p for p in names):
        raise ValueError(f"{text!r}: an ensemble is CKPT+CKPT[+...], with no empty part")
    return names


def load_localizer_spec(spec: str | Path) -> Localizer:
    """A checkpoint, or an ensemble of checkpoints joined by ``+`` (``A.pt+B.pt``); a
    verifier checkpoint among them (``A.pt+B.pt+V.pt``) re-ranks the localizer's peaks
    (:mod:`agents.perception.verifier`) and a refiner checkpoint (``A.pt+V.pt+R.pt``) moves
    the answer at full resolution (:mod:`agents.perception.refiner`)."""
    paths = spec_paths(spec)
    helpers = {}
    for kind, is_kind in (("verifier", is_verifier_checkpoint), ("refiner", is_refiner_checkpoint)):
        found = [p for p in paths if is_kind(p)]
        if len(found) > 1:
            raise ValueError(f"{str(spec)!r} names {len(found)} {kind}s ({', '.join(found)}); "
                             "give at most one")  # fmt: skip
        helpers[kind] = found[0] if found else None
    paths = [p for p in paths if p not in helpers.values()]
    if not paths:
        named = " and a ".join(k for k, p in helpers.items() if p)
        raise ValueError(f"{str(spec)!r} names a {named} but no localizer: give "
                         "LOCALIZER.pt+VERIFIER.pt[+REFINER.pt]")  # fmt: skip
    loc = load_localizer(paths[0]) if len(paths) == 1 else ensemble(
        [load_localizer(p) for p in paths], paths)  # fmt: skip
    name = SEPARATOR.join(paths)
    if helpers["verifier"]:
        loc = verify(loc, load_verifier(helpers["verifier"]), (name, helpers["verifier"]))
        name = SEPARATOR.join((name, helpers["verifier"]))
    if helpers["refiner"]:
        loc = with_refiner(loc, load_refiner(helpers["refiner"]), (name, helpers["refiner"]))
    return loc


def spec_name(spec: str | Path, suffix: bool = True) -> str:
    """A short label of a checkpoint or ensemble: its file names (``a.pt+b.pt``), or their
    stems without ``suffix``."""
    return SEPARATOR.join(Path(p).name if suffix else Path(p).stem for p in spec_paths(spec))
