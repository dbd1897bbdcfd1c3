"""Counting what a ``torch.nn.Module`` costs: parameters, model size, MACs and FLOPs.

* :func:`count_parameters`: every parameter (``model.parameters()``, shared ones once), and
  those with ``requires_grad`` apart; ptflops' own parameter count drops frozen parameters
  (evaluation.md §4.2: 19,338 against 20,234 with one conv frozen), so it is not used. The size
  on disk is the byte length of ``torch.save(model.state_dict())`` (buffers such as batch-norm
  statistics included), written to memory.
* :func:`count_macs`: ptflops (``get_model_complexity_info``), **its backend always passed
  explicitly** (``aten`` by default: ptflops' README and its code disagree about its default).
  ptflops counts multiply-accumulates (its "flops" are MACs, ptflops issue #40); the ``aten``
  backend counts ``mm``, ``matmul``, ``addmm`` (bias adds included), ``bmm`` and convolutions
  (bias included) and nothing else.
* :func:`count_flops`: PyTorch's ``torch.utils.flop_counter.FlopCounterMode``: 2 FLOPs per
  multiply-accumulate, matrix products, convolutions and the SDPA kernels, bias adds not
  counted. Two formulas are added where the installed torch lacks them (``custom_mapping``,
  nothing global is changed): ``aten._scaled_dot_product_flash_attention_for_cpu``, the CPU
  kernel of ``F.scaled_dot_product_attention`` (torch 2.13 counts it 0, pytorch issue
  #195460), and ``aten._native_multi_head_attention``, the fused kernel of
  ``nn.MultiheadAttention`` (below).
* :func:`cross_check`: the two counters compared (FLOPs against 2 x MACs); beyond the tolerance
  (relative, 0.05 by default) both numbers are reported and flagged, the reason naming both.

**How both counters are run.** On a copy of the example (tensors cloned outside inference mode),
**with autograd enabled** (``torch.inference_mode(False)`` and ``torch.enable_grad()``), the model
in eval mode: in eval mode under ``no_grad``/``inference_mode``, ``nn.MultiheadAttention`` takes
its fast path, the fused ``aten._native_multi_head_attention``, which neither counter knows
(both count 0 for the whole layer; ptflops even 0 for a bias-free layer under
``inference_mode``). With autograd enabled and trainable parameters it runs as ``addmm`` plus
``scaled_dot_product_attention``, which both see. Where the fast path is taken all the same (every
parameter frozen, the input without grad), the formula added for the fused op counts it for
``count_flops``; ptflops still counts 0 for it, and the cross-check flags that. The model's
training flags, forward hooks and attributes are restored afterwards: ptflops' ``aten`` backend
leaves two forward hooks on each child module and its ``pytorch`` backend leaves methods and
counters on every module.

**Known answers** (tests/complexity/test_counting.py asserts each, batch 1):

=====================================================  ===================  ==============  ========
model                                                  ptflops aten (MAC)   FlopCounterMode flagged
=====================================================  ===================  ==============  ========
``nn.Linear(i, o, bias=False)``                        i*o                  2*i*o           no
``nn.Linear(i, o)``                                    i*o + o (bias)       2*i*o           no [#]_
``nn.Conv2d(ci, co, k, bias=False)``                   k*k*ci*co*Ho*Wo      2 x that        no
attention ``q @ k.T``, softmax, ``@ v`` (no biases)    all of it            2 x all of it   no
attention through ``F.scaled_dot_product_attention``   projections only     all of it       yes
``nn.MultiheadAttention``                              projections + biases all of it       yes
=====================================================  ===================  ==============  ========

.. [#] within the tolerance while ``o`` is small against ``i*o``.

For the attention block of evaluation.md §4.2 (sequence 128, width 64, 4 heads: 4,194,304
MACs, half in the projections, half in the attention), ptflops ``aten`` counts 2,097,152 MACs
through SDPA (2,129,920 for ``nn.MultiheadAttention``, its biases counted) and FlopCounterMode
8,388,608 FLOPs: the MAC count misses the attention, and the flag says so.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..core.errors import AibenchError, InvalidValueError, UsageError

__all__ = ["BACKENDS", "DEFAULT_TOLERANCE", "PTFLOPS_MISSING", "CountCheck", "CountingError", "ParameterCount",
           "count_flops", "count_macs", "count_parameters", "cross_check", "ptflops_version"]

Backend = Literal["aten", "pytorch"]
#: ptflops' backends, the first the default here
BACKENDS: tuple[Backend, ...] = ("aten", "pytorch")
#: relative difference between FLOPs and 2 x MACs beyond which the two counts are flagged
DEFAULT_TOLERANCE = 0.05
PTFLOPS_MISSING = "ptflops is not installed: pip install ptflops (the 'complexity' extra of aibench-plugins)"


class CountingError(AibenchError):
    """A counter could not count this model here (``counter``: ``ptflops``,
    ``torch.utils.flop_counter``, ``torch``; ``reason``: why). Meters turn it into an
    ``unavailable`` measurement with the reason."""

    def __init__(self, counter: str, reason: str) -> None:
        super().__init__(f"{counter}: {reason}")
        self.counter, self.reason = counter, reason


@dataclass(frozen=True)
class ParameterCount:
    """What :func:`count_parameters` counts: ``total`` parameters (every one, frozen included),
    ``trainable`` (``requires_grad``), ``size_bytes`` (``torch.save`` of the state dict)."""

    total: int
    trainable: int
    size_bytes: int


@dataclass(frozen=True)
class CountCheck:
    """Two counters compared: ptflops' ``macs`` (its ``backend``) against FlopCounterMode's
    ``flops``. ``relative_difference`` is ``|flops - 2 macs| / max(flops, 2 macs)`` (0 when both
    are 0); ``flagged`` when it exceeds ``tolerance``, ``reason`` then naming both numbers."""

    macs: int
    flops: int
    backend: str
    tolerance: float
    relative_difference: float

    @property
    def flagged(self) -> bool:
        return self.relative_difference > self.tolerance

    @property
    def reason(self) -> str:
        if not self.flagged:
            return ""
        return (f"the counters disagree: ptflops ({self.backend} backend) counts {self.macs:,} MACs "
                f"(= {2 * self.macs:,} FLOPs at 2 FLOPs per MAC), torch.utils.flop_counter counts {self.flops:,} "
                f"FLOPs: {self.relative_difference:.1%} apart, beyond the tolerance of {self.tolerance:.1%} "
                "(typically attention that one counter does not see)")

    def details(self) -> dict[str, Any]:
        """Both counters' numbers, for each measurement's ``details``."""
        return {"ptflops_macs": self.macs, "ptflops_backend": self.backend, "flop_counter_flops": self.flops,
                "relative_difference": self.relative_difference, "tolerance": self.tolerance}


def cross_check(macs: int, flops: int, *, backend: str, tolerance: float = DEFAULT_TOLERANCE) -> CountCheck:
    """Compare ptflops' MACs with FlopCounterMode's FLOPs (FLOPs = 2 x MACs when they agree)."""
    if not (isinstance(tolerance, (int, float)) and 0 <= tolerance and math.isfinite(tolerance)):
        raise InvalidValueError(f"tolerance must be a finite number >= 0 (a relative difference), got {tolerance!r}")
    larger = max(flops, 2 * macs)
    difference = abs(flops - 2 * macs) / larger if larger else 0.0
    return CountCheck(macs, flops, backend, float(tolerance), difference)


def count_parameters(model: Any) -> ParameterCount:
    """Parameters of ``model`` (a ``torch.nn.Module``): all, trainable, and the state dict's
    size in bytes as ``torch.save`` writes it. Raises :class:`CountingError` for a module whose
    parameters cannot be counted yet (lazy modules before their first call)."""
    torch = _torch_module(model)
    try:
        parameters = list(model.parameters())
        total = sum(int(p.numel()) for p in parameters)
        trainable = sum(int(p.numel()) for p in parameters if p.requires_grad)
    except ValueError as error:  # UninitializedParameter.numel(): a lazy module not yet run
        raise CountingError("torch", f"the parameters cannot be counted: {error}") from error
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return ParameterCount(total, trainable, buffer.getbuffer().nbytes)


def ptflops_version() -> str:
    """The installed ptflops' version; :class:`CountingError` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        import ptflops  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise CountingError("ptflops", PTFLOPS_MISSING) from None
    try:
        return version("ptflops")
    except PackageNotFoundError:  # importable but not installed as a distribution (a vendored copy)
        return str(getattr(ptflops, "__version__", "unknown"))


