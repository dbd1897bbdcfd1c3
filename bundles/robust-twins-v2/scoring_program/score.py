"""Scoring program of the robust-twins example: accuracy of input/res/predictions.csv on the
original test wines only (input/ref/original_ids.txt), written to output/scores.json. The
perturbed copies mixed into the test inputs are left to the aibench manifest's robustness
checker. Standard library only."""

import csv
import json
import os
import sys

input_dir, output_dir = sys.argv[1], sys.argv[2]


def read(path):
    with open(path, newline="") as handle:
        return {row["id"]: row["label"] for row in csv.DictReader(handle)}


with open(os.path.join(input_dir, "ref", "original_ids.txt")) as handle:
    originals = [line.strip() for line in handle if line.strip()]
truth = read(os.path.join(input_dir, "ref", "labels.csv"))
predicted = read(os.path.join(input_dir, "res", "predictions.csv"))
correct = sum(predicted.get(i) == truth[i] for i in originals)
os.makedirs(output_dir, exist_ok=True)
with open(os.path.join(output_dir, "scores.json"), "w") as handle:
    json.dump({"accuracy": correct / len(originals)}, handle)
