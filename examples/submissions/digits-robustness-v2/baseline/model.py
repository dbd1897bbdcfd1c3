"""The reference model of the robustness example (its errors under each corruption are the
bundle's reference_errors, so its mCE is 1): nearest centroid on the raw pixels, the mean image of
each class, and for a new image the class whose mean is closest (squared Euclidean distance).
Standard library only."""


class Model:
    def fit(self, X, y):
        sums, counts = {}, {}
        for features, label in zip(X, y):
            total = sums.setdefault(label, [0.0] * len(features))
            for i, value in enumerate(features):
                total[i] += value
            counts[label] = counts.get(label, 0) + 1
        self.centroids = {label: [value / counts[label] for value in total] for label, total in sums.items()}
        return self

    def predict(self, X):
        return [self._closest(features) for features in X]

    def _closest(self, features):
        def distance(label):
            return sum((a - b) ** 2 for a, b in zip(features, self.centroids[label]))

        return min(sorted(self.centroids), key=distance)
