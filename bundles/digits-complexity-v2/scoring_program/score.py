"""Scoring program of the digits complexity example (Codabench v2 bundle, PyTorch code submissions).

Reads input/ref/labels.csv (the truth) and input/res/predictions.csv (written by the ingestion
program during the prediction step) and writes output/scores.json: {"accuracy": fraction of test
digits predicted correctly}. The complexity columns (parameters, MACs, relative time, memory) are
not computed here: aibench's manifest adds them when the bundle is wrapped.

When the prediction step produced no predictions (the model crashed or was stopped), the error
says so and quotes the ingestion exit code from input/res/metadata, which the worker writes.
A malformed or incomplete predictions.csv stops the program with an `ERROR: ...` line on stderr
and exit status 1, before anything is written to output/. Python 3 standard library only.

Usage: python3 score.py INPUT_DIR OUTPUT_DIR
"""

import csv
import json
import os
import sys


class SubmissionError(Exception):
    """The submission cannot be scored; the message says why."""


def worker_metadata(res_dir):
    """The worker's res/metadata (YAML `key: value` lines), read without a YAML library."""
    values = {}
    try:
        with open(os.path.join(res_dir, "metadata")) as handle:
            for line in handle:
                key, _, value = line.partition(":")
                values[key.strip()] = value.strip()
    except OSError:
        pass
    return values


def read_labels(path, role):
    """{id: label} from a CSV file with the columns id and label."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if "id" not in header or "label" not in header:
            raise SubmissionError(f"{role}: {os.path.basename(path)} has the columns {','.join(header) or '(none)'}; "
                                  "expected id,label")
        at_id, at_label = header.index("id"), header.index("label")
        labels = {}
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise SubmissionError(f"{role}: line {line} has {len(row)} fields, the header has {len(header)}")
            key = row[at_id].strip()
            if key in labels:
                raise SubmissionError(f"{role}: id {key!r} appears twice (line {line})")
            labels[key] = row[at_label].strip()
    return labels


def main(input_dir, output_dir):
    res = os.path.join(input_dir, "res")
    truth = read_labels(os.path.join(input_dir, "ref", "labels.csv"), "reference data")
    predictions_path = os.path.join(res, "predictions.csv")
    if not os.path.isfile(predictions_path):
        present = sorted(os.listdir(res)) if os.path.isdir(res) else []
        code = worker_metadata(res).get("ingestionExitCode")
        raise SubmissionError(
            f"the prediction step wrote no predictions.csv (input/res holds: {', '.join(present) or 'nothing'}; "
            f"ingestion exit code: {code if code not in (None, '') else 'unknown'}). "
            "The ingestion log shows why the model did not run to the end.")
    predicted = read_labels(predictions_path, "predictions")
    missing = [key for key in truth if key not in predicted]
    unknown = [key for key in predicted if key not in truth]
    if missing or unknown:
        raise SubmissionError(
            f"the ingestion program must write one label per test row: predictions.csv has {len(predicted)} rows for "
            f"{len(truth)} test rows (test ids missing: {len(missing)}{', first ' + missing[0] if missing else ''}; "
            f"unknown ids: {len(unknown)}{', first ' + unknown[0] if unknown else ''})")
    accuracy = sum(predicted[key] == label for key, label in truth.items()) / len(truth)

    os.makedirs(output_dir, exist_ok=True)
    scores = {"accuracy": round(accuracy, 6)}
    with open(os.path.join(output_dir, "scores.json"), "w") as handle:
        json.dump(scores, handle)
    print(json.dumps(scores))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: score.py INPUT_DIR OUTPUT_DIR")
    try:
        main(sys.argv[1], sys.argv[2])
    except SubmissionError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(1)
