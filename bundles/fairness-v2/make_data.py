"""Regenerate this bundle's reference data and its example submissions (seeded: the files never
change). A loan-approval task: each applicant has an id and a hidden true outcome (approved 1 / 0);
the hidden reference data also holds each applicant's sex and age band, which participants never
see. Three example submissions:

- ``good``: about 85 % accurate in every group;
- ``biased``: the same, but women who should be approved are refused far more often (a planted bias
  against one group: the fairness entry's demographic-parity threshold flags it);
- ``tiny-group``: fair, except that every applicant of the tiny ``75+`` age band (12 rows, under the
  minimum group size of 30) is predicted wrongly: that group appears in no output, and the worst-group
  column does not move.
"""

from pathlib import Path

import numpy as np

here = Path(__file__).parent
rng = np.random.default_rng(12)
n = 3000
ids = np.array([f"app-{i:05d}" for i in range(n)])
sex = rng.choice(["F", "M"], size=n)
age_band = rng.choice(["18-29", "30-49", "50-74"], size=n)
age_band[rng.choice(n, size=12, replace=False)] = "75+"  # a group under the minimum size
approved = (rng.random(n) < 0.5).astype(int)  # the same base rate in every group

(here / "reference_data" / "labels.csv").write_text(
    "id,approved\n" + "".join(f"{i},{a}\n" for i, a in zip(ids, approved)))
(here / "reference_data" / "groups.csv").write_text(
    "id,sex,age_band\n" + "".join(f"{i},{s},{b}\n" for i, s, b in zip(ids, sex, age_band)))


def predictions(error_rate):
    flip = rng.random(n) < error_rate
    return np.where(flip, 1 - approved, approved)


fair = predictions(np.full(n, 0.15))
biased = predictions(np.where((sex == "F") & (approved == 1), 0.50, 0.12))
tiny = predictions(np.full(n, 0.15))
tiny[age_band == "75+"] = 1 - approved[age_band == "75+"]
for name, predicted in (("good", fair), ("biased", biased), ("tiny-group", tiny)):
    folder = here.parent.parent / "examples" / "submissions" / "fairness-v2" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predictions.csv").write_text(
        "id,approved\n" + "".join(f"{i},{p}\n" for i, p in zip(ids, predicted)))
