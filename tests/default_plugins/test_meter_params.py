"""The built-in meter aibench.params, called as the prediction step calls it:
meter.measure(MeterContext(...)) on real torch models."""

from __future__ import annotations

import io
from typing import Any

import torch
from torch import nn

from aibench_plugins import ComplexityInfo, Meter, MeterContext, Workload
from aibench_plugins.complexity import hardware
from aibench_plugins.default_plugins.complexity.params import METERS, ParamsMeter


def workload(name: str, model: Any) -> Workload:
    def predict(query: Any) -> Any:
        with torch.inference_mode():
            return model(query)

    return Workload(name, predict, [torch.randn(1, 16)], model=model)


def net(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(16, width), nn.ReLU(), nn.Linear(width, 4))


def size(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return len(buffer.getvalue())


def test_info_and_protocol() -> None:
    meter = METERS[0]()
    assert isinstance(meter, Meter) and isinstance(meter.info, ComplexityInfo)
    assert meter.info.id == "aibench.params" and meter.info.runs_in == "prediction"
    assert [s.pattern for s in meter.info.summaries] == ["params", "params.trainable", "model_size"]
    assert all(s.direction == "minimize" for s in meter.info.summaries)


def test_submission_with_a_reference() -> None:
    model, reference = net(32), net(8)
    model[0].requires_grad_(False)
    context = MeterContext(workload("submission", model), workload("reference", reference), hardware())
    result = ParamsMeter().measure(context)
    params, trainable, model_size = (result.measurement(n) for n in ("params", "params.trainable", "model_size"))
    assert params is not None and trainable is not None and model_size is not None
    total = 16 * 32 + 32 + 32 * 4 + 4
    assert (params.value, params.unit, params.reference) == (total, "count", 16 * 8 + 8 + 8 * 4 + 4)
    assert params.details == {"frozen": 16 * 32 + 32}
    assert (trainable.value, trainable.reference) == (32 * 4 + 4, 16 * 8 + 8 + 8 * 4 + 4)
    assert (model_size.value, model_size.unit, model_size.reference) == (size(model), "bytes", size(reference))
    for m in result.measurements:
        assert (m.measured_by, m.step, m.status, m.reason, m.flagged) == ("ingestion", "prediction", "measured", "",
                                                                          False)
        assert m.tool_version == torch.__version__
    assert model_size.tool == "torch.save" and params.tool == "torch.nn.Module.parameters"
    assert result.notes == ()
    assert [m["name"] for m in result.to_json()["measurements"]] == ["params", "params.trainable", "model_size"]


def test_measured_by_comes_from_the_context() -> None:
    context = MeterContext(workload("submission", net(4)), None, hardware(), measured_by="scoring")
    result = ParamsMeter().measure(context)
    assert {m.measured_by for m in result.measurements} == {"scoring"}
    assert all(m.reference is None for m in result.measurements)


def test_a_plain_callable_is_unavailable_with_the_reason() -> None:
    context = MeterContext(Workload("submission", lambda q: q, [1]), None, hardware())
    result = ParamsMeter().measure(context)
    assert [(m.status, m.value) for m in result.measurements] == [("unavailable", None)] * 3
    assert all("plain callable" in m.reason and "torch.nn.Module" in m.reason for m in result.measurements)


def test_a_callable_reference_leaves_the_reference_out_with_a_note() -> None:
    context = MeterContext(workload("submission", net(4)), Workload("reference", lambda q: q, [1]), hardware())
    result = ParamsMeter().measure(context)
    assert all(m.status == "measured" and m.reference is None for m in result.measurements)
    assert result.notes == ("no reference values: the reference workload is a plain callable: parameters need a "
                            "torch.nn.Module",)


def test_a_lazy_model_is_unavailable() -> None:
    model = nn.LazyLinear(3)
    context = MeterContext(Workload("submission", model, [torch.randn(1, 2)], model=model), None, hardware())
    result = ParamsMeter().measure(context)
    assert all(m.status == "unavailable" and "cannot be counted" in m.reason for m in result.measurements)