def count_macs(model: Any, example: Any, backend: Backend = "aten") -> tuple[int, str]:
    """MACs of one forward pass of ``model`` on ``example`` counted by ptflops with ``backend``
    (passed to ptflops explicitly), and ptflops' version. ``example`` is the model's input as
    is (no batch dimension added); a mapping is passed as keyword arguments, as ptflops does.
    Run as the module docstring says (autograd enabled, eval mode, the model restored).
    Raises :class:`CountingError` when ptflops is missing or fails on the model (its message
    in the reason)."""
    if backend not in BACKENDS:
        raise InvalidValueError(f"backend must be one of {', '.join(BACKENDS)} (ptflops' backends), got {backend!r}")
    _torch_module(model)
    tool_version = ptflops_version()
    from ptflops import get_model_complexity_info  # type: ignore[import-untyped,unused-ignore]

    captured = io.StringIO()
    with _counting(model, example) as prepared:
        try:
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                # ptflops prints a failure (and its traceback) and returns None: both are captured
                macs, _params = get_model_complexity_info(
                    model, (1,), print_per_layer_stat=False, as_strings=False,
                    input_constructor=lambda _res: prepared, ost=captured, backend=backend)
        except Exception as error:  # raised outside ptflops' own guard: the same failure, said the same way
            raise CountingError("ptflops", f"{backend} backend failed on the model: {type(error).__name__}: "
                                           f"{error}") from error
    if macs is None:
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        raise CountingError("ptflops", f"{backend} backend failed on the model: {lines[-1] if lines else 'no message'}")
    return int(macs), tool_version


