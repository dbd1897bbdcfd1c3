"""aibench.group_fairness against fairlearn (installed: the test extra) and AIF360's definitions by
hand, on the same data; the minimum group size; errors of the organiser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (MetricFrame, demographic_parity_difference, demographic_parity_ratio,
                               equal_opportunity_difference, equalized_odds_difference, false_positive_rate,
                               selection_rate, true_positive_rate)
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, mean_absolute_error

from aibench_plugins import InvalidParamsError, ReadError
from aibench_plugins.components.analysis import AnalysisContext, MetricData
from aibench_plugins.data.formats import read_table
from aibench_plugins.data.tables import TableSpec
from aibench_plugins.default_plugins.classification import accuracy, balanced_accuracy, f1
from aibench_plugins.default_plugins.fairness import group_fairness
from aibench_plugins.default_plugins.regression import mae

TOL = 1e-12


def _data(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], size=n, p=[0.45, 0.55])
    age = rng.choice(["18-29", "30-49", "50+"], size=n)
    truth = rng.integers(0, 2, size=n)
    # a planted bias: women with a true 1 are predicted 1 less often
    flip = rng.random(n) < np.where((sex == "F") & (truth == 1), 0.35, 0.12)
    predicted = np.where(flip, 1 - truth, truth)
    score = np.clip(truth + rng.normal(0, 0.4 + 0.2 * (age == "50+"), size=n), 0, None)
    return pd.DataFrame({"id": [f"s{i:05d}" for i in range(n)], "label": truth, "sex": sex, "age_band": age,
                         "pred": predicted, "score": score})


def _context(tmp_path: Path, frame: pd.DataFrame, *, minimum: int = 30, shuffle: bool = False,
             regression: bool = False) -> AnalysisContext:
    ref = tmp_path / "ref"
    ref.mkdir(exist_ok=True)
    table_rows = frame.sample(frac=1.0, random_state=3) if shuffle else frame
    table_rows[["id", "label", "sex", "age_band"]].to_csv(ref / "labels.csv", index=False)
    table = read_table(ref, TableSpec("labels.csv", id="id", columns=["label", "sex", "age_band"]))
    ids = frame["id"].to_numpy()
    truth, pred = frame["label"].to_numpy(), frame["pred"].to_numpy()

    def data(key: str, component: Any, params: dict[str, Any], p: Any = pred) -> MetricData:
        return MetricData(key, key, component.info, params, component, ids, p, truth)

    metrics = {"accuracy": data("accuracy", accuracy, {}),
               "balanced_accuracy": data("balanced_accuracy", balanced_accuracy, {}),
               "macro_f1": data("macro_f1", f1, {"average": "macro"})}
    if regression:
        metrics["mae"] = MetricData("mae", "MAE", mae.info, {}, mae, ids, frame["score"].to_numpy(),
                                    truth.astype(float))
    tables = {"references": table}
    return AnalysisContext(metrics=metrics, reference_dir=ref, table=lambda name: tables[name], seed=0,
                           min_group_size=minimum)


def _stat(result: Any, measure: str, group: dict[str, str]) -> Any:
    found = [g for g in result.groups if g.measure == measure and dict(g.group) == group]
    assert len(found) == 1, (measure, group, found)
    return found[0]


def _value(result: Any, name: str) -> float:
    summary = result.summary(name)
    assert summary is not None and summary.value is not None, name
    return summary.value


SKLEARN = {"accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score,
           "macro_f1": lambda t, p: f1_score(t, p, average="macro")}


@pytest.mark.parametrize("method", ["between_groups", "to_overall"])
def test_one_attribute_equals_fairlearn_metricframe(tmp_path: Path, method: str) -> None:
    frame = _data()
    result = group_fairness.analyse(_context(tmp_path, frame, shuffle=True), attributes=["sex"], reference=method,
                                    n_boot=0)
    y, p, sex = frame["label"], frame["pred"], frame["sex"]
    mf = MetricFrame(metrics=SKLEARN, y_true=y, y_pred=p, sensitive_features=sex)
    for key in SKLEARN:
        for group, expected in mf.by_group[key].items():
            stat = _stat(result, key, {"sex": group})
            assert stat.n == int((sex == group).sum())
            assert stat.value == pytest.approx(expected, abs=TOL)
        assert _stat(result, key, {}).value == pytest.approx(mf.overall[key], abs=TOL)
        assert _value(result, f"worst_group.{key}") == pytest.approx(mf.group_min()[key], abs=TOL)
        assert _value(result, f"difference.{key}") == pytest.approx(mf.difference(method=method)[key], abs=TOL)
        assert _value(result, f"ratio.{key}") == pytest.approx(mf.ratio(method=method)[key], abs=TOL)
    kw = {"sensitive_features": sex, "method": method}
    assert _value(result, "demographic_parity_difference") == pytest.approx(
        demographic_parity_difference(y, p, **kw), abs=TOL)
    assert _value(result, "demographic_parity_ratio") == pytest.approx(demographic_parity_ratio(y, p, **kw), abs=TOL)
    assert _value(result, "equalized_odds_difference") == pytest.approx(
        equalized_odds_difference(y, p, **kw), abs=TOL)
    assert _value(result, "equal_opportunity_difference") == pytest.approx(
        equal_opportunity_difference(y, p, **kw), abs=TOL)
    rates = MetricFrame(metrics={"selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
                                 "false_positive_rate": false_positive_rate}, y_true=y, y_pred=p, sensitive_features=sex)
    for name in ("selection_rate", "true_positive_rate", "false_positive_rate"):
        for group, expected in rates.by_group[name].items():
            assert _stat(result, name, {"sex": group}).value == pytest.approx(expected, abs=TOL)


def test_intersections_equal_fairlearn_with_several_sensitive_columns(tmp_path: Path) -> None:
    frame = _data()
    result = group_fairness.analyse(_context(tmp_path, frame), attributes=["sex", "age_band"], intersections=True,
                                    n_boot=0)
    y, p = frame["label"], frame["pred"]
    both = frame[["sex", "age_band"]]
    mf = MetricFrame(metrics=SKLEARN, y_true=y, y_pred=p, sensitive_features=both)
    assert len(mf.by_group) == 6
    for key in SKLEARN:
        for (sex, age), expected in mf.by_group[key].items():
            stat = _stat(result, key, {"sex": sex, "age_band": age})
            assert stat.value == pytest.approx(expected, abs=TOL)
            assert stat.n == int(((frame["sex"] == sex) & (frame["age_band"] == age)).sum())
    table = result.tables[0]
    rows = {(r[0], r[1]): r[2] for r in table["rows"]}
    for key in SKLEARN:
        assert rows["sex x age_band", f"difference.{key}"] == pytest.approx(mf.difference()[key], abs=TOL)
        assert rows["sex x age_band", f"ratio.{key}"] == pytest.approx(mf.ratio()[key], abs=TOL)
    assert rows["sex x age_band", "demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, p, sensitive_features=both), abs=TOL)
    assert rows["sex x age_band", "equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=both), abs=TOL)
    # the summary is the worst over the groupings: sex, age_band, and their intersection
    per_grouping = [MetricFrame(metrics=accuracy_score, y_true=y, y_pred=p, sensitive_features=f).difference()
                    for f in (frame["sex"], frame["age_band"], both)]
    assert _value(result, "difference.accuracy") == pytest.approx(max(per_grouping), abs=TOL)


def test_generic_metric_per_group_equals_fairlearn(tmp_path: Path) -> None:
    frame = _data()
    result = group_fairness.analyse(_context(tmp_path, frame, regression=True), attributes=["age_band"], n_boot=0,
                                    metrics=["mae"])
    mf = MetricFrame(metrics=mean_absolute_error, y_true=frame["label"].astype(float), y_pred=frame["score"],
                     sensitive_features=frame["age_band"])
    for group, expected in mf.by_group.items():
        assert _stat(result, "mae", {"age_band": group}).value == pytest.approx(expected, abs=TOL)
    assert _value(result, "worst_group.mae") == pytest.approx(mf.group_max(), abs=TOL)  # minimize: the largest
    assert _value(result, "difference.mae") == pytest.approx(mf.difference(), abs=TOL)


def test_aif360_measures_by_hand(tmp_path: Path) -> None:
    frame = _data()
    context = _context(tmp_path, frame)
    rate = frame.groupby("sex")["pred"].mean()
    result = group_fairness.analyse(context, attributes=["sex"], n_boot=0, privileged_group={"sex": "M"})
    assert _value(result, "statistical_parity_difference") == pytest.approx(rate["F"] - rate["M"], abs=TOL)
    assert _value(result, "disparate_impact_ratio") == pytest.approx(rate["F"] / rate["M"], abs=TOL)
    # no declared privileged group: the lowest selection rate against the highest
    rate3 = frame.groupby("age_band")["pred"].mean()
    result = group_fairness.analyse(context, attributes=["age_band"], n_boot=0)
    assert _value(result, "statistical_parity_difference") == pytest.approx(rate3.min() - rate3.max(), abs=TOL)
    assert _value(result, "disparate_impact_ratio") == pytest.approx(rate3.min() / rate3.max(), abs=TOL)
    # a privileged group against the other rows pooled
    result = group_fairness.analyse(context, attributes=["age_band"], n_boot=0, privileged_group={"age_band": "50+"})
    rest = frame[frame["age_band"] != "50+"]["pred"].mean()
    assert _value(result, "disparate_impact_ratio") == pytest.approx(rest / rate3["50+"], abs=TOL)


def test_small_group_left_out_of_everything(tmp_path: Path) -> None:
    frame = _data(n=2000)
    frame.loc[frame.index[:12], "age_band"] = "90+"
    frame.loc[frame.index[:12], "pred"] = 1 - frame.loc[frame.index[:12], "label"]  # the tiny group is all wrong
    result = group_fairness.analyse(_context(tmp_path, frame, minimum=30), attributes=["sex", "age_band"],
                                    intersections=True, n_boot=50)
    text = repr(result)
    assert "90+" not in text
    assert all(g.n >= 30 for g in result.groups)
    kept = frame[frame["age_band"] != "90+"]
    mf = MetricFrame(metrics=accuracy_score, y_true=kept["label"], y_pred=kept["pred"],
                     sensitive_features=kept["age_band"])
    rows = {(r[0], r[1]): r[2] for r in result.tables[0]["rows"]}
    assert rows["age_band", "difference.accuracy"] == pytest.approx(mf.difference(), abs=TOL)
    assert rows["age_band", "worst_group.accuracy"] == pytest.approx(mf.group_min(), abs=TOL)
    assert any("group(s) with fewer than 30 rows were left out" in n for n in result.notes)
    assert result.notes[0].startswith("3 group(s)")  # 90+ alone, and with F and with M


def test_intervals_hold_the_value(tmp_path: Path) -> None:
    frame = _data()
    result = group_fairness.analyse(_context(tmp_path, frame), attributes=["sex"], n_boot=300)
    for name in ("demographic_parity_difference", "equalized_odds_difference", "disparate_impact_ratio"):
        s = result.summary(name)
        assert s is not None and s.low is not None and s.high is not None
        assert s.low <= s.value <= s.high, s
    rate = _stat(result, "selection_rate", {"sex": "F"})
    assert rate.low is not None and rate.low < rate.value < rate.high


def test_group_intervals_are_the_stats_rooms_bootstrap_within_the_group(tmp_path: Path) -> None:
    from aibench_plugins.stats import metric_replicates, percentile_interval

    frame = _data()
    context = _context(tmp_path, frame)
    result = group_fairness.analyse(context, attributes=["sex"], n_boot=400)
    sex = frame["sex"].to_numpy()
    for code, group in enumerate(["F", "M"]):  # codes follow the sorted values
        for key in ("accuracy", "macro_f1"):
            # the same draws through the rows (metric_replicates) as through the group's matrix
            replicates = metric_replicates(context.metrics[key], sex == group, n_boot=400, seed=code)
            expected = percentile_interval(replicates, confidence=0.95)
            stat = _stat(result, key, {"sex": group})
            assert (stat.low, stat.high) == pytest.approx((expected.low, expected.high), abs=1e-12)
            assert stat.low < stat.value < stat.high
    worst = result.summary("worst_group.accuracy")
    assert worst is not None and worst.low is not None and worst.low < worst.value < worst.high
    overall = _stat(result, "accuracy", {})
    assert overall.low is not None and overall.low < overall.value < overall.high


def test_missing_ids_are_the_organisers_error(tmp_path: Path) -> None:
    frame = _data(n=200)
    context = _context(tmp_path, frame)
    ref = tmp_path / "ref"
    frame.iloc[:150][["id", "sex"]].to_csv(ref / "groups.csv", index=False)
    groups = read_table(ref, TableSpec("groups.csv", id="id", columns=["sex"]))
    tables = {"references": context.table("references"), "groups": groups}
    context = AnalysisContext(metrics=context.metrics, reference_dir=ref, table=lambda n: tables[n], min_group_size=30)
    with pytest.raises(ReadError, match=r"50 of the 200 scored ids have no row in the groups table") as caught:
        group_fairness.analyse(context, attributes=["sex"], table="groups", n_boot=0)
    assert "organiser" in str(caught.value) and "F" not in str(caught.value).replace("Fix", "")
    with pytest.raises(ReadError, match="'religion' is not a column"):
        group_fairness.analyse(context, attributes=["religion"], n_boot=0)
    with pytest.raises(InvalidParamsError, match="params.metrics names"):
        group_fairness.analyse(context, attributes=["sex"], metrics=["auc"], n_boot=0)


def test_separate_groups_table_joined_on_ids(tmp_path: Path) -> None:
    frame = _data(n=500)
    context = _context(tmp_path, frame)
    ref = tmp_path / "ref"
    frame.sample(frac=1.0, random_state=5)[["id", "sex"]].to_csv(ref / "groups.csv", index=False)
    groups = read_table(ref, TableSpec("groups.csv", id="id", columns=["sex"]))
    tables = {"groups": groups}
    context = AnalysisContext(metrics=context.metrics, reference_dir=ref, table=lambda n: tables[n], min_group_size=30)
    result = group_fairness.analyse(context, attributes=["sex"], table="groups", n_boot=0)
    mf = MetricFrame(metrics=accuracy_score, y_true=frame["label"], y_pred=frame["pred"],
                     sensitive_features=frame["sex"])
    assert _stat(result, "accuracy", {"sex": "F"}).value == pytest.approx(mf.by_group["F"], abs=TOL)


def test_string_labels_with_a_positive_label_equal_fairlearn(tmp_path: Path) -> None:
    frame = _data(n=1500)
    context = _context(tmp_path, frame)
    names = np.array(["refused", "approved"])
    truth, pred = names[frame["label"].to_numpy()], names[frame["pred"].to_numpy()]
    metric = context.metrics["accuracy"]
    metrics = {"accuracy": MetricData("accuracy", "A", metric.info, {}, metric.component, metric.ids, pred, truth)}
    context = AnalysisContext(metrics=metrics, reference_dir=context.reference_dir, table=context.table,
                              min_group_size=30)
    result = group_fairness.analyse(context, attributes=["sex"], n_boot=0, positive_label="approved")
    # fairlearn's parity functions take pos_label 1: the same rows coded 0/1
    y, p = frame["label"], frame["pred"]
    assert _value(result, "equalized_odds_difference") == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=frame["sex"]), abs=TOL)
    assert _value(result, "demographic_parity_ratio") == pytest.approx(
        demographic_parity_ratio(y, p, sensitive_features=frame["sex"]), abs=TOL)
    # without positive_label, string labels give no rates, and a note says why
    result = group_fairness.analyse(context, attributes=["sex"], n_boot=0)
    assert result.summary("demographic_parity_difference") is None
    assert any("positive_label" in n for n in result.notes)
