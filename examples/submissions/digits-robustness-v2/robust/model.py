"""A robust-ish digit classifier: each image is centred on its own mean and scaled to unit
length, so a change of brightness or contrast leaves it (nearly) the same; then the nearest class
centroid by cosine similarity. Standard library only."""

import math


def normalise(features):
    mean = sum(features) / len(features)
    centred = [v - mean for v in features]
    norm = math.sqrt(sum(v * v for v in centred)) or 1.0
    return [v / norm for v in centred]


class Model:
    def fit(self, X, y):
        sums, counts = {}, {}
        for features, label in zip(X, y):
            total = sums.setdefault(label, [0.0] * len(features))
            for i, value in enumerate(normalise(features)):
                total[i] += value
            counts[label] = counts.get(label, 0) + 1
        self.centroids = {label: normalise([v / counts[label] for v in total]) for label, total in sums.items()}
        return self

    def predict(self, X):
        return [self._closest(normalise(features)) for features in X]

    def _closest(self, features):
        return max(sorted(self.centroids), key=lambda label: sum(a * b for a, b in zip(features, self.centroids[label])))
