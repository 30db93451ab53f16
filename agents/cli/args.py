"""Command-line flags made from a config dataclass's fields, so a setting is declared once.

A field ``num_images: int = 100`` becomes ``--num-images`` with ``type=int`` and
``default=100``; a ``bool`` field becomes a switch (``--depth`` when it defaults to False,
``--no-visibility`` when it defaults to True). The parsed value lands under the field's
own name, so :func:`config_kwargs` hands the namespace back to the dataclass unchanged.
Help texts live with the command (the dataclasses belong to the library), as a mapping.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

_SCALARS: tuple[type, ...] = (int, float, str)


def _scalar(annotation: Any, cls: type, name: str) -> type:
    """The argparse ``type`` for a field annotated ``T`` or ``T | None`` (T: int, float, str, bool)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            annotation = rest[0]
    if annotation in (*_SCALARS, bool):
        return annotation
    raise TypeError(
        f"{cls.__name__}.{name} is annotated {annotation!r}; a flag is made only from int, "
        f"float, str or bool (optionally | None): declare this flag by hand"
    )


def _annotation(cls: type, name: str) -> Any:
    """Field ``name``'s annotation, evaluated (modules with ``from __future__ import annotations``
    store it as text); only this field's, so names imported for type checking alone do no harm."""
    annotation = _fields(cls)[name].type
    if isinstance(annotation, str):
        annotation = eval(annotation, vars(sys.modules[cls.__module__]), {})
    return annotation


def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"expected a dataclass, got {cls!r}")
    return {f.name: f for f in dataclasses.fields(cls)}


def field_default(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (its factory's value if it has one)."""
    field = _fields(cls)[name]
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise ValueError(f"{cls.__name__}.{name} has no default; give the flag required=True")


def add_fields(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    names: Iterable[str],
    *,
    help: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Add one flag per field in ``names`` of dataclass ``cls``, in that order.

    ``help`` maps a field to its help text; ``flags`` renames a field's flag (``env_id`` ->
    ``--env``); ``extra`` adds argparse keywords to a field's flag (``choices``,
    ``required``, ``metavar``). Type and default always come from the dataclass. An unknown
    field name raises ``ValueError`` listing the fields.
    """
    fields = _fields(cls)
    help, flags, extra = help or {}, flags or {}, extra or {}
    names = list(names)
    for given in (names, help, flags, extra):
        unknown = [n for n in given if n not in fields]
        if unknown:
            raise ValueError(
                f"unknown field(s) {unknown} of {cls.__name__}; fields: {', '.join(fields)}"
            )
    for name in names:
        kind = _scalar(_annotation(cls, name), cls, name)
        kwargs: dict[str, Any] = {"dest": name}
        required = bool(extra.get(name, {}).get("required"))
        default = None if required else field_default(cls, name)
        if kind is bool:
            flag = flags.get(name, f"--{'no-' if default else ''}{name.replace('_', '-')}")
            kwargs["action"] = "store_false" if default else "store_true"
        else:
            flag = flags.get(name, f"--{name.replace('_', '-')}")
            kwargs["type"] = kind
            if not required:
                kwargs["default"] = default
            if "choices" not in extra.get(name, {}):
                # the metavar argparse would derive from the flag, not from the field name
                kwargs["metavar"] = flag.lstrip("-").replace("-", "_").upper()
        if name in help:
            kwargs["help"] = help[name]
        kwargs.update(extra.get(name, {}))
        parser.add_argument(flag, **kwargs)


def config_kwargs(args: argparse.Namespace, cls: type, names: Iterable[str]) -> dict[str, Any]:
    """The parsed values of the flags :func:`add_fields` made for ``names``, by field name."""
    fields, names = _fields(cls), list(names)
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} of {cls.__name__}; fields: {', '.join(fields)}")
    return {name: getattr(args, name) for name in names}


class EnvIdAction(argparse.Action):
    """``--env``: any registered domrand-compatible Gymnasium id, or ``module:Id`` (imports
    ``module``, which registers ``Id``, and stores ``Id``). Anything else ends the command
    with one ``error: ...`` line naming the registered ids, and exit status 2."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from envs.registration import check_env_id

        try:
            if isinstance(values, list):
                resolved: Any = [check_env_id(v) for v in values]
            else:
                resolved = check_env_id(values)
        except ValueError as exc:
            parser.exit(2, f"error: {exc}\n")
        setattr(namespace, self.dest, resolved)


ENV_HELP = "env id: a registered domrand env (built-in: {ids}) or module:Id"


def env_help(extra: str = "") -> str:
    """The help text of an ``--env`` flag (``extra``: the command's own remark)."""
    from envs.registration import ENV_IDS

    return ENV_HELP.format(ids=", ".join(ENV_IDS)) + (f"; {extra}" if extra else "")


def add_scene_flags(p: argparse.ArgumentParser) -> None:
    """``--robot`` and ``--object``: the scene's robot and the task object, for any command
    that builds envs."""
    from envs.robots import ROBOTS

    p.add_argument("--robot", default=None, choices=list(ROBOTS), help="robot (default: panda)")
    p.add_argument("--object", default=None, metavar="NAME|PATH",
                   help="the task object of Push/Lift: a built-in name (mug, duck, ...) or a "
                   ".urdf/.obj/.stl path (default: the cube)")  # fmt: skip


def scene_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``gym.make`` arguments that :func:`add_scene_flags`' flags ask for."""
    return {
        **({"robot": args.robot} if args.robot else {}),
        **({"task_kwargs": {"object": args.object}} if args.object else {}),
    }


def add_precision_flag(p: argparse.ArgumentParser, default: str = "fp32") -> None:
    """``--precision``: the number format of a training forward pass (agents.training)."""
    from agents.training import PRECISIONS

    p.add_argument("--precision", default=default, choices=PRECISIONS,
                   help="bf16: train the forward pass in bfloat16 (about 2x faster on CPUs "
                   "with AMX or AVX-512 BF16, e.g. Xeon Sapphire Rapids; slower elsewhere; "
                   "weights stay float32)")  # fmt: skip
