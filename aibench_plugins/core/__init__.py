"""The plugin host: the table of kinds and info types, hookspecs, markers, registry, host,
plugin records, the error tree, problems, isolation of plugin calls.

Not API: the public names are :mod:`aibench_plugins`'s ``__all__``."""
