"""The built-in meter aibench.macs, called as the prediction step calls it:
meter.measure(MeterContext(...)) on real torch models, both counters' numbers in each
measurement, the flag where they disagree (attention through SDPA)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from aibench_plugins import InvalidParamsError, Meter, MeterContext, Workload
from aibench_plugins.complexity import hardware, ptflops_version
from aibench_plugins.default_plugins.complexity.macs import METERS, MacsMeter


class SdpaBlock(nn.Module):
    """One-head self-attention through F.scaled_dot_product_attention, bias-free projections."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1)


def workload(name: str, model: Any, query: Any, example: Any = None) -> Workload:
    def predict(q: Any) -> Any:
        with torch.inference_mode():
            return model(q)

    return Workload(name, predict, [query], model=model, example=example)


def conv(channels: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, channels, 3, bias=False), nn.ReLU()).eval()


def macs_of_conv(channels: int) -> int:
    return 3 * 3 * 3 * channels * 14 * 14


def test_info_and_protocol() -> None:
    meter = METERS[0]()
    assert isinstance(meter, Meter) and meter.info.id == "aibench.macs"
    assert meter.info.params_schema["properties"]["backend"]["enum"] == ["aten", "pytorch"]
    assert [s.pattern for s in meter.info.summaries] == ["macs", "flops"]


def test_conv_with_a_reference_agrees_and_carries_both_counts() -> None:
    x = torch.randn(1, 3, 16, 16)
    context = MeterContext(workload("submission", conv(8), x), workload("reference", conv(4), x), hardware())
    result = MacsMeter().measure(context)
    macs, flops = result.measurement("macs"), result.measurement("flops")
    assert macs is not None and flops is not None
    assert (macs.value, macs.unit, macs.reference) == (macs_of_conv(8), "MAC", macs_of_conv(4))
    assert (flops.value, flops.unit, flops.reference) == (2 * macs_of_conv(8), "FLOP", 2 * macs_of_conv(4))
    assert (macs.tool, macs.tool_version) == ("ptflops", ptflops_version())
    assert (flops.tool, flops.tool_version) == ("torch.utils.flop_counter", torch.__version__)
    for m in (macs, flops):
        assert (m.status, m.flagged, m.reason, m.measured_by, m.step) == ("measured", False, "", "ingestion",
                                                                          "prediction")
        assert m.details["ptflops_backend"] == "aten"
        assert (m.details["ptflops_macs"], m.details["flop_counter_flops"]) == (macs_of_conv(8), 2 * macs_of_conv(8))
        assert m.details["relative_difference"] == 0.0 and m.details["tolerance"] == 0.05
        assert m.details["example_shape"] == [1, 3, 16, 16]
        assert m.details["reference"] == {"ptflops_macs": macs_of_conv(4), "flop_counter_flops": 2 * macs_of_conv(4),
                                          "relative_difference": 0.0, "flagged": False}
    assert result.notes == ()
    assert result.tables[0]["rows"] == [["ptflops (aten backend)", ptflops_version(), "MAC", macs_of_conv(8),
                                         macs_of_conv(4)],
                                        ["torch.utils.flop_counter", torch.__version__, "FLOP", 2 * macs_of_conv(8),
                                         2 * macs_of_conv(4)]]
    assert json.loads(json.dumps(result.to_json())) == result.to_json()


def test_attention_through_sdpa_is_flagged_with_both_numbers() -> None:
    x = torch.randn(1, 64, 32)
    result = MacsMeter().measure(MeterContext(workload("submission", SdpaBlock().eval(), x), None, hardware()))
    macs, flops = result.measurement("macs"), result.measurement("flops")
    assert macs is not None and flops is not None
    projections, attention = 64 * 32 * 96, 2 * 64 * 64 * 32
    assert (macs.value, flops.value) == (projections, 2 * (projections + attention))
    for m in (macs, flops):
        assert m.flagged and m.status == "measured"
        assert f"{projections:,} MACs" in m.reason and f"{2 * (projections + attention):,} FLOPs" in m.reason
        assert m.details["ptflops_macs"] == projections and m.details["flop_counter_flops"] == flops.value


def test_tolerance_and_backend_params() -> None:
    x = torch.randn(1, 64, 32)
    context = MeterContext(workload("submission", SdpaBlock().eval(), x), None, hardware())
    loose = MacsMeter().measure(context, tolerance=0.9, backend="pytorch")
    macs = loose.measurement("macs")
    assert macs is not None and not macs.flagged and macs.details["ptflops_backend"] == "pytorch"
    assert macs.details["tolerance"] == 0.9
    with pytest.raises(InvalidParamsError, match="backend"):
        MacsMeter().measure(context, backend="fvcore")
    with pytest.raises(InvalidParamsError, match="tolerance"):
        MacsMeter().measure(context, tolerance=-0.1)
    with pytest.raises(InvalidParamsError, match="not repeats"):
        MacsMeter().measure(context, repeats=3)


def test_the_example_is_counted_not_the_first_query() -> None:
    model = conv(8)
    context = MeterContext(workload("submission", model, torch.randn(1, 3, 16, 16), example=torch.randn(2, 3, 16, 16)),
                           None, hardware())
    macs = MacsMeter().measure(context).measurement("macs")
    assert macs is not None and macs.value == 2 * macs_of_conv(8) and macs.details["example_shape"] == [2, 3, 16, 16]


def test_a_plain_callable_is_unavailable_and_so_is_its_reference() -> None:
    x = torch.randn(1, 3, 16, 16)
    context = MeterContext(Workload("submission", lambda q: q, [x]), Workload("reference", lambda q: q, [x]),
                           hardware())
    result = MacsMeter().measure(context)
    assert [(m.status, m.value, m.reference) for m in result.measurements] == [("unavailable", None, None)] * 2
    assert all("plain callable" in m.reason for m in result.measurements)
    assert result.notes == ("no reference counts: the reference workload is a plain callable: counting operations "
                            "needs a torch.nn.Module",)


def test_a_model_failing_on_its_example_is_unavailable_with_the_reason() -> None:
    model = nn.Linear(4, 2)
    result = MacsMeter().measure(MeterContext(workload("submission", model, torch.randn(1, 5)), None, hardware()))
    assert all(m.status == "unavailable" for m in result.measurements)
    assert "shapes cannot be multiplied" in result.measurements[1].reason


def test_without_ptflops_macs_is_unavailable_and_flops_not_cross_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ptflops", None)  # what an environment without ptflops imports
    result = MacsMeter().measure(MeterContext(workload("submission", conv(8), torch.randn(1, 3, 16, 16)), None,
                                              hardware()))
    macs, flops = result.measurement("macs"), result.measurement("flops")
    assert macs is not None and flops is not None
    assert (macs.status, macs.reason) == ("unavailable", "ptflops is not installed: pip install ptflops (the "
                                                         "'complexity' extra of aibench-plugins)")
    assert (flops.status, flops.value) == ("measured", 2 * macs_of_conv(8))
    assert flops.reason.startswith("not cross-checked: ptflops could not count (ptflops is not installed")
