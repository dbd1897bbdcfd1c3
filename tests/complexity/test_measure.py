"""aibench_plugins.complexity.measure and measure_block: the plan's prediction-side meters run on
the participant's model in the ingestion program's process, each isolated, and what they measured
goes to OUTPUT/.aibench_complexity.json."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import aibench_plugins.complexity as complexity
from aibench_plugins import InvalidValueError
from aibench_plugins.complexity import measure, measure_block
from aibench_plugins.complexity.file import COMPLEXITY_FILE, WRITTEN_BY
from aibench_plugins.complexity.plan import PLAN_ENV, ComplexityPlan, PlanEntry

SHA = "f" * 64
IMPORTS = {"acme.calls": "acme_meters:Calls", "acme.model_only": "acme_meters:ModelOnly",
           "acme.needs_reference": "acme_meters:NeedsReference", "acme.block": "acme_meters:Block"}
ACCEPTS = {"acme.model_only": ("model",), "acme.block": ("block",)}


def _plan(monkeypatch: pytest.MonkeyPatch, *entries: tuple[str, str, dict[str, Any]], budget: float = 30) -> None:
    plan = ComplexityPlan(SHA, tuple(PlanEntry(key, use, IMPORTS.get(use, use), params,
                                               accepts=ACCEPTS.get(use, ("model", "callable")))
                                     for key, use, params in entries), budget, budget + 5)
    monkeypatch.setenv(PLAN_ENV, plan.started().to_env())


def _file(output: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((output / COMPLEXITY_FILE).read_text())
    assert document["written_by"] == WRITTEN_BY and document["manifest_sha256"] == SHA
    return document


def test_a_callable_is_measured_with_the_reference_and_the_file_written(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _plan(monkeypatch, ("calls", "acme.calls", {}))
    seen: list[int] = []
    def model(query: int) -> int:
        seen.append(query)
        return query % 2

    report = measure(model, [1, 2, 3], tmp_path, reference=lambda q: q, reference_queries=[7, 8])
    assert seen == [1, 2, 3] and report.planned and report.path == tmp_path / COMPLEXITY_FILE
    assert report.measurement("calls", "calls").value == 3  # type: ignore[union-attr]
    assert report.measurement("calls", "outputs").value == 2  # type: ignore[union-attr]
    assert report.measurement("calls", "reference.calls").value == 2  # type: ignore[union-attr]
    (entry,) = _file(tmp_path)["entries"]
    assert entry["key"] == "calls" and entry["use"] == "acme.calls" and entry["error"] is None
    assert {m["name"]: m["value"] for m in entry["result"]["measurements"]} == {"calls": 3, "outputs": 2,
                                                                                "reference.calls": 2}
    assert all(m["measured_by"] == "ingestion" and m["trust"] for m in entry["result"]["measurements"])
    assert entry["result"]["measurements"][0]["details"]["deadline_left_s"] > 0  # the meter had a deadline
    assert _file(tmp_path)["hardware"]["python"]


def test_a_meter_that_fails_is_its_entrys_error_and_the_others_still_run(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _plan(monkeypatch, ("broken", "acme.calls", {"fail": True}), ("missing", "acme.gone", {}),
          ("calls", "acme.calls", {"shout": True}))
    report = measure(abs, [-1, 2], tmp_path)
    broken, missing, calls = report.entries
    assert broken.error == "RuntimeError: acme.calls was told to fail" and broken.result is None
    assert missing.error is not None and "re-created from 'acme.gone'" in missing.error
    assert calls.error is None and calls.result is not None
    out, err = capsys.readouterr()
    assert out == ""  # a meter's prints go to stderr: the ingestion program's stdout is its own
    assert "acme.calls was here" in err and "acme.calls [broken] failed" in err and "Traceback" not in err
    assert [e["error"] is None for e in _file(tmp_path)["entries"]] == [False, False, True]


def test_a_meter_that_needs_what_it_was_not_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plan(monkeypatch, ("ratio", "acme.needs_reference", {}), ("layers", "acme.model_only", {}))
    ratio, layers = measure(len, ["ab"], tmp_path).entries
    assert ratio.error is not None and "reference=" in ratio.error
    assert layers.error is None and layers.result is not None
    (layer,) = layers.result.measurements
    assert layer.name == "layers" and layer.value is None and layer.status == "unavailable"
    assert "a plain callable" in layer.reason


def test_a_torch_module_is_called_under_inference_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    _plan(monkeypatch, ("layers", "acme.model_only", {}), ("calls", "acme.calls", {}))
    modes: list[bool] = []

    class Net(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)
            self.act = torch.nn.ReLU()

        def forward(self, x: Any) -> Any:
            modes.append(torch.is_inference_mode_enabled())
            return self.act(self.linear(x))

    report = measure(Net(), [torch.ones(1, 4), torch.zeros(1, 4)], tmp_path)
    assert report.measurement("layers", "layers").value == 2  # type: ignore[union-attr]
    assert report.measurement("calls", "calls").value == 2 and modes == [True, True]  # type: ignore[union-attr]


def test_torch_is_not_imported_for_a_plain_callable(tmp_path: Path) -> None:
    plan = ComplexityPlan(SHA, (PlanEntry("calls", "acme.calls", "acme_meters:Calls"),), 10, 15).started()
    code = ("import sys; from aibench_plugins.complexity import measure; "
            f"r = measure(len, ['a'], {str(tmp_path)!r}); print(r.entries[0].error, 'torch' in sys.modules)")
    env = {"PATH": "/usr/bin:/bin", PLAN_ENV: plan.to_env(),
           "PYTHONPATH": ":".join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "False"]


def test_without_a_plan_nothing_is_measured_and_stderr_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(PLAN_ENV, raising=False)
    report = measure(len, ["a"], tmp_path)
    assert not report.planned and report.entries == () and "no plan" in report.message
    assert not (tmp_path / COMPLEXITY_FILE).exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AIBENCH_COMPLEXITY_PLAN" in err
    monkeypatch.setenv(PLAN_ENV, "{broken")
    assert "not JSON" in measure(len, ["a"], tmp_path).message


def _five() -> Any:
    return 5


@pytest.mark.parametrize("call", [lambda out: measure(3, [1], out), lambda out: measure(len, [], out),
                                  lambda out: measure(len, _five(), out), lambda out: measure(len, [1], out / "nowhere")],
                         ids=["not callable", "no queries", "queries not a sequence", "no output folder"])
def test_a_wrong_call_is_said_before_anything_runs(tmp_path: Path, call: Any) -> None:
    with pytest.raises(InvalidValueError, match="measure"):
        call(tmp_path)


def test_a_block_is_measured_and_added_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plan(monkeypatch, ("calls", "acme.calls", {}), ("block", "acme.block", {}))
    measure(len, ["a"], tmp_path)
    with measure_block(tmp_path, name="training") as window:
        assert window.report is None
        sum(range(10000))
    assert window.report is not None
    (entry,) = window.report.entries
    assert entry.key == "block" and entry.block == "training" and entry.result is not None
    assert entry.result.measurements[0].value > 0  # type: ignore[operator]
    entries = _file(tmp_path)["entries"]
    assert [(e["key"], e["block"]) for e in entries] == [("calls", None), ("block", "training")]


def test_a_block_that_raises_is_still_measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plan(monkeypatch, ("block", "acme.block", {}))
    with pytest.raises(KeyError):
        with measure_block(tmp_path) as window:
            raise KeyError("the block's own")
    assert window.report is not None and window.report.entries[0].error is None


def test_hardware_stays_the_function_once_its_module_is_imported() -> None:
    """The import system sets a package's attribute to each submodule it imports: the face keeps
    ``hardware`` the function (aibench_plugins.complexity.hardware, the module, holds it)."""
    face = sys.modules["aibench_plugins.complexity"]
    sentinel = object()
    face.__dict__["hardware"] = sentinel
    try:
        setattr(face, "hardware", types.ModuleType("aibench_plugins.complexity.hardware"))
        assert complexity.hardware is sentinel  # type: ignore[comparison-overlap]
    finally:
        face.__dict__.pop("hardware", None)


def test_the_face_names_the_library() -> None:
    assert {"measure", "measure_block", "ComplexityReport", "hardware", "count_parameters", "ParameterCount",
            "count_macs", "count_flops", "PeakMemory", "measure_latency", "LatencyStats", "time_ratio", "TimeRatio",
            "RaplCounter", "NvmlCounter", "measure_energy", "EnergyReading"} <= set(complexity.__all__)
    code = "import sys, aibench_plugins.complexity; print(sorted(m for m in sys.modules if m.startswith('aibench_plugins')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(p for p in sys.path if p)}).stdout
    assert out.strip() == "['aibench_plugins', 'aibench_plugins._version', 'aibench_plugins.complexity']"
