"""Randomization presets: YAML files in ``assets/presets`` (or dicts) that build a ``Compose``.

A preset maps randomizer kinds to their options::

    texture: {targets: [table, floor], sources: [checker, flat]}
    camera: {eye_offset: [[-0.05, 0.05], [-0.025, 0.025], [-0.05, 0.05]]}

Every mistake (unknown kind or key, a key written twice, bad range, a value outside its
kind's ``LIMITS``, a fraction where an integer goes, probability outside [0, 1], a missing
or broken image folder or GAN checkpoint) fails here, at load time, naming the file and
key. YAML is read as ``yaml.safe_load`` reads it (no tags), except that a repeated key is
an error instead of the last one silently winning.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from randomizers.assets import asset_dir
from randomizers.base import Randomizer
from randomizers.camera import CameraPose
from randomizers.compose import Compose
from randomizers.distractors import Distractors
from randomizers.errors import PresetError
from randomizers.image_noise import ImageNoise
from randomizers.lighting import Lighting
from randomizers.object_pose import ObjectPose
from randomizers.physics import Physics
from randomizers.texture import Texture

# Applied in this order whatever the order in the file: objects first, so that texture
# slots see every body, and image noise last.
KINDS: dict[str, type[Randomizer]] = {
    "object_pose": ObjectPose,
    "distractors": Distractors,
    "physics": Physics,
    "texture": Texture,
    "lighting": Lighting,
    "camera": CameraPose,
    "image_noise": ImageNoise,
}

# Options holding file or folder paths; relative ones resolve against the preset's folder.
PATH_OPTIONS = ("image_dir", "gan_checkpoint")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A YAML mapping names the same key twice."""

    def __init__(self, key: Any, line: int, first_line: int, mark: Any) -> None:
        super().__init__(None, None, f"duplicate key {key!r}", mark)
        self.key, self.line, self.first_line = key, line, first_line


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key repeated in one mapping (``<<`` merges may
    still be overridden, as YAML intends)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise DuplicateKeyError(key, line, seen[key], key_node.start_mark)
                    seen[key] = line
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:  # a scalar Python cannot hold
            raise ScalarValueError(node, exc) from None


class ScalarValueError(yaml.constructor.ConstructorError):
    """A YAML scalar that Python refuses to convert (an int past ``str()``'s digit limit,
    a date such as 2024-13-45)."""

    def __init__(self, node: yaml.Node, exc: Exception) -> None:
        super().__init__(None, None, " ".join(str(exc).split()), node.start_mark)
        self.node, self.exc = node, exc


def read_yaml(text: str, label: str) -> Any:
    """Parse preset text like ``yaml.safe_load``, refusing repeated keys; errors are
    :class:`PresetError` naming ``label``."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: no tags
    except DuplicateKeyError as exc:
        where = (
            f"line {exc.first_line} and line {exc.line}"
            if exc.first_line != exc.line
            else f"both on line {exc.line}"
        )
        raise PresetError(
            f"{label}: key {exc.key!r} appears twice in one mapping ({where}); each key may "
            "appear once: merge the two entries"
        ) from None
    except ScalarValueError as exc:
        raise PresetError(f"{label}: {_scalar_problem(text, exc)}") from None
    except yaml.YAMLError as exc:
        raise PresetError(f"{label} is not valid YAML: {_one_line(exc)}") from None


def _scalar_problem(text: str, exc: ScalarValueError) -> str:
    """What is wrong with a scalar Python could not convert, and where (key and line)."""
    mark = exc.node.start_mark
    key = _key_at(text, mark.index)
    where = f"{key}: " if key else ""
    at = f"line {mark.line + 1}, column {mark.column + 1}"
    value = str(exc.node.value)
    digits = sum(ch.isdigit() for ch in value)
    if exc.node.tag == "tag:yaml.org,2002:int" and digits > sys.get_int_max_str_digits() > 0:
        return (
            f"{where}the integer at {at} has {digits} digits, more than Python reads from "
            f"text (sys.get_int_max_str_digits() = {sys.get_int_max_str_digits()}); write a "
            "number in the option's allowed range"
        )
    shown = value if len(value) <= 40 else value[:37] + "..."
    return (
        f"{where}the value {shown!r} at {at} cannot be read ({exc.problem}); quote it if "
        "it is text, or write a number in the option's allowed range"
    )


def _key_at(text: str, index: int) -> str:
    """The dotted key path (``physics.latency``, ``camera.roll.values[1]``) of the node that
    starts at character ``index`` of ``text``, or '' if it cannot be found."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""

    def walk(node: yaml.Node, path: str) -> str | None:
        if node.start_mark.index == index and isinstance(node, yaml.ScalarNode):
            return path
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                found = walk(key_node, path) or walk(value_node, f"{path}.{name}".lstrip("."))
                if found is not None:
                    return found
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                found = walk(item, f"{path}[{i}]")
                if found is not None:
                    return found
        return None

    return (walk(root, "") or "") if root is not None else ""


