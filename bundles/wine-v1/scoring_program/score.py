"""Scoring program of the wine example (CodaLab v1 bundle).

Reads input/ref/labels.csv (the truth) and input/res/predictions.csv (the participant's file),
both with columns id,label, and writes output/scores.txt in the v1 style, one `key: value` line
(with a space, so that Codabench's YAML reading of scores.txt gives the same mapping).

A malformed submission stops the program with a one-line `ERROR: ...` on stderr and exit
status 1, before anything is written to output/. Python 3 standard library only.

Usage: python3 score.py INPUT_DIR OUTPUT_DIR
"""

import csv
import os
import sys


class SubmissionError(Exception):
    """The submission cannot be scored; the message says why and what to change."""


def read_labels(path, role):
    """{id: label} from a CSV file with (at least) the columns id and label."""
    if not os.path.isfile(path):
        folder = os.path.dirname(path)
        present = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        raise SubmissionError(f"{role}: {os.path.basename(path)} not found in {folder} "
                              f"(it holds: {', '.join(present) or 'nothing'})")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if "id" not in header or "label" not in header:
            raise SubmissionError(f"{role}: {os.path.basename(path)} has the columns {','.join(header) or '(none)'}; "
                                  "expected a header line with the columns id,label")
        at_id, at_label = header.index("id"), header.index("label")
        labels = {}
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise SubmissionError(f"{role}: line {line} of {os.path.basename(path)} has {len(row)} fields, "
                                      f"the header has {len(header)}")
            key, label = row[at_id].strip(), row[at_label].strip()
            if key in labels:
                raise SubmissionError(f"{role}: id {key!r} appears twice in {os.path.basename(path)} (line {line})")
            labels[key] = label
    return labels


def compare(truth, predicted):
    """Fraction of reference ids whose predicted label is right; every id must be predicted once."""
    missing = [key for key in truth if key not in predicted]
    unknown = [key for key in predicted if key not in truth]
    if missing:
        raise SubmissionError(f"predictions.csv lacks {len(missing)} of the {len(truth)} test ids "
                              f"(first: {', '.join(missing[:3])})")
    if unknown:
        raise SubmissionError(f"predictions.csv has {len(unknown)} ids that are not test ids "
                              f"(first: {', '.join(unknown[:3])})")
    return sum(predicted[key] == label for key, label in truth.items()) / len(truth)


def main(input_dir, output_dir):
    truth = read_labels(os.path.join(input_dir, "ref", "labels.csv"), "reference data")
    predicted = read_labels(os.path.join(input_dir, "res", "predictions.csv"), "submission")
    accuracy = compare(truth, predicted)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "scores.txt"), "w") as handle:
        handle.write(f"accuracy: {accuracy:.6f}\n")
    print(f"accuracy: {accuracy:.6f} ({len(truth)} test wines)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: score.py INPUT_DIR OUTPUT_DIR")
    try:
        main(sys.argv[1], sys.argv[2])
    except SubmissionError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(1)
