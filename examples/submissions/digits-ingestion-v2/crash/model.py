"""A model that fails while training: fit() raises, so the ingestion program writes no
predictions."""


class Model:
    def fit(self, X, y):
        raise RuntimeError("this example model fails on purpose in fit()")

    def predict(self, X):
        return [0 for _ in X]
