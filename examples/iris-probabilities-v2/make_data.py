"""Regenerate this bundle's reference data and its example submissions from the iris data set that
ships with scikit-learn (seeded, so the files never change). The test split and the public/private
split are those of bundles/iris-v2; the submissions hold a label and one probability per class."""

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
probabilities = model.predict_proba(X_test)

(here / "reference_data" / "labels.csv").write_text(
    "id,label\n" + "".join(f"{i},{names[t]}\n" for i, t in zip(id_test, y_test)))
order = np.random.default_rng(0).permutation(len(id_test))
(here / "reference_data" / "public_ids.txt").write_text("".join(f"{i}\n" for i in sorted(id_test[order[:20]])))
(here / "reference_data" / "private_ids.txt").write_text("".join(f"{i}\n" for i in sorted(id_test[order[20:]])))

header = "id,label," + ",".join(f"p_{name}" for name in names) + "\n"


def rows(probabilities: np.ndarray) -> str:
    return "".join(f"{i},{names[int(np.argmax(p))]}," + ",".join(f"{v:.6f}" for v in p) + "\n"
                   for i, p in zip(id_test, probabilities))


submissions = here.parent / "submissions" / "iris-probabilities-v2"
(submissions / "good").mkdir(parents=True, exist_ok=True)
(submissions / "good" / "predictions.csv").write_text(header + rows(probabilities))
# Scores, not probabilities: the rows do not sum to one (a softmax was forgotten).
(submissions / "scores-not-probabilities").mkdir(parents=True, exist_ok=True)
(submissions / "scores-not-probabilities" / "predictions.csv").write_text(
    header + rows(model.decision_function(X_test) / 10 + 0.5))
