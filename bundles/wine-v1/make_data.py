"""Regenerate this bundle's reference data, its nested zips and its example submissions from the
wine data set that ships with scikit-learn (seeded, so the files never change).

Writes:
  reference_data/labels.csv                         the test labels (id,label)
  reference_data.zip, scoring_program.zip           the folders' contents, zipped as CodaLab v1
                                                    needs them (no top folder, sorted names, fixed
                                                    timestamps and modes: byte-identical reruns)
  ../../examples/submissions/wine-v1/good/          predictions of a seeded decision tree
  ../../examples/submissions/wine-v1/wrong-format/  the same predictions under a wrong column name
  ../../examples/submissions/wine-v1/stray-metadata/ good predictions plus a `metadata` file

Run with the project's venv: .venv/bin/python bundles/wine-v1/make_data.py
"""

import zipfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

here = Path(__file__).parent
submissions = here.parent.parent / "examples" / "submissions" / "wine-v1"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def deterministic_zip(folder, target):
    """Zip the *contents* of ``folder`` (no top-level folder) reproducibly."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    with zipfile.ZipFile(target, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that external_attr holds the mode
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)


data = load_wine()
names = data.target_names  # class_0, class_1, class_2
ids = np.array([f"wine-{i:03d}" for i in range(len(data.target))])
X_train, X_test, y_train, y_test, _, id_test = train_test_split(
    data.data, data.target, ids, test_size=0.3, random_state=0, stratify=data.target)
model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X_train, y_train)
predicted = model.predict(X_test)

write(here / "reference_data" / "labels.csv",
      "id,label\n" + "".join(f"{i},{names[t]}\n" for i, t in zip(id_test, y_test)))
deterministic_zip(here / "reference_data", here / "reference_data.zip")
deterministic_zip(here / "scoring_program", here / "scoring_program.zip")

good = "".join(f"{i},{names[p]}\n" for i, p in zip(id_test, predicted))
write(submissions / "good" / "predictions.csv", "id,label\n" + good)
write(submissions / "wrong-format" / "predictions.csv", "id,prediction\n" + good)
write(submissions / "stray-metadata" / "predictions.csv", "id,label\n" + good)
write(submissions / "stray-metadata" / "metadata", "description: my predictions\n")
