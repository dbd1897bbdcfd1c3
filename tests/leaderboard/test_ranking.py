"""The declared ranking functions: Dynascore against a hand computation, metric order, mean rank,
and the spec's errors."""

from __future__ import annotations

import numpy as np
import pytest

from aibench_plugins.leaderboard.ranking import parse_rankings, ranks_min
from aibench_plugins.leaderboard.sources import LeaderboardError

COLUMNS = ["acc", "mae"]
DIRECTIONS = ["maximize", "minimize"]


def test_dynascore_matches_a_hand_computation() -> None:
    """
    sub  acc         mae    x_acc (= acc)  x_mae (= -mae)
    A    0.70        0.30   0.70           -0.30
    B    0.80        0.25   0.80           -0.25
    C    0.90        0.05   0.90           -0.05
    D    0.90000005  0.50   0.90000005     -0.50
    Sorted by acc: A, B, C, D. Threshold 1e-4 * max(x_acc) = 9.0000005e-5.
      A->B: dacc 0.10, |dmae| 0.05 -> rates acc 1, mae 0.5
      B->C: dacc 0.10, |dmae| 0.20 -> rates acc 1, mae 2.0
      C->D: dacc 5e-8 <= threshold: skipped (its mae rate would be 0.45 / 5e-8)
    AMRS_acc = 1, AMRS_mae = (0.5 + 2.0) / 2 = 1.25. Weights 1 and 1 -> 0.5 and 0.5.
      A: 0.5 * 0.70 / 1 + 0.5 * -0.30 / 1.25 = 0.35 - 0.12 = 0.23
      B: 0.40 - 0.10 = 0.30
      C: 0.45 - 0.02 = 0.43
      D: 0.450000025 - 0.20 = 0.250000025
    Ranks: C 1, B 2, D 3, A 4.
    """
    [ranking] = parse_rankings('{"kind": "dynascore", "weights": {"acc": 1, "mae": 1}, "performance": "acc"}', COLUMNS)
    values = np.array([[[0.70, 0.30], [0.80, 0.25], [0.90, 0.05], [0.90000005, 0.50]]])
    score, rank = ranking.evaluate(values, COLUMNS, DIRECTIONS)
    assert score[0].tolist() == pytest.approx([0.23, 0.30, 0.43, 0.250000025], abs=1e-12)
    assert rank[0].tolist() == [4, 2, 1, 3]
    assert ranking.amrs(values, COLUMNS, DIRECTIONS) == pytest.approx({"acc": 1.0, "mae": 1.25})
    assert ranking.higher_first(COLUMNS, DIRECTIONS)


def test_dynascore_offsets_and_undefined_without_a_qualifying_pair() -> None:
    [ranking] = parse_rankings('{"kind": "dynascore", "weights": {"acc": 1, "mae": 3}, "offsets": {"mae": 1}}',
                               COLUMNS)
    # x_mae = 1 - mae: A 0.7, B 0.75, C 0.95; rates mae 0.5, 2.0 -> AMRS 1.25; weights 0.25, 0.75
    values = np.array([[[0.70, 0.30], [0.80, 0.25], [0.90, 0.05]]])
    score, _ = ranking.evaluate(values, COLUMNS, DIRECTIONS)
    assert score[0].tolist() == pytest.approx([0.25 * 0.7 + 0.75 * 0.7 / 1.25, 0.25 * 0.8 + 0.75 * 0.75 / 1.25,
                                               0.25 * 0.9 + 0.75 * 0.95 / 1.25])
    tied = np.array([[[0.5, 0.30], [0.5, 0.25], [0.5, 0.05]]])
    assert np.isnan(ranking.evaluate(tied, COLUMNS, DIRECTIONS)[0]).all()


def test_metric_order_breaks_ties_with_the_next_column_and_mean_rank_averages_ranks() -> None:
    order, mean = parse_rankings('[{"kind": "metric_order", "columns": ["acc", "mae"]}, '
                                 '{"kind": "mean_rank", "columns": ["acc", "mae"]}]', COLUMNS)
    values = np.array([[[0.8, 0.3], [0.8, 0.2], [0.9, 0.4], [0.7, 0.1]]])
    assert order.evaluate(values, COLUMNS, DIRECTIONS)[1][0].tolist() == [3, 2, 1, 4]
    # acc ranks 2, 2, 1, 4; mae ranks (lower first) 3, 2, 4, 1 -> means 2.5, 2, 2.5, 2.5 -> ranks 2, 1, 2, 2
    score, rank = mean.evaluate(values, COLUMNS, DIRECTIONS)
    assert score[0].tolist() == [2.5, 2.0, 2.5, 2.5] and rank[0].tolist() == [2, 1, 2, 2]
    assert not mean.higher_first(COLUMNS, DIRECTIONS)


def test_ranks_use_ties_min() -> None:
    assert ranks_min(np.array([[0.5, 0.9, 0.5, 0.1]])).tolist() == [[2, 1, 2, 4]]


def test_default_ranking_is_the_first_column() -> None:
    [ranking] = parse_rankings(None, COLUMNS)
    assert (ranking.kind, ranking.columns) == ("metric", ("acc",))


@pytest.mark.parametrize(("spec", "message"), [
    ("{not json", "not valid JSON"),
    ('{"kind": "borda"}', "at /kind: expected one of metric, metric_order, mean_rank, dynascore"),
    ('{"kind": "metric", "column": "f1"}', "at /column: 'f1' is not an analysed column; the columns are acc, mae"),
    ('[{"kind": "mean_rank", "columns": []}]', "at /0/columns: expected a non-empty list"),
    ('{"kind": "dynascore", "weights": {"acc": -1}}', "at /weights/acc: expected a weight >= 0"),
    ('{"kind": "dynascore", "weights": {"acc": 0}}', "the weights sum to 0"),
    ('{"kind": "metric", "column": "acc", "weights": {}}', "at /weights: unknown field for kind 'metric'"),
    ('[{"kind": "metric", "column": "acc"}, {"kind": "metric", "column": "acc"}]', "named alike"),
], ids=["json", "kind", "column", "empty", "weight", "zero-sum", "extra", "duplicate"])
def test_bad_specs_say_where_and_what_is_expected(spec: str, message: str) -> None:
    with pytest.raises(LeaderboardError, match="--ranking") as caught:
        parse_rankings(spec, COLUMNS)
    assert message in str(caught.value)
