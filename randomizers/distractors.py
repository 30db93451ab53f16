"""Distractors: 0 to N extra objects on the table, drawn from a pool loaded once per scene.

Pool bodies are PyBullet's ``random_urdfs`` objects and primitives, or objects of your
choice (``objects``: built-in names, paths, dicts), chosen by a fixed seed at setup;
unused ones are parked under the floor and made fully transparent (so the
renderer skips them), so a reset loads nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from randomizers.base import Randomizer, draw
from randomizers.distributions import Distribution, Limits
from randomizers.errors import PresetError
from randomizers.object_pool import object_labels, object_list, object_scene
from randomizers.options import choice_list, dist, integer
from randomizers.options import name as option_name
from randomizers.placement import (
    MAX_TRIES,
    blocked,
    body_rect,
    disc_rect,
    fixture_rects,
    placement_rng,
)
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec
from randomizers.texture import (
    BANK_OPTIONS,
    TextureBank,
    appearance_specs,
    parse_tint,
    sample_appearances,
)

SHAPES = ("random", "box", "sphere", "cylinder")
N_RANDOM_URDFS = 1000
AROUND_ROLES = ("target", "objects", "robot")
MAX_COUNT = 64
MAX_POOL = 256
# option -> limits of what it samples (all absolute); x and y are world coordinates, or
# offsets from the anchor body with ``around``
LIMITS: dict[str, Limits] = {
    "count": Limits(0, MAX_COUNT, integer=True, unit="distractors"),
    "x": Limits(-0.25, 1.25, unit="m, world x"),
    "y": Limits(-0.5, 0.5, unit="m, world y"),
    "x_around": Limits(-0.5, 0.5, unit="m from the anchor"),
    "y_around": Limits(-0.5, 0.5, unit="m from the anchor"),
    "scale": Limits(0.1, 5.0, unit="x the object's size"),
}


class Distractors(Randomizer):
    """Options: ``count`` (integer distribution, e.g. [0, 10]; at most 64), ``shapes`` (random, box,
    sphere, cylinder), ``pool_size`` (bodies loaded, default 2 x the largest count), ``x``,
    ``y`` (metres; offsets from the first body of a role when ``around`` names one, e.g.
    ``around: target`` to build occluders), ``scale`` (size multiplier of random objects),
    ``collide`` (default false: purely visual), ``pool_seed``, ``objects`` (instead of
    ``shapes``: built-in object names, file paths or dicts of object fields, drawn for the pool
    by ``pool_seed``; labelled ``distractor``), and the texture-bank options of the texture
    randomizer (``sources``, ``color``, ``image_dir``, ``size``, ``bank_size``, ``tint``...).
    Sane ranges of the sampled options are :data:`LIMITS`; ``pool_size`` is an int in
    [0, 256] (0: default) and at least the largest count.

    Placement: a distractor never overlaps a fixture; with ``separate`` (default: on when
    the scene has fixtures) it also keeps clear of the other distractors and the task's
    objects. An overlapping slot is drawn again (x, y from the same distributions, from a
    generator seeded by the params, so replay is exact); a slot with no free spot after
    100 tries stays parked (``scene.store["<name>/skipped"]`` counts them per episode).
    Without fixtures and ``separate``, distractors go exactly where the params say.
    """

    kind = "distractors"
    options = ("count", "shapes", "pool_size", "x", "y", "scale", "collide", "pool_seed",
               "around", "objects", "separate", *BANK_OPTIONS)  # fmt: skip

    def __init__(
        self,
        *,
        count: Distribution,
        bank: TextureBank,
        tint: list[Distribution] | None = None,
        shapes: tuple[str, ...] = SHAPES,
        pool_size: int | None = None,
        x: Distribution | None = None,
        y: Distribution | None = None,
        scale: Distribution | None = None,
        collide: bool = False,
        pool_seed: int = 0,
        around: str | None = None,
        objects: list[Any] | None = None,
        separate: bool | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.objects = objects
        self.separate = separate
        if objects is not None:
            object_labels(objects, self.name, unique=False)  # checks each entry
        # a fractional high end would sample one slot more than the pool declares
        count.check(LIMITS["count"], f"{self.name}.count")
        self.count = count
        self.max_count = int(count.bounds[1])
        # each slot's param names, built once (a reset samples all of them)
        self._keys = [
            (p, f"{p}.body", f"{p}.x", f"{p}.y", f"{p}.yaw", f"{p}.texture", f"{p}.tint")
            for p in (f"slot{i}" for i in range(self.max_count))
        ]
        self.pool_size = pool_size or max(2 * self.max_count, 1)
        if self.pool_size < self.max_count:
            raise PresetError(
                f"{self.name}.pool_size: must be >= the largest count ({self.max_count}), got {self.pool_size}"
            )
        self.bank = bank
        self.tint = tint or [Distribution("constant", low=1.0, high=1.0)] * 3
        self.shapes = shapes
        near = Distribution("uniform", low=-0.1, high=0.1)  # offsets around a body
        self.x = x or (near if around else Distribution("uniform", low=0.2, high=0.9))
        self.y = y or (near if around else Distribution("uniform", low=-0.4, high=0.4))
        self.scale = scale or Distribution("uniform", low=0.8, high=1.5)
        self.collide = collide
        self.pool_seed = pool_seed
        self.around = around

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        absolute = ("absolute",)
        count = dist(config, "count", where, [0, 10], limits=LIMITS["count"], modes=absolute)
        assert count is not None
        pool_size = integer(config, "pool_size", where, 0, 0, MAX_POOL) or None
        largest = int(count.bounds[1])
        if pool_size is not None and pool_size < largest:
            raise PresetError(
                f"{where}.pool_size: must be >= the largest count ({largest}), got {pool_size}; "
                "raise pool_size or leave it out (default: 2 x the largest count)"
            )
        collide = config.get("collide", False)
        if not isinstance(collide, bool):
            raise PresetError(f"{where}.collide: expected true or false, got {collide!r}")
        around = config.get("around")
        if around is not None and (not isinstance(around, str) or around not in AROUND_ROLES):
            raise PresetError(
                f"{where}.around: expected one of {', '.join(AROUND_ROLES)} (or leave it out), "
                f"got {around!r}"
            )
        near = "_around" if around is not None else ""
        separate = config.get("separate")
        if separate is not None and not isinstance(separate, bool):
            raise PresetError(
                f"{where}.separate: expected true or false (or leave it out: on with fixtures), "
                f"got {separate!r}"
            )
        objects = object_list(config, "objects", where)
        if objects is not None and "shapes" in config:
            raise PresetError(f"{where}: give either shapes or objects, not both")
        return cls(
            count=count,
            bank=TextureBank.from_config(config, where, ("flat", "checker", "gradient")),
            tint=parse_tint(config, where),
            shapes=choice_list(config, "shapes", where, SHAPES, SHAPES),
            pool_size=pool_size,
            x=dist(config, "x", where, limits=LIMITS["x" + near], modes=absolute),
            y=dist(config, "y", where, limits=LIMITS["y" + near], modes=absolute),
            scale=dist(config, "scale", where, limits=LIMITS["scale"], modes=absolute),
            collide=collide,
            pool_seed=integer(config, "pool_seed", where, 0, 0, 2**31 - 1),
            around=around,
            objects=objects,
            separate=separate,
            name=option_name(config, where),
        )

    def space(self) -> list[ParamSpec]:
        specs = [ParamSpec("count", "integer", 0, self.max_count)]
        for i in range(self.max_count):
            p = f"slot{i}"
            specs += [
                ParamSpec(f"{p}.body", "integer", 0, self.pool_size - 1),
                self.x.spec(f"{p}.x"),
                self.y.spec(f"{p}.y"),
                ParamSpec(f"{p}.yaw", "continuous", -np.pi, np.pi),
                *appearance_specs(p, self.bank, self.tint),
            ]
        return specs

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        n = self.max_count
        params: dict[str, Any] = {"count": int(round(draw(self.count, rng)))}
        bodies = rng.choice(self.pool_size, size=n, replace=False).tolist()
        xs = self.x.sample_n(rng, n).tolist()
        ys = self.y.sample_n(rng, n).tolist()
        yaws = rng.uniform(-np.pi, np.pi, n).tolist()
        prefixes = [keys[0] for keys in self._keys]
        looks = sample_appearances(rng, prefixes, self.bank, self.tint)
        for i, (_, body, x, y, yaw, texture, tint) in enumerate(self._keys):
            params[body] = bodies[i]
            params[x] = xs[i]
            params[y] = ys[i]
            params[yaw] = yaws[i]
            params[texture] = looks[texture]
            params[tint] = looks[tint]
        return params

    def setup(self, scene: Scene) -> None:
        key = f"{self.name}/pool"
        if key in scene.store:
            return
        c = scene.client
        rng = np.random.default_rng(self.pool_seed)
        pool = []
        for k in range(self.pool_size):
            shape = self.shapes[k % len(self.shapes)]
            name = f"{self.name}{k}"
            park = (0.5 * k, 20.0, -5.0)
            scale = float(self.scale.sample(rng))
            if self.objects is not None:
                objs = object_scene(scene, self.name)
                item = self.objects[int(rng.integers(len(self.objects)))]
                spec = objs.resolve_object(item).scaled(scale)
                body = objs.add_object(name, spec, position=park, static=True).body
            elif shape == "random":
                idx = int(rng.integers(N_RANDOM_URDFS))
                body = c.loadURDF(f"random_urdfs/{idx:03d}/{idx:03d}.urdf", park,
                                  useFixedBase=True, globalScaling=scale)  # fmt: skip
                scene.sim._add(name, body)
            else:
                half = 0.02 * scale
                size = {"box": (half, half, half), "sphere": (half,), "cylinder": (half, 2 * half)}
                scene.sim.create_primitive(
                    name, shape, size[shape], mass=0.0, position=park,
                    collision=self.collide,
                )  # fmt: skip
                body = scene.sim.body(name)
            if not self.collide:
                for link in range(-1, c.getNumJoints(body)):
                    c.setCollisionFilterGroupMask(body, link, 0, 0)
            c.changeVisualShape(body, -1, rgbaColor=[1, 1, 1, 0])
            lo, _ = c.getAABB(body)
            x_lo, y_lo, x_hi, y_hi = body_rect(c, body)  # radius about the origin: any yaw
            r = float(np.hypot(max(park[0] - x_lo, x_hi - park[0]), max(park[1] - y_lo, y_hi - park[1])))
            pool.append({"name": name, "body": body, "z": park[2] - lo[2], "park": park, "r": r})
        scene.roles["distractors"] = [p["name"] for p in pool]
        scene.store[key] = pool
        self.bank.upload(scene)

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        c = scene.client
        pool = scene.store[f"{self.name}/pool"]
        textures = self.bank.upload(scene)
        used = set()
        ox, oy = 0.0, 0.0
        if self.around is not None:
            anchor = scene.sim.body(scene.body_names(self.around)[0])
            ox, oy = c.getBasePositionAndOrientation(anchor)[0][:2]
        keepout = fixture_rects(scene)
        separate = self.separate if self.separate is not None else bool(keepout)
        if separate:
            keepout += [body_rect(c, scene.sim.body(n))
                        for role in ("target", "objects") for n in scene.roles.get(role, [])]  # fmt: skip
        rng: np.random.Generator | None = None
        skipped = 0
        for i in range(int(params["count"])):
            p = f"slot{i}"
            entry = pool[int(params[f"{p}.body"])]
            x, y = ox + params[f"{p}.x"], oy + params[f"{p}.y"]
            if keepout or separate:
                for _ in range(MAX_TRIES):
                    if not blocked(disc_rect(x, y, entry["r"]), keepout):
                        break
                    rng = rng or placement_rng(self.name, params)
                    x, y = ox + float(draw(self.x, rng)), oy + float(draw(self.y, rng))
                else:  # no free spot: this slot stays parked
                    skipped += 1
                    continue
                if separate:
                    keepout.append(disc_rect(x, y, entry["r"]))
            used.add(entry["name"])
            orn = c.getQuaternionFromEuler([0.0, 0.0, params[f"{p}.yaw"]])
            pos = [x, y, scene.table_top + entry["z"] + 1e-4]
            c.resetBasePositionAndOrientation(entry["body"], pos, orn)
            tex = textures[int(params[f"{p}.texture"])]
            rgba = [*params[f"{p}.tint"], 1.0]
            c.changeVisualShape(entry["body"], -1, textureUniqueId=tex, rgbaColor=rgba)
        # Only bodies placed by the last apply need parking: the others are still parked
        # (setup parked them; nothing else moves pool bodies) and transparent (the world
        # snapshot does not hold colours). Fully transparent shapes are skipped by
        # TinyRenderer: parked bodies cost nothing to render (20 visible-but-parked bodies
        # cost 0.4 ms a 64 px frame), and not re-parking 10-20 of them saves ~50 us a reset.
        placed_key = f"{self.name}/placed"
        for entry in scene.store.get(placed_key, pool):
            if entry["name"] not in used:
                c.resetBasePositionAndOrientation(entry["body"], entry["park"], [0, 0, 0, 1])
                c.changeVisualShape(entry["body"], -1, rgbaColor=[1, 1, 1, 0])
        scene.store[placed_key] = [entry for entry in pool if entry["name"] in used]
        scene.store[f"{self.name}/skipped"] = skipped
        scene.sim.cache.clear()
