"""The contract of each kind, for plugin authors: metric and stateful bases, check,
reporter, executor. Their public names are re-exported by :mod:`aibench_plugins`.

Not API: the public names are :mod:`aibench_plugins`'s ``__all__``."""
