"""The robustness checker aibench.bootstrap_ci and its reporter, on an AnalysisContext built by hand
(as the host builds it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bootkit import metric_data

from aibench_plugins import InvalidParamsError, Kind, PluginHost
from aibench_plugins.components.analysis import Analysis, AnalysisContext, AnalysisResult
from aibench_plugins.components.reporter import Reporter
from aibench_plugins.default_plugins.classification.confusion import accuracy, f1
from aibench_plugins.default_plugins.classification.scores import roc_auc
from aibench_plugins.default_plugins.intervals import COLUMNS, BootstrapCI, BootstrapCISection
from aibench_plugins.default_plugins.regression import mae
from aibench_plugins.evaluation.chart import BAR_W, LABEL_W
from aibench_plugins.stats import metric_interval


def _context(seed: int = 0, n: int = 600) -> AnalysisContext:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, n)
    predicted = np.where(rng.random(n) < 0.75, truth, rng.integers(0, 3, n))
    values = rng.normal(size=n)
    metrics = {"accuracy": metric_data(accuracy, predicted, truth, key="accuracy"),
               "macro_f1": metric_data(f1, predicted, truth, {"average": "macro"}, key="macro_f1"),
               "mae": metric_data(mae, values + rng.normal(size=n), values, key="mae")}

    def table(name: str) -> Any:
        raise KeyError(name)

    return AnalysisContext(metrics=metrics, reference_dir=Path("/nonexistent"), table=table, seed=seed)


def _analyse(context: AnalysisContext | None = None, **params: Any) -> AnalysisResult:
    return BootstrapCI().analyse(context or _context(), **{"n_boot": 2000, **params})


def test_it_is_registered_as_a_robustness_checker_with_its_reporter() -> None:
    host = PluginHost()
    host.load_builtins()
    checker = host.registry(Kind.ROBUSTNESS).get("aibench.bootstrap_ci").component
    assert isinstance(checker, Analysis) and isinstance(BootstrapCISection(), Reporter)
    assert host.registry(Kind.REPORTER).get("aibench.bootstrap_ci_section")
    assert checker.info.summary_spec("ci_low.macro_f1").direction == "metric"
    assert checker.info.summary_spec("ci_high.mae").direction == "metric"


def test_every_metric_gets_its_interval_as_summaries_and_a_table() -> None:
    context = _context(seed=3)
    result = _analyse(context)
    assert [s.name for s in result.summaries] == ["ci_low.accuracy", "ci_high.accuracy", "ci_low.macro_f1",
                                                  "ci_high.macro_f1", "ci_low.mae", "ci_high.mae"]
    for key, metric in context.metrics.items():
        expected = metric_interval(metric, n_boot=2000, seed=3)
        low, high = result.summary(f"ci_low.{key}"), result.summary(f"ci_high.{key}")
        assert low is not None and high is not None
        assert (low.value, high.value) == (expected.low, expected.high)
        assert (low.low, low.high) == (expected.low, expected.high)
    assert len(result.tables) == 3
    table = result.tables[2]
    assert table["columns"] == COLUMNS
    row = dict(zip(COLUMNS, table["rows"][0]))
    assert row["metric"] == "mae" and row["method"] == "bca" and row["replicates"] == 2000 and row["rows"] == 600
    assert row["estimate"] == pytest.approx(mae.compute(predictions=context.metrics["mae"].predictions,
                                                        references=context.metrics["mae"].references))
    assert not result.groups
    assert len(result.notes) == 1 and "seed 3" in result.notes[0]  # every path exact here: nothing else to say


def test_the_same_seed_gives_the_same_intervals() -> None:
    assert _analyse(_context(seed=1)) == _analyse(_context(seed=1))
    assert _analyse(_context(seed=1)).summaries != _analyse(_context(seed=2)).summaries


def test_params_choose_metrics_confidence_and_method() -> None:
    result = _analyse(metrics=["accuracy"], confidence=0.8, method="clopper_pearson")
    assert [s.name for s in result.summaries] == ["ci_low.accuracy", "ci_high.accuracy"]
    row = dict(zip(COLUMNS, result.tables[0]["rows"][0]))
    assert row["method"] == "clopper_pearson" and row["confidence"] == 0.8 and row["replicates"] == 0
    wide = _analyse(metrics=["accuracy"], confidence=0.99).summaries
    narrow = _analyse(metrics=["accuracy"], confidence=0.8).summaries
    assert wide[0].value < narrow[0].value < narrow[1].value < wide[1].value  # type: ignore[operator]


def test_a_method_a_metric_cannot_take_is_a_note_and_the_others_stand() -> None:
    result = _analyse(method="wilson")
    assert [s.name for s in result.summaries] == ["ci_low.accuracy", "ci_high.accuracy"]
    assert any(n.startswith("macro_f1: no interval") and "not a proportion of rows" in n for n in result.notes)


def test_an_unknown_metric_key_is_the_organisers_to_fix() -> None:
    with pytest.raises(InvalidParamsError, match=r"'acuracy' \(did you mean 'accuracy'\?\).*'accuracy', 'macro_f1', "
                                                 r"'mae'.*Fix \(organiser\)"):
        _analyse(metrics=["acuracy"])


def test_a_metric_without_fast_path_says_its_replicates_are_capped() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, 300)
    context = AnalysisContext(metrics={"auc": metric_data(roc_auc, rng.random(300) + truth * 0.3, truth, key="auc")},
                              reference_dir=Path("/nonexistent"), table=lambda name: None)
    result = BootstrapCI().analyse(context, n_boot=10_000)
    row = dict(zip(COLUMNS, result.tables[0]["rows"][0]))
    assert row["replicates"] < 10_000
    assert any("row resampling" in note for note in result.notes)


def _report(result: AnalysisResult) -> dict[str, Any]:
    return {"plugin_columns": [{"key": "accuracy", "bounds": [0.0, 1.0]}, {"key": "mae", "bounds": [0.0, None]}],
            "analyses": [{"kind": "robustness", "component": "aibench.bootstrap_ci", "plugin": "aibench.intervals",
                          "key": "ci", "label": "Intervals <95%>", "min_group_size": None, "dropped_groups": 0,
                          "summaries": [s.to_json() for s in result.summaries], "groups": [],
                          "tables": list(result.tables), "notes": list(result.notes), "flags": []}]}


def test_the_section_draws_one_error_bar_per_metric() -> None:
    result = _analyse()
    section = BootstrapCISection().render(_report(result))
    assert section is not None and section.id == "bootstrap-ci"
    assert section.body.count('<g class="interval"') == 3 and section.body.count('<circle class="estimate"') == 3
    assert "Intervals &lt;95%&gt;" in section.body and "<95%>" not in section.body
    low, high = result.summary("ci_low.accuracy"), result.summary("ci_high.accuracy")
    assert low is not None and high is not None
    assert f"[{low.value:.4f}, {high.value:.4f}]" in section.body
    # the bar's ends are where the interval's ends fall on the printed scale
    bar = re.search(r'<g class="interval".*?<line x1="([\d.]+)" y1="\d+" x2="([\d.]+)"', section.body)
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', section.body)[:2]
    assert bar is not None
    start, stop = float(ticks[0]), float(ticks[1])
    x1 = LABEL_W + (low.value - start) / (stop - start) * BAR_W  # type: ignore[operator]
    assert float(bar.group(1)) == pytest.approx(x1, abs=0.6)
    assert "<script" not in section.body and "http" not in section.body


def test_the_section_is_absent_without_an_item_and_says_when_nothing_was_computed() -> None:
    assert BootstrapCISection().render({"analyses": []}) is None
    assert BootstrapCISection().render({}) is None
    empty = _report(AnalysisResult(notes=["accuracy: no interval (reason)."]))
    section = BootstrapCISection().render(empty)
    assert section is not None and "No interval could be computed" in section.body and "reason" in section.body
