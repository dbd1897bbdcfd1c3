"""Host side only: ``aibench run`` (the runner), the ledger, hashing, recording, gc.

Not API: the public names are :mod:`aibench_plugins`'s ``__all__``."""
