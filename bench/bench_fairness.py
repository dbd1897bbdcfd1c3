"""The fairness checker ``aibench.group_fairness`` on 10 million rows: 20 groups x 5 confusion-matrix
metrics (accuracy, balanced accuracy, macro F1, MCC, Cohen's kappa, binary labels) and the parity
measures, against one metric pass (``MetricData.compute`` of accuracy on the same 10 million rows)
measured in the same run. Target: within 3x of the one metric pass.

The attribute table is the metric's references table (``id,label,region``), written as a CSV file
in a temporary folder and read through the project's own reader (``data/formats.read_table``), as
``aibench run`` reads it: with pyarrow, the text column ``region`` arrives dictionary-encoded (a
pandas ``Categorical``, ``data/arrow_csv.py``) and ``data/groups.py`` takes its codes. The metric's
ids are the table's ids taken at the aligned rows (a copy, as ``evaluation/analyses.py`` makes them).

Measured, best of ``--repeat``:

- ``reading the table``: ``read_table`` of the CSV file (shown, not counted: the one metric pass does
  not count reading the labels either);
- ``one metric pass``: the baseline, ``MetricData.compute`` of accuracy;
- ``groups``: joining the attribute table on ids and coding the 20 groups (once per analysis;
  ``data/groups.py``), on its own; and the same with the column as plain text (``pd.factorize`` of
  10 million strings: what it cost before the reader dictionary-encoded it);
- ``analysis, no intervals``: the whole ``analyse()`` call, groups included, ``n_boot=0``:
  per-group confusion matrices from one bincount pass, every metric and measure from them: what
  the target compares;
- ``analysis, groups given``: the same call with the groups step's result given (``group_rows``
  replaced by a function returning the groupings computed once);
- ``analysis, 200 bootstrap replicates``: with intervals (per group and per summary), when the
  stats room (``aibench_plugins.stats``) is there.

Run: .venv/bin/python bench/bench_fairness.py [--rows N] [--groups G] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
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


def write_labels(folder: Path, rows: int, groups: int) -> tuple[Any, Any]:
    """Write ``labels.csv`` (id, label, region: ``groups`` regions of different error rates) in
    ``folder``; return (truth, predicted)."""
    rng = np.random.default_rng(0)
    group = rng.integers(0, groups, rows)
    truth = rng.integers(0, 2, rows)
    error = 0.1 + 0.2 * group / groups  # a different error rate in each group
    predicted = np.where(rng.random(rows) < error, 1 - truth, truth)
    names = np.array([f"g{i:02d}" for i in range(groups)], dtype=object)
    columns = {"id": np.arange(rows), "label": truth, "region": names[group]}
    try:
        import pyarrow as pa
        import pyarrow.csv as arrow_csv

        arrow_csv.write_csv(pa.table(columns), folder / "labels.csv")
    except ImportError:
        import pandas as pd

        pd.DataFrame(columns).to_csv(folder / "labels.csv", index=False)
    return truth, predicted


def setup(folder: Path, rows: int, groups: int, repeat: int) -> tuple[Any, Any, float]:
    """(the analysis context, the attribute table read by the project's reader, the reading time)."""
    from aibench_plugins.components.analysis import AnalysisContext, MetricData
    from aibench_plugins.data.formats import read_table
    from aibench_plugins.data.tables import TableSpec
    from aibench_plugins.default_plugins.classification import accuracy, balanced_accuracy, cohen_kappa, f1, mcc

    truth, predicted = write_labels(folder, rows, groups)
    spec = TableSpec("labels.csv", id="id", columns=["label", "region"])
    reading = best_of(lambda: read_table(folder, spec), repeat)
    table = read_table(folder, spec)
    assert np.array_equal(table.column("label"), truth)
    ids = np.asarray(table.ids)[np.arange(len(table))]  # the aligned rows: every row, in order (a copy)
    references = table.column("label")
    components = {"accuracy": (accuracy, {}), "balanced_accuracy": (balanced_accuracy, {}),
                  "macro_f1": (f1, {"average": "macro"}), "mcc": (mcc, {}), "cohen_kappa": (cohen_kappa, {})}
    metrics = {key: MetricData(key, key, c.info, params, c, ids, predicted, references)
               for key, (c, params) in components.items()}
    context = AnalysisContext(metrics=metrics, reference_dir=folder, table=lambda name: table, min_group_size=30)
    return context, table, reading


def as_text(table: Any) -> Any:
    """The table with its ``region`` column as plain text (what the reader gave before)."""
    import copy

    text = copy.copy(table)
    frame = table.frame
    region = frame["region"]
    if hasattr(region, "cat"):
        import pandas as pd

        text_dtype = pd.Series(["a"]).dtype
        region = pd.Series(table.column("region"), index=frame.index).astype(text_dtype)
    text.frame = frame.assign(region=region)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args(argv)

    from aibench_plugins.data.groups import group_rows
    from aibench_plugins.default_plugins.fairness import group_fairness

    with tempfile.TemporaryDirectory() as folder:
        context, table, reading = setup(Path(folder), args.rows, args.groups, args.repeat)
    metric = context.metrics["accuracy"]
    params = {"attributes": ["region"], "n_boot": 0}
    result = group_fairness.analyse(context, **params)
    assert len([g for g in result.groups if g.measure == "accuracy" and g.group]) == args.groups
    baseline = best_of(lambda: metric.compute(), args.repeat)
    grouping = best_of(lambda: group_rows(table, metric.ids, ["region"]), args.repeat)
    text = as_text(table)
    assert [g.codes.tolist()[:1000] for g in group_rows(text, metric.ids, ["region"])] == \
        [g.codes.tolist()[:1000] for g in group_rows(table, metric.ids, ["region"])]
    as_strings = best_of(lambda: group_rows(text, metric.ids, ["region"]), args.repeat)
    analysis = best_of(lambda: group_fairness.analyse(context, **params), args.repeat)
    from aibench_plugins.default_plugins import fairness

    computed = group_rows(table, metric.ids, ["region"])
    real, fairness.group_rows = fairness.group_rows, lambda *a, **k: computed  # type: ignore[assignment]
    try:
        given = best_of(lambda: group_fairness.analyse(context, **params), args.repeat)
    finally:
        fairness.group_rows = real
    dtype = str(table.frame["region"].dtype).split("(")[0]
    rows = [("reading the table (not counted)", reading), ("one metric pass (accuracy)", baseline),
            (f"groups (join on ids, {args.groups} codes; region read as {dtype})", grouping),
            ("groups, region as plain text (pd.factorize; not used)", as_strings),
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
    print(f"target: the whole analysis (groups included) within 3x of one metric pass: {total:.2f}x "
          f"({'met' if total <= 3 else 'NOT met'}); {ratio:.2f}x with the groups given. Reading the table is "
          f"not counted, as the one metric pass does not count reading the labels")
    if args.json:
        print(json.dumps([{"what": n, "seconds": s, "ratio": s / baseline} for n, s in rows]))
    return 0 if total <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
