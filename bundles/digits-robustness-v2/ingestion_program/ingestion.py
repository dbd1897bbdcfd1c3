"""Ingestion program of the digits example (Codabench v2 bundle, code submissions).

Imports the participant's model.py from the submission folder, calls ``Model().fit(X, y)`` on
input_data/train.csv and ``predict(X)`` on input_data/test.csv, and writes to the output folder:

  predictions.csv      id,label, one line per prediction, in test order
  ingestion_time.json  {"fit_s", "predict_s", "duration_s"}: wall-clock seconds measured here

It never writes output/metadata: the worker writes that file after the run, and Codabench fails
the run when it already exists. A model that raises, or a missing model.py, stops the program
with a traceback and an `ERROR: ...` line on stderr and exit status 1; the number of
predictions is not checked here (the scoring program judges them). Python 3 standard library
only. In the ingestion container the arguments are /app/input_data, /app/output and
/app/ingested_program, and the working directory is /app/program (this folder).

Usage: python3 ingestion.py INPUT_DATA_DIR OUTPUT_DIR SUBMISSION_DIR
"""

import csv
import importlib.util
import json
import os
import sys
import time
import traceback


class IngestionError(Exception):
    """The submission cannot be run; the message says why."""


def read_table(path):
    """(header, rows) of a CSV file."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        return next(reader), [row for row in reader if row]


def load_model_module(submission_dir):
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
    if not isinstance(getattr(module, "Model", None), type):
        raise IngestionError("model.py defines no class Model (with methods fit(X, y) and predict(X))")
    return module


def as_text(label):
    """A predicted label as written to predictions.csv (3, 3.0 and '3' all give '3')."""
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    return str(label).strip()


def main(input_dir, output_dir, submission_dir):
    header, train = read_table(os.path.join(input_dir, "train.csv"))
    label_at = header.index("label")
    features = [i for i, name in enumerate(header) if name not in ("id", "label")]
    X_train = [[float(row[i]) for i in features] for row in train]
    y_train = [int(row[label_at]) for row in train]
    header, test = read_table(os.path.join(input_dir, "test.csv"))
    test_ids = [row[header.index("id")] for row in test]
    X_test = [[float(row[i]) for i, name in enumerate(header) if name != "id"] for row in test]

    module = load_model_module(submission_dir)
    start = time.perf_counter()
    model = module.Model()
    model.fit(X_train, y_train)
    fitted = time.perf_counter()
    predictions = list(model.predict(X_test))
    done = time.perf_counter()

    if len(predictions) != len(test_ids):
        print(f"warning: model.predict returned {len(predictions)} predictions for {len(test_ids)} test rows",
              file=sys.stderr)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "predictions.csv"), "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "label"])
        for position, label in enumerate(predictions):
            key = test_ids[position] if position < len(test_ids) else f"extra-{position}"
            writer.writerow([key, as_text(label)])
    timing = {"fit_s": round(fitted - start, 6), "predict_s": round(done - fitted, 6),
              "duration_s": round(done - start, 6)}
    with open(os.path.join(output_dir, "ingestion_time.json"), "w") as handle:
        json.dump(timing, handle)
    print(f"trained on {len(X_train)} rows, predicted {len(predictions)} of {len(test_ids)} test rows "
          f"in {timing['duration_s']:.3f} s")


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
