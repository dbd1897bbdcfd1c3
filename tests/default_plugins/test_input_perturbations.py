"""The checker aibench.input_perturbations on a hand-built context, and its page section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aibench_plugins.components.analysis import AnalysisContext, MetricData
from aibench_plugins.core.errors import ReadError
from aibench_plugins.core.host import PluginHost
from aibench_plugins.core.kinds import Kind
from aibench_plugins.data.perturbations import RUN_STATUS_FILE
from aibench_plugins.default_plugins.input_perturbations import InputPerturbations
from aibench_plugins.default_plugins.perturbation_page import InputPerturbationsSection

INPUTS = {"file": "test.csv", "id": "id", "kind": "image", "shape": [8, 8], "range": [0, 16]}


def _metric(key: str, use: str, predictions: Any, references: Any) -> MetricData:
    host = PluginHost()
    host.load_builtins()
    host.freeze()
    component = host.registry(Kind.METRIC).get(use).component
    ids = np.array([f"d{i}" for i in range(len(references))])
    return MetricData(key, key.title(), component.info, {}, component, ids, np.asarray(predictions),
                      np.asarray(references))


def _context(tmp_path: Path, runs: dict[str, np.ndarray | None], clean: np.ndarray,
             truth: np.ndarray) -> AnalysisContext:
    folders: dict[str, Path] = {}
    stored: dict[Path, np.ndarray] = {}
    for name, predictions in runs.items():
        folder = tmp_path / name
        folder.mkdir()
        folders[name] = folder
        if predictions is None:
            (folder / RUN_STATUS_FILE).write_text(json.dumps({"exit_code": 1, "timed_out": False,
                                                              "message": "model crashed"}))
        else:
            stored[folder] = predictions

    def read(folder: Path, key: str) -> np.ndarray:
        if folder not in stored:
            raise ReadError("no predictions.csv", file="predictions.csv")
        return stored[folder]

    return AnalysisContext({"accuracy": _metric("accuracy", "aibench.accuracy", clean, truth)}, tmp_path,
                           lambda name: None, perturbed_runs=folders, read_predictions=read)


def test_clean_perturbed_drop_and_flip_rate_match_a_hand_computation(tmp_path: Path) -> None:
    truth = np.array([0, 1, 2, 3] * 5)
    clean = truth.copy()
    clean[0] = 1  # 19/20
    noisy3 = clean.copy()
    noisy3[:5] = 9  # 5 flips, accuracy 15/20
    noisy5 = clean.copy()
    noisy5[:10] = 9  # 10 flips, accuracy 10/20
    context = _context(tmp_path, {"gaussian_noise-3": noisy3, "gaussian_noise-5": noisy5}, clean, truth)
    params = {"inputs": INPUTS, "perturbations": [{"name": "gaussian_noise", "severities": [3, 5]}]}
    result = InputPerturbations().analyse(context, **params)
    values = {s.name: s.value for s in result.summaries}
    assert values["clean.accuracy"] == pytest.approx(0.95)
    assert values["perturbed.accuracy"] == pytest.approx((0.75 + 0.5) / 2)
    assert values["relative_drop.accuracy"] == pytest.approx((0.95 - 0.625) / 0.95)
    assert values["flip_rate"] == pytest.approx((5 / 20 + 10 / 20) / 2)
    assert values["failed_runs"] == 0
    table = result.tables[0]
    assert [r[:2] for r in table["rows"]] == [["clean", 0], ["gaussian_noise", 3], ["gaussian_noise", 5]]


def test_mce_follows_imagenet_c(tmp_path: Path) -> None:
    truth = np.array([0, 1] * 10)
    clean = truth.copy()  # error 0
    run = {"contrast-1": truth.copy(), "contrast-5": np.where(np.arange(20) < 4, 1 - truth, truth),
           "pixelate-1": np.where(np.arange(20) < 2, 1 - truth, truth)}
    errors = {"contrast-1": 0.0, "contrast-5": 0.2, "pixelate-1": 0.1}
    context = _context(tmp_path, run, clean, truth)
    reference = {"clean": 0.05, "contrast": {"1": 0.1, "5": 0.5}, "pixelate": [0.2, 0.3, 0.4, 0.5, 0.6]}
    params = {"inputs": INPUTS, "perturbations": [{"name": "contrast", "severities": [1, 5]},
                                                  {"name": "pixelate", "severities": [1]}],
              "reference_errors": reference}
    values = {s.name: s.value for s in InputPerturbations().analyse(context, **params).summaries}
    ce = {"contrast": (errors["contrast-1"] + errors["contrast-5"]) / (0.1 + 0.5),
          "pixelate": errors["pixelate-1"] / 0.2}
    assert values["mce"] == pytest.approx((ce["contrast"] + ce["pixelate"]) / 2)
    relative = {"contrast": (0.0 + 0.2) / ((0.1 - 0.05) + (0.5 - 0.05)), "pixelate": 0.1 / (0.2 - 0.05)}
    assert values["relative_mce"] == pytest.approx((relative["contrast"] + relative["pixelate"]) / 2)


def test_a_crashed_perturbed_run_counts_for_its_perturbation_only(tmp_path: Path) -> None:
    truth = np.array([0, 1] * 10)
    context = _context(tmp_path, {"contrast-1": truth.copy(), "contrast-5": None}, truth.copy(), truth)
    params = {"inputs": INPUTS, "perturbations": [{"name": "contrast", "severities": [1, 5]}],
              "reference_errors": {"contrast": {"1": 0.1, "5": 0.5}}}
    result = InputPerturbations().analyse(context, **params)
    values = {s.name: s.value for s in result.summaries}
    assert values["clean.accuracy"] == 1.0 and values["perturbed.accuracy"] == 1.0
    assert values["failed_runs"] == 1 and values["mce"] is None
    assert any("contrast-5" in n and "exited with code 1" in n for n in result.notes)
    assert result.tables[0]["rows"][2][2] == "failed"


def test_the_page_section_draws_a_line_per_corruption(tmp_path: Path) -> None:
    truth = np.array([0, 1] * 10)
    worse = np.where(np.arange(20) < 6, 1 - truth, truth)
    context = _context(tmp_path, {"contrast-1": truth.copy(), "contrast-5": worse, "pixelate-3": worse}, truth, truth)
    params = {"inputs": INPUTS, "perturbations": [{"name": "contrast", "severities": [1, 5]},
                                                  {"name": "pixelate", "severities": [3]}]}
    result = InputPerturbations().analyse(context, **params)
    report = {"analyses": [{"kind": "robustness", "component": "aibench.input_perturbations", "key": "corruptions",
                            "label": "Corruptions <b>", "summaries": [s.to_json() for s in result.summaries],
                            "tables": list(result.tables), "notes": list(result.notes), "groups": [], "flags": []}]}
    section = InputPerturbationsSection().render(report)
    assert section is not None
    assert section.body.count("<polyline") == 2 and "stroke-dasharray" in section.body
    assert "Corruptions &lt;b&gt;" in section.body and "<b>" not in section.body
    assert InputPerturbationsSection().render({"analyses": []}) is None
