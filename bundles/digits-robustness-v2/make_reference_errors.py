"""Compute this bundle's ``reference_errors`` (aibench.json, robustness entry ``corruptions``): the
error rate (1 - accuracy) of the reference model, nearest centroid on raw pixels
(``examples/submissions/digits-robustness-v2/baseline/model.py``), on the clean test images and
under each declared corruption and severity, perturbed exactly as the runs perturb them
(``aibench_plugins.data.perturbations``, the entry's seed). mCE is then relative to that model:
the baseline's own mCE is 1.

Run with the project's venv: .venv/bin/python bundles/digits-robustness-v2/make_reference_errors.py
"""

import csv
import importlib.util
import json
from pathlib import Path

from aibench_plugins.data.perturbations import PerturbationPlan, perturb_rows

here = Path(__file__).parent
model_path = here.parents[1] / "examples" / "submissions" / "digits-robustness-v2" / "baseline" / "model.py"
spec = importlib.util.spec_from_file_location("baseline", model_path)
baseline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(baseline)


def table(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


manifest_path = here / "aibench.json"
manifest = json.loads(manifest_path.read_text())
entry = next(e for e in manifest["robustness"] if e["use"] == "aibench.input_perturbations")
plan = PerturbationPlan.from_entry(entry)
train = table(here / "input_data" / "train.csv")
test = table(here / "input_data" / "test.csv")
truth = {row[0]: row[1] for row in table(here / "reference_data" / "labels.csv")[1:]}
model = baseline.Model().fit([[float(v) for v in row[2:]] for row in train[1:]], [int(row[1]) for row in train[1:]])


def error(rows):
    predicted = model.predict([[float(v) for v in row[1:]] for row in rows[1:]])
    return round(sum(str(p) != truth[row[0]] for p, row in zip(predicted, rows[1:])) / (len(rows) - 1), 6)


errors = {"clean": error(test)}
for run in plan.runs:
    errors.setdefault(run.name, {})[str(run.severity)] = error(perturb_rows(test, plan.inputs, run, plan.seed))
entry["params"]["reference_errors"] = errors
text = json.dumps(manifest, indent=2)
manifest_path.write_text(text + "\n")
print(json.dumps(errors))
