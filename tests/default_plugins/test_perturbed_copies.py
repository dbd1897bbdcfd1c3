"""``aibench.perturbed_copies``: degradation on hidden perturbed copies, checked against an
independent computation (pandas groupby and scikit-learn on the same rows), its errors and
their messages, and its page section. The context is built by hand from real tables read with
``read_table`` (the end-to-end tests, through ``aibench run``, are in
tests/run/test_robust_twins_bundle.py)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from aibench_plugins import DataError, InvalidParamsError, Kind, PluginHost
from aibench_plugins import AnalysisContext, MetricData
from aibench_plugins.data.readers import TableSpec, read_table
from aibench_plugins.default_plugins.perturbed_copies import perturbed_copies, relative_drop
from aibench_plugins.default_plugins.perturbed_copies_page import DegradationSection

PERTURBATIONS, SEVERITIES = ("blur", "noise"), (1, 2, 3)


@pytest.fixture(scope="module")
def host() -> PluginHost:
    h = PluginHost(strict=True)
    h.load_builtins()
    return h


def metric(host: PluginHost, key: str, id: str, frame: pd.DataFrame, params: dict[str, Any] | None = None,
           ) -> MetricData:
    component = host.registry(Kind.METRIC).get(id).component
    return MetricData(key, key.replace("_", " "), component.info, params or {}, component,
                      frame["id"].to_numpy(), frame["prediction"].to_numpy(), frame["truth"].to_numpy())


def twin_data(seed: int = 0, n: int = 40, regression: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows: id, prediction, truth; mapping: id, original_id, perturbation, severity), shuffled."""
    rng = np.random.default_rng(seed)
    originals = [f"o{i:03d}" for i in range(n)]
    truth = rng.normal(0, 1, n) if regression else rng.integers(0, 3, n)
    clean = truth + rng.normal(0, 0.2, n) if regression else np.where(rng.random(n) < 0.8, truth, rng.integers(0, 3, n))
    rows = [(o, p, t) for o, p, t in zip(originals, clean, truth)]
    mapping = []
    for name in PERTURBATIONS:
        for severity in SEVERITIES:
            for i in range(n):
                copy = f"c{len(mapping):04d}"
                if regression:
                    predicted = clean[i] + rng.normal(0, 0.3 * severity)
                else:
                    predicted = clean[i] if rng.random() > 0.15 * severity else rng.integers(0, 3)
                rows.append((copy, predicted, truth[i]))
                mapping.append((copy, originals[i], name, severity))
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[i] for i in order], columns=["id", "prediction", "truth"])
    table = pd.DataFrame(mapping, columns=["id", "original_id", "perturbation", "severity"])
    return frame, table.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def context(tmp_path: Path, metrics: dict[str, MetricData], table: pd.DataFrame,
            columns: tuple[str, ...] = ("original_id", "perturbation", "severity")) -> AnalysisContext:
    table.to_csv(tmp_path / "perturbations.csv", index=False)
    read = read_table(tmp_path, TableSpec("perturbations.csv", id="id", columns=list(columns)))
    return AnalysisContext(metrics=metrics, reference_dir=tmp_path,
                           table=lambda name: read if name == "twins" else pytest.fail(f"unexpected table {name}"))


PARAMS = {"table": "twins", "columns": {"severity": "severity"}}


def summaries(result: Any) -> dict[str, float | None]:
    return {s.name: s.value for s in result.summaries}