def count_flops(model: Any, example: Any) -> int:
    """FLOPs of one forward pass of ``model`` on ``example`` counted by
    ``torch.utils.flop_counter.FlopCounterMode``, with formulas for the CPU SDPA kernel and the
    fused multi-head attention added when the installed torch has none. Run as
    :func:`count_macs` runs ptflops. Raises :class:`CountingError` when the forward pass fails."""
    _torch_module(model)
    from torch.utils import flop_counter

    registry = getattr(flop_counter, "flop_registry", {})
    aten = _torch().ops.aten
    custom = {op: formula for op, formula in ((getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None),
                                               _sdpa_cpu_flop),
                                              (getattr(aten, "_native_multi_head_attention", None), _native_mha_flop))
              if op is not None and op not in registry}
    counter = flop_counter.FlopCounterMode(display=False, custom_mapping=custom)
    with _counting(model, example) as prepared:
        try:
            with counter:
                _call(model, prepared)
        except Exception as error:  # the participant's model failing on its example: the reason says how
            raise CountingError("torch.utils.flop_counter",
                                f"the forward pass failed: {type(error).__name__}: {error}") from error
    return int(counter.get_total_flops())


def _sdpa_cpu_flop(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, out_shape: Any = None,
                   **kwargs: Any) -> int:
    """``aten._scaled_dot_product_flash_attention_for_cpu``: ``q @ k.T`` and ``@ v``, 2 FLOPs
    per MAC, over every query head (grouped-query attention broadcasts the key heads)."""
    batch = math.prod(query_shape[:-2])
    length_q, dim = query_shape[-2], query_shape[-1]
    length_k, dim_v = key_shape[-2], value_shape[-1]
    return int(2 * batch * length_q * length_k * dim + 2 * batch * length_q * length_k * dim_v)


def _native_mha_flop(query_shape: Any, key_shape: Any, value_shape: Any, embed_dim: int, num_head: int,
                     qkv_weight_shape: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """``aten._native_multi_head_attention`` (query, key, value ``(B, L, E)``): the q, k, v
    projections, ``q @ k.T`` and ``@ v`` over the heads (``E`` in all), and the output
    projection; 2 FLOPs per MAC, bias adds not counted (as for ``addmm``)."""
    batch = math.prod(query_shape[:-2])
    length_q, length_k = query_shape[-2], key_shape[-2]
    e = embed_dim
    projections = length_q * e * e + 2 * length_k * e * e + length_q * e * e
    attention = 2 * length_q * length_k * e
    return int(2 * batch * (projections + attention))


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise CountingError("torch", "torch is not installed: pip install 'aibench-plugins[torch]'") from None
    return torch


def _torch_module(model: Any) -> Any:
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"counting needs a torch.nn.Module, got {type(model).__name__}: a plain callable has no "
                         "parameters or operator graph to count")
    return torch


def _call(model: Any, example: Any) -> Any:
    return model(**example) if isinstance(example, Mapping) else model(example)


def _prepared(torch: Any, value: Any) -> Any:
    """``value`` with every tensor cloned (outside inference mode: an inference tensor cannot be
    saved for backward)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, Mapping):
        return {k: _prepared(torch, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_prepared(torch, v) for v in value)
    return value


@contextlib.contextmanager
def _counting(model: Any, example: Any) -> Iterator[Any]:
    """Autograd enabled outside inference mode, the example copied; on exit every module's
    training flag, hooks and attributes as they were."""
    torch = _torch()
    modules = list(model.modules())
    training = [m.training for m in modules]
    attributes = [set(vars(m)) for m in modules]
    hooks = [{name: set(value) for name, value in vars(m).items() if "hooks" in name and isinstance(value, dict)}
             for m in modules]
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield _prepared(torch, example)
    finally:
        for module, flag, names, saved in zip(modules, training, attributes, hooks):
            module.training = flag  # the flag alone: train() would recurse into the children
            for name in set(vars(module)) - names:
                del vars(module)[name]
            for name, keys in saved.items():
                table = vars(module).get(name)
                if isinstance(table, dict):
                    for key in set(table) - keys:
                        del table[key]
