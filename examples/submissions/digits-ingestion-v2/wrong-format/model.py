"""A nearest-centroid classifier whose predict() drops the last test row: one prediction too
few, which the scoring program rejects. Standard library only."""


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
        labels = sorted(self.centroids)
        closest = [min(labels, key=lambda label: sum((a - b) ** 2 for a, b in zip(x, self.centroids[label])))
                   for x in X]
        return closest[:-1]  # the mistake: one prediction short
