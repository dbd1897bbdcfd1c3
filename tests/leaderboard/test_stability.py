"""challengeR's ranking stability on synthetic phases: tiers, Kendall's tau, Holm, Wilcoxon, the
paired bootstrap's exactness for each column method, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from aibench_plugins.components.analysis import MetricData
from aibench_plugins.default_plugins.classification import confusion as C
from aibench_plugins.default_plugins.regression import r2, rmse
from aibench_plugins.leaderboard import stability
from aibench_plugins.leaderboard.analysis import Settings, analyse
from aibench_plugins.leaderboard.cases import CaseColumn, ConfusionColumn, PerCaseColumn, RecomputeColumn, column_for
from aibench_plugins.leaderboard.ranking import parse_rankings
from aibench_plugins.leaderboard.sources import Entry
from aibench_plugins.stats import case_weights


def _labels_phase(accuracies: dict[str, float], n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Three-class truth and, per submission, predictions right with the given probability,
    each submission's errors independent of the others'."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    out = {}
    for name, accuracy in accuracies.items():
        predicted = truth.copy()
        wrong = rng.random(n) >= accuracy
        predicted[wrong] = (predicted[wrong] + rng.integers(1, 3, wrong.sum())) % 3
        out[name] = predicted
    return truth, out


def _column(metric: Any, key: str, truth: np.ndarray, predictions: dict[str, np.ndarray],
            params: dict[str, Any] | None = None) -> CaseColumn:
    ids = np.arange(len(truth))
    return column_for(key, key, 4, [MetricData(key, key, metric.info, params or {}, metric, ids, p, truth)
                                    for p in predictions.values()])


def _compute(metric: Any, predicted: Any, truth: Any, params: dict[str, Any] | None = None) -> float:
    """The metric's own computation, independent of the leaderboard's fast paths."""
    state = metric(**(params or {}))
    state.update(predictions=predicted, references=truth)
    return float(state.compute()[metric.info.primary])


def _entries(names: Any) -> list[Entry]:
    return [Entry(name, Path("."), Path(".")) for name in names]


def _document(columns: list[CaseColumn], names: Any, spec: str | None = None, **settings: Any) -> dict[str, Any]:
    return analyse(columns, parse_rankings(spec, [c.key for c in columns]), _entries(names), Settings(**settings))


def test_truly_tied_pair_shares_a_tier_and_the_truly_better_one_does_not() -> None:
    truth, predictions = _labels_phase({"tied_a": 0.8, "tied_b": 0.8, "better": 0.9}, 2000, seed=3)
    columns = [_column(C.accuracy, "accuracy", truth, predictions)]
    document = _document(columns, predictions, replicates=500)
    assert document["significance"]["test"] == "wilcoxon"
    assert [t["submissions"] for t in document["tiers"]] == [["better"], sorted(["tied_a", "tied_b"],
                                                                                key=document["significance"]["order"].index)]
    # the same with a confusion-matrix metric: no per-case values, so the paired bootstrap decides
    columns = [_column(C.f1, "macro_f1", truth, predictions, {"average": "macro"})]
    document = _document(columns, predictions, replicates=500)
    assert document["significance"]["test"] == "bootstrap"
    assert document["tiers"][0]["submissions"] == ["better"]
    assert sorted(document["tiers"][1]["submissions"]) == ["tied_a", "tied_b"] and len(document["tiers"]) == 2


def test_kendall_tau_is_near_one_for_a_clear_ranking_and_lower_for_a_noisy_one() -> None:
    clear_truth, clear = _labels_phase({f"s{i}": 0.5 + 0.1 * i for i in range(5)}, 1000, seed=1)
    noisy_truth, noisy = _labels_phase({f"s{i}": 0.7 for i in range(5)}, 100, seed=1)
    clear_tau = _document([_column(C.accuracy, "accuracy", clear_truth, clear)], clear,
                          replicates=300)["rankings"][0]["kendall_tau"]
    noisy_tau = _document([_column(C.accuracy, "accuracy", noisy_truth, noisy)], noisy,
                          replicates=300)["rankings"][0]["kendall_tau"]
    assert clear_tau["median"] == pytest.approx(1.0) and clear_tau["mean"] > 0.97
    assert noisy_tau["mean"] < 0.6 and noisy_tau["low"] < 0
    assert clear_tau["n"] + clear_tau["excluded"] == 300


def test_kendall_tau_excludes_samples_where_every_submission_ties() -> None:
    full = np.array([1.0, 2.0, 3.0])
    ranks = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [3.0, 2.0, 1.0]])
    taus, excluded = stability.kendall_taus(ranks, full)
    assert excluded == 1 and taus.tolist() == pytest.approx([1.0, -1.0])


def test_holm_matches_a_hand_computation() -> None:
    # sorted: 0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> max(0.06, 0.04) = 0.06
    assert stability.holm(np.array([0.01, 0.04, 0.03, 0.005])).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # capped at 1, NaN counts as 1
    assert stability.holm(np.array([0.5, np.nan, 0.4])).tolist() == pytest.approx([1.0, 1.0, 1.0])


@pytest.mark.parametrize("higher_better", [True, False], ids=["maximize", "minimize"])
def test_wilcoxon_p_values_match_scipy_called_directly(higher_better: bool) -> None:
    rng = np.random.default_rng(7)
    values = np.round(rng.normal(0, 1, (60, 4)) + np.array([0.0, 0.3, 0.3, -0.5]), 1)  # ties and zeros
    values[:, 3] = values[:, 2]  # a pair with no difference at all: p = 1
    p = stability.wilcoxon_pvalues(values, higher_better, chunk=2)
    alternative = "greater" if higher_better else "less"
    for i in range(4):
        for j in range(4):
            if i == j or {i, j} == {2, 3}:
                continue
            expected = stats.wilcoxon(values[:, i], values[:, j], zero_method="wilcox", correction=True,
                                      alternative=alternative, method="asymptotic").pvalue
            assert p[i, j] == pytest.approx(expected, rel=1e-12), (i, j)
    assert p[2, 3] == p[3, 2] == 1.0 and np.isnan(p[0, 0])


def test_tiers_start_when_the_leader_is_significantly_better() -> None:
    significant = np.zeros((4, 4), dtype=bool)
    significant[0, 2] = significant[0, 3] = True  # 0 beats 2 and 3; 2 does not beat 3
    assert stability.tiers([0, 1, 2, 3], significant) == [[0, 1], [2, 3]]
    significant[2, 3] = True
    assert stability.tiers([0, 1, 2, 3], significant) == [[0, 1], [2], [3]]


RESAMPLED = [(C.balanced_accuracy, {}), (C.f1, {}), (C.f1, {"average": "weighted"}), (C.mcc, {}),
             (C.cohen_kappa, {}), (C.accuracy, {}),
             (C.cohen_kappa, {"weights": "quadratic"}), (C.recall, {"labels": [0, 1]})]


@pytest.mark.parametrize(("metric", "params"), RESAMPLED, ids=[f"{m.info.id}-{p}" for m, p in RESAMPLED])
def test_each_bootstrap_sample_gives_the_metric_of_the_resampled_rows(metric: Any, params: dict[str, Any]) -> None:
    truth, predictions = _labels_phase({"a": 0.6, "b": 0.75}, 120, seed=2)
    column = _column(metric, "m", truth, predictions, params)
    assert isinstance(column, PerCaseColumn if metric is C.accuracy else ConfusionColumn)
    weights = next(case_weights(120, 5, seed=0))
    got = column.replicates(weights)
    rows = [np.repeat(np.arange(120), w.astype(int)) for w in weights]
    expected = [[_compute(metric, p[r], truth[r], params) for p in predictions.values()] for r in rows]
    assert got == pytest.approx(np.array(expected), abs=1e-12)
    assert column.replicates(np.ones((1, 120)))[0] == pytest.approx(column.values, abs=1e-12)


def test_rmse_uses_squared_errors_per_case_and_a_generic_metric_is_recomputed() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=80)
    predictions = {"a": truth + rng.normal(0, 0.5, 80), "b": truth + rng.normal(0, 1.0, 80)}
    by_rmse = _column(rmse, "rmse", truth, predictions)
    assert isinstance(by_rmse, PerCaseColumn) and by_rmse.per_case_name == "squared_error"
    by_r2 = _column(r2, "r2", truth, predictions)
    assert isinstance(by_r2, RecomputeColumn)
    weights = next(case_weights(80, 4, seed=1))
    for column, metric in ((by_rmse, rmse), (by_r2, r2)):
        rows = [np.repeat(np.arange(80), w.astype(int)) for w in weights]
        expected = [[_compute(metric, p[r], truth[r]) for p in predictions.values()] for r in rows]
        assert column.replicates(weights) == pytest.approx(np.array(expected), rel=1e-9)
    document = _document([by_rmse, by_r2], predictions, replicates=50)
    assert any("r2" in note and "slow path" in note for note in document["notes"])
    assert document["rankings"][0]["higher_first"] is False  # RMSE: lower first


def test_same_seed_same_document_and_another_seed_another() -> None:
    truth, predictions = _labels_phase({"a": 0.7, "b": 0.72, "c": 0.75}, 200, seed=9)
    columns = [_column(C.accuracy, "accuracy", truth, predictions), _column(C.mcc, "mcc", truth, predictions)]
    spec = '[{"kind": "mean_rank", "columns": ["accuracy", "mcc"]}, {"kind": "dynascore", "weights": {"accuracy": 1, "mcc": 1}}]'
    first = json.dumps(_document(columns, predictions, spec, replicates=200, seed=11))
    assert json.dumps(_document(columns, predictions, spec, replicates=200, seed=11)) == first
    assert json.dumps(_document(columns, predictions, spec, replicates=200, seed=12)) != first


def test_rank_distribution_counts_median_and_interval() -> None:
    ranks = np.array([[1, 2], [1, 2], [2, 1], [1, 2]], dtype=float)
    summary = stability.rank_summary(ranks, 0.5)
    assert summary["counts"].tolist() == [[3, 1], [1, 3]]
    assert summary["median"].tolist() == [1.0, 2.0]
    assert summary["low"].tolist() == [1.0, 1.75] and summary["high"].tolist() == [1.25, 2.0]
