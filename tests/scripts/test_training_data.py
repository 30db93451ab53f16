"""Training and evaluation data checked first: validation data of another size or env,
damaged exported datasets named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scripts.script_support import one_line_error

# ------------------------------------------------------------ regressor validation data


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--val", "LIFT64"], ["--val", "holds 64 px images", "--size 32"]),
        (["--val", "PUSH32"], ["--val", "exported from domrand/Push-v0", "domrand/Lift-v0"]),
        (["--threads", "-1"], ["threads must be >= 0", "got -1"]),
        (["--train", "LIFT48"], ["48x48 px images", "power of two >= 32"]),
    ],
    ids=["val-other-size", "val-other-env", "threads-negative", "train-48px"],
)  # fmt: skip
def test_regressor_training_checks_its_data_first(
    argv: list[str], words: list[str], data: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from scripts import train_regressor

    subst = {"LIFT64": str(data["lift64"]), "PUSH32": str(data["push32"]),
             "LIFT48": str(data["lift48"])}  # fmt: skip
    base = ["--train", str(data["lift32"]), "--out", str(tmp_path / "r.pt"), "--epochs", "1",
            "--width", "8", "--no-progress"]  # fmt: skip
    capsys.readouterr()
    assert train_regressor.main([*base, *[subst.get(a, a) for a in argv]]) == 2
    one_line_error(capsys, *words)
    assert not (tmp_path / "r.pt").exists()


# ------------------------------------------------------------ damaged exported datasets


def _damage_dataset(src: Path, dst: Path, how: str) -> Path:
    import shutil

    shutil.copytree(src, dst)
    index = dst / "samples.jsonl"
    lines = index.read_text().splitlines()
    if how == "line4-not-json":
        lines[3] = lines[3][:40] + "#" + lines[3][41:]
    elif how == "line4-not-a-record":
        lines[3] = "[1, 2]"
    elif how == "line2-no-objects":
        record = json.loads(lines[1])
        del record["objects"]
        lines[1] = json.dumps(record)
    elif how == "image-missing":
        (dst / "rgb" / "000002.png").unlink()
    elif how == "image-undecodable":
        (dst / "rgb" / "000001.png").write_bytes(b"not a png")
    if how == "not-utf8":
        index.write_bytes(b"\xff\xfe" + index.read_bytes())
    else:
        index.write_text("\n".join(lines) + "\n")
    return dst


DATA_CASES: list[tuple[str, str, str, list[str]]] = [
    ("train-line4-not-json", "train_regressor", "line4-not-json",
     ["samples.jsonl' line 4 is not valid JSON", "Expecting value", "--resume"]),
    ("evaluate-line4-not-json", "evaluate_regressor", "line4-not-json",
     ["samples.jsonl' line 4 is not valid JSON", "--resume"]),
    ("train-line4-not-a-record", "train_regressor", "line4-not-a-record",
     ["samples.jsonl' line 4 is not a sample record", "--resume"]),
    ("evaluate-line2-no-objects", "evaluate_regressor", "line2-no-objects",
     ["samples.jsonl' line 2: the record of sample 1 lacks 'objects'", "--resume"]),
    ("train-image-missing", "train_regressor", "image-missing",
     ["rgb/000002.png' (the image of sample 2, samples.jsonl line 3) does not exist", "--resume"]),
    ("evaluate-image-undecodable", "evaluate_regressor", "image-undecodable",
     ["rgb/000001.png' (the image of sample 1, samples.jsonl line 2) does not decode as an image",
      "--resume"]),
    ("train-not-utf8", "train_regressor", "not-utf8",
     ["samples.jsonl' is not UTF-8 text (byte 0)", "--resume"]),
]  # fmt: skip


@pytest.mark.parametrize(("script", "how", "words"), [c[1:] for c in DATA_CASES],
                         ids=[c[0] for c in DATA_CASES])  # fmt: skip
def test_damaged_datasets_name_the_file(
    script: str, how: str, words: list[str], data: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from scripts import evaluate_regressor, train_regressor

    bad = _damage_dataset(data["lift32"], tmp_path / "dmg", how)
    capsys.readouterr()
    if script == "train_regressor":
        code = train_regressor.main(["--train", str(bad), "--out", str(tmp_path / "r.pt"),
                                     "--epochs", "1", "--width", "8", "--no-progress"])  # fmt: skip
    else:
        code = evaluate_regressor.main(["--model", str(data["regressor"]), "--data", str(bad)])
    assert code == 2
    line = one_line_error(capsys, *words)
    assert str(bad) in line
    assert not (tmp_path / "r.pt").exists()
