"""Scoring program of the hardcoded-paths example (Codabench v2 bundle, result submissions).

Like many real bundles, it takes no arguments: it is started as `python3 score.py` (so it needs
the working directory /app/program) and reads and writes fixed container paths:

  /app/input/ref/targets.csv      the truth, id,target
  /app/input/res/predictions.csv  the participant's file, id,target
  /app/output/scores.json         {"rmse": ..., "mae": ...}

Outside that layout (for example with `$`-variables rewritten to host folders but no mounts) it
stops with an `ERROR: ...` line naming the path it expected. A malformed submission stops it the
same way, exit status 1, before anything is written. Python 3 standard library only.
"""

import csv
import json
import math
import os
import sys

REFERENCE = "/app/input/ref/targets.csv"
PREDICTIONS = "/app/input/res/predictions.csv"
SCORES = "/app/output/scores.json"


class SubmissionError(Exception):
    """The submission cannot be scored; the message says why."""


def read_values(path, role):
    """{id: float} from a CSV file with the columns id and target."""
    if not os.path.isfile(path):
        folder = os.path.dirname(path)
        present = sorted(os.listdir(folder)) if os.path.isdir(folder) else None
        where = f"it holds: {', '.join(present) or 'nothing'}" if present is not None else \
            f"{folder} does not exist: this program expects the Codabench container layout"
        raise SubmissionError(f"{role}: {path} not found ({where})")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if "id" not in header or "target" not in header:
            raise SubmissionError(f"{role}: {os.path.basename(path)} has the columns {','.join(header) or '(none)'}; "
                                  "expected id,target")
        at_id, at_value = header.index("id"), header.index("target")
        values = {}
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise SubmissionError(f"{role}: line {line} has {len(row)} fields, the header has {len(header)}")
            key = row[at_id].strip()
            if key in values:
                raise SubmissionError(f"{role}: id {key!r} appears twice (line {line})")
            try:
                value = float(row[at_value])
            except ValueError:
                raise SubmissionError(f"{role}: line {line}: {row[at_value]!r} is not a number") from None
            if not math.isfinite(value):
                raise SubmissionError(f"{role}: line {line}: {row[at_value]!r} is not a finite number")
            values[key] = value
    return values


def main():
    truth = read_values(REFERENCE, "reference data")
    predicted = read_values(PREDICTIONS, "submission")
    missing = [key for key in truth if key not in predicted]
    unknown = [key for key in predicted if key not in truth]
    if missing:
        raise SubmissionError(f"predictions.csv lacks {len(missing)} of the {len(truth)} test ids "
                              f"(first: {', '.join(missing[:3])})")
    if unknown:
        raise SubmissionError(f"predictions.csv has {len(unknown)} ids that are not test ids "
                              f"(first: {', '.join(unknown[:3])})")
    errors = [predicted[key] - value for key, value in truth.items()]
    scores = {"rmse": round(math.sqrt(sum(e * e for e in errors) / len(errors)), 6),
              "mae": round(sum(abs(e) for e in errors) / len(errors), 6)}
    with open(SCORES, "w") as handle:
        json.dump(scores, handle)
    print(json.dumps(scores))


if __name__ == "__main__":
    try:
        main()
    except SubmissionError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(1)
