"""A model whose fit() forks 12 times in a row, and every child forks on: up to 4096 processes,
all of which then sleep forever. A failed fork is printed and ignored. The docker executor's
process-count limit (512 by default) stops the forks, and the execution time limit ends the run;
every process goes with the container. Bounded on purpose: it never forks more than 4096
processes, but do not run it without a container."""

import os
import sys
import time


class Model:
    def fit(self, X, y):
        for _ in range(12):
            try:
                os.fork()
            except OSError as error:
                print(f"fork failed: {error}", file=sys.stderr, flush=True)
        while True:
            time.sleep(1)

    def predict(self, X):
        return [0 for _ in X]
