"""Regenerate this bundle's hidden test inputs and reference labels, and the model of its example
API-integrated submissions, from the iris data set that ships with scikit-learn (seeded: the files
never change). The inputs (input_data/inputs.csv) are what the gateway streams to the participant's
model; the labels (reference_data/labels.csv) never leave the scoring side."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

here = Path(__file__).parent
iris = load_iris()
X, y, names = iris.data, iris.target, iris.target_names
ids = np.array([f"iris-{i:03d}" for i in range(len(y))])
X_train, X_test, y_train, y_test, _, id_test = train_test_split(X, y, ids, test_size=0.3, random_state=0, stratify=y)
columns = ("sepal_length", "sepal_width", "petal_length", "petal_width")

(here / "input_data" / "inputs.csv").write_text(
    "id," + ",".join(columns) + "\n" + "".join(f"{i}," + ",".join(f"{v:g}" for v in row) + "\n"
                                             for i, row in zip(id_test, X_test)))
(here / "reference_data" / "labels.csv").write_text(
    "id,label\n" + "".join(f"{i},{names[t]}\n" for i, t in zip(id_test, y_test)))
examples = here.parent.parent / "examples" / "submissions" / "iris-endpoint-v2"
(examples / "model").mkdir(parents=True, exist_ok=True)
(examples / "model" / "train.csv").write_text(
    ",".join(columns) + ",label\n" + "".join(",".join(f"{v:g}" for v in row) + f",{names[t]}\n"
                                             for row, t in zip(X_train, y_train)))
