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
from randomizers.compose import Compose
from randomizers.errors import PresetError
from randomizers.registry import KINDS as KINDS  # the built-in kinds, importable from here too
from randomizers.registry import known_kinds, unknown_kinds

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


def preset_text(spec: str | Path | Mapping[str, Any] | Randomizer) -> str | None:
    """What a dataset manifest records of a preset: the YAML text of a name or path, the
    canonical YAML of a dict or of a Randomizer's options (see :func:`to_preset`), or
    ``None`` for a Randomizer built in code (its options are unknown)."""
    if isinstance(spec, Randomizer):
        data = to_preset(spec)
        return None if data is None else canonical_yaml(data, "preset")
    if isinstance(spec, Mapping):
        return canonical_yaml(spec, "preset")
    path, label = _resolve(spec)
    return _read(path, label)


def preset_label(spec: str | Path | Mapping[str, Any] | Randomizer) -> str:
    """A short name for a preset in a manifest and in messages: its name or path, ``(dict)``,
    or the Randomizer's class."""
    if isinstance(spec, Randomizer):
        return f"({type(spec).__name__} object)"
    if isinstance(spec, Mapping):
        return "(dict)"
    return str(spec)


def load_preset(spec: str | Path | Mapping[str, Any] | Randomizer) -> Compose:
    """Build a :class:`Compose` from a preset name, a YAML path or a dict (a Randomizer is
    returned as is, wrapped in a Compose when it is not one)."""
    if isinstance(spec, Randomizer):
        return spec if isinstance(spec, Compose) else Compose([spec])
    if not isinstance(spec, (str, Path)):
        return build_compose(spec, "preset")
    path, label = _resolve(spec)
    data = read_yaml(_read(path, label), f"preset {label!r}")
    return build_compose(data if data is not None else {}, f"preset {label!r}", base=path.parent)


def build_compose(data: Any, where: str, base: Path | None = None) -> Compose:
    """Validate a preset mapping and build its randomizers in canonical order (the built-in
    kinds in :data:`KINDS` order, then registered kinds in registration order).

    Relative ``image_dir`` and ``gan_checkpoint`` paths resolve against ``base`` (the preset
    file's folder).
    """
    if not isinstance(data, Mapping):
        raise PresetError(
            f"{where}: expected a mapping of randomizer kinds, got {type(data).__name__}"
        )
    kinds = known_kinds(load=False)
    if any(k not in kinds for k in data):
        kinds = known_kinds()  # a kind not known yet: load the entry points
    unknown = [k for k in data if k not in kinds]
    if unknown:
        raise unknown_kinds(unknown, where)
    randomizers = []
    names: dict[str, str] = {}
    for kind, cls in kinds.items():
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


def to_preset(randomizer: Randomizer) -> dict[str, Any] | None:
    """The preset dict that rebuilds ``randomizer`` (a kind or a Compose of kinds) exactly,
    or ``None`` when there is none: a part built in code (no recorded options), a class other
    than its kind's registered one, a kind twice, or an order other than the preset order
    (which would draw the params in another order)."""
    children = randomizer.randomizers if isinstance(randomizer, Compose) else [randomizer]
    kinds = known_kinds(load=False)
    order = list(kinds)
    preset: dict[str, Any] = {}
    for child in children:
        options = child.to_options()
        if options is None or kinds.get(child.kind) is not type(child) or child.kind in preset:
            return None
        preset[child.kind] = options
    positions = [order.index(k) for k in preset]
    return preset if positions == sorted(positions) else None


def canonical_yaml(data: Mapping[str, Any], where: str) -> str:
    """A preset dict as YAML with sorted keys: equal contents give equal text."""
    return yaml.safe_dump(_plain(data, where), sort_keys=True, allow_unicode=True)


def _plain(value: Any, where: str) -> Any:
    """``value`` as YAML's plain data (mappings with text keys, lists, numbers, text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)  # a NumPy scalar
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    raise PresetError(
        f"{where}: {value!r} ({type(value).__name__}) cannot be written to a preset; use "
        "numbers, text, lists and mappings"
    )


def check_preset_spec(spec: Any, *, resume: bool = False) -> None:
    """Refuse a preset of the wrong type, and resuming with a Randomizer whose options
    cannot be recorded (a resume could not tell whether it is the same preset)."""
    if spec is None or isinstance(spec, (str, Path, Mapping)):
        return
    if not isinstance(spec, Randomizer):
        raise TypeError(
            "preset must be None, a preset name, a path to a .yaml preset, a dict or a "
            f"randomizers.Randomizer; got {type(spec).__name__}"
        )
    if resume and to_preset(spec) is None:
        raise ValueError(
            f"cannot resume with preset {preset_label(spec)}: it was built in code, so its "
            "options are not in the first run's manifest and a resume cannot check that it "
            "is the same preset; build it with randomizers.load_preset(name, path or dict), "
            "or pass the preset's name, path or dict"
        )
