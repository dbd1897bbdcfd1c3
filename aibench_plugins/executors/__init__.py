"""Host side only: the built-in executor plugins (``local``, ``docker``).

Not API: the public names are :mod:`aibench_plugins`'s ``__all__``."""
