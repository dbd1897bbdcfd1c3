"""The gateway's overhead per request against a bare HTTP client loop, on the same real MLServer, in
the same run.

One Seldon MLServer (scikit-learn runtime, an iris classifier; started as
``tests/submissions/mlserver_fixture.py`` does: 127.0.0.1, free ports, no metrics, no parallel
workers) serves both. Each round runs, in alternating order:

- **bare**: an ``httpx.Client`` (one kept-alive connection) that does what any Open Inference
  Protocol client must (with the gateway's Accept and Accept-Encoding headers): ``GET /v2/health/ready``, ``GET /v2/models/iris/ready``,
  ``GET /v2/models/iris``, then for each batch encodes the same infer body the gateway sends
  (``json.dumps``), ``POST /v2/models/iris/infer``, reads the answer and ``json.loads`` it;
- **gateway**: ``aibench_plugins.submissions.gateway.predict`` over the same rows (readiness,
  metadata, every batch: deadlines, streamed and bounded reading, validation of the answer's shape,
  datatype and row count, the counters).

The figure per side is its wall time after readiness (the metadata request, the infer requests,
closing the client; the gateway's ``outcome.ready_s`` splits its run) divided by its infer requests:
the client's creation (~40 ms of loading the CA bundle, in both) and the readiness probes are fixed
costs per prediction whose noise would swamp a per-request figure; they are shown apart. Per batch
size, the medians over the rounds::

    overhead = median(gateway) - median(bare)

(and the median of the rounds' paired differences, and this process's CPU time per request: the
client's own work, without the server's noise). Targets: under 1 ms per request at batch size 1; under 5 % of the bare per-request time (the
model's time as a client sees it) at batch size 64.

Run: .venv/bin/python bench/bench_gateway.py [--rounds 21] [--requests 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "compat"), str(REPO / "tests" / "submissions")]

import httpx  # noqa: E402

from aibench_plugins.submissions.gateway import predict  # noqa: E402
from aibench_plugins.submissions.types import Deadlines, Endpoint, GatewaySettings, InputTable, TableColumns  # noqa: E402

#: the headers the gateway sends, so that the server does the same work for both sides
HEADERS = {"accept": "application/json", "accept-encoding": "identity", "user-agent": "aibench-bench"}
#: (batch size, target, how the target reads)
TARGETS = ((1, 1.0, "ms per request"), (64, 0.05, "of the bare per-request time"))


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "httpx": version("httpx"), "mlserver": version("mlserver"),
            "scikit-learn": version("scikit-learn")}


@dataclass(frozen=True)
class Side:
    """One side's run: ``ready_s`` (client created, readiness answered), ``after_s`` (everything
    after: the metadata request, the infer requests, closing), this process's CPU seconds over the
    whole run, the predictions and the infer requests."""

    ready_s: float
    after_s: float
    cpu_s: float
    predictions: list[int]
    requests: int


def bare(url: str, model: str, batches: list[list[list[float]]]) -> Side:
    """The bare client loop."""
    started, cpu = time.perf_counter(), time.process_time()
    predictions: list[int] = []
    with httpx.Client(trust_env=False, timeout=30.0, headers=HEADERS) as client:
        for path in ("/v2/health/ready", f"/v2/models/{model}/ready"):
            client.get(url + path).raise_for_status()
        ready = time.perf_counter()
        client.get(f"{url}/v2/models/{model}").raise_for_status()
        infer = f"{url}/v2/models/{model}/infer"
        headers = {"content-type": "application/json"}
        for rows in batches:
            body = json.dumps({"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64",
                                           "data": [v for row in rows for v in row]}]}, separators=(",", ":"))
            answer = client.post(infer, content=body.encode(), headers=headers)
            answer.raise_for_status()
            predictions += json.loads(answer.content)["outputs"][0]["data"]
    ended = time.perf_counter()
    return Side(ready - started, ended - ready, time.process_time() - cpu, predictions, len(batches))


def gateway(url: str, model: str, rows: list[list[float]], size: int) -> Side:
    """``predict`` over the rows (its ``outcome.ready_s`` splits the run)."""
    settings = GatewaySettings(inputs=TableColumns("inputs.csv"),
                               predictions=TableColumns("predictions.csv", columns=("label",)), batch_size=size,
                               deadlines=Deadlines(ready_s=30.0, first_request_s=30.0, request_s=30.0, total_s=600.0))
    inputs = InputTable(ids=tuple(f"r{i}" for i in range(len(rows))), columns=("a", "b", "c", "d"), rows=rows)
    started, cpu = time.perf_counter(), time.process_time()
    outcome = predict(Endpoint(url=url, model=model), inputs, settings, kind="endpoint")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not outcome.ok or outcome.ready_s is None:
        sys.exit(f"bench: the gateway failed: {outcome.failure}")
    return Side(outcome.ready_s, wall - outcome.ready_s, cpu, [int(row[0]) for row in outcome.rows],
                outcome.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--requests", type=int, default=300, help="infer requests per side and round")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    from mlserver_fixture import mlserver

    figures: dict[str, Any] = {"machine": machine(), "rounds": args.rounds, "requests": args.requests, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="aibench-bench-gateway-") as scratch, mlserver(Path(scratch)) as server:
        figures["mlserver_started_s"] = server.started_s
        for size, target, _ in TARGETS:
            rows = [server.features[i % len(server.features)] for i in range(size * args.requests)]
            batches = [rows[i:i + size] for i in range(0, len(rows), size)]
            expected = [int(v) for v in server.estimator.predict(rows)]
            bare(server.url, server.model, batches[:5])  # warm both paths once
            gateway(server.url, server.model, rows[:5 * size], size)
            runs: dict[str, list[Side]] = {"bare": [], "gateway": []}
            for index in range(args.rounds):
                order = ("bare", "gateway") if index % 2 == 0 else ("gateway", "bare")
                for side in order:
                    run = bare(server.url, server.model, batches) if side == "bare" else \
                        gateway(server.url, server.model, rows, size)
                    if run.predictions != expected or run.requests != len(batches):
                        sys.exit(f"bench: the {side} side's predictions are not the model's own at batch size {size}")
                    runs[side].append(run)
            per = {side: [r.after_s / r.requests for r in done] for side, done in runs.items()}
            cpu = {side: statistics.median(r.cpu_s / r.requests for r in done) for side, done in runs.items()}
            base = statistics.median(per["bare"])
            gate = statistics.median(per["gateway"])
            overhead = gate - base
            paired = statistics.median(g - b for g, b in zip(per["gateway"], per["bare"]))
            figures["sizes"][str(size)] = {
                "bare_ms": [v * 1e3 for v in per["bare"]], "gateway_ms": [v * 1e3 for v in per["gateway"]],
                "median_bare_ms": base * 1e3, "median_gateway_ms": gate * 1e3, "overhead_ms": overhead * 1e3,
                "paired_overhead_ms": paired * 1e3, "overhead_share": overhead / base, "ratio": gate / base,
                "median_ready_ms": {side: statistics.median(r.ready_s for r in done) * 1e3
                                    for side, done in runs.items()},
                "client_cpu_bare_ms": cpu["bare"] * 1e3, "client_cpu_gateway_ms": cpu["gateway"] * 1e3,
                "client_cpu_overhead_ms": (cpu["gateway"] - cpu["bare"]) * 1e3,
                "target": target, "met": (overhead * 1e3 < target) if size == 1 else (overhead / base < target)}
    missed = [size for size, _, _ in TARGETS if not figures["sizes"][str(size)]["met"]]
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures, args)
    if missed:
        sys.exit(f"bench: the gateway's overhead target is not met at batch size {', '.join(map(str, missed))}")


def _print(figures: dict[str, Any], args: argparse.Namespace) -> None:
    m = figures["machine"]
    print(f"gateway overhead per request vs a bare httpx loop, one MLServer {m['mlserver']} (iris, scikit-learn "
          f"{m['scikit-learn']}) on 127.0.0.1; {args.rounds} rounds, {args.requests} infer requests per side and "
          "round, alternating order; medians of the per-request wall time")
    print(f"machine: {m['cpu']}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}, httpx {m['httpx']}")
    print(f"{'batch':>5}  {'bare ms/req':>11}  {'gateway ms/req':>14}  {'overhead ms':>11}  {'paired ms':>9}  "
          f"{'overhead %':>10}  {'ratio':>6}  {'client CPU ms/req bare/gateway/extra':>36}  target")
    for size, target, reads in TARGETS:
        row = figures["sizes"][str(size)]
        goal = f"< {target:g} {reads}" if size == 1 else f"< {target:.0%} {reads}"
        cpus = (f"{row['client_cpu_bare_ms']:.3f} / {row['client_cpu_gateway_ms']:.3f} / "
                f"{row['client_cpu_overhead_ms']:+.3f}")
        print(f"{size:>5}  {row['median_bare_ms']:>11.3f}  {row['median_gateway_ms']:>14.3f}  "
              f"{row['overhead_ms']:>11.3f}  {row['paired_overhead_ms']:>9.3f}  {row['overhead_share']:>10.1%}  "
              f"{row['ratio']:>6.3f}  {cpus:>36}  {goal}: {'met' if row['met'] else 'NOT met'}")
    ready = {size: figures["sizes"][str(size)]["median_ready_ms"] for size, _, _ in TARGETS}
    print("per request: the time after readiness (metadata, infer requests, closing) / infer requests; overhead: "
          "median(gateway) - median(bare); paired: the median of each round's gateway - bare; client CPU: this "
          "process's CPU time over the whole run per request (the client's own work, without the server's)")
    print("readiness (client creation and the two readiness requests), median ms: " + "; ".join(
        f"batch {size}: bare {r['bare']:.1f}, gateway {r['gateway']:.1f}" for size, r in ready.items()))


if __name__ == "__main__":
    main()
