"""Known answers for the counters (aibench_plugins.complexity.counting): exact MACs of linear and
convolution layers and of a small CNN, and the attention cases (an explicit ``q @ k.T``, softmax,
``@ v``; ``F.scaled_dot_product_attention``; ``nn.MultiheadAttention``) with both counters'
numbers and the flag where they disagree. Real torch models, batch 1 unless said."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from aibench_plugins import InvalidValueError, UsageError
from aibench_plugins.complexity import (PTFLOPS_MISSING, CountingError, count_flops, count_macs,
                                        count_parameters, cross_check, ptflops_version)

SEQ, WIDTH, HEADS = 128, 64, 4
#: the attention block of evaluation.md §4.2: half in the four projections, half in the attention
PROJECTIONS = 4 * SEQ * WIDTH * WIDTH  # 2,097,152
ATTENTION = 2 * SEQ * SEQ * WIDTH  # 2,097,152


class SmallCNN(nn.Module):
    """2 conv + BN + ReLU + pool, then a linear layer; no biases in the counted layers."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(16 * 7 * 7, 10, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).flatten(1))


CNN_MACS = 3 * 3 * 1 * 8 * 28 * 28 + 3 * 3 * 8 * 16 * 14 * 14 + 16 * 7 * 7 * 10  # 290,080


class Attention(nn.Module):
    """Self-attention with four bias-free projections, the attention written out or through SDPA."""

    def __init__(self, sdpa: bool) -> None:
        super().__init__()
        self.sdpa = sdpa
        self.q, self.k, self.v, self.o = (nn.Linear(WIDTH, WIDTH, bias=False) for _ in range(4))

    def _heads(self, x: Tensor) -> Tensor:
        b, n, e = x.shape
        return x.view(b, n, HEADS, e // HEADS).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x))
        if self.sdpa:
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            a = torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1) @ v
        b, h, n, d = a.shape
        return self.o(a.transpose(1, 2).reshape(b, n, h * d))


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention`` (biases on) as self-attention."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.attention(x, x, x, need_weights=False)[0]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def tokens() -> Tensor:
    return torch.randn(1, SEQ, WIDTH)


@pytest.mark.parametrize("batch", [1, 4])
def test_linear_is_in_times_out_per_sample(batch: int) -> None:
    model = nn.Linear(32, 16, bias=False).eval()
    macs, version = count_macs(model, torch.randn(batch, 32), "aten")
    assert macs == batch * 32 * 16
    assert version == ptflops_version()
    assert count_flops(model, torch.randn(batch, 32)) == 2 * batch * 32 * 16


def test_linear_bias_is_counted_by_ptflops_not_by_the_flop_counter() -> None:
    model = nn.Linear(32, 16).eval()
    macs, flops = count_macs(model, torch.randn(1, 32))[0], count_flops(model, torch.randn(1, 32))
    assert (macs, flops) == (32 * 16 + 16, 2 * 32 * 16)
    check = cross_check(macs, flops, backend="aten")
    assert check.relative_difference == pytest.approx(32 / 1056) and not check.flagged and check.reason == ""


def test_conv2d_is_k_k_cin_cout_hout_wout() -> None:
    model = nn.Conv2d(3, 8, 5, bias=False).eval()
    x = torch.randn(1, 3, 32, 32)
    assert count_macs(model, x, "aten")[0] == 5 * 5 * 3 * 8 * 28 * 28
    assert count_flops(model, x) == 2 * 5 * 5 * 3 * 8 * 28 * 28


def test_small_cnn_analytic_value() -> None:
    model, x = SmallCNN().eval(), torch.randn(1, 1, 28, 28)
    assert count_macs(model, x, "aten")[0] == CNN_MACS
    assert count_flops(model, x) == 2 * CNN_MACS
    # the pytorch backend also counts batch norm, activations and pooling elementwise (346,528 with ptflops 0.7.5)
    pytorch = count_macs(model, x, "pytorch")[0]
    assert CNN_MACS < pytorch < 1.25 * CNN_MACS


def test_explicit_attention_both_counters_agree() -> None:
    model, x = Attention(sdpa=False).eval(), tokens()
    macs, flops = count_macs(model, x)[0], count_flops(model, x)
    assert macs == PROJECTIONS + ATTENTION == 4_194_304
    assert flops == 2 * (PROJECTIONS + ATTENTION) == 8_388_608
    assert not cross_check(macs, flops, backend="aten").flagged


def test_sdpa_attention_ptflops_misses_it_and_is_flagged() -> None:
    model, x = Attention(sdpa=True).eval(), tokens()
    macs, flops = count_macs(model, x)[0], count_flops(model, x)
    assert macs == PROJECTIONS  # ptflops' aten backend does not see the SDPA kernel
    assert flops == 2 * (PROJECTIONS + ATTENTION)  # with the CPU SDPA formula added
    check = cross_check(macs, flops, backend="aten")
    assert check.flagged and check.relative_difference == pytest.approx(0.5)
    assert "2,097,152 MACs" in check.reason and "8,388,608 FLOPs" in check.reason and "aten" in check.reason


def test_torch_alone_counts_no_flops_for_the_cpu_sdpa_kernel() -> None:
    """Why the formula is added: the installed torch's own registry gives the SDPA kernel 0 on CPU
    (when a torch release adds it, count_flops uses torch's and this test says so)."""
    model, x = Attention(sdpa=True).eval(), tokens()
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    assert counter.get_total_flops() in (2 * PROJECTIONS, 2 * (PROJECTIONS + ATTENTION))
    assert count_flops(model, x) == 2 * (PROJECTIONS + ATTENTION)


