"""A model whose fit() never returns, to exercise the phase's execution time limit. It sleeps
in the loop, so it waits forever without using a CPU."""

import time


class Model:
    def fit(self, X, y):
        while True:
            time.sleep(1)

    def predict(self, X):
        return [0 for _ in X]
