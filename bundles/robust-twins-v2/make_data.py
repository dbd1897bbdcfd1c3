"""Regenerate this bundle's data and its two example submissions (seeded, so the files never
change): the wine data set that ships with scikit-learn, 60 test wines, and hidden perturbed
twins of each test wine mixed into the inputs participants predict.

Each test wine gets 6 perturbed copies: ``gaussian_noise`` (every feature plus Gaussian noise of
0.25, 0.5 or 0.75 times that feature's standard deviation on the training set) and
``feature_dropout`` (2, 4 or 6 of its 13 features replaced by their training mean, as an
imputed missing value), at severities 1, 2 and 3. The 420 test rows are shuffled and numbered
``w-0001``... so an id does not tell an original from a copy. ``reference_data/
perturbations.csv`` (hidden) maps each copy to its original; ``original_ids.txt`` lists the
originals, which are all the leaderboard's accuracy scores.

The two example submissions are two models' predictions of ``public_data/test.csv``: ``robust``
a random forest trained on standardised features with noise and dropout augmentation, ``brittle``
a single decision tree on the raw features, trained on the clean wines only.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

SEED = 0
SEVERITIES = (1, 2, 3)
NOISE = {1: 0.25, 2: 0.5, 3: 0.75}       # noise sd, in training sds of each feature
DROPPED = {1: 2, 2: 4, 3: 6}             # features replaced by their training mean

here = Path(__file__).parent
data = load_wine()
names = [n.replace("/", "_per_") for n in data.feature_names]
classes = np.array([f"cultivar_{c}" for c in range(3)])
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, test_size=60, random_state=SEED,
                                                    stratify=data.target)
rng = np.random.default_rng(SEED)
mean, sd = X_train.mean(axis=0), X_train.std(axis=0)


def gaussian_noise(x, severity):
    return x + rng.normal(0.0, NOISE[severity], size=x.shape) * sd


def feature_dropout(x, severity):
    out = x.copy()
    for row in out:
        dropped = rng.choice(len(row), size=DROPPED[severity], replace=False)
        row[dropped] = mean[dropped]
    return out


PERTURBATIONS = {"gaussian_noise": gaussian_noise, "feature_dropout": feature_dropout}

rows = [(X_test[i], y_test[i], None, None, None) for i in range(len(y_test))]  # (x, y, original, name, severity)
for name, perturb in PERTURBATIONS.items():
    for severity in SEVERITIES:
        perturbed = perturb(X_test, severity)
        rows += [(perturbed[i], y_test[i], i, name, severity) for i in range(len(y_test))]
# A random id per row: row r gets id w-(k+1) where order[k] == r, so an id says nothing of what the row is.
order = rng.permutation(len(rows))
ids = np.empty(len(rows), dtype=object)
ids[order] = [f"w-{k + 1:04d}" for k in range(len(rows))]
original_id = {i: ids[i] for i in range(len(y_test))}  # rows 0..59 are the originals
shown = order                                          # the files list the rows by id

# Copies written with each feature's own precision (integers stay integers) look like originals.
decimals = np.array([0 if np.all(column == np.round(column)) else 2 for column in data.data.T])
X_all = np.array([np.round(r[0] * 10.0 ** decimals) / 10.0 ** decimals for r in rows])
y_all = np.array([r[1] for r in rows])


def csv_rows(matrix):
    return [",".join(f"{v:.6g}" for v in row) for row in matrix]


public, ref = here / "public_data", here / "reference_data"
public.mkdir(exist_ok=True)
ref.mkdir(exist_ok=True)
(public / "train.csv").write_text(",".join([*names, "label"]) + "\n" + "".join(
    f"{line},{classes[t]}\n" for line, t in zip(csv_rows(X_train), y_train)))
(public / "test.csv").write_text(",".join(["id", *names]) + "\n" + "".join(
    f"{ids[r]},{line}\n" for r, line in zip(shown, csv_rows(X_all[shown]))))
(ref / "labels.csv").write_text("id,label\n" + "".join(f"{ids[r]},{classes[y_all[r]]}\n" for r in shown))
(ref / "original_ids.txt").write_text("".join(f"{i}\n" for i in sorted(original_id.values())))
(ref / "perturbations.csv").write_text("id,original_id,perturbation,severity\n" + "".join(
    f"{ids[r]},{original_id[rows[r][2]]},{rows[r][3]},{rows[r][4]}\n" for r in shown if rows[r][2] is not None))

# The two example submissions: the same inputs, two models.
augmented = [X_train] + [p(X_train, s) for p in PERTURBATIONS.values() for s in SEVERITIES]
robust = RandomForestClassifier(n_estimators=200, random_state=SEED).fit(
    (np.vstack(augmented) - mean) / sd, np.tile(y_train, len(augmented)))
brittle = DecisionTreeClassifier(random_state=SEED).fit(X_train, y_train)
models = {"robust": robust.predict((X_all - mean) / sd), "brittle": brittle.predict(X_all)}
for name, predicted in models.items():
    folder = here.parent.parent / "examples" / "submissions" / "robust-twins-v2" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predictions.csv").write_text("id,label\n" + "".join(
        f"{ids[r]},{classes[predicted[r]]}\n" for r in shown))
    originals = np.arange(len(y_test))
    print(f"{name}: accuracy on originals {np.mean(predicted[originals] == y_all[originals]):.4f}, "
          f"on copies {np.mean(predicted[len(y_test):] == y_all[len(y_test):]):.4f}")
