"""What the gateway measured, as complexity measurements (``measured_by="gateway"``: on the host,
which sent every request and timed every answer; trust "host").

Names: ``latency.p50``, ``latency.p90``, ``latency.p99`` (ms, linear interpolation between the
closest ranks; the first request is exempt from the per-request deadline because it may load the
model, so it is left out of the percentiles when there are others: ``details`` says so),
``latency.first`` (ms), ``throughput`` (rows per second over the answered requests' own time),
``requests`` (inference requests sent, retries included), ``errors``, ``retries``, ``timeouts``
(counts) and ``wall_time`` (s, the whole prediction, readiness included). A participant-hosted
endpoint's run on unknown hardware: every measurement ``flagged`` with the reason, and
``details["comparable"]`` false.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from ..components.complexity import Measurement
from .types import GatewayOutcome

__all__ = ["NOT_COMPARABLE", "measurements", "percentile"]

NOT_COMPARABLE = ("a participant-hosted endpoint: its hardware is unknown, so its timings do not compare across "
                  "submissions")
_NOTHING = "nothing was answered: the gateway timed no request"
_FIRST_OUT = "left out: exempt from the per-request deadline (it may load the model)"


@functools.cache
def _httpx_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("httpx")
    except PackageNotFoundError:
        return ""


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` th percentile (0-100) of ``values`` (not empty), linearly interpolated between the
    closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measurements(outcome: GatewayOutcome) -> list[Measurement]:
    """The gateway's measurements of ``outcome`` (computed right after :func:`~.gateway.predict`:
    ``throughput`` counts ``outcome.rows``). Timings are ``unavailable`` with the reason when no
    request was answered; counts and ``wall_time`` are always measured."""
    latencies = list(outcome.latencies_ms)
    comparable = outcome.comparable
    base: dict[str, Any] = {"measured_by": "gateway", "step": "prediction", "tool": "httpx",
                            "tool_version": _httpx_version()}

    def make(name: str, value: float | None, unit: str, reason: str = "", **details: Any) -> Measurement:
        details = {**details, "comparable": comparable}
        if value is None:
            return Measurement(name, None, unit, status="unavailable", flagged=not comparable,
                               reason=reason + ("; " + NOT_COMPARABLE if not comparable else ""), details=details,
                               **base)
        return Measurement(name, float(value), unit, flagged=not comparable,
                           reason=NOT_COMPARABLE if not comparable else reason, details=details, **base)

    out: list[Measurement] = []
    timed = latencies[1:] if len(latencies) > 1 else latencies
    first_note = _FIRST_OUT if len(latencies) > 1 else "included: it is the only answered request"
    for q in (50, 90, 99):
        if timed:
            out.append(make(f"latency.p{q}", percentile(timed, q), "ms", requests=len(timed),
                            first_request=first_note))
        else:
            out.append(make(f"latency.p{q}", None, "ms", _NOTHING))
    out.append(make("latency.first", latencies[0] if latencies else None, "ms", "" if latencies else _NOTHING))
    seconds = sum(latencies) / 1000.0
    rows = len(outcome.rows)
    if latencies and seconds > 0:
        out.append(make("throughput", rows / seconds, "rows/s", rows=rows, seconds=seconds,
                        requests=len(latencies)))
    else:
        out.append(make("throughput", None, "rows/s", _NOTHING))
    for name in ("requests", "errors", "retries", "timeouts"):
        out.append(make(name, getattr(outcome, name), "count"))
    out.append(make("wall_time", outcome.wall_s, "s", ready_s=outcome.ready_s, batches=outcome.batches))
    return out
