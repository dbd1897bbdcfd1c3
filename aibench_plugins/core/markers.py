"""The pluggy markers of the ``aibench`` project.

Plugins import :data:`hookimpl` from :mod:`aibench_plugins`; only the host uses
:data:`hookspec`.
"""

from __future__ import annotations

from typing import Final

import pluggy

PROJECT_NAME: Final = "aibench"
"""Project name of the pluggy markers and name of the entry-point group."""

hookspec: Final = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl: Final = pluggy.HookimplMarker(PROJECT_NAME)
