"""A model whose fit() never returns and keeps a CPU busy (unlike `hang`, which sleeps): the
phase's execution time limit must stop it."""


class Model:
    def fit(self, X, y):
        n = 0
        while True:
            n += 1

    def predict(self, X):
        return [0 for _ in X]
