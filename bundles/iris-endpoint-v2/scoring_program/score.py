"""Scoring program of the iris example: accuracy of input/res/predictions.csv against
input/ref/labels.csv, written to output/scores.json. Standard library only."""

import csv
import json
import os
import sys

input_dir, output_dir = sys.argv[1], sys.argv[2]


def read(path):
    with open(path, newline="") as handle:
        return {row["id"]: row["label"] for row in csv.DictReader(handle)}


truth = read(os.path.join(input_dir, "ref", "labels.csv"))
predicted = read(os.path.join(input_dir, "res", "predictions.csv"))
correct = sum(predicted.get(i) == label for i, label in truth.items())
os.makedirs(output_dir, exist_ok=True)
with open(os.path.join(output_dir, "scores.json"), "w") as handle:
    json.dump({"accuracy": correct / len(truth)}, handle)
