"""The whole analysis against a naive, independent computation on the same bootstrap samples:
each sample's metric recomputed by the component on the repeated rows, the Dynascore by a pandas
transcription of Dynabench's procedure, ranks by scipy, intervals by numpy, tau by scipy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aibench_plugins.components.analysis import MetricData
from aibench_plugins.default_plugins.classification import confusion as C
from aibench_plugins.leaderboard import stability
from aibench_plugins.leaderboard.analysis import Settings, analyse
from aibench_plugins.leaderboard.cases import column_for
from aibench_plugins.leaderboard.ranking import parse_rankings
from aibench_plugins.leaderboard.sources import Entry
from aibench_plugins.stats import case_weights

METRICS = {"accuracy": (C.accuracy, {}), "macro_f1": (C.f1, {"average": "macro"}), "mcc": (C.mcc, {})}


def dynabench(frame: pd.DataFrame, performance: str, weights: dict[str, float]) -> pd.Series:
    """Dynabench's Dynascore, written out with pandas: convert, sort by performance, AMRS over the
    adjacent pairs whose performance step passes the cut-off, weighted sum of the scaled columns."""
    converted = frame.sort_values(performance).copy()  # every metric here is maximised, offsets 0
    total = sum(weights.values())
    delta = converted.diff()
    keep = delta[performance].abs() > converted[performance].max() * 1e-4
    score = pd.Series(0.0, index=converted.index)
    for column, weight in weights.items():
        amrs = (delta.loc[keep, column].abs() / delta.loc[keep, performance]).mean()
        score += converted[column] / abs(amrs) * weight / total
    return score.sort_index()


def test_scores_ranks_intervals_and_tau_match_a_naive_computation() -> None:
    rng = np.random.default_rng(21)
    n, names = 150, ["a", "b", "c", "d"]
    truth = rng.integers(0, 3, n)
    predictions = {}
    for name, accuracy in zip(names, (0.6, 0.65, 0.7, 0.8)):
        wrong = rng.random(n) >= accuracy
        predictions[name] = np.where(wrong, (truth + rng.integers(1, 3, n)) % 3, truth)
    ids = np.arange(n)
    columns = [column_for(key, key, 4, [MetricData(key, key, metric.info, params, metric, ids, p, truth)
                                        for p in predictions.values()]) for key, (metric, params) in METRICS.items()]
    weights = {"macro_f1": 2.0, "mcc": 1.0}
    spec = ('[{"kind": "dynascore", "weights": {"macro_f1": 2, "mcc": 1}, "performance": "macro_f1"}, '
            '{"kind": "mean_rank", "columns": ["accuracy", "mcc"]}]')
    replicates, seed = 120, 5
    document = analyse(columns, parse_rankings(spec, list(METRICS)), [Entry(x, Path("."), Path(".")) for x in names],
                       Settings(replicates=replicates, seed=seed))

    samples = np.concatenate(list(case_weights(n, replicates, seed)))
    full = pd.DataFrame({key: [_metric(key, predictions[x], truth) for x in names] for key in METRICS})
    dyna, mean_rank = [], []
    for w in samples:
        rows = np.repeat(np.arange(n), w.astype(int))
        frame = pd.DataFrame({key: [_metric(key, predictions[x][rows], truth[rows]) for x in names] for key in METRICS})
        dyna.append(dynabench(frame, "macro_f1", weights).to_numpy())
        mean_rank.append(np.mean([stats.rankdata(-frame[c], method="min") for c in ("accuracy", "mcc")], axis=0))
    for ranking, scores, full_score, higher in (
            (document["rankings"][0], np.array(dyna), dynabench(full, "macro_f1", weights).to_numpy(), True),
            (document["rankings"][1], np.array(mean_rank),
             np.mean([stats.rankdata(-full[c], method="min") for c in ("accuracy", "mcc")], axis=0), False)):
        ranks = np.array([stats.rankdata(-s if higher else s, method="min") for s in scores])
        full_rank = stats.rankdata(-full_score if higher else full_score, method="min")
        by_name = {e["submission"]: e for e in ranking["entries"]}
        for i, name in enumerate(names):
            entry = by_name[name]
            assert entry["score"] == pytest.approx(full_score[i], abs=1e-12)
            assert entry["rank"] == full_rank[i]
            assert [entry["score_low"], entry["score_high"]] == pytest.approx(
                np.quantile(scores[:, i], [0.025, 0.975]).tolist(), abs=1e-12)
            assert [entry["rank_low"], entry["rank_median"], entry["rank_high"]] == pytest.approx(
                np.quantile(ranks[:, i], [0.025, 0.5, 0.975]).tolist())
            assert entry["rank_counts"] == [int((ranks[:, i] == r).sum()) for r in range(1, 5)]
        taus = [stats.kendalltau(r, full_rank).statistic for r in ranks if not (r == r[0]).all()]
        assert ranking["kendall_tau"]["mean"] == pytest.approx(np.mean(taus), abs=1e-12)
    assert document["rankings"][0]["amrs"]["macro_f1"] == pytest.approx(1.0)


def _metric(key: str, predicted: Any, truth: Any) -> float:
    metric, params = METRICS[key]
    state = metric(**params)
    state.update(predictions=predicted, references=truth)
    return float(state.compute()[metric.info.id])


def test_paired_bootstrap_differences_and_p_values_by_hand() -> None:
    scores = np.array([[0.9, 0.8, 0.85], [0.7, 0.75, 0.8], [0.95, 0.6, 0.9], [0.8, 0.8, 0.7]])
    result = stability.pairwise(scores, higher_first=True, confidence=0.5)
    d01 = scores[:, 0] - scores[:, 1]  # 0.1, -0.05, 0.35, 0.0
    assert result["p"][0, 1] == pytest.approx((1 + 2) / 5)  # two samples with d <= 0
    assert [result["low"][0, 1], result["high"][0, 1]] == pytest.approx(np.quantile(d01, [0.25, 0.75]).tolist())
    assert result["low"][1, 0] == pytest.approx(-result["high"][0, 1])
    lower = stability.pairwise(scores, higher_first=False, confidence=0.5)  # lower first: the sign flips
    assert lower["p"][1, 0] == pytest.approx(result["p"][0, 1])
