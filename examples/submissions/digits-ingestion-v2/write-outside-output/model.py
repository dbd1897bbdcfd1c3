"""A model that caches what it learnt in a file beside its own code, i.e. in the submission
folder (/app/ingested_program when the ingestion program imports it). The platforms mount that
folder writable; the docker executor mounts everything but /app/output and /tmp read-only, so
the write fails there."""

import json
import os


class Model:
    def fit(self, X, y):
        cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fitted.json")
        with open(cache, "w") as handle:
            json.dump({"rows": len(X)}, handle)
        return self

    def predict(self, X):
        return [0 for _ in X]
