# The aibench test kit's fixtures: `aibench_host` (a fresh plugin host with the built-in
# plugins loaded) and `register_plugin` (registers a plugin into it for one test).
from aibench_plugins.testing import aibench_host, register_plugin

__all__ = ["aibench_host", "register_plugin"]
