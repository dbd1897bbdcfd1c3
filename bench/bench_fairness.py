"""The fairness checker ``aibench.group_fairness`` on 10 million rows: 20 groups x 5 confusion-matrix
metrics (accuracy, balanced accuracy, macro F1, MCC, Cohen's kappa, binary labels) and the parity
measures, against one metric pass (``MetricData.compute`` of accuracy on the same 10 million rows)
measured in the same run. Target: within 3x of the one metric pass.

Measured, best of ``--repeat``:

- ``one metric pass``: the baseline;
- ``groups``: joining the attribute table on ids and coding the 20 groups (once per analysis;
  ``data/groups.py``), on its own;
- ``analysis, no intervals``: the whole ``analyse()`` call, groups included, ``n_boot=0``:
  per-group confusion matrices from one bincount pass, every metric and measure from them;
- ``analysis, groups given``: the same call with the groups step's result given (``group_rows``
  replaced by a function returning the groupings computed once): what the target compares, as the
  one metric pass does not count reading and aligning the tables either;
- ``analysis, 200 bootstrap replicates``: with intervals (per group and per summary), when the
  stats room (``aibench_plugins.stats``) is there.

Run: .venv/bin/python bench/bench_fairness.py [--rows N] [--groups G] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def best_of(function: Callable[[], Any], repeat: int) -> float:
    """Fastest of ``repeat`` calls, in seconds (the least disturbed by the machine)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def setup(rows: int, groups: int) -> tuple[Any, Any]:
    import pandas as pd

    from aibench_plugins.components.analysis import AnalysisContext, MetricData
    from aibench_plugins.data.tables import Lines, Table
    from aibench_plugins.default_plugins.classification import accuracy, balanced_accuracy, cohen_kappa, f1, mcc

    rng = np.random.default_rng(0)
    ids = np.arange(rows)
    group = rng.integers(0, groups, rows)
    truth = rng.integers(0, 2, rows)
    error = 0.1 + 0.2 * group / groups  # a different error rate in each group
    predicted = np.where(rng.random(rows) < error, 1 - truth, truth)
    names = np.array([f"g{i:02d}" for i in range(groups)], dtype=object)
    frame = pd.DataFrame({"id": ids, "label": truth, "region": names[group]})
    table = Table(file="labels.csv", path=Path("labels.csv"), format="csv", frame=frame,
                  columns=["label", "region"], id_column="id", header=["id", "label", "region"], lines=Lines())
    components = {"accuracy": (accuracy, {}), "balanced_accuracy": (balanced_accuracy, {}),
                  "macro_f1": (f1, {"average": "macro"}), "mcc": (mcc, {}), "cohen_kappa": (cohen_kappa, {})}
    metrics = {key: MetricData(key, key, c.info, params, c, ids, predicted, truth)
               for key, (c, params) in components.items()}
    context = AnalysisContext(metrics=metrics, reference_dir=Path("."), table=lambda name: table, min_group_size=30)
    return context, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args(argv)

    from aibench_plugins.data.groups import group_rows
    from aibench_plugins.default_plugins.fairness import group_fairness

    context, table = setup(args.rows, args.groups)
    metric = context.metrics["accuracy"]
    params = {"attributes": ["region"], "n_boot": 0}
    result = group_fairness.analyse(context, **params)
    assert len([g for g in result.groups if g.measure == "accuracy" and g.group]) == args.groups
    baseline = best_of(lambda: metric.compute(), args.repeat)
    grouping = best_of(lambda: group_rows(table, metric.ids, ["region"]), args.repeat)
    analysis = best_of(lambda: group_fairness.analyse(context, **params), args.repeat)
    from aibench_plugins.default_plugins import fairness

    computed = group_rows(table, metric.ids, ["region"])
    real, fairness.group_rows = fairness.group_rows, lambda *a, **k: computed  # type: ignore[assignment]
    try:
        given = best_of(lambda: group_fairness.analyse(context, **params), args.repeat)
    finally:
        fairness.group_rows = real
    rows = [("one metric pass (accuracy)", baseline), ("groups (join on ids, 20 codes)", grouping),
            (f"analysis, no intervals ({args.groups} groups x 5 metrics + parity)", analysis),
            ("analysis, no intervals, groups given", given)]
    try:
        import aibench_plugins.stats  # noqa: F401
        with_ci = best_of(lambda: group_fairness.analyse(context, attributes=["region"], n_boot=200), 1)
        rows.append(("analysis, 200 bootstrap replicates", with_ci))
    except ImportError:
        rows.append(("analysis, 200 bootstrap replicates (no stats room here)", float("nan")))
    print(f"aibench.group_fairness, {args.rows:,} rows, {args.groups} groups, 5 metrics; "
          f"Python {platform.python_version()}, numpy {np.__version__}, best of {args.repeat}")
    print(f"{'what':<62} {'seconds':>9} {'x one pass':>11}")
    for name, seconds in rows:
        print(f"{name:<62} {seconds:>9.3f} {seconds / baseline:>11.2f}")
    ratio = given / baseline
    total = analysis / baseline
    print(f"target: analysis within 3x of one metric pass: {ratio:.2f}x with the groups given, {total:.2f}x with it")
    if args.json:
        print(json.dumps([{"what": n, "seconds": s, "ratio": s / baseline} for n, s in rows]))
    return 0 if ratio <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
