"""A model whose fit() fills memory, 256 MB at a time (every byte written, so it is resident),
up to 8 GB. Under a memory limit (the docker executor's default is 4096 MB) the kernel kills
the process that imported it: the ingestion program. Without a limit it holds 8 GB for a moment:
do not run it with the local executor on a small machine."""

CHUNK = 256 << 20
LIMIT = 8 << 30


class Model:
    def fit(self, X, y):
        held = []
        while len(held) * CHUNK < LIMIT:
            held.append(b"\x01" * CHUNK)
        self.size = len(held) * CHUNK
        return self

    def predict(self, X):
        return [0 for _ in X]
