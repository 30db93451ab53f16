"""Textures on the table, floor, task objects and robot links, from procedural sources or photos.

PyBullet's TinyRenderer ignores ``changeTexture`` in DIRECT mode (the call only reaches
the OpenGL GUI renderer: checked by rendering), and every ``loadTexture`` allocates memory
that is never freed (bullet3 #2216, #1172). So each scene loads a fixed *bank* of textures
once, when the env is built (bounded memory), and a reset only assigns bank entries to
bodies (``changeVisualShape``, about a microsecond) and tints them with a random colour,
which keeps the appearance space continuous. Bank entry ``i`` is a pure function of the
bank's options and ``i``, so params replay exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from randomizers.base import Randomizer
from randomizers.distributions import Distribution, Limits
from randomizers.errors import PresetError
from randomizers.options import choice_list, dist, dist_vector, integer
from randomizers.options import name as option_name
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec
from randomizers.texture_sources import (
    SOURCES,
    ImageFileError,
    check_images,
    list_images,
    load_image,
    photo_crop,
    procedural,
)

if TYPE_CHECKING:  # the gan source imports torch: only loaded when a preset uses it
    from randomizers.gan_source import GanSource

TARGETS = ("table", "floor", "target", "objects", "robot")
# option -> limits of what it samples (all absolute); ``size`` is an int in [4, 256] px and
# ``bank_size`` an int in [1, 8192], with at most MAX_BANK_PIXELS in the whole bank
LIMITS: dict[str, Limits] = {
    "color": Limits(0.0, 1.0, unit="per channel"),
    "scale": Limits(1.0, 64.0, unit="squares, stripes, noise cells, side / largest leaf"),
    "tint": Limits(0.0, 1.0, unit="per channel"),
}
MAX_BANK_PIXELS = 2**24  # 48 MB of RGB uploaded per env (256 textures of 256 x 256)


def slot_names(targets: tuple[str, ...], robot_links: Sequence[int] = ()) -> list[str]:
    """One slot per target, and one per robot link (``robot.link<index>``, the links of the
    scene robot's roles, ``scene.robot.visual_links``)."""
    names: list[str] = []
    for t in targets:
        if t == "robot":
            names += [f"robot.link{i}" for i in robot_links]
        else:
            names.append(t)
    return names


def memory_tempdir() -> str | None:
    """``/dev/shm`` where it is a writable folder (RAM: a bank's thousands of small files
    are written and read back about 15x faster than on a disk; each is removed once
    loaded), else None (the default temporary folder)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


class TextureBank:
    """A deterministic set of ``bank_size`` textures, uploaded once per scene.

    Args:
        sources: generators to cycle through (flat, checker, gradient, stripes, noise, leaves,
            image, gan).
        color: per-channel distributions of pattern colours.
        scale: checker squares, stripe count, noise cells, size / largest dead leaf.
        size: texture side in pixels.
        bank_size: number of textures.
        image_dir: folder of photos for the ``image`` source (random crops and flips).
        seed: bank seed; entry ``i`` depends only on the options and ``i``.
        gan: a loaded appearance-GAN checkpoint for the ``gan`` source
            (``randomizers.gan_source.GanSource``).
    """

    def __init__(
        self,
        sources: tuple[str, ...],
        color: list[Distribution],
        scale: Distribution,
        size: int,
        bank_size: int,
        image_dir: str | None,
        seed: int = 0,
        gan: GanSource | None = None,
    ) -> None:
        self.sources, self.color, self.scale, self.size = sources, color, scale, size
        self.bank_size, self.image_dir, self.seed = bank_size, image_dir, seed
        self.images = [str(p) for p in list_images(image_dir)] if image_dir else []
        if "gan" in sources and gan is None:
            raise ValueError("the 'gan' source needs a GanSource (a trained GAN checkpoint)")
        self.gan = gan
        self._gan_entries: dict[int, np.ndarray] | None = None
        desc = json.dumps(
            [self.sources, [repr(c) for c in self.color], repr(self.scale), self.size,
             self.bank_size, self.images, self.seed, *([gan.digest] if gan else [])]
        )  # fmt: skip
        # identity of the bank's contents (scenes share a bank between randomizers)
        self.key = "texture-bank/" + hashlib.sha1(desc.encode()).hexdigest()[:16]

    def generate(self, index: int, photos: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Entry ``index`` as an (size, size, 3) uint8 array."""
        rng = np.random.default_rng([self.seed, index])
        source = self.sources[index % len(self.sources)]
        if source == "image":
            path = self.images[int(rng.integers(len(self.images)))]
            photos = photos if photos is not None else {}
            if path not in photos:
                photos[path] = load_image(Path(path))
            return photo_crop(photos[path], self.size, int(rng.integers(2**31 - 1)))
        if source == "gan":
            return self._gan_texture(index)
        return procedural(
            source, self.size,
            [float(d.sample(rng)) for d in self.color], [float(d.sample(rng)) for d in self.color],
            float(self.scale.sample(rng)), float(rng.uniform(0, 180)), int(rng.integers(2**31 - 1)),
        )  # fmt: skip

    def _gan_texture(self, index: int) -> np.ndarray:
        """GAN entry ``index``; the first call renders every GAN entry (fixed batches)."""
        if self.gan is None:
            raise ValueError("the 'gan' source needs a GanSource (a trained GAN checkpoint)")
        if self._gan_entries is None:
            n = len(self.sources)
            wanted = [i for i in range(self.bank_size) if self.sources[i % n] == "gan"]
            self._gan_entries = self.gan.textures(self.seed, wanted, self.size)
        return self._gan_entries[index]

    def upload(self, scene: Scene) -> list[int]:
        """PyBullet texture ids of the bank in this scene (loaded on first use only)."""
        if self.key not in scene.store:
            photos: dict[str, np.ndarray] = {}
            ids = []
            with tempfile.TemporaryDirectory(dir=memory_tempdir()) as tmp:
                for i in range(self.bank_size):
                    path = Path(tmp) / f"{i}.bmp"
                    Image.fromarray(self.generate(i, photos)).save(path)
                    ids.append(int(scene.client.loadTexture(str(path))))
                    path.unlink()  # one file at a time: a container's small /dev/shm suffices
            scene.store[self.key] = ids
        return scene.store[self.key]

    @classmethod
    def from_config(
        cls, config: dict[str, Any], where: str, default_sources: tuple[str, ...]
    ) -> TextureBank:
        """Parse ``sources``, ``image_dir``, ``gan_checkpoint``, ``color``, ``scale``,
        ``size``, ``bank_size``, ``bank_seed``."""
        image_dir = config.get("image_dir")
        if image_dir is not None:
            if not isinstance(image_dir, (str, Path)) or not str(image_dir).strip():
                raise PresetError(f"{where}.image_dir: expected a folder path, got {image_dir!r}")
            try:
                check_images(image_dir)
            except (FileNotFoundError, ImageFileError) as exc:
                raise PresetError(f"{where}.image_dir: {exc}") from None
        checkpoint = config.get("gan_checkpoint")
        if checkpoint is not None and (
            not isinstance(checkpoint, (str, Path)) or not str(checkpoint).strip()
        ):
            raise PresetError(f"{where}.gan_checkpoint: expected a file path, got {checkpoint!r}")
        implied = tuple(s for s, v in (("image", image_dir), ("gan", checkpoint)) if v is not None)
        sources = choice_list(config, "sources", where, SOURCES, implied or default_sources)
        if "image" in sources and image_dir is None:
            raise PresetError(
                f"{where}.sources: the 'image' source needs image_dir (a folder of photos)"
            )
        gan = None
        if "gan" in sources:
            if checkpoint is None:
                raise PresetError(
                    f"{where}.sources: the 'gan' source needs gan_checkpoint (a checkpoint "
                    "written by python scripts/train_gan.py --images DIR --out CKPT)"
                )
            try:
                from randomizers.gan_source import GanSource  # torch: only when the source is used
            except ImportError as exc:
                raise PresetError(f"{where}.sources: {exc}") from None
            gan = GanSource.load(checkpoint, f"{where}.gan_checkpoint")
        size = integer(config, "size", where, 32, 4, 256)
        bank_size = integer(config, "bank_size", where, 256, 1, 8192)
        if bank_size * size * size > MAX_BANK_PIXELS:
            raise PresetError(
                f"{where}: a bank of {bank_size} textures of {size} x {size} px holds "
                f"{bank_size * size * size / 1e6:.1f} M pixels, uploaded into every env; at most "
                f"{MAX_BANK_PIXELS / 1e6:.1f} M: lower bank_size or size"
            )
        absolute = ("absolute",)
        return cls(
            sources=sources,
            color=dist_vector(config, "color", where, 3, [0.0, 1.0], limits=LIMITS["color"],
                              modes=absolute),
            scale=dist(config, "scale", where, [2.0, 10.0], limits=LIMITS["scale"],
                       modes=absolute),  # type: ignore[arg-type]
            size=size,
            bank_size=bank_size,
            image_dir=str(image_dir) if image_dir is not None else None,
            seed=integer(config, "bank_seed", where, 0, 0, 2**31 - 1),
            gan=gan,
        )  # fmt: skip


BANK_OPTIONS = ("sources", "image_dir", "gan_checkpoint", "color", "scale", "size", "bank_size",
                "bank_seed", "tint")  # fmt: skip


def parse_tint(config: dict[str, Any], where: str) -> list[Distribution]:
    """Per-channel tint multiplied onto bank textures (default [0.6, 1.0])."""
    return dist_vector(config, "tint", where, 3, [0.6, 1.0], limits=LIMITS["tint"],
                       modes=("absolute",))  # fmt: skip


def appearance_specs(prefix: str, bank: TextureBank, tint: list[Distribution]) -> list[ParamSpec]:
    """A bank entry and a tint colour."""
    lo = min(d.spec("t").bounds[0] for d in tint)
    hi = max(d.spec("t").bounds[1] for d in tint)
    return [
        ParamSpec(f"{prefix}.texture", "integer", 0, bank.bank_size - 1),
        ParamSpec(f"{prefix}.tint", "continuous", lo, hi, size=3),
    ]


def sample_appearance(
    rng: np.random.Generator, prefix: str, bank: TextureBank, tint: list[Distribution]
) -> dict[str, Any]:
    """Draw a bank entry and a tint."""
    return sample_appearances(rng, [prefix], bank, tint)


def sample_appearances(
    rng: np.random.Generator, prefixes: list[str], bank: TextureBank, tint: list[Distribution]
) -> dict[str, Any]:
    """Bank entries and tints for many slots with four generator calls (not 4 per slot)."""
    n = len(prefixes)
    textures = rng.integers(bank.bank_size, size=n).tolist()
    if all(d.dist == "constant" for d in tint):  # the usual case: no draw, one row copied
        row = np.array([d.low for d in tint]).tolist()  # the dtype stacking rows would give
        tints = [list(row) for _ in range(n)]
    else:
        tints = np.stack([d.sample_n(rng, n) for d in tint], axis=1).tolist()
    params: dict[str, Any] = {}
    for prefix, tex, rgb in zip(prefixes, textures, tints, strict=True):
        params[f"{prefix}.texture"] = tex
        params[f"{prefix}.tint"] = rgb
    return params


class Texture(Randomizer):
    """Random textures on the chosen targets.

    Options: ``targets`` (from table, floor, target, objects, robot; default all),
    ``sources`` (flat, checker, gradient, stripes, noise, leaves, image, gan), ``image_dir``
    (a folder of photos, random crops; implies the ``image`` source), ``gan_checkpoint`` (a
    trained appearance GAN, ``scripts/train_gan.py``; implies the ``gan`` source), ``color``
    (per-channel range of pattern colours, default [0, 1]), ``scale`` (checker squares,
    stripes, noise cells; texture side / largest dead leaf),
    ``size`` (pixels), ``bank_size`` (textures uploaded per scene), ``bank_seed``, ``tint``
    (per-channel range of the colour multiplied onto each texture). Limits: :data:`LIMITS`;
    every file of ``image_dir`` with an image extension is checked when the preset loads
    (:func:`randomizers.texture_sources.check_images`).

    The ``robot`` target has one slot per link of the scene robot's roles (any robot: the
    links come from its config), so its slots join the space when :meth:`setup` has seen
    the scene; before that, the space holds the other targets only.
    """

    kind = "texture"
    options = ("targets", *BANK_OPTIONS)

    def __init__(
        self,
        bank: TextureBank,
        *,
        tint: list[Distribution] | None = None,
        targets: tuple[str, ...] = TARGETS,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.bank = bank
        self.tint = tint or [Distribution("constant", low=1.0, high=1.0)] * 3
        self.targets = targets
        self.robot_links: tuple[int, ...] | None = None  # the scene robot's, set by setup
        self.slots = slot_names(targets)

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        return cls(
            TextureBank.from_config(
                config, where, ("flat", "checker", "gradient", "stripes", "noise")
            ),
            tint=parse_tint(config, where),
            targets=choice_list(config, "targets", where, TARGETS, TARGETS, unique=True),
            name=option_name(config, where),
        )

    def space(self) -> list[ParamSpec]:
        return [
            spec for slot in self.slots for spec in appearance_specs(slot, self.bank, self.tint)
        ]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return sample_appearances(rng, self.slots, self.bank, self.tint)

    def _bindings(self, scene: Scene, slot: str) -> list[tuple[int, int]]:
        """(body, link) pairs a slot paints."""
        if slot.startswith("robot.link"):
            return [(scene.robot.id, int(slot.removeprefix("robot.link")))]
        return [(scene.sim.body(n), -1) for n in scene.body_names(slot)]

    def setup(self, scene: Scene) -> None:
        if "robot" in self.targets:
            links = tuple(scene.robot.visual_links)
            if self.robot_links is not None and links != self.robot_links:
                raise ValueError(
                    f"{self.name}: this texture randomizer paints robot links "
                    f"{list(self.robot_links)} of another scene's robot, and this scene's robot "
                    f"has links {list(links)}; build one randomizer per robot (from the preset)"
                )
            self.robot_links = links
            self.slots = slot_names(self.targets, links)
        self.bank.upload(scene)

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        change = scene.client.changeVisualShape
        ids = self.bank.upload(scene)
        for slot in self.slots:
            tex = ids[int(params[slot + ".texture"])]
            rgba = [*params[slot + ".tint"], 1.0]
            for body, link in self._bindings(scene, slot):
                change(body, link, textureUniqueId=tex, rgbaColor=rgba)
