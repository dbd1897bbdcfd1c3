"""The meter ``aibench.endpoint`` (``runs_in="scoring"``): what aibench's gateway measured on the host
while it called the model of an API-integrated submission (``endpoint.json``): latency per request
(p50, p90, p99, and the first request, exempt from the deadline), throughput, requests, errors,
retries, timeouts and the step's wall time. It reads them from ``MeterContext.step_measurements``
(``measured_by="gateway"``), never from the participant's side.

Timings of an endpoint the participant hosts are ``flagged``: its hardware is unknown, so they do
not compare across submissions (``details.comparable`` is false); those of a serving image the
executor ran are comparable. A submission that is not API-integrated gets every measurement
``unavailable``, with the reason.
"""

from __future__ import annotations

from typing import Any, Literal

from aibench_plugins import ComplexityInfo, ComplexityResult, Measurement, SummarySpec

__all__ = ["METERS", "EndpointTimings"]

#: name, unit, leaderboard direction, description: what the gateway gives, in this order
GIVEN: tuple[tuple[str, str, Literal["maximize", "minimize"], str], ...] = (
    ("latency.p50", "ms", "minimize", "median latency per request, as the host timed it (ms)"),
    ("latency.p90", "ms", "minimize", "90th percentile of the latency per request (ms)"),
    ("latency.p99", "ms", "minimize", "99th percentile of the latency per request (ms)"),
    ("latency.first", "ms", "minimize", "latency of the first request, exempt from the deadline (ms)"),
    ("throughput", "rows/s", "maximize", "rows predicted per second of request time"),
    ("requests", "count", "minimize", "requests sent, retries included"),
    ("errors", "count", "minimize", "requests that failed (transport errors, error statuses, bad answers)"),
    ("retries", "count", "minimize", "requests sent again after a transport error"),
    ("timeouts", "count", "minimize", "requests past their deadline"),
    ("wall_time", "s", "minimize", "the whole prediction step through the gateway, readiness included (s)"),
)
NOT_API = ("the submission is not API-integrated (no endpoint.json): the gateway called no endpoint, so there is "
           "nothing to measure")


class EndpointTimings:
    """The gateway's host-side measurements of an API-integrated submission."""

    info = ComplexityInfo(
        id="aibench.endpoint",
        description="Latency (p50, p90, p99), throughput, errors, retries and timeouts of an API-integrated "
                    "submission's endpoint, as aibench's gateway measured them on the host. A participant-hosted "
                    "endpoint's timings are flagged as not comparable across submissions.",
        summaries=tuple(SummarySpec(name, direction, words) for name, _, direction, words in GIVEN),
        runs_in="scoring", accepts=())

    def measure(self, context: Any, **params: Any) -> ComplexityResult:
        taken = {m.name: m for m in context.step_measurements if m.measured_by == "gateway"}
        found = [taken.get(name) or Measurement(name, None, unit, "gateway", "prediction", status="unavailable",
                                                reason=NOT_API if not taken else f"the gateway did not measure {name}")
                 for name, unit, _, _ in GIVEN]
        notes = [NOT_API] if not taken else [m.reason for m in found[:1] if m.flagged]
        return ComplexityResult(tuple(found), notes=tuple(notes))


METERS = (EndpointTimings,)
