"""Regenerate this bundle's reference data and its example submissions from the diabetes data set
that ships with scikit-learn (seeded, so the files never change).

Writes:
  reference_data/targets.csv                                 the test targets (id,target)
  ../../examples/submissions/hardcoded-paths-v2/good/         predictions of a ridge regression
  ../../examples/submissions/hardcoded-paths-v2/wrong-format/ the same, with one test id left out

Run with the project's venv: .venv/bin/python bundles/hardcoded-paths-v2/make_data.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

here = Path(__file__).parent
submissions = here.parent.parent / "examples" / "submissions" / "hardcoded-paths-v2"
X, y = load_diabetes(return_X_y=True)
ids = np.array([f"patient-{i:03d}" for i in range(len(y))])
X_train, X_test, y_train, y_test, _, id_test = train_test_split(X, y, ids, test_size=0.25, random_state=0)
predicted = Ridge(alpha=0.1).fit(X_train, y_train).predict(X_test)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


rows = [f"{i},{p:.4f}\n" for i, p in zip(id_test, predicted)]
write(here / "reference_data" / "targets.csv", "id,target\n" + "".join(f"{i},{t:g}\n" for i, t in zip(id_test, y_test)))
write(submissions / "good" / "predictions.csv", "id,target\n" + "".join(rows))
write(submissions / "wrong-format" / "predictions.csv", "id,target\n" + "".join(rows[:10] + rows[11:]))
