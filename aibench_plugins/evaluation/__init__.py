"""The one evaluation session, the report document and the page made from it.

Not API: the public names are :mod:`aibench_plugins`'s ``__all__``."""
