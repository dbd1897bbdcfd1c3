"""Regenerate this bundle's input and reference data from the digits data set that ships with
scikit-learn (seeded, so the files never change): a stratified split of 1,000 training and 300
test images of 8x8 pixels (values 0-16).

Writes:
  input_data/train.csv      id,label,p00..p63   (given to the ingestion program)
  input_data/test.csv       id,p00..p63         (no labels)
  reference_data/labels.csv id,label            (given to the scoring program only)

The example submissions under ../../examples/submissions/digits-complexity-v2/ are hand-written
model.py files, not generated here.

Run with the project's venv: .venv/bin/python bundles/digits-complexity-v2/make_data.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

here = Path(__file__).parent
X, y = load_digits(return_X_y=True)
ids = np.array([f"digit-{i:04d}" for i in range(len(y))])
X_train, X_test, y_train, y_test, id_train, id_test = train_test_split(
    X, y, ids, train_size=1000, test_size=300, random_state=0, stratify=y)
pixels = [f"p{i:02d}" for i in range(X.shape[1])]


def row(*cells):
    return ",".join(str(c) for c in cells) + "\n"


(here / "input_data").mkdir(exist_ok=True)
(here / "reference_data").mkdir(exist_ok=True)
(here / "input_data" / "train.csv").write_text(
    row("id", "label", *pixels) + "".join(row(i, t, *x.astype(int)) for i, t, x in zip(id_train, y_train, X_train)))
(here / "input_data" / "test.csv").write_text(
    row("id", *pixels) + "".join(row(i, *x.astype(int)) for i, x in zip(id_test, X_test)))
(here / "reference_data" / "labels.csv").write_text(
    row("id", "label") + "".join(row(i, t) for i, t in zip(id_test, y_test)))
