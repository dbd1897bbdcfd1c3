"""Train the example model: a logistic regression of iris species on the four measurements of
train.csv (next to this file), saved as FOLDER/model.joblib for MLServer's scikit-learn runtime.

    python3 train.py FOLDER
"""

import csv
import sys
from pathlib import Path

import joblib
from sklearn.linear_model import LogisticRegression

here = Path(__file__).parent
target = Path(sys.argv[1]) if len(sys.argv) > 1 else here
with open(here / "train.csv", newline="") as handle:
    rows = list(csv.DictReader(handle))
features = [[float(row[c]) for c in ("sepal_length", "sepal_width", "petal_length", "petal_width")] for row in rows]
labels = [row["label"] for row in rows]
model = LogisticRegression(max_iter=1000).fit(features, labels)
joblib.dump(model, target / "model.joblib")
