"""Ingestion program of the digits complexity example (Codabench v2 bundle, PyTorch code submissions).

Imports the participant's model.py from the submission folder, builds ``Model()`` (a
``torch.nn.Module``), calls ``model.fit(X, y)`` on input_data/train.csv, predicts
input_data/test.csv with ``model(X)`` (logits, the argmax is the digit) in eval mode under
``torch.inference_mode()``, and writes to the output folder:

  predictions.csv   id,label, one line per test image, in test order

Then, when aibench-plugins is importable (the bundle wrapped by ``aibench wrap``, or
``aibench run``), it measures the participant's model against the organiser's reference model
(:class:`ReferenceModel`, defined here: an MLP 64-32-10, trained here in a fraction of a second)
on the test images one at a time: ``aibench_plugins.complexity.measure(model, queries, output,
reference=reference)``. The meters that run are the ones the manifest (aibench.json,
``complexity``) names; they write ``output/.aibench_complexity.json``, which the scoring side reads
(and takes out before the scoring program below starts). Where aibench is not importable (the
bundle uploaded as it is) the measurement is skipped and the program does exactly the rest.

Inputs: ``X`` is a float32 tensor (n, 64), the pixels row by row scaled to [0, 1] (value / 16);
``y`` a long tensor (n,) of digits 0-9. Seeded (``torch.manual_seed(0)``) and single-threaded
(``torch.set_num_threads(1)``, so that timings compare between runs). It never writes
output/metadata (the worker writes it). A model that raises, or a missing model.py, stops the
program with a traceback, an ``ERROR: ...`` line on stderr and exit status 1. Needs PyTorch.

Usage: python3 ingestion.py INPUT_DATA_DIR OUTPUT_DIR SUBMISSION_DIR
"""

import csv
import importlib.util
import os
import sys
import time
import traceback

import torch
from torch import nn


class IngestionError(Exception):
    """The submission cannot be run; the message says why."""


class ReferenceModel(nn.Module):
    """The organiser's reference workload: the costs (time, MACs, parameters, memory) of every
    submission are divided by this model's, measured in the same process."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.layers(x)

    def fit(self, X, y, epochs=60):
        optimiser = torch.optim.Adam(self.parameters(), lr=0.01)
        for _ in range(epochs):
            optimiser.zero_grad()
            nn.functional.cross_entropy(self(X), y).backward()
            optimiser.step()
        return self


def read_table(path):
    """(header, rows) of a CSV file."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        return next(reader), [row for row in reader if row]


def pixels(header, rows):
    """The (n, 64) float32 tensor of the p00..p63 columns, scaled to [0, 1]."""
    at = [i for i, name in enumerate(header) if name.startswith("p")]
    return torch.tensor([[float(row[i]) / 16.0 for i in at] for row in rows], dtype=torch.float32)


def load_model(submission_dir):
    path = os.path.join(submission_dir, "model.py")
    if not os.path.isfile(path):
        present = sorted(os.listdir(submission_dir)) if os.path.isdir(submission_dir) else []
        raise IngestionError(f"no model.py at the root of the submission (it holds: {', '.join(present) or 'nothing'})")
    sys.path.insert(0, submission_dir)  # model.py may import modules shipped beside it
    sys.dont_write_bytecode = True  # leave no __pycache__ in the submission folder
    spec = importlib.util.spec_from_file_location("model", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["model"] = module
    spec.loader.exec_module(module)
    cls = getattr(module, "Model", None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise IngestionError("model.py defines no class Model that is a torch.nn.Module (with fit(X, y) and forward)")
    model = cls()
    if not callable(getattr(model, "fit", None)):
        raise IngestionError("model.py's Model has no method fit(X, y)")
    return model


def measure(model, reference, X_test, output_dir):
    """The complexity meters of the manifest, when aibench-plugins is importable (module docstring)."""
    try:
        from aibench_plugins import complexity
    except ImportError:
        print("aibench-plugins is not importable here: no complexity measurement", file=sys.stderr)
        return
    queries = [X_test[i:i + 1] for i in range(len(X_test))]
    complexity.measure(model, queries, output_dir, reference=reference)


def main(input_dir, output_dir, submission_dir):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    header, train = read_table(os.path.join(input_dir, "train.csv"))
    X_train = pixels(header, train)
    y_train = torch.tensor([int(row[header.index("label")]) for row in train], dtype=torch.long)
    header, test = read_table(os.path.join(input_dir, "test.csv"))
    test_ids = [row[header.index("id")] for row in test]
    X_test = pixels(header, test)

    reference = ReferenceModel().fit(X_train, y_train).eval()
    model = load_model(submission_dir)
    start = time.perf_counter()
    model.train()
    model.fit(X_train, y_train)
    fitted = time.perf_counter()
    model.eval()
    with torch.inference_mode():
        logits = model(X_test)
    done = time.perf_counter()
    if not isinstance(logits, torch.Tensor) or logits.shape != (len(test_ids), 10):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise IngestionError(f"model(X) must return a tensor of logits of shape ({len(test_ids)}, 10), got {shape}")
    predictions = logits.argmax(dim=1).tolist()

    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "predictions.csv"), "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "label"])
        writer.writerows(zip(test_ids, predictions))
    print(f"trained on {len(X_train)} images in {fitted - start:.3f} s, predicted {len(predictions)} in "
          f"{done - fitted:.3f} s")
    measure(model, reference, X_test, output_dir)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: ingestion.py INPUT_DATA_DIR OUTPUT_DIR SUBMISSION_DIR")
    try:
        main(*sys.argv[1:])
    except IngestionError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # the participant's code failed: show its traceback, then one line
        traceback.print_exc()
        print(f"ERROR: the submitted model failed: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