def joined(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Each copy with its own prediction and its original's prediction and truth (pandas, independently)."""
    rows = frame.set_index("id")
    out = table.join(rows[["prediction"]], on="id").join(
        rows[["prediction", "truth"]].rename(columns={"prediction": "original_prediction"}), on="original_id")
    return out


def test_label_numbers_match_a_pandas_computation(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    metrics = {"accuracy": metric(host, "accuracy", "aibench.accuracy", frame),
               "macro_f1": metric(host, "macro_f1", "aibench.f1", frame, {"average": "macro"})}
    result = perturbed_copies.analyse(context(tmp_path, metrics, table), **PARAMS)
    got = summaries(result)

    originals = frame[~frame["id"].isin(table["id"])]
    copies = joined(frame, table)

    def f1(t: Any, p: Any) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(sk.f1_score(list(t), list(p), average="macro", zero_division=0))

    clean_acc = float((originals["prediction"] == originals["truth"]).mean())
    pert_acc = float((copies["prediction"] == copies["truth"]).mean())
    assert got["clean.accuracy"] == pytest.approx(clean_acc)
    assert got["perturbed.accuracy"] == pytest.approx(pert_acc)
    assert got["relative_drop.accuracy"] == pytest.approx((clean_acc - pert_acc) / clean_acc)
    assert got["clean.macro_f1"] == pytest.approx(f1(originals["truth"], originals["prediction"]))
    assert got["perturbed.macro_f1"] == pytest.approx(f1(copies["truth"], copies["prediction"]))
    assert got["flip_rate"] == pytest.approx(float((copies["prediction"] != copies["original_prediction"]).mean()))
    assert pert_acc < clean_acc and got["flip_rate"] > 0  # the data degrades: the test can fail

    # per perturbation x severity: n, score, drop against clean, flip rate
    cells = copies.assign(right=copies["prediction"] == copies["truth"],
                          flip=copies["prediction"] != copies["original_prediction"]
                          ).groupby(["perturbation", "severity"]).agg(n=("id", "size"), score=("right", "mean"),
                                                                      flip=("flip", "mean"))
    table_rows = {(r[0], r[1], r[2]): r for r in result.tables[0]["rows"]}
    assert result.tables[0]["columns"] == ["metric", "perturbation", "severity", "n", "score", "relative_drop",
                                           "flip_rate"]
    for (name, severity), row in cells.iterrows():
        mine = table_rows["accuracy", name, severity]
        assert mine[3] == row["n"]
        assert mine[4] == pytest.approx(row["score"])
        assert mine[5] == pytest.approx((clean_acc - row["score"]) / clean_acc)
        assert mine[6] == pytest.approx(row["flip"])
        f1_cell = copies[(copies["perturbation"] == name) & (copies["severity"] == severity)]
        assert table_rows["macro_f1", name, severity][4] == pytest.approx(f1(f1_cell["truth"], f1_cell["prediction"]))
    pooled = copies.groupby("perturbation").apply(lambda g: (g["prediction"] == g["truth"]).mean(),
                                                  include_groups=False)
    for name, score in pooled.items():
        assert table_rows["accuracy", name, "all"][4] == pytest.approx(score)
        assert table_rows["accuracy", name, "all"][3] == len(SEVERITIES) * 40
    assert {(g.group["perturbation"], g.group["severity"], g.measure) for g in result.groups} >= {
        ("blur", "1", "accuracy"), ("noise", "3", "macro_f1")}


def worst_predictions(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per original, the prediction that is wrong if any is: the original's when wrong, else the
    first wrong copy's in the table's row order (pandas, row by row)."""
    rows = frame.set_index("id")
    chosen = []
    for original in frame[~frame["id"].isin(table["id"])]["id"]:
        truth = rows.at[original, "truth"]
        variants = [rows.at[original, "prediction"]] + [rows.at[c, "prediction"]
                                                        for c in table[table["original_id"] == original]["id"]]
        wrong = [v for v in variants if v != truth]
        chosen.append((original, wrong[0] if wrong else variants[0], truth))
    return pd.DataFrame(chosen, columns=["id", "prediction", "truth"])


def test_worst_case_is_helms_per_instance_worst(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data(seed=3)
    metrics = {"accuracy": metric(host, "accuracy", "aibench.accuracy", frame),
               "macro_f1": metric(host, "macro_f1", "aibench.f1", frame, {"average": "macro"})}
    got = summaries(perturbed_copies.analyse(context(tmp_path, metrics, table), **PARAMS))
    worst = worst_predictions(frame, table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_f1 = sk.f1_score(list(worst["truth"]), list(worst["prediction"]), average="macro", zero_division=0)
    assert got["worst_case.accuracy"] == pytest.approx(float((worst["prediction"] == worst["truth"]).mean()))
    assert got["worst_case.macro_f1"] == pytest.approx(expected_f1)
    assert got["worst_case.accuracy"] < got["perturbed.accuracy"] < got["clean.accuracy"]


def test_regression_drop_is_signed_and_worst_case_takes_the_largest_error(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data(seed=5, regression=True)
    metrics = {"mae": metric(host, "mae", "aibench.mae", frame)}
    ctx = context(tmp_path, metrics, table)
    got = summaries(perturbed_copies.analyse(ctx, **PARAMS, tolerance=0.25))
    copies = joined(frame, table)
    originals = frame[~frame["id"].isin(table["id"])]
    clean = float((originals["prediction"] - originals["truth"]).abs().mean())
    perturbed = float((copies["prediction"] - copies["truth"]).abs().mean())
    assert got["clean.mae"] == pytest.approx(clean)
    assert got["perturbed.mae"] == pytest.approx(perturbed)
    assert perturbed > clean and got["relative_drop.mae"] == pytest.approx((perturbed - clean) / clean)  # positive
    errors = pd.concat([originals.assign(original_id=originals["id"]), copies[["original_id", "prediction", "truth"]]])
    per_original = (errors["prediction"] - errors["truth"]).abs().groupby(errors["original_id"]).max()
    assert got["worst_case.mae"] == pytest.approx(float(per_original.mean()))
    moved = (copies["prediction"] - copies["original_prediction"]).abs()
    assert got["flip_rate"] == pytest.approx(float((moved > 0.25).mean()))
    assert 0 < got["flip_rate"] < 1
    assert summaries(perturbed_copies.analyse(ctx, **PARAMS))["flip_rate"] == 1.0  # tolerance 0: every change


def test_relative_drop_sign() -> None:
    assert relative_drop(0.8, 0.6, "maximize") == pytest.approx(0.25)
    assert relative_drop(0.2, 0.3, "minimize") == pytest.approx(0.5)
    assert relative_drop(0.0, 0.3, "maximize") is None


def test_without_severity_one_row_per_perturbation(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    metrics = {"accuracy": metric(host, "accuracy", "aibench.accuracy", frame)}
    result = perturbed_copies.analyse(context(tmp_path, metrics, table, ("original_id", "perturbation")),
                                      table="twins")
    assert [(r[1], r[2], r[3]) for r in result.tables[0]["rows"]] == [("blur", None, 120), ("noise", None, 120)]


def test_same_numbers_twice(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    metrics = {"accuracy": metric(host, "accuracy", "aibench.accuracy", frame)}
    first = perturbed_copies.analyse(context(tmp_path, metrics, table), **PARAMS)
    assert perturbed_copies.analyse(context(tmp_path, metrics, table), **PARAMS) == first


# -- errors -------------------------------------------------------------------------------------


def analyse_error(host: PluginHost, tmp_path: Path, table: pd.DataFrame, frame: pd.DataFrame | None = None,
                  **params: Any) -> str:
    frame = twin_data()[0] if frame is None else frame
    metrics = {"accuracy": metric(host, "accuracy", "aibench.accuracy", frame)}
    with pytest.raises((DataError, InvalidParamsError)) as raised:
        perturbed_copies.analyse(context(tmp_path, metrics, table), **{**PARAMS, **params})
    return str(raised.value)


def test_unknown_column(host: PluginHost, tmp_path: Path) -> None:
    message = analyse_error(host, tmp_path, twin_data()[1], columns={"severity": "level"})
    assert "has no column 'level' (params.columns.severity)" in message
    assert "'original_id', 'perturbation', 'severity'" in message and "organiser's to fix" in message


def test_copy_whose_original_is_not_in_the_data(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    table.loc[3, "original_id"] = "o999"
    message = analyse_error(host, tmp_path, table, frame)
    assert "original id(s) 'o999'" in message and "not in the data metric 'accuracy' scores" in message
    assert "organiser's to fix" in message


def test_copy_the_predictions_lack(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    lacking = table.loc[0, "id"]
    message = analyse_error(host, tmp_path, table, frame[frame["id"] != lacking])
    assert f"copy id(s) '{lacking}'" in message and "(1 of 240 copies)" in message
    assert "predict every row of the test inputs" in message and "participant's to fix" in message


def test_copy_listed_twice_or_as_an_original(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    twice = pd.concat([table, table.iloc[[0]]])
    assert "more than once" in analyse_error(host, tmp_path, twice, frame)
    chained = table.copy()
    chained.loc[1, "original_id"] = table.loc[0, "id"]
    assert "both as a copy and as an original" in analyse_error(host, tmp_path, chained, frame)


def test_copy_whose_reference_differs_from_its_original(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    copy = table.loc[0, "id"]
    frame.loc[frame["id"] == copy, "truth"] = (frame.loc[frame["id"] == copy, "truth"] + 1) % 3
    message = analyse_error(host, tmp_path, table, frame)
    assert "1 copies" in message and f"copy '{copy}'" in message and "original's truth" in message


def test_unknown_metric_and_bad_params(host: PluginHost, tmp_path: Path) -> None:
    table = twin_data()[1]
    assert "the metric 'f2', which is not among" in analyse_error(host, tmp_path, table, metrics=["f2"])
    assert "tolerance" in analyse_error(host, tmp_path, table, tolerance=-1)
    assert "colums" in analyse_error(host, tmp_path, table, colums={})


# -- registration and page section -----------------------------------------------------------------


def test_registered_as_a_robustness_checker_and_a_reporter(host: PluginHost) -> None:
    checker = host.registry(Kind.ROBUSTNESS).get("aibench.perturbed_copies").component
    assert checker.info.summary_spec("relative_drop.accuracy").direction == "minimize"
    assert checker.info.summary_spec("worst_case.macro_f1").direction == "metric"
    assert host.registry(Kind.ROBUSTNESS).get("aibench.perturbed_copies").plugin == "aibench.twins"
    assert "aibench.perturbed_copies_section" in host.registry(Kind.REPORTER)


def test_plugins_show_describes_the_checker(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "aibench_plugins", "plugins", "show", "aibench.perturbed_copies",
                           "--json"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert "robustness" in json.dumps(shown) and "flip_rate" in json.dumps(shown)
    assert {"table", "columns", "metrics", "flip_metric", "tolerance"} <= {p["name"] for p in shown["params"]}


def report_of(result: Any, label: str = "Twins") -> dict[str, Any]:
    return {"analyses": [{"kind": "robustness", "component": "aibench.perturbed_copies", "plugin": "aibench",
                          "key": "twins", "label": label, "min_group_size": None, "dropped_groups": 0,
                          "summaries": [s.to_json() for s in result.summaries],
                          "groups": [g.to_json() for g in result.groups], "tables": [dict(t) for t in result.tables],
                          "notes": list(result.notes), "flags": []}]}


def test_section_has_the_chart_and_the_table(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    table["perturbation"] = table["perturbation"].replace({"blur": "<b>blur</b>"})
    metrics = {"accuracy": metric(host, "accuracy", "aibench.accuracy", frame)}
    result = perturbed_copies.analyse(context(tmp_path, metrics, table), **PARAMS)
    section = DegradationSection().render(report_of(result, "Twins & co"))
    assert section is not None and section.id == "perturbed-copies"
    assert section.covers == ("aibench.perturbed_copies",)
    body = section.body
    assert body.count("<svg") == 1 and body.count("<polyline") == 2 and 'class="clean"' in body
    assert "<b>blur" not in body and "&lt;b&gt;blur&lt;/b&gt;" in body and "Twins &amp; co" in body
    got = summaries(result)
    assert f"{got['clean.accuracy']:.4f}" in body and f"{got['flip_rate'] * 100:.1f} %" in body
    assert body.count("<tr>") == 1 + 1 + 1 + len(result.tables[0]["rows"])  # overview head+row, table head+rows
    assert DegradationSection().render({"analyses": []}) is None


# -- other kinds of predictions ---------------------------------------------------------------------


def test_probabilities_flip_on_the_argmax_and_have_no_worst_case(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data(seed=7)
    rng = np.random.default_rng(7)
    labels = frame["prediction"].to_numpy().astype(int)
    probabilities = rng.dirichlet(np.ones(3), len(frame)) * 0.4
    probabilities[np.arange(len(frame)), labels] += 0.6  # the arg-max is the label of the frame
    component = host.registry(Kind.METRIC).get("aibench.log_loss").component
    data = MetricData("log_loss", "Log loss", component.info, {}, component, frame["id"].to_numpy(), probabilities,
                      frame["truth"].to_numpy().astype(int))
    result = perturbed_copies.analyse(context(tmp_path, {"log_loss": data}, table), **PARAMS)
    got = summaries(result)
    copies = joined(frame, table)
    assert got["flip_rate"] == pytest.approx(float((copies["prediction"] != copies["original_prediction"]).mean()))
    assert got["worst_case.log_loss"] is None
    assert any("worst_case.log_loss is not computed" in note for note in result.notes)
    rows = frame.set_index("id")
    position = {i: k for k, i in enumerate(frame["id"])}
    clean_rows = [position[i] for i in rows.index if i not in set(table["id"])]
    expected = sk.log_loss(frame["truth"].to_numpy()[clean_rows].astype(int), probabilities[clean_rows],
                           labels=[0, 1, 2])
    assert got["clean.log_loss"] == pytest.approx(expected)
    assert got["relative_drop.log_loss"] == pytest.approx((got["perturbed.log_loss"] - expected) / expected)


def test_label_sets_worst_case_takes_the_largest_symmetric_difference(host: PluginHost, tmp_path: Path) -> None:
    ids = ["a", "b", "c1", "c2", "c3"]
    predictions = [["x"], ["x", "y"], ["x", "z"], ["y"], ["x", "y"]]
    references = [["x"], ["x", "y"], ["x"], ["x"], ["x", "y"]]
    component = host.registry(Kind.METRIC).get("aibench.subset_accuracy").component
    data = MetricData("subset_accuracy", "Subset accuracy", component.info, {}, component, np.array(ids), predictions,
                      references)
    table = pd.DataFrame({"id": ["c1", "c2", "c3"], "original_id": ["a", "a", "b"], "perturbation": ["p", "p", "p"]})
    result = perturbed_copies.analyse(context(tmp_path, {"subset_accuracy": data}, table,
                                              ("original_id", "perturbation")), table="twins")
    got = summaries(result)
    # a: {x} (error 0), c1 {x,z} (1), c2 {y} (2: the worst); b: {x,y} and c3 {x,y} both right
    assert got["worst_case.subset_accuracy"] == pytest.approx(0.5)
    assert got["clean.subset_accuracy"] == 1.0 and got["perturbed.subset_accuracy"] == pytest.approx(1 / 3)
    assert got["flip_rate"] == pytest.approx(2 / 3)


def test_numeric_ids_meet_across_tables(host: PluginHost, tmp_path: Path) -> None:
    frame, table = twin_data()
    numbers = {i: k for k, i in enumerate(sorted(frame["id"]))}
    frame["id"] = frame["id"].map(numbers)
    table["id"], table["original_id"] = table["id"].map(numbers), table["original_id"].map(numbers)
    metrics = {"accuracy": metric(host, "accuracy", "aibench.accuracy", frame)}
    got = summaries(perturbed_copies.analyse(context(tmp_path, metrics, table), **PARAMS))
    copies = joined(frame, table)
    assert got["perturbed.accuracy"] == pytest.approx(float((copies["prediction"] == copies["truth"]).mean()))


def test_a_cell_the_metric_cannot_score_is_left_empty_with_a_note(host: PluginHost, tmp_path: Path) -> None:
    ids = np.array(["a", "b", "c", "d", "x1", "x2", "y1", "y2"])
    truth = np.array([0, 1, 0, 1, 0, 0, 1, 0])  # each copy has its original's
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8], [0.5, 0.5]])
    component = host.registry(Kind.METRIC).get("aibench.roc_auc").component
    data = MetricData("auc", "AUC", component.info, {}, component, ids, scores, truth)
    # the blur copies are of class-0 originals only: ROC AUC is undefined there
    table = pd.DataFrame({"id": ["x1", "x2", "y1", "y2"], "original_id": ["a", "c", "b", "a"],
                          "perturbation": ["blur", "blur", "noise", "noise"]})
    result = perturbed_copies.analyse(context(tmp_path, {"auc": data}, table, ("original_id", "perturbation")),
                                      table="twins")
    rows = {r[1]: r for r in result.tables[0]["rows"]}
    assert rows["blur"][4] is None and rows["noise"][4] == 1.0
    assert any(note.startswith("auc on blur: not computed (aibench.roc_auc is undefined") for note in result.notes)
    assert summaries(result)["clean.auc"] == 1.0
