"""Exports take a preset as a dict or a Randomizer (a user kind included); the manifest
records it by content, so a resume checks it, and refuses what it cannot check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from randomizers import (
    ParamSpec,
    Randomizer,
    load_preset,
    register_randomizer,
    unregister_randomizer,
)
from randomizers.registry import registered_kinds

PRESET = {"table_tint": {"low": 0.1, "high": 0.5}, "lighting": {"ambient": [0.3, 0.7]}}


class TableTint(Randomizer):
    """The README's example kind: one grey level for the table."""

    options = ("low", "high")

    def __init__(self, *, low: float = 0.2, high: float = 0.9, name: str | None = None):
        super().__init__(name=name)
        self.low, self.high = low, high

    def space(self) -> list[ParamSpec]:
        return [ParamSpec("grey", "continuous", self.low, self.high)]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"grey": float(rng.uniform(self.low, self.high))}

    def apply(self, scene: Any, params: Any) -> None:
        g = params["grey"]
        scene.client.changeVisualShape(scene.sim.body("table"), -1, rgbaColor=[g, g, g, 1])


@pytest.fixture(autouse=True)
def _table_tint() -> Iterator[None]:
    register_randomizer("table_tint", TableTint)
    yield
    if "table_tint" in registered_kinds():
        unregister_randomizer("table_tint")


def _export(out: Path, preset: Any, **kwargs: Any) -> dict[str, Any]:
    config = ExportConfig(env_id="domrand/Push-v0", preset=preset, num_images=3, size=32,
                          out=str(out), **kwargs)  # fmt: skip
    export_dataset(config, progress=False, note=lambda _: None)
    return json.loads((out / "manifest.json").read_text())


def _files(out: Path) -> dict[str, bytes]:
    """Every image (samples and the preview sheet) and label file, by path."""
    paths = [*out.rglob("*.png"), *out.glob("labels/*.json")]
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(paths)}


def test_a_dict_preset_exports_like_its_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "tint.yaml"
    path.write_text(yaml.safe_dump(PRESET))
    from_dict = _export(tmp_path / "dict", PRESET)
    from_file = _export(tmp_path / "file", str(path))
    assert _files(tmp_path / "dict") == _files(tmp_path / "file")
    assert len(_files(tmp_path / "dict")) == 10  # rgb, instances and label x 3, preview
    assert from_dict["preset"] == {
        "name": "(dict)",
        "randomizers": ["lighting", "table_tint"],
        "contents": "lighting:\n  ambient:\n  - 0.3\n  - 0.7\n"
        "table_tint:\n  high: 0.5\n  low: 0.1\n",
    }
    assert yaml.safe_load(from_dict["preset"]["contents"]) == PRESET
    assert from_file["preset"]["name"] == str(path)


def test_a_randomizer_object_from_a_preset_is_recorded_by_its_options(tmp_path: Path) -> None:
    out = tmp_path / "obj"
    manifest = _export(out, load_preset(PRESET), workers=2)
    assert manifest["preset"]["name"] == "(Compose object)"
    assert yaml.safe_load(manifest["preset"]["contents"]) == PRESET
    reference = tmp_path / "dict"
    _export(reference, PRESET)
    assert _files(out) == _files(reference)  # the same preset: the same bytes
    # a resume with the dict checks the contents, not the form it was given in
    config = ExportConfig(env_id="domrand/Push-v0", preset=PRESET, num_images=4, size=32,
                          out=str(out), resume=True)  # fmt: skip
    export_dataset(config, progress=False, note=lambda _: None)
    assert len(list((out / "labels").glob("*.json"))) == 4


def test_a_randomizer_built_in_code_exports_but_cannot_resume(tmp_path: Path) -> None:
    tint = TableTint(low=0.2, high=0.3)
    manifest = _export(tmp_path / "code", tint)
    assert manifest["preset"] == {
        "name": "(TableTint object)", "randomizers": ["table_tint"], "contents": None,
    }  # fmt: skip
    with pytest.raises(ValueError) as err:
        ExportConfig(preset=tint, out=str(tmp_path / "code"), resume=True)
    assert str(err.value) == (
        "cannot resume with preset (TableTint object): it was built in code, so its options "
        "are not in the first run's manifest and a resume cannot check that it is the same "
        "preset; build it with randomizers.load_preset(name, path or dict), or pass the "
        "preset's name, path or dict"
    )


def test_a_preset_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError, match=r"preset must be None, a preset name, .* got int"):
        ExportConfig(preset=3)  # type: ignore[arg-type]
