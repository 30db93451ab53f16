"""Rare-event balancing: exact encodings, valid proposals, proposals find the rare corner."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.episodes import labels_for
from agents.experiments.balance import BalanceConfig, balance, episode_space, save_balanced
from agents.failure_predictor import collect_steps, evaluate
from randomizers import load_preset
from randomizers.rare_events import proposals_needed, propose
from randomizers.spaces import decode, encode
from tests.randomizers.kind_presets import KIND_PRESETS


@pytest.mark.parametrize("kind", list(KIND_PRESETS))
def test_encode_decode_round_trips_exactly(kind: str) -> None:
    compose = load_preset(KIND_PRESETS[kind])
    specs = compose.space()
    rng = np.random.default_rng(3)
    for _ in range(10):
        flat = compose.flatten(compose.sample(rng))
        assert decode(specs, encode(specs, flat)) == flat


CORNER = {"physics": {"mass": [0.5, 2.0], "lateral_friction": [0.2, 1.5]}}


def _corner(params: dict) -> bool:
    return params["physics"]["mass"] > 1.7 and params["physics"]["lateral_friction"] < 0.45


def test_proposals_land_in_the_rare_corner() -> None:
    compose = load_preset(CORNER)
    rng = np.random.default_rng(0)
    params = [compose.sample(rng) for _ in range(1500)]
    labels = np.array([_corner(p) for p in params], dtype=int)
    natural = labels.mean()
    assert 0.01 < natural < 0.06  # rare
    out = propose(compose, params, labels, 300, seed=1)
    assert out.method == "SMOTE" and len(out.params) == 300
    rate = np.mean([_corner(p) for p in out.params])
    assert rate > 10 * natural  # SMOTE interpolates between rare episodes: mostly inside
    random_rate = np.mean([_corner(compose.sample(rng)) for _ in range(1000)])
    assert rate > 10 * random_rate


def test_mixed_params_use_smote_nc_and_stay_in_the_space() -> None:
    preset = {
        "physics": {"mass": [0.5, 2.0], "latency": {"dist": "choice", "values": [0, 1, 2]}},
        "lighting": {"ambient": [0.2, 0.8], "shadow_probability": 0.5},
    }
    compose = load_preset(preset)
    rng = np.random.default_rng(0)
    params = [compose.sample(rng) for _ in range(200)]
    labels = np.array([p["lighting"]["shadow"] == 1 and p["physics"]["mass"] > 1.5 for p in params])
    out = propose(compose, params, labels.astype(int), 50, seed=0)
    assert out.method == "SMOTE-NC"
    specs = {s.name: s for s in compose.space()}
    for p in out.params:
        flat = compose.flatten(p)
        assert flat["lighting/shadow"] in (0, 1)
        assert flat["physics/latency"] in (0, 1, 2)
        for name in ("physics/mass", "lighting/ambient"):
            assert specs[name].low <= flat[name] <= specs[name].high
        assert compose.validate(p) == p


def test_too_few_rare_episodes_says_how_many_and_what_to_do() -> None:
    compose = load_preset(CORNER)
    rng = np.random.default_rng(0)
    params = [compose.sample(rng) for _ in range(50)]
    labels = np.zeros(50, dtype=int)
    labels[:3] = 1
    with pytest.raises(
        ValueError,
        match=r"found 3 episodes with .* out of 50; SMOTE needs at least k_neighbors \+ 1 = 6\. Run more rollouts or lower k_neighbors",
    ):
        propose(compose, params, labels, 10)


def test_unknown_event_lists_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match=r"unknown event 'explosion'; the envs emit: success, grasp_success"
    ):
        labels_for([], "explosion")
    with pytest.raises(ValueError, match="unknown event"):
        BalanceConfig(event="explosion")


def test_proposals_needed() -> None:
    assert proposals_needed(100, 10, 0.5, 0.9) == 100  # (50 - 10) / (0.9 - 0.5)
    assert proposals_needed(100, 60, 0.5, 0.9) == 0
    assert proposals_needed(100, 10, 0.5, 0.4) == -1


def test_balance_end_to_end_resimulates_real_episodes(tmp_path) -> None:
    config = BalanceConfig(
        env_id="domrand/Lift-v0", preset="physics", event="robot_table_collision",
        rollouts=40, batch=20, max_rounds=1, k_neighbors=3, target_rate=0.9,
    )  # fmt: skip
    report, natural, resim = balance(config, progress=False)
    assert report.n_natural == 40 and report.n_proposals == 20 and report.rounds == 1
    assert report.natural_rate == labels_for(natural, config.event).mean()
    assert report.proposal_rate == labels_for(resim, config.event).mean()
    out = save_balanced(tmp_path, config, report, natural, resim)
    rows = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert [r["source"] for r in rows].count("proposal") == 20
    space = episode_space("domrand/Lift-v0", "physics")  # the preset's params and placement
    for r in rows:
        assert space.validate(r["params"]) == r["params"]
    assert "rate in proposals" in (out / "summary.md").read_text()


def test_failure_predictor_rows() -> None:
    data = collect_steps(
        "domrand/Lift-v0", "physics", "robot_table_collision", episodes=40, horizon=3,
        progress=False,
    )  # fmt: skip
    assert data.X.shape[0] == data.y.shape[0] == data.episode.shape[0]
    assert 0 < data.y.mean() < 0.5
    rows = {smote: evaluate(data, use_smote=smote, k_neighbors=3) for smote in (False, True)}
    for r in rows.values():
        assert 0 <= r["recall"] <= 1 and 0 <= r["balanced_accuracy"] <= 1 and 0 < r["pr_auc"] <= 1
    assert rows[True]["recall"] >= rows[False]["recall"]


def test_scripts_report_errors(capsys) -> None:
    from scripts import balance_rare_events, train_failure_predictor

    assert balance_rare_events.main(["--event", "explosion", "--no-progress"]) == 2
    assert "unknown event 'explosion'" in capsys.readouterr().err
    assert train_failure_predictor.main(["--event", "explosion", "--no-progress"]) == 2
    assert "unknown event 'explosion'" in capsys.readouterr().err


def test_balanced_episodes_export_as_a_dataset(tmp_path, capsys) -> None:
    from scripts import balance_rare_events

    args = [
        "--env", "domrand/Lift-v0", "--preset", "physics", "--event", "robot_table_collision",
        "--rollouts", "30", "--batch", "10", "--max-rounds", "1", "--k-neighbors", "3",
        "--target-rate", "0.9", "--out", str(tmp_path / "bal"), "--export", str(tmp_path / "ds"),
        "--size", "32", "--no-progress",
    ]  # fmt: skip
    assert balance_rare_events.main(args) == 0
    rows = [json.loads(x) for x in (tmp_path / "bal" / "episodes.jsonl").read_text().splitlines()]
    samples = [json.loads(x) for x in (tmp_path / "ds" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == len(rows) == 40
    for row, sample in zip(rows, samples, strict=True):
        assert sample["seed"] == row["seed"] and sample["randomization"] == row["params"]
    assert "exported 40 images" in capsys.readouterr().out