def test_multihead_attention_counted_with_autograd_enabled() -> None:
    model, x = SelfAttention().eval(), tokens()
    biases = 3 * SEQ * WIDTH + SEQ * WIDTH  # ptflops counts the in- and out-projection bias adds
    with torch.inference_mode():  # how an ingestion program calls it: counting still decomposes the layer
        example = torch.randn(1, SEQ, WIDTH)
        macs, flops = count_macs(model, example)[0], count_flops(model, example)
    assert macs == PROJECTIONS + biases == 2_129_920  # projections only: the attention is missed
    assert flops == 2 * (PROJECTIONS + ATTENTION)
    check = cross_check(macs, flops, backend="aten")
    assert check.flagged and "2,129,920 MACs" in check.reason


def test_multihead_attention_fast_path_is_zero_for_torch_alone() -> None:
    """Eval mode under no_grad: nn.MultiheadAttention runs the fused
    aten._native_multi_head_attention, which torch's counter gives 0."""
    model, x = SelfAttention().eval(), tokens()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    assert counter.get_total_flops() == 0


def test_frozen_multihead_attention_takes_the_fast_path_and_the_fused_formula_counts_it() -> None:
    model, x = SelfAttention().eval(), tokens()
    model.requires_grad_(False)
    macs, flops = count_macs(model, x)[0], count_flops(model, x)
    assert flops == 2 * (PROJECTIONS + ATTENTION)  # the formula added for the fused kernel
    assert macs == 0  # ptflops does not know the fused kernel
    check = cross_check(macs, flops, backend="aten")
    assert check.flagged and check.relative_difference == 1.0


def test_the_model_is_left_as_it_was() -> None:
    model = SmallCNN().train()
    before = [(m.training, sorted(vars(m)), len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]
    x = torch.randn(1, 1, 28, 28)
    for backend in ("aten", "pytorch"):
        count_macs(model, x, backend)
    count_flops(model, x)
    after = [(m.training, sorted(vars(m)), len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]
    assert after == before


def test_mapping_example_is_passed_as_keywords() -> None:
    class TwoInputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(8, 4, bias=False), nn.Linear(6, 4, bias=False)

        def forward(self, left: Tensor, right: Tensor) -> Tensor:
            return self.a(left) + self.b(right)

    example = {"left": torch.randn(1, 8), "right": torch.randn(1, 6)}
    assert count_macs(TwoInputs(), example)[0] == 8 * 4 + 6 * 4
    assert count_flops(TwoInputs(), example) == 2 * (8 * 4 + 6 * 4)


def test_parameters_count_frozen_ones_and_size_is_the_saved_state_dict() -> None:
    model = SmallCNN()
    model.body[0].requires_grad_(False)
    count = count_parameters(model)
    total = 8 * 9 + 2 * 8 + 16 * 8 * 9 + 2 * 16 + 784 * 10
    assert (count.total, count.trainable) == (total, total - 8 * 9)
    import io

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    assert count.size_bytes == len(buffer.getvalue())
    assert count.size_bytes > 4 * total  # float32 weights and the batch-norm buffers


def test_shared_parameters_count_once() -> None:
    layer = nn.Linear(4, 4, bias=False)
    assert count_parameters(nn.Sequential(layer, layer)).total == 16


def test_lazy_module_before_its_first_call_is_a_counting_error() -> None:
    with pytest.raises(CountingError, match="cannot be counted"):
        count_parameters(nn.LazyLinear(4))


def test_a_plain_callable_is_a_usage_error() -> None:
    for count in (count_parameters, lambda f: count_macs(f, 1), lambda f: count_flops(f, 1)):
        with pytest.raises(UsageError, match="torch.nn.Module"):
            count(lambda q: q)


def test_a_model_failing_on_its_example_is_a_counting_error_with_the_reason() -> None:
    model, x = nn.Linear(8, 4), torch.randn(1, 5)
    with pytest.raises(CountingError, match="aten backend failed on the model: .*shapes cannot be multiplied"):
        count_macs(model, x)
    with pytest.raises(CountingError, match="forward pass failed: RuntimeError"):
        count_flops(model, x)


def test_unknown_backend_and_bad_tolerance_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="aten, pytorch"):
        count_macs(nn.Linear(2, 2), torch.randn(1, 2), "fvcore")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="tolerance"):
        cross_check(1, 2, backend="aten", tolerance=-1)


def test_without_ptflops_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ptflops", None)  # what an environment without ptflops imports
    with pytest.raises(CountingError) as raised:
        count_macs(nn.Linear(2, 2), torch.randn(1, 2))
    assert raised.value.reason == PTFLOPS_MISSING
    assert "pip install ptflops" in PTFLOPS_MISSING


def test_cross_check_of_zero_counts_agrees() -> None:
    check = cross_check(0, 0, backend="aten")
    assert check.relative_difference == 0.0 and not check.flagged
    assert check.details() == {"ptflops_macs": 0, "ptflops_backend": "aten", "flop_counter_flops": 0,
                               "relative_difference": 0.0, "tolerance": 0.05}


def test_a_model_without_parameters_counts_zero_and_agrees() -> None:
    model, x = nn.Sequential(nn.ReLU(), nn.Softmax(dim=-1)), torch.randn(1, 10)
    macs, flops = count_macs(model, x)[0], count_flops(model, x)
    assert (macs, flops) == (0, 0) and not cross_check(macs, flops, backend="aten").flagged
    assert count_parameters(model).total == 0
