"""Which object is the task's target each episode, chosen from a list of objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from randomizers.base import Randomizer
from randomizers.errors import PresetError
from randomizers.object_pool import (
    CANDIDATES,
    object_labels,
    object_list,
    object_scene,
    register_variant,
)
from randomizers.options import name as option_name
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec


class TargetObject(Randomizer):
    """Swaps the task's object for one of ``objects`` each episode (uniformly).

    Options: ``objects``: built-in names (``[cube, duck, mug]``), file paths (``.urdf``,
    ``.obj``, ``.stl``) or dicts of object fields (``{name: duck, scale: 1.2}``,
    ``{source: part.stl, scale: 0.001, category: bracket}``). Each is loaded once when the
    env is built (an unknown name fails then, listing the built-in ones) and parked; the
    chosen one takes the task object's place, turn and resting height. The param is the
    object's label: its name or path as written, or a dict's ``category`` (or ``name``).
    """

    kind = "target_object"
    options = ("objects",)

    def __init__(self, objects: Sequence[Any], *, name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(objects, str) or not isinstance(objects, Sequence) or not objects:
            raise PresetError(f"{self.name}.objects: expected a non-empty list, got {objects!r}")
        self.objects = list(objects)
        self.labels = object_labels(self.objects, self.name)

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        objects = object_list(config, "objects", where)
        if objects is None:
            raise PresetError(f"{where}.objects: required, e.g. objects: [cube, duck, mug]")
        try:
            return cls(objects, name=option_name(config, where))
        except PresetError as exc:
            raise PresetError(str(exc).replace(f"{cls.kind}.", f"{where}.", 1)) from None

    def space(self) -> list[ParamSpec]:
        return [ParamSpec("object", "categorical", choices=self.labels)]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"object": self.labels[int(rng.integers(len(self.labels)))]}

    def setup(self, scene: Scene) -> None:
        key = f"{self.name}/bodies"
        if key in scene.store:
            return
        objs = object_scene(scene, self.name)
        nominal = scene.body_names("target")[0]
        nominal_spec = objs.objects[nominal].spec if nominal in objs.objects else None
        bodies: dict[str, str] = {}
        for label, item in zip(self.labels, self.objects, strict=True):
            spec = objs.resolve_object(item)
            if spec == nominal_spec:
                bodies[label] = nominal
            else:
                body = f"{self.name}.{label}"
                objs.add_object(body, spec, pooled=True)
                bodies[label] = body
            register_variant(scene, bodies[label], 1.0, bodies[label])
        candidates = scene.store.setdefault(CANDIDATES, [])
        candidates += [b for b in bodies.values() if b not in candidates]
        scene.store[key] = bodies

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        body = scene.store[f"{self.name}/bodies"][params["object"]]
        object_scene(scene, self.name).swap_object("target", body)
