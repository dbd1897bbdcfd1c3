"""Host side only: ``aibench wrap``, vendoring by allow-list, competition.yaml edits.

Not API: the public names are :mod:`aibench_plugins`'s ``__all__``."""