def _one_line(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: what is wrong and where."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return " ".join(str(exc).split())
    parts = [p for p in (exc.context, exc.problem) if p]
    mark = exc.problem_mark or exc.context_mark
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(" ".join(parts).split()) + at


def preset_dir() -> Path:
    """Where the shipped presets live (installed package or source checkout)."""
    return asset_dir() / "presets"


def available_presets() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def _resolve(spec: str | Path) -> tuple[Path, str]:
    text = str(spec)
    if text in available_presets():
        return preset_dir() / f"{text}.yaml", text
    path = Path(text).expanduser()
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if path.is_dir():
            raise PresetError(f"preset {text!r} is a folder; give a .yaml file or a preset name")
        if not path.is_file():
            raise PresetError(f"preset file {text!r} does not exist")
        return path, str(path)
    raise PresetError(
        f"unknown preset {text!r}; use one of {available_presets()} or a path to a .yaml file"
    )


def _read(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PresetError(
            f"preset {label!r} is not UTF-8 text (byte {exc.start}); a preset is a YAML file"
        ) from None
    except OSError as exc:
        raise PresetError(f"cannot read preset {label!r}: {exc.strerror or exc}") from None


def preset_text(spec: str | Path) -> str:
    """The YAML text of a preset name or path (what a dataset manifest records)."""
    path, label = _resolve(spec)
    return _read(path, label)


def load_preset(spec: str | Path | Mapping[str, Any]) -> Compose:
    """Build a :class:`Compose` from a preset name, a YAML path or a dict."""
    if not isinstance(spec, (str, Path)):
        return build_compose(spec, "preset")
    path, label = _resolve(spec)
    data = read_yaml(_read(path, label), f"preset {label!r}")
    return build_compose(data if data is not None else {}, f"preset {label!r}", base=path.parent)


def build_compose(data: Any, where: str, base: Path | None = None) -> Compose:
    """Validate a preset mapping and build its randomizers in canonical order.

    Relative ``image_dir`` and ``gan_checkpoint`` paths resolve against ``base`` (the preset
    file's folder).
    """
    if not isinstance(data, Mapping):
        raise PresetError(
            f"{where}: expected a mapping of randomizer kinds, got {type(data).__name__}"
        )
    unknown = [k for k in data if k not in KINDS]
    if unknown:
        raise PresetError(
            f"{where}: unknown randomizer kind(s) {unknown}; allowed: {', '.join(KINDS)}"
        )
    randomizers = []
    names: dict[str, str] = {}
    for kind, cls in KINDS.items():
        if kind in data:
            options = data[kind]
            if options is not None and not isinstance(options, Mapping):
                raise PresetError(
                    f"{where}: {kind}: expected a mapping of options, got {type(options).__name__}"
                )
            bad_keys = [k for k in options or {} if not isinstance(k, str)]
            if bad_keys:
                raise PresetError(
                    f"{where}: {kind}: option names are text, got {bad_keys!r}; allowed: "
                    f"{sorted((*cls.options, 'name', 'every_n_steps'))}"
                )
            if isinstance(options, Mapping) and base is not None:
                options = resolve_paths(options, base)
            r = cls.from_config(options, f"{where}: {kind}")
            if r.name in names:
                raise PresetError(
                    f"{where}: {kind}.name: {r.name!r} is already the name of {names[r.name]}; "
                    "randomizer names must be unique"
                )
            names[r.name] = kind
            randomizers.append(r)
    return Compose(randomizers)


def resolve_paths(options: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """A kind's options with relative :data:`PATH_OPTIONS` made absolute against ``base``."""
    out = dict(options)
    for key in PATH_OPTIONS:
        value = out.get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            out[key] = str((base / value).resolve())
    return out


def build_randomizer(spec: Any) -> Randomizer | None:
    """What an env's ``randomization=`` argument accepts: ``None``, a preset name or path,
    a dict, or a :class:`Randomizer`."""
    if spec is None:
        return None
    if isinstance(spec, Randomizer):
        return spec
    if isinstance(spec, (str, Path, Mapping)):
        return load_preset(spec)
    raise TypeError(
        "randomization must be None, a preset name, a path to a .yaml preset, a dict or a "
        f"Randomizer; got {type(spec).__name__}"
    )
