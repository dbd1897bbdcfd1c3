"""``aibench.json``: reading it, the typed plan of a phase, its schema, positions,
semantic checks, validation, limits, and the record of what ``aibench wrap`` did.

Not API: the public names are :mod:`aibench_plugins`'s ``__all__``."""
