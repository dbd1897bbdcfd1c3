"""Regenerate this bundle's reference data and the example submission from the iris
data set that ships with scikit-learn (seeded, so the files never change)."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

here = Path(__file__).parent
X, y = load_iris(return_X_y=True)
names = load_iris().target_names
ids = np.array([f"iris-{i:03d}" for i in range(len(y))])
X_train, X_test, y_train, y_test, _, id_test = train_test_split(X, y, ids, test_size=0.3, random_state=0, stratify=y)
model = LogisticRegression(max_iter=200, C=0.05).fit(X_train, y_train)
predicted = model.predict(X_test)

(here / "reference_data" / "labels.csv").write_text(
    "id,label\n" + "".join(f"{i},{names[t]}\n" for i, t in zip(id_test, y_test)))
# A public/private split of the test ids, declared in aibench.json: public ids are scored during the
# competition, private ones at the end.
order = np.random.default_rng(0).permutation(len(id_test))
(here / "reference_data" / "public_ids.txt").write_text("".join(f"{i}\n" for i in sorted(id_test[order[:20]])))
(here / "reference_data" / "private_ids.txt").write_text("".join(f"{i}\n" for i in sorted(id_test[order[20:]])))
submission = here.parent.parent / "examples" / "submissions" / "iris-v2" / "good"
submission.mkdir(parents=True, exist_ok=True)
(submission / "predictions.csv").write_text(
    "id,label\n" + "".join(f"{i},{names[p]}\n" for i, p in zip(id_test, predicted)))
