"""Register the ``domrand/*`` Gymnasium ids as soon as ``gymnasium`` is imported.

Gymnasium >= 1.0 no longer loads the ``gymnasium.envs`` entry-point group, so this
module (imported by ``domrand_gymnasium.pth`` at interpreter start-up) watches for
the first import of ``gymnasium`` and then registers the ids. It imports nothing
heavy: registration only records string entry points.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import warnings


def _register() -> None:
    try:
        from envs.registration import register_envs

        register_envs()
    except Exception as exc:  # never break the user's interpreter start-up
        warnings.warn(f"domrand: could not register Gymnasium envs: {exc!r}", stacklevel=2)


class _GymnasiumImportWatcher(importlib.abc.MetaPathFinder):
    """Meta-path finder that runs ``_register`` right after ``gymnasium`` is executed."""

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):  # type: ignore[no-untyped-def]
            original_exec(module)
            _register()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "gymnasium" in sys.modules:
    _register()
elif not any(isinstance(f, _GymnasiumImportWatcher) for f in sys.meta_path):
    sys.meta_path.insert(0, _GymnasiumImportWatcher())
